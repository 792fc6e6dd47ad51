"""Optional ROS4HRI output (REP-155): the pipeline's skeletons as ``/humans/bodies/...`` topics and body TF frames.

:class:`HriPublisher` takes the node as an argument (like ``tf2_ros.TransformBroadcaster``) and, per frame,

========================================== ============================================ ==========================
topic (absolute, as REP-155 requires)      type                                         content
========================================== ============================================ ==========================
``/humans/bodies/tracked``                 ``hri_msgs/IdsList``                         body ids of this frame
                                                                                        (every call, empty when
                                                                                        nobody is seen)
``/humans/bodies/<id>/skeleton2d``         ``hri_msgs/Skeleton2D``                      13 of the 18 keypoints,
                                                                                        normalised (no face points)
``/humans/bodies/<id>/roi``                ``hri_msgs/NormalizedRegionOfInterest2D``    box of the 2D joints, padded
``/humans/bodies/<id>/joint_states``       ``sensor_msgs/JointState``                   human_description joints
                                                                                        ``<joint>_<id>`` (radians)
========================================== ============================================ ==========================

and returns the ``body_<id>`` transforms (parent = the camera optical frame, origin mid-hip, x forward out of the
body, z up) for the node's ``TransformBroadcaster``. Per-body publishers are created when a body appears and
destroyed when it has been absent for more than ``linger_s`` (0: on the first frame without it), so its topics
leave the ROS graph.

Body ids: REP-155 ids are strings, and a ROS topic-name token must not start with a digit, so track ``7`` is body
``"b7"`` (``id_prefix``): topics ``/humans/bodies/b7/...``, TF frame ``body_b7`` (next to our own ``body_7`` of
:func:`~pose3d_ros.ros.conversions.transforms_from_skeletons`, which has the same pose). The link frames of the
human model (``l_elbow_b7``, ...) come from ``robot_state_publisher`` with a human_description URDF generated for
the id, fed by ``joint_states`` (REP-155's recipe); this class publishes no ``cropped`` image, ``posture``,
``gesture``, ``position``/``velocity`` or ``/humans/persons`` matching.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from geometry_msgs.msg import TransformStamped
from hri_msgs.msg import IdsList, NormalizedPointOfInterest2D, NormalizedRegionOfInterest2D, Skeleton2D
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Header

from pose3d_ros.core.rep155 import REP155_JOINT_NAMES, Rep155Body, body_roi, skeleton2d_points

from . import ensure_msg_path
from .conversions import body_transform, skeleton_array_to_numpy, stamp_to_sec

ensure_msg_path()
from pose3d_ros.msg import Skeleton3DArray  # noqa: E402

__all__ = [
    "TRACKED_TOPIC",
    "HriPublisher",
    "body_topic",
    "skeleton2d_msg",
    "roi_msg",
    "joint_state_msg",
]

TRACKED_TOPIC = "/humans/bodies/tracked"
_ID_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def body_topic(body_id: str, name: str) -> str:
    """``/humans/bodies/<body_id>/<name>``."""
    return f"/humans/bodies/{body_id}/{name}"


def skeleton2d_msg(header: Header, pixels: np.ndarray, confidence: np.ndarray, width: int, height: int) -> Skeleton2D:
    """pose3d16 pixels ``(16, 2)`` + confidences ``(16,)`` -> ``Skeleton2D`` (see
    :func:`pose3d_ros.core.rep155.skeleton2d_points`)."""
    pts = skeleton2d_points(pixels, confidence, width, height)
    msg = Skeleton2D(header=header)
    msg.skeleton = [NormalizedPointOfInterest2D(x=float(x), y=float(y), c=float(c)) for x, y, c in pts]
    return msg


def roi_msg(header: Header, box: tuple[float, float, float, float], confidence: float) -> NormalizedRegionOfInterest2D:
    """Normalised ``(xmin, ymin, xmax, ymax)`` + confidence (clipped to [0, 1], NaN -> 0) -> the ROI message."""
    c = float(confidence)
    c = min(max(c, 0.0), 1.0) if math.isfinite(c) else 0.0
    xmin, ymin, xmax, ymax = (float(v) for v in box)
    return NormalizedRegionOfInterest2D(header=header, xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax, c=c)


def joint_state_msg(header: Header, body_id: str, angles: np.ndarray) -> JointState:
    """Joint angles in :data:`~pose3d_ros.core.rep155.REP155_JOINT_NAMES` order -> ``JointState`` with names
    ``<joint>_<body_id>`` (hri_fullbody's convention); non-finite angles are published as 0.

    Raises
    ------
    ValueError
        If ``angles`` does not hold one value per joint name.
    """
    a = np.asarray(angles, dtype=np.float64).reshape(-1)
    if a.shape != (len(REP155_JOINT_NAMES),):
        raise ValueError(f"expected {len(REP155_JOINT_NAMES)} joint angles, got {a.shape}")
    a = np.where(np.isfinite(a), a, 0.0)
    return JointState(header=header, name=[f"{n}_{body_id}" for n in REP155_JOINT_NAMES], position=a.tolist())


@dataclass
class _Body:
    state: Rep155Body
    skeleton2d: Publisher
    roi: Publisher
    joint_states: Publisher
    last_seen: float


class HriPublisher:
    """Publishes the REP-155 body topics of a node's skeletons (see the module docstring).

    Parameters
    ----------
    node : rclpy.node.Node
        The node that owns the publishers (a lifecycle node works too).
    qos : QoSProfile or int, optional
        QoS of every topic (an int is a reliable keep-last depth). Default 10.
    id_prefix : str, optional
        Body id = ``f"{id_prefix}{track_id}"``; a letter then letters/digits (topic tokens must not start with a
        digit). Default ``"b"``.
    frame_prefix : str, optional
        Prefix of the ``body_<id>`` TF frame (the node's ``tf_prefix``).
    roi_margin : float, optional
        Padding of the joint box on each side, as a fraction of its size (see
        :func:`pose3d_ros.core.rep155.body_roi`).
    linger_s : float, optional
        Keep a vanished body's publishers this long (stamp time) before destroying them; 0 = at once. Ids in
        ``/humans/bodies/tracked`` are always those of the current frame.

    Raises
    ------
    ValueError
        On a bad ``id_prefix``, a negative ``roi_margin`` or ``linger_s``.
    """

    def __init__(
        self,
        node: Node,
        qos: QoSProfile | int = 10,
        id_prefix: str = "b",
        frame_prefix: str = "",
        roi_margin: float = 0.1,
        linger_s: float = 0.0,
    ) -> None:
        if not _ID_PREFIX.fullmatch(id_prefix):
            raise ValueError(f"id_prefix must be a letter followed by letters/digits, got {id_prefix!r}")
        if not (math.isfinite(roi_margin) and roi_margin >= 0.0):
            raise ValueError(f"roi_margin must be >= 0, got {roi_margin}")
        if not (math.isfinite(linger_s) and linger_s >= 0.0):
            raise ValueError(f"linger_s must be >= 0, got {linger_s}")
        self.node = node
        self.qos = qos
        self.id_prefix = id_prefix
        self.frame_prefix = frame_prefix
        self.roi_margin = float(roi_margin)
        self.linger_s = float(linger_s)
        self._tracked: Publisher | None = node.create_publisher(IdsList, TRACKED_TOPIC, qos)
        self._bodies: dict[str, _Body] = {}

    def body_id(self, track_id: int) -> str:
        """REP-155 body id of a track id (``7`` -> ``"b7"``)."""
        return f"{self.id_prefix}{int(track_id)}"

    @property
    def bodies(self) -> tuple[str, ...]:
        """Body ids that currently have publishers."""
        return tuple(self._bodies)

    def _open(self, body_id: str, t: float) -> _Body:
        create = self.node.create_publisher
        return _Body(
            state=Rep155Body(),
            skeleton2d=create(Skeleton2D, body_topic(body_id, "skeleton2d"), self.qos),
            roi=create(NormalizedRegionOfInterest2D, body_topic(body_id, "roi"), self.qos),
            joint_states=create(JointState, body_topic(body_id, "joint_states"), self.qos),
            last_seen=t,
        )

    def _close(self, body_id: str) -> None:
        body = self._bodies.pop(body_id)
        for pub in (body.skeleton2d, body.roi, body.joint_states):
            self.node.destroy_publisher(pub)

    def publish(
        self,
        header: Header,
        skeletons: Skeleton3DArray,
        people: Iterable[Any] | None = None,
        image_width: int = 0,
        image_height: int = 0,
    ) -> list[TransformStamped]:
        """Publish one frame; returns the ``body_<id>`` transforms to broadcast.

        Parameters
        ----------
        header : std_msgs.msg.Header
            Image stamp + camera optical frame (every message and transform carries it).
        skeletons : pose3d_ros.msg.Skeleton3DArray
            This frame's skeletons (the message the node publishes on ``skeletons``).
        people : iterable of PersonResult, optional
            The pipeline's people of the same frame, matched by ``id``: ``score`` becomes the ROI confidence (else
            the skeleton's mean joint confidence) and an optional ``bbox`` ``(x0, y0, x1, y1)`` in pixels replaces
            the joint box.
        image_width, image_height : int
            Colour image size in pixels (> 0), to normalise the 2D outputs.

        Raises
        ------
        ValueError
            If the image size is not positive.
        RuntimeError
            After :meth:`destroy`.
        """
        if self._tracked is None:
            raise RuntimeError("HriPublisher.publish() after destroy()")
        if int(image_width) <= 0 or int(image_height) <= 0:
            raise ValueError(f"image size must be positive, got {image_width}x{image_height}")
        t = stamp_to_sec(header.stamp)
        extras = {int(p.id): p for p in (people or [])}
        arr = skeleton_array_to_numpy(skeletons)
        order: list[int] = []
        seen: set[str] = set()
        for i, tid in enumerate(arr["ids"].tolist()):
            bid = self.body_id(tid)
            if bid not in seen:  # a repeated id is published once (its first skeleton)
                seen.add(bid)
                order.append(i)
        ids = [self.body_id(arr["ids"][i]) for i in order]
        self._tracked.publish(IdsList(header=header, ids=ids))

        transforms: list[TransformStamped] = []
        for i, bid in zip(order, ids, strict=True):
            body = self._bodies.get(bid)
            if body is None:
                body = self._bodies[bid] = self._open(bid, t)
            body.last_seen = t
            joints, pixels, conf = arr["joints"][i], arr["pixels"][i], arr["confidence"][i]
            frame, angles = body.state.update(joints)
            body.skeleton2d.publish(skeleton2d_msg(header, pixels, conf, image_width, image_height))
            extra = extras.get(int(arr["ids"][i]))
            box = self._box(extra, pixels, conf, image_width, image_height)
            if box is not None:
                score = getattr(extra, "score", None)
                c = float(score) if score is not None else float(skeletons.skeletons[i].confidence)
                body.roi.publish(roi_msg(header, box, c))
            body.joint_states.publish(joint_state_msg(header, bid, angles))
            if frame is not None:
                transforms.append(body_transform(header, f"{self.frame_prefix}body_{bid}", frame))

        for bid in [b for b in self._bodies if b not in seen]:
            last = self._bodies[bid].last_seen
            if self.linger_s == 0.0 or t < last or t - last > self.linger_s:  # t < last: time jumped back
                self._close(bid)
        return transforms

    def _box(
        self, extra: Any, pixels: np.ndarray, conf: np.ndarray, width: int, height: int
    ) -> tuple[float, float, float, float] | None:
        bbox = getattr(extra, "bbox", None)
        if bbox is not None:
            b = np.asarray(bbox, dtype=np.float64).reshape(-1)
            if b.shape == (4,) and np.isfinite(b).all():
                lo = np.clip(b[:2] / (width, height), 0.0, 1.0)
                hi = np.clip(b[2:] / (width, height), 0.0, 1.0)
                if np.all(hi > lo):
                    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])
        return body_roi(pixels, conf, width, height, self.roi_margin)

    def destroy(self) -> None:
        """Destroy every publisher (idempotent); :meth:`publish` is refused afterwards."""
        for bid in list(self._bodies):
            self._close(bid)
        if self._tracked is not None:
            self.node.destroy_publisher(self._tracked)
            self._tracked = None
