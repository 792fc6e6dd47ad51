"""Inference node alone, on an existing camera: `ros2 launch pose3d_ros inference.launch.py namespace:=camera`."""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("pose3d_ros")
    return LaunchDescription([
        DeclareLaunchArgument("namespace", default_value="camera",
                              description="namespace of the camera topics (the node's outputs go there too)"),
        DeclareLaunchArgument("backend", default_value="onnxruntime",
                              description="inference backend: onnxruntime | tensorrt (falls back to CPU)"),
        DeclareLaunchArgument("model", default_value="", description="2D model name or ONNX path ('' = default)"),
        DeclareLaunchArgument("use_depth", default_value="true", description="use the registered depth image"),
        DeclareLaunchArgument("config", default_value=os.path.join(share, "config", "pose3d.yaml"),
                              description="parameter file of the inference node"),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz with rviz/pose3d.rviz"),
        Node(
            package="pose3d_ros",
            executable="pose3d_node",
            name="pose3d_node",
            namespace=LaunchConfiguration("namespace"),
            output="screen",
            parameters=[
                LaunchConfiguration("config"),
                {"backend": LaunchConfiguration("backend"), "model": LaunchConfiguration("model"),
                 "use_depth": LaunchConfiguration("use_depth")},
            ],
            # inputs: color/image_raw, color/camera_info, depth/image_raw (relative: remap here for other drivers,
            # e.g. ("depth/image_raw", "aligned_depth_to_color/image_raw") for a RealSense)
        ),
        Node(
            package="rviz2",
            executable="rviz2",
            name="rviz2",
            arguments=["-d", os.path.join(share, "rviz", "pose3d.rviz")],
            condition=IfCondition(LaunchConfiguration("rviz")),
        ),
    ])
