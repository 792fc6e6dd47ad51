"""Kinect driver alone, as a managed node: `ros2 launch pose3d_ros kinect.launch.py backend:=freenect`."""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration

from launch import LaunchDescription
from pose3d_ros.ros.launch_actions import managed_node


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("pose3d_ros")
    return LaunchDescription([
        DeclareLaunchArgument("backend", default_value="freenect",
                              description="camera backend: freenect, playback, webcam, openni2, k4a, synthetic"),
        DeclareLaunchArgument("path", default_value="",
                              description="playback: rosbag2 bag, recording directory, video or image "
                                          "('' = embedded footage)"),
        DeclareLaunchArgument("namespace", default_value="camera", description="namespace of the camera topics"),
        DeclareLaunchArgument("use_depth", default_value="true", description="publish registered depth"),
        DeclareLaunchArgument("qos", default_value="sensor_data", description="publisher QoS: sensor_data | reliable"),
        DeclareLaunchArgument("driver_config", default_value=os.path.join(share, "config", "kinect_driver.yaml"),
                              description="parameter file of the driver"),
        *managed_node(
            package="pose3d_ros", executable="kinect_driver", name="kinect_driver",
            namespace=LaunchConfiguration("namespace"), output="screen",
            parameters=[LaunchConfiguration("driver_config"),
                        {"backend": LaunchConfiguration("backend"), "path": LaunchConfiguration("path"),
                         "use_depth": LaunchConfiguration("use_depth"), "qos": LaunchConfiguration("qos")}],
        ),
    ])
