"""``sensor_msgs/CameraInfo`` <-> PinholeCamera without DDS: distortion honoured, nothing guessed."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy")
import pose3d_ros.ros  # noqa: E402,F401
from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.core.distortion import Distortion, DistortionError  # noqa: E402
from pose3d_ros.core.intrinsics import IntrinsicsError  # noqa: E402
from pose3d_ros.ros.conversions import camera_from_info, camera_info_from_camera  # noqa: E402

pytestmark = pytest.mark.ros

#: Azure Kinect 720p colour camera (rational_polynomial, 8 coefficients, as its ROS driver publishes it)
AZURE = PinholeCamera(
    605.9,
    605.8,
    638.4,
    367.0,
    1280,
    720,
    Distortion("rational_polynomial", (0.52, -2.6, 0.0007, -0.0003, 1.5, 0.4, -2.4, 1.43)),
)


def test_distortion_round_trips_through_camera_info():
    info = camera_info_from_camera(AZURE)
    assert info.distortion_model == "rational_polynomial" and len(info.d) == 8
    assert camera_from_info(info) == AZURE


@pytest.mark.parametrize(("model", "d"), [("plumb_bob", [0.0] * 5), ("", []), ("equidistant", [0.0] * 4)])
def test_no_distortion(model, d):
    info = camera_info_from_camera(PinholeCamera.default(640, 480))
    info.distortion_model, info.d = model, d
    assert camera_from_info(info).distortion is None


def test_k8_not_one_is_refused_not_rescaled():
    info = camera_info_from_camera(PinholeCamera.default(640, 480))
    info.k = [v * 525.0 for v in info.k]
    with pytest.raises(IntrinsicsError, match=r"K\[2\]\[2\] = 525 must be 1"):
        camera_from_info(info)


def test_implausible_focal_length_and_unknown_model():
    info = camera_info_from_camera(PinholeCamera.default(640, 480))
    info.k = [1e300, 0.0, 319.5, 0.0, 1e300, 239.5, 0.0, 0.0, 1.0]
    with pytest.raises(IntrinsicsError, match="field of view"):
        camera_from_info(info)
    info = camera_info_from_camera(PinholeCamera.default(640, 480))
    info.distortion_model, info.d = "kannala_brandt8", [0.1] * 8
    with pytest.raises(DistortionError, match="unknown distortion model"):
        camera_from_info(info)


def test_rectified_uses_p_and_ignores_d():
    info = camera_info_from_camera(AZURE)
    info.p = [590.0, 0.0, 640.0, 0.0, 0.0, 590.0, 360.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    cam = camera_from_info(info, rectified=True)
    assert cam.distortion is None and (cam.fx, cam.cx, cam.cy) == (590.0, 640.0, 360.0)
    np.testing.assert_array_equal(camera_from_info(info).K, AZURE.K)
