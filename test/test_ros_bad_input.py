"""Bad messages published at the inference node: it stays up, says what is wrong (one throttled log line per
kind, /diagnostics WARN/ERROR) and resumes correct output when good input returns. Real DDS, separate processes."""

from __future__ import annotations

import json
import re

import pytest
from conftest import REPO, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FOOTAGE = REPO / "pose3d_ros/resources/footage/basketball1.png"

ABUSER = r"""
import json, sys, time
import cv2, numpy as np, rclpy
import pose3d_ros.ros
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import qos_profile_sensor_data as SQ
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.ros.conversions import camera_info_from_camera, sec_to_stamp
from pose3d_ros.ros.imports import numpy_to_imgmsg
from pose3d_ros.msg import Skeleton3DArray

rclpy.init()
n = rclpy.create_node("abuser", namespace="camera")
pc, pi, pd = (n.create_publisher(Image, "color/image_raw", SQ), n.create_publisher(CameraInfo, "color/camera_info", SQ),
              n.create_publisher(Image, "depth_registered/image_raw", SQ))
out = {"levels": [], "messages": [], "stamps": [], "people": [], "diag_values": {}}
def on_diag(m):
    for s in m.status:
        if "pose3d" in s.name:
            out["levels"].append(s.level[0]); out["messages"].append(s.message)
            out["diag_values"] = {kv.key: kv.value for kv in s.values}
def on_sk(m):
    out["stamps"].append([m.header.stamp.sec, m.header.stamp.nanosec]); out["people"].append(len(m.skeletons))
n.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)
n.create_subscription(Skeleton3DArray, "skeletons", on_sk, 50)
rgb = cv2.cvtColor(cv2.imread(sys.argv[1]), cv2.COLOR_BGR2RGB)
cam = PinholeCamera.default(640, 480)
depth = np.full((480, 640), 3500, np.uint16)

def spin(sec):
    end = time.monotonic() + sec
    while time.monotonic() < end:
        rclpy.spin_once(n, timeout_sec=0.02)

def send(t, color=None, info=None, dep=None):
    h = Header(stamp=sec_to_stamp(t), frame_id="camera_color_optical_frame")
    c = color if color is not None else numpy_to_imgmsg(rgb, "rgb8", h)
    c.header = h
    i = info if info is not None else camera_info_from_camera(cam, h)
    i.header = h
    d = dep if dep is not None else numpy_to_imgmsg(depth, "16UC1", h)
    d.header = h
    pi.publish(i); pd.publish(d); pc.publish(c)

deadline = time.monotonic() + 40
while min(p.get_subscription_count() for p in (pc, pi, pd)) == 0 and time.monotonic() < deadline:
    spin(0.1)
t = 100.0
def phase(name, count, **kw):
    global t
    print("phase", name, flush=True)
    for _ in range(count):
        t += 0.2
        send(t, **kw() if callable(kw.get("make")) else {})
        spin(0.2)
    spin(1.0)

def make_wrong_encoding():
    m = numpy_to_imgmsg(rgb, "rgb8"); m.encoding = "bayer_grbg8"; return {"color": m}
def make_size_mismatch():
    return {"dep": numpy_to_imgmsg(np.full((240, 320), 3000, np.uint16), "16UC1")}
def make_info_mismatch():
    i = camera_info_from_camera(PinholeCamera.default(640, 400)); return {"info": i}
def make_k0():
    i = camera_info_from_camera(cam); i.k = [0.0] * 9; return {"info": i}
def make_nan_depth():
    return {"dep": numpy_to_imgmsg(np.full((480, 640), np.nan, np.float32), "32FC1")}
def make_empty():
    return {"color": Image(encoding="rgb8")}

phase("good", 3)
for name, mk in [("wrong_encoding", make_wrong_encoding), ("size_mismatch", make_size_mismatch),
                 ("info_mismatch", make_info_mismatch), ("k0", make_k0), ("nan_depth", make_nan_depth),
                 ("empty", make_empty)]:
    print("phase", name, flush=True)
    for _ in range(4):
        t += 0.2
        send(t, **mk())
        spin(0.2)
    spin(1.0)
print("phase backwards", flush=True)
for k in range(3):
    send(t - 50.0 + 0.2 * k); spin(0.3)
spin(1.0)
print("phase burst", flush=True)
small = cv2.resize(rgb, (160, 120)); scam = PinholeCamera.default(160, 120)
for k in range(1000):
    h = Header(stamp=sec_to_stamp(200.0 + k * 0.001), frame_id="camera_color_optical_frame")
    pi.publish(camera_info_from_camera(scam, h)); pd.publish(numpy_to_imgmsg(cv2.resize(depth, (160, 120)), "16UC1", h))
    pc.publish(numpy_to_imgmsg(small, "rgb8", h))
spin(3.0)
print("phase recovery", flush=True)
first_good = len(out["stamps"])
t = 1000.0
for _ in range(6):
    t += 0.25
    send(t); spin(0.5)
deadline = time.monotonic() + 30
def recovered():
    return any(s[0] >= 1000 and p > 0 for s, p in zip(out["stamps"][first_good:], out["people"][first_good:]))
while time.monotonic() < deadline and not recovered():
    spin(0.2)
spin(1.5)
out["recovery"] = [[s, p] for s, p in zip(out["stamps"][first_good:], out["people"][first_good:])]
print("RESULT " + json.dumps(out), flush=True)
"""


def test_bad_input_is_reported_and_the_node_recovers(procs, tmp_path):
    if not FOOTAGE.is_file():
        pytest.skip("embedded footage missing")
    node = procs.start(["-m", "pose3d_ros.ros.pose3d_node", "--ros-args", "-r", "__ns:=/camera",
                        "--params-file", str(REPO / "config/pose3d.yaml"), "-p", "process_mode:=always"], "node")
    script = tmp_path / "abuser.py"
    script.write_text(ABUSER)
    ab = procs.start([str(script), str(FOOTAGE)], "abuser")
    wait_for(lambda: ab.poll() is not None or node.poll() is not None, 200, "the abuse sequence to finish")
    log = procs.output("node")
    assert node.poll() is None, "node died:\n" + log[-3000:]
    assert ab.returncode == 0, procs.output("abuser")[-3000:]
    res = json.loads(next(x for x in procs.output("abuser").splitlines() if x.startswith("RESULT "))[7:])
    # one clear, throttled line per kind of problem
    for pattern in [r"unsupported colour encoding 'bayer_grbg8'", r"does not match color", r"camera_info is 640x400",
                    r"camera_info invalid", r"0x0: empty", r"time jumped back"]:
        hits = re.findall(pattern, log)
        assert 1 <= len(hits) <= 2, f"{pattern!r} logged {len(hits)} times:\n{log[-3000:]}"
    assert "Traceback" not in log and "frame failed" not in log
    assert max(res["levels"]) >= 2 and 1 in res["levels"]  # ERROR (size mismatch) and WARN seen on /diagnostics
    assert int(res["diag_values"]["dropped_newest_only"]) > 0  # the burst was not queued
    # recovery: good frames give skeletons with their own stamps again
    recovered = [(s, p) for s, p in res["recovery"] if s[0] >= 1000]
    assert recovered and max(p for _, p in recovered) >= 1, res["recovery"]
