"""Sources without a device: record -> playback round trip, video/image playback, end of stream, errors."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from pose3d_ros.cli import main as cli_main
from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.sources import DeviceUnavailable, EndOfStream, RGBDFrame, SourceError, create_source
from pose3d_ros.sources.playback import PlaybackSource, RecordingWriter


def _frames(n=4, seed=0):
    rng = np.random.default_rng(seed)
    cam = PinholeCamera(fx=500.0, fy=501.0, cx=159.5, cy=119.5, width=320, height=240)
    return [RGBDFrame(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8),
                      rng.integers(0, 8000, (240, 320), dtype=np.uint16), cam, stamp=100.0 + i / 15) for i in range(n)]


def test_writer_then_playback_returns_identical_frames(tmp_path):
    frames = _frames()
    with RecordingWriter(tmp_path / "rec") as w:
        for f in frames:
            w.write(f)
    with PlaybackSource(tmp_path / "rec", rate=0, loop=False) as src:
        assert src.camera == frames[0].camera and src.has_depth
        assert src.fps == pytest.approx(15.0, rel=1e-3)  # stamps stored with 1 us resolution
        for f in frames:
            g = src.get_frame()
            assert np.array_equal(g.color, f.color) and np.array_equal(g.depth_mm, f.depth_mm)
            assert g.source_stamp == pytest.approx(f.stamp, abs=1e-6)
        with pytest.raises(EndOfStream):
            src.get_frame()


def test_record_command_writes_what_playback_reads(tmp_path):
    rc = cli_main(["record", "--source", "synthetic", "--output", str(tmp_path / "rec"), "--frames", "3"])
    assert rc == 0
    with create_source("playback", path=tmp_path / "rec", rate=0, loop=True) as src:
        frames = [src.get_frame() for _ in range(4)]  # loops after 3
    assert np.array_equal(frames[0].color, frames[3].color)
    assert frames[0].depth_mm.max() == 3000 and frames[0].depth_mm.min() == 2000
    assert [f.index for f in frames] == [0, 1, 2, 3]


def test_record_refuses_to_overwrite(tmp_path):
    assert cli_main(["record", "--source", "synthetic", "--output", str(tmp_path / "r"), "--frames", "1"]) == 0
    assert cli_main(["record", "--source", "synthetic", "--output", str(tmp_path / "r"), "--frames", "1"]) == 2


def test_playback_paces_at_the_requested_rate(tmp_path):
    with RecordingWriter(tmp_path / "rec") as w:
        for f in _frames(6):
            w.write(f)
    with PlaybackSource(tmp_path / "rec", rate=20.0) as src:
        t0 = time.monotonic()
        for _ in range(6):
            src.get_frame()
        assert 0.2 <= time.monotonic() - t0 < 1.0  # 5 intervals of 50 ms


def test_video_and_image_playback(tmp_path):
    path = tmp_path / "v.avi"
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(3):
        vw.write(np.full((48, 64, 3), 60 * i, np.uint8))
    vw.release()
    with PlaybackSource(path, rate=0, loop=False) as src:
        assert not src.has_depth and src.camera.width == 64
        means = [src.get_frame().color.mean() for _ in range(3)]
        assert means[0] < means[1] < means[2]
        with pytest.raises(EndOfStream):
            src.get_frame()
    img = tmp_path / "i.png"
    cv2.imwrite(str(img), np.zeros((30, 40, 3), np.uint8))
    with PlaybackSource(img, rate=0) as src:
        assert src.get_frame().color.shape == (30, 40, 3) and src.get_frame().depth_mm is None


def test_missing_path_is_device_unavailable(tmp_path):
    with pytest.raises(DeviceUnavailable, match="does not exist"):
        PlaybackSource(tmp_path / "nope").open()


def test_get_frame_before_start_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="not started"):
        create_source("synthetic").get_frame()


def test_unknown_backend_and_bad_rate():
    with pytest.raises(ValueError, match="unknown source backend 'kinect9'"):
        create_source("kinect9")
    with pytest.raises(ValueError, match="rate"):
        PlaybackSource(".", rate=-1.0)


def test_frame_validation_names_the_problem():
    cam = PinholeCamera.default(64, 48)
    with pytest.raises(ValueError, match="depth_mm must be"):
        RGBDFrame(np.zeros((48, 64, 3), np.uint8), np.zeros((48, 64), np.float32), cam)
    with pytest.raises(ValueError, match="camera is 64x48"):
        RGBDFrame(np.zeros((40, 64, 3), np.uint8), None, cam)
