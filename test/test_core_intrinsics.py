"""Tests for pose3d_ros.core.intrinsics: every implausible camera matrix is named, nothing is guessed."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from pose3d_ros.core.intrinsics import (
    IntrinsicsError,
    check_intrinsics,
    field_of_view_deg,
    validate_intrinsics,
)

KINECT = [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]


def _k(**kw: float) -> list[float]:
    k = list(KINECT)
    names = {"fx": 0, "s": 1, "cx": 2, "k3": 3, "fy": 4, "cy": 5, "k6": 6, "k7": 7, "k8": 8}
    for name, value in kw.items():
        k[names[name]] = value
    return k


def test_real_cameras_pass():
    assert validate_intrinsics(KINECT, 640, 480) == []
    assert validate_intrinsics(np.reshape(KINECT, (3, 3)), 640, 480) == []
    # Azure Kinect 1280x720 colour, RealSense D435 depth 848x480
    assert validate_intrinsics([605.9, 0, 638.4, 0, 605.8, 367.0, 0, 0, 1], 1280, 720) == []
    assert validate_intrinsics([421.4, 0, 422.6, 0, 421.4, 240.9, 0, 0, 1], 848, 480) == []


def test_field_of_view_worked_example():
    assert field_of_view_deg(320.0, 640) == pytest.approx(90.0)
    assert field_of_view_deg(525.0, 640) == pytest.approx(62.7, abs=0.05)  # Kinect v1 colour


@pytest.mark.parametrize("fov", [10.0, 170.0])
def test_focal_length_bounds_are_the_fov_limits(fov):
    f = 640 / (2 * math.tan(math.radians(fov) / 2))
    fy = 480 / (2 * math.tan(math.radians(fov) / 2))
    assert validate_intrinsics(_k(fx=f, fy=fy), 640, 480) == []
    nudge = 1.001 if fov == 10.0 else 0.999  # just outside
    problems = validate_intrinsics(_k(fx=f * nudge, fy=fy * nudge), 640, 480)
    assert len(problems) == 2 and "horizontal field of view" in problems[0] and "vertical" in problems[1]


@pytest.mark.parametrize(
    ("k", "size", "match"),
    [
        (_k(k8=525.0), (640, 480), r"K\[2\]\[2\] = 525 must be 1"),
        (_k(k8=0.0), (640, 480), r"K\[2\]\[2\] = 0 must be 1"),
        (_k(k6=0.1), (640, 480), "lower triangle"),
        (_k(fx=0.0), (640, 480), "focal lengths must be > 0"),
        (_k(fy=-525.0), (640, 480), "focal lengths must be > 0"),
        (_k(fx=1e300, fy=1e300), (640, 480), "horizontal field of view"),
        (_k(fx=1.0, fy=1.0), (640, 480), "horizontal field of view"),
        (_k(fy=100.0), (640, 480), "differ by more than 3x"),
        (_k(cx=640.0), (640, 480), "principal point cx = 640 is outside"),
        (_k(cy=-1.0), (640, 480), "principal point cy = -1 is outside"),
        (_k(s=5.0), (640, 480), "skew"),
        ([0.0] * 9, (640, 480), "all zeros"),
        ([np.nan] * 9, (640, 480), "non-finite"),
        ([1.0] * 8, (640, 480), "9 values"),
        (KINECT, (0, 480), "image width 0"),
        (KINECT, (640, 480.5), "image height 480.5"),
        (KINECT, ("wide", 480), "image width 'wide' is not a number"),
    ],
)
def test_each_problem_is_named(k, size, match):
    problems = validate_intrinsics(k, *size)
    assert problems and any(re.search(match, p) for p in problems), problems
    with pytest.raises(IntrinsicsError, match=match) as info:
        check_intrinsics(k, *size)
    assert isinstance(info.value, ValueError) and info.value.problems == problems


def test_small_skew_passes_and_several_problems_are_all_listed():
    assert validate_intrinsics(_k(s=0.5), 640, 480) == []  # moves the edge by 0.23 px
    problems = validate_intrinsics(_k(k8=2.0, cx=-10.0, cy=900.0), 640, 480)
    assert len(problems) == 3
    with pytest.raises(IntrinsicsError, match="; "):
        check_intrinsics(_k(k8=2.0, cx=-10.0), 640, 480)


def test_bad_limits_raise():
    with pytest.raises(ValueError, match="min_fov_deg"):
        validate_intrinsics(KINECT, 640, 480, min_fov_deg=90, max_fov_deg=60)
    with pytest.raises(ValueError, match="max_pixel_aspect"):
        validate_intrinsics(KINECT, 640, 480, max_pixel_aspect=0.5)
