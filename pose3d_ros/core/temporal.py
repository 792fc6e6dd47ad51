"""Temporal continuity for the lift: each person's pose in the previous frame, found by 2D proximity.

A single image cannot tell a pose from its depth-mirrored twin; a person's previous pose can
(:meth:`pose3d_ros.core.lifting.PoseLifter.lift`, ``previous_3d``). With depth, each person's bone lengths are also
estimated over the frames (an exponential average of the bones of depth-measured poses) and handed to the next
lift (``bone_lengths``), so a body the prior has not seen is held to its own bones, not the prior's mean.

The front ends do not carry identities into
the lift (ids come from the tracker, after it), so the previous pose is matched here by where the person's joints
were in the image: the previous person whose joints are nearest (median distance under ``max_frac`` of the
person's height), each previous person used once.
"""

from __future__ import annotations

import numpy as np

from pose3d_ros.core.skeleton import POSE3D16, bone_lengths

_MIN_MEASURED = 10  # joints with depth needed before a pose's bones count as a measurement of the body
_PARENT, _CHILD = np.array(POSE3D16.bones).T  # the ends of each bone, in bone_lengths order
#: a bone estimate stays within these factors of the prior's mean bone, the body within BODY_RANGE of its size:
#: the lift that produced the measured bones also used the estimate, so without bounds an error feeds itself
#: (a person cut off at the image edge grew from 3.9 to 7.7 m of summed bones over 20 frames of one image)
BONE_RANGE = (0.6, 1.5)
BODY_RANGE = (0.75, 1.3)


class PreviousPoses:
    """The last frame's people (pose3d16 pixels + root-relative 3D), and the match of a new frame's people."""

    def __init__(self, max_frac: float = 0.25, bone_rate: float = 0.2, mean_bones: np.ndarray | None = None) -> None:
        if not 0 < max_frac:
            raise ValueError(f"max_frac must be > 0, got {max_frac}")
        if not 0 < bone_rate <= 1:
            raise ValueError(f"bone_rate must be in (0, 1], got {bone_rate}")
        self.max_frac = float(max_frac)
        self.bone_rate = float(bone_rate)
        self.mean_bones = None if mean_bones is None else np.asarray(mean_bones, dtype=np.float64).reshape(15)
        self.reset()

    def reset(self) -> None:
        """Forget the last frame (a time jump, a new stream)."""
        self._pixels, self._poses = np.zeros((0, 16, 2)), np.zeros((0, 16, 3))
        self._bones = np.zeros((0, 15))
        self._matched: np.ndarray = np.zeros(0, int)  # previous person of each person of the last match, -1 = new

    def bones(self) -> np.ndarray | None:
        """Bone estimates (P, 15) m of the people of the last :meth:`match`, NaN where unknown; None if none."""
        if len(self._matched) == 0 or (self._matched < 0).all():
            return None
        out = np.full((len(self._matched), 15), np.nan)
        seen = self._matched >= 0
        out[seen] = self._bones[self._matched[seen]]
        return out if np.isfinite(out).any() else None

    def remember(self, pixels: np.ndarray, poses: np.ndarray, measured: np.ndarray | None = None) -> None:
        """Store this frame's people (the ones of the last :meth:`match`, same order): ``pixels`` (P, 16, 2) NaN =
        unseen, ``poses`` (P, 16, 3) camera frame, ``measured`` (P, 16) joints resting on depth."""
        pixels, poses = np.asarray(pixels, dtype=np.float64), np.asarray(poses, dtype=np.float64)
        old = self.bones() if len(self._matched) == len(poses) else None
        bones = np.full((len(poses), 15), np.nan) if old is None else old
        if measured is not None:
            measured = np.asarray(measured, dtype=bool)
            new = measured.sum(1) >= _MIN_MEASURED
            if new.any():
                seen = bone_lengths(poses[new])
                both = measured[new][:, _CHILD] & measured[new][:, _PARENT]  # a bone is measured at both ends
                prev = bones[new]
                avg = np.where(np.isfinite(prev), (1 - self.bone_rate) * prev + self.bone_rate * seen, seen)
                bones[new] = self._bounded(np.where(both, avg, prev))
        ok = np.isfinite(poses).all((1, 2))
        self._pixels, self._poses, self._bones = pixels[ok], poses[ok] - poses[ok][:, :1], bones[ok]
        self._matched = np.zeros(0, int)

    def _bounded(self, bones: np.ndarray) -> np.ndarray:
        """Bone estimates (P, 15) held to BONE_RANGE of the mean bones and BODY_RANGE of the mean body."""
        if self.mean_bones is None:
            return bones
        out = np.clip(bones, BONE_RANGE[0] * self.mean_bones, BONE_RANGE[1] * self.mean_bones)
        known = np.isfinite(out)
        total = np.where(known, out, self.mean_bones).sum(axis=1, keepdims=True)
        body = self.mean_bones.sum()
        scale = np.clip(total, BODY_RANGE[0] * body, BODY_RANGE[1] * body) / total
        return out * scale

    def match(self, pixels: np.ndarray) -> np.ndarray | None:
        """Root-relative previous pose for each of P new people, (P, 16, 3), NaN where none; None if no one.
        The match is kept for :meth:`bones` and :meth:`remember`."""
        pixels = np.asarray(pixels, dtype=np.float64)
        self._matched = np.full(len(pixels), -1)
        if len(self._poses) == 0 or len(pixels) == 0:
            return None
        pairs = []
        for i, cur in enumerate(pixels):
            seen = np.isfinite(cur).all(1)
            if seen.sum() < 3:
                continue
            height = float(np.ptp(cur[seen, 1])) or 1.0
            for k, old in enumerate(self._pixels):
                both = seen & np.isfinite(old).all(1)
                if both.sum() >= 3:
                    d = float(np.median(np.linalg.norm(cur[both] - old[both], axis=1)))
                    if d < self.max_frac * height:
                        pairs.append((d, i, k))
        out = np.full((len(pixels), 16, 3), np.nan)
        used_i, used_k = set(), set()
        for _, i, k in sorted(pairs):
            if i not in used_i and k not in used_k:
                out[i] = self._poses[k]
                self._matched[i] = k
                used_i.add(i)
                used_k.add(k)
        return out if used_i else None
