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
"${pip[@]}" -e ".[dev]"

if [ "${DASHPIPE_SKIP_GPU_EXTRA:-0}" != 1 ]; then
  # The gpu extra's backends (ultralytics, EasyOCR) are wired up in tests with weights the tests build.
  # torch/torchvision pairs that work together; ultralytics is installed without its dependencies
  # (the extra carries them) because it would add opencv-python next to opencv-python-headless
  # (they overwrite each other's files).
  case "$(uname -m)" in
    aarch64) "${pip[@]}" torch==2.9.1 torchvision==0.24.1 ;;
    *) "${pip[@]}" torch==2.14.1 torchvision==0.29.1 ;;
  esac
  "${pip[@]}" -e ".[dev,gpu]"
  "${pip[@]}" --no-deps ultralytics
fi

exec .venv/bin/python -m pytest "$@"
