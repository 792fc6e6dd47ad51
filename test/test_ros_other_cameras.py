"""Other RGB-D drivers' topics, encodings and QoS, by remapping alone: a RealSense-style and an Azure Kinect-style
publisher feed the inference node end to end over real DDS (skeletons with people, ROS4HRI ids, the output bag),
and Ctrl-C ends the node with exit code 0."""

from __future__ import annotations

import json
import signal

import pytest
from conftest import REPO, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FOOTAGE = REPO / "pose3d_ros/resources/footage/basketball1.png"

CAMERA = r"""
import json, sys, time
import cv2, numpy as np, rclpy
import pose3d_ros.ros  # noqa: F401 - pose3d_ros.msg from the checkout
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from pose3d_ros.msg import Skeleton3DArray
from pose3d_ros.ros.conversions import sec_to_stamp
from hri_msgs.msg import IdsList

style = sys.argv[2]
rclpy.init(); n = rclpy.create_node(f"{style}_camera")
qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)  # both drivers' image_transport default
if style == "realsense":
    color_t, info_t, depth_t, enc = "/camera/color/image_raw", "/camera/color/camera_info", \
        "/camera/aligned_depth_to_color/image_raw", "rgb8"
    model, d = "plumb_bob", [0.0] * 5
else:  # Azure Kinect ROS driver: BGRA colour, depth_to_rgb, rational_polynomial lens
    color_t, info_t, depth_t, enc = "/rgb/image_raw", "/rgb/camera_info", "/depth_to_rgb/image_raw", "bgra8"
    model, d = "rational_polynomial", [0.05, -0.02, 0.0, 0.0, 0.0, 0.4, -0.03, 0.0]
pc, pi, pd = n.create_publisher(Image, color_t, qos), n.create_publisher(CameraInfo, info_t, qos), \
    n.create_publisher(Image, depth_t, qos)
rgb = cv2.cvtColor(cv2.imread(sys.argv[1]), cv2.COLOR_BGR2RGB)
pix = rgb if enc == "rgb8" else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)
depth = np.full(rgb.shape[:2], 3000, np.uint16)
h, w = rgb.shape[:2]
got = {"arrays": 0, "people": 0, "tracked": []}
def on_sk(m):
    got["arrays"] += 1; got["people"] = max(got["people"], len(m.skeletons))
n.create_subscription(Skeleton3DArray, "/people/skeletons", on_sk, 10)
n.create_subscription(IdsList, "/humans/bodies/tracked", lambda m: got["tracked"].extend(m.ids), 10)
deadline = time.monotonic() + 120
t = 1000.0
while time.monotonic() < deadline and not (got["people"] >= 1 and got["tracked"] and got["arrays"] >= 5):
    t += 0.2
    hdr = Header(stamp=sec_to_stamp(t), frame_id=f"{style}_color_optical_frame")
    img = Image(header=hdr, height=h, width=w, encoding=enc, is_bigendian=0, step=w * pix.shape[2],
                data=pix.tobytes())
    dep = Image(header=hdr, height=h, width=w, encoding="16UC1", is_bigendian=0, step=w * 2, data=depth.tobytes())
    info = CameraInfo(header=hdr, height=h, width=w, distortion_model=model, d=d,
                      k=[525.0, 0, 319.5, 0, 525.0, 239.5, 0, 0, 1],
                      p=[525.0, 0, 319.5, 0, 0, 525.0, 239.5, 0, 0, 0, 1, 0],
                      r=[1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0])
    pi.publish(info); pd.publish(dep); pc.publish(img)
    end = time.monotonic() + 0.2
    while time.monotonic() < end:
        rclpy.spin_once(n, timeout_sec=0.02)
print("RESULT " + json.dumps(got), flush=True)
"""

REMAPS = {
    "realsense": ["-r", "color/image_raw:=/camera/color/image_raw",
                  "-r", "color/camera_info:=/camera/color/camera_info",
                  "-r", "depth_registered/image_raw:=/camera/aligned_depth_to_color/image_raw"],
    "azure": ["-r", "color/image_raw:=/rgb/image_raw", "-r", "color/camera_info:=/rgb/camera_info",
              "-r", "depth_registered/image_raw:=/depth_to_rgb/image_raw", "-p", "qos:=reliable"],
}


@pytest.mark.parametrize("style", sorted(REMAPS))
def test_other_rgbd_drivers_work_by_remapping(procs, tmp_path, style):
    bag = tmp_path / "out_bag"
    node = procs.start(["-m", "pose3d_ros.ros.pose3d_node", "--ros-args", "-r", "__ns:=/people", *REMAPS[style],
                        "-p", "publish_hri:=true", "-p", f"output_bag:={bag}"], "node")
    (tmp_path / "camera.py").write_text(CAMERA)
    cam = procs.start([str(tmp_path / "camera.py"), str(FOOTAGE), style], "camera")
    wait_for(lambda: cam.poll() is not None or node.poll() is not None, 180, f"skeletons from the {style} topics")
    log = procs.output("node")
    assert cam.returncode == 0 and node.poll() is None, procs.output("camera")[-2000:] + log[-3000:]
    res = json.loads(next(x for x in procs.output("camera").splitlines() if x.startswith("RESULT "))[7:])
    assert res["people"] >= 1 and res["arrays"] >= 5, res
    assert res["tracked"] and all(i.startswith("b") for i in res["tracked"]), res
    node.send_signal(signal.SIGINT)
    node.wait(timeout=20)
    assert node.returncode == 0, log
    log = procs.output("node")
    assert "Traceback" not in log and "camera_info invalid" not in log, log[-3000:]

    from rosbags.highlevel import AnyReader

    with AnyReader([bag]) as reader:
        conns = [c for c in reader.connections if c.topic == "/people/skeletons"]
        assert conns and conns[0].msgtype == "pose3d_ros/msg/Skeleton3DArray"
        assert sum(1 for _ in reader.messages(connections=conns)) >= res["arrays"] - 2
