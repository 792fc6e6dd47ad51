"""The REP-155 body frame of a pose3d16 skeleton, and rotation <-> quaternion.

REP-155 ("Body Frames"): the frame ``body_<bodyID>`` has its origin at the mid point of the line connecting the hips,
its parent is the sensor frame, ``x`` points forward (out of the body) and ``z`` toward the head (up when the person
stands). With ``y`` to the person's left this is REP-103's x forward / y left / z up, a right-handed frame.

From the joints (camera optical frame: x right, y down, z forward):

* **origin**: the mid point of the two hips; the pelvis joint when a hip is missing.
* **z (up)**: the spine, from the mid hip (else the pelvis, else the spine joint) to the neck (else the mid point
  of the shoulders, else the head, else the spine joint).
* **y (left)**: the sum of the unit vectors right hip -> left hip and right shoulder -> left shoulder (whichever
  exist), made orthogonal to z. Using both girdles keeps the frame defined when one of them is missing.
* **x (forward)**: y x z, which points out of the chest.

Missing joints (NaN) degrade the frame instead of breaking it; :attr:`BodyFrame.source` says what was used:

``"skeleton"``      up and left both measured.
``"up_only"``       no left/right pair: x is the previous frame's x (else the direction toward the camera), made
                    orthogonal to the measured up.
``"left_only"``     no spine: z is the previous frame's z (else camera up, -y optical), made orthogonal to the
                    measured left.
``"previous"``      neither: the previous rotation is kept.
``"camera_facing"`` neither and no previous rotation: a person facing the camera, standing upright
                    (x = -z optical, y = +x optical, z = -y optical).

Without an origin (no hips and no pelvis) there is no frame (:func:`body_frame` returns None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .skeleton import NUM_JOINTS, POSE3D16

__all__ = [
    "BodyFrame",
    "CAMERA_FACING",
    "body_frame",
    "rotation_to_quaternion",
    "quaternion_to_rotation",
    "cross3",
]

#: Shortest segment (metres) that defines a direction; shorter ones are treated as missing.
MIN_SEGMENT_M = 0.02
#: Largest |cos| between up and left for the pair to define a frame (about 18 degrees from parallel).
MAX_UP_LEFT_COS = 0.95

#: Rotation (columns = body x, y, z in the optical frame) of an upright person facing the camera.
CAMERA_FACING = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
CAMERA_FACING.setflags(write=False)
_TOWARD_CAMERA = np.array([0.0, 0.0, -1.0])
_CAMERA_UP = np.array([0.0, -1.0, 0.0])

_J = {name: POSE3D16.index(name) for name in POSE3D16.names}


@dataclass(frozen=True)
class BodyFrame:
    """A body frame in the camera optical frame.

    Attributes
    ----------
    origin : (3,) ndarray
        Metres, camera optical frame.
    rotation : (3, 3) ndarray
        Proper rotation (det +1) whose columns are the body's x (forward), y (left), z (up) axes in the optical
        frame: a point ``p_body`` is ``origin + rotation @ p_body`` in the camera.
    source : str
        How the rotation was found (see the module docstring).
    """

    origin: np.ndarray
    rotation: np.ndarray
    source: str

    def to_body(self, points: np.ndarray) -> np.ndarray:
        """Optical-frame points ``(..., 3)`` -> body-frame points (same shape)."""
        return (np.asarray(points, dtype=np.float64) - self.origin) @ self.rotation

    def quaternion(self) -> np.ndarray:
        """The rotation as a unit quaternion ``(x, y, z, w)`` (ROS order)."""
        return rotation_to_quaternion(self.rotation)


def cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (``np.cross`` costs ~10x more on single vectors)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _unit(v: np.ndarray, min_norm: float) -> np.ndarray | None:
    """``v`` normalised; None when shorter than ``min_norm`` or not finite."""
    n = math.sqrt(float(v @ v))
    if not math.isfinite(n) or n < min_norm:
        return None
    return v / n


def _first_finite(points: list[np.ndarray]) -> np.ndarray | None:
    for p in points:
        if math.isfinite(float(p.sum())):
            return p
    return None


def _mid(joints: np.ndarray, a: str, b: str) -> np.ndarray:
    """Mid point of two joints (NaN when either is missing)."""
    return 0.5 * (joints[_J[a]] + joints[_J[b]])


def _up_vector(joints: np.ndarray, min_len: float) -> np.ndarray | None:
    lowers = [_mid(joints, "left_hip", "right_hip"), joints[_J["pelvis"]], joints[_J["spine"]]]
    uppers = [
        joints[_J["neck"]],
        _mid(joints, "left_shoulder", "right_shoulder"),
        joints[_J["head"]],
        joints[_J["spine"]],
    ]
    for lo in lowers:
        for up in uppers:
            u = _unit(up - lo, min_len)  # None when either end is missing (NaN) or they coincide
            if u is not None:
                return u
    return None


def _left_vector(joints: np.ndarray, min_len: float) -> np.ndarray | None:
    total = np.zeros(3)
    found = False
    for left, right in (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")):
        u = _unit(joints[_J[left]] - joints[_J[right]], min_len)
        if u is not None:
            total += u
            found = True
    return _unit(total, 1e-6) if found else None


def _orthogonal(v: np.ndarray, axis: np.ndarray) -> np.ndarray | None:
    """Unit component of ``v`` orthogonal to the unit vector ``axis`` (None when ``v`` is nearly parallel)."""
    return _unit(v - float(v @ axis) * axis, 0.2)


def _check_rotation(r: np.ndarray | None) -> np.ndarray | None:
    if r is None:
        return None
    r = np.asarray(r, dtype=np.float64)
    if r.shape != (3, 3):
        raise ValueError(f"previous rotation must be (3, 3), got {r.shape}")
    if not np.isfinite(r).all() or np.abs(r.T @ r - np.eye(3)).max() > 1e-6 or np.linalg.det(r) < 0:
        raise ValueError("previous rotation is not a proper rotation matrix")
    return r


def body_frame(
    joints: np.ndarray, previous: np.ndarray | None = None, min_segment: float = MIN_SEGMENT_M
) -> BodyFrame | None:
    """REP-155 body frame of one pose3d16 skeleton.

    Parameters
    ----------
    joints : (16, 3) array_like
        pose3d16 joints, metres, camera optical frame; NaN rows are missing joints.
    previous : (3, 3) array_like, optional
        The person's rotation in the previous frame, used where the joints leave an axis undefined.
    min_segment : float, optional
        Segments shorter than this (metres) do not define a direction.

    Returns
    -------
    BodyFrame or None
        None when neither hip pair nor pelvis is finite (no origin).

    Raises
    ------
    ValueError
        If ``joints`` is not ``(16, 3)`` or ``previous`` is not a proper rotation.

    Examples
    --------
    A person 3 m in front of the camera, facing it: x points back at the camera, z up.

    >>> import numpy as np
    >>> j = np.full((16, 3), np.nan)
    >>> j[10], j[13], j[2] = (0.1, 0.0, 3.0), (-0.1, 0.0, 3.0), (0.0, -0.5, 3.0)  # l/r hip (image right/left), neck
    >>> f = body_frame(j)
    >>> f.rotation[:, 0].round(6).tolist(), f.rotation[:, 2].round(6).tolist(), f.source
    ([0.0, 0.0, -1.0], [0.0, -1.0, 0.0], 'skeleton')
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape != (NUM_JOINTS, 3):
        raise ValueError(f"joints must be ({NUM_JOINTS}, 3), got {joints.shape}")
    previous = _check_rotation(previous)
    origin = _first_finite([_mid(joints, "left_hip", "right_hip"), joints[_J["pelvis"]]])
    if origin is None:
        return None
    up = _up_vector(joints, min_segment)
    left = _left_vector(joints, min_segment)
    if up is not None and left is not None:
        y = _orthogonal(left, up) if abs(float(left @ up)) < MAX_UP_LEFT_COS else None
        if y is not None:
            return BodyFrame(origin, np.column_stack([cross3(y, up), y, up]), "skeleton")
        left = None  # parallel to the spine: not a usable left/right direction
    if up is not None:
        refs = ([previous[:, 0]] if previous is not None else []) + [_TOWARD_CAMERA, _CAMERA_UP]
        for ref in refs:
            x = _orthogonal(ref, up)
            if x is not None:
                return BodyFrame(origin, np.column_stack([x, cross3(up, x), up]), "up_only")
    if left is not None:
        refs = ([previous[:, 2]] if previous is not None else []) + [_CAMERA_UP, _TOWARD_CAMERA]
        for ref in refs:
            z = _orthogonal(ref, left)
            if z is not None:
                return BodyFrame(origin, np.column_stack([cross3(left, z), left, z]), "left_only")
    if previous is not None:
        return BodyFrame(origin, previous.copy(), "previous")
    return BodyFrame(origin, CAMERA_FACING.copy(), "camera_facing")


