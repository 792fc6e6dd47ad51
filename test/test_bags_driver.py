"""The driver plays a rosbag2 bag (``backend:=playback path:=<bag>``): the recorded pixels reach the topic, over DDS."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from conftest import wait_for

from pose3d_ros.bags.rgbd import RGBDBagWriter
from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.sources import RGBDFrame

pytestmark = pytest.mark.ros

PROBE = r"""
import hashlib, json, time, rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
rclpy.init(); n = rclpy.create_node("probe"); got = []
n.create_subscription(Image, "color/image_raw",
                      lambda m: got.append([m.encoding, m.width, hashlib.sha1(bytes(m.data)).hexdigest()]),
                      qos_profile_sensor_data)
t = time.time()
while time.time() - t < 30 and len(got) < 3:
    rclpy.spin_once(n, timeout_sec=0.1)
print("RESULT " + json.dumps(got), flush=True)
"""


def test_driver_publishes_the_frames_of_a_bag(procs, tmp_path):
    rng = np.random.default_rng(3)
    cam = PinholeCamera.default(160, 120)
    frames = [
        RGBDFrame(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), None, cam, stamp=1.7e9 + i / 10)
        for i in range(3)
    ]
    with RGBDBagWriter(tmp_path / "bag") as w:
        for f in frames:
            w.write(f)
    want = {hashlib.sha1(f.color.tobytes()).hexdigest() for f in frames}
    drv = procs.start(
        ["-m", "pose3d_ros.ros.kinect_driver_node", "--ros-args", "-p", "backend:=playback", "-p",
         f"path:={tmp_path / 'bag'}", "-p", "rate:=20.0"],
        "driver",
    )  # fmt: skip
    (tmp_path / "probe.py").write_text(PROBE)
    probe = procs.start([str(tmp_path / "probe.py")], "probe")
    wait_for(lambda: probe.poll() is not None, 60, "images from the driver")
    res = json.loads(next(x for x in procs.output("probe").splitlines() if x.startswith("RESULT "))[7:])
    assert drv.poll() is None, procs.output("driver")
    assert len(res) == 3, procs.output("driver")
    assert all(enc == "rgb8" and w == 160 for enc, w, _ in res)
    assert {h for *_, h in res} <= want  # the recorded pixels, unchanged
