"""ROS4HRI output (ros/hri.py): message builders without DDS, then HriPublisher between two processes over real DDS
(a consumer that follows /humans/bodies/tracked like libhri does, bodies appearing and leaving)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import wait_for

pytest.importorskip("rclpy")
hri_msgs = pytest.importorskip("hri_msgs.msg", reason="hri_msgs not built: run scripts/setup_env.sh")
from std_msgs.msg import Header  # noqa: E402

from pose3d_ros.core.rep155 import REP155_JOINT_NAMES  # noqa: E402
from pose3d_ros.ros.hri import body_topic, joint_state_msg, roi_msg, skeleton2d_msg  # noqa: E402

pytestmark = pytest.mark.ros

W, H = 640, 480


def test_skeleton2d_msg_has_18_normalised_points():
    pix = np.tile([[320.0, 240.0]], (16, 1))
    pix[2] = (64.0, 48.0)  # neck
    msg = skeleton2d_msg(Header(frame_id="cam"), pix, np.full(16, 0.9), W, H)
    assert len(msg.skeleton) == 18 and msg.header.frame_id == "cam"
    neck = msg.skeleton[hri_msgs.Skeleton2D.NECK]
    assert (neck.x, neck.y, neck.c) == (pytest.approx(0.1), pytest.approx(0.1), pytest.approx(0.9))
    assert msg.skeleton[hri_msgs.Skeleton2D.NOSE].c == 0.0 and msg.skeleton[hri_msgs.Skeleton2D.LEFT_EAR].c == 0.0


def test_roi_and_joint_state_msgs():
    roi = roi_msg(Header(), (0.1, 0.2, 0.3, 0.4), float("nan"))
    assert (roi.xmin, roi.ymax, roi.c) == (pytest.approx(0.1), pytest.approx(0.4), 0.0)
    js = joint_state_msg(Header(), "b7", np.r_[np.nan, np.arange(19.0)])
    assert js.name[0] == "waist_b7" and js.name[-1] == "r_knee_b7" and len(js.name) == 20
    assert js.position[0] == 0.0 and js.position[5] == 4.0
    with pytest.raises(ValueError):
        joint_state_msg(Header(), "b7", np.zeros(3))
    assert body_topic("b7", "roi") == "/humans/bodies/b7/roi"


@pytest.fixture
def node(ros_env, monkeypatch):
    """An in-process node on the test's own loopback-only domain (no traffic leaves this machine)."""
    import rclpy

    for k, v in ros_env.items():
        if k.startswith(("ROS_", "RMW_", "FASTDDS_", "FASTRTPS_")):
            monkeypatch.setenv(k, v)
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    n = rclpy.create_node("hri_unit", context=ctx)
    yield n
    n.destroy_node()
    rclpy.shutdown(context=ctx)


def _person(tid, hips=True):
    import types

    j = np.random.default_rng(tid).normal(size=(16, 3)) * 0.2 + [0, 0, 3]
    if not hips:
        j[[0, 10, 13]] = np.nan
    pix = np.random.default_rng(tid).uniform(50, 400, (16, 2))
    return types.SimpleNamespace(id=tid, joints=j, pixels=pix, confidence=np.full(16, 0.9), measured=np.zeros(16))


def _frame(t, people):
    from pose3d_ros.ros.conversions import sec_to_stamp, skeleton_array_from_people

    header = Header(stamp=sec_to_stamp(t), frame_id="cam")
    return header, skeleton_array_from_people(header, people)


def test_publisher_lifecycle_linger_and_errors(node):
    from pose3d_ros.ros.hri import HriPublisher

    with pytest.raises(ValueError, match="id_prefix"):
        HriPublisher(node, id_prefix="7")
    hri = HriPublisher(node, id_prefix="p", frame_prefix="robot/", linger_s=1.0)
    tfs = hri.publish(*_frame(10.0, [_person(3), _person(3), _person(4, hips=False)]), None, W, H)
    assert hri.bodies == ("p3", "p4")  # the repeated id is published once
    assert [t.child_frame_id for t in tfs] == ["robot/body_p3"]  # no hips/pelvis: topics but no frame
    assert node.count_publishers("/humans/bodies/p4/joint_states") == 1
    hri.publish(*_frame(10.5, [_person(3)]), None, W, H)
    assert hri.bodies == ("p3", "p4")  # p4 absent for 0.5 s < linger_s
    hri.publish(*_frame(11.6, [_person(3)]), None, W, H)
    assert hri.bodies == ("p3",)
    assert node.count_publishers("/humans/bodies/p4/joint_states") == 0
    hri.publish(*_frame(5.0, []), None, W, H)  # time jumped back: nobody lingers
    assert hri.bodies == ()
    with pytest.raises(ValueError, match="image size"):
        hri.publish(*_frame(6.0, []), None, 0, H)
    hri.destroy()
    hri.destroy()
    assert node.count_publishers("/humans/bodies/tracked") == 0
    with pytest.raises(RuntimeError):
        hri.publish(*_frame(7.0, []), None, W, H)


