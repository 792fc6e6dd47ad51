"""Accuracy metrics shared by the benchmarks (batched numpy, one job per function)."""

from __future__ import annotations

import numpy as np

__all__ = ["procrustes_align", "pa_error", "root_relative_error", "match_people"]


def procrustes_align(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``pred`` (J, 3) moved onto ``ref`` (J, 3) by the best similarity transform (rotation, scale, translation)."""
    mp, mr = pred.mean(0), ref.mean(0)
    xp, xr = pred - mp, ref - mr
    u, s, vt = np.linalg.svd(xp.T @ xr)
    d = np.sign(np.linalg.det(u @ vt))
    s[-1] *= d
    u[:, -1] *= d
    scale = s.sum() / max((xp**2).sum(), 1e-12)
    return scale * xp @ (u @ vt) + mr


def pa_error(pred: np.ndarray, ref: np.ndarray) -> float:
    """PA-MPJPE: mean joint distance after :func:`procrustes_align` (same units as the input)."""
    return float(np.linalg.norm(procrustes_align(pred, ref) - ref, axis=1).mean())


def root_relative_error(pred: np.ndarray, ref: np.ndarray, root: int = 0) -> float:
    """MPJPE after moving both roots (joint ``root``) to the origin."""
    return float(np.linalg.norm((pred - pred[root]) - (ref - ref[root]), axis=1).mean())


def match_people(ref_px: list[np.ndarray], pred_px: list[np.ndarray], max_frac: float = 0.5) -> list[int | None]:
    """For each reference person ((J, 2) pixels, NaN = unknown), the index of the predicted person nearest in
    median joint distance, if that distance is under ``max_frac`` of the reference's height; each prediction is
    used once (greedy, nearest pairs first)."""
    pairs = []
    for i, r in enumerate(ref_px):
        ok_r = np.isfinite(r).all(axis=1)
        if ok_r.sum() < 2:
            continue
        height = float(np.ptp(r[ok_r, 1])) or 1.0
        for k, p in enumerate(pred_px):
            ok = ok_r & np.isfinite(p).all(axis=1)
            if ok.sum() >= 2:
                d = float(np.median(np.linalg.norm(r[ok] - p[ok], axis=1)))
                if d < max_frac * height:
                    pairs.append((d, i, k))
    out: list[int | None] = [None] * len(ref_px)
    used: set[int] = set()
    for _, i, k in sorted(pairs):
        if out[i] is None and k not in used:
            out[i] = k
            used.add(k)
    return out
