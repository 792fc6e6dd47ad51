"""``pose3d-ros record`` writes rosbag2 bags with the source's own stamps; ``estimate`` reads bags; broken bags give
one line on stderr, never a traceback."""

from __future__ import annotations

import importlib.resources
import json
import time

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from pose3d_ros.bags.typestore import typestore
from pose3d_ros.cli import main

VIDEO = importlib.resources.files("pose3d_ros") / "resources" / "footage" / "vtest_640x480.mp4"
VIDEO_PERIOD_NS = 100_000_000  # vtest is 10 fps


def _header_stamps(bag, topic="/camera/color/image_raw"):
    store = typestore()
    out = []
    with Reader(bag) as r:
        conns = [c for c in r.connections if c.topic == topic]
        for conn, log_time, raw in r.messages(conns):
            st = store.deserialize_cdr(raw, conn.msgtype).header.stamp
            out.append((st.sec * 10**9 + st.nanosec, log_time))
    return out


def test_record_video_to_bag_stamps_the_video_frame_period(tmp_path):
    t_before = time.time()
    rc = main(
        ["record", "--source", "playback", "--path", str(VIDEO), "--output", str(tmp_path / "b"), "--frames", "5"]
    )
    assert rc == 0
    stamps = _header_stamps(tmp_path / "b")
    assert len(stamps) == 5 and all(h == log for h, log in stamps)
    gaps = np.diff([h for h, _ in stamps])
    assert np.all(np.abs(gaps - VIDEO_PERIOD_NS) <= 1_000), gaps  # not the read speed (a few ms)
    assert t_before - 1 <= stamps[0][0] / 1e9 <= time.time()  # starts at the time of recording
    with Reader(tmp_path / "b") as r:
        assert {c.topic for c in r.connections} == {
            "/camera/color/image_raw",
            "/camera/color/camera_info",
            "/tf_static",
        }


def test_record_video_to_dir_format_stamps_the_video_frame_period(tmp_path):
    rc = main(["record", "--source", "playback", "--path", str(VIDEO), "--output", str(tmp_path / "d"), "--frames",
               "4", "--format", "dir"])  # fmt: skip
    assert rc == 0
    st = np.loadtxt(tmp_path / "d" / "stamps.txt")
    assert np.allclose(np.diff(st), 0.1, atol=2e-6)


def test_record_bag_to_bag_keeps_the_recorded_stamps(tmp_path):
    assert main(["record", "--source", "synthetic", "--output", str(tmp_path / "a"), "--frames", "3"]) == 0
    assert main(["record", "--source", "playback", "--path", str(tmp_path / "a"), "--output", str(tmp_path / "b")]) == 0
    a, b = _header_stamps(tmp_path / "a"), _header_stamps(tmp_path / "b")
    assert len(a) == 3 and np.allclose([s for s, _ in a], [s for s, _ in b], rtol=0, atol=1_000)
    depth = _header_stamps(tmp_path / "b", "/camera/depth_registered/image_raw")
    assert [s for s, _ in depth] == [s for s, _ in b]  # depth carried over, on the colour stamps


def test_record_refuses_an_existing_bag_and_leaves_none_after_a_failed_start(tmp_path, capsys):
    out = str(tmp_path / "b")
    assert main(["record", "--source", "synthetic", "--output", out, "--frames", "1"]) == 0
    assert main(["record", "--source", "synthetic", "--output", out, "--frames", "1"]) == 2
    assert main(["record", "--source", "synthetic", "--output", out, "--frames", "2", "--overwrite"]) == 0
    assert len(_header_stamps(out)) == 2
    missing = str(tmp_path / "nope.mp4")
    assert main(["record", "--source", "playback", "--path", missing, "--output", str(tmp_path / "c")]) == 1
    assert not (tmp_path / "c").exists()
    assert "does not exist" in capsys.readouterr().err


@pytest.fixture(scope="module")
def video_bag(tmp_path_factory):
    path = tmp_path_factory.mktemp("bag") / "vtest"
    assert main(["record", "--source", "playback", "--path", str(VIDEO), "--output", str(path), "--frames", "3"]) == 0
    return path


def test_estimate_reads_a_bag(tmp_path, video_bag):
    out = tmp_path / "o.jsonl"
    assert main(["estimate", "--input", str(video_bag), "--output", str(out), "--max-frames", "2"]) == 0
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    stamps = [s / 1e9 for s, _ in _header_stamps(video_bag)]
    assert [d["frame"] for d in docs] == [0, 1]
    assert [d["stamp"] for d in docs] == pytest.approx(stamps[:2], abs=1e-5)  # the bag's stamps
    assert sum(len(d["skeletons"]) for d in docs) >= 2  # the pedestrians of vtest


def test_estimate_on_broken_bags_says_so_in_one_line(tmp_path, video_bag, capsys):
    mcap = next(video_bag.glob("*.mcap"))
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "t.mcap").write_bytes(mcap.read_bytes()[:5000])
    rc = main(["estimate", "--input", str(tmp_path / "t" / "t.mcap"), "--output", str(tmp_path / "o.jsonl")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and "cannot read bag" in err, err
    rc = main(["estimate", "--input", str(video_bag), "--output", str(tmp_path / "o.jsonl"), "--color-topic", "/x"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and "/camera/color/image_raw" in err, err
