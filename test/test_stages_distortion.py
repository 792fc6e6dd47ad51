"""Lens distortion at the pipeline's entry of 2D joints (models/cpm_stages.py ``PriorStages.run_people``).

The CNN sees the raw (distorted) image, depth is registered to it: the joints must be undistorted before the lift,
depth sampled at the raw pixels, and the reported pixels stay raw-image pixels.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.distortion import Distortion
from pose3d_ros.core.lifting import PoseLifter
from pose3d_ros.core.prior import PosePrior, default_prior_path, rotate_y
from pose3d_ros.data.deepmimic import load_mocap_clips
from pose3d_ros.models.cpm_stages import PriorStages, StageParams
from pose3d_ros.models.frontend import People2D
from pose3d_ros.sim.kinect_depth import simulate_kinect_depth

#: a wide webcam-like barrel lens: up to ~20 px displacement where the person stands (near the left edge)
CAM = PinholeCamera(525.0, 525.0, 319.5, 239.5, 640, 480, Distortion("plumb_bob", (-0.35, 0.15, 0.001, -0.001, -0.03)))


@pytest.fixture(scope="module")
def stages() -> PriorStages:
    return PriorStages(PoseLifter(PosePrior.load(default_prior_path())), StageParams(n_stages=0))


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    """One person of a mocap clip near the left image edge, 2.6 m away, (1, 16, 3)."""
    x = load_mocap_clips()["punch"].astype(np.float64)[[10]]
    return rotate_y(x - x[:, :1], np.array([0.3])) + np.array([[[-0.9, 0.1, 2.6]]])


def _run(stages, camera, pixels, depth):
    people = People2D("pose3d16", pixels, np.ones(pixels.shape[:2]), np.ones(len(pixels)), None)
    return stages.run_people(people, camera, depth)


def test_distorted_joints_are_undistorted_before_the_lift(stages, scene):
    raw = CAM.project(scene)  # what a CNN finds in the raw image
    assert np.abs(raw - CAM.without_distortion().project(scene)).max() > 15
    depth = simulate_kinect_depth(scene, CAM, np.random.default_rng(0), noise=False, quantise=False, hole_fraction=0)
    good = _run(stages, CAM, raw, depth)
    err = np.linalg.norm(good.poses - scene, axis=-1).mean()
    # the same input read as a pinhole camera (lens ignored): centimetres off
    naive = _run(stages, CAM.without_distortion(), raw, depth)
    err_naive = np.linalg.norm(naive.poses - scene, axis=-1).mean()
    assert err < 0.015 and err_naive > 0.03 and err_naive > 3 * err, (err, err_naive)
    assert good.measured.sum() >= 10  # depth was sampled at the raw pixels
    assert_allclose(good.pixels, raw)  # published pixels: where the joints are in the raw image


def test_missing_joints_are_reported_at_their_raw_pixel(stages, scene):
    raw = CAM.project(scene)
    raw[0, [6, 9]] = np.nan  # two joints the CNN missed
    depth = simulate_kinect_depth(scene, CAM, np.random.default_rng(1), noise=False, quantise=False, hole_fraction=0)
    res = _run(stages, CAM, raw, depth)
    assert res.conf[0, [6, 9]].tolist() == [0.0, 0.0]
    # the projection of the 3D pose through the lens (not the pinhole projection)
    assert_allclose(res.pixels[0, [6, 9]], CAM.project(res.poses[0, [6, 9]]))
    assert_allclose(res.pixels[0, :6], raw[0, :6])


def test_the_lift_refuses_a_distorted_camera(stages, scene):
    with pytest.raises(ValueError, match="undistort_pixels"):
        stages.lifter.lift(CAM.project(scene), np.ones((1, 16)), CAM)
