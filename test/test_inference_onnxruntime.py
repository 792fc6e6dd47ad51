"""ONNX Runtime backend and the backend factory, on a tiny model built here with the ``onnx`` helper API."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from pose3d_ros.inference import (  # noqa: E402
    BackendOptions,
    InferenceBackend,
    InferenceError,
    InputValidationError,
    ModelLoadError,
    create_backend,
    create_backend_from_options,
)
from pose3d_ros.inference.errors import BackendUnavailable  # noqa: E402
from pose3d_ros.inference.onnxruntime_backend import OnnxRuntimeBackend, ort_providers  # noqa: E402

RNG_SEED = 1234


def _weights() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(RNG_SEED)
    return rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(3,)).astype(np.float32)


def _make_model(path: Path) -> Path:
    """y = relu(x @ W + b) * scale, z = sigmoid(x @ W); x is (batch, 4) float32 with a dynamic batch."""
    w, b = _weights()
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["xwb"]),
            helper.make_node("Relu", ["xwb"], ["r"]),
            helper.make_node("Mul", ["r", "scale"], ["y"]),
            helper.make_node("Sigmoid", ["xw"], ["z"]),
        ],
        "tiny",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 3]),
        ],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by every ONNX Runtime >= 1.10
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _expected(x: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    w, b = _weights()
    xw = x.astype(np.float64) @ w
    return np.maximum(xw + b, 0.0) * scale, 1.0 / (1.0 + np.exp(-xw))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_model(tmp_path_factory.mktemp("models") / "tiny.onnx")


@pytest.fixture()
def backend(model_path: Path):
    with OnnxRuntimeBackend(model_path, threads=1) as b:
        yield b


def _inputs(batch: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(RNG_SEED + batch)
    return {"x": rng.normal(size=(batch, 4)).astype(np.float32), "scale": np.array([0.5], np.float32)}


# ------------------------------------------------------------------------------------------- description
def test_names_and_shapes_come_from_the_model(backend: OnnxRuntimeBackend) -> None:
    assert backend.input_names == ["x", "scale"]
    assert backend.output_names == ["y", "z"]
    assert backend.input_shapes == {"x": (None, 4), "scale": (1,)}
    assert [s.dtype for s in backend.inputs] == [np.dtype(np.float32)] * 2
    assert backend.name == "onnxruntime:cpu" and backend.providers == ["CPUExecutionProvider"]


# ------------------------------------------------------------------------------------------- numerics
@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("level", ["disable", "basic", "extended", "all"])
def test_outputs_match_numpy(model_path: Path, batch: int, level: str) -> None:
    feed = _inputs(batch)
    with OnnxRuntimeBackend(model_path, threads=2, graph_optimization=level) as b:
        out = b.run(feed)
    y, z = _expected(feed["x"], 0.5)
    assert list(out) == ["y", "z"]
    assert_allclose(out["y"], y, rtol=1e-5, atol=1e-6)
    assert_allclose(out["z"], z, rtol=1e-5, atol=1e-6)


def test_non_contiguous_input_gives_the_contiguous_result(backend: OnnxRuntimeBackend) -> None:
    feed = _inputs(6)
    wide = np.zeros((6, 8), np.float32)
    wide[:, ::2] = feed["x"]
    strided = wide[:, ::2]
    assert not strided.flags.c_contiguous
    got = backend.run({"x": strided, "scale": feed["scale"]})
    assert_allclose(got["y"], backend.run(feed)["y"], rtol=0, atol=0)


def test_transposed_input_is_read_in_logical_order(backend: OnnxRuntimeBackend) -> None:
    feed = _inputs(4)
    fortran = np.asfortranarray(feed["x"])
    got = backend.run({"x": fortran, "scale": feed["scale"]})
    assert_allclose(got["z"], _expected(feed["x"], 0.5)[1], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------- bad inputs
def test_missing_input_names_the_expected_ones(backend: OnnxRuntimeBackend) -> None:
    with pytest.raises(InputValidationError, match=r"missing \['scale'\].*expects \['x', 'scale'\]"):
        backend.run({"x": _inputs()["x"]})


def test_unknown_input_name_is_rejected(backend: OnnxRuntimeBackend) -> None:
    feed = _inputs()
    feed["image"] = feed.pop("x")
    with pytest.raises(InputValidationError, match=r"unknown \['image'\]"):
        backend.run(feed)


def test_wrong_dtype_is_rejected_not_cast(backend: OnnxRuntimeBackend) -> None:
    feed = _inputs()
    feed["x"] = feed["x"].astype(np.float64)
    with pytest.raises(InputValidationError, match="'x' has dtype float64, the model expects float32"):
        backend.run(feed)


@pytest.mark.parametrize("shape", [(5, 3), (5,), (1, 5, 4)])
def test_wrong_shape_is_rejected(backend: OnnxRuntimeBackend, shape: tuple[int, ...]) -> None:
    feed = _inputs()
    feed["x"] = np.zeros(shape, np.float32)
    with pytest.raises(InputValidationError, match=r"'x' has shape .* expects \('\?', 4\)"):
        backend.run(feed)


def test_non_array_input_is_rejected(backend: OnnxRuntimeBackend) -> None:
    with pytest.raises(InputValidationError, match="'x' must be a numpy array, got list"):
        backend.run({"x": [[0.0] * 4], "scale": np.ones(1, np.float32)})


def test_validation_error_is_also_a_value_error(backend: OnnxRuntimeBackend) -> None:
    with pytest.raises(ValueError):
        backend.run([np.zeros((1, 4), np.float32)])  # type: ignore[arg-type]


def test_run_after_close_raises(model_path: Path) -> None:
    b = OnnxRuntimeBackend(model_path)
    b.close()
    b.close()  # idempotent
    with pytest.raises(InferenceError, match="after close"):
        b.run(_inputs())


# ------------------------------------------------------------------------------------------- bad models / options
def test_missing_model_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.onnx"
    with pytest.raises(ModelLoadError, match="not found: .*nope.onnx"):
        OnnxRuntimeBackend(path)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_model_names_the_file(model_path: Path, tmp_path: Path, damage: str) -> None:
    bad = tmp_path / "bad.onnx"
    data = model_path.read_bytes()
    bad.write_bytes(b"\x00not an onnx model\xff" * 10 if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="bad.onnx"):
        OnnxRuntimeBackend(bad)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_bad_thread_count(model_path: Path, threads: object) -> None:
    with pytest.raises(ValueError, match="threads must be a positive int"):
        OnnxRuntimeBackend(model_path, threads=threads)  # type: ignore[arg-type]


def test_bad_optimisation_level(model_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown graph_optimization 'max'"):
        OnnxRuntimeBackend(model_path, graph_optimization="max")


def test_provider_lists_per_device() -> None:
    assert ort_providers("cpu") == ["CPUExecutionProvider"]
    assert [p if isinstance(p, str) else p[0] for p in ort_providers("tensorrt")] == [
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    trt_options = ort_providers("tensorrt", fp16=True, workspace_mb=256, engine_cache_dir="/tmp/e")[0][1]
    assert trt_options["trt_fp16_enable"] is True
    assert trt_options["trt_max_workspace_size"] == 256 << 20
    assert trt_options["trt_engine_cache_path"] == "/tmp/e"
    with pytest.raises(ValueError, match="unknown ONNX Runtime device 'gpu'"):
        ort_providers("gpu")


# ------------------------------------------------------------------------------------------- factory
def test_factory_cpu_runs_the_model(model_path: Path) -> None:
    feed = _inputs(3)
    with create_backend(model_path, device="cpu", threads=1) as b:
        assert isinstance(b, InferenceBackend)
        assert_allclose(b.run(feed)["y"], _expected(feed["x"], 0.5)[0], rtol=1e-5)


def _has_gpu_stack() -> bool:
    try:
        from pose3d_ros.inference.cuda_status import import_tensorrt

        import_tensorrt()
    except BackendUnavailable:
        return False
    return True


def _device_works(model_path: Path, device: str) -> bool:
    """Whether ``device`` really runs here (then there is nothing to fall back from)."""
    if device == "tensorrt" and _has_gpu_stack():
        return True
    try:
        OnnxRuntimeBackend(model_path, device="tensorrt" if device == "ort-tensorrt" else device).close()
    except BackendUnavailable:
        return False
    return True


@pytest.mark.parametrize("device", ["tensorrt", "cuda", "ort-tensorrt"])
def test_factory_falls_back_to_cpu_with_one_warning(
    model_path: Path, device: str, caplog: pytest.LogCaptureFixture
) -> None:
    if _device_works(model_path, device):
        pytest.skip(f"device {device!r} works here: there is nothing to fall back from")
    logger = logging.getLogger("test.fallback")
    with caplog.at_level(logging.WARNING, logger="test.fallback"):
        b = create_backend(model_path, device=device, logger=logger)
    with b:
        assert b.name == "onnxruntime:cpu"
        feed = _inputs(2)
        assert_allclose(b.run(feed)["z"], _expected(feed["x"], 0.5)[1], rtol=1e-5, atol=1e-6)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"device '{device}' unavailable, falling back to ONNX Runtime on CPU" in warnings[0].getMessage()


def test_factory_without_fallback_raises_unavailable(model_path: Path) -> None:
    if _device_works(model_path, "tensorrt"):
        pytest.skip("TensorRT works here")
    # One message with both reasons: native TensorRT and ONNX Runtime's TensorRT provider.
    with pytest.raises(BackendUnavailable, match="TensorRT backend unavailable.* [|] .*TensorrtExecutionProvider"):
        create_backend(model_path, device="tensorrt", fallback_to_cpu=False)


def test_factory_never_hides_a_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="missing.onnx"):
        create_backend(tmp_path / "missing.onnx", device="tensorrt", fallback_to_cpu=True)


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_count_reaches_the_session(model_path: Path, threads: int) -> None:
    with create_backend(model_path, threads=threads) as b:
        assert b.intra_op_threads == threads


def test_options_from_config_section(model_path: Path) -> None:
    options = BackendOptions.from_dict({"device": "cpu", "threads": 2, "graph_optimization": "basic",
                                        "spinning": "off"})
    with create_backend_from_options(model_path, options) as b:
        assert b.intra_op_threads == 2 and b.graph_optimization == "basic" and b.allow_spinning is False
        feed = _inputs(2)
        assert_allclose(b.run(feed)["y"], _expected(feed["x"], 0.5)[0], rtol=1e-5, atol=1e-6)
    with create_backend_from_options(model_path, BackendOptions()) as b:
        assert b.intra_op_threads == 0  # 0 = ONNX Runtime's default
        assert b.allow_spinning is False  # the package default: no busy-waiting on a small shared CPU
    with create_backend_from_options(model_path, BackendOptions(spinning="default")) as b:
        assert b.allow_spinning is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"device": "gpu"}, "unknown inference device 'gpu'"),
        ({"threads": -1}, "threads must be a non-negative int"),
        ({"workspace_mb": 0}, "workspace_mb and max_batch must be >= 1"),
        ({"spinning": "yes"}, "spinning must be one of"),
        ({"thread": 2}, r"unknown inference backend option\(s\) \['thread'\]"),
    ],
)
def test_bad_options_are_named(section: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BackendOptions.from_dict(section)


def test_factory_rejects_unknown_device(model_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown inference device 'tpu'"):
        create_backend(model_path, device="tpu")


def test_concurrent_runs_from_two_threads_stay_correct(backend: OnnxRuntimeBackend) -> None:
    # The ROS node may run inference from several callback threads on one backend.
    from concurrent.futures import ThreadPoolExecutor

    feeds = [_inputs(b) for b in (1, 2, 3, 4, 5, 6, 7, 8)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outs = list(pool.map(backend.run, feeds))
    for feed, out in zip(feeds, outs, strict=True):
        assert_allclose(out["y"], _expected(feed["x"], 0.5)[0], rtol=1e-5, atol=1e-6)


def test_context_manager_closes(model_path: Path) -> None:
    with OnnxRuntimeBackend(model_path) as b:
        assert not b.closed and "open" in repr(b)
    assert b.closed and b.providers == [] and "closed" in repr(b)


def test_fallback_accepts_an_rclpy_logger(model_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # The node passes its own logger; rclpy loggers take one preformatted string, no %-arguments.
    if _device_works(model_path, "tensorrt"):
        pytest.skip("TensorRT works here: there is nothing to fall back from")
    rclpy_logging = pytest.importorskip("rclpy.logging")
    with create_backend(model_path, device="tensorrt", logger=rclpy_logging.get_logger("pose3d_fallback_test")) as b:
        assert b.name == "onnxruntime:cpu"
    assert "falling back to ONNX Runtime on CPU" in capfd.readouterr().err
