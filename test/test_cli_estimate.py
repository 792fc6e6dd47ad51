"""``pose3d-ros estimate`` on the shipped real footage: JSONL format, rendering, bad inputs."""

from __future__ import annotations

import importlib.resources
import json
import shutil

import cv2
import numpy as np
import pytest

from pose3d_ros.cli import main
from pose3d_ros.core.skeleton import JOINT_NAMES

FOOTAGE = importlib.resources.files("pose3d_ros") / "resources" / "footage"


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
    assert "unreadable" in capsys.readouterr().err
