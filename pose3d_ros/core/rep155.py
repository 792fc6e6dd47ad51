"""ROS4HRI / REP-155 body outputs from pose3d16 skeletons: joint angles, 2D skeleton, region of interest.

**Joint angles** follow the kinematic model of ros4hri ``human_description`` (``urdf/human-tpl.xacro``), the
model REP-155 recommends and ``robot_state_publisher`` turns into the body's TF links. Names and order are those
hri_fullbody publishes on ``/humans/bodies/<id>/joint_states`` (:data:`REP155_JOINT_NAMES`, each suffixed with
``_<bodyID>`` on the wire). The URDF's joints, in the body frame of :mod:`pose3d_ros.core.body_frame`
(x forward, y left, z up; the limb hangs along -z at zero):

* ``waist`` (about +y): always 0 here, because our body frame's z *is* the spine (hip -> neck), so the torso does
  not lean relative to it;
* ``r_head`` (about +x), ``y_head`` (+z), ``p_head`` (-y): roll and pitch from the neck -> head direction, taken
  as the head link's z axis (approximate: the URDF puts the head centre a little forward of that axis);
  ``y_head`` (head yaw) stays 0: pose3d16 has no face landmarks;
* arms, ``<s>_y_shoulder`` (about -z for the left arm), ``<s>_p_shoulder`` (+x: abduction), ``<s>_r_shoulder``
  (+z: rotation about the upper arm), ``<s>_elbow`` (-y: flexion, >= 0): solved exactly from the shoulder, elbow
  and wrist, so the URDF's forward kinematics points the upper arm and the forearm where the skeleton has them;
* legs, ``<s>_y_hip`` (about -z on *both* sides, as in the URDF), ``<s>_p_hip`` (+x: abduction for the left leg),
  ``<s>_r_hip`` (-y: flexion), ``<s>_knee`` (-y, <= 0): solved exactly from the hip, knee and ankle.

The right limbs are the left ones mirrored (y -> -y), which the URDF's axes satisfy except the hip yaw (its sign
flips). When a limb is straight (bend < ~3 degrees) its twist is unobservable: the rotation about it (shoulder roll, hip
yaw) is 0. Of the two shoulder solutions the one with ``p_shoulder >= 0`` is taken, unless only the other keeps
``y_shoulder`` inside its limits (an arm hanging slightly backward); when the upper arm hangs exactly down its yaw
is 0 and the roll carries the elbow's direction.
URDF joint *limits* are not enforced (the angles reproduce the measured limb directions even beyond them), link
lengths are the person's own and are not published. Unknown angles (missing joints) are NaN here;
:class:`Rep155Body` fills them with the person's last known value, else 0 (the URDF's rest pose).

**2D skeleton**: ``hri_msgs/Skeleton2D`` has 18 OpenPose-COCO keypoints; pose3d16 provides 13 of them
(:data:`SKELETON2D_FROM_POSE3D16`). Nose, eyes and ears have no pose3d16 joint (our ``head`` is the centre of the
ears): they are published as (0, 0) with confidence 0. Coordinates are normalised by the image size and clipped to
[0, 1]; a joint outside the image or without a finite pixel gets confidence 0.
"""

from __future__ import annotations

import math

import numpy as np

from .body_frame import BodyFrame, body_frame, cross3
from .skeleton import NUM_JOINTS, POSE3D16

__all__ = [
    "REP155_JOINT_NAMES",
    "SKELETON2D_FROM_POSE3D16",
    "rep155_joint_angles",
    "skeleton2d_points",
    "body_roi",
    "Rep155Body",
]

#: Non-fixed joints of human_description, in hri_fullbody's ``joint_states`` order (suffix ``_<bodyID>`` on the wire).
REP155_JOINT_NAMES: tuple[str, ...] = (
    "waist", "r_head", "y_head", "p_head",
    "l_y_shoulder", "l_p_shoulder", "l_r_shoulder", "l_elbow",
    "r_y_shoulder", "r_p_shoulder", "r_r_shoulder", "r_elbow",
    "l_y_hip", "l_p_hip", "l_r_hip", "l_knee",
    "r_y_hip", "r_p_hip", "r_r_hip", "r_knee",
)  # fmt: skip

