#!/usr/bin/env bash
# Quick start: install dashpipe in ./.venv, render a sample dashcam clip and process it in this process
# (no broker; SQLite and folders under ./dashpipe-data). Prints the plates and where everything went.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
# The second OCR network's wheel, for its model file only (its declared opencv-python would clash).
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps rapidocr_onnxruntime==1.4.4
exec .venv/bin/dashpipe demo "$@"
