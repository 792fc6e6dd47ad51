"""Real TensorRT engines (``gpu``: skipped without TensorRT 10 + pycuda + an NVIDIA GPU).

A tiny model against numpy (FP32 / FP16, cache hit on the second start, corrupt engine rebuilt, shapes outside the
profile refused), the shipped models built with the pipeline's profile and run at the shapes the pipeline really
feeds (BlazePose crops, MoveNet frames, OpenPose full and ROI passes, the 4:1 extremes) against ONNX Runtime, and
the node's pipeline on ``backend: tensorrt`` loading what ``pose3d-ros build-engine`` built, without a rebuild.
"""

from __future__ import annotations

import importlib.resources
import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from numpy.testing import assert_allclose
from test_inference_tensorrt import tiny_expected, tiny_model
from test_inference_tensorrt_profiles import FEW, run_pipeline

from pose3d_ros.cli import main as cli_main
from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.inference import InputValidationError, ModelLoadError
from pose3d_ros.inference.cuda_status import import_tensorrt
from pose3d_ros.inference.errors import BackendUnavailable
from pose3d_ros.pipeline import Frame, Pose3DPipeline


def _gpu_stack_error() -> str | None:
    try:
        import_tensorrt()
    except BackendUnavailable as exc:
        return str(exc)
    return None


GPU_REASON = _gpu_stack_error()
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(GPU_REASON is not None, reason=f"needs TensorRT 10 + pycuda + a GPU: {GPU_REASON}")]

