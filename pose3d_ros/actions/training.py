"""Training data for the action classifier: labelled sequences -> augmented, normalised windows.

Sources of labelled sequences (each a ``(T, 16, 3)`` pose3d16 array in metres plus its frame times):

* the DeepMimic mocap clips shipped in ``pose3d_ros/resources/mocap`` (label = clip name);
* JSONL from ``pose3d-ros estimate`` / ``lift`` (one line per frame, ``{"frame", "stamp"?, "skeletons": [{"id",
  "joints": {name: [x, y, z]}, "label"?}], "label"?}``), one label per file or per line / skeleton (segments);
* ``.npz`` files of ``(T, 16, 3)`` arrays (key = label, or one array with ``--label``), optional ``fps`` entry.

Augmentation (so the model holds on estimated, not only mocap, skeletons): random heading about the vertical axis,
left-right mirroring, time stretch, per-joint Gaussian noise, slowly varying per-joint offsets (like lifting errors)
and joint dropout (NaN, then filled over time exactly as at run time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d_ros.actions.features import (
    NECK,
    NUM_JOINTS,
    PELVIS,
    batch_features,
    fill_missing,
    mirror_window,
    resample_track,
    rotation_y,
)
from pose3d_ros.core.skeleton import JOINT_NAMES

IDLE_LABEL = "idle"  # standing in place, moving only the arms (the gestures' business, not the classifier's)
DEFAULT_FPS = 30.0  # frame rate assumed for files that do not say


@dataclass
class LabelledSequence:
    """One labelled sequence: ``times (T,)`` s, ``poses (T, 16, 3)`` m (NaN allowed), ``label``, ``source``."""

    label: str
    times: np.ndarray
    poses: np.ndarray
    source: str = ""

    def split(self, fraction: float) -> tuple[LabelledSequence, LabelledSequence]:
        """(first ``1 - fraction``, last ``fraction``) of the frames, e.g. ``split(0.25)`` for a 25 % hold-out."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must be in (0, 1), got {fraction}")
        cut = int(round(len(self.times) * (1.0 - fraction)))
        cut = min(max(cut, 1), len(self.times) - 1)
        return (LabelledSequence(self.label, self.times[:cut], self.poses[:cut], self.source + "[train]"),
                LabelledSequence(self.label, self.times[cut:], self.poses[cut:], self.source + "[held-out]"))


@dataclass
class AugmentConfig:
    """Augmentation ranges (metres, seconds, probabilities)."""

    mirror_prob: float = 0.5
    time_stretch: tuple[float, float] = (0.8, 1.25)
    noise_m: tuple[float, float] = (0.0, 0.03)
    offset_m: float = 0.03  # std of per-joint offsets that drift slowly over the window (lifting-like errors)
    dropout_prob: float = 0.3  # fraction of windows with missing joints
    dropout_rate: tuple[float, float] = (0.0, 0.2)  # per-joint-frame NaN rate in those windows


def mocap_sequences(clips: dict[str, np.ndarray] | None = None, fps: dict[str, float] | None = None
                    ) -> list[LabelledSequence]:
    """The DeepMimic clips as labelled sequences (label = clip name)."""
    from pose3d_ros.data.deepmimic import load_mocap_clips, load_mocap_fps

    clips = load_mocap_clips() if clips is None else clips
    fps = load_mocap_fps() if fps is None else fps
    return [LabelledSequence(name, np.arange(len(p)) / float(fps.get(name, DEFAULT_FPS)), np.asarray(p, np.float64),
                             f"deepmimic:{name}") for name, p in sorted(clips.items())]


#: take label -> action class: boxing is punching, a spin kick a kick; None = not a class. The DeepMimic
#: acrobatics (backflip, cartwheel, roll, spin, getup) and dance are single performances of one simulated body that
#: no held-out take recognised (bench/bench_actions.py): reporting them would be guessing; a range of motion is no
#: action.
TAKE_ACTION_CLASS = {"box": "punch", "spinkick": "kick", "range_of_motion": None, "backflip": None,
                     "cartwheel": None, "roll": None, "spin": None, "getup": None, "dance": None}
#: whole takes held out of action training (a class keeps other takes to learn from); classes with a single take
#: are held out by time instead (their last fraction), and reported apart
ACTION_TEST_TAKES = ("deepmimic_walk", "holosoma_climb_seq_4", "boxing_toes", "deepmimic_spinkick")


def take_sequences(takes: list | None = None) -> list[LabelledSequence]:
    """Shipped mocap takes (:mod:`pose3d_ros.data.takes`) as labelled sequences, ``source = "take:<name>"``."""
    from pose3d_ros.data.takes import load_takes

    out = []
    for t in load_takes() if takes is None else takes:
        label = TAKE_ACTION_CLASS.get(t.label, t.label)
        if label is not None:
            out.append(LabelledSequence(label, np.arange(len(t.joints)) / t.fps, np.asarray(t.joints, np.float64),
                                        f"take:{t.name}"))
    return out


