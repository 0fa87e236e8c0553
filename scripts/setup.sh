#!/usr/bin/env bash
# Set up agentapp on a fresh Debian 12 machine: Debian packages (when run as root) and a
# virtual environment in .venv with the project and its development tools.
#   --test   also the real peers only the test suite uses (softphones, a sound server, a browser, a
#            compositor, the Windows installer compiler, the Debian package tools and lintian,
#            a PostgreSQL server for the hub's tests, GNOME Shell on Wayland with PipeWire and
#            GStreamer for the GNOME desktop's tests)
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(
  python3-venv xvfb openbox trayer xdotool wmctrl x11-utils dbus dbus-x11 gnome-keyring
  libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
  libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0
  libxcb-image0 libxcb-shm0 fonts-dejavu-core libpq5
)
if [ "${1:-}" = "--test" ]; then
  DEBS+=(baresip-core sip-tester nsis p7zip-full chromium picom at-spi2-core i3lock xtrlock
    pulseaudio pulseaudio-utils libasound2-plugins dpkg-dev binutils lintian systemd postgresql
    dunst libnotify-bin xscreensaver firefox-esr
    gnome-shell pipewire wireplumber python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
    gstreamer1.0-plugins-base gstreamer1.0-pipewire libglib2.0-bin)
fi
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages (run as root to install them): ${missing[*]}" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
# GNOME on Wayland reads windows through GStreamer (capture/screencast.py): Debian's PyGObject,
# and only it, is made visible to the virtual environment (a folder holding a link to it).
SYSTEM_GI=/usr/lib/python3/dist-packages/gi
if [ -d "$SYSTEM_GI" ]; then
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  mkdir -p .venv/system-gi
  ln -sfn "$SYSTEM_GI" .venv/system-gi/gi
  realpath .venv/system-gi >"$site/agentapp-system-gi.pth"
fi
echo "setup: ready ($(.venv/bin/agentapp --version))"
