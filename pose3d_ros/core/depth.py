"""Depth at the joints: robust per-joint sampling of a depth image, and where the joint centre lies behind it.

A depth camera sees the body *surface*: the depth at a joint's pixel is in front of the joint centre by roughly the
limb radius (:data:`JOINT_SURFACE_DEPTH_M`), which :func:`pose3d_ros.core.rgbd_lift.lift_with_depth` adds back.
What a reading is worth is :mod:`pose3d_ros.core.depth_noise`; a Kinect v1 simulator for tests and benchmarks is
:mod:`pose3d_ros.sim.kinect_depth`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["JOINT_SURFACE_DEPTH_M", "sample_joint_depth"]

#: Approximate distance (metres) from the front body surface to the joint centre, per pose3d16 joint (adult; the
#: torso joints sit deep inside the trunk, limb joints about one limb radius behind the skin).
JOINT_SURFACE_DEPTH_M = np.array(
    [0.10, 0.10, 0.07, 0.09, 0.05, 0.04, 0.03, 0.05, 0.04, 0.03, 0.07, 0.05, 0.04, 0.07, 0.05, 0.04]
)
JOINT_SURFACE_DEPTH_M.setflags(write=False)

def _check_depth(depth_m: np.ndarray) -> np.ndarray:
    d = np.asarray(depth_m)
    if d.ndim != 2:
        raise ValueError(f"depth_m must be a 2-D (H, W) image in metres, got shape {d.shape}")
    if not np.issubdtype(d.dtype, np.floating):
        raise ValueError(f"depth_m must be float metres (use depth_to_metres for 16UC1), got dtype {d.dtype}")
    return d


def sample_joint_depth(
    depth_m: np.ndarray,
    uv: np.ndarray,
    window: int = 5,
    band_m: float = 0.10,
    min_fraction: float = 0.2,
) -> np.ndarray:
    """Robust depth (metres) at each joint pixel.

    Takes the valid pixels (finite, > 0) in a ``window`` x ``window`` square around each joint, splits their
    sorted depths into clusters wherever consecutive values jump by more than ``band_m`` (a silhouette edge: the
    background is far behind the person), and returns the median of the nearest cluster holding at least
    ``min_fraction`` of the valid pixels (so isolated flying pixels in front do not win).

    Parameters
    ----------
    depth_m : (H, W) float array_like
        Depth in metres, NaN/0/negative = invalid (see :func:`pose3d_ros.core.camera.depth_to_metres`).
    uv : (..., 2) array_like
        Joint pixels (column, row). NaN pixels give NaN.
    window : int, optional
        Side of the square window in pixels (odd; even values are rounded up). 1 samples the pixel only.
    band_m : float, optional
        Depth gap (m) that separates two surfaces.
    min_fraction : float, optional
        Minimal share of the valid window pixels a cluster needs, in (0, 1].

    Returns
    -------
    (...) float64 ndarray
        Depth per joint; NaN where the pixel is unknown, outside the image, or the window has no valid depth.

    Raises
    ------
    ValueError
        On bad shapes, a non-float depth image, ``window < 1``, ``band_m <= 0`` or ``min_fraction`` outside (0, 1].
    """
    d = _check_depth(depth_m)
    q = np.asarray(uv, dtype=np.float64)
    if q.ndim < 1 or q.shape[-1] != 2:
        raise ValueError(f"uv must have shape (..., 2), got {q.shape}")
    if int(window) < 1:
        raise ValueError(f"window must be >= 1 pixel, got {window}")
    if not band_m > 0:
        raise ValueError(f"band_m must be > 0, got {band_m}")
    if not 0 < min_fraction <= 1:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    lead = q.shape[:-1]
    q = q.reshape(-1, 2)
    h, w = d.shape
    r = int(window) // 2
    offsets = np.arange(-r, r + 1)
    # Nearest pixel centre; unknown / outside joints are parked at (0, 0) and masked below.
    with np.errstate(invalid="ignore"):
        col = np.rint(q[:, 0])
        row = np.rint(q[:, 1])
        inside = np.isfinite(q).all(axis=1) & (col >= 0) & (col < w) & (row >= 0) & (row < h)
    col = np.where(inside, col, 0).astype(np.int64)
    row = np.where(inside, row, 0).astype(np.int64)
    rr = row[:, None, None] + offsets[None, :, None]
    cc = col[:, None, None] + offsets[None, None, :]
    in_img = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    vals = d[np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)].astype(np.float64).reshape(q.shape[0], -1)
    ok = in_img.reshape(q.shape[0], -1) & np.isfinite(vals) & (vals > 0) & inside[:, None]
    vals = np.where(ok, vals, np.inf)
    vals.sort(axis=1)  # invalid (inf) last
    valid = np.isfinite(vals)
    n_valid = valid.sum(axis=1)
    with np.errstate(invalid="ignore"):
        jump = np.diff(vals, axis=1) > band_m
    cluster = np.concatenate([np.zeros((vals.shape[0], 1), dtype=np.int64), np.cumsum(jump, axis=1)], axis=1)
    same = (cluster[:, :, None] == cluster[:, None, :]) & valid[:, None, :]
    size = same.sum(axis=2)
    need = np.maximum(1, np.ceil(min_fraction * n_valid - 1e-9))
    eligible = valid & (size >= need[:, None])
    first = np.argmax(eligible, axis=1)
    chosen = cluster[np.arange(vals.shape[0]), first]
    # Values are sorted, so a cluster is a contiguous run: its median comes from two order statistics.
    rows = np.arange(vals.shape[0])
    start = np.argmax(cluster == chosen[:, None], axis=1)
    count = size[rows, first]
    lo = vals[rows, np.minimum(start + (count - 1) // 2, vals.shape[1] - 1)]
    hi = vals[rows, np.minimum(start + count // 2, vals.shape[1] - 1)]
    out = np.where(eligible.any(axis=1), 0.5 * (lo + hi), np.nan)
    return out.reshape(lead)
