"""Belief-map fusion: combine the CNN's belief maps with the projected pose belief maps of the 3D prior.

Default is the weighted *arithmetic* mean ``(1 - w) * cnn + w * projected``, the fusion of the seed paper's
"Lifting from the Deep" (a per-joint weighted sum whose weights are learned). It degrades gracefully: where the
3D prior projects a joint to the wrong place, the CNN's own peak survives at ``(1 - w)`` of its height, so the
next stage can still recover it. The *geometric* mean ``cnn^(1-w) * projected^w`` (a product of experts) is sharper
when both agree but erases a correct CNN peak whenever the projection disagrees; it is offered for experiments.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fuse_belief_maps", "FUSION_MODES"]

FUSION_MODES = ("arithmetic", "geometric")
_GEOMETRIC_EPS = 1e-6  # keeps zeros of one map from annihilating the other where both are tiny


def fuse_belief_maps(
    cnn: np.ndarray,
    projected: np.ndarray,
    weight: float | np.ndarray,
    mode: str = "arithmetic",
) -> np.ndarray:
    """Fuse CNN belief maps with projected pose belief maps.

    Parameters
    ----------
    cnn : (..., J, H, W) array_like
        CNN belief maps (non-negative).
    projected : (..., J, H, W) array_like
        Maps rendered from the lifted 3D pose (:func:`pose3d_ros.core.belief_maps.render_belief_maps`).
    weight : float or (J,) array_like
        Weight of the projected maps, in [0, 1], global or per joint. ``0`` returns the CNN maps unchanged,
        ``1`` the projected maps.
    mode : {"arithmetic", "geometric"}, optional
        See the module docstring.

    Returns
    -------
    (..., J, H, W) float32 ndarray

    Raises
    ------
    ValueError
        On shape mismatch, weights outside [0, 1] or of the wrong length, non-finite maps, or an unknown mode.
    """
    a = np.asarray(cnn, dtype=np.float32)
    b = np.asarray(projected, dtype=np.float32)
    if a.ndim < 3:
        raise ValueError(f"belief maps must have shape (..., J, H, W), got {a.shape}")
    if a.shape != b.shape:
        raise ValueError(f"cnn and projected maps differ in shape ({a.shape} vs {b.shape})")
    if mode not in FUSION_MODES:
        raise ValueError(f"unknown fusion mode {mode!r}; expected one of {FUSION_MODES}")
    wt = np.asarray(weight, dtype=np.float32)
    if wt.ndim == 1:
        if wt.shape[0] != a.shape[-3]:
            raise ValueError(f"per-joint weight has {wt.shape[0]} entries for {a.shape[-3]} joints")
        wt = wt[:, None, None]
    elif wt.ndim != 0:
        raise ValueError(f"weight must be a scalar or (J,), got shape {wt.shape}")
    if not (np.isfinite(wt).all() and (wt >= 0).all() and (wt <= 1).all()):
        raise ValueError(f"weight must be in [0, 1], got {np.asarray(weight).tolist()}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("belief maps contain NaN or inf")
    if mode == "arithmetic":
        out = (1.0 - wt) * a + wt * b
    else:
        eps = np.float32(_GEOMETRIC_EPS)
        out = np.exp((1.0 - wt) * np.log(np.maximum(a, 0) + eps) + wt * np.log(np.maximum(b, 0) + eps)) - eps
        out = np.maximum(out, 0)
    # Exact identities at the ends (no rounding): weight 0 -> CNN maps, weight 1 -> projected maps.
    out = np.where(wt == 0, a, np.where(wt == 1, b, out))
    return out.astype(np.float32, copy=False)
