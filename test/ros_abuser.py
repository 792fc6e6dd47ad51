"""A long-lived camera stand-in that feeds the inference node bad input, one phase per command (run as a script).

    ros_abuser.py IMAGE --ns NS --node NAME [--match-timeout S]

Publishes ``<ns>/color/image_raw``, ``color/camera_info`` and ``depth_registered/image_raw`` (IMAGE, 3.5 m flat
depth), watches ``/diagnostics`` (the summary of node NAME only) and ``<ns>/skeletons``. Once its publishers are
matched it prints ``READY {json}``; then it reads one JSON command per stdin line and answers each with one
``REPLY {json}`` line on stdout (its ``id`` echoed). Every command streams frames until its condition holds or its
``timeout`` passes (``ok`` says which) — no fixed waits. Commands (``op``):

good      good frames until an array with people and the stamp of one of them arrives, and then an OK summary
bad       frames of ``kind`` (see :meth:`Abuser.kind`; ``backwards`` first steps the stamps 50 s back) until at
          least ``min_frames`` were sent, a summary since the command began has ``level`` and matches ``pattern``
          and the latest summary counts ``min_reports`` reports of one kind more than before
burst     ``n`` small frames as fast as possible, then wait for a summary whose ``dropped_newest_only`` grew
quit      exit
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import sys
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

import pose3d_ros.ros  # noqa: F401 - pose3d_ros.msg from the checkout
from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.ros.conversions import camera_info_from_camera, sec_to_stamp
from pose3d_ros.ros.imports import numpy_to_imgmsg

PERIOD = 0.2  # 5 Hz: slower than the CPU model, so good frames alone keep /diagnostics OK
FRAME_ID = "camera_color_optical_frame"


class Abuser:
    """Publishers, the node's summaries and arrays (with their arrival time) and one stamp clock for all phases."""

    def __init__(self, image: str, ns: str, node_name: str) -> None:
        from pose3d_ros.msg import Skeleton3DArray  # after pose3d_ros.ros made it importable

        self.node = rclpy.create_node("abuser", namespace=ns)
        self.summary_name = f"{node_name}: pose3d"
        q = qos_profile_sensor_data
        self.pubs = {"color": self.node.create_publisher(Image, "color/image_raw", q),
                     "info": self.node.create_publisher(CameraInfo, "color/camera_info", q),
                     "depth": self.node.create_publisher(Image, "depth_registered/image_raw", q)}
        self.rgb = cv2.cvtColor(cv2.imread(image), cv2.COLOR_BGR2RGB)
        self.cam = PinholeCamera.default(self.rgb.shape[1], self.rgb.shape[0])
        self.depth = np.full(self.rgb.shape[:2], 3500, np.uint16)
        self.summaries: list[dict] = []
        self.arrays: list[dict] = []
        self.t = 100.0  # stamps: old (no latency), strictly increasing except where a phase says otherwise
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.on_diag, 50)
        self.node.create_subscription(Skeleton3DArray, "skeletons", self.on_array, 50)

    def on_diag(self, m: DiagnosticArray) -> None:
        for s in m.status:
            if s.name == self.summary_name:
                self.summaries.append({"t": time.monotonic(), "level": s.level[0], "message": s.message,
                                       "values": {kv.key: kv.value for kv in s.values}})

    def on_array(self, m) -> None:
        self.arrays.append({"t": time.monotonic(), "stamp": [m.header.stamp.sec, m.header.stamp.nanosec],
                            "n": len(m.skeletons)})

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.01)

    def wait_matched(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while min(p.get_subscription_count() for p in self.pubs.values()) == 0:
            if time.monotonic() > end:
                return False
            self.spin(0.1)
        return True

    def send(self, color: Image | None = None, info: CameraInfo | None = None, dep: Image | None = None) -> list:
        """One set stamped ``self.t`` (then advanced); None = the good message. Returns the stamp."""
        h = Header(stamp=sec_to_stamp(self.t), frame_id=FRAME_ID)
        self.t += PERIOD
        c = color if color is not None else numpy_to_imgmsg(self.rgb, "rgb8")
        i = info if info is not None else camera_info_from_camera(self.cam)
        d = dep if dep is not None else numpy_to_imgmsg(self.depth, "16UC1")
        for m in (c, i, d):
            m.header = h
        self.pubs["info"].publish(i)
        self.pubs["depth"].publish(d)
        self.pubs["color"].publish(c)
        return [h.stamp.sec, h.stamp.nanosec]

    def stream(self, make: Callable[[], dict], until: Callable[[list], bool], timeout: float) -> tuple[bool, list]:
        """Send ``make()`` sets every PERIOD until ``until(stamps sent so far)``; (condition met, stamps sent)."""
        sent: list = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            sent.append(self.send(**make()))
            self.spin(PERIOD)
            if until(sent):
                return True, sent
        return False, sent

    def summary_since(self, t0: float, pred: Callable[[dict], bool]) -> dict | None:
        return next((s for s in self.summaries if s["t"] >= t0 and pred(s)), None)

    def latest_values(self) -> dict:
        return dict(self.summaries[-1]["values"]) if self.summaries else {}

    # -- kinds of bad set ---------------------------------------------------------------------------------------------
    def kind(self, name: str) -> Callable[[], dict]:
        small_depth = np.full((self.rgb.shape[0] // 2, self.rgb.shape[1] // 2), 3000, np.uint16)
        kinds: dict[str, Callable[[], dict]] = {
            "backwards": dict,  # good sets; the stamps stepped back before the first
            "wrong_encoding": lambda: {"color": _with_encoding(numpy_to_imgmsg(self.rgb, "rgb8"), "bayer_grbg8")},
            "size_mismatch": lambda: {"dep": numpy_to_imgmsg(small_depth, "16UC1")},
            "info_mismatch": lambda: {"info": camera_info_from_camera(
                PinholeCamera.default(self.cam.width, self.cam.height - 80))},
            "k0": lambda: {"info": _zero_k(camera_info_from_camera(self.cam))},
            "nan_depth": lambda: {"dep": numpy_to_imgmsg(np.full(self.rgb.shape[:2], np.nan, np.float32), "32FC1")},
            "empty": lambda: {"color": Image(encoding="rgb8")},
        }
        return kinds[name]

    # -- commands ------------------------------------------------------------------------------------------------------
    def good(self, cmd: dict) -> dict:
        if "stamp_from" in cmd:
            self.t = float(cmd["stamp_from"])
        t0 = time.monotonic()

        def array_for(sent: list) -> dict | None:
            return next((a for a in self.arrays if a["t"] >= t0 and a["n"] > 0 and a["stamp"] in sent), None)

        def recovered(sent: list) -> bool:
            a = array_for(sent)
            return a is not None and self.summary_since(a["t"], lambda s: s["level"] == 0) is not None

        ok, sent = self.stream(dict, recovered, cmd["timeout"])
        return {"ok": ok, "array": array_for(sent), "sent": sent[-50:], "arrays": self.arrays_since(t0),
                "summaries": self.summaries_since(t0)}

    def bad(self, cmd: dict) -> dict:
        make = self.kind(cmd["kind"])
        if cmd["kind"] == "backwards":
            self.t -= 50.0
        before = self.latest_values()
        t0 = time.monotonic()

        def seen() -> dict | None:
            return self.summary_since(t0, lambda s: s["level"] == cmd["level"]
                                      and re.search(cmd["pattern"], s["message"]) is not None)

        def reported() -> bool:  # the latest summary counts min_reports of one kind since the phase began
            after = self.latest_values()
            return max((int(v) - int(before.get(k, 0)) for k, v in after.items() if k.startswith("count: ")),
                       default=0) >= cmd.get("min_reports", 1)

        ok, sent = self.stream(make, lambda sent: len(sent) >= cmd["min_frames"] and seen() is not None
                               and reported(), cmd["timeout"])
        return {"ok": ok, "match": seen(), "sent": len(sent), "before": before, "after": self.latest_values(),
                "summaries": self.summaries_since(t0), "arrays": self.arrays_since(t0), "took_s": time.monotonic() - t0}

    def burst(self, cmd: dict) -> dict:
        before = self.latest_values()
        dropped0 = int(before.get("dropped_newest_only", 0))
        w, h = self.cam.width // 4, self.cam.height // 4
        small = cv2.resize(self.rgb, (w, h))
        depth = cv2.resize(self.depth, (w, h), interpolation=cv2.INTER_NEAREST)
        info = camera_info_from_camera(PinholeCamera.default(w, h))
        t0 = time.monotonic()
        for k in range(int(cmd["n"])):
            hdr = Header(stamp=sec_to_stamp(self.t + k * 0.001), frame_id=FRAME_ID)
            info.header = hdr
            self.pubs["info"].publish(info)
            self.pubs["depth"].publish(numpy_to_imgmsg(depth, "16UC1", hdr))
            self.pubs["color"].publish(numpy_to_imgmsg(small, "rgb8", hdr))
        sent_s = time.monotonic() - t0
        self.t += int(cmd["n"]) * 0.001 + 1.0
        t1 = time.monotonic()
        end = t1 + cmd["timeout"]
        ok = False
        while time.monotonic() < end and not ok:
            self.spin(0.1)
            ok = self.summary_since(t1, lambda s: int(s["values"].get("dropped_newest_only", 0)) > dropped0) is not None
        return {"ok": ok, "before": before, "after": self.latest_values(), "burst_s": sent_s,
                "summaries": self.summaries_since(t1)}

    def arrays_since(self, t0: float) -> list[dict]:
        return [a for a in self.arrays if a["t"] >= t0][-30:]

    def summaries_since(self, t0: float) -> list[dict]:
        return [{k: s[k] for k in ("t", "level", "message")} for s in self.summaries if s["t"] >= t0][-30:]


def _with_encoding(m: Image, encoding: str) -> Image:
    m.encoding = encoding
    return m


def _zero_k(info: CameraInfo) -> CameraInfo:
    info.k = [0.0] * 9
    return info


def _stdin_lines(q: queue.Queue) -> None:
    for line in sys.stdin:
        q.put(line)
    q.put('{"op": "quit"}')  # the test went away


def serve(ab: Abuser, lines: queue.Queue) -> None:
    """Answer commands until ``quit``."""
    ops = {"good": ab.good, "bad": ab.bad, "burst": ab.burst}
    while True:
        try:
            cmd = json.loads(lines.get_nowait())
        except queue.Empty:
            ab.spin(0.05)  # keep taking diagnostics and arrays between commands
            continue
        if cmd["op"] == "quit":
            return
        reply = ops[cmd["op"]](cmd)
        reply["id"] = cmd.get("id")
        # (received, dropped) around the phase, for the test's failure text
        counts = {w: (reply[w].get("received"), reply[w].get("dropped_newest_only")) for w in ("before", "after")
                  if w in reply}
        print(f"{cmd['op']} {cmd.get('kind', '')}: ok={reply['ok']} {counts}", file=sys.stderr, flush=True)
        print("REPLY " + json.dumps(reply), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--ns", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--match-timeout", type=float, default=60.0)
    a = ap.parse_args()
    rclpy.init()
    ab = Abuser(a.image, a.ns, a.node)
    print("READY " + json.dumps({"matched": ab.wait_matched(a.match_timeout)}), flush=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_stdin_lines, args=(lines,), daemon=True).start()
    try:
        serve(ab, lines)
    except KeyboardInterrupt:  # the test's clean-up stopped us
        pass
    ab.node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
