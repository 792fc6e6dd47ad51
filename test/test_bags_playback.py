"""PlaybackSource on rosbag2 bags: ours, and bags as ``ros2 bag record`` stores other cameras (Azure Kinect and
RealSense topic names and encodings, written here with rosbags' own writer and Humble's types), pairing by stamp,
real-time pacing, lens distortion, and broken bags (one clear SourceError, never a traceback)."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import StoragePlugin
from rosbags.typesys import Stores, get_typestore

from pose3d_ros.bags.rgbd import RGBDBagWriter
from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.sources import DeviceUnavailable, EndOfStream, RGBDFrame, SourceError
from pose3d_ros.sources.playback import PlaybackSource

HUMBLE = get_typestore(Stores.ROS2_HUMBLE)
T0 = 1_712_345_678 * 10**9 + 123_456_789  # ns
PERIOD = 33_333_333  # 30 fps, ns
W, H = 64, 48
K = [60.0, 0.0, 31.5, 0.0, 61.0, 23.5, 0.0, 0.0, 1.0]


def _header(t_ns: int, frame: str):
    T = HUMBLE.types  # noqa: N806
    return T["std_msgs/msg/Header"](
        stamp=T["builtin_interfaces/msg/Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9), frame_id=frame
    )


def _image(t_ns, enc, w, h, data: np.ndarray, step=None, bigendian=0, frame="cam"):
    data = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    step = step or data.size // h
    return HUMBLE.types["sensor_msgs/msg/Image"](
        header=_header(t_ns, frame), height=h, width=w, encoding=enc, is_bigendian=bigendian, step=step, data=data
    )


def _info(t_ns, w=W, h=H, k=K, d=(), model="plumb_bob"):
    T = HUMBLE.types  # noqa: N806
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    p = np.zeros(12)
    p[[0, 2, 5, 6, 10]] = [k[0], k[2], k[4], k[5], 1.0]
    return T["sensor_msgs/msg/CameraInfo"](
        header=_header(t_ns, "cam"), height=h, width=w, distortion_model=model, d=np.asarray(d, float),
        k=np.asarray(k, float), r=np.eye(3).ravel(), p=p, binning_x=0, binning_y=0, roi=roi,
    )  # fmt: skip


def _write_foreign(path, messages):
    """``messages``: (topic, msgtype, msg, log_time_ns), as ros2 bag record stores them (log time = arrival)."""
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {}
        for topic, msgtype, msg, t in sorted(messages, key=lambda m: m[3]):
            if topic not in conns:
                conns[topic] = w.add_connection(topic, msgtype, typestore=HUMBLE)
            w.write(conns[topic], t, HUMBLE.serialize_cdr(msg, msgtype))
    return path


def _rgb(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, H, W, 3), dtype=np.uint8)


def _depth(n, seed=1):
    return np.random.default_rng(seed).integers(1, 10_000, (n, H, W), dtype=np.uint16)


IMG, INFO = "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo"


def test_azure_kinect_bag_bgra8_and_depth_to_rgb(tmp_path):
    rgb, depth = _rgb(4), _depth(4)
    msgs = []
    for i in range(4):
        t = T0 + i * PERIOD
        bgra = np.dstack([rgb[i][..., 2], rgb[i][..., 1], rgb[i][..., 0], np.full((H, W), 255, np.uint8)])
        msgs += [
            ("/rgb/camera_info", INFO, _info(t), t + 1_000_000),
            ("/depth_to_rgb/image_raw", IMG, _image(t, "16UC1", W, H, depth[i]), t + 2_000_000),
            ("/rgb/image_raw", IMG, _image(t, "bgra8", W, H, bgra), t + 9_000_000),
            # the unregistered depth camera and its infrared: other sizes, never chosen
            ("/depth/image_raw", IMG, _image(t, "16UC1", 32, 24, depth[i][::2, ::2]), t + 3_000_000),
            ("/ir/image_raw", IMG, _image(t, "mono16", 32, 24, depth[i][::2, ::2]), t + 4_000_000),
            ("/depth/camera_info", INFO, _info(t, 32, 24), t + 1_000_000),
        ]
    bag = _write_foreign(tmp_path / "azure", msgs)
    with PlaybackSource(bag, rate=0, loop=False, stamps="recorded") as src:
        assert src.has_depth and len(src) == 4
        for i in range(4):
            f = src.get_frame()
            assert np.array_equal(f.color, rgb[i]), "bgra8 must come out as RGB"
            assert np.array_equal(f.depth_mm, depth[i])
            assert f.camera == PinholeCamera(60.0, 61.0, 31.5, 23.5, W, H)
            assert f.stamp == pytest.approx((T0 + i * PERIOD) / 1e9, abs=1e-6)  # header stamp, not log time
        with pytest.raises(EndOfStream):
            src.get_frame()


def test_realsense_bag_pairs_nearest_depth_within_tolerance(tmp_path):
    rgb, depth = _rgb(5, 3), _depth(5, 4)
    step = W * 3 + 8  # padded rows
    msgs = [("/tf_static", "tf2_msgs/msg/TFMessage", HUMBLE.types["tf2_msgs/msg/TFMessage"](transforms=[]), T0)]
    for i in range(5):
        t = T0 + i * PERIOD
        padded = np.zeros((H, step), np.uint8)
        padded[:, : W * 3] = rgb[i].reshape(H, -1)
        msgs += [
            ("/camera/color/image_raw", IMG, _image(t, "rgb8", W, H, padded, step=step), t + 5_000_000),
            ("/camera/color/camera_info", INFO, _info(t), t + 5_000_000),
            ("/camera/depth/image_rect_raw", IMG, _image(t, "16UC1", 48, 32, depth[i][:32, :48]), t + 1_000_000),
            ("/camera/infra1/image_rect_raw", IMG, _image(t, "mono8", W, H, rgb[i][..., 0]), t + 1_000_000),
        ]
        if i != 2:  # depth of frame 2 was dropped; the others come 8 ms after their colour frame
            td = t + 8_000_000
            msgs.append(("/camera/aligned_depth_to_color/image_raw", IMG, _image(td, "16UC1", W, H, depth[i]), td))
    bag = _write_foreign(tmp_path / "rs", msgs)
    with PlaybackSource(bag, rate=0, loop=False, sync_tolerance=0.02) as src:
        frames = [src.get_frame() for _ in range(5)]
    for i, f in enumerate(frames):
        assert np.array_equal(f.color, rgb[i])
        if i == 2:  # nearest depth is 25 ms away: beyond 20 ms, so none rather than a neighbour's
            assert f.depth_mm is None
        else:
            assert np.array_equal(f.depth_mm, depth[i]), f"frame {i} got another frame's depth"
    with PlaybackSource(bag, rate=0, loop=False, sync_tolerance=0.03) as src:
        frames = [src.get_frame() for _ in range(3)]
    assert np.array_equal(frames[2].depth_mm, depth[1])  # 25 ms before beats 41 ms after


def _yuv_expected(y, u, v):
    c, d, e = 1.164 * (y - 16.0), u - 128.0, v - 128.0  # BT.601 limited range
    rgb = np.stack([c + 1.596 * e, c - 0.813 * e - 0.391 * d, c + 2.018 * d], axis=-1)
    return np.clip(rgb, 0, 255)


@pytest.mark.parametrize("enc", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "yuv422", "uyvy", "yuv422_yuy2", "yuyv"])
def test_colour_encodings(tmp_path, enc):
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    alpha = np.full((H, W, 1), 9, np.uint8)
    tol = 0
    if enc in ("rgb8", "bgr8", "rgba8", "bgra8"):
        order = {"rgb8": [0, 1, 2], "bgr8": [2, 1, 0], "rgba8": [0, 1, 2], "bgra8": [2, 1, 0]}[enc]
        data = rgb[..., order] if enc in ("rgb8", "bgr8") else np.concatenate([rgb[..., order], alpha], axis=2)
        expected = rgb
    elif enc == "mono8":
        data, expected = rgb[..., 0], np.repeat(rgb[..., :1], 3, axis=2)
    else:
        y = rng.integers(16, 236, (H, W)).astype(np.uint8)
        u, v = (rng.integers(16, 241, (H, W // 2)).astype(np.uint8) for _ in range(2))
        pair = np.stack([u, y[:, 0::2], v, y[:, 1::2]], -1) if enc in ("yuv422", "uyvy") else (
            np.stack([y[:, 0::2], u, y[:, 1::2], v], -1))  # fmt: skip
        data = pair.reshape(H, W * 2)
        expected = _yuv_expected(y.astype(float), np.repeat(u, 2, 1).astype(float), np.repeat(v, 2, 1).astype(float))
        tol = 3  # OpenCV's fixed-point coefficients
    bag = _write_foreign(tmp_path / "b", [("/cam/image_raw", IMG, _image(T0, enc, W, H, data), T0)])
    with PlaybackSource(bag, rate=0, loop=False) as src:
        got = src.get_frame().color
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= tol


@pytest.mark.parametrize("enc,big", [("16UC1", 0), ("16UC1", 1), ("32FC1", 0), ("32FC1", 1)])
def test_depth_encodings_and_byte_order(tmp_path, enc, big):
    mm = _depth(1)[0]
    mm[0, :4] = 0
    if enc == "16UC1":
        raw = mm.astype(">u2" if big else "<u2")
    else:
        m = mm.astype(np.float32) / 1000
        m[0, :4] = [np.nan, np.inf, -1.0, 0.0]  # every kind of "no reading"
        raw = m.astype(">f4" if big else "<f4")
    msgs = [
        ("/k/rgb/image_raw", IMG, _image(T0, "rgb8", W, H, _rgb(1)[0]), T0),
        ("/k/depth_registered/image_raw", IMG, _image(T0, enc, W, H, raw.view(np.uint8), bigendian=big), T0),
    ]
    with PlaybackSource(_write_foreign(tmp_path / "b", msgs), rate=0, loop=False) as src:
        assert np.array_equal(src.get_frame().depth_mm, mm)


def test_compressed_colour_and_compressed_depth_png(tmp_path):
    rgb, mm = _rgb(1, 8)[0], _depth(1, 9)[0]
    T = HUMBLE.types  # noqa: N806
    png = np.frombuffer(cv2.imencode(".png", rgb[..., ::-1])[1].tobytes(), np.uint8)  # imencode takes BGR
    # compressed_depth_image_transport: 12-byte header (int32 format = PNG, float32[2] unused for 16UC1), then PNG
    header = np.array([1], "<i4").tobytes() + np.zeros(2, "<f4").tobytes()
    dpng = np.frombuffer(header + cv2.imencode(".png", mm)[1].tobytes(), np.uint8)

    def comp(fmt, data):
        return T["sensor_msgs/msg/CompressedImage"](header=_header(T0, "c"), format=fmt, data=data)

    cimg = "sensor_msgs/msg/CompressedImage"
    msgs = [
        ("/cam/color/image_raw/compressed", cimg, comp("rgb8; png compressed bgr8", png), T0),
        ("/cam/aligned_depth_to_color/image_raw/compressedDepth", cimg, comp("16UC1; compressedDepth png", dpng), T0),
        ("/cam/color/camera_info", INFO, _info(T0), T0),
    ]
    with PlaybackSource(_write_foreign(tmp_path / "b", msgs), rate=0, loop=False) as src:
        f = src.get_frame()
    assert np.array_equal(f.color, rgb) and np.array_equal(f.depth_mm, mm) and f.camera.fx == 60.0


def test_compressed_depth_32fc1_inverse_depth_png(tmp_path):
    # compressed_depth_image_transport's 32FC1: q = A / depth + B as 16-bit PNG, A = Q (Q + 1), B = 1 - A / max
    a = 100.0 * 101.0
    b = 1.0 - a / 10.0
    mm = np.random.default_rng(13).integers(500, 8000, (H, W)).astype(np.uint16)
    mm[0, :3] = 0
    q = np.where(mm > 0, np.rint(a / (np.maximum(mm, 1) / 1000.0) + b), 0).astype(np.uint16)
    header = np.array([0], "<i4").tobytes() + np.array([a, b], "<f4").tobytes()
    data = np.frombuffer(header + cv2.imencode(".png", q)[1].tobytes(), np.uint8)
    comp = HUMBLE.types["sensor_msgs/msg/CompressedImage"](
        header=_header(T0, "c"), format="32FC1; compressedDepth png", data=data
    )
    msgs = [
        ("/c/color/image_raw", IMG, _image(T0, "rgb8", W, H, _rgb(1)[0]), T0),
        ("/c/depth_registered/image_raw/compressedDepth", "sensor_msgs/msg/CompressedImage", comp, T0),
    ]
    with PlaybackSource(_write_foreign(tmp_path / "b", msgs), rate=0, loop=False) as src:
        got = src.get_frame().depth_mm.astype(float)
    step_mm = 1000.0 * (mm / 1000.0) ** 2 / a  # one quantisation step of q, in mm, at each depth
    assert np.all(got[0, :3] == 0) and np.all(np.abs(got[mm > 0] - mm[mm > 0]) <= step_mm[mm > 0] + 1)


@pytest.mark.parametrize("compression", ["LZ4", "ZSTD"])
def test_single_mcap_file_from_another_writer(tmp_path, compression):
    """A bare .mcap (no metadata.yaml) written by the mcap library: ros2 profile, CRCs, lz4 or zstd chunks."""
    from mcap.writer import CompressionType
    from mcap.writer import Writer as McapWriter

    rgb, mm = _rgb(3, 11), _depth(3, 12)
    path = tmp_path / "cam.mcap"
    with open(path, "wb") as fh:
        w = McapWriter(fh, compression=CompressionType[compression], enable_crcs=True)
        w.start(profile="ros2", library="test")
        chans = {}
        for topic, typ in (("/rgb/image_raw", IMG), ("/depth_to_rgb/image_raw", IMG), ("/rgb/camera_info", INFO)):
            sid = w.register_schema(typ, "ros2msg", HUMBLE.generate_msgdef(typ)[0].encode())
            chans[topic] = w.register_channel(topic, "cdr", sid)
        for i in range(3):
            t = T0 + i * PERIOD
            for topic, msg in (
                ("/rgb/camera_info", _info(t)),
                ("/depth_to_rgb/image_raw", _image(t, "16UC1", W, H, mm[i])),
                ("/rgb/image_raw", _image(t, "rgb8", W, H, rgb[i])),
            ):
                typ = IMG if topic.endswith("image_raw") else INFO
                w.add_message(chans[topic], log_time=t, data=bytes(HUMBLE.serialize_cdr(msg, typ)), publish_time=t)
        w.finish()
    with PlaybackSource(path, rate=0, loop=False, stamps="recorded") as src:
        for i in range(3):
            f = src.get_frame()
            assert np.array_equal(f.color, rgb[i]) and np.array_equal(f.depth_mm, mm[i]) and f.camera.fy == 61.0
            assert f.stamp == pytest.approx((T0 + i * PERIOD) / 1e9, abs=1e-6)


def test_explicit_topics_override_the_choice(tmp_path):
    rgb = _rgb(2, 5)
    msgs = [
        ("/a/color/image_raw", IMG, _image(T0, "rgb8", W, H, rgb[0]), T0),
        ("/b/color/image_raw", IMG, _image(T0, "rgb8", W, H, rgb[1]), T0),
        ("/b/color/camera_info", INFO, _info(T0, k=[70.0, 0, 31.5, 0, 70.0, 23.5, 0, 0, 1]), T0),
    ]
    bag = _write_foreign(tmp_path / "b", msgs)
    with PlaybackSource(bag, rate=0, loop=False, color_topic="b/color/image_raw") as src:
        f = src.get_frame()
        assert np.array_equal(f.color, rgb[1]) and f.camera.fx == 70.0 and not src.has_depth
    with pytest.raises(DeviceUnavailable, match=r"no colour image topic '/c/image'.*/a/color/image_raw"):
        PlaybackSource(bag, color_topic="/c/image").open()


def test_camera_info_distortion_is_undistorted(tmp_path):
    d = [-0.5, 0.0, 0.001, -0.002, 0.0]
    ideal = np.array([3.0, 2.0])  # near a corner, where this lens moves pixels by several px
    k = np.array(K).reshape(3, 3)
    ray = np.array([[(ideal[0] - k[0, 2]) / k[0, 0], (ideal[1] - k[1, 2]) / k[1, 1], 1.0]])
    raw_px = cv2.projectPoints(ray, np.zeros(3), np.zeros(3), k, np.array(d))[0].reshape(2)
    assert np.linalg.norm(raw_px - ideal) > 3
    img = np.zeros((H, W, 3), np.uint8)
    depth = np.zeros((H, W), np.uint16)
    cv2.circle(img, tuple(int(round(c)) for c in raw_px), 1, (255, 255, 255), -1)
    depth[int(round(raw_px[1])), int(round(raw_px[0]))] = 1234
    msgs = [
        ("/c/color/image_raw", IMG, _image(T0, "rgb8", W, H, img), T0),
        ("/c/color/camera_info", INFO, _info(T0, d=d), T0),
        ("/c/depth_registered/image_raw", IMG, _image(T0, "16UC1", W, H, depth), T0),
    ]
    with PlaybackSource(_write_foreign(tmp_path / "b", msgs), rate=0, loop=False) as src:
        f = src.get_frame()
    ys, xs = np.nonzero(f.color[..., 0] > 64)
    assert np.hypot(xs.mean() - ideal[0], ys.mean() - ideal[1]) < 1.0
    dy, dx = np.nonzero(f.depth_mm)
    assert set(f.depth_mm[dy, dx]) == {1234} and np.hypot(dx.mean() - ideal[0], dy.mean() - ideal[1]) < 1.5


def _our_bag(path, n=3, period_s=1 / 30, w=W, h=H):
    rng = np.random.default_rng(2)
    cam = PinholeCamera.default(w, h)
    frames = [
        RGBDFrame(
            rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
            rng.integers(0, 10_000, (h, w), dtype=np.uint16),
            cam,
            stamp=T0 / 1e9 + i * period_s,
        )
        for i in range(n)
    ]
    with RGBDBagWriter(path) as w:
        for f in frames:
            w.write(f)
    return frames


def test_our_bag_plays_frame_exact_as_dir_or_mcap_file(tmp_path):
    frames = _our_bag(tmp_path / "ours")
    for path in (tmp_path / "ours", tmp_path / "ours" / "ours.mcap"):
        with PlaybackSource(path, rate=0, loop=False, stamps="recorded") as src:
            assert src.camera == frames[0].camera and src.fps == pytest.approx(30.0, rel=1e-3)
            for g in frames:
                f = src.get_frame()
                assert np.array_equal(f.color, g.color) and np.array_equal(f.depth_mm, g.depth_mm)
                assert f.stamp == pytest.approx(g.stamp, abs=1e-6) and f.source_stamp == pytest.approx(
                    g.stamp, abs=1e-6
                )


def test_bag_real_time_pacing_and_looping_stamps(tmp_path):
    frames = _our_bag(tmp_path / "b", n=4, period_s=0.08)
    with PlaybackSource(tmp_path / "b", rate=None, loop=True, stamps="recorded") as src:
        t0 = time.monotonic()
        got = [src.get_frame() for _ in range(6)]
        elapsed = time.monotonic() - t0
    assert 5 * 0.08 - 0.02 <= elapsed < 5 * 0.08 + 0.5  # the recorded 80 ms gaps
    assert np.array_equal(got[4].color, frames[0].color)  # looped
    assert all(b.stamp > a.stamp for a, b in zip(got, got[1:], strict=False))  # stamps keep increasing over loops
    with PlaybackSource(tmp_path / "b", rate=0, loop=False) as src:
        t0 = time.monotonic()
        for _ in range(4):
            src.get_frame()
        assert time.monotonic() - t0 < 0.2  # as fast as possible


def test_truncated_garbage_and_unreadable_bags_raise_one_clear_error(tmp_path):
    _our_bag(tmp_path / "good", n=3)
    data = (tmp_path / "good" / "good.mcap").read_bytes()
    cases = {}
    (tmp_path / "trunc").mkdir()
    (tmp_path / "trunc" / "trunc.mcap").write_bytes(data[: len(data) // 2])
    cases["truncated mcap file"] = tmp_path / "trunc" / "trunc.mcap"
    (tmp_path / "garbage.mcap").write_bytes(np.random.default_rng(0).bytes(5000))
    cases["garbage"] = tmp_path / "garbage.mcap"
    (tmp_path / "empty.mcap").write_bytes(b"")
    cases["empty file"] = tmp_path / "empty.mcap"
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: [")
    cases["broken metadata"] = tmp_path / "meta"
    for what, path in cases.items():
        with pytest.raises(DeviceUnavailable, match="cannot read bag"):
            PlaybackSource(path).open()
            pytest.fail(what)


def test_corrupt_chunk_mid_bag_raises_source_error(tmp_path):
    _our_bag(tmp_path / "b", n=6, w=320, h=240)  # 2 MiB of noise: several 1 MiB chunks
    from mcap.reader import make_reader

    mcap = tmp_path / "b" / "b.mcap"
    with open(mcap, "rb") as fh:
        chunks = sorted(make_reader(fh).get_summary().chunk_indexes, key=lambda c: c.chunk_start_offset)
    assert len(chunks) >= 2
    blob = bytearray(mcap.read_bytes())
    # the last chunk's zstd frame starts after opcode + length + 3 x u64 + u32 crc + "zstd" string + u64 size
    frame_start = chunks[-1].chunk_start_offset + 1 + 8 + 8 * 3 + 4 + (4 + 4) + 8
    assert bytes(blob[frame_start : frame_start + 4]) == b"\x28\xb5\x2f\xfd"  # zstd magic
    blob[frame_start : frame_start + 4] = bytes(4)
    mcap.write_bytes(bytes(blob))
    with pytest.raises(SourceError, match="corrupt"), PlaybackSource(tmp_path / "b", rate=0, loop=False) as src:
        for _ in range(6):
            src.get_frame()


def test_missing_topics_and_unregistered_depth(tmp_path):
    depth_only = [("/camera/depth/image_raw", IMG, _image(T0, "16UC1", W, H, _depth(1)[0]), T0)]
    with pytest.raises(DeviceUnavailable, match="no colour image topic"):
        PlaybackSource(_write_foreign(tmp_path / "d", depth_only)).open()
    info_only = [("/camera/color/camera_info", INFO, _info(T0), T0)]
    with pytest.raises(DeviceUnavailable, match="no colour image topic"):
        PlaybackSource(_write_foreign(tmp_path / "i", info_only)).open()
    unregistered = [
        ("/camera/color/image_raw", IMG, _image(T0, "rgb8", W, H, _rgb(1)[0]), T0),
        ("/camera/depth/image_raw", IMG, _image(T0, "16UC1", 32, 24, _depth(1)[0][:24, :32]), T0),
    ]
    with pytest.raises(SourceError, match="not registered to colour"):
        PlaybackSource(_write_foreign(tmp_path / "u", unregistered)).open()
    bad_enc = [("/camera/color/image_raw", IMG, _image(T0, "bayer_rggb8", W, H, _rgb(1)[0][..., 0]), T0)]
    with pytest.raises(SourceError, match="bayer_rggb8"):
        PlaybackSource(_write_foreign(tmp_path / "e", bad_enc)).open()
