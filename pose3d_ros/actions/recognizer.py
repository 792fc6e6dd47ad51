"""Per-person action and gesture recognition over tracked 3D skeletons, with debouncing and start events.

For every confirmed track (``Track.id > 0``) the recognizer keeps the recent history of matched poses and, each
frame,

* runs the rule-based gestures (:mod:`pose3d_ros.actions.gestures`) on the last ``WAVE_WINDOW_S`` seconds;
* runs the learned classifier (:mod:`pose3d_ros.actions.classifier`) on the last ``model.window_s`` seconds,
  resampled to the model's frame rate (all people in one batch);
* debounces each channel: a label becomes current after being the best with confidence >= ``min_confidence`` for
  ``min_duration_s`` and stays current while its own confidence is >= ``release_confidence`` (hysteresis). Becoming
  current emits one :class:`ActionEventData` (not for ``quiet_labels``, e.g. ``idle``).

The label reported for a person is the current gesture if any, else the current action, else ``""``. Short or gappy
histories (a gap over ``max_gap_s`` restarts it), NaN joints, ids that appear and vanish: no event, no exception.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pose3d_ros.actions.classifier import ActionClassifier, default_model_path
from pose3d_ros.actions.events import ActionEventData
from pose3d_ros.actions.features import NECK, PELVIS, resample_track
from pose3d_ros.actions.gestures import WAVE_WINDOW_S, detect_gestures
from pose3d_ros.actions.training import IDLE_LABEL, windows_to_features
from pose3d_ros.settings import known_keys_only


@dataclass
class RecognizerConfig:
    """Recognizer settings (a ``dict`` / YAML section with these keys works too, see :meth:`from_dict`).

    Attributes
    ----------
    gestures : bool
        Run the rule-based gestures.
    classifier : bool
        Run the learned action classifier.
    model_path : str
        Action model ``.npz``; ``""`` = the shipped default.
    min_confidence : float
        Classifier label must reach this probability to start.
    min_duration_s : float
        ... for this long (s).
    release_confidence : float
        A current action ends when its probability falls below this (hysteresis, < ``min_confidence``).
    gesture_min_confidence, gesture_min_duration_s, gesture_release_confidence : float
        The same for gestures (gesture rules already require their own hold time, so the debounce is shorter).
    min_history_s : float
        No classification before a track has this much history (s).
    min_valid_fraction : float
        No classification when fewer of the window's joints (all frames) are finite.
    max_gap_s : float
        A gap between matched frames longer than this restarts the person's history.
    forget_s : float
        State of a track not seen for this long is dropped.
    quiet_labels : tuple of str
        Labels reported but never announced with an event.
    """

    gestures: bool = True
    classifier: bool = True
    model_path: str = ""
    min_confidence: float = 0.6
    min_duration_s: float = 0.3
    release_confidence: float = 0.35
    gesture_min_confidence: float = 0.5
    gesture_min_duration_s: float = 0.1
    gesture_release_confidence: float = 0.4
    min_history_s: float = 0.5
    min_valid_fraction: float = 0.6
    max_gap_s: float = 0.5
    forget_s: float = 2.0
    quiet_labels: tuple[str, ...] = (IDLE_LABEL,)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> RecognizerConfig:
        """Build from a mapping; unknown keys raise ``ValueError`` naming them."""
        d = known_keys_only(cls, d, "action recognizer option(s)")
        if "quiet_labels" in d:
            d["quiet_labels"] = tuple(d["quiet_labels"])
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ``ValueError`` on inconsistent thresholds."""
        for a, b in (("release_confidence", "min_confidence"),
                     ("gesture_release_confidence", "gesture_min_confidence")):
            lo, hi = getattr(self, a), getattr(self, b)
            if not 0.0 <= lo <= hi <= 1.0:
                raise ValueError(f"need 0 <= {a} ({lo}) <= {b} ({hi}) <= 1")
        for name in ("min_duration_s", "gesture_min_duration_s", "min_history_s", "max_gap_s", "forget_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class Debouncer:
    """Turns per-frame label scores into a stable current label and start events.

    Parameters
    ----------
    min_confidence, release_confidence, min_duration_s : float
        See :class:`RecognizerConfig`.
    """

    def __init__(self, min_confidence: float, release_confidence: float, min_duration_s: float):
        self.min_confidence = min_confidence
        self.release_confidence = release_confidence
        self.min_duration_s = min_duration_s
        self.current: str = ""
        self.confidence: float = 0.0
        self._pending: str = ""
        self._since: float = 0.0

    def step(self, scores: dict[str, float], stamp: float) -> bool:
        """Feed one frame's scores (label -> confidence; absent = 0); True when a new label became current."""
        if self.current:
            self.confidence = float(scores.get(self.current, 0.0))
            if self.confidence < self.release_confidence:
                self.current, self.confidence = "", 0.0
        top = max(scores, key=scores.get) if scores else ""
        if not top or top == self.current or scores[top] < self.min_confidence:
            self._pending = ""
            return False
        if top != self._pending:
            self._pending, self._since = top, stamp
        if stamp - self._since >= self.min_duration_s - 1e-9:  # stamps are floats: 1.2 - 0.9 < 0.3
            self.current, self.confidence, self._pending = top, float(scores[top]), ""
            return True
        return False


@dataclass
class _PersonState:
    times: deque = field(default_factory=deque)
    poses: deque = field(default_factory=deque)
    last_seen: float = 0.0
    gesture: Debouncer | None = None
    action: Debouncer | None = None
    rays: dict = field(default_factory=dict)


class ActionRecognizer:
    """Actions and gestures of tracked people (see the module docstring).

    Parameters
    ----------
    config : RecognizerConfig, dict or None
        None = defaults.
    model : ActionClassifier, optional
        Use this model instead of loading ``config.model_path``.

    Raises
    ------
    FileNotFoundError, ModelFormatError
        When the classifier is enabled and its model cannot be loaded (another layout, version, ...).
    """

    def __init__(self, config: RecognizerConfig | dict | None = None, model: ActionClassifier | None = None):
        if isinstance(config, RecognizerConfig):
            config.validate()
            self.config = config
        else:
            self.config = RecognizerConfig.from_dict(config)
        self.model: ActionClassifier | None = None
        if self.config.classifier:
            self.model = model if model is not None else ActionClassifier.load(
                Path(self.config.model_path) if self.config.model_path else default_model_path())
        self._people: dict[int, _PersonState] = {}
        # a model calibrated on held-out takes says how confident it must be to be right: never report below that
        calibrated = float((self.model.provenance if self.model else {}).get("calibrated_min_confidence", 0.0))
        self._action_min_confidence = max(self.config.min_confidence, calibrated)
        keep = WAVE_WINDOW_S if self.model is None else max(WAVE_WINDOW_S, self.model.window_s)
        self._history_s = keep + 0.2

    @property
    def labels(self) -> tuple[str, ...]:
        """Classifier labels (empty without a classifier)."""
        return self.model.labels if self.model is not None else ()

    def reset(self) -> None:
        """Forget every person."""
        self._people.clear()

    def _state(self, tid: int) -> _PersonState:
        st = self._people.get(tid)
        if st is None:
            c = self.config
            st = _PersonState(gesture=Debouncer(c.gesture_min_confidence, c.gesture_release_confidence,
                                                c.gesture_min_duration_s),
                              action=Debouncer(self._action_min_confidence, c.release_confidence,
                                               c.min_duration_s))
            self._people[tid] = st
        return st

    def update(self, tracks: list[Any], stamp: float) -> tuple[dict[int, tuple[str, float]], list[ActionEventData]]:
        """Process one frame.

        Parameters
        ----------
        tracks : list of Track-like
            Objects with ``id`` (int, > 0 once confirmed), ``pose (16, 3)`` (metres, camera frame) and optionally
            ``misses`` (frames since the last match; predicted-only poses are not added to the history).
        stamp : float
            Frame time (s).

        Returns
        -------
        labels : dict of int -> (str, float)
            Current label ("" when none) and confidence for every confirmed track given.
        events : list of ActionEventData
            Actions / gestures that started on this frame.
        """
        stamp = float(stamp)
        c = self.config
        labels: dict[int, tuple[str, float]] = {}
        events: list[ActionEventData] = []
        seen: list[int] = []
        for tr in tracks:
            tid = int(getattr(tr, "id", 0))
            if tid <= 0:
                continue
            st = self._state(tid)
            seen.append(tid)
            pose = np.asarray(tr.pose, dtype=np.float64)
            if int(getattr(tr, "misses", 0)) == 0 and pose.shape == (16, 3):
                if st.times and (stamp - st.times[-1] > c.max_gap_s or stamp <= st.times[-1]):
                    st.times.clear()  # a gap, or time went backwards (playback restart): start afresh
                    st.poses.clear()
                st.times.append(stamp)
                st.poses.append(pose.copy())
                st.last_seen = stamp
                while st.times and st.times[0] < stamp - self._history_s:
                    st.times.popleft()
                    st.poses.popleft()
        # classifier: all people in one batch
        action_scores = self._classify(seen, stamp) if self.model is not None else {}
        for tid in seen:
            st = self._people[tid]
            g_scores: dict[str, float] = {}
            st.rays = {}
            if c.gestures and len(st.times) >= 3:
                for g in detect_gestures(np.fromiter(st.times, float), np.stack(st.poses)):
                    if g.confidence > g_scores.get(g.label, 0.0):
                        g_scores[g.label] = g.confidence
                        st.rays[g.label] = (g.ray_origin, g.ray_direction)
            if st.gesture.step(g_scores, stamp):
                origin, direction = st.rays.get(st.gesture.current, (None, None))
                events.append(ActionEventData(tid, st.gesture.current, st.gesture.confidence, stamp, origin,
                                              direction))
            scores = action_scores.get(tid, {})
            if st.action.step(scores, stamp) and st.action.current not in c.quiet_labels:
                events.append(ActionEventData(tid, st.action.current, st.action.confidence, stamp))
            if st.gesture.current:
                labels[tid] = (st.gesture.current, st.gesture.confidence)
            elif st.action.current:
                labels[tid] = (st.action.current, st.action.confidence)
            else:
                labels[tid] = ("", 0.0)
        for tid in [t for t, st in self._people.items() if stamp - st.last_seen > c.forget_s]:
            del self._people[tid]
        return labels, events

    def _classify(self, ids: list[int], stamp: float) -> dict[int, dict[str, float]]:
        m, c = self.model, self.config
        batch, who = [], []
        for tid in ids:
            st = self._people[tid]
            if len(st.times) < 2 or st.times[-1] - st.times[0] < c.min_history_s:
                continue
            times = np.fromiter(st.times, float)
            poses = np.stack(st.poses)
            win = resample_track(times, poses, times[-1], m.window_s, m.window_frames)
            finite = np.isfinite(win).all(axis=2)
            if finite.mean() < c.min_valid_fraction or not finite[:, [PELVIS, NECK]].any(axis=0).all():
                continue
            batch.append(win)
            who.append(tid)
        if not batch:
            return {}
        feats, keep = windows_to_features(np.stack(batch), m.dt)
        if not keep.any():
            return {}
        prob = m.predict_proba(feats)
        kept = [tid for tid, k in zip(who, keep, strict=True) if k]
        return {tid: dict(zip(m.labels, map(float, p), strict=True)) for tid, p in zip(kept, prob, strict=True)}
