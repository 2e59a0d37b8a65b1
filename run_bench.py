#!/usr/bin/env python
"""Entry point: python run_bench.py --approaches all   (see --help)"""
import sys

if __name__ == "__main__":
    from bench.cli import main
    sys.exit(main())
