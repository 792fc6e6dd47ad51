"""pybullet's DeepMimic "walker" clips (``pybullet_data/data/motions/walker/*.txt``) -> pose3d16 takes.

The five clips (``0walk_forward``, ``turn_left0/1``, ``turn_right0/1``) are the training set of pybullet's multi-clip
DeepMimic example (``pybullet_data/args/train_humanoid3d_walker_args.txt``: ``--character_files
data/characters/humanoid3d.txt``, ``--motion_file data/motions/walker/``), whose
``HumanoidStablePDMultiClip`` loads ``humanoid/humanoid.urdf`` at ``globalScaling=0.25``. So they drive the same
body as the ``humanoid3d_*.txt`` clips, in the same 44-number frame format: the readers of :mod:`.deepmimic` apply
unchanged, and the bone lengths are those of the DeepMimic humanoid (FK agrees with pybullet's to 1.3e-7 m).

Each clip is 38 frames at 30 fps (one looped gait cycle, ``"Loop": "wrap"``), walking 0.7-1.0 m/s forwards or on a
curve. All are labelled ``"walk"``; the subject is the DeepMimic humanoid (one body for these and the humanoid3d
clips, so subject-held-out splits must keep them together).
"""

from __future__ import annotations

from pathlib import Path

from pose3d_ros.data.deepmimic import frames_to_pose3d16, read_motion_file, sha256_of
from pose3d_ros.data.mocap import MocapFileError, MocapTake, ground_and_check


def walker_files(data_dir: str | Path | None = None) -> dict[str, Path]:
    """The walker clips keyed by name (``0walk_forward.txt`` -> ``walk_forward``, ``turn_left0.txt`` -> itself).

    Parameters
    ----------
    data_dir : str or Path, optional
        ``pybullet_data`` directory; default ``pybullet_data.getDataPath()`` (dev dependency pybullet).

    Raises
    ------
    FileNotFoundError
        If the directory holds no walker clip.
    """
    if data_dir is None:
        import pybullet_data  # dev-only dependency: used at data preparation time, never at run time

        data_dir = pybullet_data.getDataPath()
    folder = Path(data_dir, "data", "motions", "walker")
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no walker clips under {folder}")
    # the leading "0" of 0walk_forward only orders the file first in a listing; it is not part of the motion
    return {p.stem.lstrip("0123456789") or p.stem: p for p in files}


def read_walker_take(path: str | Path, name: str, subject: str = "deepmimic", label: str = "walk") -> MocapTake:
    """One walker clip as a grounded pose3d16 take.

    Parameters
    ----------
    path : str or Path
        A ``walker/*.txt`` DeepMimic clip.
    name, subject, label : str
        Take name, subject id and action label.

    Returns
    -------
    MocapTake
        ``joints`` (T, 16, 3) float32, metres, package axes, lowest ankle at y = 0; fps from the frame durations.

    Raises
    ------
    MocapFileError
        If the file is not a DeepMimic humanoid3d clip or its skeleton is not human-sized.
    """
    try:
        frames, fps = read_motion_file(path)
        joints = frames_to_pose3d16(frames)
    except ValueError as exc:  # read_motion_file already names the file; frames_to_pose3d16 does not
        raise MocapFileError(path, str(exc).removeprefix(f"{path}: ")) from exc
    joints = ground_and_check(path, joints)
    p = Path(path)
    notes = {
        "format": "DeepMimic humanoid3d clip (44 numbers a frame), humanoid/humanoid.urdf at globalScaling 0.25",
        "frames": len(joints),
        "sha256": sha256_of(p),
        "joints": "see pose3d_ros/data/deepmimic.py",
    }
    source = f"PyPI pybullet (zlib): pybullet_data/data/motions/walker/{p.name}"
    return MocapTake(name=name, subject=subject, label=label, fps=round(fps, 3), joints=joints, source=source,
                     notes=notes)  # fmt: skip


def read_walker_takes(data_dir: str | Path | None = None, subject: str = "deepmimic") -> list[MocapTake]:
    """All walker clips as takes named ``walker_<clip>`` (e.g. ``walker_turn_left0``), label ``"walk"``."""
    return [read_walker_take(p, f"walker_{key}", subject) for key, p in walker_files(data_dir).items()]
