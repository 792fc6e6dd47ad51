"""Tests for pose3d_ros.core.distortion and the distorted PinholeCamera: OpenCV agreement, inversion, NaN safety."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.distortion import Distortion, DistortionError

K = np.array([[525.0, 0.0, 319.5], [0.0, 530.0, 239.5], [0.0, 0.0, 1.0]])
#: a wide webcam (barrel), an Azure-Kinect-like rational model, a fisheye
MODELS = {
    "plumb_bob": (-0.35, 0.15, 0.001, -0.001, -0.03),
    "rational_polynomial": (0.55, -0.05, 0.0008, -0.0004, 0.002, 0.9, 0.05, 0.01),
    "equidistant": (0.08, -0.03, 0.01, -0.002),
}


def _camera(model: str) -> PinholeCamera:
    return PinholeCamera(525.0, 530.0, 319.5, 239.5, 640, 480, Distortion(model, MODELS[model]))


def _points(n: int = 500, seed: int = 0, spread: float = 0.75) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.8, 5.0, n)
    return np.column_stack([rng.uniform(-spread, spread, n) * z, rng.uniform(-0.6, 0.6, n) * z, z])


def _opencv_project(model: str, pts: np.ndarray) -> np.ndarray:
    d = np.asarray(MODELS[model])
    if model == "equidistant":
        uv, _ = cv2.fisheye.projectPoints(pts.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), K, d)
    else:
        uv, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), K, d)
    return uv.reshape(-1, 2)


@pytest.mark.parametrize("model", list(MODELS))
def test_project_matches_opencv(model):
    pts = _points()
    assert_allclose(_camera(model).project(pts), _opencv_project(model, pts), atol=1e-8)


@pytest.mark.parametrize("model", list(MODELS))
def test_undistort_gives_the_ideal_pinhole_pixel(model):
    cam = _camera(model)
    pts = _points(seed=1)
    raw = _opencv_project(model, pts)
    ideal = np.column_stack([525.0 * pts[:, 0] / pts[:, 2] + 319.5, 530.0 * pts[:, 1] / pts[:, 2] + 239.5])
    assert np.abs(raw - ideal).max() > 10  # the lens really moves pixels
    assert_allclose(cam.undistort_pixels(raw), ideal, atol=1e-6)
    assert_allclose(cam.distort_pixels(ideal), raw, atol=1e-8)


@pytest.mark.parametrize("model", list(MODELS))
def test_back_projection_with_distortion_is_sub_millimetre(model):
    cam = _camera(model)
    pts = _points(seed=2)
    raw = _opencv_project(model, pts)
    err = np.linalg.norm(cam.back_project(raw, pts[:, 2]) - pts, axis=1)
    assert err.max() < 1e-6  # metres
    # ignoring the lens is wrong by centimetres near the image edges: the test can fail
    naive = np.linalg.norm(cam.without_distortion().back_project(raw, pts[:, 2]) - pts, axis=1)
    edge = np.linalg.norm(raw - (319.5, 239.5), axis=1) > 250
    assert edge.sum() > 10 and np.median(naive[edge]) > 0.03


def test_nan_and_shapes_are_kept():
    cam = _camera("plumb_bob")
    uv = np.array([[[np.nan, 10.0], [100.0, 200.0]], [[np.inf, 1.0], [320.0, 240.0]]])
    out = cam.undistort_pixels(uv)
    assert out.shape == (2, 2, 2)
    assert np.isnan(out[0, 0]).all() and np.isnan(out[1, 0]).all()
    assert np.isfinite(out[:, 1]).all()
    assert np.isnan(cam.undistort_pixels(np.full((3, 2), np.nan))).all()
    assert np.isnan(cam.project(np.array([[np.nan, 0, 1], [0, 0, -1.0]]))).all()
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        cam.undistort_pixels(np.zeros((4, 3)))


def test_points_beyond_the_monotonic_range_are_nan():
    # k1 = -0.5: r_d = r (1 - 0.5 r^2) stops growing at r = sqrt(2/3); beyond, the model folds back into the image
    d = Distortion("plumb_bob", (-0.5, 0, 0, 0, 0))
    assert d.max_radius == pytest.approx(np.sqrt(2 / 3), abs=2e-3)
    cam = PinholeCamera(300.0, 300.0, 319.5, 239.5, 640, 480, d)
    uv = cam.project(np.array([[0.5, 0.0, 1.0], [1.2, 0.0, 1.0]]))
    assert np.isfinite(uv[0]).all() and np.isnan(uv[1]).all()
    # the largest distorted radius is 0.544 (at r = 0.816): a raw pixel beyond has no inverse -> NaN, not a wrong point
    raw = np.array([[319.5 + 300 * 0.5, 239.5], [319.5 + 300 * 0.6, 239.5]])
    und = cam.undistort_pixels(raw)
    assert np.isfinite(und[0]).all() and np.isnan(und[1]).all()
    assert_allclose(cam.distort_pixels(und[:1]), raw[:1], atol=1e-8)


def test_from_ros_no_distortion_and_errors():
    assert Distortion.from_ros("plumb_bob", [0.0] * 5) is None
    assert Distortion.from_ros("", []) is None
    assert Distortion.from_ros("whatever", [0, 0, 0, 0]) is None  # all-zero D: no distortion, any name
    assert Distortion.from_ros("plumb_bob", [0.1, 0.0, 0.0, 0.0]).coeffs == (0.1, 0.0, 0.0, 0.0, 0.0)
    assert Distortion.from_ros("fisheye", [0.1, 0, 0, 0]).model == "equidistant"
    with pytest.raises(DistortionError, match="unknown distortion model 'kb8'"):
        Distortion.from_ros("kb8", [0.1])
    with pytest.raises(DistortionError, match="without a distortion_model"):
        Distortion.from_ros("", [0.1, 0, 0, 0, 0])
    with pytest.raises(DistortionError, match="plumb_bob takes 5 coefficients, got 8"):
        Distortion.from_ros("plumb_bob", [0.1, 0, 0, 0, 0, 0.3, 0, 0])
    with pytest.raises(DistortionError, match="finite"):
        Distortion.from_ros("plumb_bob", [np.nan, 0, 0, 0, 0.1])
    assert isinstance(DistortionError("x"), ValueError)


def test_camera_without_distortion_and_zero_distortion():
    cam = _camera("plumb_bob")
    assert cam.has_distortion and not cam.without_distortion().has_distortion
    assert cam.without_distortion().K.tolist() == cam.K.tolist()
    zero = PinholeCamera(525.0, 530.0, 319.5, 239.5, 640, 480, Distortion("plumb_bob", (0,) * 5))
    assert zero.distortion is None and zero == cam.without_distortion()
    with pytest.raises(ValueError, match="Distortion or None"):
        PinholeCamera(525.0, 530.0, 319.5, 239.5, 640, 480, (0.1, 0, 0, 0, 0))  # type: ignore[arg-type]


def test_scaled_camera_keeps_the_lens():
    cam = _camera("rational_polynomial")
    half = cam.scaled(0.5)
    pts = _points(50, seed=3)
    # the same scene seen in the half-size image: u' = (u + 0.5) / 2 - 0.5
    assert_allclose(half.project(pts), (cam.project(pts) + 0.5) * 0.5 - 0.5, atol=1e-9)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_real_lenses_pass_the_image_check(model):
    assert PinholeCamera.from_K(K, 640, 480, Distortion(model, MODELS[model])).distortion.model == model


@pytest.mark.parametrize("model,coeffs,words", [
    ("plumb_bob", (-1.0, 0, 0, 0, 0), "cannot be undistorted at 132 of 132 points of the 640x480 image border"),
    ("plumb_bob", (1e10, -1e10, 1e10, 1e10, 1e10), "cannot be undistorted"),
    ("equidistant", (1e6, 1e6, 1e6, 1e6), "turns the 640x480 image into 0.0"),
])
def test_implausible_lenses_are_refused(model, coeffs, words):
    """Lenses the fuzz bench sent: people lifted through them came out with 9 cm thighs."""
    dist = Distortion(model, coeffs)
    with pytest.raises(DistortionError, match=words):
        dist.check_image(K, 640, 480)
    with pytest.raises(DistortionError, match=model):
        PinholeCamera.from_K(K, 640, 480, dist)
