"""Message <-> numpy conversions for the nodes: camera info, Skeleton3DArray, markers, TF, action events.

Pure functions of messages and arrays (no node, no DDS), so they are tested without ROS graph traffic.
Person and event inputs are duck-typed on the pipeline contract (``PersonResult``: ``id``, ``joints (16, 3)``,
``pixels (16, 2)``, ``confidence (16,)``, ``measured (16,)``, ``action``, ``action_confidence``;
``ActionEventData``: ``skeleton_id``, ``label``, ``confidence``, ``stamp``, ``ray_origin``, ``ray_direction``).
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration as DurationMsg
from builtin_interfaces.msg import Time as TimeMsg
from geometry_msgs.msg import Point, Quaternion, TransformStamped, Vector3
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from pose3d_ros.core.body_frame import BodyFrame, body_frame
from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.distortion import Distortion
from pose3d_ros.core.skeleton import JOINT_NAMES, NUM_JOINTS, POSE3D16

from . import ensure_msg_path

ensure_msg_path()
from pose3d_ros.msg import ActionEvent, Joint3D, Skeleton3D, Skeleton3DArray  # noqa: E402

__all__ = [
    "stamp_to_sec",
    "sec_to_stamp",
    "camera_from_info",
    "camera_info_from_camera",
    "make_skeleton",
    "skeleton_array_from_people",
    "skeleton_array_to_numpy",
    "markers_from_skeletons",
    "transforms_from_skeletons",
    "body_transform",
    "action_event_msg",
    "id_color",
]


def stamp_to_sec(stamp: TimeMsg) -> float:
    """``builtin_interfaces/Time`` -> float seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def sec_to_stamp(t: float) -> TimeMsg:
    """Float seconds (>= 0, finite) -> ``builtin_interfaces/Time``.

    Raises
    ------
    ValueError
        If ``t`` is negative or not finite.
    """
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"stamp must be finite and >= 0 seconds, got {t}")
    ns = int(round(t * 1e9))
    return TimeMsg(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def camera_from_info(info: CameraInfo, rectified: bool = False, **limits: float) -> PinholeCamera:
    """``sensor_msgs/CameraInfo`` -> :class:`PinholeCamera`, validated (no guessing) and with its lens distortion.

    Parameters
    ----------
    info : sensor_msgs.msg.CameraInfo
    rectified : bool
        The image is rectified (``image_rect``): take the intrinsics from ``p`` and ignore ``d`` (image_proc
        republishes the raw camera's info, distortion included, next to the rectified image).
    **limits
        Plausibility limits of :func:`pose3d_ros.core.intrinsics.validate_intrinsics` (``min_fov_deg``, ...).

    Raises
    ------
    pose3d_ros.core.intrinsics.IntrinsicsError
        (a ValueError) K missing, all zero (uncalibrated driver), ``K[8] != 1``, implausible field of view,
        principal point outside the image, skew; or a zero image size. ``.problems`` lists each.
    pose3d_ros.core.distortion.DistortionError
        (a ValueError) unknown ``distortion_model`` with non-zero ``d``, or ``d`` that does not fit the model.
    """
    if rectified:
        p = np.asarray(info.p, dtype=np.float64).reshape(-1)
        if p.shape != (12,):
            raise ValueError(f"camera_info.p must have 12 values, got {p.shape}")
        return PinholeCamera.from_K(p.reshape(3, 4)[:, :3], info.width, info.height, **limits)
    k = np.asarray(info.k, dtype=np.float64).reshape(-1)
    distortion = Distortion.from_ros(str(info.distortion_model), np.asarray(info.d, dtype=np.float64))
    return PinholeCamera.from_K(k, info.width, info.height, distortion, **limits)


def camera_info_from_camera(cam: PinholeCamera, header: Header | None = None) -> CameraInfo:
    """:class:`PinholeCamera` -> ``sensor_msgs/CameraInfo`` (its distortion, else plumb_bob with zeros; identity R,
    P = [K|0])."""
    info = CameraInfo()
    if header is not None:
        info.header = header
    info.width, info.height = int(cam.width), int(cam.height)
    if cam.distortion is None:
        info.distortion_model, info.d = "plumb_bob", [0.0] * 5
    else:
        info.distortion_model, info.d = cam.distortion.model, [float(v) for v in cam.distortion.coeffs]
    info.k = [float(v) for v in cam.K.ravel()]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [cam.fx, 0.0, cam.cx, 0.0, 0.0, cam.fy, cam.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def _f(x: Any) -> float:
    return float(x)


def make_skeleton(
    header: Header,
    track_id: int,
    joints: np.ndarray,
    pixels: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
    measured: np.ndarray | None = None,
    action: str = "",
    action_confidence: float = 0.0,
) -> Skeleton3D:
    """Build one ``Skeleton3D`` in pose3d16 order.

    Parameters
    ----------
    header : std_msgs.msg.Header
        Image stamp and camera optical frame.
    track_id : int
        Persistent id (>= 0).
    joints : (16, 3) array_like
        Metres in the header frame. NaN joints are published as NaN with confidence 0.
    pixels : (16, 2) array_like, optional
        (u, v) in the color image; NaN when unknown (default all NaN).
    confidence : (16,) array_like, optional
        In [0, 1] (clipped; default 1).
    measured : (16,) array_like of bool, optional
        Depth-measured joints (default all False).

    Raises
    ------
    ValueError
        On wrong shapes or a negative id.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape != (NUM_JOINTS, 3):
        raise ValueError(f"joints must be ({NUM_JOINTS}, 3), got {joints.shape}")
    if int(track_id) < 0:
        raise ValueError(f"track id must be >= 0, got {track_id}")
    pixels = np.full((NUM_JOINTS, 2), np.nan) if pixels is None else np.asarray(pixels, dtype=np.float64)
    conf = np.ones(NUM_JOINTS) if confidence is None else np.asarray(confidence, dtype=np.float64)
    meas = np.zeros(NUM_JOINTS, bool) if measured is None else np.asarray(measured, dtype=bool)
    if pixels.shape != (NUM_JOINTS, 2) or conf.shape != (NUM_JOINTS,) or meas.shape != (NUM_JOINTS,):
        raise ValueError(
            f"pixels/confidence/measured must be ({NUM_JOINTS}, 2)/({NUM_JOINTS},)/({NUM_JOINTS},), "
            f"got {pixels.shape}/{conf.shape}/{meas.shape}"
        )
    conf = np.where(np.isfinite(conf), np.clip(conf, 0.0, 1.0), 0.0)
    conf = np.where(np.isfinite(joints).all(axis=1), conf, 0.0)
    sk = Skeleton3D()
    sk.header = header
    sk.id = int(track_id)
    sk.joints = [
        Joint3D(
            name=JOINT_NAMES[j],
            position=Point(x=_f(joints[j, 0]), y=_f(joints[j, 1]), z=_f(joints[j, 2])),
            u=_f(pixels[j, 0]),
            v=_f(pixels[j, 1]),
            confidence=_f(conf[j]),
            measured=bool(meas[j]),
        )
        for j in range(NUM_JOINTS)
    ]
    sk.confidence = float(conf.mean())
    sk.action = str(action or "")
    ac = float(action_confidence)
    sk.action_confidence = float(min(max(ac, 0.0), 1.0)) if math.isfinite(ac) else 0.0
    return sk


def skeleton_array_from_people(header: Header, people: Iterable[Any]) -> Skeleton3DArray:
    """Pipeline ``PersonResult`` list -> ``Skeleton3DArray`` (empty list -> empty array, still published)."""
    msg = Skeleton3DArray()
    msg.header = header
    msg.skeletons = [
        make_skeleton(
            header,
            p.id,
            p.joints,
            getattr(p, "pixels", None),
            getattr(p, "confidence", None),
            getattr(p, "measured", None),
            getattr(p, "action", "") or "",
            getattr(p, "action_confidence", 0.0) or 0.0,
        )
        for p in people
    ]
    return msg


def skeleton_array_to_numpy(msg: Skeleton3DArray) -> dict[str, np.ndarray]:
    """``Skeleton3DArray`` -> arrays: ``ids (P,)``, ``joints (P,16,3)``, ``pixels (P,16,2)``, ``confidence (P,16)``,
    ``measured (P,16)``, ``actions (P,)`` (object), ``action_confidence (P,)``, ``stamp`` (float s), ``frame_id``.

    Raises
    ------
    ValueError
        If a skeleton does not hold exactly ``NUM_JOINTS`` joints.
    """
    n = len(msg.skeletons)
    out = {
        "ids": np.zeros(n, np.int64),
        "joints": np.zeros((n, NUM_JOINTS, 3)),
        "pixels": np.zeros((n, NUM_JOINTS, 2)),
        "confidence": np.zeros((n, NUM_JOINTS)),
        "measured": np.zeros((n, NUM_JOINTS), bool),
        "actions": np.empty(n, dtype=object),
        "action_confidence": np.zeros(n),
    }
    for i, sk in enumerate(msg.skeletons):
        if len(sk.joints) != NUM_JOINTS:
            raise ValueError(f"skeleton {sk.id} has {len(sk.joints)} joints, expected {NUM_JOINTS}")
        out["ids"][i] = sk.id
        for j, jt in enumerate(sk.joints):
            out["joints"][i, j] = (jt.position.x, jt.position.y, jt.position.z)
            out["pixels"][i, j] = (jt.u, jt.v)
            out["confidence"][i, j] = jt.confidence
            out["measured"][i, j] = jt.measured
        out["actions"][i] = sk.action
        out["action_confidence"][i] = sk.action_confidence
    out["stamp"] = stamp_to_sec(msg.header.stamp)
    out["frame_id"] = msg.header.frame_id
    return out


def id_color(track_id: int, alpha: float = 1.0) -> ColorRGBA:
    """A distinct, stable colour per id (golden-ratio hue steps)."""
    h = (int(track_id) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 0.95)
    return ColorRGBA(r=float(r), g=float(g), b=float(b), a=float(alpha))


def _duration(seconds: float) -> DurationMsg:
    ns = int(round(max(seconds, 0.0) * 1e9))
    return DurationMsg(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def markers_from_skeletons(
    msg: Skeleton3DArray, lifetime: float = 0.5, joint_radius: float = 0.05, bone_width: float = 0.03,
    min_confidence: float = 0.0,
) -> MarkerArray:
    """Joint spheres, bone lines and an id/action label per person; namespace ``person_<id>``.

    Lifetimes make people who leave disappear in RViz without explicit deletes. Joints with non-finite positions
    or confidence below ``min_confidence`` are left out (and so are their bones).
    """
    out = MarkerArray()
    life = _duration(lifetime)
    for sk in msg.skeletons:
        ns = f"person_{sk.id}"
        color = id_color(sk.id)
        pts = [jt.position for jt in sk.joints]
        ok = [
            all(math.isfinite(v) for v in (p.x, p.y, p.z)) and jt.confidence >= min_confidence
            for p, jt in zip(pts, sk.joints, strict=True)
        ]
        spheres = Marker(header=msg.header, ns=ns, id=0, type=Marker.SPHERE_LIST, action=Marker.ADD, lifetime=life)
        spheres.pose.orientation.w = 1.0
        spheres.scale = Vector3(x=joint_radius, y=joint_radius, z=joint_radius)
        spheres.color = color
        spheres.points = [p for p, good in zip(pts, ok, strict=True) if good]
        lines = Marker(header=msg.header, ns=ns, id=1, type=Marker.LINE_LIST, action=Marker.ADD, lifetime=life)
        lines.pose.orientation.w = 1.0
        lines.scale.x = bone_width
        lines.color = color
        for a, b in POSE3D16.bones:
            if a < len(pts) and b < len(pts) and ok[a] and ok[b]:
                lines.points.extend([pts[a], pts[b]])
        text = Marker(header=msg.header, ns=ns, id=2, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD, lifetime=life)
        text.pose.orientation.w = 1.0
        head = POSE3D16.index("head")
        if head < len(pts) and ok[head]:
            text.pose.position = Point(x=pts[head].x, y=pts[head].y - 0.25, z=pts[head].z)  # above the head (y down)
        text.scale.z = 0.12
        text.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
        text.text = f"{sk.id}" + (f" {sk.action} {sk.action_confidence:.2f}" if sk.action else "")
        out.markers.extend([spheres, lines, text])
    return out


def transforms_from_skeletons(msg: Skeleton3DArray, prefix: str = "") -> list[TransformStamped]:
    """TF frames per person, all stamped with the image time.

    ``body_<id>``: parent = the optical frame, origin = the mid point of the hips (the pelvis joint when a hip is
    missing), REP-155 orientation: x forward out of the body, y to the person's left, z up the spine
    (:func:`pose3d_ros.core.body_frame.body_frame`; stateless here, so a skeleton without spine and without
    left/right pairs gets the camera-facing orientation). ``<joint>_<id>`` for the other 15 joints: parent
    ``body_<id>``, translation = the joint in the body frame, identity rotation (joint frames are points: their axes
    are the body's, not REP-155's per-link frames, which ``robot_state_publisher`` makes from ``joint_states``).
    Persons without hips and pelvis get no frames; joints with non-finite positions are left out.
    """
    out: list[TransformStamped] = []
    for sk in msg.skeletons:
        if len(sk.joints) != NUM_JOINTS:
            continue
        joints = np.array([(jt.position.x, jt.position.y, jt.position.z) for jt in sk.joints], dtype=np.float64)
        frame = body_frame(joints)
        if frame is None:
            continue
        body = f"{prefix}body_{sk.id}"
        out.append(body_transform(msg.header, body, frame))
        local = frame.to_body(joints)
        for j in range(1, NUM_JOINTS):
            p = local[j]
            if not np.isfinite(p).all():
                continue
            tj = TransformStamped()
            tj.header = Header(stamp=msg.header.stamp, frame_id=body)
            tj.child_frame_id = f"{prefix}{JOINT_NAMES[j]}_{sk.id}"
            tj.transform.translation = Vector3(x=float(p[0]), y=float(p[1]), z=float(p[2]))
            tj.transform.rotation.w = 1.0
            out.append(tj)
    return out


def body_transform(header: Header, child_frame_id: str, frame: BodyFrame) -> TransformStamped:
    """``header.frame_id`` -> ``child_frame_id`` transform of a :class:`BodyFrame` (stamp = ``header.stamp``)."""
    t = TransformStamped()
    t.header = Header(stamp=header.stamp, frame_id=header.frame_id)
    t.child_frame_id = child_frame_id
    o = frame.origin
    t.transform.translation = Vector3(x=float(o[0]), y=float(o[1]), z=float(o[2]))
    q = frame.quaternion()
    t.transform.rotation = Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3]))
    return t


def action_event_msg(event: Any, frame_id: str) -> ActionEvent:
    """Pipeline ``ActionEventData`` -> ``ActionEvent`` (rays zero when absent)."""
    msg = ActionEvent()
    msg.header = Header(stamp=sec_to_stamp(float(event.stamp)), frame_id=frame_id)
    msg.skeleton_id = int(event.skeleton_id)
    msg.label = str(event.label)
    c = float(event.confidence)
    msg.confidence = float(min(max(c, 0.0), 1.0)) if math.isfinite(c) else 0.0
    origin = getattr(event, "ray_origin", None)
    direction = getattr(event, "ray_direction", None)
    if origin is not None:
        o = np.asarray(origin, dtype=np.float64).reshape(3)
        msg.ray_origin = Point(x=float(o[0]), y=float(o[1]), z=float(o[2]))
    if direction is not None:
        d = np.asarray(direction, dtype=np.float64).reshape(3)
        msg.ray_direction = Vector3(x=float(d[0]), y=float(d[1]), z=float(d[2]))
    return msg
