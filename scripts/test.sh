#!/usr/bin/env bash
# Set up everything the test suite needs in ./.venv, then run it. Safe to re-run.
#   scripts/test.sh            # whole suite
#   scripts/test.sh -k gps     # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v redis-server >/dev/null 2>&1; then
  # The integration tests start their own redis-server on a free loopback port.
  as_root apt-get update -qq && as_root apt-get install -y -qq redis-server >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
"${pip[@]}" --upgrade pip
if .venv/bin/python -m pip show -q opencv-python >/dev/null 2>&1; then
  # A venv from before the headless OpenCV: removing opencv-python takes the files it shares with
  # opencv-python-headless, so the headless wheel goes in again afterwards.
  .venv/bin/python -m pip uninstall -y -q opencv-python
  "${pip[@]}" --force-reinstall --no-deps opencv-python-headless
fi
extras=dev
if [ "${DASHPIPE_SKIP_GPU_EXTRA:-0}" != 1 ]; then
  # The gpu extra's backends (ultralytics, EasyOCR) are wired up in tests with weights the tests build.
  # torch/torchvision pairs that work together go in first, so the extra finds them installed.
  case "$(uname -m)" in
    aarch64) "${pip[@]}" torch==2.9.1 torchvision==0.24.1 ;;
    *) "${pip[@]}" torch==2.14.1 torchvision==0.29.1 ;;
  esac
  extras=dev,gpu
fi
"${pip[@]}" -e ".[${extras}]"
# The second OCR network ships in this wheel; only the file is used, and its declared opencv-python would
# clash with the headless OpenCV.
"${pip[@]}" --no-deps rapidocr_onnxruntime==1.4.4
if [ "$extras" = dev,gpu ]; then
  # Without its dependencies (the extra carries them): ultralytics declares opencv-python, which would
  # sit beside opencv-python-headless (they overwrite each other's files).
  "${pip[@]}" --no-deps "ultralytics>=8.3"
fi

exec .venv/bin/python -m pytest "$@"
