"""Tests for pose3d_ros.core.camera: pinhole geometry, calibration YAML, REP-118 depth."""

import numpy as np
import pytest
import yaml
from numpy.testing import assert_allclose

from pose3d_ros.core.camera import PinholeCamera, depth_to_metres, load_camera_yaml, save_camera_yaml
from pose3d_ros.core.distortion import Distortion, DistortionError
from pose3d_ros.core.intrinsics import IntrinsicsError

CAM = PinholeCamera(fx=500.0, fy=510.0, cx=320.0, cy=240.0, width=640, height=480)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fx": 0.0}, "focal lengths must be > 0"),
        ({"fy": -1.0}, "focal lengths must be > 0"),
        ({"fx": np.nan}, "fx must be finite"),
        ({"cx": np.inf}, "cx must be finite"),
        ({"width": 0}, "width must be > 0"),
        ({"height": 480.5}, "whole number"),
        ({"fx": "abc"}, "fx must be a number"),
    ],
)
def test_invalid_intrinsics_raise(kwargs, match):
    args = {"fx": 500.0, "fy": 500.0, "cx": 320.0, "cy": 240.0, "width": 640, "height": 480, **kwargs}
    with pytest.raises(ValueError, match=match):
        PinholeCamera(**args)


def test_from_K_round_trip_and_zero_K():
    cam = PinholeCamera.from_K(CAM.K.ravel(), 640, 480)
    assert cam == CAM
    with pytest.raises(ValueError, match="all zeros"):
        PinholeCamera.from_K(np.zeros(9), 640, 480)
    with pytest.raises(ValueError, match="9 values"):
        PinholeCamera.from_K(np.eye(2), 640, 480)
    with pytest.raises(ValueError, match="non-finite"):
        PinholeCamera.from_K(np.full((3, 3), np.nan), 640, 480)


def test_default_is_kinect_v1_scaled():
    cam = PinholeCamera.default(320, 240)
    assert cam.fx == cam.fy == 262.5
    assert (cam.cx, cam.cy) == (159.5, 119.5)


def test_project_worked_example():
    uv = CAM.project([0.2, -0.1, 2.0])
    assert_allclose(uv, [320 + 500 * 0.1, 240 - 510 * 0.05])


def test_project_behind_camera_and_nonfinite_is_nan():
    uv = CAM.project(np.array([[0, 0, -1.0], [0, 0, 0.0], [np.nan, 0, 1], [0.1, 0.1, 1.0]]))
    assert np.isnan(uv[:3]).all()
    assert np.isfinite(uv[3]).all()


def test_back_project_inverts_project():
    rng = np.random.default_rng(0)
    pts = rng.uniform([-1, -1, 0.5], [1, 1, 5], size=(7, 16, 3))
    assert_allclose(CAM.back_project(CAM.project(pts), pts[..., 2]), pts, atol=1e-12)


def test_back_project_invalid_depth_is_nan():
    out = CAM.back_project(np.array([[10.0, 20.0]] * 4), np.array([0.0, -1.0, np.nan, 2.0]))
    assert np.isnan(out[:3]).all()
    assert_allclose(out[3], [(10 - 320) / 500 * 2, (20 - 240) / 510 * 2, 2.0])


