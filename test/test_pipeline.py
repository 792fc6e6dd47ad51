"""End-to-end ROS-free pipeline on real footage, plus every kind of malformed input."""

from __future__ import annotations

import importlib.resources
import re

import cv2
import numpy as np
import pytest

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.skeleton import bone_lengths
from pose3d_ros.inference.factory import DEVICES
from pose3d_ros.models.registry import ModelConfig, ModelConfigError, get_model_config
from pose3d_ros.pipeline import Frame, PipelineConfig, Pose3DPipeline
from pose3d_ros.pipeline_config import config_from_node_params, lifter_parameters

FOOTAGE = importlib.resources.files("pose3d_ros") / "resources" / "footage"


def _rgb(name: str) -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(FOOTAGE / name))[..., ::-1])


@pytest.fixture(scope="module")
def pipe():
    with Pose3DPipeline({"tracking": False}) as p:
        yield p


@pytest.fixture(scope="module")
def basketball():
    img = _rgb("basketball1.png")
    return img, PinholeCamera.default(img.shape[1], img.shape[0])


def test_real_photo_gives_plausible_3d_people(pipe, basketball):
    img, cam = basketball
    res = pipe.process(Frame(img, None, cam, 0.0))
    assert len(res.people) >= 2
    for person in res.people:
        assert person.joints.shape == (16, 3) and np.isfinite(person.joints).all()
        assert (person.joints[:, 2] > 0.5).all()  # in front of the camera
        assert person.joints[3, 1] < person.joints[12, 1]  # head above the ankle (y down)
        bones = bone_lengths(person.joints)
        assert (bones > 0.05).all() and (bones < 0.7).all()  # human limbs, also for the man cut off at the knees
        assert ((person.confidence >= 0) & (person.confidence <= 1)).all()
    # The player seen head to toe (the largest person, first) stands at an adult's height.
    whole = res.people[0]
    height = np.linalg.norm(whole.joints[3] - 0.5 * (whole.joints[12] + whole.joints[15]))
    assert 1.2 < height < 2.1
    assert {"2d", "stages+lift", "total"} <= set(res.timings)


def test_2d_joints_lie_on_the_player(pipe, basketball):
    img, cam = basketball
    best = pipe.process(Frame(img, None, cam, 0.0)).people[0]
    # The main player stands in the left half of basketball1.png (checked by eye on the render).
    seen = best.confidence > 0.2
    assert seen.sum() >= 10
    assert (best.pixels[seen, 0] < 320).all() and (best.pixels[seen, 1] > 50).all()


def test_non_contiguous_input_matches_contiguous(pipe, basketball):
    img, cam = basketball
    padded = np.zeros((img.shape[0], img.shape[1], 4), np.uint8)
    padded[..., :3] = img
    view = padded[..., :3]  # non-contiguous
    assert not view.flags.c_contiguous
    a = pipe.process(Frame(img, None, cam, 0.0))
    b = pipe.process(Frame(view, None, cam, 0.0))
    np.testing.assert_allclose(a.people[0].joints, b.people[0].joints)


def test_depth_plane_sets_metric_distance(pipe, basketball):
    img, cam = basketball
    depth = np.full(img.shape[:2], 4.0, np.float32)
    res = pipe.process(Frame(img, depth, cam, 0.0))
    person = res.people[0]
    assert person.measured.sum() >= 6
    assert abs(np.median(person.joints[person.measured, 2]) - 4.0) < 0.15


def test_blank_image_has_no_people(pipe):
    cam = PinholeCamera.default(640, 480)
    res = pipe.process(Frame(np.zeros((480, 640, 3), np.uint8), None, cam, 0.0))
    assert res.people == [] and res.events == []


BAD_FRAMES = [
    (lambda: np.zeros((480, 640), np.uint8), "grayscale"),
    (lambda: np.zeros((480, 640, 1), np.uint8), "grayscale"),
    (lambda: np.zeros((480, 640, 4), np.uint8), "RGBA"),
    (lambda: np.zeros((0, 640, 3), np.uint8), "empty"),
    (lambda: np.zeros((1, 1, 3), np.uint8), "too small"),
    (lambda: np.broadcast_to(np.zeros(1, np.uint8), (9000, 9000, 3)), "too large"),
    (lambda: np.zeros((480, 640, 3), np.float32), "uint8"),
    (lambda: [[0, 0, 0]], "numpy array"),
]


@pytest.mark.parametrize(("make", "message"), BAD_FRAMES)
def test_malformed_colour_is_a_clear_value_error(pipe, make, message):
    color = make()
    shape = np.shape(color)
    cam = PinholeCamera.default(max(shape[1], 1) if len(shape) > 1 else 640, max(shape[0], 1))
    with pytest.raises(ValueError, match=message):
        pipe.process(Frame(color, None, cam, 0.0))


