"""Tests for pose3d_ros.core.depth_check: plausible range, and frames whose statistics say "wrong units"."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.core.depth_check import (
    DEFAULT_MAX_DEPTH_M,
    DEFAULT_MIN_DEPTH_M,
    apply_depth_range,
    check_depth_units,
)
from pose3d_ros.core.image_encodings import decode_depth


def _scene(shape=(480, 640), seed=0) -> np.ndarray:
    """A room: wall at 3.5 m, a person at 2 m, 10% no reading (metres, float32)."""
    rng = np.random.default_rng(seed)
    d = np.full(shape, 3.5, np.float32)
    d[100:400, 250:400] = 2.0
    d[rng.random(shape) < 0.1] = np.nan
    return d


def test_defaults_are_the_issue_range():
    assert (DEFAULT_MIN_DEPTH_M, DEFAULT_MAX_DEPTH_M) == (0.2, 10.0)


def test_plausible_frame_passes_and_out_of_range_readings_are_nan():
    d = _scene()
    d[0, :3] = [0.05, 0.19, 12.0]  # too near for the sensor, and beyond its range
    d[1, :2] = [0.2, 10.0]  # the limits themselves are kept
    check = check_depth_units(d, "16UC1")
    assert check.problem is None and check.cause is None and check.usable and not check.converted
    assert np.isnan(check.depth_m[0, :3]).all()
    assert check.depth_m[1, :2].tolist() == [np.float32(0.2), 10.0]
    assert check.median_m == pytest.approx(3.5)
    assert 0.85 < check.valid_fraction < 0.95
    assert not np.isnan(d[0, 0])  # input untouched


def test_32fc1_in_millimetres_is_flagged_and_converted_on_request():
    mm = _scene() * 1000.0
    check = check_depth_units(mm, "32FC1")
    assert check.cause == "millimetres_as_metres" and "millimetres" in check.problem and not check.usable
    assert np.isnan(check.depth_m).all()  # 2000 "m" is beyond the range: no guessed depth
    fixed = check_depth_units(mm, "32FC1", convert_mm=True)
    assert fixed.converted and fixed.usable and "converted" in fixed.problem
    assert_allclose(fixed.depth_m, _scene(), rtol=1e-6, equal_nan=True)


def test_16uc1_all_65535():
    raw = np.full((48, 64), 65535, np.uint16)
    check = check_depth_units(decode_depth(raw, "16UC1"), "16UC1")
    assert check.cause == "all_65535" and "65535" in check.problem
    assert np.isnan(check.depth_m).all()


def test_16uc1_holding_metres():
    raw = np.rint(np.nan_to_num(_scene(), nan=0.0)).astype(np.uint16)  # 2 and 4 "mm": metres as integers
    check = check_depth_units(decode_depth(raw, "16UC1"), "16UC1")
    assert check.cause == "metres_as_millimetres" and "metres stored as integers" in check.problem


@pytest.mark.parametrize(("scale", "encoding"), [(10.0, "16UC1"), (0.01, "32FC1")])
def test_median_outside_the_range(scale, encoding):
    # 16UC1 in 0.1 mm (a 2 m person reads 20 m), or 32FC1 in hectometres
    check = check_depth_units(_scene() * np.float32(scale), encoding)
    assert check.cause == "median_out_of_range" and "far outside the plausible range [0.2, 10] m" in check.problem


def test_no_reading_at_all():
    check = check_depth_units(np.full((8, 8), np.nan, np.float32), "32FC1")
    assert check.cause == "no_reading" and np.isnan(check.median_m) and check.valid_fraction == 0.0


def test_custom_range_and_errors():
    d = _scene()
    check = check_depth_units(d, "32FC1", min_m=0.5, max_m=3.0)
    assert check.problem is None  # the wall (3.5 m) is beyond a 3 m sensor range: the scene, not the units
    assert np.isnan(check.depth_m[0, 0]) and check.depth_m[200, 300] == np.float32(2.0)
    assert check_depth_units(d, "32FC1", min_m=0.5, max_m=1.5).cause == "median_out_of_range"  # 2.3x
    with pytest.raises(ValueError, match=r"0 <= min_m < max_m"):
        check_depth_units(d, "32FC1", min_m=3.0, max_m=1.0)
    with pytest.raises(ValueError, match="unsupported depth encoding 'rgb8'"):
        check_depth_units(d, "rgb8")
    with pytest.raises(ValueError, match="float image"):
        apply_depth_range(np.zeros((2, 2), np.uint16))
