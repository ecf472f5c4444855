#!/usr/bin/env bash
# Remove the TrayCheck service and code. Keeps /var/lib/traycheck (database, snapshots)
# and /etc/traycheck unless --purge is given.
#
#   sudo deploy/uninstall.sh [--purge]
set -euo pipefail
PURGE=0
for arg in "$@"; do
  case "$arg" in
    --purge) PURGE=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "error: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "error: run as root" >&2; exit 2; }
if [ -d /run/systemd/system ]; then
  systemctl disable --now traycheck.service >/dev/null 2>&1 || true
fi
rm -f /etc/systemd/system/traycheck.service /etc/systemd/system/multi-user.target.wants/traycheck.service
[ -d /run/systemd/system ] && systemctl daemon-reload
rm -rf /opt/traycheck
rm -f /etc/mosquitto/conf.d/traycheck.conf /etc/mosquitto/traycheck.passwd
if [ "$PURGE" -eq 1 ]; then
  rm -rf /var/lib/traycheck /etc/traycheck
  userdel traycheck 2>/dev/null || true
  echo "==> removed TrayCheck, its data and its config"
else
  echo "==> removed TrayCheck; kept /var/lib/traycheck and /etc/traycheck (use --purge to remove them)"
fi
