"""The whole ROS-free pipeline with unusual but valid cameras: the field-of-view limits of the intrinsics validation
(nothing may overflow there) and a distorted lens."""

from __future__ import annotations

import importlib.resources
import math
import warnings

import cv2
import numpy as np
import pytest

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.distortion import Distortion
from pose3d_ros.core.intrinsics import MAX_FOV_DEG, MIN_FOV_DEG, validate_intrinsics
from pose3d_ros.pipeline import Frame, Pose3DPipeline

FOOTAGE = importlib.resources.files("pose3d_ros") / "resources" / "footage"


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(FOOTAGE / "basketball1.png"))[..., ::-1])


@pytest.fixture(scope="module")
def pipe():
    with Pose3DPipeline({"tracking": False}) as p:
        yield p


def _people(pipe, image, cam):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow / invalid-value RuntimeWarning fails the test
        with np.errstate(over="raise", divide="raise"):
            return pipe.process(Frame(image, None, cam, 0.0)).people


@pytest.mark.parametrize("fov", [MIN_FOV_DEG, MAX_FOV_DEG])
def test_cameras_at_the_validation_limits_stay_finite(pipe, image, fov):
    h, w = image.shape[:2]
    side = h if fov == MIN_FOV_DEG else w  # the axis that reaches the limit first with square pixels
    f = side / (2 * math.tan(math.radians(fov) / 2))
    k = [f, 0, (w - 1) / 2, 0, f, (h - 1) / 2, 0, 0, 1]
    assert validate_intrinsics(k, w, h) == []
    people = _people(pipe, image, PinholeCamera.from_K(k, w, h))
    assert len(people) >= 2
    z = np.array([p.joints[:, 2] for p in people])
    assert np.isfinite(np.array([p.joints for p in people])).all()
    # the same pixels: a narrow lens sees the players far away, a wide one close by (at 170 degrees a body fills
    # the view a hand's breadth away: some joints may then lie behind the camera plane, a fact of that geometry)
    assert (np.median(z) > 8.0) if fov == MIN_FOV_DEG else (np.median(z) < 0.5)


def test_distorted_camera_keeps_raw_pixels(pipe, image):
    h, w = image.shape[:2]
    ideal = PinholeCamera.default(w, h)
    lens = PinholeCamera(ideal.fx, ideal.fy, ideal.cx, ideal.cy, w, h, Distortion("plumb_bob", (-0.2, 0.05, 0, 0, 0)))
    plain = _people(pipe, image, ideal)
    bent = _people(pipe, image, lens)
    assert len(bent) == len(plain) >= 2
    for a, b in zip(plain, bent, strict=True):
        seen = a.confidence > 0
        np.testing.assert_allclose(b.pixels[seen], a.pixels[seen])  # the CNN's raw-image joints, unchanged
        assert np.isfinite(b.joints).all()
        assert np.abs(b.joints - a.joints).max() > 1e-3  # the lens changed the 3D
