"""Inference node alone, on any RGB-D camera, as a managed node.

`ros2 launch pose3d_ros inference.launch.py namespace:=camera` (our driver), or for a RealSense:
`ros2 launch pose3d_ros inference.launch.py namespace:=camera color_topic:=/camera/color/image_raw
camera_info_topic:=/camera/color/camera_info depth_topic:=/camera/aligned_depth_to_color/image_raw`.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from pose3d_ros.ros.launch_actions import inference_remaps, managed_node, topic_arguments


def _inference(context):
    return managed_node(
        package="pose3d_ros", executable="pose3d_node", name="pose3d_node",
        namespace=LaunchConfiguration("namespace"), output="screen", remappings=inference_remaps(context),
        parameters=[LaunchConfiguration("config"),
                    {"backend": LaunchConfiguration("backend"), "model": LaunchConfiguration("model"),
                     "use_depth": LaunchConfiguration("use_depth"), "qos": LaunchConfiguration("qos"),
                     "publish_hri": LaunchConfiguration("publish_hri")}],
    )


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("pose3d_ros")
    return LaunchDescription([
        DeclareLaunchArgument("namespace", default_value="camera",
                              description="namespace of the node (relative topics resolve there)"),
        DeclareLaunchArgument("backend", default_value="cpu",
                              description="inference backend: cpu | cuda | tensorrt | ort-tensorrt "
                                          "(GPU ones fall back to CPU)"),
        DeclareLaunchArgument("model", default_value="", description="2D model name or ONNX path ('' = default)"),
        DeclareLaunchArgument("use_depth", default_value="true", description="use the registered depth image"),
        DeclareLaunchArgument("qos", default_value="sensor_data",
                              description="subscription QoS: sensor_data | reliable"),
        DeclareLaunchArgument("publish_hri", default_value="false", description="also publish ROS4HRI topics"),
        DeclareLaunchArgument("config", default_value=os.path.join(share, "config", "pose3d.yaml"),
                              description="parameter file of the inference node"),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz with rviz/pose3d.rviz"),
        *topic_arguments(),
        OpaqueFunction(function=_inference),
        Node(package="rviz2", executable="rviz2", name="rviz2",
             arguments=["-d", os.path.join(share, "rviz", "pose3d.rviz")],
             condition=IfCondition(LaunchConfiguration("rviz"))),
    ])
