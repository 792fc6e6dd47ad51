"""Climbing mocap of PyPI ``holosoma-retargeting`` (Apache-2.0) -> pose3d16 :class:`~.mocap.MocapTake` objects.

The wheel ships ``holosoma_retargeting/demo_data/climb/mocap_climb_seq_<k>/mocap_climb_seq_<k>_joint_positions_
f<first>-<last>.npy``: one float32 array ``(T, 53, 3)`` per sequence, global joint positions in metres, world z up,
floor at z = 0, in the joint order :data:`HOLOSOMA_JOINTS` (``MOCAP_DEMO_JOINTS`` of the package's
``config_types/data_type.py``; MotionBuilder/HumanIK-style names, ``LeftArm`` = shoulder, ``LeftFoot`` = ankle).
The wheel is a data-preparation source only: these readers take paths and never import it.

pose3d16 joints (``msg/Skeleton3D.msg``):

* pelvis = midpoint of the hip joint centres ``LeftUpLeg``/``RightUpLeg`` (the data's ``Hips`` joint coincides with
  it to 1.2e-7 m in every shipped sequence);
* neck = midpoint of the shoulder joints ``LeftArm``/``RightArm`` (the source ``Neck`` joint, at the neck base, lies
  2-6 cm above it and is not used);
* spine = midpoint of pelvis and neck (``Spine``/``Spine1`` are not used);
* head = the source ``Head`` joint, the top of the neck chain (skull base), 14-16 cm above ``Neck``: there is no
  head-top or head-centre marker, and the skull base lies at about ear height, the package's head centre
  (ear midpoint), probably a few cm low;
* shoulders, elbows, wrists = ``LeftArm``, ``LeftForeArm``, ``LeftHand`` (right alike); hips, knees, ankles =
  ``LeftUpLeg``, ``LeftLeg``, ``LeftFoot`` (``LeftFootMod`` is an exact copy of ``LeftFoot``).

Axes: z-up world -> package axes by :data:`~.mocap.Z_UP_TO_PACKAGE`, a proper rotation, so the person's left stays
the left. Each take is checked: the head above the pelvis on the median frame (right up axis), and the facing vector
``(left_hip - right_hip) x (neck - pelvis)`` pointing along the feet (ankle -> toe) on the median frame, i.e. the
``Left*`` names are the person's left (the same sign convention the DeepMimic clips have walking forwards).

Frame rate: not stated anywhere in the wheel. :data:`DEFAULT_FPS` = 120 Hz is an assumption: holosoma's climbing
loader (``examples/robot_retarget.py``) keeps every 4th frame and stores the result with ``fps=30``, and at 120 Hz the
walking at the start/end of the takes has human values (steps of 0.45-0.55 s, pelvis 0.5-0.7 m/s, swing foot peaks
of 2-3 m/s; at 60 Hz all of these would be half as fast, unusually slow).

Subjects: the solved skeletons are rigid, so takes of one body share their limb bone lengths to < 0.1 mm; the
shipped five form two bodies, sequences 0-3 and sequence 4 (:func:`assign_subjects`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from pose3d_ros.core.skeleton import bone_lengths
from pose3d_ros.data.mocap import POSE3D16_NAMES, Z_UP_TO_PACKAGE, MocapFileError, MocapTake, ground_and_check

#: joint order of the ``.npy`` files (``MOCAP_DEMO_JOINTS`` in holosoma_retargeting/config_types/data_type.py).
HOLOSOMA_JOINTS = (
    "Hips", "Spine", "Spine1", "Neck", "Head",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand",
    "LeftHandThumb1", "LeftHandThumb2", "LeftHandThumb3", "LeftHandIndex1", "LeftHandIndex2", "LeftHandIndex3",
    "LeftHandMiddle1", "LeftHandMiddle2", "LeftHandMiddle3", "LeftHandRing1", "LeftHandRing2", "LeftHandRing3",
    "LeftHandPinky1", "LeftHandPinky2", "LeftHandPinky3",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand",
    "RightHandThumb1", "RightHandThumb2", "RightHandThumb3", "RightHandIndex1", "RightHandIndex2", "RightHandIndex3",
    "RightHandMiddle1", "RightHandMiddle2", "RightHandMiddle3", "RightHandRing1", "RightHandRing2", "RightHandRing3",
    "RightHandPinky1", "RightHandPinky2", "RightHandPinky3",
    "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase",
    "LeftFootMod", "RightFootMod",
)  # fmt: skip

#: pose3d16 joints taken directly from one source joint; pelvis, spine and neck are midpoints (module docstring).
JOINT_MAP = {
    "head": "Head",
    "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
    "right_shoulder": "RightArm", "right_elbow": "RightForeArm", "right_wrist": "RightHand",
    "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot",
    "right_hip": "RightUpLeg", "right_knee": "RightLeg", "right_ankle": "RightFoot",
}  # fmt: skip

#: assumed capture rate (Hz) of the climbing sequences: not stated by the package (see the module docstring).
DEFAULT_FPS = 120.0
#: bones (index into :func:`median_bone_lengths`) that are rigid in a solved skeleton: upper arms, forearms, pelvis
#: half-widths, thighs, shanks. Torso and neck "bones" join midpoints and change with posture, so they are left out.
RIGID_BONES = (4, 5, 7, 8, 9, 10, 11, 12, 13, 14)

_J = {n: i for i, n in enumerate(HOLOSOMA_JOINTS)}
_P = {n: i for i, n in enumerate(POSE3D16_NAMES)}
_SEQ_RE = re.compile(r"mocap_climb_seq_(\d+)_joint_positions_.*\.npy$")


def load_joint_positions(path: str | Path) -> np.ndarray:
    """Read one holosoma joint-position file and validate it.

    Parameters
    ----------
    path : str or Path
        A ``*_joint_positions_*.npy`` file.

    Returns
    -------
    positions : (T, 53, 3) float64 ndarray
        Metres, z-up world, :data:`HOLOSOMA_JOINTS` order.

    Raises
    ------
    MocapFileError
        Unreadable / truncated file, not a plain numeric ``.npy`` (object arrays are refused, never unpickled),
        shape other than (T >= 1, 53, 3), or any NaN / inf.
    """
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # truncated files raise ValueError, object arrays too
        raise MocapFileError(path, f"not a readable .npy array ({exc})") from exc
    if not isinstance(arr, np.ndarray):  # an .npz archive opens as NpzFile
        if hasattr(arr, "close"):
            arr.close()
        raise MocapFileError(path, "expected a single .npy array, got an archive")
    if arr.dtype.kind not in "fiu":
        raise MocapFileError(path, f"expected numeric joint positions, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[1:] != (len(HOLOSOMA_JOINTS), 3) or arr.shape[0] == 0:
        raise MocapFileError(path, f"expected shape (T >= 1, {len(HOLOSOMA_JOINTS)}, 3), got {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=(1, 2))
    if bad.any():  # the shipped files have none: a NaN frame means a damaged or foreign file
        raise MocapFileError(path, f"{int(bad.sum())} frame(s) with NaN/inf, first at frame {int(np.argmax(bad))}")
    return arr.astype(np.float64)


def to_pose3d16(positions: np.ndarray) -> np.ndarray:
    """Map holosoma joints onto pose3d16 (module docstring) and rotate z-up world -> package axes.

    Parameters
    ----------
    positions : (T, 53, 3) array_like
        Metres, z-up, :data:`HOLOSOMA_JOINTS` order.

    Returns
    -------
    joints : (T, 16, 3) float64 ndarray
        Metres, package axes (x right, y down, z forward), not yet grounded.
    """
    x = np.asarray(positions, dtype=np.float64)
    out = np.empty((x.shape[0], len(POSE3D16_NAMES), 3))
    for name, src in JOINT_MAP.items():
        out[:, _P[name]] = x[:, _J[src]]
    out[:, _P["pelvis"]] = 0.5 * (x[:, _J["LeftUpLeg"]] + x[:, _J["RightUpLeg"]])
    out[:, _P["neck"]] = 0.5 * (x[:, _J["LeftArm"]] + x[:, _J["RightArm"]])
    out[:, _P["spine"]] = 0.5 * (out[:, _P["pelvis"]] + out[:, _P["neck"]])
    return out @ Z_UP_TO_PACKAGE.T


def _check_orientation(path: str | Path, positions: np.ndarray, joints: np.ndarray) -> None:
    """Refuse a take whose up axis or left/right labels disagree with the z-up, right-handed reading."""
    up = np.median(joints[:, _P["head"], 1] - joints[:, _P["pelvis"], 1])
    if not up < 0:  # y down: an upright head has the smaller y
        raise MocapFileError(path, f"head {up:+.2f} m below the pelvis on the median frame: not z-up?")
    facing = np.cross(joints[:, _P["left_hip"]] - joints[:, _P["right_hip"]],
                      joints[:, _P["neck"]] - joints[:, _P["pelvis"]])  # fmt: skip
    toes = positions[:, [_J["LeftToeBase"], _J["RightToeBase"]]] - positions[:, [_J["LeftFoot"], _J["RightFoot"]]]
    toes = toes.sum(1) @ Z_UP_TO_PACKAGE.T  # the check is rotation-invariant, but keep one frame
    along = np.median(np.einsum("ti,ti->t", facing, toes))
    if not along > 0:  # a mirror (swapped Left*/Right* or an improper axis map) turns the facing vector backwards
        raise MocapFileError(path, "facing vector points against the feet: left/right labels mirrored?")


def read_holosoma_take(path: str | Path, name: str, subject: str, label: str = "climb",
                       fps: float = DEFAULT_FPS) -> MocapTake:  # fmt: skip
    """Read one holosoma sequence as a grounded pose3d16 take.

    Parameters
    ----------
    path : str or Path
        A ``*_joint_positions_*.npy`` file.
    name, subject, label : str
        Take name, subject id (see :func:`assign_subjects`) and action label.
    fps : float
        Frame rate; default the assumed :data:`DEFAULT_FPS`.

    Returns
    -------
    MocapTake
        ``joints`` (T, 16, 3) float32, metres, package axes, lowest ankle of the take at y = 0.

    Raises
    ------
    MocapFileError
        Malformed file (:func:`load_joint_positions`), wrong orientation, or a skeleton that is not human-sized.
    """
    positions = load_joint_positions(path)
    joints = to_pose3d16(positions)
    _check_orientation(path, positions, joints)
    joints = ground_and_check(path, joints)
    p = Path(path)
    parts = p.parts
    rel = "/".join(parts[parts.index("holosoma_retargeting") :]) if "holosoma_retargeting" in parts else p.name
    notes = {
        "format": "holosoma-retargeting (T, 53, 3) global joint positions, metres, z up",
        "frames": len(joints),
        "fps": f"{fps:g} Hz" + (" (assumed, not stated by the package)" if fps == DEFAULT_FPS else ""),
        "joints": "pelvis = mid LeftUpLeg/RightUpLeg, neck = mid LeftArm/RightArm, spine = mid pelvis-neck, "
        + ", ".join(f"{k} = {v}" for k, v in JOINT_MAP.items()),
        "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
        "median_bones_m": [round(float(b), 4) for b in median_bone_lengths(joints)],
    }
    return MocapTake(name=name, subject=subject, label=label, fps=fps, joints=joints,
                     source=f"PyPI holosoma-retargeting (Apache-2.0): {rel}", notes=notes)  # fmt: skip


def climb_files(root: str | Path) -> list[Path]:
    """The climbing sequences under ``root``, sorted by sequence number.

    Parameters
    ----------
    root : str or Path
        The unpacked wheel, its ``holosoma_retargeting`` package directory, ``demo_data/climb``, or anything above.

    Raises
    ------
    FileNotFoundError
        If none is found.
    """
    files = [p for p in Path(root).rglob("*_joint_positions_*.npy") if _SEQ_RE.search(p.name)]
    if not files:
        raise FileNotFoundError(f"no mocap_climb_seq_*_joint_positions_*.npy under {root}")
    return sorted(files, key=lambda p: (int(_SEQ_RE.search(p.name).group(1)), str(p)))


def sequence_name(path: str | Path) -> str:
    """``.../mocap_climb_seq_3_joint_positions_f200-2600.npy`` -> ``"climb_seq_3"`` (else the file stem)."""
    m = _SEQ_RE.search(Path(path).name)
    return f"climb_seq_{m.group(1)}" if m else Path(path).stem


def median_bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Median over frames of the 15 pose3d16 bone lengths (child joint order, metres), shape (15,)."""
    return np.median(bone_lengths(np.asarray(joints, dtype=np.float64)), axis=0)