#: ``Skeleton2D`` index -> pose3d16 joint name (None: no such joint in pose3d16). Index order of hri_msgs'
#: constants: NOSE NECK RIGHT_SHOULDER RIGHT_ELBOW RIGHT_WRIST LEFT_SHOULDER LEFT_ELBOW LEFT_WRIST RIGHT_HIP
#: RIGHT_KNEE RIGHT_ANKLE LEFT_HIP LEFT_KNEE LEFT_ANKLE LEFT_EYE RIGHT_EYE LEFT_EAR RIGHT_EAR.
SKELETON2D_FROM_POSE3D16: tuple[str | None, ...] = (
    None,
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    None,
    None,
    None,
    None,
)

_J = {name: POSE3D16.index(name) for name in POSE3D16.names}
_A = {name: k for k, name in enumerate(REP155_JOINT_NAMES)}
_MIRROR = np.array([1.0, -1.0, 1.0])
#: Below this sine a bend (elbow, knee) is treated as straight (its direction is noise).
_MIN_SIN = 0.05
_SHOULDER_YAW = (-1.1, 1.9)  # human_description limits of <s>_y_shoulder
_SHOULDER_PITCH_MIN = -0.4  # lower limit of <s>_p_shoulder
_MIN_SEGMENT_M = 0.02


def _clip1(x: float) -> float:
    return min(max(float(x), -1.0), 1.0)


def _direction(joints_body: np.ndarray, a: str, b: str) -> np.ndarray | None:
    v = joints_body[_J[b]] - joints_body[_J[a]]
    n = math.sqrt(float(v @ v))
    if not math.isfinite(n) or n < _MIN_SEGMENT_M:
        return None
    return v / n


def _rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _bend(d1: np.ndarray, d2: np.ndarray | None) -> tuple[float, np.ndarray | None]:
    """Angle between two unit segments and the unit bend direction (d2's part orthogonal to d1; None if straight)."""
    if d2 is None:
        return math.nan, None
    cos = min(max(float(d1 @ d2), -1.0), 1.0)
    perp = d2 - cos * d1
    n = math.sqrt(float(perp @ perp))
    return math.acos(cos), (perp / n if n > _MIN_SIN else None)


def _left_arm(d1: np.ndarray, d2: np.ndarray | None) -> tuple[float, float, float, float]:
    """(y_shoulder, p_shoulder, r_shoulder, elbow) of a left arm: upper arm ``d1``, forearm ``d2`` (unit, body frame).

    Chain: ``Rz(-y) Rx(p) Rz(r)`` then the elbow ``Ry(-e)``; at zero the arm hangs along -z and the forearm bends
    toward the link's +x. So ``d1 = (sin p sin y, sin p cos y, -cos p)``.
    """
    p = math.acos(_clip1(-d1[2]))
    y = math.atan2(d1[0], d1[1]) if math.sin(p) > 1e-9 else 0.0
    if not _SHOULDER_YAW[0] <= y <= _SHOULDER_YAW[1] and p <= -_SHOULDER_PITCH_MIN:
        # the same upper arm as (-p, y + pi): a relaxed arm hanging slightly backward stays inside the URDF limits
        p, y = -p, math.remainder(y + math.pi, 2.0 * math.pi)
    e, bend = _bend(d1, d2)
    if bend is None:
        return y, p, 0.0, e
    v = (_rot_z(-y) @ _rot_x(p)).T @ bend  # bend direction in the p_shoulder link: (cos r, sin r, 0)
    return y, p, math.atan2(v[1], v[0]), e


