"""Temporal continuity for the lift: each person's pose in the previous frame, found by 2D proximity.

A single image cannot tell a pose from its depth-mirrored twin; a person's previous pose can
(:meth:`pose3d_ros.core.lifting.PoseLifter.lift`, ``previous_3d``). The front ends do not carry identities into
the lift (ids come from the tracker, after it), so the previous pose is matched here by where the person's joints
were in the image: the previous person whose joints are nearest (median distance under ``max_frac`` of the
person's height), each previous person used once.
"""

from __future__ import annotations

import numpy as np


class PreviousPoses:
    """The last frame's people (pose3d16 pixels + root-relative 3D), and the match of a new frame's people."""

    def __init__(self, max_frac: float = 0.25) -> None:
        if not 0 < max_frac:
            raise ValueError(f"max_frac must be > 0, got {max_frac}")
        self.max_frac = float(max_frac)
        self._pixels = np.zeros((0, 16, 2))
        self._poses = np.zeros((0, 16, 3))

    def reset(self) -> None:
        """Forget the last frame (a time jump, a new stream)."""
        self._pixels, self._poses = np.zeros((0, 16, 2)), np.zeros((0, 16, 3))

    def remember(self, pixels: np.ndarray, poses: np.ndarray) -> None:
        """Store this frame's people: ``pixels`` (P, 16, 2) NaN = unseen, ``poses`` (P, 16, 3) camera frame."""
        pixels, poses = np.asarray(pixels, dtype=np.float64), np.asarray(poses, dtype=np.float64)
        ok = np.isfinite(poses).all((1, 2))
        self._pixels, self._poses = pixels[ok], poses[ok] - poses[ok][:, :1]

    def match(self, pixels: np.ndarray) -> np.ndarray | None:
        """Root-relative previous pose for each of P new people, (P, 16, 3), NaN where none; None if no one."""
        pixels = np.asarray(pixels, dtype=np.float64)
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
                used_i.add(i)
                used_k.add(k)
        return out if used_i else None
