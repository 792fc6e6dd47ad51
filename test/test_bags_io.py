"""Bags we write, read back by other readers: rosbags and the reference MCAP reader (mcap + mcap_ros2's own CDR
decoder), frame-exact; our custom messages; the writer's guards."""

from __future__ import annotations

import numpy as np
import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rosbags.rosbag2 import Reader

from pose3d_ros.bags.rgbd import RGBDBagWriter
from pose3d_ros.bags.typestore import typestore
from pose3d_ros.bags.writer import BagWriter, build_message
from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.sources.base import RGBDFrame

T0 = 1_700_000_000.25  # a real epoch stamp (s) with a fraction


def _frames(n=3, seed=1, depth=True):
    rng = np.random.default_rng(seed)
    cam = PinholeCamera(fx=510.0, fy=512.5, cx=160.25, cy=119.75, width=320, height=240)
    return [
        RGBDFrame(
            rng.integers(0, 256, (240, 320, 3), dtype=np.uint8),
            rng.integers(0, 9000, (240, 320), dtype=np.uint16) if depth else None,
            cam,
            stamp=T0 + i / 30,
        )
        for i in range(n)
    ]


def _mcap_messages(path):
    """(topic, log time, decoded message, channel) with mcap_ros2's own CDR decoder, from the schemas in the file."""
    with open(path, "rb") as fh:
        reader = make_reader(fh, decoder_factories=[DecoderFactory()])
        return [(ch.topic, m.log_time, msg, ch) for _, ch, m, msg in reader.iter_decoded_messages(log_time_order=True)]


def _ns(t: float) -> int:
    return int(round(t * 1e9))


@pytest.fixture
def our_bag(tmp_path):
    frames = _frames()
    with RGBDBagWriter(tmp_path / "bag") as w:
        for f in frames:
            w.write(f)
    return tmp_path / "bag", frames


def test_rosbags_reads_our_bag_frame_exact(our_bag):
    path, frames = our_bag
    store = typestore()
    got: dict[str, list] = {}
    with Reader(path) as r:
        topics = {c.topic: c.msgtype for c in r.connections}
        for conn, t, raw in r.messages():
            got.setdefault(conn.topic, []).append((t, store.deserialize_cdr(raw, conn.msgtype)))
    assert topics == {
        "/camera/color/image_raw": "sensor_msgs/msg/Image",
        "/camera/color/camera_info": "sensor_msgs/msg/CameraInfo",
        "/camera/depth_registered/image_raw": "sensor_msgs/msg/Image",
        "/camera/depth_registered/camera_info": "sensor_msgs/msg/CameraInfo",
        "/tf_static": "tf2_msgs/msg/TFMessage",
    }
    for i, f in enumerate(frames):
        t, img = got["/camera/color/image_raw"][i]
        assert t == _ns(f.stamp) == img.header.stamp.sec * 10**9 + img.header.stamp.nanosec
        assert img.encoding == "rgb8" and img.header.frame_id == "camera_color_optical_frame"
        assert np.array_equal(np.asarray(img.data).reshape(240, 320, 3), f.color)
        _, d = got["/camera/depth_registered/image_raw"][i]
        assert d.encoding == "16UC1" and d.is_bigendian == 0 and d.step == 640
        assert np.array_equal(np.asarray(d.data).view("<u2").reshape(240, 320), f.depth_mm)
        _, info = got["/camera/color/camera_info"][i]
        assert np.allclose(info.k, [510.0, 0, 160.25, 0, 512.5, 119.75, 0, 0, 1]) and (info.width, info.height) == (
            320,
            240,
        )
    [(_, tf)] = got["/tf_static"]
    [tr] = tf.transforms
    assert (tr.header.frame_id, tr.child_frame_id) == ("camera_link", "camera_color_optical_frame")
    q = tr.transform.rotation
    # REP-103: the optical z axis (forward) is the body's x axis, optical x (right) is the body's -y
    rot = _quat_matrix(q.x, q.y, q.z, q.w)
    assert np.allclose(rot @ [0, 0, 1], [1, 0, 0]) and np.allclose(rot @ [1, 0, 0], [0, -1, 0])


