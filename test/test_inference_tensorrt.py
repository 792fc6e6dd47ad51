"""TensorRT side of the backends: engine cache, CUDA status checker, profiles and the build-engine command run
everywhere; building and running real engines is marked ``gpu`` and skipped without TensorRT 10 + pycuda + GPU."""

from __future__ import annotations

import enum
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.cli import main as cli_main
from pose3d_ros.inference import CudaError, EngineBuildError, EngineCache, EngineKey, ModelLoadError, file_sha256
from pose3d_ros.inference.engine_cache import default_cache_dir
from pose3d_ros.inference.errors import BackendUnavailable
from pose3d_ros.inference.tensorrt_backend import (
    _resolve_profile,
    check_cuda_status,
    cuda_call,
    import_tensorrt,
    normalize_profile,
    parse_profile_spec,
)

SHA_A = hashlib.sha256(b"model a").hexdigest()
SHA_B = hashlib.sha256(b"model b").hexdigest()


def _key(**changes: object) -> EngineKey:
    fields: dict[str, object] = dict(
        model_sha256=SHA_A, tensorrt_version="10.3.0", gpu_name="NVIDIA H100", compute_capability=(9, 0), fp16=False
    )
    fields.update(changes)
    return EngineKey(**fields)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- cache key
@pytest.mark.parametrize(
    "change",
    [
        {"model_sha256": SHA_B},
        {"tensorrt_version": "10.4.0"},
        {"gpu_name": "NVIDIA GeForce RTX 4090"},
        {"compute_capability": (8, 9)},
        {"fp16": True},
        {"profile": "([('x', [[1, 4], [1, 4], [8, 4]])], 8)"},
    ],
)
def test_every_key_field_changes_the_digest(change: dict[str, object]) -> None:
    assert _key(**change).digest() != _key().digest()


def test_digest_is_stable_and_survives_json() -> None:
    key = _key(compute_capability=[9, 0])  # lists (as JSON gives them) normalise to tuples
    again = EngineKey.from_dict(json.loads(json.dumps(key.to_dict())))
    assert again == key and again.digest() == key.digest()
    # Pinned literal (not the code's own formula again): the digest must not depend on the process (hash seeds,
    # dict order) or change between releases, or every cached engine is rebuilt.
    assert key.digest() == "c327955fcdcc41888d63c325b72e311513a6f40e9e28acd754e3858151ba255f"


@pytest.mark.parametrize("sha", ["abc", "G" * 64, SHA_A.upper()])
def test_key_rejects_bad_model_hash(sha: str) -> None:
    with pytest.raises(ValueError, match="model_sha256 must be 64 lowercase hex"):
        _key(model_sha256=sha)


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    data = np.random.default_rng(7).bytes(3 << 20)  # > one read chunk
    path = tmp_path / "m.onnx"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()