def _left_leg(d1: np.ndarray, d2: np.ndarray | None) -> tuple[float, float, float, float]:
    """(y_hip, p_hip, r_hip, knee) of a left leg: thigh ``d1``, shank ``d2`` (unit, body frame).

    Chain: ``Rz(-y) Rx(p) Ry(-r)`` then the knee ``Ry(-k)`` with ``k <= 0`` (the shank bends toward the thigh
    link's -x). The thigh link's frame is known when the knee is bent (z = -d1, x = -bend); straight, y = 0.
    """
    k, bend = _bend(d1, d2)
    k = -k
    if bend is None:
        r = math.asin(_clip1(d1[0]))
        return 0.0, math.atan2(d1[1], -d1[2]), r, k
    z = -d1
    x = -bend
    rot = np.column_stack([x, cross3(z, x), z])  # = Rz(a) Rx(b) Ry(c) with a = -y, b = p, c = -r
    a = math.atan2(-rot[0, 1], rot[1, 1])
    b = math.asin(_clip1(rot[2, 1]))
    c = math.atan2(-rot[2, 0], rot[2, 2])
    return -a, b, -c, k


def rep155_joint_angles(joints: np.ndarray, frame: BodyFrame | None = None) -> np.ndarray:
    """human_description joint angles (radians, :data:`REP155_JOINT_NAMES` order) of one pose3d16 skeleton.

    Parameters
    ----------
    joints : (16, 3) array_like
        pose3d16 joints, metres, camera optical frame (NaN = missing).
    frame : BodyFrame, optional
        The person's body frame (default: :func:`~pose3d_ros.core.body_frame.body_frame` of ``joints``).

    Returns
    -------
    (20,) ndarray
        NaN where the joints do not determine an angle (a missing shoulder/elbow/hip/knee, or no body frame).
        ``waist`` and ``y_head`` are 0 (see the module docstring).

    Raises
    ------
    ValueError
        If ``joints`` is not ``(16, 3)``.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape != (NUM_JOINTS, 3):
        raise ValueError(f"joints must be ({NUM_JOINTS}, 3), got {joints.shape}")
    out = np.full(len(REP155_JOINT_NAMES), np.nan)
    frame = body_frame(joints) if frame is None else frame
    if frame is None:
        return out
    jb = frame.to_body(joints)
    out[_A["waist"]] = 0.0
    out[_A["y_head"]] = 0.0
    u = _direction(jb, "neck", "head")
    if u is not None:  # Rx(r) Ry(-p) (0, 0, 1) = (-sin p, -sin r cos p, cos r cos p)
        out[_A["p_head"]] = math.asin(_clip1(-u[0]))
        out[_A["r_head"]] = math.atan2(-u[1], u[2])
    for side, s, mirror in (("left", "l", None), ("right", "r", _MIRROR)):
        d1 = _direction(jb, f"{side}_shoulder", f"{side}_elbow")
        if d1 is not None:
            d2 = _direction(jb, f"{side}_elbow", f"{side}_wrist")
            if mirror is not None:  # the right arm is the mirrored left arm with the same angles
                d1, d2 = d1 * mirror, (None if d2 is None else d2 * mirror)
            y, p, r, e = _left_arm(d1, d2)
            out[[_A[f"{s}_y_shoulder"], _A[f"{s}_p_shoulder"], _A[f"{s}_r_shoulder"]]] = (y, p, r)
            out[_A[f"{s}_elbow"]] = e
        d1 = _direction(jb, f"{side}_hip", f"{side}_knee")
        if d1 is not None:
            d2 = _direction(jb, f"{side}_knee", f"{side}_ankle")
            if mirror is not None:
                d1, d2 = d1 * mirror, (None if d2 is None else d2 * mirror)
            y, p, r, k = _left_leg(d1, d2)
            if mirror is not None:
                y = -y  # both hip yaw axes are -z in the URDF: not mirrored
            out[[_A[f"{s}_y_hip"], _A[f"{s}_p_hip"], _A[f"{s}_r_hip"]]] = (y, p, r)
            out[_A[f"{s}_knee"]] = k
    return out


def _check_2d(pixels: np.ndarray, confidence: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    if int(width) <= 0 or int(height) <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    pixels = np.asarray(pixels, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    if pixels.shape != (NUM_JOINTS, 2) or conf.shape != (NUM_JOINTS,):
        raise ValueError(
            f"pixels/confidence must be ({NUM_JOINTS}, 2)/({NUM_JOINTS},), got {pixels.shape}/{conf.shape}"
        )
    return pixels, conf


def skeleton2d_points(pixels: np.ndarray, confidence: np.ndarray, width: int, height: int) -> np.ndarray:
    """pose3d16 pixels -> the 18 ``Skeleton2D`` keypoints as normalised ``(x, y, c)``.

    Parameters
    ----------
    pixels : (16, 2) array_like
        (u, v) in the image, NaN when unknown.
    confidence : (16,) array_like
        Per-joint 2D confidence in [0, 1] (clipped; NaN -> 0).
    width, height : int
        Image size in pixels (> 0).

    Returns
    -------
    (18, 3) ndarray
        ``x = u / width``, ``y = v / height`` clipped to [0, 1]; ``c`` = confidence, 0 for joints pose3d16 lacks
        (nose, eyes, ears: x = y = 0), unknown pixels and pixels outside the image.

    Raises
    ------
    ValueError
        On wrong shapes or a non-positive image size.
    """
    pixels, conf = _check_2d(pixels, confidence, width, height)
    out = np.zeros((len(SKELETON2D_FROM_POSE3D16), 3))
    size = np.array([float(width), float(height)])
    for k, name in enumerate(SKELETON2D_FROM_POSE3D16):
        if name is None:
            continue
        uv, c = pixels[_J[name]], conf[_J[name]]
        if not np.isfinite(uv).all():
            continue
        xy = uv / size
        inside = bool(np.all((xy >= 0.0) & (xy <= 1.0)))
        out[k, :2] = np.clip(xy, 0.0, 1.0)
        out[k, 2] = float(np.clip(c, 0.0, 1.0)) if (inside and math.isfinite(c)) else 0.0
    return out


def body_roi(
    pixels: np.ndarray,
    confidence: np.ndarray,
    width: int,
    height: int,
    margin: float = 0.1,
    min_confidence: float = 0.0,
) -> tuple[float, float, float, float] | None:
    """Normalised body region ``(xmin, ymin, xmax, ymax)`` from the 2D joints.

    The box of the finite joints with confidence > ``min_confidence`` (all finite joints when none passes), grown by
    ``margin`` of its size on each side (joints lie inside the body: the box would otherwise cut the head and hands)
    and by a further ``margin`` above (the top of the head lies above pose3d16's head joint), clipped to the image.

    Returns
    -------
    tuple of float or None
        None when fewer than two joints have finite pixels or the clipped box is empty.

    Raises
    ------
    ValueError
        On wrong shapes, a non-positive image size or a negative margin.
    """
    pixels, conf = _check_2d(pixels, confidence, width, height)
    if not (math.isfinite(margin) and margin >= 0.0):
        raise ValueError(f"margin must be >= 0, got {margin}")
    finite = np.isfinite(pixels).all(axis=1)
    good = finite & (np.nan_to_num(conf, nan=0.0) > min_confidence)
    use = good if good.sum() >= 2 else finite
    if use.sum() < 2:
        return None
    lo, hi = pixels[use].min(axis=0), pixels[use].max(axis=0)
    pad = margin * (hi - lo)
    lo, hi = lo - pad - np.array([0.0, margin * (hi[1] - lo[1])]), hi + pad
    size = np.array([float(width), float(height)])
    lo, hi = np.clip(lo / size, 0.0, 1.0), np.clip(hi / size, 0.0, 1.0)
    if not np.all(hi > lo):
        return None
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


class Rep155Body:
    """One body's REP-155 state across frames: its frame (with the previous rotation as fallback) and joint angles
    whose unknown values keep the last known ones (0 before any)."""

    def __init__(self) -> None:
        self.rotation: np.ndarray | None = None
        self.angles = np.zeros(len(REP155_JOINT_NAMES))

    def update(self, joints: np.ndarray) -> tuple[BodyFrame | None, np.ndarray]:
        """Frame and filled joint angles of this frame's ``joints`` ``(16, 3)``; the frame is None without hips and
        pelvis (the angles are then the last known ones)."""
        frame = body_frame(joints, previous=self.rotation)
        if frame is None:
            return None, self.angles.copy()
        self.rotation = frame.rotation
        angles = rep155_joint_angles(joints, frame)
        known = np.isfinite(angles)
        self.angles[known] = angles[known]
        return frame, self.angles.copy()
