"""Whether a decoded depth frame may be used with its colour frame: registered size, units, plausible range.

The inference node decodes the depth message, then asks :func:`usable_depth`; every reason to fall back to RGB-only
comes back as a :class:`DepthIssue` (kind for counting, one readable line) instead of being logged here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .depth_check import check_depth_units

__all__ = ["DepthIssue", "usable_depth"]


@dataclass(frozen=True)
class DepthIssue:
    """A problem with one depth frame (``key`` groups repeats)."""

    key: str
    message: str


def usable_depth(depth_m: np.ndarray, encoding: str, color_size: tuple[int, int], min_m: float, max_m: float,
                 convert_mm: bool = False) -> tuple[np.ndarray | None, list[DepthIssue]]:
    """The depth (metres, NaN = none, outside ``[min_m, max_m]`` blanked) to process with, or None, and why.

    Parameters
    ----------
    depth_m : (H, W) float array
        Decoded depth, metres (:func:`pose3d_ros.core.image_encodings.decode_depth`).
    encoding : str
        The message's encoding (the likely cause of wrong units depends on it).
    color_size : (int, int)
        Colour image (height, width): registered depth has the same size.
    min_m, max_m, convert_mm
        See :func:`pose3d_ros.core.depth_check.check_depth_units`.
    """
    h, w = color_size
    if depth_m.shape != (h, w):
        return None, [DepthIssue("depth_size", f"depth {depth_m.shape[1]}x{depth_m.shape[0]} does not match "
                                 f"color {w}x{h} (not registered?): processing RGB-only")]
    check = check_depth_units(depth_m, encoding, min_m, max_m, convert_mm)
    issues = [DepthIssue(f"depth:{check.cause}", check.problem)] if check.problem else []
    return (check.depth_m if check.usable else None), issues
