"""Tests for pose3d_ros.core.depth: robust joint depth sampling, depth fusion, Kinect depth simulation."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.depth import (
    JOINT_SURFACE_DEPTH_M,
    KINECT_V1_BASELINE_M,
    KINECT_V1_DISPARITY_STEP_PX,
    KINECT_V1_IR_FOCAL_PX,
    fuse_with_depth,
    sample_joint_depth,
    simulate_kinect_depth,
)
from pose3d_ros.core.skeleton import POSE3D16, bone_lengths

CAM = PinholeCamera.default(640, 480)


def _tpose(z: float = 2.5) -> np.ndarray:
    """A simple upright pose3d16 (metres, camera frame) centred at depth z."""
    p = {
        "pelvis": (0, 0, 0), "spine": (0, -0.25, 0), "neck": (0, -0.5, 0), "head": (0, -0.7, 0),
        "left_shoulder": (0.18, -0.5, 0), "left_elbow": (0.45, -0.5, 0.02), "left_wrist": (0.7, -0.5, 0.05),
        "right_shoulder": (-0.18, -0.5, 0), "right_elbow": (-0.45, -0.5, -0.02), "right_wrist": (-0.7, -0.5, -0.05),
        "left_hip": (0.1, 0, 0), "left_knee": (0.12, 0.42, 0.03), "left_ankle": (0.12, 0.82, 0.0),
        "right_hip": (-0.1, 0, 0), "right_knee": (-0.12, 0.42, -0.03), "right_ankle": (-0.12, 0.82, 0.0),
    }
    return np.array([p[n] for n in POSE3D16.names], dtype=float) + [0.1, 0.0, z]


# ------------------------------------------------------------------------------------------ sample_joint_depth
def test_sample_constant_plane_exact():
    d = np.full((48, 64), 2.0, dtype=np.float32)
    out = sample_joint_depth(d, np.array([[10.2, 20.7], [63.0, 47.0]]), window=5)
    assert_allclose(out, [2.0, 2.0])


def test_sample_silhouette_edge_returns_foreground():
    d = np.full((40, 40), 4.0, dtype=np.float32)
    d[:, :20] = 1.5  # person on the left, wall behind
    d[:, 20] = 1.52
    # Window centred on the edge: 3 of 7 columns are background but the nearest cluster wins.
    assert_allclose(sample_joint_depth(d, np.array([[21.0, 20.0]]), window=7), [1.5], atol=0.011)


def test_sample_ignores_isolated_flying_pixel():
    d = np.full((20, 20), 3.0, dtype=np.float32)
    d[10, 10] = 0.8  # a single pixel in front: under min_fraction of the 25 window pixels
    assert_allclose(sample_joint_depth(d, np.array([[10.0, 10.0]]), window=5), [3.0])


def test_sample_even_median_of_cluster():
    d = np.full((3, 3), np.nan, dtype=np.float32)
    d[1, :] = [1.0, 1.02, 1.04]
    d[0, 0] = 1.06
    assert_allclose(sample_joint_depth(d, np.array([[1.0, 1.0]]), window=3), [1.03], atol=1e-6)


def test_sample_invalid_cases_are_nan():
    d = np.full((20, 20), 2.0, dtype=np.float32)
    d[:6, :6] = np.nan
    d[15:, 15:] = 0.0
    uv = np.array([[2.0, 2.0], [17.0, 17.0], [np.nan, 3.0], [-5.0, 3.0], [3.0, 25.0], [10.0, 10.0]])
    out = sample_joint_depth(d, uv, window=3)
    assert np.isnan(out[:5]).all()
    assert out[5] == 2.0


def test_sample_keeps_leading_shape():
    d = np.full((20, 20), 2.0, dtype=np.float32)
    assert sample_joint_depth(d, np.full((3, 16, 2), 5.0)).shape == (3, 16)


@pytest.mark.parametrize(
    ("depth", "uv", "kwargs", "match"),
    [
        (np.zeros((4, 4), np.uint16), np.zeros((1, 2)), {}, "float metres"),
        (np.zeros((4, 4, 2)), np.zeros((1, 2)), {}, "2-D"),
        (np.zeros((4, 4)), np.zeros((1, 3)), {}, r"\(\.\.\., 2\)"),
        (np.zeros((4, 4)), np.zeros((1, 2)), {"window": 0}, "window"),
        (np.zeros((4, 4)), np.zeros((1, 2)), {"band_m": 0.0}, "band_m"),
        (np.zeros((4, 4)), np.zeros((1, 2)), {"min_fraction": 1.5}, "min_fraction"),
    ],
)
def test_sample_bad_input(depth, uv, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_joint_depth(depth, uv, **kwargs)


# ------------------------------------------------------------------------------------------ fuse_with_depth
def test_fuse_recovers_true_pose_from_scaled_prior():
    truth = _tpose()
    uv = CAM.project(truth)
    prior = truth * 1.2  # the lifting's depth/size ambiguity: same projection, wrong scale
    pose, measured = fuse_with_depth(prior, uv, truth[:, 2], CAM, surface_offset_m=0.0)
    assert measured.all()
    assert_allclose(pose, truth, atol=1e-9)


def test_fuse_adds_surface_offset_by_default():
    truth = _tpose()
    uv = CAM.project(truth)
    pose, measured = fuse_with_depth(truth, uv, truth[:, 2] - JOINT_SURFACE_DEPTH_M, CAM)
    assert measured.all()
    assert_allclose(pose, truth, atol=1e-9)


def test_fuse_occluded_joint_is_inferred_on_its_ray():
    truth = _tpose()
    uv = CAM.project(truth)
    depth = truth[:, 2].copy()
    lw = POSE3D16.index("left_wrist")
    depth[lw] -= 0.5  # something in front of the wrist
    pose, measured = fuse_with_depth(truth, uv, depth, CAM, surface_offset_m=0.0)
    assert not measured[lw] and measured.sum() == 15
    assert_allclose(pose[lw], truth[lw], atol=1e-9)
    assert_allclose(CAM.project(pose[lw]), uv[lw])


def test_fuse_pulls_back_implausible_bone():
    truth = _tpose()
    uv = CAM.project(truth)
    depth = truth[:, 2].copy()
    lw = POSE3D16.index("left_wrist")
    depth[lw] += 0.12  # within max_deviation but stretches the forearm by > 5 %
    pose, measured = fuse_with_depth(truth, uv, depth, CAM, surface_offset_m=0.0, bone_tolerance=0.05)
    assert not measured[lw]
    forearm = POSE3D16.bones.index((POSE3D16.index("left_elbow"), lw))
    stretched = np.linalg.norm(CAM.back_project(uv[lw], depth[lw]) - truth[POSE3D16.index("left_elbow")])
    assert stretched > 1.05 * bone_lengths(truth)[forearm]
    assert_allclose(bone_lengths(pose)[forearm], bone_lengths(truth)[forearm], rtol=0.02)


def test_fuse_without_depth_returns_prior_and_nothing_measured():
    truth = _tpose()
    pose, measured = fuse_with_depth(truth, CAM.project(truth), np.full(16, np.nan), CAM)
    assert not measured.any()
    assert_allclose(pose, truth, atol=1e-12)


def test_fuse_missing_pixels_hang_off_parent_with_prior_bone():
    truth = _tpose()
    uv = CAM.project(truth)
    uv[POSE3D16.index("right_ankle")] = np.nan
    depth = truth[:, 2] + 0.0
    pose, measured = fuse_with_depth(truth * 1.1, uv, depth, CAM, surface_offset_m=0.0)
    ra, rk = POSE3D16.index("right_ankle"), POSE3D16.index("right_knee")
    assert not measured[ra] and measured[rk]
    assert_allclose(pose[ra] - pose[rk], 1.1 * (truth[ra] - truth[rk]) * (1 / 1.1), atol=1e-9)


def test_fuse_low_confidence_not_measured():
    truth = _tpose()
    conf = np.ones(16)
    conf[3] = 0.0
    _, measured = fuse_with_depth(truth, CAM.project(truth), truth[:, 2], CAM, conf, surface_offset_m=0.0)
    assert not measured[3] and measured.sum() == 15


def test_fuse_noisy_depth_beats_prior():
    rng = np.random.default_rng(0)
    truth = _tpose(3.0)
    prior = truth * 0.85 + rng.normal(0, 0.03, truth.shape)
    depth = truth[:, 2] + rng.normal(0, 0.01, 16)
    pose, _ = fuse_with_depth(prior, CAM.project(truth), depth, CAM, surface_offset_m=0.0)
    err = np.linalg.norm(pose - truth, axis=1).mean()
    assert err < 0.02 < np.linalg.norm(prior - truth, axis=1).mean()


@pytest.mark.parametrize(
    ("prior", "uv", "depth", "match"),
    [
        (np.zeros((15, 3)), np.zeros((16, 2)), np.zeros(16), "prior_pose"),
        (np.full((16, 3), np.nan), np.zeros((16, 2)), np.zeros(16), "non-finite"),
        (np.ones((16, 3)), np.zeros((16, 3)), np.zeros(16), "uv"),
        (np.ones((16, 3)), np.zeros((16, 2)), np.zeros(15), "joint_depth"),
    ],
)
def test_fuse_bad_input(prior, uv, depth, match):
    with pytest.raises(ValueError, match=match):
        fuse_with_depth(prior, uv, depth, CAM)


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


def test_fuse_output_always_finite_on_malformed_measurements():
    rng = np.random.default_rng(5)
    truth = _tpose()
    for _ in range(50):
        uv = CAM.project(truth) + rng.normal(0, 5, (16, 2))
        uv[rng.random(16) < 0.3] = np.nan
        depth = truth[:, 2] + rng.normal(0, 0.3, 16)
        depth[rng.random(16) < 0.2] = rng.choice([np.nan, np.inf, -1.0, 0.0])
        conf = rng.uniform(-0.5, 1.0, 16)
        pose, measured = fuse_with_depth(truth * rng.uniform(0.7, 1.3), uv, depth, CAM, conf)
        assert np.isfinite(pose).all()
        assert not (measured & ~np.isfinite(depth)).any()


def test_fuse_self_occluded_joint_loses_its_measurement():
    truth = _tpose(2.3)
    re, rw, sp = POSE3D16.index("right_elbow"), POSE3D16.index("right_wrist"), POSE3D16.index("spine")
    # Right forearm held horizontally 20 cm in front of the spine: the spine's pixel sees the forearm.
    truth[re] = truth[0] + [-0.15, -0.25, -0.2]
    truth[rw] = truth[0] + [0.15, -0.25, -0.2]
    uv = CAM.project(truth)
    depth = truth[:, 2].copy()
    depth[sp] -= 0.18  # the forearm's surface
    _, measured_off = fuse_with_depth(truth, uv, depth, CAM, surface_offset_m=0.0, occlusion_margin_m=None)
    pose, measured = fuse_with_depth(truth, uv, depth, CAM, surface_offset_m=0.0)
    assert measured_off[sp]  # plausible enough to pass the deviation and bone checks on its own
    assert not measured[sp] and measured.sum() == 15
    assert_allclose(pose[sp], truth[sp], atol=1e-9)
