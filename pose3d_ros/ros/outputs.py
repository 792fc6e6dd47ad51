"""The inference node's outputs: ``skeletons``, ``markers``, ``actions``, ``debug/image``, TF, ROS4HRI and a bag.

Takes the node as an argument (like tf2_ros' ``TransformBroadcaster``), so the node itself only decides *what* to
publish. Created in ``on_configure`` (lifecycle publishers: silent until activated), destroyed in ``on_cleanup``.
Everything published for one frame shares its header (image stamp, cleaned frame id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from pose3d_ros.msg import ActionEvent, Skeleton3DArray  # noqa: I001 - after the ros package set the msg path

from .conversions import action_event_msg, markers_from_skeletons, skeleton_array_from_people, transforms_from_skeletons
from .imports import HAVE_HRI_MSGS, HAVE_TF2_MSGS, TransformBroadcaster, numpy_to_imgmsg
from .lifecycle import qos_profile

__all__ = ["Pose3DOutputs"]


class Pose3DOutputs:
    """Publishers of one inference node.

    Parameters
    ----------
    node : rclpy.lifecycle.LifecycleNode
        Owner of the publishers.
    params : mapping
        The node's parameters (``publish_*``, ``marker_lifetime``, ``min_joint_confidence``, ``tf_prefix``,
        ``output_bag``, ``process_mode``); read at each frame, so dynamic ones take effect at once.

    Raises
    ------
    ImportError
        ``publish_hri`` without hri_msgs.
    OSError, ValueError
        The ``output_bag`` cannot be written.
    """

    def __init__(self, node: Any, params: Mapping[str, Any]) -> None:
        self.node, self.params = node, params
        self.hri: Any = None
        self.bag: Any = None
        #: Skeleton3DArray messages published so far
        self.arrays_sent = 0
        self.skeletons = node.create_lifecycle_publisher(Skeleton3DArray, "skeletons", 10)
        self.markers = node.create_lifecycle_publisher(MarkerArray, "markers", 10)
        self.actions = node.create_lifecycle_publisher(ActionEvent, "actions", 10)
        self.debug = node.create_lifecycle_publisher(Image, "debug/image", qos_profile("sensor_data"))
        self.tf = TransformBroadcaster(node) if HAVE_TF2_MSGS else None
        try:
            if params["publish_hri"]:
                if not HAVE_HRI_MSGS:
                    raise ImportError("publish_hri needs hri_msgs (install ros-<distro>-hri-msgs, or rebuild with "
                                      "scripts/setup_env.sh, which builds vendor/hri_msgs)")
                from .hri import HriPublisher

                self.hri = HriPublisher(node, qos=10, frame_prefix=params["tf_prefix"])
            if params["output_bag"]:
                from pose3d_ros.bags.writer import BagWriter

                self.bag = BagWriter(params["output_bag"])
        except Exception:
            self.destroy()
            raise

    @property
    def topic_name(self) -> str:
        """The resolved ``skeletons`` topic."""
        return str(self.skeletons.topic_name)

    def wanted(self) -> bool:
        """Whether a frame is worth processing: ``process_mode`` always, or something listens / records."""
        if self.params["process_mode"] == "always":
            return True
        pubs = [self.skeletons, self.markers, self.actions, self.debug]
        n = sum(pub.get_subscription_count() for pub in pubs if pub is not None)
        if self.tf is not None and self.params["publish_tf"]:
            n += self.tf.pub_tf.get_subscription_count() if hasattr(self.tf, "pub_tf") else 1
        return n > 0 or self.hri is not None or self.bag is not None

    def publish_array(self, msg: Skeleton3DArray) -> None:
        """Publish (and record) one ``Skeleton3DArray``."""
        self.skeletons.publish(msg)
        self.arrays_sent += 1
        if self.bag is not None:
            self.bag.write(self.topic_name, None, msg, msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)

    def publish_empty(self, header: Header) -> None:
        """The empty array of a frame that failed: "published every frame" holds, with its stamp and frame."""
        self.publish_array(skeleton_array_from_people(header, []))

    def publish(self, header: Header, people: Sequence[Any], events: Sequence[Any], color: np.ndarray,
                metric: bool) -> None:
        """Everything for one processed frame. ``people`` passed the output guard; ``events`` about others are left
        out; markers and TF only with metric 3D."""
        msg = skeleton_array_from_people(header, people)
        self.publish_array(msg)
        p = self.params
        if metric and p["publish_markers"] and self.markers.get_subscription_count() > 0:
            self.markers.publish(markers_from_skeletons(msg, p["marker_lifetime"],
                                                        min_confidence=p["min_joint_confidence"]))
        if metric and p["publish_tf"] and self.tf is not None and msg.skeletons:
            self.tf.sendTransform(transforms_from_skeletons(msg, p["tf_prefix"]))
        if self.hri is not None:  # REP-155 expects body frames even with publish_tf off
            hri_tfs = self.hri.publish(header, msg, people, color.shape[1], color.shape[0])
            if metric and self.tf is not None and hri_tfs:
                self.tf.sendTransform(hri_tfs)
        kept = {int(person.id) for person in people}
        for ev in events:
            if int(ev.skeleton_id) in kept:  # no event about a skeleton that was not published
                self.actions.publish(action_event_msg(ev, header.frame_id))
        if p["publish_debug_image"] and self.debug.get_subscription_count() > 0:
            from pose3d_ros.render import draw_skeletons_2d

            overlay = draw_skeletons_2d(color, people, p["min_joint_confidence"])
            self.debug.publish(numpy_to_imgmsg(overlay, "rgb8", header))

    def destroy(self) -> None:
        """Destroy the publishers, close the bag (idempotent)."""
        for name in ("skeletons", "markers", "actions", "debug"):
            pub = getattr(self, name, None)
            if pub is not None:
                self.node.destroy_lifecycle_publisher(pub)
                setattr(self, name, None)
        if self.hri is not None:
            self.hri.destroy()
        if self.bag is not None:
            self.bag.close()
        self.hri = self.bag = None
