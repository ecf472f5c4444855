#!/usr/bin/env bash
# Install TrayCheck as a system service on Debian/Ubuntu. Idempotent: run it again to
# update the code; it never overwrites an existing config or password.
#
#   sudo deploy/install.sh [--with-mosquitto] [--no-start]
#
# Creates the user `traycheck`, /opt/traycheck/venv (runtime dependencies only),
# /etc/traycheck/config.yaml (from config.example.yaml if there is none),
# /var/lib/traycheck, and installs + enables systemd/traycheck.service.
# --with-mosquitto also installs a local Mosquitto broker with a password file and
# points the config at it.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/opt/traycheck
ETC=/etc/traycheck
STATE=/var/lib/traycheck
WITH_MOSQUITTO=0
START=1
for arg in "$@"; do
  case "$arg" in
    --with-mosquitto) WITH_MOSQUITTO=1 ;;
    --no-start) START=0 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "error: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "error: run as root (sudo $0)" >&2; exit 2; }

say() { echo "==> $*"; }
pkgs=(python3 python3-venv ffmpeg)
[ "$WITH_MOSQUITTO" -eq 1 ] && pkgs+=(mosquitto mosquitto-clients)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! id traycheck >/dev/null 2>&1; then
  say "creating user traycheck"
  useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin --user-group traycheck
fi
getent group video >/dev/null && usermod -a -G video traycheck

install -d -m 0755 "$PREFIX"
pack() {  # the source tree as a reproducible tar stream (same files => same bytes)
  tar -C "$SRC" --exclude=.git --exclude=.venv --exclude=runs --exclude=out --exclude='__pycache__' \
      --exclude='*.egg-info' --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - .
}
HASH="$(pack | sha256sum | cut -d' ' -f1)"
if [ -x "$PREFIX/venv/bin/traycheck" ] && [ "$(cat "$PREFIX/src.sha256" 2>/dev/null)" = "$HASH" ]; then
  say "code in $PREFIX is up to date"
else
  say "installing the code into $PREFIX"
  rm -rf "$PREFIX/src.new" && mkdir "$PREFIX/src.new" && pack | tar -C "$PREFIX/src.new" -xf -
  rm -rf "$PREFIX/src" && mv "$PREFIX/src.new" "$PREFIX/src"
  [ -x "$PREFIX/venv/bin/python" ] || python3 -m venv "$PREFIX/venv"
  "$PREFIX/venv/bin/pip" install -q --upgrade "$PREFIX/src" 2> >(grep -v '^WARNING: Location' >&2)
  echo "$HASH" > "$PREFIX/src.sha256"
fi

install -d -m 0750 -o root -g traycheck "$ETC"
install -d -m 0750 -o traycheck -g traycheck "$STATE"
if [ ! -f "$ETC/config.yaml" ]; then
  say "writing $ETC/config.yaml (edit the camera source)"
  sed -e "s#^data_dir: .*#data_dir: $STATE#" -e '/^mqtt:/,/^http:/{/^http:/!d}' \
      "$SRC/deploy/config.example.yaml" > "$ETC/config.yaml"
  chown root:traycheck "$ETC/config.yaml"; chmod 0640 "$ETC/config.yaml"
fi

if [ "$WITH_MOSQUITTO" -eq 1 ]; then
  if [ ! -f "$ETC/mqtt-password" ]; then
    say "configuring Mosquitto with a password for user traycheck"
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$ETC/mqtt-password"
    chown root:traycheck "$ETC/mqtt-password"; chmod 0640 "$ETC/mqtt-password"
  fi
  if [ ! -f /etc/mosquitto/traycheck.passwd ]; then
    mosquitto_passwd -b -c /etc/mosquitto/traycheck.passwd traycheck "$(cat "$ETC/mqtt-password")"
    chown root:mosquitto /etc/mosquitto/traycheck.passwd 2>/dev/null || true
    chmod 0640 /etc/mosquitto/traycheck.passwd
  fi
  conf="# written by traycheck deploy/install.sh
listener 1883 127.0.0.1
allow_anonymous false
password_file /etc/mosquitto/traycheck.passwd"
  if [ "$(cat /etc/mosquitto/conf.d/traycheck.conf 2>/dev/null)" != "$conf" ]; then
    echo "$conf" > /etc/mosquitto/conf.d/traycheck.conf
  fi
  if ! grep -q '^mqtt:' "$ETC/config.yaml"; then
    cat >> "$ETC/config.yaml" <<CONF
mqtt:
  host: 127.0.0.1
  port: 1883
  username: traycheck
  password_file: $ETC/mqtt-password
CONF
  fi
fi

say "installing the systemd unit"
cmp -s "$SRC/systemd/traycheck.service" /etc/systemd/system/traycheck.service \
  || install -m 0644 "$SRC/systemd/traycheck.service" /etc/systemd/system/traycheck.service
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable traycheck.service >/dev/null 2>&1
  [ "$WITH_MOSQUITTO" -eq 1 ] && systemctl restart mosquitto
  if [ "$START" -eq 1 ]; then systemctl restart traycheck.service; fi
else  # a chroot or an image being built: enable = the WantedBy link, which systemctl would make
  wants=/etc/systemd/system/multi-user.target.wants
  if [ "$(readlink "$wants/traycheck.service" 2>/dev/null)" != /etc/systemd/system/traycheck.service ]; then
    install -d "$wants" && ln -sfn /etc/systemd/system/traycheck.service "$wants/traycheck.service"
  fi
  say "systemd is not running here: the service starts at the next boot"
fi
# as the service user: root reads every file, the service may not
runuser -u traycheck -- "$PREFIX/venv/bin/traycheck" config check "$ETC/config.yaml"
say "done. Check it with: sudo -u traycheck $PREFIX/venv/bin/traycheck doctor --config $ETC/config.yaml"
