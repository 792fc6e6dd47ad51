"""The freenect backend (and the driver node) through the real libfreenect, replaying a recording with fakenect.

Debian's fakenect replays INDEX.txt + d-*.pgm (11-bit depth) / r-*.ppm (640x480 RGB) through a drop-in
libfreenect; it lacks ``freenect_camera_to_world``, which libfreenect_sync needs, so a one-function shim library
compiled here is preloaded (DESIGN.md section 4).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

pytestmark = pytest.mark.fakenect

FAKENECT_DIR = Path("/usr/lib/x86_64-linux-gnu/fakenect")
SHIM_C = r"""
typedef struct _freenect_device freenect_device;
void freenect_camera_to_world(freenect_device* dev, int cx, int cy, int wz, double* wx, double* wy)
{ (void)dev; *wx = (cx - 320.0) * wz / 525.0; *wy = (cy - 240.0) * wz / 525.0; }
"""


def _have_fakenect() -> bool:
    return (FAKENECT_DIR / "libfreenect.so").exists() and shutil.which("gcc") is not None


def write_fakenect_recording(path: Path, n: int, raw_depth: int) -> list[np.ndarray]:
    """A fakenect recording of ``n`` frames: colour with a frame-number stripe, constant raw depth."""
    path.mkdir(parents=True, exist_ok=True)
    lines, colors = [], []
    for i in range(n):
        t = 1000.0 + i / 30.0
        rgb = np.zeros((480, 640, 3), np.uint8)
        rgb[:, :, 0] = 40 * (i % 5)
        rgb[100:200, 200:300] = (10, 200, 30)
        colors.append(rgb)
        depth = np.full((480, 640), raw_depth, np.uint16)
        depth[:10] = 2047  # invalid rows
        dname, rname = f"d-{t:.6f}-{i * 1000:08d}.pgm", f"r-{t + 0.001:.6f}-{i * 1000 + 1:08d}.ppm"
        (path / dname).write_bytes(b"P5 640 480 65535\n" + depth.astype("<u2").tobytes())
        (path / rname).write_bytes(b"P6 640 480 255\n" + rgb.tobytes())
        lines += [dname, rname]
    (path / "INDEX.txt").write_text("\n".join(lines) + "\n")
    return colors


@pytest.fixture
def fakenect_env(tmp_path: Path) -> dict[str, str]:
    if not _have_fakenect():
        pytest.skip("libfreenect/fakenect not installed (scripts/install_system_deps.sh installs libfreenect-bin)")
    shim = tmp_path / "libcamtoworld.so"
    src = tmp_path / "shim.c"
    src.write_text(SHIM_C)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(shim), str(src)], check=True)
    env = dict(os.environ)
    env.update(
        FAKENECT_PATH=str(tmp_path / "rec"),
        LD_LIBRARY_PATH=f"{FAKENECT_DIR}:{env.get('LD_LIBRARY_PATH', '')}",
        LD_PRELOAD=str(shim),
        PYTHONPATH=str(REPO),
    )
    return env


READ_SCRIPT = r"""
import json, sys
import numpy as np
from pose3d_ros.sources import create_source
with create_source("freenect") as src:
    out = []
    for _ in range(3):
        f = src.get_frame(timeout=2.0)
        out.append({"shape": list(f.color.shape), "red": int(f.color[300, 50, 0]), "patch": f.color[150, 250].tolist(),
                    "depth_mm": int(np.median(f.depth_mm[100:])), "invalid": int(f.depth_mm[5, 5]),
                    "fx": src.camera.fx})
