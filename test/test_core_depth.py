"""Tests for pose3d_ros.core.depth: robust joint depth sampling."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.depth import sample_joint_depth

CAM = PinholeCamera.default(640, 480)


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
