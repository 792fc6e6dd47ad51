"""Refused at start-up, not accepted silently (issue 14 §3): corrupt priors, non-positive body sizes and bone
lengths, 2D models whose outputs do not match their config. Each test checks one refusal and its message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose3d_ros.core.bone_refinement import BoneRefiner
from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.lifting import PoseLifter
from pose3d_ros.core.prior import PosePrior, PriorFileError, default_prior_path, load_default_prior
from pose3d_ros.core.prior_checks import check_bone_lengths
from pose3d_ros.inference.base import TensorSpec
from pose3d_ros.models.model_check import check_model_config, check_model_outputs
from pose3d_ros.models.registry import ModelConfig, ModelConfigError, get_model_config
from pose3d_ros.pipeline import PipelineConfig, Pose3DPipeline


def write_prior(dst: Path, **changes: np.ndarray) -> Path:
    """The shipped prior with some arrays replaced, written to ``dst``."""
    with np.load(default_prior_path()) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    np.savez(dst, **arrays)
    return dst


@pytest.fixture(scope="module")
def shipped() -> dict[str, np.ndarray]:
    with np.load(default_prior_path()) as data:
        return {k: data[k] for k in data.files}


def _corruptions(a: dict[str, np.ndarray]) -> list[tuple[str, dict, str]]:
    k = len(a["weights"])
    var = a["variances"].copy()
    var[2, 5] = -1e-3
    noise = a["noise_variance"].copy()
    noise[1] = 0.0
    nan_means = a["means"].copy()
    nan_means[3, 7, 1] = np.nan
    bones = a["bone_lengths"].copy()
    bones[4] = 0.0
    neg_bones = a["bone_lengths"].copy()
    neg_bones[9] = -0.3
    comps = a["components"].copy()
    comps[0, 0] *= 2.0
    low = a["variances"].copy()
    low[0, -1] = a["noise_variance"][0] * 0.5
    offset = a["means"].copy()
    offset[:, 0] += 0.1
    return [
        ("zero_weights", {"weights": np.zeros(k)}, "mixture weights are all zero"),
        ("negative_weight", {"weights": np.r_[-0.1, a["weights"][1:]]}, "negative mixture weights (component 0"),
        ("nan_weights", {"weights": np.full(k, np.nan)}, "array 'weights' holds NaN or inf"),
        ("nan_mean", {"means": nan_means}, "array 'means' holds NaN or inf"),
        ("negative_variance", {"variances": var}, "non-positive variances (component 2, basis 5"),
        ("zero_noise", {"noise_variance": noise}, "non-positive noise variances (component 1"),
        ("variance_below_noise", {"variances": low}, "variances below the component's noise variance"),
        ("mean_17_joints", {"means": np.zeros((k, 17, 3))}, "means have 17 joints but layout 'pose3d16' has 16"),
        ("weights_of_other_k", {"weights": np.full(k + 1, 1.0 / (k + 1))}, "inconsistent array shapes: weights"),
        ("no_components", {"means": np.zeros((0, 16, 3))}, "no components"),
        ("basis_not_orthonormal", {"components": comps}, "component 0 are not orthonormal"),
        ("means_not_root_centred", {"means": offset}, "not root-centred"),
        ("zero_bone", {"bone_lengths": bones}, "bone 4 (left_elbow-left_shoulder) = 0.0"),
        ("negative_bone", {"bone_lengths": neg_bones}, "mean bone lengths must be finite and > 0 m"),
        ("zero_body_size", {"body_size": np.float64(0.0)}, "body_size must be > 0 m"),
        ("negative_body_size", {"body_size": np.float64(-3.9)}, "body_size must be > 0 m"),
        ("millimetres", {"body_size": a["body_size"] * 1000, "bone_lengths": a["bone_lengths"] * 1000},
         "implausible for a human body in metres"),
        ("size_not_sum_of_bones", {"body_size": a["body_size"] * 0.5}, "is not the summed bone lengths"),
        ("string_weights", {"weights": np.array(["a"] * k)}, "'weights' is not numeric"),
        ("bad_version", {"format_version": np.array("two")}, "format_version is not an integer"),
        ("bad_bandwidth", {"limb_bandwidth": np.float64(0.0)}, "bad limb density"),
    ]


CASES = ["zero_weights", "negative_weight", "nan_weights", "nan_mean", "negative_variance", "zero_noise",
         "variance_below_noise", "mean_17_joints", "weights_of_other_k", "no_components", "basis_not_orthonormal",
         "means_not_root_centred", "zero_bone", "negative_bone", "zero_body_size", "negative_body_size",
         "millimetres", "size_not_sum_of_bones", "string_weights", "bad_version", "bad_bandwidth"]


def test_every_corruption_is_a_case(shipped):
    assert [c[0] for c in _corruptions(shipped)] == CASES


@pytest.mark.parametrize("case", CASES)
def test_corrupt_prior_file_is_refused_naming_file_and_problem(tmp_path, shipped, case):
    _, changes, message = next(c for c in _corruptions(shipped) if c[0] == case)
    path = write_prior(tmp_path / f"{case}.npz", **changes)
    with pytest.raises(PriorFileError) as err:
        PosePrior.load(path)
    assert str(err.value).startswith(f"{path}: "), err.value
    assert message in str(err.value), err.value


def test_shipped_prior_passes_the_checks():
    prior = load_default_prior()
    assert prior.validate() is prior
    assert np.isclose(prior.weights_.sum(), 1.0)


def test_lifter_and_refiner_refuse_an_in_memory_prior_with_a_zero_bone():
    prior = load_default_prior()
    prior.bone_lengths_ = prior.bone_lengths_.copy()
    prior.bone_lengths_[0] = 0.0
    with pytest.raises(ValueError, match=r"bone 0 \(spine-pelvis\) = 0.0"):
        PoseLifter(prior)
    with pytest.raises(ValueError, match="mean bone lengths must be finite and > 0"):
        BoneRefiner(prior)


@pytest.mark.parametrize("size", [0.0, -1.0, np.nan])
def test_lifter_refuses_a_non_positive_body_size(size):
    prior = load_default_prior()
    prior.body_size_ = size
    with pytest.raises(ValueError, match="body_size"):
        PoseLifter(prior)


@pytest.mark.parametrize("size", [0.0, -2.0, np.inf])
def test_normalize_refuses_a_non_positive_target_body_size(size):
    prior = load_default_prior()
    with pytest.raises(ValueError, match="body_size must be a finite summed bone length > 0 m"):
        prior.normalize(prior.means_[:2], body_size=size)


def test_refine_refuses_zero_bone_lengths_but_the_lift_treats_them_as_unknown():
    prior = load_default_prior()
    refiner = BoneRefiner(prior)
    pose = prior.means_[:1] * 0.5 + np.array([0.0, 0.0, 3.0])
    xn = pose[..., :2] / pose[..., 2:]
    args = (pose, np.zeros(1, int), np.zeros(1), np.ones(1), xn, np.ones((1, 16)), 0.01)
    with pytest.raises(ValueError, match="bone_lengths given to refine"):
        refiner.refine(*args, bone_lengths=np.zeros((1, 15)))
    check_bone_lengths(prior.bone_lengths_)  # the prior's own are fine
    cam = PinholeCamera(fx=500.0, fy=500.0, cx=320.0, cy=240.0, width=640, height=480)
    pixels = xn * 500.0 + [320.0, 240.0]
    res = PoseLifter(prior).lift(pixels, np.ones((1, 16)), cam, joint_depth=pose[..., 2],
                                 bone_lengths=np.zeros((1, 15)))  # a track's degenerate estimate: unknown bones
    assert res.valid.all() and np.isfinite(res.poses).all()


# ------------------------------------------------------------------------------------------------ 2D models
class FakeBackend:
    """A backend with given specs and canned outputs (for the check's logic; the real models are tested below)."""

    def __init__(self, inputs: list[TensorSpec], outputs: dict[str, np.ndarray] | Exception) -> None:
        self.inputs = inputs
        self._out = outputs
        self.fed: list[dict[str, np.ndarray]] = []

    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.fed.append(feed)
        if isinstance(self._out, Exception):
            raise self._out
        return self._out


def _movenet(out) -> tuple[ModelConfig, FakeBackend]:
    cfg = get_model_config("movenet_multipose_lightning")
    return cfg, FakeBackend([TensorSpec("image", (1, None, None, 3), np.dtype(np.int32))], out)


def test_movenet_probe_feeds_int32_zeros_and_refuses_another_row_length():
    cfg, backend = _movenet({"people": np.zeros((1, 6, 56), np.float32)})
    check_model_outputs(cfg, backend)
    (feed,) = backend.fed
    assert feed["image"].dtype == np.int32 and feed["image"].shape == (1, 256, 256, 3) and not feed["image"].any()
    cfg, backend = _movenet({"people": np.zeros((1, 6, 51), np.float32)})
    with pytest.raises(ModelConfigError, match=r"output 'people' has shape \(1, 6, 51\).*\(1, N, 56\)"):
        check_model_outputs(cfg, backend)


def test_probe_refuses_nan_outputs_and_a_failing_inference():
    cfg, backend = _movenet({"people": np.full((1, 6, 56), np.nan, np.float32)})
    with pytest.raises(ModelConfigError, match="NaN or inf on a zero image"):
        check_model_outputs(cfg, backend)
    cfg, backend = _movenet(RuntimeError("Got invalid dimensions for input"))
    with pytest.raises(ModelConfigError, match="test inference on a zero input .* failed: RuntimeError"):
        check_model_outputs(cfg, backend)


def test_blazepose_landmark_count_must_match_heatmaps():
    cfg = get_model_config("blazepose_full")
    outputs = {"heatmaps": np.zeros((1, 64, 64, 39), np.float32), "landmarks": np.zeros((1, 33 * 5), np.float32),
               "world_landmarks": np.zeros((1, 117), np.float32), "pose_flag": np.zeros((1, 1), np.float32)}
    backend = FakeBackend([TensorSpec("image", (1, 256, 256, 3), np.dtype(np.float32))], outputs)
    with pytest.raises(ModelConfigError, match="'landmarks' has 165 values.*39 landmarks x 5"):
        check_model_outputs(cfg, backend)


@pytest.mark.parametrize(("changes", "message"), [
    ({"heatmap_channels": 17}, "reads >= 18 heatmap channels and 38 PAF channels"),
    ({"paf_channels": 40}, "reads >= 18 heatmap channels and 38 PAF channels"),
    ({"layout": "no_such_layout"}, "no_such_layout"),
])  # fmt: skip
def test_config_that_the_decoder_cannot_read_is_refused(changes, message):
    base = get_model_config("openpose_mobilenet_thin_s2")
    with pytest.raises(ModelConfigError, match=message):
        check_model_config(ModelConfig(**{**base.__dict__, **changes}))


@pytest.mark.parametrize(("model", "changes", "message"), [
    ("openpose_mobilenet_thin_s2", {"heatmap_channels": 18}, r"'heatmaps' has shape \(1, 19, 24, 32\); the config "
                                                             r"expects \(N, 18, H, W\)"),
    ("openpose_mobilenet_thin_s2", {"stride": 16}, "stride 16 expects"),
    ("blazepose_full", {"heatmap_channels": 35}, r"'heatmaps' has shape \(1, 64, 64, 39\); the config expects "
                                                 r"\(1, 64, 64, 35\)"),
    ("blazepose_full", {"input_size": (224, 224)}, "input 'image' is 256x256 .* input_size is 224x224"),
])  # fmt: skip
def test_real_model_not_matching_its_config_is_refused_when_the_pipeline_starts(model, changes, message):
    base = get_model_config(model)
    wrong = ModelConfig(**{**base.__dict__, **changes, "name": "wrong"})
    with pytest.raises(ModelConfigError, match=message) as err:
        Pose3DPipeline(PipelineConfig(model=wrong, tracking=False, actions=False))
    assert str(base.path) in str(err.value)


def test_shipped_models_pass_the_start_up_probe():
    with Pose3DPipeline(PipelineConfig(tracking=False, actions=False)) as pipe:  # BlazePose + MoveNet
        assert pipe.detector_backend is not None