PUBLISHER = r"""
import json, math, pathlib, sys, time, types
import numpy as np
import rclpy
from std_msgs.msg import Header
from pose3d_ros.ros.conversions import sec_to_stamp, skeleton_array_from_people
from pose3d_ros.ros.hri import HriPublisher

out = pathlib.Path(sys.argv[1])
W, H = 640, 480
# a person facing the camera 3 m away (left = +x optical, up = -y), left arm straight out to the side
BODY = {"pelvis": (0, 0, 0), "spine": (0, 0, .25), "neck": (0, 0, .5), "head": (0, 0, .7),
        "left_shoulder": (0, .18, .5), "left_elbow": (0, .46, .5), "left_wrist": (0, .71, .5),
        "right_shoulder": (0, -.18, .5), "right_elbow": (0, -.18, .2), "right_wrist": (.05, -.18, -.05),
        "left_hip": (0, .1, 0), "left_knee": (0, .1, -.45), "left_ankle": (0, .1, -.9),
        "right_hip": (0, -.1, 0), "right_knee": (0, -.1, -.45), "right_ankle": (0, -.1, -.9)}
NAMES = ["pelvis", "spine", "neck", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
         "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle"]
b = np.array([BODY[n] for n in NAMES], float)
R = np.array([[0, 1, 0], [0, 0, -1], [-1, 0, 0]], float)  # body axes (columns) in the optical frame

def person(tid, dx):
    joints = np.array([dx, 0.2, 3.0]) + b @ R.T
    pixels = 500.0 * joints[:, :2] / joints[:, 2:] + (W / 2, H / 2)
    return types.SimpleNamespace(id=tid, joints=joints, pixels=pixels, confidence=np.full(16, 0.8),
                                 measured=np.zeros(16, bool), score=0.75)

rclpy.init()
node = rclpy.create_node("hri_publisher_under_test")
hri = HriPublisher(node)
people = [person(3, -0.6), person(8, 0.6)]
out.joinpath("pixels.json").write_text(json.dumps({str(p.id): p.pixels.tolist() for p in people}))
phase, k = 1, 0
try:
    while rclpy.ok():
        if phase == 1 and out.joinpath("phase2").exists():
            phase, people = 2, people[:1]
        k += 1
        header = Header(stamp=sec_to_stamp(100.0 + k / 30.0), frame_id="camera_color_optical_frame")
        tfs = hri.publish(header, skeleton_array_from_people(header, people), people, W, H)
        q = tfs[0].transform.rotation
        tmp = out.joinpath(f"pub{phase}.json.tmp")  # written then renamed: the test never reads half a file
        tmp.write_text(json.dumps({"bodies": list(hri.bodies), "tf": [[t.child_frame_id, t.header.frame_id]
                                   for t in tfs], "q": [q.x, q.y, q.z, q.w]}))
        tmp.replace(out.joinpath(f"pub{phase}.json"))
        rclpy.spin_once(node, timeout_sec=1 / 30)
except KeyboardInterrupt:
    pass
"""

CONSUMER = r"""
import json, pathlib, sys, time
import rclpy
from hri_msgs.msg import IdsList, NormalizedRegionOfInterest2D, Skeleton2D
from sensor_msgs.msg import JointState
from pose3d_ros.ros.hri import TRACKED_TOPIC, body_topic

out = pathlib.Path(sys.argv[1])
rclpy.init()
node = rclpy.create_node("hri_consumer")
tracked, got, subs = [], {}, {}
TYPES = {"skeleton2d": Skeleton2D, "roi": NormalizedRegionOfInterest2D, "joint_states": JointState}

def on_msg(bid, name, msg):
    if name == "skeleton2d":
        got[(bid, name)] = [[p.x, p.y, p.c] for p in msg.skeleton]
    elif name == "roi":
        got[(bid, name)] = [msg.xmin, msg.ymin, msg.xmax, msg.ymax, msg.c]
    else:
        got[(bid, name)] = {"name": list(msg.name), "position": list(msg.position), "frame": msg.header.frame_id}

def on_tracked(msg):  # like libhri: one set of subscriptions per tracked body, dropped when the body is gone
    tracked.append(list(msg.ids))
    for bid in msg.ids:
        if bid not in subs:
            subs[bid] = [node.create_subscription(T, body_topic(bid, n), lambda m, b=bid, n=n: on_msg(b, n, m), 10)
                         for n, T in TYPES.items()]
    for bid in [b for b in subs if b not in msg.ids]:
        for s in subs.pop(bid):
            node.destroy_subscription(s)

node.create_subscription(IdsList, TRACKED_TOPIC, on_tracked, 10)

def spin_until(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
        if cond():
            return True
    return False

count = lambda bid, n: node.count_publishers(body_topic(bid, n))
ok1 = spin_until(lambda: all((b, n) in got for b in ("b3", "b8") for n in TYPES), 30)
phase1 = {"ok": ok1, "tracked": tracked[-1] if tracked else None, "got": {f"{b}/{n}": v for (b, n), v in got.items()}}
out.joinpath("phase2").write_text("go")
ok2 = spin_until(lambda: tracked and tracked[-1] == ["b3"] and all(count("b8", n) == 0 for n in TYPES), 30)
topics = [name for name, _ in node.get_topic_names_and_types()]
result = {"phase1": phase1, "ok2": ok2, "tracked_last": tracked[-1] if tracked else None,
          "b8_publishers": {n: count("b8", n) for n in TYPES}, "b3_publishers": {n: count("b3", n) for n in TYPES},
          "topics": topics}
out.joinpath("consumer.json").write_text(json.dumps(result))
"""