def test_default_cache_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("POSE3D_ROS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "pose3d_ros" / "engines"
    monkeypatch.setenv("POSE3D_ROS_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine" / "engines"


# ------------------------------------------------------------------------------------------- cache entries
def test_cache_miss_then_hit(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path / "engines")
    assert cache.load(_key(), "net").status == "miss"
    path = cache.store(_key(), "net", b"serialized engine", extra={"workspace_mb": 512})
    hit = cache.load(_key(), "net")
    assert hit.status == "hit" and hit.data == b"serialized engine" and hit.engine_path == path
    assert path.name.startswith("net-") and path.suffix == ".engine"
    assert json.loads(cache.meta_path(path).read_text())["workspace_mb"] == 512


def test_different_gpu_or_model_is_a_different_entry(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    cache.store(_key(), "net", b"h100 engine")
    assert cache.load(_key(gpu_name="NVIDIA A100"), "net").status == "miss"
    assert cache.load(_key(model_sha256=SHA_B), "net").status == "miss"


def test_sidecar_with_another_key_is_stale(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    path = cache.store(_key(), "net", b"engine")
    meta = json.loads(cache.meta_path(path).read_text())
    meta["key"]["tensorrt_version"] = "10.0.1"  # e.g. copied from a machine with another TensorRT
    cache.meta_path(path).write_text(json.dumps(meta))
    lookup = cache.load(_key(), "net")
    assert lookup.status == "stale" and lookup.data is None and "different key" in lookup.reason


@pytest.mark.parametrize("damage", ["truncate", "flip", "no-sidecar", "bad-sidecar"])
def test_damaged_entry_is_corrupt_not_loaded(tmp_path: Path, damage: str) -> None:
    cache = EngineCache(tmp_path)
    path = cache.store(_key(), "net", b"0123456789" * 100)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "flip":
        data = bytearray(path.read_bytes())
        data[10] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "no-sidecar":
        cache.meta_path(path).unlink()
    else:
        cache.meta_path(path).write_text("{not json")
    lookup = cache.load(_key(), "net")
    assert lookup.status == "corrupt" and lookup.data is None and path.stem in lookup.reason


def test_store_replaces_and_invalidate_removes(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    cache.store(_key(), "net", b"old")
    cache.store(_key(), "net", b"new")
    assert cache.load(_key(), "net").data == b"new"
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries
    cache.invalidate(_key(), "net")
    assert cache.load(_key(), "net").status == "miss" and not list(tmp_path.iterdir())


def test_store_prunes_superseded_entries_only(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    old = cache.store(_key(), "net", b"old model")
    other_gpu = cache.store(_key(gpu_name="NVIDIA A100", compute_capability=(8, 0)), "net", b"a100")
    fp16 = cache.store(_key(fp16=True), "net", b"fp16")
    other_model = cache.store(_key(), "other", b"another model")
    prefixed = cache.store(_key(), "net-v2", b"a model whose name starts like ours")
    new = cache.store(_key(model_sha256=SHA_B), "net", b"retrained model")
    assert not old.exists() and not cache.meta_path(old).exists()
    assert all(p.exists() for p in (other_gpu, fp16, other_model, prefixed, new))
    newer_trt = cache.store(_key(model_sha256=SHA_B, tensorrt_version="10.5.0"), "net", b"upgraded")
    assert not new.exists() and newer_trt.exists()


def test_empty_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty engine"):
        EngineCache(tmp_path).store(_key(), "net", b"")


# ------------------------------------------------------------------------------------------- CUDA checker
class CUresult(enum.IntEnum):  # same type names and values as cuda-python's enums
    CUDA_SUCCESS = 0
    CUDA_ERROR_OUT_OF_MEMORY = 2


class cudaError_t(enum.IntEnum):  # noqa: N801 - cuda-python's spelling
    cudaSuccess = 0
    cudaErrorInvalidValue = 1


def test_successful_driver_status_does_not_raise() -> None:
    # NVIDIA's sample raises "Unknown error type" here (its second `if` should be `elif`).
    assert check_cuda_status(CUresult.CUDA_SUCCESS) is None
    assert check_cuda_status((CUresult.CUDA_SUCCESS, 1234)) == 1234
    assert check_cuda_status((cudaError_t.cudaSuccess, 1, 2)) == (1, 2)


@pytest.mark.parametrize(
    ("status", "label"),
    [(CUresult.CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY"), (cudaError_t.cudaErrorInvalidValue,
                                                                        "cudaErrorInvalidValue")],
)
def test_failing_status_raises_cuda_error_naming_call_and_status(status: enum.IntEnum, label: str) -> None:
    with pytest.raises(CudaError, match=f"cudaMalloc failed: .*{label}"):
        cuda_call(lambda: (status, 0), what="cudaMalloc")


def test_plain_results_pass_through() -> None:
    assert cuda_call(lambda a, b: a + b, 2, 3) == 5
    assert check_cuda_status((1, 2)) == (1, 2)  # a tuple without a status is a value


def test_pycuda_exceptions_become_cuda_errors() -> None:
    class LogicError(Exception):
        pass

    LogicError.__module__ = "pycuda._driver"  # where pycuda defines its exceptions

    def fails() -> None:
        raise LogicError("cuMemAlloc failed: out of memory")

    with pytest.raises(CudaError, match="mem_alloc failed: LogicError: cuMemAlloc failed: out of memory"):
        cuda_call(fails, what="mem_alloc")


def test_our_own_bugs_are_not_relabelled_as_cuda_errors() -> None:
    with pytest.raises(TypeError):
        cuda_call(lambda: None + 1)


# ------------------------------------------------------------------------------------------- profiles
def test_profile_spec_parsing() -> None:
    prof = parse_profile_spec("image:1x3x256x256:1x3x368x368:4x3x656x656, mask:1x1")
    assert prof["image"] == ((1, 3, 256, 256), (1, 3, 368, 368), (4, 3, 656, 656))
    assert prof["mask"] == ((1, 1),) * 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("image", "NAME:SHAPE or NAME:MIN:OPT:MAX"),
        ("image:1x3:1x3", "NAME:SHAPE or NAME:MIN:OPT:MAX"),
        ("image:1xAx3", "integers joined by 'x'"),
        ("image:2x3:1x3:4x3", "min <= opt <= max"),
        ("image:1x3:1x3:1x3x4", "ranks differ"),
        ("image:0x3", ">= 1"),
    ],
)
def test_bad_profile_spec(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_profile_spec(text)


def test_profile_normalisation() -> None:
    assert normalize_profile(None) is None
    assert normalize_profile({"image": (1, 3, 192, 256)}) == {"image": ((1, 3, 192, 256),) * 3}
    ranged = {"image": ([1, 3, 96, 128], [1, 3, 192, 256], [1, 3, 384, 512])}
    assert normalize_profile(ranged) == {"image": ((1, 3, 96, 128), (1, 3, 192, 256), (1, 3, 384, 512))}
    with pytest.raises(ValueError, match="must be a shape or \\(min, opt, max\\) shapes"):
        normalize_profile({"image": ((1, 3), (1, 3))})
    with pytest.raises(ValueError, match="min <= opt <= max"):
        normalize_profile({"image": ((1, 3, 9, 9), (1, 3, 8, 8), (1, 3, 9, 9))})


def test_profile_resolution() -> None:
    assert _resolve_profile("x", (1, 3, 8, 8), None, 4) is None  # static: no profile
    assert _resolve_profile("x", (-1, 3, 8, 8), None, 4) == ((1, 3, 8, 8), (1, 3, 8, 8), (4, 3, 8, 8))
    given = {"x": ((1, 3, 8, 8), (1, 3, 16, 16), (2, 3, 32, 32))}
    assert _resolve_profile("x", (-1, 3, -1, -1), given, 1) == given["x"]
    with pytest.raises(EngineBuildError, match="dynamic dimensions .* beyond the batch"):
        _resolve_profile("x", (1, 3, -1, -1), None, 1)
    with pytest.raises(EngineBuildError, match="does not fit the model's shape"):
        _resolve_profile("x", (-1, 3, 8, 8), {"x": ((1, 1, 8, 8),) * 3}, 1)


# ------------------------------------------------------------------------------------------- availability / CLI
def _gpu_stack_error() -> str | None:
    try:
        import_tensorrt()
    except BackendUnavailable as exc:
        return str(exc)
    return None


GPU_REASON = _gpu_stack_error()


@pytest.mark.skipif(GPU_REASON is None, reason="TensorRT + GPU present")
def test_unavailable_message_is_one_clear_line() -> None:
    assert GPU_REASON is not None and "\n" not in GPU_REASON
    assert GPU_REASON.startswith("TensorRT backend unavailable: ") and "device='cpu'" in GPU_REASON


def _tiny_model(path: Path, batch: int | str = "batch") -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Relu", ["xw"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3])],
        initializer=[numpy_helper.from_array(w, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _tiny_expected(x: np.ndarray) -> np.ndarray:
    w = np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32)
    return np.maximum(x @ w, 0.0)


@pytest.mark.skipif(GPU_REASON is None, reason="TensorRT + GPU present")
def test_build_engine_command_reports_unavailable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _tiny_model(tmp_path / "tiny.onnx")
    assert cli_main(["build-engine", "--model", str(model), "--cache-dir", str(tmp_path / "c")]) == 1
    assert "TensorRT backend unavailable" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_build_engine_command_rejects_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["build-engine", "--model", str(tmp_path / "none.onnx")]) == 1
    assert "model file not found" in capsys.readouterr().err


def test_build_engine_command_rejects_bad_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _tiny_model(tmp_path / "tiny.onnx")
    assert cli_main(["build-engine", "--model", str(model), "--profile", "x:2x4:1x4"]) == 1
    assert "NAME:SHAPE or NAME:MIN:OPT:MAX" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- real GPU
gpu = pytest.mark.skipif(GPU_REASON is not None, reason=f"needs TensorRT 10 + pycuda + an NVIDIA GPU: {GPU_REASON}")


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("fp16", [False, True])
def test_tensorrt_matches_numpy_and_caches(tmp_path: Path, fp16: bool) -> None:
    from pose3d_ros.inference.tensorrt_backend import TensorRTBackend

    model = _tiny_model(tmp_path / "tiny.onnx")
    x = np.random.default_rng(11).normal(size=(3, 4)).astype(np.float32)
    with TensorRTBackend(model, fp16=fp16, engine_cache_dir=tmp_path, max_batch=4) as b:
        assert b.input_names == ["x"] and b.output_names == ["y"]
        first = b.run({"x": x})["y"]
        one = b.run({"x": x[:1]})["y"]  # smaller batch inside the profile reuses the buffers
        engine = b.engine_path
    tol = 2e-2 if fp16 else 1e-4
    assert_allclose(first, _tiny_expected(x), rtol=tol, atol=tol)
    assert_allclose(one, _tiny_expected(x[:1]), rtol=tol, atol=tol)
    stamp = engine.stat().st_mtime_ns
    with TensorRTBackend(model, fp16=fp16, engine_cache_dir=tmp_path, max_batch=4) as again:
        assert again.engine_path == engine
    assert engine.stat().st_mtime_ns == stamp  # second start is a cache hit


@pytest.mark.gpu
@gpu
def test_tensorrt_rebuilds_a_corrupt_engine(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from pose3d_ros.inference.tensorrt_backend import TensorRTBackend

    model = _tiny_model(tmp_path / "tiny.onnx", batch=2)
    with TensorRTBackend(model, engine_cache_dir=tmp_path) as b:
        engine = b.engine_path
    engine.write_bytes(engine.read_bytes()[:100])
    with caplog.at_level(logging.WARNING), TensorRTBackend(model, engine_cache_dir=tmp_path) as b:
        x = np.ones((2, 4), np.float32)
        assert_allclose(b.run({"x": x})["y"], _tiny_expected(x), rtol=1e-4, atol=1e-4)
    assert "rebuilding TensorRT engine" in caplog.text


@pytest.mark.gpu
@gpu
def test_tensorrt_rejects_shapes_outside_the_profile(tmp_path: Path) -> None:
    from pose3d_ros.inference import InputValidationError
    from pose3d_ros.inference.tensorrt_backend import TensorRTBackend

    model = _tiny_model(tmp_path / "tiny.onnx")
    with TensorRTBackend(model, engine_cache_dir=tmp_path, max_batch=2) as b:
        with pytest.raises(InputValidationError, match="outside the engine's profile"):
            b.run({"x": np.zeros((3, 4), np.float32)})


@pytest.mark.gpu
@gpu
def test_tensorrt_rejects_corrupt_onnx(tmp_path: Path) -> None:
    from pose3d_ros.inference.tensorrt_backend import TensorRTBackend

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(ModelLoadError, match="bad.onnx"):
        TensorRTBackend(bad, engine_cache_dir=tmp_path)
