"""``pose3d-ros estimate`` on the shipped real footage: JSONL format, rendering, bad inputs."""

from __future__ import annotations

import importlib.resources
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose3d_ros.cli import main
from pose3d_ros.core.skeleton import JOINT_NAMES

FOOTAGE = importlib.resources.files("pose3d_ros") / "resources" / "footage"
REPO = Path(__file__).resolve().parents[1]


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_single_image_jsonl_and_render(tmp_path):
    out = tmp_path / "out.jsonl"
    render = tmp_path / "render"
    rc = main(["estimate", "--input", str(FOOTAGE / "basketball1.png"), "--output", str(out),
               "--render", str(render)])
    assert rc == 0
    (doc,) = _read(out)
    assert doc["frame"] == 0 and doc["stamp"] == 0.0
    assert len(doc["skeletons"]) >= 2
    sk = doc["skeletons"][0]
    assert set(sk["joints"]) == set(JOINT_NAMES)
    assert all(len(v) == 3 and all(np.isfinite(v)) for v in sk["joints"].values())
    assert all(len(v) == 3 for v in sk["pixels"].values())
    assert 0 <= sk["confidence"] <= 1
    png = cv2.imread(str(render / "frame_000000.png"))
    assert png.shape == (480, 640 + 480, 3)  # overlay + square 3D plot


def test_video_keeps_track_ids_and_writes_video(tmp_path):
    out = tmp_path / "v.jsonl"
    video = tmp_path / "v.avi"
    rc = main(["estimate", "--input", str(FOOTAGE / "sports2d_demo_640x480.mp4"), "--output", str(out), "--render",
               str(video), "--max-frames", "4"])
    assert rc == 0
    docs = _read(out)
    assert [d["frame"] for d in docs] == [0, 1, 2, 3]
    np.testing.assert_allclose([d["stamp"] for d in docs], np.arange(4) / 15.0, atol=1e-6)  # the video's 15 fps
    ids = [{s["id"] for s in d["skeletons"]} for d in docs]
    assert ids[0] and ids[0] & ids[-1]  # someone seen throughout keeps the id
    cap = cv2.VideoCapture(str(video))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 4


def test_directory_with_depth(tmp_path):
    images = tmp_path / "img"
    depth = tmp_path / "depth"
    images.mkdir()
    depth.mkdir()
    shutil.copy(FOOTAGE / "basketball1.png", images / "0000.png")
    cv2.imwrite(str(depth / "0000.png"), np.full((480, 640), 3500, np.uint16))  # mm
    out = tmp_path / "d.jsonl"
    assert main(["estimate", "--input", str(images), "--depth", str(depth), "--output", str(out)]) == 0
    sk = _read(out)[0]["skeletons"][0]
    measured = [n for n, m in sk["measured"].items() if m]
    assert len(measured) >= 6
    assert abs(np.median([sk["joints"][n][2] for n in measured]) - 3.5) < 0.15


@pytest.mark.parametrize("name", ["missing.png", "notes.txt"])
def test_bad_input_exits_2_with_message(tmp_path, capsys, name):
    path = tmp_path / name
    if name.endswith(".txt"):
        path.write_text("hello")
    rc = main(["estimate", "--input", str(path), "--output", str(tmp_path / "o.jsonl")])
    assert rc == 2
    assert "estimate:" in capsys.readouterr().err