FOOTAGE = importlib.resources.files("pose3d_ros") / "resources" / "footage"


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One engine cache for the module: each shipped model is built once."""
    return tmp_path_factory.mktemp("engines")


@pytest.fixture(scope="module")
def footage() -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(FOOTAGE / "basketball1.png"))[..., ::-1])


# ------------------------------------------------------------------------------------------- tiny model
@pytest.mark.parametrize("fp16", [False, True])
def test_tensorrt_matches_numpy_and_caches(tmp_path: Path, fp16: bool) -> None:
    from pose3d_ros.inference.tensorrt_backend import TensorRTBackend

    model = tiny_model(tmp_path / "tiny.onnx")
    x = np.random.default_rng(11).normal(size=(3, 4)).astype(np.float32)
    with TensorRTBackend(model, fp16=fp16, engine_cache_dir=tmp_path, max_batch=4) as b:
        assert b.input_names == ["x"] and b.output_names == ["y"]
        first = b.run({"x": x})["y"]
        one = b.run({"x": x[:1]})["y"]  # smaller batch inside the profile reuses the buffers
        engine = b.engine_path
    tol = 2e-2 if fp16 else 1e-4
    assert_allclose(first, tiny_expected(x), rtol=tol, atol=tol)
    assert_allclose(one, tiny_expected(x[:1]), rtol=tol, atol=tol)
    stamp = engine.stat().st_mtime_ns
    with TensorRTBackend(model, fp16=fp16, engine_cache_dir=tmp_path, max_batch=4) as again:
        assert again.engine_path == engine
    assert engine.stat().st_mtime_ns == stamp  # second start is a cache hit


def test_tensorrt_rebuilds_a_corrupt_engine(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from pose3d_ros.inference.tensorrt_backend import TensorRTBackend

    model = tiny_model(tmp_path / "tiny.onnx", batch=2)
    with TensorRTBackend(model, engine_cache_dir=tmp_path) as b:
        engine = b.engine_path
    engine.write_bytes(engine.read_bytes()[:100])
    with caplog.at_level(logging.WARNING), TensorRTBackend(model, engine_cache_dir=tmp_path) as b:
        x = np.ones((2, 4), np.float32)
        assert_allclose(b.run({"x": x})["y"], tiny_expected(x), rtol=1e-4, atol=1e-4)
    assert "rebuilding TensorRT engine" in caplog.text


def test_tensorrt_rejects_shapes_outside_the_profile(tmp_path: Path) -> None:
    from pose3d_ros.inference.tensorrt_backend import TensorRTBackend

    model = tiny_model(tmp_path / "tiny.onnx")
    with TensorRTBackend(model, engine_cache_dir=tmp_path, max_batch=2) as b:
        with pytest.raises(InputValidationError, match="outside the engine's optimisation profile"):
            b.run({"x": np.zeros((3, 4), np.float32)})


def test_tensorrt_rejects_corrupt_onnx(tmp_path: Path) -> None:
    from pose3d_ros.inference.tensorrt_backend import TensorRTBackend

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(ModelLoadError, match="bad.onnx"):
        TensorRTBackend(bad, engine_cache_dir=tmp_path)


# ------------------------------------------------------------------------------------------- shipped models
#: Outputs the pipeline decodes (BlazePose's segmentation is not used; it is unstable even between converters).
USED = {"blazepose": ("landmarks", "heatmaps", "world_landmarks", "pose_flag"), "movenet": ("people",),
        "openpose": ("heatmaps", "pafs")}


def _close_enough(name: str, got: np.ndarray, want: np.ndarray) -> None:
    # FP32 engines may use TF32 kernels (TensorRT's default on Ampere and newer): ~1e-3 relative per layer.
    scale = max(1.0, float(np.abs(want).max()))
    err = np.abs(got.astype(np.float64) - want)
    assert got.shape == want.shape, f"{name}: {got.shape} != {want.shape}"
    assert float(err.max()) <= 3e-2 * scale, f"{name}: max error {err.max():.4g} (scale {scale:.4g})"
    assert float(np.median(err)) <= 2e-3 * scale, f"{name}: median error {np.median(err):.4g}"


@pytest.mark.slow
@pytest.mark.parametrize("config", [{}, {"model": "openpose_mobilenet_thin_s2"}], ids=["default", "openpose"])
def test_shipped_models_match_onnxruntime_at_the_pipeline_shapes(monkeypatch: pytest.MonkeyPatch, engines: Path,
                                                                 footage: np.ndarray, config: dict[str, Any]) -> None:
    from pose3d_ros.inference.tensorrt_backend import TensorRTBackend

    pipe, made = run_pipeline(monkeypatch, config, footage, FEW, keep=True)  # ONNX Runtime, every input kept
    models = [pipe.model_config] + ([pipe.detector_config] if pipe.detector_backend is not None else [])
    for model, (path, profile, recorder) in zip(models, made, strict=True):
        by_shape = {tuple(feed[model.input_name].shape): (feed, out) for feed, out in recorder.runs}
        with TensorRTBackend(path, engine_cache_dir=engines, profile_shapes=profile) as trt:
            for shape, (feed, want) in sorted(by_shape.items()):
                got = trt.run(feed)
                for name in USED[model.family]:
                    _close_enough(f"{model.name} {name} at {shape}", got[name], want[name])
        if model.family == "openpose":
            fed = np.array(list(by_shape))
            assert (fed < np.array(profile[model.input_name][1])).any(axis=1).any()  # ROI shapes were among them


@pytest.mark.slow
def test_node_pipeline_loads_the_build_engine_engines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      footage: np.ndarray, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("POSE3D_ROS_CACHE", str(tmp_path))
    assert cli_main(["build-engine"]) == 0
    engines = sorted((tmp_path / "engines").glob("*.engine"))
    assert len(engines) == 2  # blazepose_full + movenet_multipose_lightning
    stamps = [p.stat().st_mtime_ns for p in engines]
    frame = Frame(footage, None, PinholeCamera.default(footage.shape[1], footage.shape[0]), 0.0)
    with caplog.at_level(logging.INFO), Pose3DPipeline({"backend": "tensorrt", "fallback_to_cpu": False,
                                                        "tracking": False}) as p:
        assert p.backend_name == "tensorrt:cuda0"
        on_trt = p.process(frame)
    assert "building TensorRT engine" not in caplog.text
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "engines").glob("*.engine"))] == stamps
    with Pose3DPipeline({"tracking": False}) as p:
        on_cpu = p.process(frame)
    assert len(on_trt.people) == len(on_cpu.people) >= 1
    for a in on_trt.people:
        b = min(on_cpu.people, key=lambda q: float(np.nanmedian(np.linalg.norm(q.pixels - a.pixels, axis=1))))
        assert float(np.nanmedian(np.linalg.norm(a.pixels - b.pixels, axis=1))) < 3.0  # pixels
