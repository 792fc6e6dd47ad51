"""Window normalisation, NaN filling, mirroring and resampling (pose3d_ros.actions.features)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.actions.features import (
    batch_features,
    fill_missing,
    mirror_window,
    normalize_window,
    resample_track,
    rotation_y,
    window_features,
)
from pose3d_ros.core.skeleton import POSE3D16
from pose3d_ros.sim.gestures import make_sequence


@pytest.fixture
def window():
    return make_sequence("wave", noise_m=0.005, rng=np.random.default_rng(0)).poses[30:46]


@pytest.mark.parametrize("angle", [0.0, 0.7, -2.5, np.pi])
def test_normalisation_is_heading_position_and_scale_invariant(window, angle):
    moved = (window @ rotation_y(angle).T) * 1.3 + np.array([0.5, -0.2, 1.0])
    assert_allclose(normalize_window(moved), normalize_window(window), atol=1e-9)


def test_normalised_hips_line_along_x_and_root_at_origin(window):
    n = normalize_window(window @ rotation_y(1.1).T)
    hips = (n[:, POSE3D16.index("left_hip")] - n[:, POSE3D16.index("right_hip")]).mean(axis=0)
    assert hips[0] > 0 and abs(hips[2]) < 1e-9
    assert_allclose(n[-1, 0], 0.0, atol=1e-12)
    torso = np.linalg.norm(n[:, 2] - n[:, 0], axis=1)
    assert_allclose(np.median(torso), 1.0, rtol=1e-9)


def test_fill_missing_interpolates_over_time():
    w = np.zeros((5, 16, 3))
    w[:, 3, 0] = np.arange(5.0)
    w[2, 3] = np.nan
    filled, valid = fill_missing(w)
    assert_allclose(filled[2, 3], [2.0, 0.0, 0.0])
    assert not valid[2, 3] and valid[1, 3]


def test_joint_never_seen_goes_to_root_and_stays_finite(window):
    w = window.copy()
    w[:, POSE3D16.index("left_wrist")] = np.nan
    n = normalize_window(w)
    assert np.isfinite(n).all()
    assert_allclose(n[:, POSE3D16.index("left_wrist")], 0.0)


def test_missing_pelvis_everywhere_raises(window):
    w = window.copy()
    w[:, 0] = np.nan
    with pytest.raises(ValueError, match="pelvis"):
        normalize_window(w)


def test_bad_shape_raises():
    with pytest.raises(ValueError, match=r"\(T, 16, 3\)"):
        normalize_window(np.zeros((4, 17, 3)))


def test_mirror_swaps_sides_and_is_an_involution(window):
    m = mirror_window(window)
    lw, rw = POSE3D16.index("left_wrist"), POSE3D16.index("right_wrist")
    assert_allclose(m[:, lw, 0], -window[:, rw, 0])
    assert_allclose(mirror_window(m), window)


def test_batch_features_match_single(window):
    rng = np.random.default_rng(1)
    batch = np.stack([window, window @ rotation_y(0.3).T + rng.normal(0, 0.01, window.shape)])
    b = batch_features(batch, 1 / 15)
    for i in range(2):
        assert_allclose(b[i], window_features(batch[i], 1 / 15), atol=1e-5)


def test_resample_track_interpolates_and_clamps():
    times = np.array([0.0, 1.0, 2.0])
    poses = np.zeros((3, 16, 3))
    poses[:, :, 0] = times[:, None]
    out = resample_track(times, poses, t_end=2.0, duration=3.0, n=4)  # grid -1, 0, 1, 2: first clamped
    assert_allclose(out[:, 0, 0], [0.0, 0.0, 1.0, 2.0])
    half = resample_track(times, poses, 1.5, 0.5, 2)
    assert_allclose(half[:, 0, 0], [1.0, 1.5])


def test_resample_track_nan_does_not_leak_into_exact_samples():
    times = np.array([0.0, 1.0])
    poses = np.zeros((2, 16, 3))
    poses[1, 5] = np.nan
    out = resample_track(times, poses, 0.0, 0.0 + 1e-9, 2)
    assert np.isfinite(out[:, 5]).all()
