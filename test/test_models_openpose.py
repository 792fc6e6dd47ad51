"""OpenPose decoding: synthetic heatmaps + PAFs with known people, letterbox geometry, the real model on a photo."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.models.openpose import (
    COCO_PAIRS,
    COCO_PAIRS_PAF,
    DecoderParams,
    Letterbox,
    decode_openpose,
    preprocess,
)
from pose3d_ros.models.registry import get_model_config

# A standing person in OpenPose-18 order on a (48, 64) map grid: (x, y).
PERSON = np.array([
    [10, 6], [10, 10], [7, 10], [6, 15], [6, 19], [13, 10], [14, 15], [14, 19],
    [8, 20], [8, 28], [8, 36], [12, 20], [12, 28], [12, 36], [9, 5], [11, 5], [8, 6], [12, 6],
], dtype=np.float64)


def _render(people: list[np.ndarray], shape=(48, 64), sigma=1.0) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    heat = np.zeros((19, h, w), np.float32)
    paf = np.zeros((38, h, w), np.float32)
    for person in people:
        for j, (x, y) in enumerate(person):
            heat[j] = np.maximum(heat[j], np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)))
        for (a, b), (cx, cy) in zip(COCO_PAIRS, COCO_PAIRS_PAF, strict=True):
            pa, pb = person[a], person[b]
            v = pb - pa
            length = np.linalg.norm(v)
            u = v / length
            rel_x, rel_y = xx - pa[0], yy - pa[1]
            along = rel_x * u[0] + rel_y * u[1]
            across = np.abs(rel_x * u[1] - rel_y * u[0])
            band = (along >= -1) & (along <= length + 1) & (across <= 1.0)
            paf[cx][band] = u[0]
            paf[cy][band] = u[1]
    heat[18] = 1 - heat[:18].max(axis=0)
    return heat, paf


@pytest.mark.parametrize("n_people", [1, 2, 3])
def test_decode_recovers_separate_people(n_people):
    people = [PERSON + (20 * i, 2 * i) for i in range(n_people)]
    heat, paf = _render(people, shape=(48, 72))
    kp, conf, scores, heat_up = decode_openpose(heat, paf, DecoderParams(upsample=1, smooth_sigma=0))
    assert kp.shape == (n_people, 18, 2)
    order = np.argsort(kp[:, 1, 0])  # by neck x
    for found, truth in zip(kp[order], people, strict=True):
        np.testing.assert_allclose(found, truth, atol=0.3)
    assert (conf > 0.9).all() and (scores > 0.3).all()


def test_decode_upsampled_coordinates_scale_with_factor():
    heat, paf = _render([PERSON])
    kp, _, _, heat_up = decode_openpose(heat, paf, DecoderParams(upsample=4))
    assert heat_up.shape == (19, 48 * 4, 64 * 4)
    # cv2.resize pixel centres: cell c -> (c + 0.5) * 4 - 0.5
    np.testing.assert_allclose(kp[0], (PERSON + 0.5) * 4 - 0.5, atol=0.6)


def test_empty_maps_give_no_people():
    kp, conf, scores, _ = decode_openpose(np.zeros((19, 24, 32)), np.zeros((38, 24, 32)))
    assert kp.shape == (0, 18, 2) and conf.shape == (0, 18) and scores.shape == (0,)


def test_decode_rejects_mismatched_maps():
    with pytest.raises(ValueError, match="pafs must be"):
        decode_openpose(np.zeros((19, 24, 32)), np.zeros((38, 24, 30)))
    with pytest.raises(ValueError, match="heatmaps must be"):
        decode_openpose(np.zeros((24, 32)), np.zeros((38, 24, 32)))


def test_decoder_params_reject_unknown_keys():
    with pytest.raises(ValueError, match="unknown decoder parameters"):
        DecoderParams.from_dict({"thresh": 0.1})


def test_letterbox_round_trip_and_aspect():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    tensor, box = preprocess(img, get_model_config("openpose_mobilenet_thin_s2").with_input_size(192, 320))
    assert tensor.shape == (1, 3, 192, 320) and tensor.dtype == np.float32
    assert box.scale == pytest.approx(0.4)
    assert not tensor[0, :, :, 256:].any()  # right padding stays black
    pts = rng.uniform(0, 480, (10, 2))
    np.testing.assert_allclose(box.to_image(box.to_net(pts)), pts)
    # BGR channel order: the first tensor channel is the image's blue channel.
    np.testing.assert_allclose(tensor[0, 0, 0, 0], img[:3, :3, 2].mean(), atol=30)


def test_letterbox_maps_pixel_centres():
    box = Letterbox(scale=0.5, image_hw=(100, 100), input_hw=(50, 50))
    np.testing.assert_allclose(box.to_net(np.array([0.5, 0.5])), [0.0, 0.0])


def test_letterbox_offset_gives_full_image_pixels():
    box = Letterbox(scale=0.5, image_hw=(100, 100), input_hw=(50, 50), offset=(30.0, 40.0))
    pts = np.array([[35.5, 47.25]])
    np.testing.assert_allclose(box.to_image(box.to_net(pts)), pts)
    np.testing.assert_allclose(box.to_net(np.array([30.5, 40.5])), [0.0, 0.0])
