"""Driver -> inference -> subscriber over real DDS, three separate processes (``pose3d-ros launch`` + recorder).

The driver plays a recording of real footage (opencv-doc basketball1.png, two people) with a flat depth plane.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FOOTAGE = REPO / "pose3d_ros/resources/footage/basketball1.png"
JOINT_NAMES = ["pelvis", "spine", "neck", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
               "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee",
               "right_ankle"]


def make_recording(path: Path, n: int = 6) -> Path:
    from pose3d_ros.core.camera import PinholeCamera
    from pose3d_ros.sources.base import RGBDFrame
    from pose3d_ros.sources.playback import RecordingWriter

    rgb = cv2.cvtColor(cv2.imread(str(FOOTAGE)), cv2.COLOR_BGR2RGB)
    cam = PinholeCamera.default(rgb.shape[1], rgb.shape[0])
    depth = np.full(rgb.shape[:2], 3500, np.uint16)
    with RecordingWriter(path) as w:
        for i in range(n):
            w.write(RGBDFrame(rgb, depth, cam, stamp=1000.0 + i / 30.0))
    return path


def read_jsonl(path: Path) -> tuple[list[dict], dict]:
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [x for x in lines if "summary" not in x], next(x["summary"] for x in lines if "summary" in x)


def test_driver_to_inference_to_subscriber(procs, tmp_path):
    if not FOOTAGE.is_file():
        pytest.skip("embedded footage missing")
    rec = make_recording(tmp_path / "rec")
    launch = procs.start(["-m", "pose3d_ros.cli", "launch", "--set", "backend=playback", "--set", f"path={rec}",
                          "--set", "rate=4.0", "--node-set", "process_mode=subscribed"], "launch")
    sub = procs.start(["-m", "pose3d_ros.ros.recorder", "--output", str(tmp_path / "out.jsonl"), "--count", "3",
                       "--min-people", "1", "--image-stamps", "--timeout", "150", "--ros-args", "-r",
                       "__ns:=/camera"], "rec")
    wait_for(lambda: sub.poll() is not None or launch.poll() is not None, 170, "3 skeleton arrays with people")
    assert sub.returncode == 0, procs.output("rec")[-3000:] + procs.output("launch")[-3000:]
    assert launch.poll() is None, procs.output("launch")[-3000:]  # both nodes still up
    arrays, summary = read_jsonl(tmp_path / "out.jsonl")
    with_people = [a for a in arrays if a["skeletons"]]
    assert len(with_people) >= 3
    for a in arrays:
        assert a["frame_id"] == "camera_color_optical_frame"
        assert a["image_stamp_seen"], "skeleton stamp is not the stamp of a published image"
        for sk in a["skeletons"]:
            assert sk["names"] == JOINT_NAMES
            assert len(sk["joints"]) == 16
            z = [j[2] for j in sk["joints"] if j[2] is not None]
            assert z and all(0.3 < v < 10.0 for v in z)  # metres in front of the camera
    ids = {sk["id"] for a in with_people for sk in a["skeletons"]}
    assert {f"person_{i}" for i in ids} & set(summary["marker_namespaces"])
    skeleton_stamps = {(a["stamp_sec"], a["stamp_nanosec"]) for a in arrays}
    bodies = {k: v for k, v in summary["tf_frames"].items() if k.startswith("body_")}
    assert bodies, f"no body_<id> TF frame seen: {list(summary['tf_frames'])[:10]}"
    for name, (sec, nsec, parent) in bodies.items():
        assert parent == "camera_color_optical_frame"
        assert (sec, nsec) in skeleton_stamps
        assert f"head_{name[5:]}" in summary["tf_frames"]
    # the node reports itself on /diagnostics with FPS and latency
    names = {d["name"] for d in summary["diagnostics"]}
    assert any("pose3d" in n for n in names) and any("camera" in n for n in names), names


def test_node_processes_nothing_without_subscribers(procs, tmp_path):
    """process_mode=subscribed: frames arrive but are skipped while nobody listens (diagnostics count them)."""
    rec = make_recording(tmp_path / "rec", n=3)
    procs.start(["-m", "pose3d_ros.cli", "launch", "--set", "backend=playback", "--set", f"path={rec}",
                 "--set", "rate=5.0"], "launch")
    probe = tmp_path / "diag.py"
    probe.write_text(
        "import json, time, rclpy, pose3d_ros.ros\n"
        "from diagnostic_msgs.msg import DiagnosticArray\n"
        "rclpy.init(); n = rclpy.create_node('probe'); got = {}\n"
        "def cb(m):\n"
        "    for s in m.status:\n"
        "        if 'pose3d' in s.name: got.update({kv.key: kv.value for kv in s.values})\n"
        "n.create_subscription(DiagnosticArray, '/diagnostics', cb, 10)\n"
        "t = time.time()\n"
        "while time.time() - t < 60 and int(got.get('skipped_no_subscriber', 0)) < 3:\n"
        "    rclpy.spin_once(n, timeout_sec=0.2)\n"
        "print(json.dumps(got))\n"
    )
    p = procs.start([str(probe)], "probe")
    wait_for(lambda: p.poll() is not None, 90, "diagnostics from the inference node")
    got = json.loads(procs.output("probe").strip().splitlines()[-1])
    assert int(got["skipped_no_subscriber"]) >= 3, got
    assert int(got["processed"]) == 0, got
