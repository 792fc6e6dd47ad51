"""TensorRT side of the backends that runs without a GPU: engine cache and key, profile requests, and the
build-engine command (its plan, and its refusal without TensorRT). The pipeline's profile and key are in
test_inference_tensorrt_profiles.py, the CUDA checker in test_inference_cuda_status.py, real engines (``gpu``) in
test_inference_tensorrt_gpu.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from pose3d_ros.cli import main as cli_main
from pose3d_ros.commands.build_engine import parse_profile_spec
from pose3d_ros.inference import EngineBuildError, EngineCache, EngineKey, file_sha256
from pose3d_ros.inference.cuda_status import import_tensorrt
from pose3d_ros.inference.engine_cache import default_cache_dir
from pose3d_ros.inference.errors import BackendUnavailable
from pose3d_ros.inference.tensorrt_build import normalize_profile, profile_text, resolve_input_profile

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


def test_profile_text_is_canonical() -> None:
    one = profile_text({"image": (1, 3, 192, 256)}, 1)
    assert one == profile_text({"image": [(1, 3, 192, 256)] * 3}, 1)  # one shape == min = opt = max
    assert one != profile_text({"image": (1, 3, 192, 256)}, 2) and profile_text(None, 1) != one


def test_profile_resolution() -> None:
    assert resolve_input_profile("x", (1, 3, 8, 8), None, 4) is None  # static: no profile
    assert resolve_input_profile("x", (-1, 3, 8, 8), None, 4) == ((1, 3, 8, 8), (1, 3, 8, 8), (4, 3, 8, 8))
    given = {"x": ((1, 3, 8, 8), (1, 3, 16, 16), (2, 3, 32, 32))}
    assert resolve_input_profile("x", (-1, 3, -1, -1), given, 1) == given["x"]
    with pytest.raises(EngineBuildError, match="dynamic dimensions .* beyond the batch"):
        resolve_input_profile("x", (1, 3, -1, -1), None, 1)
    with pytest.raises(EngineBuildError, match="does not fit the model's shape"):
        resolve_input_profile("x", (-1, 3, 8, 8), {"x": ((1, 1, 8, 8),) * 3}, 1)
    with pytest.raises(EngineBuildError, match="has rank 3"):
        resolve_input_profile("x", (-1, 3, 8, 8), {"x": ((1, 3, 8),) * 3}, 1)


def test_a_static_input_needs_only_to_lie_inside_the_profile() -> None:
    # A fixed-size MoveNet gets the pipeline's frame-shaped profile: it is fed its one shape, so that is fine ...
    frames = {"image": ((1, 32, 32, 3), (1, 352, 448, 3), (1, 800, 800, 3))}
    assert resolve_input_profile("image", (1, 256, 256, 3), frames, 1) is None
    # ... but a profile that never contains the model's shape means the pipeline would feed another one.
    with pytest.raises(EngineBuildError, match="does not contain the model's fixed shape"):
        resolve_input_profile("image", (1, 256, 256, 3), {"image": (1, 192, 192, 3)}, 1)


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


def tiny_model(path: Path, batch: int | str = "batch") -> Path:
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


def tiny_expected(x: np.ndarray) -> np.ndarray:
    w = np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32)
    return np.maximum(x @ w, 0.0)


@pytest.mark.skipif(GPU_REASON is None, reason="TensorRT + GPU present")
def test_build_engine_command_reports_unavailable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tiny_model(tmp_path / "tiny.onnx")
    assert cli_main(["build-engine", "--model", str(model), "--cache-dir", str(tmp_path / "c")]) == 1
    assert "TensorRT backend unavailable" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_build_engine_command_rejects_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["build-engine", "--model", str(tmp_path / "none.onnx")]) == 1
    assert f"model file {tmp_path / 'none.onnx'} for 'none' is missing" in capsys.readouterr().err
    assert cli_main(["build-engine", "--model", str(tmp_path / "none.onnx"), "--profile", "x:1x4"]) == 1
    assert "model file not found" in capsys.readouterr().err


def test_build_engine_command_rejects_bad_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tiny_model(tmp_path / "tiny.onnx")
    assert cli_main(["build-engine", "--model", str(model), "--profile", "x:2x4:1x4"]) == 1
    assert "NAME:SHAPE or NAME:MIN:OPT:MAX" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-batch", "4"], "--max-batch applies to --profile engines"),
        (["--profile", "x:1x4"], "--profile needs --model"),
        (["--model", "no_such_model"], "unknown model 'no_such_model'"),
        (["--model", "blazepose_full", "--detector", "blazepose_lite"], "detector must be a bottom-up model"),
    ],
)
def test_build_engine_command_refuses_bad_arguments(argv: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["build-engine", *argv]) == 1
    assert message in capsys.readouterr().err


def test_build_engine_dry_run_lists_the_node_engines_without_tensorrt(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["build-engine", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # The node's default pipeline: the BlazePose landmarker on fixed 256 x 256 crops + the MoveNet detector on
    # frame-shaped inputs (160000 px budget: 352 x 448 for 640 x 480, up to 800 for a 4:1 frame).
    assert lines[0].startswith("blazepose_full (") and lines[0].endswith(
        "image min 1x256x256x3 opt 1x256x256x3 max 1x256x256x3")
    assert lines[1].startswith("movenet_multipose_lightning (") and lines[1].endswith(
        "image min 1x32x32x3 opt 1x352x448x3 max 1x800x800x3")
    assert len(lines) == 2
