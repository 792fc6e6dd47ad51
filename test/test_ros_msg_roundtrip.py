"""Issue 2 item 7: every Skeleton3DArray field survives a trip between two processes over real DDS."""

from __future__ import annotations

import json
import math

import pytest
from conftest import wait_for

pytestmark = pytest.mark.ros

PUBLISHER = r"""
import json, sys, time
import numpy as np
import rclpy
from std_msgs.msg import Header
from pose3d_ros.ros.conversions import make_skeleton, sec_to_stamp, skeleton_array_to_numpy
from pose3d_ros.msg import Skeleton3DArray

rclpy.init()
node = rclpy.create_node("roundtrip_publisher")
pub = node.create_publisher(Skeleton3DArray, "skeletons", 10)
rng = np.random.default_rng(7)
header = Header(stamp=sec_to_stamp(1234.000056789), frame_id="camera_color_optical_frame")
msg = Skeleton3DArray(header=header)
for k, tid in enumerate((3, 4000000000)):
    joints = rng.normal(size=(16, 3))
    joints[5] = np.nan  # an unseen joint stays NaN with confidence 0
    pixels = rng.uniform(0, 640, size=(16, 2))
    pixels[7] = np.nan
    conf = rng.uniform(0, 1, size=16)
    measured = rng.uniform(size=16) > 0.5
    msg.skeletons.append(make_skeleton(header, tid, joints, pixels, conf, measured, ["wave_left", ""][k], 0.25 * k))
expected = {"arrays": skeleton_array_to_numpy(msg), "sec": msg.header.stamp.sec, "nanosec": msg.header.stamp.nanosec}
with open(sys.argv[1], "w") as fh:
    e = expected["arrays"]
    json.dump({k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in e.items()} | {"sec": expected["sec"],
              "nanosec": expected["nanosec"], "names": [j.name for j in msg.skeletons[0].joints],
              "overall": [s.confidence for s in msg.skeletons]}, fh)
deadline = time.monotonic() + 30
while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.05)
print("matched", pub.get_subscription_count(), flush=True)
try:
    while rclpy.ok():  # republish until the test stops us (the subscriber exits after the first)
        pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.2)
except KeyboardInterrupt:
    pass
"""


def _same(a, b) -> bool:
    if a is None:  # NaN is written as null by the recorder
        return b is None or (isinstance(b, float) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        if b is None or (isinstance(b, float) and math.isnan(b)):
            return isinstance(a, float) and math.isnan(a)
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    return a == b


def test_every_skeleton_field_round_trips_between_processes(procs, tmp_path):
    pub_script = tmp_path / "pub.py"
    pub_script.write_text("import pose3d_ros.ros\n" + PUBLISHER)
    pub = procs.start([str(pub_script), str(tmp_path / "expected.json")], "pub")
    rec = procs.start(["-m", "pose3d_ros.ros.recorder", "--output", str(tmp_path / "got.jsonl"), "--count", "1",
                       "--timeout", "40"], "rec")
    wait_for(lambda: rec.poll() is not None, 60, "the recorder to receive one Skeleton3DArray")
    assert rec.returncode == 0, procs.output("rec")
    assert pub.poll() is None, procs.output("pub")  # publisher still serving: it did not crash
    exp = json.loads((tmp_path / "expected.json").read_text())
    got = json.loads((tmp_path / "got.jsonl").read_text().splitlines()[0])
    assert (got["stamp_sec"], got["stamp_nanosec"]) == (1234, 56789)
    assert got["frame_id"] == exp["frame_id"] == "camera_color_optical_frame"
    assert [s["id"] for s in got["skeletons"]] == exp["ids"] == [3, 4000000000]
    for i, sk in enumerate(got["skeletons"]):
        assert sk["frame_id"] == "camera_color_optical_frame"
        assert sk["names"] == exp["names"]
        assert _same(sk["joints"], exp["joints"][i])
        assert _same(sk["pixels"], exp["pixels"][i])
        assert _same(sk["joint_confidence"], exp["confidence"][i])
        assert sk["joint_confidence"][5] == 0.0  # NaN joint -> confidence 0
        assert sk["measured"] == exp["measured"][i]
        assert sk["action"] == exp["actions"][i]
        assert _same(sk["action_confidence"], exp["action_confidence"][i])
        assert _same(sk["confidence"], exp["overall"][i])
