"""When an RGB-D node should give up waiting for depth and process colour alone.

With ``use_depth`` the node pairs colour, camera_info and depth. A camera without depth, or a depth stream that
died, must degrade to RGB-only instead of stalling; a healthy stream that merely paused must not (the first frame
after the pause would lose its depth). So the decision is made on image stamps, not on wall time: colour is
processed alone only once colour frames spanning ``timeout_s`` of stamps arrived with no depth among them.
"""

from __future__ import annotations

import math

__all__ = ["DepthFallback"]


class DepthFallback:
    """Decide, per colour frame that found no depth partner, whether to process it RGB-only.

    Parameters
    ----------
    timeout_s : float
        Colour stamps without depth spanning at least this long switch to RGB-only (> 0).
    """

    def __init__(self, timeout_s: float = 1.0) -> None:
        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise ValueError(f"depth timeout must be a finite number of seconds > 0, got {timeout_s}")
        self.timeout_s = float(timeout_s)
        self.last_depth: float | None = None
        self.missing_since: float | None = None

    def depth_seen(self, stamp: float) -> None:
        """A depth image with this stamp arrived: depth flows."""
        self.last_depth = stamp if self.last_depth is None else max(self.last_depth, stamp)
        self.missing_since = None

    def rgb_only(self, color_stamp: float, slop_s: float = 0.0) -> bool:
        """True when the colour frame stamped ``color_stamp`` should be processed without depth now.

        False while depth flows (the colour/depth synchroniser handles the frame) and during the first
        ``timeout_s`` of colour stamps without depth (depth may still be on its way).
        """
        if self.last_depth is not None and color_stamp <= self.last_depth + max(slop_s, 0.0):
            return False  # depth for this time exists: the RGB-D set will be complete
        if self.missing_since is None or color_stamp < self.missing_since:
            self.missing_since = color_stamp
        return color_stamp - self.missing_since >= self.timeout_s

    def reset(self) -> None:
        """Forget what was seen (time jumped back)."""
        self.last_depth = None
        self.missing_since = None
