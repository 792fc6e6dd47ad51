"""Belief maps: Gaussian rendering of 2D joints (the "projected pose belief maps" of the seed paper) and decoding
of maps back to sub-pixel joint positions with confidences.

Coordinates: map pixel ``(i, j)`` (row, column) has its centre at image pixel ``(j * stride + offset,
i * stride + offset)`` with ``offset = (stride - 1) / 2`` (the pixel-centre convention of ``cv2.resize``), so
``stride=1`` means the map *is* the image grid.
"""

from __future__ import annotations

import numpy as np

__all__ = ["render_belief_maps", "decode_belief_maps"]

#: Smallest map value treated as a detection by :func:`decode_belief_maps` (peaks at or below it give NaN).
MIN_PEAK = 1e-6


def _check_stride(stride: float) -> float:
    s = float(stride)
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"stride must be finite and > 0, got {stride}")
    return s


def render_belief_maps(
    points: np.ndarray,
    conf: np.ndarray | None,
    shape: tuple[int, int],
    sigma: float,
    stride: float = 1.0,
) -> np.ndarray:
    """Render one Gaussian belief map per joint.

    ``map[j] = conf[j] * exp(-|x - p_j|^2 / (2 sigma^2))``, evaluated at map pixel centres, so the peak value is
    the joint's confidence. Joints with NaN/inf coordinates or ``conf <= 0`` get an all-zero map.

    Parameters
    ----------
    points : (..., J, 2) array_like
        Joint positions ``(u, v)`` in image pixels.
    conf : (..., J) array_like or None
        Confidences, clipped to [0, 1]; None = 1.
    shape : (int, int)
        Map size ``(H, W)``.
    sigma : float
        Gaussian standard deviation in image pixels (> 0).
    stride : float, optional
        Image pixels per map pixel.

    Returns
    -------
    (..., J, H, W) float32 ndarray

    Raises
    ------
    ValueError
        On bad shapes, ``sigma <= 0``, ``stride <= 0`` or a non-positive map size.

    Examples
    --------
    >>> m = render_belief_maps(np.array([[2.0, 1.0]]), None, (3, 5), sigma=1.0)
    >>> m.shape, float(m[0, 1, 2])
    ((1, 3, 5), 1.0)
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim < 2 or p.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., J, 2), got {p.shape}")
    try:
        h, w = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (H, W), got {shape!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"map shape must be positive, got {(h, w)}")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be finite and > 0, got {sigma}")
    s = _check_stride(stride)
    if conf is None:
        c = np.ones(p.shape[:-1])
    else:
        c = np.asarray(conf, dtype=np.float64)
        if c.shape != p.shape[:-1]:
            raise ValueError(f"conf must have shape {p.shape[:-1]} to match points {p.shape}, got {c.shape}")
    ok = np.isfinite(p).all(axis=-1) & np.isfinite(c) & (c > 0)
    c = np.where(ok, np.clip(c, 0.0, 1.0), 0.0)
    p = np.where(ok[..., None], p, 0.0)
    offset = (s - 1.0) / 2.0
    xs = np.arange(w) * s + offset
    ys = np.arange(h) * s + offset
    inv = -0.5 / (float(sigma) ** 2)
    # Separable Gaussian: (..., J, H, 1) * (..., J, 1, W); float32 keeps memory and the CNN's dtype.
    gx = np.exp(inv * (xs - p[..., 0:1]) ** 2).astype(np.float32)
    gy = (np.exp(inv * (ys - p[..., 1:2]) ** 2) * c[..., None]).astype(np.float32)
    return gy[..., :, None] * gx[..., None, :]


def _subpixel_offset(left: np.ndarray, centre: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex of the parabola through three samples at -1, 0, +1, fitted to log values when all are positive
    (exact for a Gaussian peak), else to the values; offset clipped to [-0.5, 0.5].

    Returns the offset and the log-gain of the peak height at the vertex (0 where the fit was not on logs)."""
    tiny = np.finfo(np.float64).tiny
    use_log = (left > 0) & (centre > 0) & (right > 0)
    l_ = np.where(use_log, np.log(np.maximum(left, tiny)), left)
    c_ = np.where(use_log, np.log(np.maximum(centre, tiny)), centre)
    r_ = np.where(use_log, np.log(np.maximum(right, tiny)), right)
    denom = l_ - 2.0 * c_ + r_
    curved = denom < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.where(curved, 0.5 * (l_ - r_) / denom, 0.0)
    off = np.clip(np.nan_to_num(off), -0.5, 0.5)
    # Height of the fitted parabola at the vertex above the centre sample: -denom * off^2 / 2.
    gain = np.where(curved & use_log, -0.5 * denom * off * off, 0.0)
    return off, gain


def decode_belief_maps(maps: np.ndarray, stride: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Decode each belief map to its peak position with sub-pixel refinement.

    The arg-max pixel is refined along each axis by a 3-point quadratic fit on the log values (exact for a
    Gaussian; plain values where a neighbour is zero; no refinement on the map border).

    Parameters
    ----------
    maps : (..., J, H, W) array_like
        Non-negative belief maps (e.g. CNN heat maps). NaN counts as 0.
    stride : float, optional
        Image pixels per map pixel (see module docstring).

    Returns
    -------
    points : (..., J, 2) float64 ndarray
        ``(u, v)`` in image pixels; NaN where the map has no positive peak.
    conf : (..., J) float64 ndarray
        Peak value, interpolated at the sub-pixel peak (the height of the fitted Gaussian; 0 where there is none).

    Raises
    ------
    ValueError
        If ``maps`` has fewer than 3 dimensions or an empty spatial size.
    """
    m = np.asarray(maps)
    if m.ndim < 3 or m.shape[-1] == 0 or m.shape[-2] == 0:
        raise ValueError(f"maps must have shape (..., J, H, W) with H, W > 0, got {m.shape}")
    s = _check_stride(stride)
    h, w = m.shape[-2:]
    lead = m.shape[:-2]
    flat = m.reshape(-1, h * w)
    if not np.isfinite(flat).all():  # argmax would pick NaN; only pay for the copy when needed
        flat = np.where(np.isfinite(flat), flat, 0)
    idx = np.argmax(flat, axis=1)
    rows = np.arange(flat.shape[0])
    peak = flat[rows, idx].astype(np.float64)
    iy, ix = np.divmod(idx, w)

    def at(dy: int, dx: int) -> np.ndarray:
        return flat[rows, np.clip(iy + dy, 0, h - 1) * w + np.clip(ix + dx, 0, w - 1)].astype(np.float64)

    inner_x = (ix > 0) & (ix < w - 1)
    inner_y = (iy > 0) & (iy < h - 1)
    dx, gx = _subpixel_offset(at(0, -1), peak, at(0, 1))
    dy, gy = _subpixel_offset(at(-1, 0), peak, at(1, 0))
    dx, gx = np.where(inner_x, dx, 0.0), np.where(inner_x, gx, 0.0)
    dy, gy = np.where(inner_y, dy, 0.0), np.where(inner_y, gy, 0.0)
    offset = (s - 1.0) / 2.0
    pts = np.stack([(ix + dx) * s + offset, (iy + dy) * s + offset], axis=-1)
    found = peak > MIN_PEAK
    pts[~found] = np.nan
    conf = np.where(found, peak * np.exp(gx + gy), 0.0)
    return pts.reshape(lead + (2,)), conf.reshape(lead)
