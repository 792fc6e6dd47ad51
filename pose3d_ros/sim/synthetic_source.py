"""A synthetic RGB-D source (not a default): a static room with a flat box 'person' and exact depth.

Used only where no real footage is at hand; the no-camera fallback prefers playback of the embedded real footage.
"""

from __future__ import annotations

import time

import numpy as np

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.sources.base import RGBDFrame, Source

__all__ = ["SyntheticSource"]


class SyntheticSource(Source):
    """Deterministic frames: gradient background at 3 m, a moving rectangle at 2 m (depth in mm)."""

    name = "synthetic"
    has_depth = True

    def __init__(self, width: int = 640, height: int = 480, rate: float = 30.0, seed: int = 0) -> None:
        super().__init__()
        if width <= 0 or height <= 0 or rate < 0:
            raise ValueError(f"width/height must be > 0 and rate >= 0, got {width}/{height}/{rate}")
        self.width, self.height, self.rate = int(width), int(height), float(rate)
        self._rng = np.random.default_rng(seed)
        self._next = 0.0

    def _open(self) -> None:
        self._next = 0.0

    def _close(self) -> None:
        pass

    def _calibration(self) -> PinholeCamera:
        return PinholeCamera.default(self.width, self.height)

    def _read(self, timeout: float) -> RGBDFrame:
        if self.rate > 0:
            now = time.monotonic()
            if self._next > now:
                time.sleep(self._next - now)
            self._next = max(now, self._next) + 1.0 / self.rate
        h, w = self.height, self.width
        color = np.empty((h, w, 3), np.uint8)
        color[...] = np.linspace(40, 200, w, dtype=np.uint8)[None, :, None]
        depth = np.full((h, w), 3000, np.uint16)
        x0 = int((self._index * 4) % max(w - w // 6, 1))
        color[h // 4 : 3 * h // 4, x0 : x0 + w // 6] = (200, 120, 90)
        depth[h // 4 : 3 * h // 4, x0 : x0 + w // 6] = 2000
        return RGBDFrame(color=color, depth_mm=depth, camera=self.camera, stamp=time.time())