def split_by_take(seqs: list[LabelledSequence], held_out: tuple[str, ...], fraction: float
                  ) -> tuple[list[LabelledSequence], list[LabelledSequence], set[str]]:
    """(train, test, labels tested on whole unseen takes): held-out takes go to test whole; a label with no
    held-out take loses the last ``fraction`` of each of its sequences to test instead (unseen frames only)."""
    whole = {s.label for s in seqs if s.source.removeprefix("take:") in held_out}
    train, test = [], []
    for s in seqs:
        if s.source.removeprefix("take:") in held_out:
            test.append(s)
        elif s.label in whole or fraction <= 0 or len(s.times) < 4:
            train.append(s)
        else:
            a, b = s.split(fraction)
            train.append(a)
            test.append(b)
    return train, test, whole


def calibrate_min_confidence(prob: np.ndarray, y: np.ndarray, target_precision: float = 0.9,
                             ignore: int | None = None) -> float:
    """Smallest confidence at which the reported (top-1, not ``ignore``) labels are right at least
    ``target_precision`` of the time on held-out windows; 1.0 when no threshold reaches it.

    ``prob`` (N, K) class probabilities, ``y`` (N,) true classes."""
    top, conf = prob.argmax(1), prob.max(1)
    use = np.ones(len(y), bool) if ignore is None else top != ignore
    for t in np.round(np.arange(0.30, 1.0, 0.01), 2):
        sel = use & (conf >= t)
        if sel.sum() >= 10 and (top[sel] == y[sel]).mean() >= target_precision:
            return float(t)
    return 1.0


def idle_sequences(n: int, seed: int) -> list[LabelledSequence]:
    """Generated standing-in-place sequences (idle, gestures and look-alikes) labelled ``IDLE_LABEL``."""
    from pose3d_ros.sim.gestures import NEGATIVE_KINDS, POSITIVE_KINDS, make_sequence

    rng = np.random.default_rng(seed)
    kinds = POSITIVE_KINDS + NEGATIVE_KINDS
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        s = make_sequence(kind, side=("left", "right")[int(rng.integers(2))], hold_s=float(rng.uniform(1.0, 3.0)),
                          freq_hz=float(rng.uniform(0.8, 2.5)), heading=float(rng.uniform(-np.pi, np.pi)), rng=rng)
        out.append(LabelledSequence(IDLE_LABEL, s.times, s.poses, f"synthetic:{kind}:{seed}:{i}"))
    return out


def _parse_joints(obj: dict, where: str) -> np.ndarray:
    pose = np.full((NUM_JOINTS, 3), np.nan)
    for j, name in enumerate(JOINT_NAMES):
        v = obj.get(name)
        if v is not None:
            if len(v) < 3:
                raise ValueError(f"{where}: joint {name!r} needs [x, y, z], got {v!r}")
            pose[j] = [float(c) for c in v[:3]]
    return pose


def read_jsonl(path: str | Path, label: str | None = None, fps: float = DEFAULT_FPS) -> list[LabelledSequence]:
    """Labelled sequences from an ``estimate`` / ``lift`` JSONL file.

    One sequence per (skeleton id, label) run of consecutive frames. The label of a skeleton is, in order: its own
    ``"label"``, the line's ``"label"``, then ``label``; frames without any label are skipped. Times come from
    ``"stamp"`` when present, else ``frame / fps``.

    Raises
    ------
    ValueError
        On malformed lines (the message names the file and line).
    """
    path = Path(path)
    runs: dict[tuple[int, str], list[tuple[float, np.ndarray]]] = {}
    done: list[LabelledSequence] = []
    last: dict[int, str] = {}
    with path.open() as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                doc = json.loads(line)
                stamp = float(doc["stamp"]) if "stamp" in doc else float(doc.get("frame", n - 1)) / fps
                for sk in doc.get("skeletons", []):
                    lab = sk.get("label", doc.get("label", label))
                    sid = int(sk.get("id", 0))
                    if sid in last and last[sid] != lab:  # the label changed: close the previous segment
                        _close(runs, (sid, last[sid]), done, where)
                    last[sid] = lab
                    if not lab:
                        continue
                    runs.setdefault((sid, str(lab)), []).append((stamp, _parse_joints(sk.get("joints", {}), where)))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{where}: malformed line ({exc})") from exc
    for key in list(runs):
        _close(runs, key, done, str(path))
    return done


def _close(runs: dict, key: tuple[int, str], done: list[LabelledSequence], where: str) -> None:
    frames = runs.pop(key, None)
    if not frames:
        return
    frames.sort(key=lambda f: f[0])
    done.append(LabelledSequence(key[1], np.array([f[0] for f in frames]), np.stack([f[1] for f in frames]),
                                 f"{where}#id{key[0]}"))