def test_hri_topics_between_processes(procs, tmp_path):
    (tmp_path / "pub.py").write_text("import pose3d_ros.ros\n" + PUBLISHER)
    (tmp_path / "sub.py").write_text("import pose3d_ros.ros\n" + CONSUMER)
    pub = procs.start([str(tmp_path / "pub.py"), str(tmp_path)], "pub")
    sub = procs.start([str(tmp_path / "sub.py"), str(tmp_path)], "sub")
    wait_for(lambda: sub.poll() is not None, 90, "the consumer to finish")
    assert sub.returncode == 0, procs.output("sub")
    assert pub.poll() is None, procs.output("pub")
    res = json.loads((tmp_path / "consumer.json").read_text())
    p1 = res["phase1"]
    assert p1["ok"], res
    assert sorted(p1["tracked"]) == ["b3", "b8"]

    pixels = np.array(json.loads((tmp_path / "pixels.json").read_text())["3"])
    sk = np.array(p1["got"]["b3/skeleton2d"])
    assert sk.shape == (18, 3)
    # Skeleton2D constants: NECK=1 <- pose3d16 neck (2); LEFT_WRIST=7 <- left_wrist (6); RIGHT_ANKLE=10 <- 15
    for k, j in ((1, 2), (7, 6), (10, 15)):
        np.testing.assert_allclose(sk[k], (pixels[j, 0] / W, pixels[j, 1] / H, 0.8), rtol=1e-5)
    assert sk[0, 2] == 0.0  # no nose in pose3d16
    xmin, ymin, xmax, ymax, c = p1["got"]["b3/roi"]
    assert c == pytest.approx(0.75)  # the person's score
    assert xmin < pixels[:, 0].min() / W and xmax > pixels[:, 0].max() / W
    assert ymin < pixels[:, 1].min() / H and ymax > pixels[:, 1].max() / H
    js = p1["got"]["b3/joint_states"]
    assert js["name"] == [f"{n}_b3" for n in REP155_JOINT_NAMES] and js["frame"] == "camera_color_optical_frame"
    a = dict(zip(REP155_JOINT_NAMES, js["position"], strict=True))
    assert a["l_p_shoulder"] == pytest.approx(math.pi / 2, abs=1e-5) and a["l_elbow"] == pytest.approx(0, abs=1e-5)
    assert a["r_p_shoulder"] == pytest.approx(0, abs=1e-5) and a["r_elbow"] > 0.1  # right forearm bent forward
    assert p1["got"]["b8/joint_states"]["name"][0] == "waist_b8"

    assert res["ok2"], res
    assert res["tracked_last"] == ["b3"]
    assert res["b8_publishers"] == {"skeleton2d": 0, "roi": 0, "joint_states": 0}
    assert res["b3_publishers"] == {"skeleton2d": 1, "roi": 1, "joint_states": 1}
    assert not [t for t in res["topics"] if t.startswith("/humans/bodies/b8/")]

    pub2 = json.loads((tmp_path / "pub2.json").read_text())
    assert pub2["bodies"] == ["b3"] and pub2["tf"] == [["body_b3", "camera_color_optical_frame"]]
    from scipy.spatial.transform import Rotation

    r = Rotation.from_quat(pub2["q"]).as_matrix()
    np.testing.assert_allclose(r[:, 0], (0, 0, -1), atol=1e-9)  # REP-155 x: out of the body, toward the camera
    np.testing.assert_allclose(r[:, 2], (0, -1, 0), atol=1e-9)  # z up
