"""Tests for pose3d_ros.core.belief_maps and pose3d_ros.core.belief_map_fusion."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from pose3d_ros.core.belief_map_fusion import fuse_belief_maps
from pose3d_ros.core.belief_maps import decode_belief_maps, render_belief_maps


def test_render_worked_example():
    m = render_belief_maps(np.array([[2.0, 1.0]]), np.array([0.8]), (3, 5), sigma=1.0)
    assert m.dtype == np.float32 and m.shape == (1, 3, 5)
    assert_allclose(m[0, 1, 2], 0.8)
    assert_allclose(m[0, 0, 3], 0.8 * np.exp(-1.0), rtol=1e-6)  # distance^2 = 2 -> exp(-2 / 2)


def test_render_missing_joints_are_zero_maps():
    pts = np.array([[1.0, 1.0], [np.nan, 2.0], [3.0, 3.0]])
    m = render_belief_maps(pts, np.array([1.0, 1.0, 0.0]), (8, 8), sigma=2.0)
    assert m[0].max() > 0
    assert not m[1:].any()


def test_render_batched_matches_single():
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 30, size=(2, 4, 2))
    m = render_belief_maps(pts, None, (32, 32), 1.5)
    assert m.shape == (2, 4, 32, 32)
    assert_allclose(m[1], render_belief_maps(pts[1], None, (32, 32), 1.5))


@pytest.mark.parametrize("stride", [1.0, 4.0, 8.0])
def test_render_decode_round_trip_subpixel(stride):
    rng = np.random.default_rng(1)
    h, w = 46, 54
    pts = rng.uniform([4 * stride, 4 * stride], [(w - 4) * stride, (h - 4) * stride], size=(16, 2))
    conf = rng.uniform(0.3, 1.0, 16)
    maps = render_belief_maps(pts, conf, (h, w), sigma=1.5 * stride, stride=stride)
    dec, c = decode_belief_maps(maps, stride=stride)
    # Log-parabola refinement is exact for a Gaussian up to float32 rounding.
    assert_allclose(dec, pts, atol=2e-3 * stride)
    assert_allclose(c, conf, rtol=1e-3)


def test_subpixel_beats_plain_argmax():
    pts = np.array([[10.4, 20.3]])
    maps = render_belief_maps(pts, None, (40, 40), sigma=2.0)
    dec, _ = decode_belief_maps(maps)
    assert np.abs(dec - pts).max() < 0.01 < np.abs(np.round(pts) - pts).max()


def test_decode_empty_map_is_nan_with_zero_conf():
    maps = np.zeros((2, 5, 5), dtype=np.float32)
    maps[1, 2, 3] = 0.5
    pts, conf = decode_belief_maps(maps)
    assert np.isnan(pts[0]).all() and conf[0] == 0
    assert_array_equal(pts[1], [3.0, 2.0])
    assert conf[1] == 0.5


def test_decode_peak_on_border_not_refined():
    maps = np.zeros((1, 4, 4))
    maps[0, 0, 0] = 1.0
    maps[0, 0, 1] = 0.9
    pts, _ = decode_belief_maps(maps)
    assert_allclose(pts[0], [0.0, 0.0])


def test_decode_nan_treated_as_zero():
    maps = np.full((1, 4, 4), np.nan)
    maps[0, 2, 2] = 1.0
    pts, conf = decode_belief_maps(maps)
    assert_allclose(pts[0], [2.0, 2.0]) and conf[0] == 1.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((3, 3)), None, (4, 4), 1.0), r"\(\.\.\., J, 2\)"),
        ((np.zeros((3, 2)), np.ones(2), (4, 4), 1.0), "conf must have shape"),
        ((np.zeros((3, 2)), None, (0, 4), 1.0), "positive"),
        ((np.zeros((3, 2)), None, (4, 4), 0.0), "sigma"),
        ((np.zeros((3, 2)), None, (4, 4), np.nan), "sigma"),
    ],
)
def test_render_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        render_belief_maps(*args)


def test_decode_bad_input():
    with pytest.raises(ValueError, match="H, W"):
        decode_belief_maps(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="stride"):
        decode_belief_maps(np.zeros((1, 4, 4)), stride=0)


# ------------------------------------------------------------------------------------------ fusion
def _pair():
    rng = np.random.default_rng(2)
    cnn = render_belief_maps(rng.uniform(5, 25, (3, 2)), None, (32, 32), 2.0)
    proj = render_belief_maps(rng.uniform(5, 25, (3, 2)), None, (32, 32), 2.0)
    return cnn, proj


@pytest.mark.parametrize("mode", ["arithmetic", "geometric"])
def test_fuse_weight_zero_is_cnn_and_one_is_projected(mode):
    cnn, proj = _pair()
    assert_array_equal(fuse_belief_maps(cnn, proj, 0.0, mode), cnn)
    assert_array_equal(fuse_belief_maps(cnn, proj, 1.0, mode), proj)


def test_fuse_arithmetic_worked_example():
    cnn = np.array([[[1.0, 0.0]]], dtype=np.float32)
    proj = np.array([[[0.0, 1.0]]], dtype=np.float32)
    assert_allclose(fuse_belief_maps(cnn, proj, 0.25), [[[0.75, 0.25]]])


def test_fuse_geometric_is_weighted_product():
    cnn = np.full((1, 1, 1), 0.25, dtype=np.float32)
    proj = np.full((1, 1, 1), 1.0, dtype=np.float32)
    assert_allclose(fuse_belief_maps(cnn, proj, 0.5, "geometric"), [[[0.5]]], rtol=1e-4)


def test_fuse_per_joint_weight():
    cnn, proj = _pair()
    out = fuse_belief_maps(cnn, proj, np.array([0.0, 0.5, 1.0]))
    assert_array_equal(out[0], cnn[0])
    assert_allclose(out[1], 0.5 * (cnn[1] + proj[1]), rtol=1e-6)
    assert_array_equal(out[2], proj[2])


def test_fuse_arithmetic_keeps_cnn_peak_when_projection_is_wrong():
    cnn = render_belief_maps(np.array([[8.0, 8.0]]), None, (32, 32), 2.0)
    proj = render_belief_maps(np.array([[24.0, 24.0]]), None, (32, 32), 2.0)
    out = fuse_belief_maps(cnn, proj, 0.4)
    assert_allclose(out[0, 8, 8], 0.6, rtol=1e-4)
    assert decode_belief_maps(out)[0][0].tolist() == pytest.approx([8.0, 8.0], abs=0.05)


@pytest.mark.parametrize(
    ("cnn", "proj", "weight", "mode", "match"),
    [
        (np.zeros((1, 4, 4)), np.zeros((1, 4, 5)), 0.5, "arithmetic", "differ in shape"),
        (np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), 1.5, "arithmetic", r"\[0, 1\]"),
        (np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), np.nan, "arithmetic", r"\[0, 1\]"),
        (np.zeros((2, 4, 4)), np.zeros((2, 4, 4)), np.ones(3) * 0.5, "arithmetic", "3 entries for 2 joints"),
        (np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), 0.5, "max", "unknown fusion mode"),
        (np.full((1, 4, 4), np.nan), np.zeros((1, 4, 4)), 0.5, "arithmetic", "NaN"),
        (np.zeros((4, 4)), np.zeros((4, 4)), 0.5, "arithmetic", "J, H, W"),
    ],
)
def test_fuse_bad_input(cnn, proj, weight, mode, match):
    with pytest.raises(ValueError, match=match):
        fuse_belief_maps(cnn, proj, weight, mode)