print(json.dumps(out))
"""


def test_freenect_source_reads_a_fakenect_recording_through_libfreenect(fakenect_env, tmp_path):
    pytest.importorskip("freenect", reason="PyPI freenect not installed (needs libfreenect-dev to build)")
    write_fakenect_recording(tmp_path / "rec", 15, raw_depth=800)  # fakenect crashes at the end
    res = subprocess.run([sys.executable, "-c", READ_SCRIPT], env=fakenect_env, capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    frames = json.loads(res.stdout.strip().splitlines()[-1])
    assert frames[0]["shape"] == [480, 640, 3]
    assert frames[0]["patch"] == [10, 200, 30]
    # raw 800 -> 0.1236 * tan(800 / 2842.5 + 1.1863) m = 1.195 m (Kinect v1 fit); raw 2047 -> no measurement
    assert abs(frames[0]["depth_mm"] - 1195) <= 2
    assert frames[0]["invalid"] == 0
    assert frames[0]["fx"] == 525.0


LISTENER = r"""
import json, time, rclpy, pose3d_ros.ros
import numpy as np
from rclpy.qos import QoSProfile, DurabilityPolicy, qos_profile_sensor_data as SQ
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from pose3d_ros.ros.imports import imgmsg_to_numpy
rclpy.init(); n = rclpy.create_node("listener", namespace="camera")
got = {"color": {}, "depth": {}, "cinfo": {}, "dinfo": {}, "tf_static": []}
def keep(kind):
    def cb(m):
        key = f"{m.header.stamp.sec}.{m.header.stamp.nanosec:09d}"
        if kind in ("color", "depth"):
            a = imgmsg_to_numpy(m)
            got[kind][key] = [m.encoding, m.header.frame_id, m.width, m.height,
                              int(np.median(a[100:])) if kind == "depth" else a[150, 250].tolist()]
        else:
            got[kind][key] = [m.header.frame_id, list(m.k)]
    return cb
n.create_subscription(Image, "color/image_raw", keep("color"), SQ)
n.create_subscription(Image, "depth_registered/image_raw", keep("depth"), SQ)
n.create_subscription(CameraInfo, "color/camera_info", keep("cinfo"), SQ)
n.create_subscription(CameraInfo, "depth_registered/camera_info", keep("dinfo"), SQ)
latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
n.create_subscription(TFMessage, "/tf_static", lambda m: got["tf_static"].extend(
    [t.header.frame_id, t.child_frame_id] for t in m.transforms), latched)
t0 = time.time()
while time.time() - t0 < 40 and (len(set(got["color"]) & set(got["depth"])) < 3 or not got["tf_static"]):
    rclpy.spin_once(n, timeout_sec=0.1)
print("RESULT " + json.dumps(got), flush=True)
"""


@pytest.mark.ros
def test_kinect_driver_node_publishes_fakenect_frames(fakenect_env, ros_env, tmp_path):
    pytest.importorskip("freenect", reason="PyPI freenect not installed (needs libfreenect-dev to build)")
    write_fakenect_recording(tmp_path / "rec", 40, raw_depth=800)
    drv_env = {**ros_env, **{k: fakenect_env[k] for k in ("FAKENECT_PATH", "LD_LIBRARY_PATH", "LD_PRELOAD")}}
    listener = tmp_path / "listener.py"
    listener.write_text(LISTENER)
    lis = subprocess.Popen([sys.executable, str(listener)], env=ros_env, cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    # max_frames stops before the recording ends (Debian's fakenect crashes after its last frame)
    drv = subprocess.Popen([sys.executable, "-m", "pose3d_ros.ros.kinect_driver_node", "--ros-args", "-r",
                            "__ns:=/camera", "-p", "backend:=freenect", "-p", "max_frames:=30"],
                           env=drv_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = lis.communicate(timeout=60)
    finally:
        drv.send_signal(2)
        try:
            drv_out, _ = drv.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            drv.kill()
            drv_out, _ = drv.communicate()
    assert drv.returncode == 0, drv_out[-3000:]
    got = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:])
    both = sorted(set(got["color"]) & set(got["depth"]))
    assert len(both) >= 3, (out[-2000:], drv_out[-2000:])  # identical stamps on colour and depth
    for key in both:
        enc, frame, w, h, patch = got["color"][key]
        assert (enc, frame, w, h, patch) == ("rgb8", "camera_color_optical_frame", 640, 480, [10, 200, 30])
        denc, dframe, _, _, depth_mm = got["depth"][key]
        assert (denc, dframe) == ("16UC1", "camera_color_optical_frame") and abs(depth_mm - 1195) <= 2
    assert set(got["cinfo"]) & set(both) and got["cinfo"][both[0]][1][0] == 525.0
    assert ["camera_link", "camera_color_optical_frame"] in got["tf_static"]
