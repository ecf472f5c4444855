#!/usr/bin/env bash
# Shared setup for the quick-start commands: system packages (Debian/Ubuntu), a
# virtualenv in .venv and the traycheck package with the extras given as $1.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-}"
shift || true
APT_PACKAGES=("$@")

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "==> installing system packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
spec="."
[ -n "$EXTRAS" ] && spec=".[$EXTRAS]"
echo "==> pip install -e '$spec'"
# (this machine's pip config names mirror folders that may not exist: hide those warnings only)
pip install -q -e "$spec" 2> >(grep -v '^WARNING: Location' >&2)
# ultralytics pulls in opencv-python (GUI build, needs libGL); both wheels write cv2/.
# Put the headless build's files back on top so cv2 imports on a server without X.
if pip show opencv-python >/dev/null 2>&1; then
  v=$(pip show opencv-python-headless | awk '/^Version:/{print $2}')
  pip install -q --force-reinstall --no-deps "opencv-python-headless==$v" 2> >(grep -v '^WARNING: Location' >&2)
fi
python -c "import cv2, onnxruntime" || { echo "error: cv2/onnxruntime do not import in .venv" >&2; exit 1; }
