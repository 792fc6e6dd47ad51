"""What a depth reading at a joint is worth: the package's one depth-noise model.

A joint-centre depth (the depth image's reading at the joint's pixel plus :data:`~pose3d_ros.core.depth.
JOINT_SURFACE_DEPTH_M`) is wrong by a body-dependent amount (the joint centre is not exactly one limb radius behind
the skin) and by the sensor's own error, which for a structured-light or stereo camera grows with the square of the
distance (Kinect v1: Khoshelham & Elberink 2012). A reading can also be someone else's altogether: a joint hidden
behind an arm samples the arm, one at a silhouette the background. :class:`DepthNoiseModel` says all three things in
one place, and every consumer uses it:

* the anatomical refinement (:mod:`pose3d_ros.core.bone_refinement`) weights its depth residuals with
  :meth:`DepthNoiseModel.sigma` and the bounded loss :func:`geman_mcclure` (the subspace lift's depth Gauss-Newton
  uses the same loss with its own wider noise, which includes the subspace's model error:
  :mod:`pose3d_ros.core.subspace_fit`);
* the published ``measured`` flag is :meth:`DepthNoiseModel.inliers` of the final pose: "this joint's position
  agrees with its depth reading", on every path.

References
----------
K. Khoshelham and S. O. Elberink, "Accuracy and resolution of Kinect depth data for indoor mapping applications",
Sensors 12(2), 2012.
S. Geman and D. E. McClure, "Statistical methods for tomographic image reconstruction", Bull. ISI 52, 1987.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_DEPTH_M", "DepthNoiseModel", "geman_mcclure"]

#: A joint closer than this (m) to the camera plane is clamped in every projection (keeps it finite).
MIN_DEPTH_M = 0.1


def geman_mcclure(r: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Geman-McClure loss of residuals ``r`` (sigma units) and the square root of its IRLS weight.

    Bounded: a joint whose sampled depth is the occluder's or the background's stops pulling altogether (a Cauchy
    loss keeps pulling: it dragged whole poses towards occluders in the validation runs of
    ``bench/tune_refinement.py``).

    Parameters
    ----------
    r : array_like
        Residuals in units of their noise sigma.
    scale : float
        Residual (sigma units) at which the loss reaches half its bound ``scale**2``.

    Returns
    -------
    loss, sqrt_weight : ndarrays shaped like ``r``
    """
    r = np.asarray(r, dtype=np.float64)
    c2 = scale * scale
    return c2 * r * r / (c2 + r * r), c2 / (c2 + r * r)


@dataclass(frozen=True)
class DepthNoiseModel:
    """Noise of a joint-centre depth reading and what counts as agreeing with it.

    Attributes
    ----------
    floor_m : float
        Noise floor (m, 1 sigma): the joint centre sits behind the skin by a body-dependent amount.
    coeff : float
        Sensor noise growing with the square of the distance, ``c z^2`` (1/m). The default is Kinect v1's random
        error plus its disparity quantisation (Khoshelham & Elberink 2012; :mod:`pose3d_ros.core.depth`).
    robust_scale : float
        Scale of the bounded (Geman-McClure) loss, in sigma units; chosen on validation clips by
        ``bench/tune_refinement.py``.
    inlier_sigma : float
        A joint is *measured* when its fitted depth is within this many sigmas of its reading.
    """

    floor_m: float = 0.02
    coeff: float = 1.7e-3
    robust_scale: float = 1.0
    inlier_sigma: float = 2.0

    def __post_init__(self) -> None:
        for name in ("floor_m", "robust_scale", "inlier_sigma"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"depth noise {name} must be a positive finite number, got {value}")
        if not (np.isfinite(self.coeff) and self.coeff >= 0):
            raise ValueError(f"depth noise coeff must be a finite number >= 0, got {self.coeff}")

    def sigma(self, z: np.ndarray) -> np.ndarray:
        """Noise (m, 1 sigma) of a reading at depth ``z`` (m): the floor and the sensor's ``c z^2`` in quadrature."""
        return np.sqrt(self.floor_m**2 + (self.coeff * np.square(z)) ** 2)

    def residuals(self, fitted_z: np.ndarray, reading_z: np.ndarray) -> np.ndarray:
        """``(fitted - reading) / sigma(reading)``; NaN where either is unknown."""
        with np.errstate(invalid="ignore"):
            return (np.asarray(fitted_z, dtype=np.float64) - reading_z) / self.sigma(reading_z)

    def inliers(self, fitted_z: np.ndarray, reading_z: np.ndarray) -> np.ndarray:
        """True where a fitted joint depth agrees with its reading within :attr:`inlier_sigma` sigmas.

        Parameters
        ----------
        fitted_z, reading_z : (..., J) array_like
            Depths (m); NaN = unknown (never an inlier).

        Returns
        -------
        measured : (..., J) bool ndarray
        """
        r = self.residuals(fitted_z, reading_z)
        with np.errstate(invalid="ignore"):
            return np.isfinite(r) & (np.abs(r) <= self.inlier_sigma)