def test_back_project_bad_shapes():
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        CAM.back_project(np.zeros((4, 3)), 1.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        CAM.back_project(np.zeros((4, 2)), np.ones(3))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        CAM.project(np.zeros((4, 2)))


def test_scaled_matches_resized_pixel_centres():
    half = CAM.scaled(0.5)
    assert (half.width, half.height) == (320, 240)
    p = np.array([0.3, 0.2, 2.0])
    # Pixel-centre convention: u' = (u + 0.5) * s - 0.5.
    assert_allclose(half.project(p), (CAM.project(p) + 0.5) * 0.5 - 0.5)
    with pytest.raises(ValueError, match="sx"):
        CAM.scaled(0.0)


def test_yaml_round_trip(tmp_path):
    path = tmp_path / "cam.yaml"
    save_camera_yaml(path, CAM, "kinect_rgb")
    data = yaml.safe_load(path.read_text())
    assert data["camera_name"] == "kinect_rgb"
    assert data["camera_matrix"] == {"rows": 3, "cols": 3, "data": [500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0, 0, 1]}
    assert len(data["projection_matrix"]["data"]) == 12
    assert load_camera_yaml(path) == CAM
    assert load_camera_yaml(path, use_projection=True) == CAM


def test_yaml_distortion_is_read_and_round_trips(tmp_path):
    path = tmp_path / "cam.yaml"
    save_camera_yaml(path, CAM)
    data = yaml.safe_load(path.read_text())
    data["distortion_model"] = "rational_polynomial"
    data["distortion_coefficients"] = {"rows": 1, "cols": 8, "data": [0.5, -0.1, 0.001, 0.0, 0.01, 0.8, 0.1, 0.0]}
    path.write_text(yaml.safe_dump(data))
    cam = load_camera_yaml(path)
    assert cam.distortion == Distortion("rational_polynomial", (0.5, -0.1, 0.001, 0.0, 0.01, 0.8, 0.1, 0.0))
    assert load_camera_yaml(path, use_projection=True).distortion is None  # rectified: P, no distortion
    save_camera_yaml(tmp_path / "again.yaml", cam)
    assert load_camera_yaml(tmp_path / "again.yaml") == cam
    data["distortion_model"] = "mystery"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(DistortionError, match=r"cam.yaml: unknown distortion model 'mystery'"):
        load_camera_yaml(path)


def test_from_K_refuses_to_guess():
    scaled = CAM.K * 525.0  # a driver that scaled the whole matrix: no silent rescaling any more
    with pytest.raises(IntrinsicsError, match=r"K\[2\]\[2\] = 525 must be 1"):
        PinholeCamera.from_K(scaled, 640, 480)
    with pytest.raises(IntrinsicsError, match="field of view"):
        PinholeCamera.from_K(np.diag([1e300, 1e300, 1.0]) + [[0, 0, 320], [0, 0, 240], [0, 0, 0]], 640, 480)
    with pytest.raises(IntrinsicsError, match="principal point cx"):
        PinholeCamera.from_K([[500, 0, 700], [0, 500, 240], [0, 0, 1]], 640, 480)
    d = Distortion("plumb_bob", (0.1, 0, 0, 0, 0))
    assert PinholeCamera.from_K(CAM.K, 640, 480, d).distortion == d


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.pop("image_width"), "image_width"),
        (lambda d: d["camera_matrix"].update(data=[0.0] * 9), "all zeros"),
        (lambda d: d["camera_matrix"].update(data=[1.0] * 8), "declares 3x3 but has 8"),
    ],
)
def test_yaml_bad_content(tmp_path, mutate, match):
    path = tmp_path / "cam.yaml"
    save_camera_yaml(path, CAM)
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=match):
        load_camera_yaml(path)


def test_yaml_not_a_mapping(tmp_path):
    path = tmp_path / "cam.yaml"
    path.write_text("[1, 2")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_camera_yaml(path)


def test_depth_16uc1_millimetres():
    d = np.array([[0, 1000], [1500, 65535]], dtype=np.uint16)
    m = depth_to_metres(d, "16UC1")
    assert m.dtype == np.float32
    assert np.isnan(m[0, 0])
    assert_allclose(m[0, 1:], [1.0])
    assert_allclose(m[1], [1.5, 65.535], rtol=1e-6)


def test_depth_32fc1_invalid_values():
    d = np.array([[np.nan, np.inf], [0.0, 2.5]], dtype=np.float32)
    m = depth_to_metres(d, "32FC1")
    assert np.isnan(m[0]).all() and np.isnan(m[1, 0])
    assert m[1, 1] == np.float32(2.5)
    assert not np.isnan(d[1, 1])  # input untouched


def test_depth_bad_encoding_and_shape():
    with pytest.raises(ValueError, match="unsupported depth encoding 'rgb8'"):
        depth_to_metres(np.zeros((2, 2)), "rgb8")
    with pytest.raises(ValueError, match="2-D"):
        depth_to_metres(np.zeros(4), "32FC1")