def test_corrupt_image_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    assert main(["estimate", "--input", str(bad), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert capsys.readouterr().err.strip() == f"pose3d-ros estimate: {bad}: unreadable image"


# --- refusals and the output rule (issue 14 §1, §4) ------------------------------------------------------------


def _one_line(err: str) -> str:
    """The single stderr line of a refusal (no traceback, nothing else)."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("option", "value", "problem"), [
    ("--fps", "0", "must be a finite number > 0"),
    ("--fps", "-5", "must be a finite number > 0"),
    ("--fps", "nan", "must be a finite number > 0"),
    ("--max-frames", "-1", "must be >= 0"),
    ("--threads", "0", "must be >= 1"),
])  # fmt: skip
def test_estimate_option_values_are_refused_by_argparse(tmp_path, capsys, option, value, problem):
    with pytest.raises(SystemExit) as exit_info:
        main(["estimate", "--input", str(FOOTAGE / "basketball1.png"), "--output", str(tmp_path / "o.jsonl"),
              option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"argument {option}: {problem}" in err, err
    assert not (tmp_path / "o.jsonl").exists()


def _refusal_case(tmp_path, case: str) -> tuple[list[str], str, str]:
    """(extra arguments, the file the message must name, the problem) of one refusal."""
    cfg = tmp_path / "cfg.yaml"
    if case == "output_is_a_directory":
        return ["--output", str(tmp_path)], str(tmp_path), "is a directory"
    if case == "output_under_a_file":
        (tmp_path / "f").write_text("")
        return ["--output", str(tmp_path / "f" / "o.jsonl")], str(tmp_path / "f" / "o.jsonl"), "is not a directory"
    if case == "output_is_the_input":
        shutil.copy(FOOTAGE / "basketball1.png", tmp_path / "in.png")
        return ["--input", str(tmp_path / "in.png"), "--output", str(tmp_path / "in.png")], str(
            tmp_path / "in.png"), "is also the input"
    if case == "config_invalid_yaml":
        cfg.write_text("pipeline: [1\n")
        return ["--config", str(cfg)], str(cfg), "invalid YAML"
    if case == "config_pipeline_is_a_list":
        cfg.write_text("pipeline: [1, 2]\n")
        return ["--config", str(cfg)], str(cfg), "'pipeline' must be a mapping of settings, got list"
    if case == "config_setting_of_the_wrong_kind":
        cfg.write_text("pipeline: {input_size: 5}\n")
        return ["--config", str(cfg)], str(cfg), "not iterable"
    if case == "config_unknown_setting":
        cfg.write_text("pipeline: {nope: 1}\n")
        return ["--config", str(cfg)], str(cfg), "unknown pipeline settings ['nope']"
    if case == "config_unknown_lifter_setting":
        cfg.write_text("pipeline: {lifter: {noise_pz: 3}}\n")
        return ["--config", str(cfg)], str(cfg), "unknown lifter settings 'noise_pz' (did you mean 'noise_px'?)"
    if case == "config_missing":
        return ["--config", str(cfg)], str(cfg), "no such file or directory"
    if case == "camera_info_invalid_yaml":
        (tmp_path / "cam.yaml").write_text("x: [\n")
        return ["--camera-info", str(tmp_path / "cam.yaml")], str(tmp_path / "cam.yaml"), "not valid YAML"
    if case == "depth_directory_missing":
        return ["--depth", str(tmp_path / "nodepth")], str(tmp_path / "nodepth"), "no such directory"
    if case == "render_under_a_file":
        (tmp_path / "f").write_text("")
        return ["--render", str(tmp_path / "f" / "r.avi")], str(tmp_path / "f" / "r.avi"), "is a file"
    raise AssertionError(case)


@pytest.mark.parametrize("case", [
    "output_is_a_directory", "output_under_a_file", "output_is_the_input", "config_invalid_yaml",
    "config_pipeline_is_a_list", "config_setting_of_the_wrong_kind", "config_unknown_setting",
    "config_unknown_lifter_setting", "config_missing",
    "camera_info_invalid_yaml", "depth_directory_missing", "render_under_a_file",
])  # fmt: skip
def test_estimate_refusals_are_one_line_naming_the_file(tmp_path, capsys, case):
    extra, path, problem = _refusal_case(tmp_path, case)
    argv = ["estimate", "--input", str(FOOTAGE / "basketball1.png"), "--output", str(tmp_path / "o.jsonl"), *extra]
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"pose3d-ros estimate: {path}: ") and problem in line, line


class _ScriptedPipeline:
    """Stands in for ``Pose3DPipeline`` where a test checks the command's own handling of a frame's result: per
    call, an exception to raise or a list of (16, 3) joint arrays to report as people (no model is loaded)."""

    script: list = []
    backend_name = "scripted"

    def __init__(self, config) -> None:
        self.calls = 0

    def process(self, frame):
        from pose3d_ros.pipeline import FrameResult, PersonResult

        step = self.script[self.calls % len(self.script)]
        self.calls += 1
        if isinstance(step, BaseException):
            raise step
        people = [PersonResult(i, np.asarray(j, float), np.full((16, 2), 10.0), np.full(16, 0.9), np.zeros(16, bool),
                               score=0.9) for i, j in enumerate(step)]  # fmt: skip
        return FrameResult(people, [], {"total": 1.0}, frame.stamp)

    def close(self) -> None:
        pass


def _standing(z: float) -> np.ndarray:
    """A real mocap pose (pose3d16, metres) with its pelvis ``z`` m in front of the camera."""
    from pose3d_ros.data.deepmimic import load_mocap_clips

    pose = load_mocap_clips()["walk"][0].astype(np.float64)
    return pose - pose[0] + [0.0, 0.0, z]


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setattr("pose3d_ros.pipeline.Pose3DPipeline", _ScriptedPipeline)
    _ScriptedPipeline.script = [[_standing(3.0)]]
    return _ScriptedPipeline


def _strict(path) -> list[dict]:
    """The JSONL lines, refusing NaN / Infinity (not JSON)."""
    def refuse(token):
        raise AssertionError(f"{token} in the output")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def _image_dir(tmp_path, names: list[str], bad: set[str]):
    d = tmp_path / "img"
    d.mkdir()
    for name in names:
        if name in bad:
            (d / name).write_bytes(b"\x89PNG not really")
        else:
            cv2.imwrite(str(d / name), np.full((48, 64, 3), 128, np.uint8))
    return d


def test_estimate_skips_an_unreadable_image_with_a_warning(tmp_path, capsys, scripted):
    images = _image_dir(tmp_path, ["a.png", "b.png", "c.png"], bad={"b.png"})
    out = tmp_path / "o.jsonl"
    assert main(["estimate", "--input", str(images), "--output", str(out)]) == 0
    docs = _strict(out)
    assert [d["frame"] for d in docs] == [0, 1, 2]
    assert docs[1]["skeletons"] == [] and docs[1]["error"] == f"{images / 'b.png'}: unreadable image"
    assert len(docs[0]["skeletons"]) == len(docs[2]["skeletons"]) == 1 and "error" not in docs[2]
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"warning: frame 1 (b.png): {images / 'b.png'}: unreadable image" in err


def test_estimate_refuses_a_directory_without_one_readable_image(tmp_path, capsys, scripted):
    images = _image_dir(tmp_path, ["a.png", "b.png"], bad={"a.png", "b.png"})
    assert main(["estimate", "--input", str(images), "--output", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"pose3d-ros estimate: {images}: none of its 2 images could be read"


def test_estimate_writes_a_record_for_a_frame_that_fails(tmp_path, capsys, scripted):
    scripted.script = [[_standing(3.0)], ValueError("stale frame"), [_standing(3.0)]]
    images = _image_dir(tmp_path, ["a.png", "b.png", "c.png"], bad=set())
    out = tmp_path / "o.jsonl"
    assert main(["estimate", "--input", str(images), "--output", str(out)]) == 0
    docs = _strict(out)
    assert [d["frame"] for d in docs] == [0, 1, 2]
    assert docs[1]["skeletons"] == [] and docs[1]["error"] == "stale frame"
    assert "warning: frame 1 (b.png): stale frame" in capsys.readouterr().err


def test_estimate_writes_only_finite_joints_in_front_of_the_camera(tmp_path, capsys, scripted):
    nan, behind, far, wide = (_standing(3.0) for _ in range(4))
    nan[4, 0] = np.nan
    behind[:, 2] -= 3.5
    on_plane = _standing(3.0) - [0.0, 0.0, _standing(3.0)[:, 2].min() - 4e-5]  # its nearest joint rounds to z = 0
    far[:, 2] += 1e6
    wide[9, 0] += 40.0  # a 40 m forearm
    scripted.script = [[nan, _standing(3.0), behind, on_plane, far, wide]]
    out = tmp_path / "o.jsonl"
    assert main(["estimate", "--input", str(FOOTAGE / "basketball1.png"), "--output", str(out)]) == 0
    (doc,) = _strict(out)
    assert [s["id"] for s in doc["skeletons"]] == [1] and doc["dropped"] == 5
    assert all(np.isfinite(v).all() and v[2] > 0 for v in doc["skeletons"][0]["joints"].values())
    err = capsys.readouterr().err
    for person, problem in [(0, "joint left_shoulder is not finite"), (2, "is behind the camera"),
                            (3, "rounds to 0 m"), (4, "m away"), (5, "bone")]:
        assert f"skeleton {person} left out: " in err and problem in err.split(f"skeleton {person} left out: ")[1]


def test_estimate_backend_choices_are_the_inference_devices(tmp_path, capsys):
    from pose3d_ros.inference.factory import DEVICES

    with pytest.raises(SystemExit) as exit_info:
        main(["estimate", "--input", str(FOOTAGE / "basketball1.png"), "--output", str(tmp_path / "o.jsonl"),
              "--backend", "openvino"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --backend: invalid choice: 'openvino'" in err and all(repr(d) in err for d in DEVICES), err


def test_estimate_backend_onnxruntime_is_cpu_with_a_warning(tmp_path, capsys, scripted, monkeypatch):
    configs = []

    class Recording(_ScriptedPipeline):
        def __init__(self, config) -> None:
            super().__init__(config)
            configs.append(config)

    monkeypatch.setattr("pose3d_ros.pipeline.Pose3DPipeline", Recording)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("pipeline: {lifter: {noise_px: 3.0}}\n")
    assert main(["estimate", "--input", str(FOOTAGE / "basketball1.png"), "--output", str(tmp_path / "o.jsonl"),
                 "--config", str(cfg), "--backend", "onnxruntime"]) == 0
    (config,) = configs
    assert config.backend == "cpu" and config.lifter == {"noise_px": 3.0}
    err = capsys.readouterr().err
    assert "pose3d-ros estimate: warning: pipeline backend 'onnxruntime' is deprecated: write `cpu`" in err, err


def test_estimate_refuses_a_lifter_value_naming_the_setting(tmp_path, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("pipeline: {lifter: {noise_px: -1}}\n")
    assert main(["estimate", "--input", str(FOOTAGE / "basketball1.png"), "--output", str(tmp_path / "o.jsonl"),
                 "--config", str(cfg)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("pose3d-ros estimate: pipeline setting lifter.noise_px refused by PoseLifter: ") and \
        line.endswith(f"(settings from {cfg})"), line


def test_estimate_refuses_depth_of_another_size(tmp_path, capsys, scripted):
    (tmp_path / "depth").mkdir()
    np.save(tmp_path / "depth" / "0.npy", np.ones((10, 10), np.float32))
    rc = main(["estimate", "--input", str(FOOTAGE / "basketball1.png"), "--depth", str(tmp_path / "depth"),
               "--output", str(tmp_path / "o.jsonl")])
    assert rc == 2
    line = _one_line(capsys.readouterr().err)
    assert line == (f"pose3d-ros estimate: {tmp_path / 'depth' / '0.npy'}: depth is 10x10 but basketball1.png is "
                    "640x480 (depth must be registered to the colour image)")


@pytest.mark.parametrize("args", [["--fps", "0"], ["--output", "{tmp}"]])
def test_estimate_refusals_from_a_shell_have_no_traceback(tmp_path, args):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--output" not in argv:
        argv += ["--output", str(tmp_path / "o.jsonl")]
    proc = subprocess.run([sys.executable, "-m", "pose3d_ros.cli", "estimate", "--input",
                           str(FOOTAGE / "basketball1.png"), *argv], capture_output=True, text=True, timeout=60,
                          cwd=REPO)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("pose3d-ros estimate:"), proc.stderr
