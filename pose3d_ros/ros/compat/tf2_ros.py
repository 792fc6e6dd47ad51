"""Subset of tf2_ros: ``TransformBroadcaster`` (on ``/tf``) and ``StaticTransformBroadcaster`` (on ``/tf_static``).

Same topics, message type (``tf2_msgs/TFMessage``) and QoS as tf2_ros_py, so RViz and real tf2 listeners see them.
"""

from __future__ import annotations

from typing import Any

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile

__all__ = ["TransformBroadcaster", "StaticTransformBroadcaster"]


def _as_list(transform: Any) -> list:
    return list(transform) if isinstance(transform, (list, tuple)) else [transform]


class TransformBroadcaster:
    """Publish ``geometry_msgs/TransformStamped`` lists on ``/tf`` (the node is passed in, not subclassed)."""

    def __init__(self, node: Any, qos: QoSProfile | int = 100) -> None:
        from tf2_msgs.msg import TFMessage

        self._msg_type = TFMessage
        self.pub_tf = node.create_publisher(TFMessage, "/tf", qos)

    def sendTransform(self, transform: Any) -> None:  # noqa: N802 - tf2_ros spelling
        self.pub_tf.publish(self._msg_type(transforms=_as_list(transform)))

    send_transform = sendTransform


class StaticTransformBroadcaster:
    """Latched (transient-local) ``/tf_static`` publisher; keeps every child frame sent so far, like tf2_ros."""

    def __init__(self, node: Any, qos: QoSProfile | int | None = None) -> None:
        from tf2_msgs.msg import TFMessage

        if qos is None:
            qos = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, history=HistoryPolicy.KEEP_LAST)
        self._msg_type = TFMessage
        self._net: dict[str, Any] = {}
        self.pub_tf = node.create_publisher(TFMessage, "/tf_static", qos)

    def sendTransform(self, transform: Any) -> None:  # noqa: N802
        for t in _as_list(transform):
            self._net[t.child_frame_id] = t
        self.pub_tf.publish(self._msg_type(transforms=list(self._net.values())))

    send_transform = sendTransform
