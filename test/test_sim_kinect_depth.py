"""Tests for pose3d_ros.sim.kinect_depth: the Kinect v1 depth simulator of the tests and benchmarks."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from poses import tpose as _tpose

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.sim.kinect_depth import (
    KINECT_V1_BASELINE_M,
    KINECT_V1_DISPARITY_STEP_PX,
    KINECT_V1_IR_FOCAL_PX,
    simulate_kinect_depth,
)

CAM = PinholeCamera.default(640, 480)


# ------------------------------------------------------------------------------------------ simulate_kinect_depth
def test_simulate_noise_free_depth_at_joints_is_surface():
    truth = _tpose()
    rng = np.random.default_rng(1)
    d = simulate_kinect_depth(truth, CAM, rng, noise=False, quantise=False, hole_fraction=0.0)
    assert d.shape == (480, 640) and d.dtype == np.float32
    uv = np.rint(CAM.project(truth)).astype(int)
    sampled = d[uv[:, 1], uv[:, 0]]
    # Front surface is about one radius in front of the joint (a bit more where capsules overlap).
    assert np.all(sampled <= truth[:, 2] + 1e-3)
    assert np.all(sampled >= truth[:, 2] - 0.12)
    assert_allclose(d[5, 5], 3.5)  # background wall


def test_simulate_quantisation_step_grows_with_depth_squared():
    rng = np.random.default_rng(2)
    fb = KINECT_V1_IR_FOCAL_PX * KINECT_V1_BASELINE_M
    levels = []
    for z in (1.0, 3.0):
        d = simulate_kinect_depth(np.full((16, 3), np.nan), CAM, rng, background_m=z, hole_fraction=0.0)
        levels.append(np.unique(d))
    # Steps between neighbouring quantised levels ~ z^2 * step / fb.
    for z, lv in zip((1.0, 3.0), levels, strict=True):
        steps = np.diff(lv)
        assert_allclose(np.median(steps), z**2 * KINECT_V1_DISPARITY_STEP_PX / fb, rtol=0.05)


def test_simulate_holes_and_seeded():
    truth = _tpose()
    a = simulate_kinect_depth(truth, CAM, np.random.default_rng(3), hole_fraction=0.05)
    b = simulate_kinect_depth(truth, CAM, np.random.default_rng(3), hole_fraction=0.05)
    assert_array_equal(a, b)
    frac = np.isnan(a).mean()
    assert 0.02 < frac < 0.08


def test_simulate_bad_shape():
    with pytest.raises(ValueError, match=r"\(16, 3\)"):
        simulate_kinect_depth(np.zeros((17, 3)), CAM, np.random.default_rng(0))
