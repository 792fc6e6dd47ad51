"""MoveNet MultiPose detector (models/movenet.py) with the shipped ONNX model on real footage."""

import dataclasses

import cv2
import numpy as np
import pytest

from pose3d_ros.inference.base import TensorSpec
from pose3d_ros.inference.factory import create_backend
from pose3d_ros.models.frontend import input_size_for_frame
from pose3d_ros.models.movenet import MoveNetDetector, MoveNetParams
from pose3d_ros.models.registry import ModelConfigError, get_model_config, list_models, models_dir, verify_checksum

NAME = "movenet_multipose_lightning"
FOOTAGE = models_dir().parent / "footage"
pytestmark = pytest.mark.skipif(NAME not in list_models(), reason="MoveNet ONNX not shipped")

# vtest_640x480.mp4 frame 0, looked up by eye: the three pedestrians' body centres (x, y) in pixels. The lamp post
# stands at x ~ 350-362 from the top of the frame down to y ~ 325, with nobody near it in this frame.
VTEST0_PEOPLE = ((222.0, 218.0), (428.0, 161.0), (551.0, 233.0))
LAMP_POST_X = (338.0, 375.0)


@pytest.fixture(scope="module")
def config():
    return get_model_config(NAME)


@pytest.fixture(scope="module")
def backend(config):
    return create_backend(verify_checksum(config), threads=2)


@pytest.fixture(scope="module")
def detector(config, backend):
    return MoveNetDetector(config, backend, MoveNetParams())


@pytest.fixture(scope="module")
def basketball():
    return cv2.imread(str(FOOTAGE / "basketball1.png"))[..., ::-1].copy()


@pytest.fixture(scope="module")
def vtest():
    cap = cv2.VideoCapture(str(FOOTAGE / "vtest_640x480.mp4"))
    frames = []
    for _ in range(60):
        ok, frame = cap.read()
        assert ok
        frames.append(frame[..., ::-1].copy())
    cap.release()
    return frames


