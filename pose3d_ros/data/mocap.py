"""One motion-capture take in the package's joint set, whatever file format it came from.

Every reader in :mod:`pose3d_ros.data` (DeepMimic, BVH, Vicon CSM, 3ds Max ASE, holosoma joint arrays) returns
:class:`MocapTake` objects: pose3d16 joints (``msg/Skeleton3D.msg`` order) in metres, package axes (x right, y down,
z forward; ground at y = 0, the person upright with the head at negative y), at the source's own frame rate.
Malformed files raise :class:`MocapFileError`, whose message names the file and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pose3d_ros.core.skeleton import JOINT_NAMES, bone_lengths  # numpy only: the readers stay light

#: pose3d16 joint order (msg/Skeleton3D.msg): the readers' name for ``core.skeleton.JOINT_NAMES``
POSE3D16_NAMES = JOINT_NAMES

#: z-up world (x, y, z up) -> package axes (y down): rotation by -90 degrees about x, (x, y, z) -> (x, -z, y).
Z_UP_TO_PACKAGE = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
#: y-up world (x, y up, z) -> package axes: rotation by 180 degrees about x, (x, y, z) -> (x, -y, -z).
Y_UP_TO_PACKAGE = np.diag([1.0, -1.0, -1.0])


class MocapFileError(ValueError):
    """A motion file that cannot be read: the message names the file and what is wrong with it."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass
class MocapTake:
    """One take (a continuous recording of one subject).

    Attributes
    ----------
    name : str
        Unique take name, e.g. ``"cmu_01_01"``.
    subject : str
        Who was recorded (takes of one subject share it; held-out splits are by subject or take).
    label : str
        Action label of the whole take (``"walk"``, ``"box"``, ``"climb"``, ``"fence"``...).
    fps : float
        Frame rate of ``joints``.
    joints : (T, 16, 3) float32 ndarray
        pose3d16 joints, metres, package axes, ground at y = 0.
    source : str
        Where the file came from (package and path), for the provenance README.
    notes : dict
        Free-form provenance (joint-centre definitions, dropped frames...).
    """

    name: str
    subject: str
    label: str
    fps: float
    joints: np.ndarray
    source: str = ""
    notes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        j = np.asarray(self.joints, dtype=np.float32)
        if j.ndim != 3 or j.shape[1:] != (len(POSE3D16_NAMES), 3):
            raise ValueError(f"take {self.name}: joints must be (T, 16, 3), got {j.shape}")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"take {self.name}: fps must be positive, got {self.fps}")
        self.joints = j


def ground_and_check(path: str | Path, joints: np.ndarray, max_bone_m: float = 0.8) -> np.ndarray:
    """Put the lowest ankle of the take at y = 0 and refuse absurd skeletons (a wrong unit or joint map).

    Frames with NaN/inf joints are dropped (a take with none left is an error); a bone longer than ``max_bone_m``
    or a standing height outside 1.0-2.3 m on the median frame means the conversion is wrong.
    """
    x = np.asarray(joints, dtype=np.float64)
    finite = np.isfinite(x).all((1, 2))
    if not finite.any():
        raise MocapFileError(path, "no frame with finite joint positions")
    x = x[finite]
    bones = np.median(bone_lengths(x), 0)
    if bones.max() > max_bone_m or bones.min() < 1e-3:
        raise MocapFileError(path, f"bone lengths {bones.min():.3f}-{bones.max():.3f} m are not human "
                                   "(wrong unit or joint map?)")
    # standing height proxy: leg + torso + neck-head chain lengths
    i = POSE3D16_NAMES.index
    height = (bones[i("left_knee") - 1] + bones[i("left_ankle") - 1] + np.linalg.norm(
        np.median(x[:, i("head")] - x[:, i("pelvis")], 0)))
    if not 1.0 <= height <= 2.3:
        raise MocapFileError(path, f"body height {height:.2f} m is not human (wrong unit or joint map?)")
    ankles = x[:, [i("left_ankle"), i("right_ankle")], 1]
    x[..., 1] -= ankles.max()  # y down: the lowest ankle has the largest y
    return x.astype(np.float32)
