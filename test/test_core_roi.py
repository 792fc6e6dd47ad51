"""Rotation-aligned person regions (core/roi.py) and the network input geometry (models/frontend.py)."""

import cv2
import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.core.roi import (
    RotatedRect,
    crop_matrix,
    crop_to_image,
    image_to_crop,
    rect_from_alignment_points,
    rect_from_keypoints,
)
from pose3d_ros.models.frontend import input_size_for_frame


def test_upright_body_gives_an_unrotated_square_of_scaled_size():
    rect = rect_from_alignment_points((100.0, 200.0), (100.0, 120.0))
    assert rect.rotation == pytest.approx(0.0)
    assert rect.size == pytest.approx(2 * 80 * 1.25)
    assert (rect.cx, rect.cy) == (100.0, 200.0)


@pytest.mark.parametrize("direction, expected", [((1, 0), np.pi / 2), ((-1, 0), -np.pi / 2), ((0, 1), np.pi)])
def test_rotation_turns_the_spine_to_crop_up(direction, expected):
    rect = rect_from_alignment_points((50.0, 50.0), np.add((50.0, 50.0), np.multiply(direction, 30.0)))
    assert abs(np.angle(np.exp(1j * (rect.rotation - expected)))) < 1e-9


def test_crop_maps_the_spine_direction_to_up_in_the_crop():
    center, top = np.array([300.0, 200.0]), np.array([360.0, 140.0])  # leaning right
    rect = rect_from_alignment_points(center, top)
    crop = image_to_crop(np.stack([center, top]), rect, 256)
    assert_allclose(crop[0], [127.5, 127.5], atol=1e-9)  # centre pixel of the crop (pixel-centre convention)
    d = crop[1] - crop[0]
    assert abs(d[0]) < 1e-9 and d[1] < 0  # straight up


def test_crop_matrix_agrees_with_warp_affine_and_inverts():
    rng = np.random.default_rng(0)
    image = np.zeros((240, 320, 3), np.uint8)
    rect = RotatedRect(150.0, 110.0, 120.0, 0.4)
    pts = rng.uniform(60, 180, size=(5, 2))
    for x, y in pts.round().astype(int):
        image[y, x] = 255
    crop = cv2.warpAffine(image, crop_matrix(rect, 256), (256, 256), flags=cv2.INTER_NEAREST)
    mapped = image_to_crop(pts.round(), rect, 256)
    for (u, v) in mapped:
        if 0 <= u < 255 and 0 <= v < 255:
            window = crop[int(round(v)) - 2:int(round(v)) + 3, int(round(u)) - 2:int(round(u)) + 3]
            assert window.max() == 255
    assert_allclose(crop_to_image(mapped, rect, 256), pts.round(), atol=1e-9)


def test_keypoint_rect_covers_every_joint_and_handles_missing_hips():
    pts = np.array([[100, 100], [120, 100], [95, 160], [125, 160], [110, 230]], float)  # ls, rs, lh, rh, foot
    conf = np.ones(5)
    rect = rect_from_keypoints(pts, conf, 2, 3, 0, 1)
    crop = image_to_crop(pts, rect, 256)
    assert (crop > 0).all() and (crop < 256).all()
    conf_no_hips = conf.copy()
    conf_no_hips[[2, 3]] = 0
    rect2 = rect_from_keypoints(pts, conf_no_hips, 2, 3, 0, 1)
    assert rect2 is not None and rect2.rotation == pytest.approx(0.0)


def test_keypoint_rect_needs_two_joints():
    pts = np.full((5, 2), np.nan)
    pts[0] = (10, 10)
    assert rect_from_keypoints(pts, np.ones(5), 2, 3, 0, 1) is None


@pytest.mark.parametrize("bad", [(np.nan, 0.0, 10.0, 0.0), (0.0, 0.0, 0.0, 0.0), (0.0, 0.0, -5.0, 0.0),
                                 (0.0, 0.0, 10.0, np.inf)])
def test_bad_regions_are_refused(bad):
    with pytest.raises(ValueError, match="region"):
        RotatedRect(*bad)


def test_coincident_alignment_points_are_refused():
    with pytest.raises(ValueError, match="coincide"):
        rect_from_alignment_points((5.0, 5.0), (5.0, 5.0))


@pytest.mark.parametrize("hw, expected_portrait", [((480, 640), False), ((1920, 1088), True), ((640, 360), True)])
def test_input_follows_the_frame_aspect_and_budget(hw, expected_portrait):
    h_in, w_in = input_size_for_frame(*hw, pixels=90112)
    assert (h_in > w_in) == expected_portrait
    assert h_in % 32 == 0 and w_in % 32 == 0
    assert 0.75 * 90112 <= h_in * w_in <= 1.3 * 90112
    assert abs(np.log((w_in / h_in) / (hw[1] / hw[0]))) < 0.15  # the person is not letterboxed


def test_input_geometry_extreme_frames_stay_valid():
    assert input_size_for_frame(10, 10000, 90112) == (32, int(round(np.sqrt(90112 * 1000) / 32)) * 32)
    assert input_size_for_frame(1, 1, 90112, max_size=(1, 1)) == (32, 32)
    with pytest.raises(ValueError, match="positive"):
        input_size_for_frame(0, 100, 90112)


def test_upper_body_only_gets_a_whole_body_crop_centred_below_the_shoulders():
    pts = np.full((5, 2), np.nan)
    pts[0], pts[1], pts[4] = (300, 200), (260, 200), (280, 160)  # shoulders 40 px apart, head above
    rect = rect_from_keypoints(pts, np.ones(5), 2, 3, 0, 1)
    assert rect.cy == pytest.approx(200 + 1.3 * 40) and rect.cx == pytest.approx(280)
    assert rect.size >= 2 * 2.3 * 40 * 1.25 - 1e-9