def test_depth_size_mismatch(pipe, basketball):
    img, cam = basketball
    with pytest.raises(ValueError, match="registered"):
        pipe.process(Frame(img, np.ones((240, 320), np.float32), cam, 0.0))
    with pytest.raises(ValueError, match="float metres"):
        pipe.process(Frame(img, np.ones(img.shape[:2], np.uint16), cam, 0.0))


def test_camera_size_mismatch_and_bad_stamp(pipe, basketball):
    img, _ = basketball
    with pytest.raises(ValueError, match="camera is 320x240"):
        pipe.process(Frame(img, None, PinholeCamera.default(320, 240), 0.0))
    with pytest.raises(ValueError, match="stamp"):
        pipe.process(Frame(img, None, PinholeCamera.default(640, 480), float("nan")))


def test_model_outputs_not_matching_config_raise_clearly():
    shipped = get_model_config("openpose_mobilenet_thin_s2")
    wrong = ModelConfig(name="wrong", path=shipped.path, sha256=shipped.sha256, heatmap_channels=18)
    with pytest.raises(ModelConfigError, match="expects"):  # at start-up (one probe inference), not per frame
        Pose3DPipeline(PipelineConfig(model=wrong, tracking=False))
    renamed = ModelConfig(name="renamed", path=shipped.path, heatmaps_output="belief")
    with pytest.raises(ValueError, match="lacks outputs"):
        Pose3DPipeline(PipelineConfig(model=renamed, tracking=False))


def test_unknown_config_keys_and_values():
    with pytest.raises(ValueError, match="unknown pipeline settings"):
        PipelineConfig.from_dict({"modle": "x"})
    with pytest.raises(ValueError, match="backend"):
        PipelineConfig(backend="openvino")
    with pytest.raises(ValueError, match="unknown stage parameters"):
        PipelineConfig(stages={"n_stage": 2})
    with pytest.raises(ValueError, match="input_size"):
        PipelineConfig(input_size=(100, 100))
    with pytest.raises(ValueError, match="unknown refinement settings"):
        PipelineConfig(refinement={"prior_wieght": 0.1})
    with pytest.raises(ValueError, match="bone_rel_sigma"):
        PipelineConfig(refinement={"bone_rel_sigma": -1.0})


def test_backend_names_are_the_inference_devices():
    assert PipelineConfig().backend == "cpu"
    for device in DEVICES:
        assert PipelineConfig(backend=device).backend == device
    with pytest.raises(ValueError, match=re.escape(f"backend must be one of {list(DEVICES)}, got 'openvino'")):
        PipelineConfig(backend="openvino")


def test_onnxruntime_backend_is_a_deprecated_name_of_cpu(tmp_path):
    with pytest.warns(DeprecationWarning, match="write `cpu`"):
        assert PipelineConfig(backend="onnxruntime").backend == "cpu"
    cfg = tmp_path / "p.yaml"
    cfg.write_text("pipeline:\n  backend: onnxruntime\n")  # an existing file keeps working
    with pytest.warns(DeprecationWarning, match="deprecated"):
        assert PipelineConfig.from_yaml(cfg).backend == "cpu"
    with pytest.warns(DeprecationWarning):  # the node's parameter
        assert config_from_node_params({"backend": "onnxruntime"}).backend == "cpu"


def test_lifter_keys_are_checked_against_the_lifter_signature():
    with pytest.raises(ValueError, match=r"unknown lifter settings 'noise_pz' \(did you mean 'noise_px'\?\)"):
        PipelineConfig(lifter={"noise_pz": 3})
    with pytest.raises(ValueError, match="unknown lifter settings 'zzz'; known: "):
        PipelineConfig.from_dict({"lifter": {"zzz": 1}})
    for key, where in (("anatomical", "refinement"), ("depth_noise", "refinement.depth"), ("prior", "prior_path")):
        with pytest.raises(ValueError, match=re.escape(f"lifter.{key} is not a lifter setting here: set it with "
                                                       f"`{where}`")):
            PipelineConfig(lifter={key: None})
    with pytest.raises(ValueError, match="lifter must be a mapping"):
        PipelineConfig(lifter=[("noise_px", 3.0)])
    with pytest.raises(ValueError, match="n_rotations is set twice"):
        PipelineConfig(n_rotations=8, lifter={"n_rotations": 6})
    assert PipelineConfig().lifter_settings() == {"n_rotations": 12}
    assert PipelineConfig(n_rotations=8).lifter_settings() == {"n_rotations": 8}
    assert PipelineConfig(lifter={"n_rotations": 6, "min_joints": 4}).lifter_settings() == {"n_rotations": 6,
                                                                                             "min_joints": 4}


def test_lifter_keys_follow_the_signature_at_call_time(monkeypatch):
    """A renamed PoseLifter parameter is known to the config at once (nothing hard-coded)."""
    import pose3d_ros.core.lifting as lifting

    class Renamed(lifting.PoseLifter):
        def __init__(self, prior, pixel_noise: float = 5.0, anatomical=None, depth_noise=None) -> None:
            super().__init__(prior, noise_px=pixel_noise, anatomical=anatomical, depth_noise=depth_noise)

    monkeypatch.setattr(lifting, "PoseLifter", Renamed)
    assert lifter_parameters() == ["pixel_noise"]
    assert PipelineConfig(lifter={"pixel_noise": 3.0}).lifter_settings() == {"pixel_noise": 3.0}
    with pytest.raises(ValueError, match=re.escape("unknown lifter settings 'noise_px'; known: ['pixel_noise']")):
        PipelineConfig(lifter={"noise_px": 3.0})


