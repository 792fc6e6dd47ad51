"""Write config/pose3d.yaml and config/kinect_driver.yaml from the nodes' parameter tables.

    python scripts/write_param_yaml.py

Each value is the table's default and each comment its ParameterDescriptor description, so the YAML, the
descriptors and ``ros2 param describe`` say the same (test/test_ros_launch_config.py checks it).
"""

from __future__ import annotations

from pathlib import Path

from pose3d_ros.ros.kinect_driver_node import DRIVER_PARAMS
from pose3d_ros.ros.pose3d_node import NODE_PARAMS

ROOT = Path(__file__).resolve().parents[1]
FILES = {
    "pose3d.yaml": ("pose3d_node", NODE_PARAMS,
                    "# Parameters of the pose3d_node inference node (pose3d_ros/ros/pose3d_node.py, NODE_PARAMS).\n"
                    "# Written by scripts/write_param_yaml.py: each comment is the parameter's ParameterDescriptor\n"
                    "# description; \"(dynamic)\" ones change at run time with `ros2 param set`, the others are read\n"
                    "# when the node is configured."),
    "kinect_driver.yaml": (
        "kinect_driver", DRIVER_PARAMS,
        "# Parameters of the kinect_driver node (pose3d_ros/ros/kinect_driver_node.py, DRIVER_PARAMS).\n"
        "# Written by scripts/write_param_yaml.py: each comment is the parameter's ParameterDescriptor\n"
        "# description. Used by `ros2 launch pose3d_ros kinect.launch.py` and `pose3d-ros driver`."),
}


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '""' if v == "" else v
    return repr(v)


def render(node: str, specs: tuple, header: str) -> str:
    width = max(len(f"{s.name}: {_value(s.default)}") for s in specs)
    lines = [header, f"/**/{node}:", "  ros__parameters:"]
    lines += [f"    {f'{s.name}: {_value(s.default)}'.ljust(width)}  # {s.full_description}" for s in specs]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    for name, (node, specs, header) in FILES.items():
        (ROOT / "config" / name).write_text(render(node, specs, header))
        print(f"wrote config/{name}")
