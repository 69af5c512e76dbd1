#!/usr/bin/env bash
# The Debian/Ubuntu packages live-explain needs beyond Python: venv and pip, the libraries the PyQt6 wheels
# load (X11/xcb, EGL/GL, fonts, D-Bus), Xvfb for the window's screenshot tests, and headless
# Chromium for the report's screenshot test. Run once on a fresh machine (as root or with sudo):
#   sudo bash tools/system-packages.sh
set -euo pipefail
python_tools=(python3-venv python3-pip)
qt_libs=(
  libegl1 libgl1 libopengl0 libglib2.0-0 libdbus-1-3 libfontconfig1 libfreetype6
  libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-icccm4
  libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0
  libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libxrender1 libxi6 fonts-dejavu-core
  xvfb xauth
)
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${python_tools[@]}" "${qt_libs[@]}" >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
