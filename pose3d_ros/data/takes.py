"""The shipped 3D motion data as labelled takes, and the one held-out protocol every trainer and bench uses.

Two committed files hold it (both made by ``scripts/prepare_mocap.py``, provenance in their README):

* ``resources/mocap/deepmimic_pose3d16.npz``: the DeepMimic clips of PyPI ``pybullet`` (one simulated body);
* ``resources/mocap/real_mocap_pose3d16.npz``: real motion capture of several people (CMU subject 01, a boxer, a
  fencer, a 3ds Max Biped range of motion, two climbers) plus pybullet's walker clips, resampled to
  :data:`COMMON_FPS`, static stretches removed; per take a name, subject, action label and source.

Held-out protocol (by whole take; ``boxing`` and ``fencing`` are also bodies no other take has):

* :data:`TEST_TAKES` are never used to fit or tune anything: benches report on them;
* :data:`VALIDATION_TAKES` choose hyperparameters (prior K / B / augmentation, lifter weights); the shipped models
  are then fitted on training + validation takes;
* everything else is training data.
"""

from __future__ import annotations

import importlib.resources
import zipfile
from pathlib import Path

import numpy as np

from pose3d_ros.data.mocap import MocapFileError, MocapTake

COMMON_FPS = 30.0
REAL_MOCAP_RESOURCE = ("resources", "mocap", "real_mocap_pose3d16.npz")
#: never fitted or tuned on: one CMU take (a seen body), the boxer (an unseen body), one climb sequence, and the
#: DeepMimic clips held out since wave 1
TEST_TAKES = ("cmu_01_03", "boxing_toes", "holosoma_climb_seq_4", "deepmimic_walk", "deepmimic_punch",
              "deepmimic_dance_b")
#: hyperparameters are chosen on these: the fencer (an unseen body), another climb sequence, three DeepMimic clips
VALIDATION_TAKES = ("vicon_fencing", "holosoma_climb_seq_1", "deepmimic_run", "deepmimic_kick", "deepmimic_spinkick")
_DEEPMIMIC_SUBJECT = "deepmimic_humanoid"
_DEEPMIMIC_LABELS = {"dance_a": "dance", "dance_b": "dance", "getup_facedown": "getup", "getup_faceup": "getup"}


def real_mocap_path() -> Path:
    """Path of the committed real-mocap file inside the installed package."""
    return Path(str(importlib.resources.files("pose3d_ros").joinpath(*REAL_MOCAP_RESOURCE)))


def save_takes(path: str | Path, takes: list[MocapTake]) -> None:
    """Write takes (all at one frame rate) to one ``.npz``: concatenated joints + per-take metadata."""
    rates = {t.fps for t in takes}
    if len(rates) != 1:
        raise ValueError(f"takes must share one frame rate, got {sorted(rates)}")
    lengths = np.array([len(t.joints) for t in takes])
    np.savez_compressed(
        path, joints=np.concatenate([t.joints for t in takes]).astype(np.float32), take_lengths=lengths,
        take_names=np.array([t.name for t in takes]), take_subjects=np.array([t.subject for t in takes]),
        take_labels=np.array([t.label for t in takes]), take_sources=np.array([t.source for t in takes]),
        fps=np.float32(rates.pop()))


