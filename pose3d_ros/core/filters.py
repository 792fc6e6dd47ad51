"""One-Euro filter (Casiez, Roussel & Vogel, CHI 2012), vectorised over arrays of any shape.

The cut-off frequency adapts to speed: slow motion is smoothed hard (low jitter), fast motion follows closely (low
lag). Works with irregular time steps (each call passes a timestamp), skips NaN samples element-wise, and restarts
elements whose last valid sample is older than ``reset_after_s``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["OneEuroFilter", "smoothing_factor"]


def smoothing_factor(dt: float | np.ndarray, cutoff_hz: float | np.ndarray) -> np.ndarray:
    """Exponential smoothing factor ``alpha = 1 / (1 + tau / dt)``, ``tau = 1 / (2 pi f_c)``, element-wise."""
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + tau / np.asarray(dt, dtype=np.float64))


class OneEuroFilter:
    """Vectorised One-Euro filter.

    Parameters
    ----------
    min_cutoff : float, optional
        Minimum cut-off frequency (Hz) at rest; lower = smoother, more lag. > 0.
    beta : float, optional
        Speed coefficient: cut-off grows by ``beta * |speed|`` (speed in units/s). >= 0.
    d_cutoff : float, optional
        Cut-off (Hz) of the speed estimate. > 0.
    reset_after_s : float, optional
        An element without a valid sample for longer than this restarts from the next sample (no stale history).

    Examples
    --------
    >>> f = OneEuroFilter(min_cutoff=1.0, beta=0.1)
    >>> out = f(np.zeros((16, 3)), 0.0)
    """

    def __init__(
        self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0, reset_after_s: float = 1.0
    ) -> None:
        for name, value in (("min_cutoff", min_cutoff), ("d_cutoff", d_cutoff), ("reset_after_s", reset_after_s)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be finite and >= 0, got {beta}")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.reset_after_s = float(reset_after_s)
        self.reset()

    def reset(self) -> None:
        """Forget all history; the next sample passes through unchanged."""
        self._x: np.ndarray | None = None  # filtered value
        self._dx: np.ndarray | None = None  # filtered speed
        self._t: np.ndarray | None = None  # time of the last valid sample per element (NaN = none)
        self._last_stamp: float | None = None
        self._out: np.ndarray | None = None

    @property
    def value(self) -> np.ndarray | None:
        """Last filtered value (NaN where an element never had a valid sample), or None before the first call."""
        return None if self._x is None else self._x.copy()

    def __call__(self, x: np.ndarray, stamp: float) -> np.ndarray:
        """Filter one sample.

        Parameters
        ----------
        x : array_like
            Sample; same shape on every call (a new shape resets the filter). NaN elements are skipped: their
            output is NaN and their state is kept.
        stamp : float
            Time in seconds. Equal to the previous stamp: the previous output is returned. Earlier than the
            previous stamp (e.g. a rosbag loop): the filter resets.

        Returns
        -------
        float64 ndarray, shape of ``x``
        """
        xs = np.asarray(x, dtype=np.float64)
        t = float(stamp)
        if not math.isfinite(t):
            raise ValueError(f"stamp must be finite, got {stamp}")
        if self._x is not None and self._x.shape != xs.shape:
            self.reset()
        if self._last_stamp is not None and t < self._last_stamp:
            self.reset()
        if self._last_stamp is not None and t == self._last_stamp and self._out is not None:
            return self._out.copy()
        valid = np.isfinite(xs)
        if self._x is None:
            self._x = np.where(valid, xs, np.nan)
            self._dx = np.zeros(xs.shape)
            self._t = np.where(valid, t, np.nan)
        else:
            dt = t - self._t  # NaN where the element has no history
            fresh = valid & ~(dt <= self.reset_after_s)  # no history, or history too old: restart
            upd = valid & ~fresh
            if upd.all():  # the common case (every element seen last frame): no masked indexing
                dx_hat = self._dx + smoothing_factor(dt, self.d_cutoff) * ((xs - self._x) / dt - self._dx)
                a = smoothing_factor(dt, self.min_cutoff + self.beta * np.abs(dx_hat))
                self._x += a * (xs - self._x)
                self._dx = dx_hat
            elif upd.any():
                dtu = dt[upd]
                dx = (xs[upd] - self._x[upd]) / dtu
                a_d = smoothing_factor(dtu, self.d_cutoff)
                dx_hat = self._dx[upd] + a_d * (dx - self._dx[upd])
                cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
                a = smoothing_factor(dtu, cutoff)
                self._x[upd] = self._x[upd] + a * (xs[upd] - self._x[upd])
                self._dx[upd] = dx_hat
            self._x[fresh] = xs[fresh]
            self._dx[fresh] = 0.0
            self._t[valid] = t
        self._last_stamp = t
        self._out = np.where(valid, self._x, np.nan)
        return self._out.copy()

    @property
    def speed(self) -> np.ndarray | None:
        """Filtered derivative (units/s), or None before the first call."""
        return None if self._dx is None else self._dx.copy()
