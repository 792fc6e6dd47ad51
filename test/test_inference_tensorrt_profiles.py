"""The TensorRT profile and cache key the pipeline asks for, checked against what the pipeline really does (no GPU).

The shapes come from the real :class:`~pose3d_ros.pipeline.Pose3DPipeline` on real footage resized to many camera
formats (ONNX Runtime runs the models; a wrapper records every input the pipeline feeds), not from re-typed
numbers: each must lie inside the profile the pipeline hands to the backend, and that profile's extremes must be
reached. The cache key test lets ``pose3d-ros build-engine``'s plan fill a cache and then starts the node's pipeline
on ``backend: tensorrt``: its engine lookups must all be hits on those entries.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import pose3d_ros.inference.factory as factory
import pose3d_ros.inference.tensorrt_backend as tensorrt_backend
import pose3d_ros.inference.tensorrt_build as tensorrt_build
from pose3d_ros.cli import build_parser
from pose3d_ros.commands import build_engine
from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.inference.base import InferenceBackend
from pose3d_ros.inference.engine_cache import EngineCache, default_cache_dir
from pose3d_ros.inference.errors import BackendUnavailable, EngineBuildError
from pose3d_ros.inference.tensorrt_build import BuildTarget, engine_key, pipeline_input_sizes, profile_for
from pose3d_ros.models.registry import list_models
from pose3d_ros.pipeline import Frame, Pose3DPipeline
from pose3d_ros.pipeline_config import config_from_node_params

FOOTAGE = importlib.resources.files("pose3d_ros") / "resources" / "footage"

#: Camera formats (H, W): VGA / Kinect v1, tiny, HD and 4K landscape, phone portrait, 21:9, exactly 4:1 both ways,
#: Azure Kinect depth-mode colour, 4:3 QXGA.
FRAMES = [(480, 640), (8, 8), (30, 40), (240, 320), (720, 1280), (1080, 1920), (1920, 1080), (1080, 2560),
          (480, 1920), (1920, 480), (576, 640), (1536, 2048), (2160, 3840)]
#: The 640 x 480 frame (TensorRT's opt shape), the two 4:1 extremes (the profile's max) and the smallest frame.
FEW = [(480, 640), (480, 1920), (1920, 480), (8, 8)]
MID = [*FEW, (1080, 1920), (1920, 1080), (2160, 3840)]


class Recorder(InferenceBackend):
    """Passes everything to a real backend and records the input shapes it is fed (and, with ``keep``, each input
    with its outputs)."""

    def __init__(self, inner: InferenceBackend, keep: bool = False) -> None:
        super().__init__()
        self.inner, self.name, self.keep = inner, inner.name, keep
        self._inputs, self._outputs = inner.inputs, inner.outputs
        self.fed: list[dict[str, tuple[int, ...]]] = []
        self.runs: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = []

    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.fed.append({name: tuple(a.shape) for name, a in feed.items()})
        out = self.inner.run(feed)
        if self.keep:
            self.runs.append(({k: v.copy() for k, v in feed.items()}, {k: v.copy() for k, v in out.items()}))
        return out

    def _close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def footage() -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(FOOTAGE / "basketball1.png"))[..., ::-1])


def run_pipeline(monkeypatch: pytest.MonkeyPatch, config: dict[str, Any], image: np.ndarray,
                 frames: list[tuple[int, int]], keep: bool = False,
                 ) -> tuple[Pose3DPipeline, list[tuple[Path, Any, Recorder]]]:
    """Run the pipeline (ONNX Runtime) on ``image`` resized to each frame size; every backend it makes recorded."""
    made: list[tuple[Path, Any, Recorder]] = []
    real = factory.create_backend

    def recording(path: Any, *args: Any, profile_shapes: Any = None, **kwargs: Any) -> Recorder:
        backend = Recorder(real(path, *args, profile_shapes=profile_shapes, **kwargs), keep=keep)
        made.append((Path(path), profile_shapes, backend))
        return backend

    monkeypatch.setattr(factory, "create_backend", recording)
    pipe = Pose3DPipeline({"tracker": {"min_hits": 1}, **config})
    stamp = 0.0
    with pipe:
        for h, w in frames:
            pipe.reset()  # a new camera: the detector runs on its first frame
            # The footage fills the top-left quarter of a grey frame: people in part of it, so ROI passes happen.
            frame = np.full((h, w, 3), 128, np.uint8)
            hh, ww = max(1, h // 2), max(1, w // 2)
            frame[:hh, :ww] = cv2.resize(image, (ww, hh), interpolation=cv2.INTER_AREA).reshape(hh, ww, 3)
            for _ in range(2):  # full pass, then (bottom-up, people found) a ROI pass
                pipe.process(Frame(frame, None, PinholeCamera.default(w, h), stamp))
                stamp += 0.1
    return pipe, made


# Every shipped model, as the 2D model or as the detector, at default and changed budgets / a fixed input size.
CASES = [
    ({"model": "blazepose_lite"}, FRAMES),
    ({"model": "blazepose_full"}, FEW),
    ({"model": "blazepose_heavy"}, FEW[:3]),
    ({"model": "blazepose_lite", "detector_pixels": 90112}, FEW),
    ({"model": "blazepose_lite", "detector_params": {"input_pixels": 250000}}, FEW),
    ({"model": "blazepose_lite", "detector": "openpose_mobilenet_thin_s2", "detector_pixels": 90112}, FEW),
    ({"model": "openpose_mobilenet_thin_s2"}, MID),
    ({"model": "openpose_mobilenet_thin_s2", "input_pixels": 90112, "detector_pixels": 250000}, FEW),
    ({"model": "openpose_mobilenet_thin_s2", "input_size": (192, 256)}, FEW),
    ({"model": "openpose_mobilenet_thin_s6"}, FEW[:3]),
]


def test_every_shipped_model_is_covered() -> None:
    covered = {c.get("model") for c, _ in CASES} | {c.get("detector", "movenet_multipose_lightning") for c, _ in
                                                    CASES if str(c.get("model")).startswith("blazepose")}
    assert covered == set(list_models())


@pytest.mark.parametrize(("config", "frames"), CASES, ids=lambda v: str(v) if isinstance(v, dict) else None)
def test_profile_contains_every_shape_the_pipeline_feeds(monkeypatch: pytest.MonkeyPatch, footage: np.ndarray,
                                                         config: dict[str, Any], frames: list) -> None:
    pipe, made = run_pipeline(monkeypatch, config, footage, frames)
    models = [pipe.model_config] + ([pipe.detector_config] if pipe.detector_backend is not None else [])
    assert [path for path, _, _ in made] == [m.path for m in models]
    for model, (_, profile, recorder) in zip(models, made, strict=True):
        detector = model is not pipe.model_config
        assert profile == profile_for(model, pipeline_input_sizes(pipe.config, model, detector=detector))
        (name,) = profile
        lo, opt, hi = (np.array(s) for s in profile[name])
        fed = np.array(sorted({f[name] for f in recorder.fed}))
        assert len(fed) and all(set(f) == {name} for f in recorder.fed)
        outside = [tuple(s) for s in fed if not ((lo <= s).all() and (s <= hi).all())]
        assert not outside, f"{model.name}: fed {outside} outside the profile {lo}..{hi}"
        if model.top_down:
            assert (lo == hi).all()  # a fixed crop
            continue
        # The profile is no looser than needed: its max is reached (the 4:1 frames, or the fixed size) ...
        assert (fed.max(axis=0) == hi).all(), f"{model.name}: max fed {fed.max(axis=0)} < profile max {hi}"
        # ... and its opt is what a 640 x 480 frame's full pass feeds.
        assert tuple(opt) in {tuple(s) for s in fed}
        if model.family == "openpose" and not detector:
            assert any((s < opt).any() for s in fed)  # ROI passes were among them


def test_frames_wider_than_4_to_1_are_outside(footage: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    pipe, made = run_pipeline(monkeypatch, {"model": "openpose_mobilenet_thin_s2", "tracking": False}, footage,
                               [(200, 1000)])
    _, profile, recorder = made[0]
    hi = np.array(profile["image"][2])
    assert any((np.array(f["image"]) > hi).any() for f in recorder.fed)  # documented limit (MAX_FRAME_ASPECT)


# ------------------------------------------------------------------------------------------- cache key
TARGET = BuildTarget(tensorrt_version="10.3.0", gpu_name="NVIDIA H200", compute_capability=(9, 0))

NODE_SETTINGS = [
    ({}, []),  # the node's defaults
    ({"model": "openpose_mobilenet_thin_s2", "input_pixels": 90112},
     ["--model", "openpose_mobilenet_thin_s2", "--input-pixels", "90112"]),
    ({"model": "blazepose_lite", "detector": "openpose_mobilenet_thin_s2"},
     ["--model", "blazepose_lite", "--detector", "openpose_mobilenet_thin_s2"]),
    ({"pipeline_config": "{yaml}"}, ["--pipeline-config", "{yaml}"]),
]


@pytest.mark.parametrize(("params", "argv"), NODE_SETTINGS)
def test_build_engine_builds_the_engines_the_node_looks_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           params: dict[str, Any], argv: list[str]) -> None:
    yaml = tmp_path / "pipeline.yaml"
    yaml.write_text("pipeline:\n  model: blazepose_lite\n  detector_pixels: 90112\n  input_size: [192, 256]\n")
    params = {k: str(yaml) if v == "{yaml}" else v for k, v in params.items()}
    argv = [str(yaml) if a == "{yaml}" else a for a in argv]
    monkeypatch.setenv("POSE3D_ROS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(tensorrt_build, "detect_target", lambda device_id=0: TARGET)

    # build-engine's engines, stored as if built on TARGET
    jobs = build_engine.plan(build_parser("build-engine").parse_args(["build-engine", *argv]))
    cache = EngineCache(default_cache_dir())
    built = [engine_key(j.model_path, TARGET, fp16=j.fp16, profile=j.profile, max_batch=j.max_batch) for j in jobs]
    for job, key in zip(jobs, built, strict=True):
        cache.store(key, job.model_path.stem, b"engine of " + job.name.encode())

    # the node's pipeline on TensorRT: record each engine lookup, stop before deserialising the fake engine
    lookups: list[tensorrt_build.BuildResult] = []
    real_ensure = tensorrt_backend.ensure_engine

    def ensure(*args: Any, **kwargs: Any) -> tensorrt_build.BuildResult:
        lookups.append(real_ensure(*args, **kwargs))
        return lookups[-1]

    def stop(*_: Any) -> None:
        raise BackendUnavailable("test: stop after the engine lookup")

    def no_build(*_: Any, **__: Any) -> bytes:
        raise EngineBuildError("test: a cache miss must not build")

    monkeypatch.setattr(tensorrt_backend, "ensure_engine", ensure)
    monkeypatch.setattr(tensorrt_backend, "import_tensorrt", stop)
    monkeypatch.setattr(tensorrt_build, "build_serialized_engine", no_build)
    config = config_from_node_params({"backend": "tensorrt", **params})
    with Pose3DPipeline(config) as pipe:
        assert pipe.backend_name == "onnxruntime:cpu"  # fell back after the lookup
    assert [r.cache_status for r in lookups] == ["hit"] * len(jobs), "the node would rebuild: keys differ"
    assert [r.key for r in lookups] == built
    assert {r.engine_path for r in lookups} == {cache.engine_path(k, j.model_path.stem) for k, j in
                                                zip(built, jobs, strict=True)}
