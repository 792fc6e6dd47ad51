"""Lift people with the joint depths sampled from a depth image: the one depth path shared by the pipeline and the
``lift`` command.

A depth image sees the body surface; the lifter wants joint centres, which lie :data:`JOINT_SURFACE_DEPTH_M` behind
it. The lifter uses the depths in both of its stages and reports a joint as measured where its final depth agrees
with its reading (:meth:`pose3d_ros.core.depth_noise.DepthNoiseModel.inliers`), with or without the anatomical step.
"""

from __future__ import annotations

import numpy as np

from pose3d_ros.core.depth import JOINT_SURFACE_DEPTH_M
from pose3d_ros.core.lifting import LiftResult, PoseLifter


def lift_with_depth(lifter: PoseLifter, pixels: np.ndarray, conf: np.ndarray, camera,
                    surface_depth: np.ndarray | None, observed_3d: np.ndarray | None = None,
                    previous_3d: np.ndarray | None = None, bone_lengths: np.ndarray | None = None
                    ) -> tuple[LiftResult, np.ndarray, np.ndarray]:
    """Lift P people, with the depth seen at their joints when there is any.

    Parameters
    ----------
    lifter : PoseLifter
    pixels : (P, 16, 2) ndarray
        pose3d16 joint pixels; NaN where missing.
    conf : (P, 16) ndarray
        Confidences; 0 where missing.
    camera : PinholeCamera
    surface_depth : (P, 16) ndarray or None
        Depth (m) sampled at each joint pixel (:func:`pose3d_ros.core.depth.sample_joint_depth`), NaN = invalid.
    observed_3d : (P, 16, 3) ndarray or None
        A CNN's root-relative metric 3D per person (NaN = none), passed to :meth:`PoseLifter.lift`.
    previous_3d : (P, 16, 3) ndarray or None
        Each person's previous root-relative pose (NaN = none), passed to :meth:`PoseLifter.lift`.
    bone_lengths : (P, 15) ndarray or None
        Each person's own bone estimate (m, NaN = none), passed to :meth:`PoseLifter.lift`.

    Returns
    -------
    lift : LiftResult
    poses : (P, 16, 3) ndarray
        Final camera-frame poses (NaN for people the lift could not use).
    measured : (P, 16) bool ndarray
        True where a joint's position rests on its depth measurement.
    """
    pix = np.asarray(pixels, dtype=np.float64)
    weights = np.where(np.isfinite(pix).all(axis=-1), conf, 0.0)
    centre = None if surface_depth is None else surface_depth + JOINT_SURFACE_DEPTH_M
    lift = lifter.lift(np.nan_to_num(pix), weights, camera, joint_depth=centre, observed_3d=observed_3d,
                       previous_3d=previous_3d, bone_lengths=bone_lengths)
    return lift, lift.poses.copy(), lift.measured.copy()
