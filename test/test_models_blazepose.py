"""BlazePose landmarker (models/blazepose.py) and the top-down front end (models/top_down.py), with the shipped
ONNX models on real footage."""

import cv2
import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.core.roi import RotatedRect, rect_from_alignment_points
from pose3d_ros.models.blazepose import BeliefMapTransform, BlazePoseParams, refine_from_heatmaps
from pose3d_ros.models.registry import list_models
from pose3d_ros.pipeline import Frame, Pose3DPipeline

HAVE_BLAZEPOSE = "blazepose_full" in list_models()


def test_refinement_moves_a_landmark_to_the_heatmap_peak_mean():
    heat = np.zeros((64, 64, 1), np.float32)
    heat[20, 30, 0] = 0.9
    heat[20, 31, 0] = 0.9
    out = refine_from_heatmaps(np.array([[30.5 * 4, 20.2 * 4]]), heat, 256, 7, 0.5)
    assert_allclose(out[0], [30.5 * 4, 20 * 4])


def test_refinement_at_the_heatmap_edge_uses_the_part_of_the_window_inside():
    heat = np.zeros((64, 64, 2), np.float32)
    heat[0, 0, 0] = heat[0, 1, 0] = 0.9  # top-left corner
    heat[63, 62, 1] = 0.6  # bottom-right corner
    out = refine_from_heatmaps(np.array([[1.5 * 4, 1.2 * 4], [63.9 * 4, 63.9 * 4]]), heat, 256, 7, 0.5)
    assert_allclose(out, [[0.5 * 4, 0.0], [62 * 4, 63 * 4]])


def test_refinement_keeps_a_landmark_when_the_heatmap_is_unsure_or_outside():
    heat = np.full((64, 64, 2), 0.2, np.float32)
    xy = np.array([[100.0, 100.0], [-5.0, 300.0]])
    assert_allclose(refine_from_heatmaps(xy, heat, 256, 7, 0.5), xy)


def test_belief_map_transform_round_trips_through_a_rotated_crop():
    t = BeliefMapTransform(RotatedRect(320.0, 240.0, 300.0, 0.7), 256, 4.0)
    px = np.array([[300.0, 200.0], [350.0, 260.0]])
    assert_allclose(t.map_to_image(t.image_to_map(px)), px, atol=1e-9)


def test_bad_landmarker_params_are_refused():
    with pytest.raises(ValueError, match="odd"):
        BlazePoseParams(refine_kernel=4)
    with pytest.raises(ValueError, match="refine_min_confidence"):
        BlazePoseParams(refine_min_confidence=2.0)


needs_model = pytest.mark.skipif(not HAVE_BLAZEPOSE, reason="BlazePose ONNX not shipped")


@pytest.fixture(scope="module")
def messi():
    from pose3d_ros.core.camera import PinholeCamera
    from pose3d_ros.models.registry import models_dir

    img = cv2.imread(str(models_dir().parent / "footage" / "messi5.jpg"))[..., ::-1].copy()
    return img, PinholeCamera.default(img.shape[1], img.shape[0])


@needs_model
def test_blazepose_pipeline_finds_the_player_with_all_limbs(messi):
    img, cam = messi
    with Pose3DPipeline({"model": "blazepose_full", "tracking": False, "actions": False}) as p:
        res = p.process(Frame(img, None, cam, 0.0))
    assert len(res.people) >= 1
    person = max(res.people, key=lambda q: q.score)
    assert (person.confidence[4:] > 0).sum() >= 8 and np.isfinite(person.joints).all()
    assert (person.joints[:, 2] > 0).all()


@needs_model
def test_tracked_crops_follow_the_person_without_the_detector(messi):
    img, cam = messi
    with Pose3DPipeline({"model": "blazepose_full", "actions": False, "tracker": {"min_hits": 1},
                         "top_down": {"detect_interval": 100}}) as p:
        for k in range(4):  # the detector's crop, then crops from the person's own landmarks settle
            first = p.process(Frame(img, None, cam, 0.1 * k))
        calls = []
        original = p.frontend._detect
        p.frontend._detect = lambda image: calls.append(1) or original(image)
        second = p.process(Frame(img, None, cam, 0.4))
    assert not calls and len(second.people) == len(first.people) >= 1
    a, b = first.people[0], second.people[0]
    assert a.id == b.id
    both = (a.confidence > 0.5) & (b.confidence > 0.5)
    assert np.median(np.linalg.norm(a.pixels[both] - b.pixels[both], axis=1)) < 3.0  # a stable crop