def assign_subjects(paths: list[Path] | list[str], prefix: str = "climb", tol_m: float = 0.005) -> dict[Path, str]:
    """Group sequences by body: equal rigid limb bones (:data:`RIGID_BONES`, within ``tol_m``) = one subject.

    Greedy in the given order: a sequence joins the first subject whose first sequence it matches, else starts
    ``{prefix}_a``, ``{prefix}_b``, ... (letters in order of first appearance).

    Parameters
    ----------
    paths : list of str or Path
        Sequence files (e.g. :func:`climb_files`).
    prefix : str
    tol_m : float
        Largest per-bone difference (m) within one subject; the two shipped bodies differ by up to 12 mm (thighs),
        takes of one body by < 0.1 mm.

    Returns
    -------
    dict of Path -> str
    """
    refs: list[tuple[str, np.ndarray]] = []
    out: dict[Path, str] = {}
    for p in map(Path, paths):
        bones = median_bone_lengths(to_pose3d16(load_joint_positions(p)))[list(RIGID_BONES)]
        match = [subject for subject, ref in refs if np.abs(bones - ref).max() <= tol_m]
        if not match:
            match = [f"{prefix}_{chr(ord('a') + len(refs))}"]
            refs.append((match[0], bones))
        out[p] = match[0]
    return out


def read_climb_takes(root: str | Path, fps: float = DEFAULT_FPS) -> list[MocapTake]:
    """All climbing sequences under ``root`` as takes named ``holosoma_climb_seq_<k>``, subjects by body."""
    files = climb_files(root)
    subjects = assign_subjects(files)
    return [read_holosoma_take(p, f"holosoma_{sequence_name(p)}", subjects[p], fps=fps) for p in files]
