"""Launch-file building blocks (``launch`` / ``launch_ros``, present on every ROS install, not on PyPI).

Both nodes are lifecycle nodes: :func:`managed_node` starts one with ``autostart:=false`` and drives it
configure -> activate, the launch-file way a lifecycle manager would. :func:`topic_arguments` declares a launch
argument per input topic and the output namespace; :func:`inference_remaps` turns them into remappings.
"""

from __future__ import annotations

from typing import Any

__all__ = ["INPUT_TOPICS", "OUTPUT_TOPICS", "managed_node", "topic_arguments", "inference_remaps"]

#: launch argument -> (topic the inference node subscribes to, description)
INPUT_TOPICS = {
    "color_topic": ("color/image_raw", "colour image (rgb8, bgr8, rgba8, bgra8, mono8, yuv422)"),
    "camera_info_topic": ("color/camera_info", "CameraInfo of the colour image"),
    "depth_topic": ("depth_registered/image_raw", "depth registered to colour (16UC1 mm or 32FC1 m)"),
}
#: what the inference node publishes (relative names, moved by output_namespace)
OUTPUT_TOPICS = ("skeletons", "markers", "actions", "debug/image")


def topic_arguments() -> list:
    """``DeclareLaunchArgument`` for each input topic and ``output_namespace``."""
    from launch.actions import DeclareLaunchArgument

    args = [DeclareLaunchArgument(name, default_value=topic, description=f"{desc} (remaps '{topic}')")
            for name, (topic, desc) in INPUT_TOPICS.items()]
    args.append(DeclareLaunchArgument("output_namespace", default_value="",
                                      description="namespace of the outputs ('' = the node's namespace)"))
    return args


def inference_remaps(context: Any) -> list[tuple[str, str]]:
    """Remappings from the launch arguments declared by :func:`topic_arguments` (an OpaqueFunction helper)."""
    from launch.substitutions import LaunchConfiguration

    remaps = [(topic, LaunchConfiguration(name).perform(context)) for name, (topic, _) in INPUT_TOPICS.items()]
    out_ns = LaunchConfiguration("output_namespace").perform(context).rstrip("/")
    if out_ns:
        remaps += [(topic, f"{out_ns}/{topic}") for topic in OUTPUT_TOPICS]
    return [(a, b) for a, b in remaps if a != b]


def managed_node(**node_kwargs: Any) -> list:
    """A ``launch_ros`` LifecycleNode plus the events that configure it and, once inactive, activate it."""
    from launch.actions import EmitEvent, RegisterEventHandler
    from launch.events import matches_action
    from launch_ros.actions import LifecycleNode
    from launch_ros.event_handlers import OnStateTransition
    from launch_ros.events.lifecycle import ChangeState
    from lifecycle_msgs.msg import Transition

    params = list(node_kwargs.pop("parameters", [])) + [{"autostart": False}]
    node = LifecycleNode(parameters=params, **node_kwargs)

    def change(transition: int) -> EmitEvent:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=transition))

    activate_when_inactive = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, goal_state="inactive", entities=[change(Transition.TRANSITION_ACTIVATE)]))
    return [node, activate_when_inactive, change(Transition.TRANSITION_CONFIGURE)]
