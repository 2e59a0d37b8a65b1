#!/usr/bin/env python
"""Entry point: python run_bench.py --approaches all   (see --help)"""
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # before torch starts its thread pool

if __name__ == "__main__":
    from bench.cli import main
    sys.exit(main())