def read_takes(path: str | Path) -> list[MocapTake]:
    """Read a file written by :func:`save_takes`; :class:`MocapFileError` names the file on any problem."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            joints, lengths, fps = z["joints"], z["take_lengths"].astype(int), float(z["fps"])
            meta = [z[k].tolist() for k in ("take_names", "take_subjects", "take_labels", "take_sources")]
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise MocapFileError(path, f"not a readable take file ({exc})") from exc
    if joints.ndim != 3 or joints.shape[1:] != (16, 3) or lengths.sum() != len(joints) or (lengths < 1).any():
        raise MocapFileError(path, f"joints {joints.shape} do not match take lengths {lengths.tolist()}")
    if any(len(m) != len(lengths) for m in meta):
        raise MocapFileError(path, "per-take metadata and take lengths differ in count")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return [MocapTake(name=n, subject=s, label=lab, fps=fps, joints=joints[a : a + k], source=src)
            for n, s, lab, src, a, k in zip(*meta, starts, lengths, strict=True)]


def deepmimic_takes(path: str | Path | None = None) -> list[MocapTake]:
    """The DeepMimic clips as takes (name ``deepmimic_<clip>``, label = clip name with variants merged)."""
    from pose3d_ros.data.deepmimic import default_mocap_path, load_mocap_clips, load_mocap_fps

    clips, fps = load_mocap_clips(path), load_mocap_fps(path or default_mocap_path())
    return [MocapTake(name=f"deepmimic_{c}", subject=_DEEPMIMIC_SUBJECT, label=_DEEPMIMIC_LABELS.get(c, c),
                      fps=fps[c], joints=clips[c], source="pybullet_data/data/motions")
            for c in sorted(clips)]


def load_takes(real: bool = True, deepmimic: bool = True) -> list[MocapTake]:
    """Every shipped take (real mocap first, then DeepMimic)."""
    out = read_takes(real_mocap_path()) if real and real_mocap_path().is_file() else []
    return out + (deepmimic_takes() if deepmimic else [])


def split_takes(takes: list[MocapTake], held_out: tuple[str, ...] | list[str] = TEST_TAKES
                ) -> tuple[list[MocapTake], list[MocapTake]]:
    """(kept, held out) by take name; unknown names in ``held_out`` raise ValueError (a typo must not leak data)."""
    names = {t.name for t in takes}
    unknown = sorted(set(held_out) - names)
    if unknown:
        raise ValueError(f"unknown takes {unknown}; have {sorted(names)}")
    return [t for t in takes if t.name not in held_out], [t for t in takes if t.name in held_out]


def resample(take: MocapTake, fps: float = COMMON_FPS) -> tuple[MocapTake, int]:
    """Drop repeated source frames, then resample linearly to ``fps``.

    A frame identical to the one before (all joints within 0.1 mm) is a held sample (a mocap system repeating its
    last value, an exporter padding), not a pose: it is dropped and the interpolation runs over the true times of
    the frames kept, so the output has no gaps. Joint positions are interpolated (not rotations): fine for >= 30 Hz
    sources. Returns the take and the number of source frames dropped.
    """
    x = take.joints
    moved = np.abs(np.diff(x, axis=0)).max((1, 2)) >= 1e-4
    keep = np.concatenate([[0], np.flatnonzero(moved) + 1])
    t_in = keep / take.fps
    t_out = np.arange(0.0, t_in[-1] + 1e-9, 1.0 / fps)
    flat = x[keep].reshape(len(keep), -1).astype(np.float64)
    out = np.stack([np.interp(t_out, t_in, flat[:, i]) for i in range(flat.shape[1])], 1)
    notes = dict(take.notes, source_frames=len(x), source_fps=take.fps, repeated_frames_dropped=len(x) - len(keep))
    return (MocapTake(take.name, take.subject, take.label, fps, out.reshape(len(t_out), 16, 3), take.source, notes),
            len(x) - len(keep))


def distinct_poses(poses: np.ndarray, min_motion_m: float = 0.01) -> np.ndarray:
    """Indices of frames that moved at least ``min_motion_m`` (some joint) since the last kept one: holds and slow
    stretches add no pose variety but would weigh in the prior's fit. ``poses`` (T, 16, 3) -> indices (M,)."""
    keep, last = [0], poses[0] - poses[0, :1]
    for i in range(1, len(poses)):
        cur = poses[i] - poses[i, :1]
        if np.abs(cur - last).max() >= min_motion_m:
            keep.append(i)
            last = cur
    return np.asarray(keep)
