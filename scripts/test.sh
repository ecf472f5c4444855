#!/usr/bin/env bash
# Quick start, tests: set up everything the suite needs (system packages, the train
# and dev extras) and run the whole test suite. pytest's "no tests collected" fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
# chromium: the dashboard browser tests; debootstrap: the install test in a fresh root filesystem;
# systemd: systemd-analyze for the unit tests; systemd-container: systemd-nspawn boots the installed unit;
# GStreamer's RTSP server (system python3 bindings): tests/test_rtsp.py
scripts/setup.sh "train,dev" ffmpeg mosquitto mosquitto-clients chromium debootstrap systemd systemd-container \
  gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
  gstreamer1.0-plugins-bad
. .venv/bin/activate
set +e
python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