def _quat_matrix(x, y, z, w):
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def test_mcap_reference_reader_decodes_our_bag(our_bag):
    path, frames = our_bag
    [mcap_file] = list(path.glob("*.mcap"))
    with open(mcap_file, "rb") as fh:
        summary = make_reader(fh).get_summary()
    assert summary.chunk_indexes and {c.compression for c in summary.chunk_indexes} == {"zstd"}
    by_topic: dict[str, list] = {}
    for topic, log_time, msg, ch in _mcap_messages(mcap_file):
        by_topic.setdefault(topic, []).append((log_time, msg, ch))
    colors = by_topic["/camera/color/image_raw"]
    assert len(colors) == len(frames)
    for (log_time, img, _), f in zip(colors, frames, strict=True):
        assert log_time == _ns(f.stamp) == img.header.stamp.sec * 10**9 + img.header.stamp.nanosec
        assert np.array_equal(np.frombuffer(bytes(img.data), np.uint8).reshape(240, 320, 3), f.color)
    for (_, d, _), f in zip(by_topic["/camera/depth_registered/image_raw"], frames, strict=True):
        assert np.array_equal(np.frombuffer(bytes(d.data), "<u2").reshape(240, 320), f.depth_mm)
    k = by_topic["/camera/color/camera_info"][0][1].k
    assert np.allclose(k, frames[0].camera.K.ravel())
    qos = by_topic["/tf_static"][0][2].metadata["offered_qos_profiles"]
    assert "transient_local" in qos  # latched: ros2 bag play hands it to late subscribers


def test_uncompressed_bag_has_plain_chunks(tmp_path):
    with RGBDBagWriter(tmp_path / "b", compression="none") as w:
        w.write(_frames(1)[0])
    with open(next((tmp_path / "b").glob("*.mcap")), "rb") as fh:
        assert {c.compression for c in make_reader(fh).get_summary().chunk_indexes} == {""}


def test_colour_only_frames_write_no_depth_topics(tmp_path):
    with RGBDBagWriter(tmp_path / "b", namespace="kinect") as w:
        w.write(_frames(1, depth=False)[0])
    with Reader(tmp_path / "b") as r:
        assert {c.topic for c in r.connections} == {
            "/kinect/color/image_raw",
            "/kinect/color/camera_info",
            "/tf_static",
        }