def read_npz(path: str | Path, label: str | None = None, fps: float = DEFAULT_FPS) -> list[LabelledSequence]:
    """Labelled sequences from an ``.npz`` of ``(T, 16, 3)`` arrays (key = label unless ``label`` is given).

    An ``fps`` entry (scalar, or one per array in ``clip_names`` order) overrides ``fps``.
    """
    path = Path(path)
    with np.load(path, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    rates = d.pop("fps", None)
    names = [str(s) for s in d.pop("clip_names", [])]
    d.pop("joint_names", None)
    out = []
    for key, arr in sorted(d.items()):
        if arr.ndim != 3 or arr.shape[1:] != (NUM_JOINTS, 3):
            raise ValueError(f"{path}: array {key!r} has shape {arr.shape}, expected (T, {NUM_JOINTS}, 3)")
        r = fps
        if rates is not None:
            r = float(rates) if np.ndim(rates) == 0 else float(rates[names.index(key)]) if key in names else fps
        out.append(LabelledSequence(label or key, np.arange(len(arr)) / r, arr.astype(np.float64), f"{path}:{key}"))
    return out


def sample_windows(seqs: list[LabelledSequence], labels: list[str], n: int, window_frames: int, window_s: float,
                   seed: int, augment: AugmentConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Random (augmented) windows from labelled sequences, classes balanced.

    Parameters
    ----------
    seqs : list of LabelledSequence
    labels : list of str
        Output class order; sequences with other labels are ignored.
    n : int
        Number of windows.
    window_frames, window_s : int, float
        Window size (frames) and duration (s). A window ending early in a sequence holds its first pose (as a young
        track does at run time).
    seed : int
    augment : AugmentConfig or None
        None: no augmentation (evaluation on clean data).

    Returns
    -------
    windows : (n, window_frames, 16, 3) float64 ndarray
        Raw (not yet normalised) joints, NaN where dropped out.
    y : (n,) int64 ndarray
    """
    rng = np.random.default_rng(seed)
    by_label: dict[int, list[LabelledSequence]] = {}
    for s in seqs:
        if s.label in labels and len(s.times) >= 1:
            by_label.setdefault(labels.index(s.label), []).append(s)
    if not by_label:
        raise ValueError(f"no sequence has one of the labels {labels}")
    classes = sorted(by_label)
    out = np.empty((n, window_frames, NUM_JOINTS, 3))
    y = np.empty(n, dtype=np.int64)
    for i in range(n):
        c = classes[i % len(classes)]
        group = by_label[c]
        lengths = np.array([max(s.times[-1] - s.times[0], 1e-3) for s in group])
        s = group[int(rng.choice(len(group), p=lengths / lengths.sum()))]
        stretch = rng.uniform(*augment.time_stretch) if augment else 1.0
        t = (s.times - s.times[0]) * stretch
        t_end = rng.uniform(min(0.3 * window_s, t[-1]), t[-1]) if t[-1] > 0 else 0.0
        w = resample_track(t, s.poses, t_end, window_s, window_frames)
        if augment is not None:
            w = _augment(w, rng, augment)
        out[i], y[i] = w, c
    return out, y


def _augment(w: np.ndarray, rng: np.random.Generator, a: AugmentConfig) -> np.ndarray:
    if rng.random() < a.mirror_prob:
        w = mirror_window(w)
    root = np.nanmean(w[:, 0], axis=0)
    w = (w - root) @ rotation_y(rng.uniform(-np.pi, np.pi)).T + root
    t = len(w)
    w = w + rng.normal(0.0, rng.uniform(*a.noise_m), w.shape)
    # per-joint offsets that drift linearly over the window
    start, end = rng.normal(0.0, a.offset_m, (2, NUM_JOINTS, 3))
    ramp = np.linspace(0.0, 1.0, t)[:, None, None]
    w = w + start * (1 - ramp) + end * ramp
    if rng.random() < a.dropout_prob:
        drop = rng.random((t, NUM_JOINTS)) < rng.uniform(*a.dropout_rate)
        drop[:, [PELVIS, NECK]] &= rng.random((t, 2)) < 0.5  # keep pelvis / neck often enough to normalise
        w = w.copy()
        w[drop] = np.nan
    return w


def windows_to_features(windows: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Features of raw windows, NaN joints filled as at run time; windows that cannot be normalised are dropped.

    Returns
    -------
    features : (M, T, F) float32 ndarray
    keep : (N,) bool ndarray
        Which input windows were kept.
    """
    w = np.array(windows, dtype=np.float64)
    keep = np.ones(len(w), dtype=bool)
    for i in np.flatnonzero(~np.isfinite(w).all(axis=(1, 2, 3))):
        filled, _ = fill_missing(w[i])
        if not np.isfinite(filled[:, [PELVIS, NECK]]).all():
            keep[i] = False
            continue
        w[i] = np.nan_to_num(filled - filled[:, :1], nan=0.0) + filled[:, :1]  # never-seen joints at the pelvis
    return batch_features(w[keep], dt), keep
