#!/usr/bin/env bash
# Quick start, main job: set up (runtime dependencies only) and replay a bundled recorded
# shift through the whole appliance: detector, tray tracking, order matching, verdicts
# stored in a local database (out/demo-data), MQTT alerts to a broker on localhost when
# one answers (queued in the database when none does), an annotated video, and the
# evaluation table against the shift's truth.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "" ffmpeg
. .venv/bin/activate
SHIFT="${1:-fixtures/lunch-rush}"
NAME="$(basename "$SHIFT")"
mkdir -p out
traycheck replay "$SHIFT" --speed max --data-dir out/demo-data --mqtt "${TRAYCHECK_MQTT:-mqtt://127.0.0.1:1883}" \
    --verdicts "out/$NAME.verdicts.jsonl" --video "out/$NAME-replay.mp4"
traycheck eval "$SHIFT" --verdicts "out/$NAME.verdicts.jsonl"
echo "verdicts: out/$NAME.verdicts.jsonl  video: out/$NAME-replay.mp4  database: out/demo-data/traycheck.db"