def test_lifter_settings_reach_the_lifter():
    with Pose3DPipeline({"tracking": False, "lifter": {"noise_px": 3.0, "min_joints": 4}}) as p:
        assert p.lifter.noise_px == 3.0 and p.lifter.min_joints == 4
        prior = p.prior
    for section, name in (({"lifter": {"noise_px": -1}}, "lifter.noise_px"),
                          ({"lifter": {"noise_px": "loud"}}, "lifter.noise_px"),
                          ({"n_rotations": 0}, "n_rotations"),
                          ({"lifter": {"noise_px": 3.0, "n_candidates": 0}}, "lifter.n_candidates")):
        with pytest.raises(ValueError, match=f"pipeline setting {re.escape(name)} refused by PoseLifter: "):
            Pose3DPipeline({"tracking": False, **section}, prior=prior)


def test_anatomical_refinement_is_configurable_and_uses_depth(basketball):
    img, cam = basketball
    depth = np.full(img.shape[:2], 4.0, np.float32)
    out = {}
    for name, refinement in (("on", {"prior_weight": 0.02}), ("off", None)):
        with Pose3DPipeline({"tracking": False, "refinement": refinement}) as p:
            assert (p.lifter.anatomical is None) == (refinement is None)
            out[name] = p.process(Frame(img, depth, cam, 0.0)).people
    assert len(out["on"]) == len(out["off"]) >= 2
    for on, off in zip(out["on"], out["off"], strict=True):
        assert on.measured.sum() >= 6 and np.isfinite(on.joints).all()
        assert abs(np.median(on.joints[on.measured, 2]) - 4.0) < 0.15
        assert np.abs(on.joints - off.joints).max() > 1e-3  # the step ran


def test_tracking_keeps_ids_across_frames(basketball):
    """Everyone moves 12 px right between the frames (a different image): each keeps its id, and follows."""
    img, cam = basketball
    moved = np.ascontiguousarray(np.roll(img, 12, axis=1))
    with Pose3DPipeline({"tracking": True, "tracker": {"min_hits": 1}}) as p:
        first = p.process(Frame(img, None, cam, 0.0))
        second = p.process(Frame(moved, None, cam, 0.1))
    assert len(first.people) >= 2
    assert sorted(q.id for q in first.people) == sorted(q.id for q in second.people)
    for a in first.people:
        b = next(q for q in second.people if q.id == a.id)
        seen = (a.confidence > 0.3) & (b.confidence > 0.3)
        shift = np.median(b.pixels[seen, 0] - a.pixels[seen, 0])
        assert 6 < shift < 18, (a.id, shift)  # the same person, moved with the image


def test_stage_count_is_configurable(basketball):
    """0 and 2 fusion stages both give everyone; the stages change the 2D they refine (they ran)."""
    img, cam = basketball
    out = {}
    for n_stages in (0, 2):
        with Pose3DPipeline({"tracking": False, "stages": {"n_stages": n_stages}}) as p:
            out[n_stages] = p.process(Frame(img, None, cam, 0.0)).people
    assert len(out[0]) == len(out[2]) >= 2
    assert all(np.isfinite(q.joints).all() for people in out.values() for q in people)
    moved = max(float(np.nanmax(np.abs(a.pixels - b.pixels))) for a, b in zip(out[0], out[2], strict=True))
    assert moved > 0.5  # pixels


def test_roi_tracking_crops_yet_keeps_the_people(basketball):
    full, cam = basketball
    img = np.full_like(full, 128)
    img[:, :230] = full[:, :230]  # only the left player: the region is a third of the frame
    with Pose3DPipeline({"model": "openpose_mobilenet_thin_s2", "input_pixels": 90112, "tracker": {"min_hits": 1},
                         "full_frame_interval": 10}) as p:
        first = p.process(Frame(img, None, cam, 0.0))
        roi, size = p.frontend._next_roi(480, 640)
        p.frontend._since_full = 0  # undo the peek
        full_h, full_w = p.frontend.full_input_size(480, 640)
        second = p.process(Frame(img, None, cam, 0.1))
    assert roi is not None and size[0] * size[1] < full_h * full_w  # a smaller network input
    assert len(second.people) == len(first.people)
    for a in first.people:
        b = next(q for q in second.people if q.id == a.id)
        both = (a.confidence > 0.2) & (b.confidence > 0.2)
        # Another crop shifts the 20-pixel network grid: joints move by a fraction of a cell, not more.
        assert np.median(np.linalg.norm(a.pixels[both] - b.pixels[both], axis=1)) < 12.0
