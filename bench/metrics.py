"""Accuracy metrics shared by the benchmarks (batched numpy, one job per function)."""

from __future__ import annotations

import numpy as np

__all__ = ["mpjpe", "n_mpjpe", "pa_mpjpe", "pa_error", "root_relative_error", "match_people"]


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-pose mean joint error after aligning the pelvis (joint 0); ``(N, J, 3)`` each -> ``(N,)``."""
    return np.linalg.norm((pred - pred[:, :1]) - (gt - gt[:, :1]), axis=-1).mean(1)


def n_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-pose mean joint error after aligning the pelvis and the best scale of ``pred`` (N-MPJPE: monocular scale
    is not observable); ``(N, J, 3)`` each -> ``(N,)``."""
    p, g = pred - pred[:, :1], gt - gt[:, :1]
    s = (p * g).sum((1, 2)) / np.maximum((p * p).sum((1, 2)), 1e-12)
    return np.linalg.norm(s[:, None, None] * p - g, axis=-1).mean(1)


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-pose mean joint error after the best similarity transform of ``pred`` onto ``gt``; ``(N, J, 3)`` each
    -> ``(N,)`` (PA-MPJPE, VideoPose3D's ``p_mpjpe``)."""
    mp, mg = pred.mean(1, keepdims=True), gt.mean(1, keepdims=True)
    p, g = pred - mp, gt - mg
    u, s, vt = np.linalg.svd(np.einsum("nji,njk->nik", p, g))
    sign = np.sign(np.linalg.det(np.einsum("nij,njk->nik", u, vt)))
    s[:, -1] *= sign
    u[:, :, -1] *= sign[:, None]
    rot = np.einsum("nij,njk->nik", u, vt)
    scale = s.sum(1) / np.maximum((p**2).sum((1, 2)), 1e-12)
    aligned = scale[:, None, None] * np.einsum("nji,nik->njk", p, rot) + mg
    return np.linalg.norm(aligned - gt, axis=-1).mean(1)


def pa_error(pred: np.ndarray, ref: np.ndarray) -> float:
    """:func:`pa_mpjpe` of one pose, ``(J, 3)`` each."""
    return float(pa_mpjpe(np.asarray(pred)[None], np.asarray(ref)[None])[0])


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
