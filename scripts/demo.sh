#!/usr/bin/env bash
# Quick start, main job: set up (runtime dependencies only) and run the detector over
# a bundled recorded shift; writes an annotated video and prints a per-tray summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "" ffmpeg
. .venv/bin/activate
SHIFT="${1:-fixtures/lunch-rush}"
mkdir -p out
traycheck detect "$SHIFT" -o "out/$(basename "$SHIFT")-annotated.mp4"