def _skeleton_dict(stamp_ns: int) -> dict:
    joints = [
        {"name": f"j{j}", "position": {"x": 0.1 * j, "y": -0.2, "z": 2.5}, "u": 100.0 + j, "v": 50.5, "confidence": 0.9}
        for j in range(16)
    ]
    return {
        "header": {"stamp": {"sec": stamp_ns // 10**9, "nanosec": stamp_ns % 10**9}, "frame_id": "cam_optical"},
        "skeletons": [{"id": 7, "joints": joints, "confidence": 0.8, "action": "wave_left", "action_confidence": 0.6}],
    }


def test_skeletons_written_as_dicts_read_back_by_both_readers(tmp_path):
    t = _ns(T0)
    with BagWriter(tmp_path / "out") as bag:
        bag.write("/skeletons", "pose3d_ros/Skeleton3DArray", _skeleton_dict(t), t)
        bag.write("/skeletons", "pose3d_ros/msg/Skeleton3DArray", {"header": {"frame_id": "cam_optical"}}, t + 33)
    store = typestore()
    with Reader(tmp_path / "out") as r:
        msgs = [(ts, store.deserialize_cdr(raw, c.msgtype)) for c, ts, raw in r.messages()]
    assert [ts for ts, _ in msgs] == [t, t + 33]
    sk = msgs[0][1].skeletons[0]
    assert sk.id == 7 and sk.action == "wave_left" and len(sk.joints) == 16
    assert sk.joints[3].name == "j3" and sk.joints[3].position.x == pytest.approx(0.3) and sk.joints[3].u == 103.0
    assert sk.joints[3].measured is False  # a missing field gets its zero value
    assert msgs[1][1].skeletons == []
    [mcap_file] = list((tmp_path / "out").glob("*.mcap"))
    decoded = [msg for _, _, msg, _ in _mcap_messages(mcap_file)]
    assert decoded[0].skeletons[0].joints[15].position.x == pytest.approx(1.5)
    assert decoded[0].skeletons[0].action_confidence == pytest.approx(0.6)


def test_rclpy_messages_are_serialised_by_rclpy(tmp_path):
    # conftest imports pose3d_ros.ros where rclpy and the built messages exist, which makes pose3d_ros.msg importable
    msgs = pytest.importorskip("pose3d_ros.msg", reason="rclpy / pose3d_ros.msg not built (scripts/setup_env.sh)")
    Joint3D, Skeleton3D, Skeleton3DArray = msgs.Joint3D, msgs.Skeleton3D, msgs.Skeleton3DArray  # noqa: N806
    msg = Skeleton3DArray()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1_700_000_000, 5
    sk = Skeleton3D(id=3, action="walk")
    sk.joints = [Joint3D(name="pelvis", u=1.5, v=2.5, confidence=1.0, measured=True)]
    sk.joints[0].position.z = 3.25
    msg.skeletons = [sk]
    from rclpy.qos import qos_profile_sensor_data

    with BagWriter(tmp_path / "out") as bag:  # type from the rclpy class, QoS from an rclpy profile
        bag.write("skeletons", None, msg, 1_700_000_000 * 10**9 + 5, qos=qos_profile_sensor_data)
    with Reader(tmp_path / "out") as r:
        [(conn, _, raw)] = list(r.messages())
        assert conn.msgtype == "pose3d_ros/msg/Skeleton3DArray"
        [qos] = conn.ext.offered_qos_profiles
        assert (qos.reliability.name, qos.durability.name, qos.depth) == ("BEST_EFFORT", "VOLATILE", 5)
        back = typestore().deserialize_cdr(raw, conn.msgtype)
    j = back.skeletons[0].joints[0]
    assert back.skeletons[0].action == "walk" and j.position.z == 3.25 and j.measured is True and j.v == 2.5


def test_writer_refuses_existing_paths_and_bad_input(tmp_path):
    with BagWriter(tmp_path / "b") as bag:
        with pytest.raises(ValueError, match="unknown message type"):
            bag.write("/x", "nope_msgs/msg/Nothing", {}, 0)
        with pytest.raises(ValueError, match="no field"):
            bag.write("/x", "std_msgs/msg/Header", {"frame": "a"}, 0)
        with pytest.raises(ValueError, match="non-negative integer"):
            bag.write("/x", "std_msgs/msg/Header", {}, 1.5)
        bag.write("/x", "std_msgs/msg/Header", {"frame_id": "a"}, 0)
    with pytest.raises(ValueError, match="closed"):
        bag.write("/x", "std_msgs/msg/Header", {}, 1)
    with pytest.raises(FileExistsError, match="overwrite"):
        BagWriter(tmp_path / "b")
    BagWriter(tmp_path / "b", overwrite=True).close()  # a bag may be replaced ...
    (tmp_path / "notabag").mkdir()
    (tmp_path / "notabag" / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not a bag"):
        BagWriter(tmp_path / "notabag", overwrite=True)  # ... anything else never
    assert (tmp_path / "notabag" / "keep.txt").read_text() == "precious"


def test_bag_stays_readable_after_an_exception_while_writing(tmp_path):
    frames = _frames(2)
    with pytest.raises(KeyboardInterrupt), RGBDBagWriter(tmp_path / "b") as w:
        w.write(frames[0])
        raise KeyboardInterrupt  # Ctrl-C while recording
    with Reader(tmp_path / "b") as r:
        assert r.message_count == 4 + 1  # two infos, two images, the static TF


def test_build_message_fills_defaults_and_arrays():
    msg = build_message(typestore(), "sensor_msgs/CameraInfo", {"k": list(range(9)), "d": [0.1, 0.2]})
    assert msg.k.dtype == np.float64 and msg.k.tolist() == list(range(9))
    assert msg.d.tolist() == [0.1, 0.2] and msg.p.shape == (12,) and msg.header.frame_id == ""
