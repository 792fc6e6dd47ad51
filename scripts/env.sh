# Source this file (bash) to use pose3d_ros from the checkout: `source scripts/env.sh`.
# It activates .venv (which holds the colcon install) and keeps DDS on this machine unless you say otherwise.
_pose3d_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091
source "$_pose3d_root/.venv/bin/activate"
if [[ -z "${ROS_DISTRO:-}" ]]; then
  export AMENT_PREFIX_PATH=$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}
fi
# shellcheck disable=SC1091
COLCON_CURRENT_PREFIX=$VIRTUAL_ENV source "$VIRTUAL_ENV/local_setup.bash"
# The package's executables (pose3d-ros, pose3d_node, kinect_driver) live where `ros2 run` looks for them.
case ":$PATH:" in *":$VIRTUAL_ENV/lib/pose3d_ros:"*) ;; *) export PATH=$VIRTUAL_ENV/lib/pose3d_ros:$PATH ;; esac
# Discovery stays on loopback by default; on a robot network export ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET.
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export ROS_LOCALHOST_ONLY=${ROS_LOCALHOST_ONLY:-1}  # same rule for Humble, which predates the variable above
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
# The package's processes load config/fastdds.xml (16 MiB shared memory; UDP on 127.0.0.1 only) while discovery is
# local, config/fastdds_network.xml (all interfaces) otherwise; a FASTDDS_DEFAULT_PROFILES_FILE you export wins.
unset _pose3d_root
