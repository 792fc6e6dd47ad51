"""Driver + inference (+ RViz), both managed: `ros2 launch pose3d_ros pose3d.launch.py backend:=freenect rviz:=true`."""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from pose3d_ros.ros.launch_actions import inference_remaps, managed_node, topic_arguments


def _nodes(context):
    ns = LaunchConfiguration("namespace")
    return [
        *managed_node(
            package="pose3d_ros", executable="kinect_driver", name="kinect_driver", namespace=ns, output="screen",
            parameters=[LaunchConfiguration("driver_config"),
                        {"backend": LaunchConfiguration("backend"), "path": LaunchConfiguration("path"),
                         "use_depth": LaunchConfiguration("use_depth"), "qos": LaunchConfiguration("qos")}],
        ),
        *managed_node(
            package="pose3d_ros", executable="pose3d_node", name="pose3d_node", namespace=ns, output="screen",
            remappings=inference_remaps(context),
            parameters=[LaunchConfiguration("config"),
                        {"backend": LaunchConfiguration("inference_backend"), "model": LaunchConfiguration("model"),
                         "use_depth": LaunchConfiguration("use_depth"), "qos": LaunchConfiguration("qos"),
                         "publish_hri": LaunchConfiguration("publish_hri")}],
        ),
    ]


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("pose3d_ros")
    return LaunchDescription([
        DeclareLaunchArgument("backend", default_value="freenect",
                              description="camera backend: freenect, playback, webcam, openni2, k4a, synthetic"),
        DeclareLaunchArgument("path", default_value="",
                              description="playback: rosbag2 bag, recording directory, video or image "
                                          "('' = embedded footage)"),
        DeclareLaunchArgument("model", default_value="", description="2D model name or ONNX path ('' = default)"),
        DeclareLaunchArgument("inference_backend", default_value="cpu",
                              description="inference backend: cpu | cuda | tensorrt | ort-tensorrt "
                                          "(GPU ones fall back to CPU)"),
        DeclareLaunchArgument("namespace", default_value="camera", description="namespace of all topics"),
        DeclareLaunchArgument("use_depth", default_value="true", description="publish and use registered depth"),
        DeclareLaunchArgument("qos", default_value="sensor_data", description="image QoS: sensor_data | reliable"),
        DeclareLaunchArgument("publish_hri", default_value="false", description="also publish ROS4HRI topics"),
        DeclareLaunchArgument("driver_config", default_value=os.path.join(share, "config", "kinect_driver.yaml"),
                              description="parameter file of the driver"),
        DeclareLaunchArgument("config", default_value=os.path.join(share, "config", "pose3d.yaml"),
                              description="parameter file of the inference node"),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz with rviz/pose3d.rviz"),
        *topic_arguments(),
        OpaqueFunction(function=_nodes),
        Node(package="rviz2", executable="rviz2", name="rviz2",
             arguments=["-d", os.path.join(share, "rviz", "pose3d.rviz")],
             condition=IfCondition(LaunchConfiguration("rviz"))),
    ])
