"""Multi-person tracking: persistent ids across frames and temporal smoothing of the 3D skeletons.

Each frame, detections (lifted 3D poses with their 2D joints) are assigned to tracks by the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``) on a cost that mixes

* the 3D distance between the track's root, predicted forward with its velocity (a line fit over the last ~0.4 s of
  matches, capped at ``max_speed_mps``), and the detection's
  root, normalised by ``gate_3d_m`` (grown by ``max_speed_mps`` per second unseen), and
* the mean 2D distance between corresponding joints, normalised by the track's size in pixels (bounding-box
  diagonal) and by ``gate_2d``.

A pair is admissible only inside both gates. New detections open *tentative* tracks; a track is confirmed (and
gets a public id, never reused) after ``min_hits`` consecutive matches; a tentative track dies on its first miss;
a confirmed track survives up to ``max_age`` missed frames *and* ``max_age_s`` seconds, so ids survive short
occlusions. Joints are smoothed per track with a :class:`~pose3d_ros.core.filters.OneEuroFilter`, reset when the
track is re-acquired after an occlusion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from .filters import OneEuroFilter

__all__ = ["Track", "Tracker"]

_INFEASIBLE = 1e6  # cost of a gated-out pair (finite: linear_sum_assignment rejects inf-only rows)
_ROOT = 0  # pelvis in pose3d16
_MISS_PENALTY = 0.2  # added cost per missed frame (up to 5) when assigning
_HISTORY = 12  # matched root positions kept per track for the velocity fit
_MIN_VELOCITY_SPAN_S = 0.15  # shorter histories give no velocity (too noisy)


@dataclass
class Track:
    """One tracked person.

    Attributes
    ----------
    id : int
        Public id (>= 1), assigned on confirmation, never reused; 0 while tentative.
    pose : (J, 3) ndarray
        Smoothed joints (metres, camera frame).
    pixels : (J, 2) ndarray
        Smoothed 2D joints (NaN where unknown).
    conf : (J,) ndarray
        Confidences of the last matched detection.
    age : int
        Frames since the track was created.
    hits : int
        Matched frames in total.
    misses : int
        Consecutive frames without a match (0 when matched this frame).
    detection : int
        Index of the detection matched this frame, -1 when none.
    last_stamp : float
        Time of the last match (s).
    raw_pose : (J, 3) ndarray
        Unsmoothed pose of the last match.
    """

    id: int
    pose: np.ndarray
    pixels: np.ndarray
    conf: np.ndarray
    age: int = 1
    hits: int = 1
    misses: int = 0
    detection: int = -1
    last_stamp: float = 0.0
    raw_pose: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    root_velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))
    _pose_filter: OneEuroFilter | None = field(default=None, repr=False)
    _pixel_filter: OneEuroFilter | None = field(default=None, repr=False)
    _history: list[tuple[float, np.ndarray]] = field(default_factory=list, repr=False)

    @property
    def confirmed(self) -> bool:
        """True once the track has a public id."""
        return self.id > 0

    @property
    def confidence(self) -> float:
        """Mean joint confidence."""
        return float(np.mean(self.conf)) if self.conf.size else 0.0


def _roots(poses: np.ndarray) -> np.ndarray:
    """Root (pelvis) per pose; the mean of the finite joints where the pelvis is NaN."""
    root = poses[:, _ROOT].copy()
    bad = ~np.isfinite(root).all(axis=1)
    if bad.any():
        root[bad] = _nanmean(poses[bad], axis=1)
    return root


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN; NaN where nothing is finite (without numpy's empty-slice warning)."""
    ok = np.isfinite(x)
    n = ok.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, x, 0.0).sum(axis=axis) / np.where(n > 0, n, np.nan)


def _pixel_size(pixels: np.ndarray) -> float:
    """Bounding-box diagonal of the finite 2D joints (pixels), at least 1."""
    ok = np.isfinite(pixels).all(axis=1)
    if ok.sum() < 2:
        return 1.0
    span = pixels[ok].max(axis=0) - pixels[ok].min(axis=0)
    return max(float(np.hypot(*span)), 1.0)


