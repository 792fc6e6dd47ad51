#!/usr/bin/env bash
# Optional system packages for the Kinect v1 backend and its tests (Debian/Ubuntu):
#   libfreenect-dev  headers + libfreenect_sync (PyPI `freenect` builds against it)
#   libfreenect-bin  fakenect: replays recordings through a drop-in libfreenect (tests without a device)
# then PyPI `freenect` into the venv given as $1. Idempotent; does nothing that is already there.
# Called by scripts/setup_env.sh when apt-get is usable as root; elsewhere run it with sudo yourself.
set -euo pipefail
VPY=${1:-.venv/bin/python}
say() { echo "install_system_deps: $*"; }

need=()
for pkg in libfreenect-dev libfreenect-bin; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if (( ${#need[@]} )); then
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    say "missing ${need[*]}: run 'sudo apt-get install ${need[*]}' for the freenect backend (optional)"
    exit 0
  fi
  say "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${need[@]}" >/dev/null; } \
    || { say "apt-get install ${need[*]} failed: the freenect backend stays unavailable"; exit 0; }
fi
if ! "$VPY" -c 'import freenect' 2>/dev/null; then
  say "pip install freenect (builds against libfreenect-dev)"
  "$VPY" -m pip install -q --disable-pip-version-check freenect \
    || say "PyPI freenect did not build: the freenect backend stays unavailable (needs gcc + libfreenect-dev)"
fi