@needs_model
@pytest.mark.parametrize("shape", [(8, 8), (10, 10000), (2000, 12)])
def test_extreme_frames_give_an_empty_or_finite_result(shape):
    from pose3d_ros.core.camera import PinholeCamera

    img = np.random.default_rng(0).integers(0, 255, size=(*shape, 3), dtype=np.uint8)
    with Pose3DPipeline({"model": "blazepose_full", "tracking": False, "actions": False}) as p:
        res = p.process(Frame(img, None, PinholeCamera.default(shape[1], shape[0]), 0.0))
    for person in res.people:
        assert np.isfinite(person.joints).all() and np.isfinite(person.pixels).all()


@needs_model
def test_a_crop_outside_the_image_is_black_not_a_crash(messi):
    img, _ = messi
    with Pose3DPipeline({"model": "blazepose_full", "tracking": False, "actions": False}) as p:
        out = p.frontend.landmarker.run(img, [rect_from_alignment_points((-500.0, -500.0), (-500.0, -600.0))])
    assert len(out) == 1 and out[0].flag < 0.5 and np.isfinite(out[0].landmarks).all()


@pytest.mark.parametrize("which", ["model", "detector"])
def test_a_truncated_landmark_or_detector_model_is_refused_by_name(tmp_path, which):
    import json
    import shutil

    from pose3d_ros.models.registry import ModelChecksumError, get_model_config, models_dir

    name = "blazepose_full" if which == "model" else "movenet_multipose_lightning"
    entry = json.loads((models_dir() / "models.json").read_text())["models"][name]
    bad = tmp_path / entry["file"]
    shutil.copy(get_model_config(name).path, bad)
    with bad.open("r+b") as fh:
        fh.truncate(1000)
    spec = {"name": name, **entry, "file": str(bad)}
    with pytest.raises(ModelChecksumError, match="corrupt"):
        Pose3DPipeline({which: spec, "tracking": False, "actions": False})


@needs_model
def test_background_detection_adds_people_later_and_never_stalls_a_frame(messi):
    import time

    img, cam = messi
    cfg = {"actions": False, "tracker": {"min_hits": 1},
           "top_down": {"detect_interval": 2, "background_detection": True}}
    with Pose3DPipeline(cfg) as p:
        first = p.process(Frame(img, None, cam, 0.0))  # nobody tracked: the detector runs in line
        assert len(first.people) >= 1
        p.process(Frame(img, None, cam, 0.1))
        p.process(Frame(img, None, cam, 0.2))  # detection due: submitted, this frame does not wait
        assert p.frontend._pending is not None
        p.frontend._pending.result(timeout=30)
        later = p.process(Frame(img, None, cam, 0.3))  # the finished pass is merged: the same person, no new one
        assert p.frontend._pending is None
        assert [q.id for q in later.people] == [q.id for q in first.people]
        p.process(Frame(img, None, cam, 0.4))
        p.process(Frame(img, None, cam, 0.5))
        pending = p.frontend._pending
        p.reset()  # a time jump: a running pass belongs to the old sequence and is dropped
        if pending is not None:
            pending.result(timeout=30)
        assert p.frontend._pending is None
        t = time.perf_counter()
        p.process(Frame(img, None, cam, 0.0))
        assert time.perf_counter() - t < 30
    assert p.frontend._executor is None  # closed with the pipeline


@needs_model
def test_a_rejected_detection_does_not_make_the_detector_run_every_frame(messi):
    from pose3d_ros.models.frontend import People2D

    img, cam = messi
    with Pose3DPipeline({"actions": False, "tracker": {"min_hits": 1}, "top_down": {"detect_interval": 4}}) as p:
        real = p.frontend.detector
        calls = []

        class WithPhantom:  # the real detector's people plus a "person" on the empty sky (the landmarker rejects it)
            layout = real.layout

            def reset(self):
                real.reset()

            def __call__(self, image, full_frame=True):
                calls.append(1)
                found = real(image, full_frame)
                phantom = np.full((1, found.keypoints.shape[1], 2), np.nan)
                phantom[0, 5:7] = [[20, 20], [40, 20]]  # shoulders only, top-left corner
                phantom[0, 11:13] = [[22, 60], [38, 60]]
                conf = np.zeros((1, found.keypoints.shape[1]))
                conf[0, [5, 6, 11, 12]] = 0.5
                return People2D(found.layout, np.concatenate([found.keypoints, phantom]),
                                np.concatenate([found.conf, conf]), np.append(found.scores, 0.5))

        p.frontend.detector = WithPhantom()
        counts = [len(p.process(Frame(img, None, cam, 0.1 * k)).people) for k in range(8)]
    assert min(counts) >= 1 and len(calls) == 2  # frames 0 and 4 only