class Tracker:
    """Assign persistent ids to per-frame 3D skeletons and smooth them.

    Parameters
    ----------
    min_hits : int, optional
        Consecutive matches before a track is confirmed (birth hysteresis). >= 1.
    max_age : int, optional
        Missed frames a confirmed track survives (death hysteresis). >= 0.
    max_age_s : float, optional
        Seconds without a match a confirmed track survives; the track dies when either limit is passed.
    gate_3d_m : float, optional
        Largest root distance (m) between prediction and detection for a match, after one frame.
    gate_2d : float, optional
        Largest mean 2D joint distance, as a fraction of the person's pixel size.
    max_speed_mps : float, optional
        Speed (m/s) by which the 3D gate widens per second a track is unseen.
    gate_depth_frac : float, optional
        The 3D gate also widens by this fraction of the detection's distance: a monocular (RGB-only) root depth
        jitters in proportion to it (measured: 0.5 m frame to frame at 4.5 m on the sports2d demo).
    weight_3d, weight_2d : float, optional
        Weights of the two normalised costs.
    min_cutoff, beta, d_cutoff : float, optional
        One-Euro parameters for the 3D joints (Hz, s/m, Hz); 2D joints use ``beta / 100`` (pixels vs metres).

    Raises
    ------
    ValueError
        On out-of-range parameters.
    """

    def __init__(
        self,
        min_hits: int = 2,
        max_age: int = 15,
        max_age_s: float = 1.0,
        gate_3d_m: float = 0.6,
        gate_2d: float = 1.0,
        max_speed_mps: float = 2.0,
        gate_depth_frac: float = 0.1,
        weight_3d: float = 1.0,
        weight_2d: float = 1.0,
        min_cutoff: float = 1.0,
        beta: float = 10.0,
        d_cutoff: float = 1.0,
    ) -> None:
        if int(min_hits) < 1:
            raise ValueError(f"min_hits must be >= 1, got {min_hits}")
        if int(max_age) < 0:
            raise ValueError(f"max_age must be >= 0, got {max_age}")
        for name, value in (
            ("max_age_s", max_age_s), ("gate_3d_m", gate_3d_m), ("gate_2d", gate_2d),
        ):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        for name, value in (("max_speed_mps", max_speed_mps), ("weight_3d", weight_3d), ("weight_2d", weight_2d),
                            ("gate_depth_frac", gate_depth_frac)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
        if weight_3d == 0 and weight_2d == 0:
            raise ValueError("weight_3d and weight_2d cannot both be 0")
        self.min_hits = int(min_hits)
        self.max_age = int(max_age)
        self.max_age_s = float(max_age_s)
        self.gate_3d_m = float(gate_3d_m)
        self.gate_2d = float(gate_2d)
        self.max_speed_mps = float(max_speed_mps)
        self.gate_depth_frac = float(gate_depth_frac)
        self.weight_3d = float(weight_3d)
        self.weight_2d = float(weight_2d)
        self._filter_args = {"min_cutoff": min_cutoff, "beta": beta, "d_cutoff": d_cutoff, "reset_after_s": max_age_s}
        OneEuroFilter(**self._filter_args)  # validate once, now
        self._tracks: list[Track] = []
        self._next_id = 1
        self._last_stamp: float | None = None

    # ------------------------------------------------------------------ public
    @property
    def filter_params(self) -> dict[str, float]:
        """One-Euro parameters of the 3D joints (``min_cutoff``, ``beta``, ``d_cutoff``, ``reset_after_s``)."""
        return dict(self._filter_args)

    @property
    def tracks(self) -> list[Track]:
        """All live tracks (tentative and confirmed, matched or coasting)."""
        return list(self._tracks)

    def reset(self) -> None:
        """Drop all tracks (ids keep counting up: an id is never reused)."""
        self._tracks = []
        self._last_stamp = None

    def update(self, poses: np.ndarray, pixels: np.ndarray, conf: np.ndarray, stamp: float) -> list[Track]:
        """Feed one frame of detections.

        Parameters
        ----------
        poses : (P, J, 3) array_like
            Detected 3D poses (metres). A detection without any finite joint is ignored.
        pixels : (P, J, 2) array_like
            Their 2D joints (NaN = unknown).
        conf : (P, J) array_like
            Joint confidences.
        stamp : float
            Frame time (s), non-decreasing (after a jump back, :meth:`reset` first; ids keep counting).

        Returns
        -------
        list of Track
            Confirmed tracks matched in this frame, in detection order (``track.detection``).

        Raises
        ------
        ValueError
            On inconsistent shapes, a non-finite stamp, or a stamp older than the last frame's.
        """
        p3 = np.asarray(poses, dtype=np.float64)
        p2 = np.asarray(pixels, dtype=np.float64)
        c = np.asarray(conf, dtype=np.float64)
        if p3.ndim != 3 or p3.shape[-1] != 3:
            raise ValueError(f"poses must have shape (P, J, 3), got {p3.shape}")
        n, nj = p3.shape[:2]
        if p2.shape != (n, nj, 2):
            raise ValueError(f"pixels must have shape {(n, nj, 2)} to match poses, got {p2.shape}")
        if c.shape != (n, nj):
            raise ValueError(f"conf must have shape {(n, nj)} to match poses, got {c.shape}")
        t = float(stamp)
        if not math.isfinite(t):
            raise ValueError(f"stamp must be finite, got {stamp}")
        if self._last_stamp is not None and t < self._last_stamp:
            # what a step back means is decided once, by the pipeline's time-jump stage (core/time_jumps.py)
            raise ValueError(f"stamp {t} is older than the last frame's {self._last_stamp}: call reset() first "
                             "(the pipeline does on a time jump)")
        if any(tr.raw_pose.shape[0] != nj for tr in self._tracks):
            self.reset()  # joint layout changed
        self._last_stamp = t

        usable = np.flatnonzero(np.isfinite(p3).any(axis=(1, 2)))
        for tr in self._tracks:
            tr.detection = -1
        matches, unmatched_tracks, unmatched_dets = self._associate(p3[usable], p2[usable], t)

        for ti, di in matches:
            self._update_track(self._tracks[ti], int(usable[di]), p3, p2, c, t)
        for ti in unmatched_tracks:
            tr = self._tracks[ti]
            tr.misses += 1
            tr.age += 1
        for di in unmatched_dets:
            self._tracks.append(self._new_track(int(usable[di]), p3, p2, c, t))

        self._tracks = [tr for tr in self._tracks if self._alive(tr, t)]
        out = [tr for tr in self._tracks if tr.confirmed and tr.detection >= 0]
        out.sort(key=lambda tr: tr.detection)
        return out

    # ------------------------------------------------------------------ internals
    def cost_matrix(self, poses: np.ndarray, pixels: np.ndarray, stamp: float) -> np.ndarray:
        """Association cost (tracks x detections); ``>= 1e6`` where gated out. Exposed for tests and tuning."""
        nt, nd = len(self._tracks), poses.shape[0]
        cost = np.full((nt, nd), _INFEASIBLE)
        if nt == 0 or nd == 0:
            return cost
        tracks = self._tracks
        det_root = _roots(poses)  # (D, 3)
        dt = np.maximum(stamp - np.array([tr.last_stamp for tr in tracks]), 0.0)  # (T,)
        tr_pose = np.stack([tr.pose for tr in tracks])  # (T, J, 3)
        pred = _roots(tr_pose) + np.stack([tr.root_velocity for tr in tracks]) * dt[:, None]
        gate3 = self.gate_3d_m + self.max_speed_mps * np.maximum(dt - 1.0 / 30.0, 0.0)
        gate3 = gate3[:, None] + self.gate_depth_frac * np.abs(det_root[None, :, 2])  # (T, D)
        d3 = np.linalg.norm(det_root[None] - pred[:, None], axis=2)  # (T, D)
        tr_pix = np.stack([tr.pixels for tr in tracks])  # (T, J, 2)
        size = np.array([_pixel_size(px) for px in tr_pix])
        diff = np.linalg.norm(pixels[None] - tr_pix[:, None], axis=3)  # (T, D, J)
        d2 = _nanmean(diff, axis=2) / size[:, None]
        # The 2D gate grows too: the person may have moved in the image while unseen.
        gate2 = self.gate_2d * (1.0 + np.array([tr.misses for tr in tracks], dtype=np.float64))
        c3 = d3 / gate3
        c2 = np.where(np.isfinite(d2), d2 / gate2[:, None], 0.0)  # no common 2D joint: decide on 3D alone
        ok = np.isfinite(d3) & (c3 <= 1.0) & (c2 <= 1.0)
        cost = np.where(ok, self.weight_3d * c3 + self.weight_2d * c2, _INFEASIBLE)
        return cost

    def _associate(
        self, poses: np.ndarray, pixels: np.ndarray, stamp: float
    ) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        cost = self.cost_matrix(poses, pixels, stamp)
        nt, nd = cost.shape
        if nt == 0 or nd == 0:
            return [], list(range(nt)), list(range(nd))
        # Matching cascade as in DeepSORT, softened: recently seen tracks first (a coasting track drifts and must not
        # take a person from the track that saw them last frame), and confirmed before tentative ones.
        bias = np.array(
            [_MISS_PENALTY * min(tr.misses, 5) + (0.0 if tr.confirmed else 0.05) for tr in self._tracks]
        )[:, None]
        rows, cols = linear_sum_assignment(cost + bias)
        matches = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] < _INFEASIBLE]
        mt = {r for r, _ in matches}
        md = {c for _, c in matches}
        return matches, [i for i in range(nt) if i not in mt], [j for j in range(nd) if j not in md]

    def _new_track(self, d: int, p3: np.ndarray, p2: np.ndarray, c: np.ndarray, t: float) -> Track:
        tr = Track(
            id=0, pose=p3[d].copy(), pixels=p2[d].copy(), conf=c[d].copy(), detection=d, last_stamp=t,
            raw_pose=p3[d].copy(),
        )
        self._make_filters(tr)
        root = _roots(p3[d][None])[0]
        if np.isfinite(root).all():
            tr._history.append((t, root))
        tr.pose = tr._pose_filter(p3[d], t)
        tr.pixels = tr._pixel_filter(p2[d], t)
        if self.min_hits <= 1:
            self._confirm(tr)
        return tr

    def _update_track(self, tr: Track, d: int, p3: np.ndarray, p2: np.ndarray, c: np.ndarray, t: float) -> None:
        if tr._pose_filter is None or tr._pixel_filter is None:
            self._make_filters(tr)
        elif tr.misses > 0:
            # Re-acquired after an occlusion: the old motion state is stale.
            tr._pose_filter.reset()
            tr._pixel_filter.reset()
            tr.root_velocity = np.zeros(3)
            tr._history.clear()
        tr.pose = tr._pose_filter(p3[d], t)
        # A joint NaN in this detection keeps its last smoothed value: published poses stay finite.
        tr.pose = np.where(np.isfinite(tr.pose), tr.pose, tr._pose_filter.value)
        pix = tr._pixel_filter(p2[d], t)
        tr.pixels = pix
        tr.conf = c[d].copy()
        tr.raw_pose = p3[d].copy()
        root = _roots(p3[d][None])[0]
        if np.isfinite(root).all():
            tr._history.append((t, root))
            del tr._history[:-_HISTORY]
        tr.root_velocity = self._velocity(tr._history)
        tr.last_stamp = t
        tr.detection = d
        tr.hits += 1
        tr.age += 1
        tr.misses = 0
        if not tr.confirmed and tr.hits >= self.min_hits:
            self._confirm(tr)

    def _velocity(self, history: list[tuple[float, np.ndarray]]) -> np.ndarray:
        """Least-squares slope of the raw root over the recent matches, capped at ``max_speed_mps``.

        Frame-to-frame differences of lifted roots are noise (cm over 33 ms = m/s), and a bad velocity sends an
        occluded track's prediction astray; a line fit over ~0.4 s averages it out."""
        if len(history) < 3:
            return np.zeros(3)
        ts = np.array([h[0] for h in history])
        if ts[-1] - ts[0] < _MIN_VELOCITY_SPAN_S:
            return np.zeros(3)
        xs = np.stack([h[1] for h in history])
        tc = ts - ts.mean()
        v = (tc[:, None] * (xs - xs.mean(axis=0))).sum(axis=0) / float(tc @ tc)
        speed = float(np.linalg.norm(v))
        return v if speed <= self.max_speed_mps else v * (self.max_speed_mps / speed)

    def _make_filters(self, tr: Track) -> None:
        tr._pose_filter = OneEuroFilter(**self._filter_args)
        tr._pixel_filter = OneEuroFilter(**dict(self._filter_args, beta=self._filter_args["beta"] / 100.0))

    def _confirm(self, tr: Track) -> None:
        tr.id = self._next_id
        self._next_id += 1

    def _alive(self, tr: Track, t: float) -> bool:
        if tr.misses == 0:
            return True
        if not tr.confirmed:
            return False
        return tr.misses <= self.max_age and (t - tr.last_stamp) <= self.max_age_s
