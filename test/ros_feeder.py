"""A camera stand-in for the DDS tests of the inference node's health and output guard (run as a script).

    ros_feeder.py MODE IMAGE [--ns NS] [--node NAME] [--driver NAME] [--frame-id ID] [--driver-pid PID]
                  [--signal SIGSTOP|SIGKILL] [--sim-start T] [--depth-mm MM] [--timeout S]

Publishes ``<ns>/color/image_raw``, ``color/camera_info`` and ``depth_registered/image_raw`` (flat, ``--depth-mm``,
3.5 m unless told) at 10 Hz in the way MODE says, watches ``/diagnostics`` (the statuses of node NAME and driver NAME
only: a test-unique namespace and node name keep a stray node in the same domain out), ``<ns>/skeletons`` and ``/tf``
and prints one ``RESULT {json}`` line. Every wait is for a condition with a deadline. Modes:

no_info      colour + depth, never camera_info, until the node's summary names camera_info
offset       all three at 5 Hz, depth stamped 0.5 s before colour, until the summary names the offset
color_stops  all three until the summary is OK, then info + depth only until it names color/image_raw
freeze       publish nothing; wait for OK (a real driver feeds the node), send --signal (SIGSTOP or SIGKILL) to
             --driver-pid, wait until the summary says all inputs are silent, then SIGCONT a stopped driver
sim_clock    publish rosgraph_msgs/Clock on /clock from --sim-start s at real rate (100 Hz) and frames stamped 0.05 s
             behind it, once the node's diagnostics run on some clock, until a summary counts 5 processed frames
bad_frames   colour in an unsupported encoding: every frame fails; until 5 arrays and the reason came back
frames       good frames with --frame-id until 5 arrays with people came back (or the timeout)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

import pose3d_ros.ros  # noqa: F401 - pose3d_ros.msg from the checkout
from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.ros.conversions import camera_info_from_camera, sec_to_stamp
from pose3d_ros.ros.imports import HAVE_TF2_MSGS, numpy_to_imgmsg

PERIOD = 0.1
#: how far the frames of sim_clock are stamped behind the simulated time (s)
SIM_LAG = 0.05


class Feeder:
    def __init__(self, image: str, frame_id: str, ns: str, node: str, driver: str, depth_mm: int = 3500) -> None:
        from pose3d_ros.msg import Skeleton3DArray  # after pose3d_ros.ros made it importable

        self.node = rclpy.create_node("feeder", namespace=ns)
        self.node_name, self.driver_name = node, driver
        q = qos_profile_sensor_data
        self.pubs = {"color": self.node.create_publisher(Image, "color/image_raw", q),
                     "info": self.node.create_publisher(CameraInfo, "color/camera_info", q),
                     "depth": self.node.create_publisher(Image, "depth_registered/image_raw", q)}
        self.frame_id = frame_id
        rgb = cv2.cvtColor(cv2.imread(image), cv2.COLOR_BGR2RGB)
        self.msgs = {"color": numpy_to_imgmsg(rgb, "rgb8"),
                     "info": camera_info_from_camera(PinholeCamera.default(rgb.shape[1], rgb.shape[0])),
                     "depth": numpy_to_imgmsg(np.full(rgb.shape[:2], depth_mm, np.uint16), "16UC1")}
        self.summaries: list[dict] = []  # the pose3d node's summary status, in arrival order
        self.topics: dict[str, dict] = {}  # latest topic status per name
        self.driver: dict = {}
        self.arrays: list[dict] = []
        self.tf_parents: set[str] = set()
        self.sent: list[list[int]] = []
        self.base: float | None = None
        self.k = 0
        #: (monotonic time, simulated time) at which /clock started; None = stamps from the wall clock
        self.sim_origin: tuple[float, float] | None = None
        self.clock_pub = None
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.on_diag, 50)
        self.node.create_subscription(Skeleton3DArray, "skeletons", self.on_array, 50)
        if HAVE_TF2_MSGS:
            from tf2_msgs.msg import TFMessage

            self.node.create_subscription(TFMessage, "/tf", self.on_tf, 50)

    def on_diag(self, m: DiagnosticArray) -> None:
        for s in m.status:
            entry = {"t": time.monotonic(), "level": s.level[0], "name": s.name, "message": s.message,
                     "clock": m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec,  # the publisher's clock
                     "hardware_id": s.hardware_id, "values": {kv.key: kv.value for kv in s.values}}
            if s.name == f"{self.node_name}: pose3d":
                self.summaries.append(entry)
            elif s.name.startswith(f"{self.node_name}: "):
                self.topics[s.name[len(self.node_name) + 2:]] = entry
            elif s.name.startswith(f"{self.driver_name}: "):
                self.driver = entry

    def on_array(self, m) -> None:
        z = [j.position.z for sk in m.skeletons for j in sk.joints]
        self.arrays.append({"stamp": [m.header.stamp.sec, m.header.stamp.nanosec], "frame_id": m.header.frame_id,
                            "n": len(m.skeletons), "z_max": max(z) if z else None,
                            "sk_frames": sorted({sk.header.frame_id for sk in m.skeletons})})

    def on_tf(self, m) -> None:
        for t in m.transforms:
            if t.child_frame_id.startswith("body_"):
                self.tf_parents.add(t.header.frame_id)

    def start_sim_clock(self, start: float) -> None:
        """Publish /clock from ``start`` s at real rate from now on (a timer, served by :meth:`spin`)."""
        self.clock_pub = self.node.create_publisher(Clock, "/clock", 10)
        self.sim_origin = (time.monotonic(), start)
        self.node.create_timer(0.01, lambda: self.clock_pub.publish(Clock(clock=sec_to_stamp(self.sim_now()))))

    def sim_now(self) -> float:
        """The simulated time (s)."""
        t_mono, start = self.sim_origin
        return start + time.monotonic() - t_mono

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.01)

    def wait_matched(self, deadline: float = 60.0) -> None:
        end = time.monotonic() + deadline
        while min(p.get_subscription_count() for p in self.pubs.values()) == 0 and time.monotonic() < end:
            self.spin(0.1)

    def send(self, which=("info", "depth", "color"), depth_offset: float = 0.0, period: float = PERIOD) -> None:
        """One frame; stamps lie on a grid of ``period`` (so an offset of 0.5 s at 5 Hz can never pair), or
        ``SIM_LAG`` behind the simulated time once :meth:`start_sim_clock` ran."""
        if self.base is None:
            self.base = time.time()
        # simulated stamps follow the published /clock, not a grid: their lag behind the node's clock stays SIM_LAG
        stamp = self.sim_now() - SIM_LAG if self.sim_origin else self.base + period * self.k
        self.k += 1
        for k in which:
            m = self.msgs[k]
            m.header = Header(stamp=sec_to_stamp(stamp + (depth_offset if k == "depth" else 0.0)),
                              frame_id=self.frame_id)
            self.pubs[k].publish(m)
        if "color" in which:
            s = self.msgs["color"].header.stamp
            self.sent.append([s.sec, s.nanosec])

    def stream(self, until, timeout: float, period: float = PERIOD, **kw) -> bool:
        """Publish a frame every ``period`` until ``until()`` or ``timeout`` seconds."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.send(period=period, **kw)
            self.spin(period)
            if until():
                return True
        return False

    def summary_since(self, t0: float, pred) -> dict | None:
        return next((s for s in self.summaries if s["t"] >= t0 and pred(s)), None)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("image")
    ap.add_argument("--frame-id", default="camera_color_optical_frame")
    ap.add_argument("--ns", default="camera")
    ap.add_argument("--node", default="pose3d_node")
    ap.add_argument("--driver", default="kinect_driver")
    ap.add_argument("--driver-pid", type=int, default=0)
    ap.add_argument("--signal", choices=("SIGSTOP", "SIGKILL"), default="SIGSTOP", help="freeze: what the driver gets")
    ap.add_argument("--sim-start", type=float, default=5000.0, help="sim_clock: the first /clock time, s")
    ap.add_argument("--depth-mm", type=int, default=3500, help="the flat depth image, mm")
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    rclpy.init()
    f = Feeder(a.image, a.frame_id, a.ns, a.node, a.driver, a.depth_mm)
    out: dict = {"mode": a.mode}
    if a.mode == "sim_clock":
        f.start_sim_clock(a.sim_start)  # before anything else: a sim-time node's clock (and diagnostics) waits for it
    if a.mode != "freeze":
        f.wait_matched()
    t0 = time.monotonic()
    if a.mode == "no_info":
        f.stream(lambda: f.summary_since(t0, lambda s: s["level"] >= 1 and "camera_info" in s["message"]), a.timeout,
                 which=("depth", "color"))
    elif a.mode == "offset":
        f.stream(lambda: f.summary_since(t0, lambda s: "never paired" in s["message"]), a.timeout, depth_offset=-0.5,
                 period=0.2)
    elif a.mode == "color_stops":
        out["healthy"] = f.stream(lambda: f.summary_since(t0, lambda s: s["level"] == 0), a.timeout)
        t0 = time.monotonic()
        f.stream(lambda: f.summary_since(t0, lambda s: "color/image_raw silent" in s["message"]), a.timeout,
                 which=("info", "depth"))
    elif a.mode == "freeze":
        end = time.monotonic() + a.timeout
        # both healthy first: the node's summary and the driver's own status (they arrive independently)
        def both_healthy() -> bool:
            return bool(f.summary_since(0.0, lambda s: s["level"] == 0)) and f.driver.get("level") == 0

        while not both_healthy() and time.monotonic() < end:
            f.spin(0.1)
        out["healthy"] = bool(f.summary_since(0.0, lambda s: s["level"] == 0))
        out["driver_healthy"] = dict(f.driver)
        os.kill(a.driver_pid, getattr(signal, a.signal))
        t0 = time.monotonic()
        end = t0 + a.timeout
        while not f.summary_since(t0, lambda s: "all inputs silent" in s["message"]) and time.monotonic() < end:
            f.spin(0.1)
        if a.signal == "SIGSTOP":
            os.kill(a.driver_pid, signal.SIGCONT)
    elif a.mode == "bad_frames":
        f.msgs["color"].encoding = "bayer_grbg8"
        f.stream(lambda: len(f.arrays) >= 5 and f.summary_since(t0, lambda s: "bayer_grbg8" in s["message"]),
                 a.timeout)
    elif a.mode == "sim_clock":
        # a summary stamped > 0: the node's clock runs (a sim-time node's only once /clock reached it)
        end = time.monotonic() + a.timeout
        while not f.summary_since(0.0, lambda s: s["clock"] > 0) and time.monotonic() < end:
            f.spin(0.1)
        t0 = time.monotonic()
        f.stream(lambda: f.summary_since(t0, lambda s: int(s["values"].get("processed", 0)) >= 5), a.timeout)
        f.spin(0.5)  # the arrays of the frames in flight
    elif a.mode == "frames":
        f.stream(lambda: sum(1 for x in f.arrays if x["n"]) >= 5, a.timeout)
        f.spin(0.5)
    out["t0"] = t0
    out["summaries"] = f.summaries[-30:]
    out["after"] = [s for s in f.summaries if s["t"] >= t0]
    out["topics"] = f.topics
    out["driver"] = f.driver
    out["arrays"] = f.arrays[-50:]
    out["sent"] = f.sent[-200:]
    out["tf_parents"] = sorted(f.tf_parents)
    print("RESULT " + json.dumps(out), flush=True)
    f.node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
