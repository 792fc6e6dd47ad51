"""Lens distortion of ``sensor_msgs/CameraInfo`` (``distortion_model`` + ``D``), in pixels of a camera matrix K.

Models (the names of ``sensor_msgs/distortion_models``):

- ``plumb_bob``: Brown-Conrady, ``D = (k1, k2, p1, p2, k3)`` (OpenCV's 5 coefficients; 4 accepted, k3 = 0).
- ``rational_polynomial``: ``D = (k1, k2, p1, p2, k3, k4, k5, k6)`` (OpenCV's 8; Azure Kinect, many RealSense).
- ``equidistant`` (also spelled ``fisheye`` / ``kannala_brandt``): ``D = (k1, k2, k3, k4)`` (``cv2.fisheye``).

Distorting (ideal -> raw pixel) is closed form here, equal to ``cv2.projectPoints`` / ``cv2.fisheye.projectPoints``;
undistorting is ``cv2.undistortPoints`` (``cv2.fisheye.undistortPoints``) with ``P = K`` and 100 iterations (the
default 5 leave ~0.2 px near the corners of a typical webcam). Beyond the radius where the model stops growing
monotonically (:attr:`Distortion.max_radius`) a lens model folds back and means nothing: such points, points whose
undistortion does not reproduce the raw pixel, and NaN inputs come out NaN.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["DISTORTION_MODELS", "DistortionError", "Distortion"]

#: model -> number of coefficients.
DISTORTION_MODELS: dict[str, int] = {"plumb_bob": 5, "rational_polynomial": 8, "equidistant": 4}
_ALIASES = {"fisheye": "equidistant", "kannala_brandt": "equidistant", "kannala_brandt4": "equidistant"}
#: Undistortion iterations and tolerance (normalised image units).
_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
#: An undistorted point must distort back to its raw pixel within this (pixels), else NaN (non-convergence).
ROUND_TRIP_TOL_PX = 0.01
#: A lens may change the image's extent by this factor at most when undistorted (both ways): barrel lenses of RGB-D
#: colour cameras (Azure Kinect, RealSense) stay within ~1.3x; a model that maps the image to a speck or to many times
#: its size is a corrupt calibration, and people lifted through it come out with inhuman bones.
MAX_EXTENT_CHANGE = 3.0
#: Largest share of the image border a lens model may fail to undistort (wide lenses lose their corners).
MAX_LOST_BORDER = 0.25
#: Border samples per image side for :meth:`Distortion.check_image`.
_BORDER_SAMPLES = 33
#: Normalised radius (tan of the angle off the optical axis) up to which the monotonic range is searched (~87 deg).
_SEARCH_RADIUS = 20.0
_SEARCH_STEPS = 20000


class DistortionError(ValueError):
    """An unknown distortion model, or coefficients that do not fit the model."""


def _pixels(uv: np.ndarray) -> np.ndarray:
    q = np.asarray(uv, dtype=np.float64)
    if q.ndim < 1 or q.shape[-1] != 2:
        raise ValueError(f"uv must have shape (..., 2), got {q.shape}")
    return q


def _intrinsics(K: np.ndarray) -> tuple[float, float, float, float]:
    k = np.asarray(K, dtype=np.float64).reshape(3, 3)
    return float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])


@dataclasses.dataclass(frozen=True)
class Distortion:
    """A lens distortion model with its coefficients.

    Parameters
    ----------
    model : str
        One of :data:`DISTORTION_MODELS` (or an alias of ``equidistant``).
    coeffs : sequence of float
        The model's coefficients in ROS / OpenCV order; fewer are padded with zeros, extra zeros dropped.

    Raises
    ------
    DistortionError
        Unknown model, non-finite coefficients, or non-zero coefficients beyond the model's count.
    """

    model: str
    coeffs: tuple[float, ...]

    def __post_init__(self) -> None:
        model = _ALIASES.get(str(self.model).strip().lower(), str(self.model).strip().lower())
        if model not in DISTORTION_MODELS:
            raise DistortionError(
                f"unknown distortion model {self.model!r} (supported: "
                f"{', '.join(DISTORTION_MODELS)}; or all-zero D for none)"
            )
        n = DISTORTION_MODELS[model]
        try:
            d = [float(v) for v in np.asarray(self.coeffs, dtype=np.float64).reshape(-1)]
        except (TypeError, ValueError):
            raise DistortionError(f"{model} coefficients must be numbers, got {self.coeffs!r}") from None
        if not all(math.isfinite(v) for v in d):
            raise DistortionError(f"{model} coefficients must be finite, got {d}")
        if any(v != 0 for v in d[n:]):
            raise DistortionError(f"{model} takes {n} coefficients, got {len(d)}: {d}")
        d = (d + [0.0] * n)[:n]
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "coeffs", tuple(d))

    @classmethod
    def from_ros(cls, model: str | None, d: Sequence[float] | np.ndarray | None) -> Distortion | None:
        """``CameraInfo.distortion_model`` + ``D`` -> a model, or None when there is no distortion (empty or all-zero
        ``D``, whatever the model name).

        Raises
        ------
        DistortionError
            Non-zero ``D`` with an unknown (or empty) model name, or ``D`` that does not fit the model.
        """
        coeffs = np.asarray([] if d is None else d, dtype=np.float64).reshape(-1)
        if coeffs.size == 0 or (np.isfinite(coeffs).all() and not coeffs.any()):
            return None
        if not str(model or "").strip():
            raise DistortionError(f"distortion coefficients {coeffs.tolist()} without a distortion_model")
        return cls(str(model), tuple(coeffs.tolist()))

    @property
    def is_zero(self) -> bool:
        """All coefficients are zero (the model is the identity)."""
        return not any(self.coeffs)

    # ---------------------------------------------------------------- the model in normalised coordinates
    def _radial(self, r: np.ndarray) -> np.ndarray:
        """Distorted radius as a function of the ideal normalised radius ``r`` (>= 0), tangential terms aside."""
        c = self.coeffs
        if self.model == "equidistant":
            t = np.arctan(r)
            t2 = t * t
            return t * (1 + t2 * (c[0] + t2 * (c[1] + t2 * (c[2] + t2 * c[3]))))
        r2 = r * r
        k = c + (0.0,) * (8 - len(c))
        num = 1 + r2 * (k[0] + r2 * (k[1] + r2 * k[4]))
        den = 1 + r2 * (k[5] + r2 * (k[6] + r2 * k[7]))
        return r * num / den

    @functools.cached_property
    def max_radius(self) -> float:
        """Largest ideal normalised radius (``tan`` of the angle off the axis) over which the model's radius grows
        monotonically from 0 (inf when it does up to ~87 degrees)."""
        r = np.linspace(0.0, _SEARCH_RADIUS, _SEARCH_STEPS + 1)
        with np.errstate(all="ignore"):
            f = self._radial(r)
        ok = np.isfinite(f) & (np.diff(f, prepend=-1.0) > 0)
        ok[0] = True
        bad = np.flatnonzero(~ok)
        return float("inf") if bad.size == 0 else float(r[max(bad[0] - 1, 0)])

    def distort_normalized(self, xy: np.ndarray) -> np.ndarray:
        """Ideal normalised coordinates ``(x/z, y/z)`` -> distorted ones, ``(..., 2) -> (...,  2)``; NaN outside
        :attr:`max_radius` or for NaN input."""
        p = np.asarray(xy, dtype=np.float64)
        x, y = p[..., 0], p[..., 1]
        r2 = x * x + y * y
        c = self.coeffs
        with np.errstate(all="ignore"):
            if self.model == "equidistant":
                r = np.sqrt(r2)
                scale = np.where(r > 1e-12, self._radial(r) / np.where(r > 1e-12, r, 1.0), 1.0)
                xd, yd = x * scale, y * scale
            else:
                k = c + (0.0,) * (8 - len(c))
                radial = (1 + r2 * (k[0] + r2 * (k[1] + r2 * k[4]))) / (1 + r2 * (k[5] + r2 * (k[6] + r2 * k[7])))
                xy2 = 2 * x * y
                xd = x * radial + k[2] * xy2 + k[3] * (r2 + 2 * x * x)
                yd = y * radial + k[2] * (r2 + 2 * y * y) + k[3] * xy2
            out = np.stack([xd, yd], axis=-1)
            out[~(np.sqrt(r2) <= self.max_radius)] = np.nan
        return out

    def check_image(self, K: np.ndarray, width: int, height: int) -> None:
        """Refuse a model that cannot describe this camera's image: more than :data:`MAX_LOST_BORDER` of the image
        border it cannot undistort (the image lies beyond the model's monotonic range), or an undistorted image more
        than :data:`MAX_EXTENT_CHANGE` times smaller or larger than the raw one.

        Raises
        ------
        DistortionError
            Naming the model, the coefficients and what is wrong.
        """
        w, h = float(width), float(height)
        t = np.linspace(0.0, 1.0, _BORDER_SAMPLES)
        border = np.concatenate([np.stack([t * (w - 1), np.zeros_like(t)], -1),
                                 np.stack([t * (w - 1), np.full_like(t, h - 1)], -1),
                                 np.stack([np.zeros_like(t), t * (h - 1)], -1),
                                 np.stack([np.full_like(t, w - 1), t * (h - 1)], -1)])
        ideal = self.undistort_pixels(border, K)
        what = f"{self.model} distortion {list(self.coeffs)}"
        lost = ~np.isfinite(ideal).all(axis=-1)
        if lost.mean() > MAX_LOST_BORDER:  # a wide lens may lose its corners, not its image
            raise DistortionError(f"{what} cannot be undistorted at {int(lost.sum())} of {len(border)} points of the "
                                  f"{int(w)}x{int(h)} image border (corrupt calibration?)")
        kept = ideal[~lost]
        change = (kept.max(0) - kept.min(0)) / np.maximum([w - 1, h - 1], 1.0)
        if not ((change >= 1.0 / MAX_EXTENT_CHANGE) & (change <= MAX_EXTENT_CHANGE)).all():
            raise DistortionError(f"{what} turns the {int(w)}x{int(h)} image into {change[0]:.3g}x / {change[1]:.3g}x "
                                  f"its width / height (a real lens stays within {MAX_EXTENT_CHANGE:g}x; corrupt "
                                  "calibration?)")

    # ---------------------------------------------------------------- pixels
    def distort_pixels(self, uv: np.ndarray, K: np.ndarray) -> np.ndarray:
        """Ideal (pinhole) pixels of camera matrix ``K`` -> raw (distorted) pixels, ``(..., 2) -> (..., 2)``."""
        q = _pixels(uv)
        fx, fy, cx, cy = _intrinsics(K)
        xy = np.stack([(q[..., 0] - cx) / fx, (q[..., 1] - cy) / fy], axis=-1)
        d = self.distort_normalized(xy)
        return np.stack([d[..., 0] * fx + cx, d[..., 1] * fy + cy], axis=-1)

    def undistort_pixels(self, uv: np.ndarray, K: np.ndarray) -> np.ndarray:
        """Raw (distorted) pixels -> ideal pinhole pixels of the same ``K``, ``(..., 2) -> (..., 2)``.

        NaN for NaN input, for points outside :attr:`max_radius` and where the iteration did not converge (the
        result does not distort back to the input within :data:`ROUND_TRIP_TOL_PX`).
        """
        q = _pixels(uv)
        out = np.full(q.shape, np.nan)
        finite = np.isfinite(q).all(axis=-1)
        if not finite.any():
            return out
        k = np.asarray(K, dtype=np.float64).reshape(3, 3)
        src = np.ascontiguousarray(q[finite].reshape(-1, 1, 2))
        d = np.asarray(self.coeffs, dtype=np.float64)
        if self.model == "equidistant":
            try:
                dst = cv2.fisheye.undistortPoints(src, k, d, R=np.eye(3), P=k, criteria=_CRITERIA)
            except (TypeError, cv2.error):  # OpenCV < 4.6: no criteria (its default iterates to 1e-8)
                dst = cv2.fisheye.undistortPoints(src, k, d, R=np.eye(3), P=k)
        elif hasattr(cv2, "undistortPointsIter"):  # OpenCV 4.x
            dst = cv2.undistortPointsIter(src, k, d, np.eye(3), k, _CRITERIA)
        else:  # OpenCV 5: undistortPoints takes the criteria
            dst = cv2.undistortPoints(src, k, d, R=None, P=k, criteria=_CRITERIA)
        ideal = dst.reshape(-1, 2)
        back = self.distort_pixels(ideal, k)
        with np.errstate(invalid="ignore"):
            bad = ~(np.linalg.norm(back - q[finite], axis=-1) <= ROUND_TRIP_TOL_PX)
        ideal[bad] = np.nan
        out[finite] = ideal
        return out