def rotation_to_quaternion(r: np.ndarray) -> np.ndarray:
    """Rotation matrix -> unit quaternion ``(x, y, z, w)`` with ``w >= 0`` (Shepperd's method, stable near 180°).

    Parameters
    ----------
    r : (3, 3) array_like
        Proper rotation matrix.

    Raises
    ------
    ValueError
        If ``r`` is not a finite ``(3, 3)`` array.
    """
    r = np.asarray(r, dtype=np.float64)
    if r.shape != (3, 3) or not np.isfinite(r).all():
        raise ValueError(f"rotation must be a finite (3, 3) array, got shape {r.shape}")
    tr = float(np.trace(r))
    diag = np.diag(r)
    k = int(np.argmax(np.r_[diag, tr]))
    if k == 3:
        w = 0.5 * np.sqrt(max(1.0 + tr, 0.0))
        q = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1], 4.0 * w * w]) / (4.0 * w)
    else:
        i, j, m = k, (k + 1) % 3, (k + 2) % 3
        s = 2.0 * np.sqrt(max(1.0 + r[i, i] - r[j, j] - r[m, m], 0.0))
        q = np.zeros(4)
        q[i] = 0.25 * s
        q[j] = (r[j, i] + r[i, j]) / s
        q[m] = (r[m, i] + r[i, m]) / s
        q[3] = (r[m, j] - r[j, m]) / s
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def quaternion_to_rotation(q: np.ndarray) -> np.ndarray:
    """Unit quaternion ``(x, y, z, w)`` -> rotation matrix.

    Raises
    ------
    ValueError
        If ``q`` does not have 4 finite values with a non-zero norm.
    """
    q = np.asarray(q, dtype=np.float64).reshape(-1)
    n = float(np.linalg.norm(q)) if q.size == 4 else 0.0
    if q.size != 4 or not np.isfinite(n) or n == 0.0:
        raise ValueError(f"quaternion must have 4 finite values with a non-zero norm, got {q.tolist()}")
    x, y, z, w = q / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