def _check_consistent(people, boxes, h, w):
    assert people.layout == "coco17" and people.maps is None and people.full_frame
    assert people.keypoints.shape == (len(people), 17, 2) and people.conf.shape == (len(people), 17)
    assert np.all((people.scores >= 0) & (people.scores <= 1))
    assert np.all((people.conf >= 0) & (people.conf <= 1))
    seen = people.conf > 0
    assert np.isfinite(people.keypoints[seen]).all() and np.isnan(people.keypoints[~seen]).all()
    pts = people.keypoints[seen]
    assert np.all((pts >= -0.5) & (pts <= [w - 0.5, h - 0.5]))
    assert boxes.shape == (len(people), 4) and np.isfinite(boxes).all()
    assert np.all((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
    assert np.all((boxes >= -0.5) & (boxes <= [w - 0.5, h - 0.5, w - 0.5, h - 0.5]))


def test_shipped_model_is_registered_with_int32_dynamic_input(config, backend, detector):
    assert config.family == "movenet" and config.layout == "coco17" and config.color == "RGB"
    (spec,) = backend.inputs
    assert spec.name == "image" and spec.dtype == np.int32 and spec.shape == (1, None, None, 3)
    assert backend.output_names == ["people"]
    assert detector.fixed_size is None
    assert detector.full_input_size(480, 640) == input_size_for_frame(480, 640, 160000, multiple=32) == (352, 448)
    assert detector.full_input_size(1920, 1080)[0] > detector.full_input_size(1920, 1080)[1]  # portrait stays


def test_finds_both_players_in_basketball1(detector, basketball):
    people = detector(basketball)
    boxes = detector.boxes
    _check_consistent(people, boxes, *basketball.shape[:2])
    assert len(people) == 2
    # one player on each side of the frame, each standing (box taller than wide), each with a seen shoulder pair
    centres = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    assert sorted(centres[:, 0] < 320) == [False, True]
    assert np.all(boxes[:, 3] - boxes[:, 1] > boxes[:, 2] - boxes[:, 0])
    assert np.all(people.conf[:, 5:7] > 0)
    for kp, cf, box in zip(people.keypoints, people.conf, boxes, strict=True):
        pts = kp[cf > 0]
        assert np.all((pts >= box[:2] - 8) & (pts <= box[2:] + 8))  # the keypoints lie in their person's box
    left = int(np.argmin(centres[:, 0]))  # the left player is seen head to feet: nose above hips above ankles
    nose, hip, ankle = people.keypoints[left, 0, 1], people.keypoints[left, 11, 1], people.keypoints[left, 15, 1]
    assert nose < hip < ankle


def test_finds_the_pedestrians_of_vtest_and_not_the_lamp_post(detector, vtest):
    people = detector(vtest[0])
    boxes = detector.boxes
    _check_consistent(people, boxes, 480, 640)
    centres = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    assert len(people) == 3
    for x, y in VTEST0_PEOPLE:
        assert np.min(np.hypot(centres[:, 0] - x, centres[:, 1] - y)) < 15.0
    assert not np.any((centres[:, 0] > LAMP_POST_X[0]) & (centres[:, 0] < LAMP_POST_X[1]))


def test_every_sampled_vtest_frame_has_people_and_consistent_output(detector, vtest):
    counts = []
    for frame in vtest[::6]:
        people = detector(frame)
        _check_consistent(people, detector.boxes, 480, 640)
        counts.append(len(people))
        tall = detector.boxes[:, 3] - detector.boxes[:, 1] > detector.boxes[:, 2] - detector.boxes[:, 0]
        assert tall.all()  # pedestrians, not the ground, the cones or the sign
    assert min(counts) >= 2 and max(counts) <= 6 and np.mean(counts) >= 3.0  # 3-6 people visible per frame


def test_mirrored_frame_gives_mirrored_boxes(detector, basketball):
    detector(basketball)
    boxes = detector.boxes.copy()
    detector(basketball[:, ::-1].copy())
    w = basketball.shape[1]
    mirrored = np.stack([w - 1 - detector.boxes[:, 2], detector.boxes[:, 1], w - 1 - detector.boxes[:, 0],
                         detector.boxes[:, 3]], axis=1)
    for box in boxes:  # the network is not exactly mirror-symmetric: within 5% of the player's height
        assert np.min(np.abs(mirrored - box).max(axis=1)) < 0.05 * (box[3] - box[1])


def test_portrait_crop_finds_the_player_where_the_full_frame_did(config, backend, basketball):
    # A person who fills much of a large input is split into parts by MoveNet (Google recommends ~256 px on the
    # larger input side): this checks the portrait geometry at a budget where the player is ~300 px tall.
    detector = MoveNetDetector(config, backend, MoveNetParams(input_pixels=50000))
    detector(basketball)
    left = detector.boxes[np.argmin(detector.boxes[:, 0])].copy()
    crop = basketball[:, :240].copy()  # 480 x 240: a portrait input, x and y scaled by different amounts
    assert detector.full_input_size(480, 240) == input_size_for_frame(480, 240, 50000, 32, (480, 240)) == (320, 160)
    people = detector(crop)
    _check_consistent(people, detector.boxes, 480, 240)
    assert len(people) == 1
    assert np.abs(detector.boxes[0] - left).max() < 0.05 * (left[3] - left[1])


def test_a_person_found_twice_is_reported_once(config, backend):
    # messi5.jpg (one player filling the frame) at the default budget: MoveNet returns him twice, with the same
    # keypoints (median distance ~1 px); the second copy would be a phantom person.
    image = cv2.imread(str(FOOTAGE / "messi5.jpg"))[..., ::-1].copy()
    raw = MoveNetDetector(config, backend, MoveNetParams(duplicate_distance=0.0))(image)
    assert len(raw) == 2
    det = MoveNetDetector(config, backend, MoveNetParams())
    people = det(image)
    assert len(people) == 1 and people.scores[0] == raw.scores[0]
    _check_consistent(people, det.boxes, *image.shape[:2])


def test_side_by_side_pedestrians_are_not_merged(detector, vtest):
    # vtest frame 36: the couple walking side by side on the right (boxes overlap) stay two people
    people = detector(vtest[36])
    centres = 0.5 * (detector.boxes[:, 0] + detector.boxes[:, 2])
    assert np.sum((centres > 480) & (centres < 560)) == 2
    assert len(people) >= 3


@pytest.mark.skipif("blazepose_full" not in list_models(), reason="BlazePose ONNX not shipped")
def test_drives_the_top_down_front_end(detector, vtest):
    from pose3d_ros.models.blazepose import BlazePoseLandmarker
    from pose3d_ros.models.top_down import TopDownFrontEnd, TopDownParams

    landmarker_config = get_model_config("blazepose_full")
    landmarker = BlazePoseLandmarker(landmarker_config, create_backend(verify_checksum(landmarker_config), threads=2))
    front = TopDownFrontEnd(detector, landmarker, TopDownParams())
    people = front(vtest[0])
    assert people.layout == "blazepose33" and len(people) == 3
    hips = np.nanmean(people.keypoints[:, 23:25], axis=1)  # each found person's mid-hip lies near a pedestrian
    for x, y in VTEST0_PEOPLE:
        assert np.min(np.hypot(hips[:, 0] - x, hips[:, 1] - y)) < 25.0


class _FixedSizeBackend:
    """The real model, announced as fixed 256 x 256 (what a fixed-size export would look like)."""

    def __init__(self, backend):
        self._backend = backend
        spec = backend.inputs[0]
        self.inputs = (dataclasses.replace(spec, shape=(1, 256, 256, 3)),)
        self.output_names = backend.output_names
        self.input_names = backend.input_names
        self.calls = []

    def run(self, feed):
        self.calls.append({k: v.shape for k, v in feed.items()})
        return self._backend.run(feed)


def test_fixed_size_model_is_letterboxed(config, backend, detector, basketball):
    detector(basketball)
    dynamic = detector.boxes[np.argmin(detector.boxes[:, 0])].copy()
    fixed = _FixedSizeBackend(backend)
    det = MoveNetDetector(config, fixed)
    assert det.full_input_size(480, 640) == (256, 256)
    people = det(basketball)  # 640 x 480 -> 256 x 192 at the top of a 256 x 256 input
    assert fixed.calls == [{"image": (1, 256, 256, 3)}]
    _check_consistent(people, det.boxes, 480, 640)
    left = det.boxes[np.argmin(det.boxes[:, 0])]
    assert np.abs(left - dynamic).max() < 0.05 * (dynamic[3] - dynamic[1])  # mapped back through the letterbox


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 7, 3), (31, 2, 3), (40, 40, 3)])
@pytest.mark.parametrize("fill", ["black", "white", "noise"])
def test_tiny_and_blank_frames_give_finite_results(detector, shape, fill):
    image = {"black": np.zeros(shape, np.uint8), "white": np.full(shape, 255, np.uint8),
             "noise": np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)}[fill]
    in_h, in_w = detector.full_input_size(*shape[:2])
    assert in_h >= 32 and in_w >= 32 and in_h % 32 == 0 and in_w % 32 == 0
    assert in_h <= max(32, -(-shape[0] // 32) * 32) and in_w <= max(32, -(-shape[1] // 32) * 32)  # no upsampling
    people = detector(image)
    _check_consistent(people, detector.boxes, *shape[:2])


def test_float_image_is_clipped_not_rejected(detector, basketball):
    image = basketball.astype(np.float64)
    image[0, 0] = [np.nan, np.inf, -5.0]
    people = detector(image)
    _check_consistent(people, detector.boxes, *basketball.shape[:2])
    assert len(people) == 2


@pytest.mark.parametrize("shape", [(480, 640), (480, 640, 4), (480, 640, 1), (0, 640, 3), (480, 0, 3)])
def test_malformed_frames_are_refused(detector, shape):
    with pytest.raises(ValueError, match="image"):
        detector(np.zeros(shape, np.uint8))


def test_score_thresholds(config, backend, basketball):
    assert len(MoveNetDetector(config, backend, MoveNetParams(min_person_score=1.0))(basketball)) == 0
    people = MoveNetDetector(config, backend, MoveNetParams(min_keypoint_score=1.0))(basketball)
    assert len(people) == 2 and np.all(people.conf == 0) and np.isnan(people.keypoints).all()
    everyone = MoveNetDetector(config, backend, MoveNetParams(min_person_score=0.0, duplicate_distance=0.0))(basketball)
    assert len(everyone) == 6 and np.all(np.diff(everyone.scores) <= 0)  # all slots, best first


@pytest.mark.parametrize("kwargs", [{"min_person_score": 1.5}, {"min_keypoint_score": -0.1}, {"input_pixels": 100}])
def test_bad_params_are_refused(kwargs):
    with pytest.raises(ValueError):
        MoveNetParams(**kwargs)


def test_model_without_the_configured_tensors_is_refused(config, backend):
    with pytest.raises(ModelConfigError, match="no output 'poses'"):
        MoveNetDetector(dataclasses.replace(config, outputs={"people": "poses"}), backend)
    with pytest.raises(ModelConfigError, match="no input 'input'"):
        MoveNetDetector(dataclasses.replace(config, input_name="input"), backend)

    with pytest.raises(ModelConfigError, match="raw 0..255"):
        MoveNetDetector(dataclasses.replace(config, scale=1 / 255), backend)

    class _Gray:
        inputs = (TensorSpec("image", (1, None, None, 1), np.dtype(np.int32)),)
        output_names = ["people"]

    with pytest.raises(ModelConfigError, match="expected"):
        MoveNetDetector(config, _Gray())


def test_reset_forgets_the_boxes(detector, basketball):
    detector(basketball)
    assert len(detector.boxes) == 2
    detector.reset()
    assert detector.boxes.shape == (0, 4)
