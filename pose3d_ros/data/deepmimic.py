"""DeepMimic motion clips (shipped with PyPI ``pybullet``) -> pose3d16 joint sequences in metres.

The clips ``pybullet_data/data/motions/humanoid3d_*.txt`` drive the humanoid ``humanoid/humanoid.urdf``. Each frame is
44 numbers: ``[duration, root_pos(3), root_quat(4), chest_quat(4), neck_quat(4), r_hip_quat(4), r_knee(1),
r_ankle_quat(4), r_shoulder_quat(4), r_elbow(1), l_hip_quat(4), l_knee(1), l_ankle_quat(4), l_shoulder_quat(4),
l_elbow(1)]``, quaternions as ``(w, x, y, z)``, world y up, root position already in metres.

Forward kinematics uses the URDF joint offsets (all joint origins have zero rpy), scaled by
:data:`URDF_SCALE` = 0.25, the ``globalScaling`` pybullet's DeepMimic examples load the humanoid with. Knees and elbows
are revolute about the local z axis. The pose3d16 joints are taken as:

* pelvis = the root link origin (= the mid-point of the two hip joints, which sit symmetrically at +-z);
* spine = the midpoint of pelvis and neck (the package's definition, msg/Skeleton3D.msg, the one the 2D layout
  conversion uses; the URDF ``chest`` joint lies within a few mm of it in the rest pose);
* neck = the midpoint of the two shoulder joints (the COCO-style definition the 2D layouts use);
* head = the centre of the head sphere of the ``neck`` link (0.175 m above the neck joint);
* shoulders, elbows, wrists, hips, knees, ankles = the URDF joints of the same names (wrist = the fixed wrist joint).

Coordinates are converted from DeepMimic's world (x, y up, z) to the package's optical-style axes (x right, y down,
z forward) by a 180 degree rotation about x, ``(x, y, z) -> (x, -y, -z)``: a proper rotation, so the person's left
stays the person's left, and the ground plane is y = 0 with the head at negative y.

The committed result is ``pose3d_ros/resources/mocap/deepmimic_pose3d16.npz`` (made by ``scripts/prepare_mocap.py``).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from pathlib import Path

import numpy as np

from pose3d_ros.core.skeleton import JOINT_NAMES

#: ``globalScaling`` used for ``humanoid.urdf`` in pybullet's DeepMimic examples (URDF units -> metres).
URDF_SCALE = 0.25
#: numbers per DeepMimic frame for the 3D humanoid.
FRAME_SIZE = 44
#: the pose3d16 joint order (msg/Skeleton3D.msg), ``core.skeleton.JOINT_NAMES`` (a numpy-only import)
POSE3D16_NAMES = JOINT_NAMES

# URDF joint origins (parent-link frame, URDF units), read from pybullet_data/humanoid/humanoid.urdf.
_CHEST_FROM_ROOT = np.array([0.0, 0.944604, 0.0])
_NECK_FROM_CHEST = np.array([0.0, 0.895576, 0.0])
_HEAD_FROM_NECK = np.array([0.0, 0.700000, 0.0])  # centre of the neck link's head sphere (radius 0.41)
_HIP_FROM_ROOT = {"right": np.array([0.0, 0.0, 0.339548]), "left": np.array([0.0, 0.0, -0.339548])}
_KNEE_FROM_HIP = np.array([0.0, -1.686184, 0.0])
_ANKLE_FROM_KNEE = np.array([0.0, -1.639480, 0.0])
_SHOULDER_FROM_CHEST = {"right": np.array([-0.096200, 0.974000, 0.732440]),
                        "left": np.array([-0.096200, 0.974000, -0.732440])}  # fmt: skip
_ELBOW_FROM_SHOULDER = np.array([0.0, -1.099152, 0.0])
_WRIST_FROM_ELBOW = np.array([0.0, -1.035788, 0.0])

# Column offsets inside one frame.
_COL = {
    "duration": 0, "root_pos": 1, "root": 4, "chest": 8, "neck": 12,
    "right_hip": 16, "right_knee": 20, "right_ankle": 21, "right_shoulder": 25, "right_elbow": 29,
    "left_hip": 30, "left_knee": 34, "left_ankle": 35, "left_shoulder": 39, "left_elbow": 43,
}  # fmt: skip

#: DeepMimic world (y up) -> package axes (y down, z forward): rotation by 180 degrees about x.
_WORLD_TO_PACKAGE = np.diag([1.0, -1.0, -1.0])

MOCAP_RESOURCE = ("resources", "mocap", "deepmimic_pose3d16.npz")
_META_KEYS = ("fps", "clip_names", "joint_names")


def quat_wxyz_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices from unit quaternions in ``(w, x, y, z)`` order.

    Parameters
    ----------
    q : (..., 4) array_like
        Quaternions; they are normalised first (the clip files carry 6 decimals).

    Returns
    -------
    R : (..., 3, 3) ndarray

    Raises
    ------
    ValueError
        If the last axis is not 4 or a quaternion has zero / non-finite norm.
    """
    q = np.asarray(q, dtype=np.float64)
    if q.shape[-1] != 4:
        raise ValueError(f"quaternions need a last axis of 4, got shape {q.shape}")
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if not np.all(np.isfinite(norm)) or np.any(norm < 1e-9):
        raise ValueError("quaternion with zero or non-finite norm")
    w, x, y, z = np.moveaxis(q / norm, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def _rot_z(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    zero, one = np.zeros_like(angle), np.ones_like(angle)
    return np.stack([np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1), np.stack([zero, zero, one], -1)], -2)


def _apply(rot: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``rot @ offset * URDF_SCALE`` for a batch of rotations (T, 3, 3) and one offset (3,)."""
    return np.einsum("tij,j->ti", rot, offset * URDF_SCALE)


def frames_to_pose3d16(frames: np.ndarray) -> np.ndarray:
    """Forward kinematics of DeepMimic humanoid frames into pose3d16 joints.

    Parameters
    ----------
    frames : (T, 44) array_like
        DeepMimic frames (see the module docstring).

    Returns
    -------
    joints : (T, 16, 3) float64 ndarray
        Joint positions in metres, package axes (x right, y down, z forward; ground at y = 0, person upright).

    Raises
    ------
    ValueError
        If ``frames`` is not (T, 44) with T >= 1 or holds non-finite numbers.
    """
    f = np.asarray(frames, dtype=np.float64)
    if f.ndim != 2 or f.shape[1] != FRAME_SIZE or f.shape[0] == 0:
        raise ValueError(f"DeepMimic frames must be (T, {FRAME_SIZE}) with T >= 1, got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError("DeepMimic frames contain NaN or inf")

    def quat(name: str) -> np.ndarray:
        c = _COL[name]
        return quat_wxyz_to_matrix(f[:, c : c + 4])

    p_root = f[:, 1:4]
    r_root = quat("root")
    p_chest = p_root + _apply(r_root, _CHEST_FROM_ROOT)
    r_chest = r_root @ quat("chest")
    p_neck_joint = p_chest + _apply(r_chest, _NECK_FROM_CHEST)
    r_neck = r_chest @ quat("neck")
    p_head = p_neck_joint + _apply(r_neck, _HEAD_FROM_NECK)

    out = {"pelvis": p_root, "spine": p_chest, "head": p_head}
    for side in ("left", "right"):
        p_hip = p_root + _apply(r_root, _HIP_FROM_ROOT[side])
        r_hip = r_root @ quat(f"{side}_hip")
        p_knee = p_hip + _apply(r_hip, _KNEE_FROM_HIP)
        r_knee = r_hip @ _rot_z(f[:, _COL[f"{side}_knee"]])
        p_ankle = p_knee + _apply(r_knee, _ANKLE_FROM_KNEE)
        p_sho = p_chest + _apply(r_chest, _SHOULDER_FROM_CHEST[side])
        r_sho = r_chest @ quat(f"{side}_shoulder")
        p_elb = p_sho + _apply(r_sho, _ELBOW_FROM_SHOULDER)
        r_elb = r_sho @ _rot_z(f[:, _COL[f"{side}_elbow"]])
        p_wri = p_elb + _apply(r_elb, _WRIST_FROM_ELBOW)
        out.update({f"{side}_hip": p_hip, f"{side}_knee": p_knee, f"{side}_ankle": p_ankle,
                    f"{side}_shoulder": p_sho, f"{side}_elbow": p_elb, f"{side}_wrist": p_wri})  # fmt: skip
    out["neck"] = 0.5 * (out["left_shoulder"] + out["right_shoulder"])
    out["spine"] = 0.5 * (out["pelvis"] + out["neck"])
    joints = np.stack([out[n] for n in POSE3D16_NAMES], axis=1)
    return joints @ _WORLD_TO_PACKAGE.T


def read_motion_file(path: str | Path) -> tuple[np.ndarray, float]:
    """Read one DeepMimic ``humanoid3d_*.txt`` clip.

    Parameters
    ----------
    path : str or Path
        The JSON motion file.

    Returns
    -------
    frames : (T, 44) float64 ndarray
    fps : float
        1 / the median frame duration.

    Raises
    ------
    ValueError
        If the file is not a DeepMimic humanoid clip.
    """
    try:
        doc = json.loads(Path(path).read_text())
        frames = np.asarray(doc["Frames"], dtype=np.float64)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a DeepMimic motion file ({exc})") from exc
    if frames.ndim != 2 or frames.shape[1] != FRAME_SIZE:
        raise ValueError(f"{path}: expected frames of {FRAME_SIZE} numbers, got shape {frames.shape}")
    duration = float(np.median(frames[:, 0]))
    if not duration > 0:
        raise ValueError(f"{path}: non-positive frame duration {duration}")
    return frames, 1.0 / duration


def motion_files(data_dir: str | Path | None = None) -> dict[str, Path]:
    """The DeepMimic humanoid clips shipped with pybullet, keyed by clip name (``humanoid3d_walk.txt`` -> ``walk``).

    Parameters
    ----------
    data_dir : str or Path, optional
        ``pybullet_data`` directory; default ``pybullet_data.getDataPath()`` (needs the dev dependency pybullet).
    """
    if data_dir is None:
        import pybullet_data  # dev-only dependency: used at data preparation time, never at run time

        data_dir = pybullet_data.getDataPath()
    files = sorted(Path(data_dir, "data", "motions").glob("humanoid3d_*.txt"))
    if not files:
        raise FileNotFoundError(f"no humanoid3d_*.txt clips under {Path(data_dir, 'data', 'motions')}")
    return {p.stem.removeprefix("humanoid3d_"): p for p in files}


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file (for provenance records)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def default_mocap_path() -> Path:
    """Path of the committed ``deepmimic_pose3d16.npz`` inside the installed package."""
    return Path(str(importlib.resources.files("pose3d_ros").joinpath(*MOCAP_RESOURCE)))


def load_mocap_clips(path: str | Path | None = None) -> dict[str, np.ndarray]:
    """Load the pose3d16 mocap clips.

    Parameters
    ----------
    path : str or Path, optional
        An ``.npz`` written by ``scripts/prepare_mocap.py``; default: the one shipped in ``pose3d_ros/resources/mocap``.

    Returns
    -------
    clips : dict of str -> (T, 16, 3) float32 ndarray
        Clip name (also the action label) -> joints in metres, package axes.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If an array in it is not (T, 16, 3).
    """
    path = default_mocap_path() if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mocap file not found: {path}")
    clips: dict[str, np.ndarray] = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            if key in _META_KEYS:
                continue
            arr = data[key]
            if arr.ndim != 3 or arr.shape[1:] != (16, 3):
                raise ValueError(f"{path}: clip {key!r} has shape {arr.shape}, expected (T, 16, 3)")
            clips[key] = arr.astype(np.float32, copy=False)
    return clips


def load_mocap_fps(path: str | Path | None = None) -> dict[str, float]:
    """Frame rate (Hz) of each clip in the mocap ``.npz`` (see :func:`load_mocap_clips`)."""
    path = default_mocap_path() if path is None else Path(path)
    with np.load(path, allow_pickle=False) as data:
        return {str(n): float(r) for n, r in zip(data["clip_names"], data["fps"], strict=True)}
