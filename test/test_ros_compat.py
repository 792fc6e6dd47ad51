"""Fallbacks and conversions without DDS: synchroniser pairing rule, image conversion, msg <-> numpy, markers, TF."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

pytest.importorskip("rclpy")
from builtin_interfaces.msg import Time  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

import pose3d_ros.ros  # noqa: E402,F401
from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.ros.compat.cv_bridge import ImageConversionError, imgmsg_to_numpy, numpy_to_imgmsg  # noqa: E402
from pose3d_ros.ros.compat.message_filters import ApproximateTimeSynchronizer, SimpleFilter  # noqa: E402
from pose3d_ros.ros.conversions import (  # noqa: E402
    camera_from_info,
    camera_info_from_camera,
    make_skeleton,
    markers_from_skeletons,
    sec_to_stamp,
    skeleton_array_from_people,
    skeleton_array_to_numpy,
    transforms_from_skeletons,
)

pytestmark = pytest.mark.ros


def msg_at(t: float, tag: str = ""):
    return types.SimpleNamespace(header=Header(stamp=sec_to_stamp(t)), tag=tag)


class TestApproximateTimeSynchronizer:
    def setup_method(self):
        self.a, self.b = SimpleFilter(), SimpleFilter()
        self.out = []

    def make(self, queue_size=5, slop=0.05):
        sync = ApproximateTimeSynchronizer([self.a, self.b], queue_size, slop)
        sync.registerCallback(lambda x, y: self.out.append((x.tag, y.tag)))
        return sync

    def test_pairs_messages_within_slop(self):
        self.make()
        self.a.signal_message(msg_at(1.00, "a1"))
        self.b.signal_message(msg_at(1.03, "b1"))
        assert self.out == [("a1", "b1")]

    def test_does_not_pair_beyond_slop(self):
        self.make(slop=0.01)
        self.a.signal_message(msg_at(1.00, "a1"))
        self.b.signal_message(msg_at(1.03, "b1"))
        assert self.out == []

    def test_picks_the_closest_partner(self):
        self.make(slop=0.1)
        self.a.signal_message(msg_at(1.00, "a1"))
        self.a.signal_message(msg_at(1.06, "a2"))
        self.b.signal_message(msg_at(1.05, "b1"))
        assert self.out == [("a2", "b1")]

    def test_queue_keeps_only_the_newest(self):
        self.make(queue_size=2)
        for k in range(4):
            self.a.signal_message(msg_at(1.0 + k, f"a{k}"))
        self.b.signal_message(msg_at(1.0, "b0"))  # a0 was evicted
        self.b.signal_message(msg_at(4.0, "b3"))
        assert self.out == [("a3", "b3")]

    def test_time_jump_back_is_left_to_the_time_jump_stage(self):
        """Like upstream, the synchroniser alone stalls after a jump back; TimeJumpStage restarts it."""
        from pose3d_ros.ros.time_jump_stage import TimeJumpStage

        self.make(queue_size=3)
        for k in range(3):
            self.a.signal_message(msg_at(100.0 + k, f"old{k}"))
        self.a.signal_message(msg_at(5.0, "new"))
        self.b.signal_message(msg_at(5.0, "b"))
        assert self.out == []  # evicted by the newer stamps: what upstream does too
        a2, b2 = SimpleFilter(), SimpleFilter()
        stage = TimeJumpStage([a2, b2])
        sync = ApproximateTimeSynchronizer([a2, b2], 3, 0.1)
        stage.attach(sync)
        got = []
        sync.registerCallback(lambda x, y: got.append((x.tag, y.tag)))
        for k in range(3):
            a2.signal_message(msg_at(100.0 + k, f"old{k}"))
        a2.signal_message(msg_at(5.0, "new"))
        b2.signal_message(msg_at(5.0, "b"))
        assert got == [("new", "b")] and stage.restarts == 1

    @pytest.mark.parametrize("queue_size,slop", [(0, 0.1), (5, -1.0), (5, float("nan"))])
    def test_rejects_bad_settings(self, queue_size, slop):
        with pytest.raises(ValueError):
            ApproximateTimeSynchronizer([self.a, self.b], queue_size, slop)


class TestImageConversion:
    @pytest.mark.parametrize("enc,dtype,shape", [("rgb8", np.uint8, (4, 5, 3)), ("bgr8", np.uint8, (4, 5, 3)),
                                                 ("mono8", np.uint8, (4, 5)), ("16UC1", np.uint16, (4, 5)),
                                                 ("32FC1", np.float32, (4, 5))])
    def test_round_trip(self, enc, dtype, shape):
        rng = np.random.default_rng(0)
        arr = (rng.uniform(0, 200, size=shape)).astype(dtype)
        back = imgmsg_to_numpy(numpy_to_imgmsg(arr, enc))
        assert back.dtype == dtype and np.array_equal(back, arr)

    def test_row_padding_is_skipped(self):
        msg = numpy_to_imgmsg(np.arange(6, dtype=np.uint8).reshape(2, 3), "mono8")
        msg.step = 4
        msg.data = bytes([0, 1, 2, 99, 3, 4, 5, 99])
        assert imgmsg_to_numpy(msg).tolist() == [[0, 1, 2], [3, 4, 5]]

    def test_big_endian_depth(self):
        msg = numpy_to_imgmsg(np.zeros((1, 2), np.uint16), "16UC1")
        msg.is_bigendian = 1
        msg.data = np.array([1000, 2000], ">u2").tobytes()
        assert imgmsg_to_numpy(msg).tolist() == [[1000, 2000]]

    def test_bgr_to_rgb(self):
        """The same bytes mean different colours under bgr8 and rgb8 (a test that an RGB-only path fails)."""
        from sensor_msgs.msg import Image

        raw = bytes([10, 20, 30])  # one pixel as it lies in the message
        bgr = Image(height=1, width=1, encoding="bgr8", step=3, data=raw)
        rgb = Image(height=1, width=1, encoding="rgb8", step=3, data=raw)
        assert imgmsg_to_numpy(bgr, "rgb8")[0, 0].tolist() == [30, 20, 10]
        assert imgmsg_to_numpy(rgb, "rgb8")[0, 0].tolist() == [10, 20, 30]
        # like cv_bridge's cv2_to_imgmsg, writing labels the array's channel order, it does not reorder
        assert bytes(numpy_to_imgmsg(np.array([[[10, 20, 30]]], np.uint8), "bgr8").data) == raw

    @pytest.mark.parametrize("mutate,match", [
        (lambda m: setattr(m, "encoding", "yuv422"), "unsupported image encoding 'yuv422'"),
        (lambda m: setattr(m, "data", bytes(10)), "expected step\\*height"),
        (lambda m: (setattr(m, "width", 0), setattr(m, "height", 0)), "empty image"),
        (lambda m: setattr(m, "step", 2), "step 2 <"),
    ])
    def test_bad_messages_raise_clear_errors(self, mutate, match):
        msg = numpy_to_imgmsg(np.zeros((4, 5, 3), np.uint8), "rgb8")
        mutate(msg)
        with pytest.raises(ImageConversionError, match=match):
            imgmsg_to_numpy(msg)

    def test_array_that_does_not_fit_the_encoding(self):
        with pytest.raises(ImageConversionError, match="does not fit encoding '16UC1'"):
            numpy_to_imgmsg(np.zeros((2, 2), np.float32), "16UC1")


def _people(n=2, seed=3):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        joints = rng.normal(size=(16, 3)) * 0.3 + [0, 0, 3]
        out.append(types.SimpleNamespace(id=i + 7, joints=joints, pixels=rng.uniform(0, 600, (16, 2)),
                                         confidence=rng.uniform(0.2, 1, 16), measured=rng.uniform(size=16) > 0.5,
                                         action="wave_left" if i == 0 else "", action_confidence=0.8))
    return out


def test_camera_info_round_trip():
    cam = PinholeCamera(fx=520.0, fy=521.0, cx=319.5, cy=239.5, width=640, height=480)
    assert camera_from_info(camera_info_from_camera(cam)) == cam


def test_uncalibrated_camera_info_raises():
    info = camera_info_from_camera(PinholeCamera.default(640, 480))
    info.k = [0.0] * 9
    with pytest.raises(ValueError):
        camera_from_info(info)


def test_skeleton_array_round_trip_in_memory():
    people = _people()
    header = Header(stamp=Time(sec=5, nanosec=7), frame_id="cam")
    arr = skeleton_array_to_numpy(skeleton_array_from_people(header, people))
    assert arr["ids"].tolist() == [7, 8]
    np.testing.assert_allclose(arr["joints"][1], people[1].joints)
    np.testing.assert_allclose(arr["pixels"][0], people[0].pixels, rtol=1e-6)
    assert arr["measured"][0].tolist() == people[0].measured.tolist()
    assert arr["actions"].tolist() == ["wave_left", ""]
    assert arr["frame_id"] == "cam" and math.isclose(arr["stamp"], 5 + 7e-9)


def test_make_skeleton_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"\(16, 3\)"):
        make_skeleton(Header(), 0, np.zeros((17, 3)))


def test_markers_one_namespace_per_person_with_lifetime():
    msg = skeleton_array_from_people(Header(frame_id="cam"), _people())
    markers = markers_from_skeletons(msg, lifetime=0.5).markers
    assert {m.ns for m in markers} == {"person_7", "person_8"}
    assert all(m.lifetime.nanosec == 500_000_000 and m.header.frame_id == "cam" for m in markers)
    lines = [m for m in markers if m.type == m.LINE_LIST]
    assert all(len(m.points) == 2 * 15 for m in lines)  # 15 bones of pose3d16
    colors = {(round(m.color.r, 3), round(m.color.g, 3)) for m in lines}
    assert len(colors) == 2


def _tf_matrix(t):
    from scipy.spatial.transform import Rotation

    q = t.transform.rotation
    v = t.transform.translation
    return Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix(), np.array([v.x, v.y, v.z])


def test_transforms_body_and_joint_frames():
    people = _people(1)
    people[0].joints[5] = np.nan
    msg = skeleton_array_from_people(Header(stamp=Time(sec=3), frame_id="cam"), people)
    tfs = transforms_from_skeletons(msg)
    names = [t.child_frame_id for t in tfs]
    assert names[0] == "body_7" and tfs[0].header.frame_id == "cam"
    assert "left_elbow_7" not in names and "head_7" in names and len(names) == 15
    j = people[0].joints
    r_body, origin = _tf_matrix(tfs[0])
    np.testing.assert_allclose(origin, (j[10] + j[13]) / 2)  # mid-hip (REP-155)
    head = next(t for t in tfs if t.child_frame_id == "head_7")
    assert head.header.frame_id == "body_7" and head.header.stamp.sec == 3
    r_head, t_head = _tf_matrix(head)
    np.testing.assert_allclose(r_head, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(origin + r_body @ t_head, j[3], atol=1e-9)  # composed chain lands on the head joint


def test_body_frame_has_the_rep155_orientation():
    people = _people(1)
    j = np.full((16, 3), np.nan)
    j[10], j[13], j[2] = (0.2, 0.0, 2.0), (0.0, 0.0, 2.0), (0.1, -0.5, 2.0)  # facing the camera: left hip on the right
    people[0].joints = j
    r, _ = _tf_matrix(transforms_from_skeletons(skeleton_array_from_people(Header(frame_id="cam"), people))[0])
    np.testing.assert_allclose(r[:, 0], (0, 0, -1), atol=1e-9)  # x forward = toward the camera
    np.testing.assert_allclose(r[:, 2], (0, -1, 0), atol=1e-9)  # z up = -y optical


def test_person_without_hips_or_pelvis_gets_no_tf():
    people = _people(1)
    people[0].joints[[0, 10]] = np.nan
    assert transforms_from_skeletons(skeleton_array_from_people(Header(), people)) == []
