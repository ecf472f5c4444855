#!/usr/bin/env bash
# Quick start, tests: set up everything the suite needs (system packages, the train
# and dev extras) and run the whole test suite. pytest's "no tests collected" fails too.
# --quick: only the quick tier, -m "quick and not slow" (a few minutes; docs/testing.md).
# Every other argument goes to pytest as it is (scripts/test.sh --quick -x tests/test_store.py);
# the tests run on every core (pytest-xdist, at most 4 workers; docs/testing.md), a test file at a
# time per worker, in the file's own order: module fixtures built once. "-n 0": one process (--pdb).
set -euo pipefail
cd "$(dirname "$0")/.."
# chromium: the dashboard browser tests; debootstrap: the install test in a fresh root filesystem;
# systemd: systemd-analyze for the unit tests; systemd-container: systemd-nspawn boots the installed unit;
# GStreamer's RTSP server (system python3 bindings): tests/test_rtsp.py
scripts/setup.sh "train,dev" ffmpeg mosquitto mosquitto-clients chromium debootstrap systemd systemd-container \
  gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
  gstreamer1.0-plugins-bad
. .venv/bin/activate
args=(-n auto --maxprocesses 4 --dist loadfile)
for a in "$@"; do
  if [ "$a" = "--quick" ]; then args+=(-m "quick and not slow"); else args+=("$a"); fi
done
set +e
python -m pytest ${args[@]+"${args[@]}"}
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
