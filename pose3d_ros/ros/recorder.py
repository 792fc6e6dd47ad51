"""A subscriber process that records what the inference node publishes, for the demo, tests and the benchmark.

``python -m pose3d_ros.ros.recorder --output out.jsonl --count 30`` writes one JSON line per ``Skeleton3DArray``
(every field, plus the receive time) and, at exit, a summary line ``{"summary": ...}`` with the numbers of
markers, TF frames, action events and diagnostics seen. Exits 0 after ``--count`` arrays, 3 on ``--timeout``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from visualization_msgs.msg import MarkerArray

from pose3d_ros.msg import ActionEvent, Skeleton3DArray  # noqa: E402,I001

from .conversions import skeleton_array_to_numpy
from .dds import apply_dds_defaults
from .imports import HAVE_TF2_MSGS


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else x
    return x


class Recorder(Node):
    """Subscribes to ``skeletons``, ``markers``, ``actions``, ``/tf`` and ``/diagnostics``; keeps counts."""

    def __init__(self, output: Path | None, skeleton_qos: Any = 10, image_stamps: bool = False) -> None:
        super().__init__("pose3d_recorder")
        self.image_stamps: set[tuple[int, int]] = set()
        self.output = output
        self.fh = open(output, "w") if output else None  # noqa: SIM115 - closed in close()
        self.arrays = 0
        self.counted = 0  # arrays with at least min_people skeletons
        self.min_people = 0
        self.people = 0
        self.latencies: list[float] = []
        self.marker_namespaces: set[str] = set()
        self.tf_frames: dict[str, float] = {}
        self.actions: list[dict] = []
        self.diagnostics: list[dict] = []
        self.create_subscription(Skeleton3DArray, "skeletons", self.on_skeletons, skeleton_qos)
        self.create_subscription(MarkerArray, "markers", self.on_markers, 10)
        self.create_subscription(ActionEvent, "actions", self.on_action, 10)
        self.create_subscription(DiagnosticArray, "/diagnostics", self.on_diag, 10)
        if image_stamps:  # to check that skeletons carry the stamp of an image the driver published
            from sensor_msgs.msg import Image

            self.create_subscription(Image, "color/image_raw", self.on_image, qos_profile_sensor_data)
        if HAVE_TF2_MSGS:
            from tf2_msgs.msg import TFMessage

            self.create_subscription(TFMessage, "/tf", self.on_tf, 100)

    def on_skeletons(self, msg: Skeleton3DArray) -> None:
        now = time.time()
        arr = skeleton_array_to_numpy(msg)
        self.arrays += 1
        self.counted += len(msg.skeletons) >= self.min_people
        self.people += len(msg.skeletons)
        self.latencies.append(now - arr["stamp"])
        if self.fh:
            rec = {
                "stamp": arr["stamp"],
                "stamp_sec": msg.header.stamp.sec,
                "stamp_nanosec": msg.header.stamp.nanosec,
                "frame_id": arr["frame_id"],
                "received": now,
                "image_stamp_seen": (msg.header.stamp.sec, msg.header.stamp.nanosec) in self.image_stamps,
                "skeletons": [
                    {
                        "id": int(sk.id),
                        "confidence": float(sk.confidence),
                        "action": sk.action,
                        "action_confidence": float(sk.action_confidence),
                        "frame_id": sk.header.frame_id,
                        "names": [j.name for j in sk.joints],
                        "joints": [[_clean(v) for v in row] for row in arr["joints"][i].tolist()],
                        "pixels": [[_clean(v) for v in row] for row in arr["pixels"][i].tolist()],
                        "joint_confidence": arr["confidence"][i].tolist(),
                        "measured": arr["measured"][i].tolist(),
                    }
                    for i, sk in enumerate(msg.skeletons)
                ],
            }
            self.fh.write(json.dumps(rec) + "\n")
            self.fh.flush()

    def on_image(self, msg: Any) -> None:
        self.image_stamps.add((msg.header.stamp.sec, msg.header.stamp.nanosec))
        if len(self.image_stamps) > 10000:
            self.image_stamps.clear()

    def on_markers(self, msg: MarkerArray) -> None:
        self.marker_namespaces.update(m.ns for m in msg.markers)

    def on_action(self, msg: ActionEvent) -> None:
        self.actions.append({"id": int(msg.skeleton_id), "label": msg.label, "confidence": float(msg.confidence)})

    def on_diag(self, msg: DiagnosticArray) -> None:
        for st in msg.status:
            self.diagnostics.append({"name": st.name, "level": int.from_bytes(st.level, "little")
                                     if isinstance(st.level, bytes) else int(st.level), "message": st.message})
        del self.diagnostics[:-200]  # keep the newest only

    def on_tf(self, msg: Any) -> None:
        for t in msg.transforms:
            self.tf_frames[t.child_frame_id] = (t.header.stamp.sec, t.header.stamp.nanosec, t.header.frame_id)

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        return {
            "arrays": self.arrays,
            "counted": self.counted,
            "people": self.people,
            "latency_median_s": lat[len(lat) // 2] if lat else None,
            "marker_namespaces": sorted(self.marker_namespaces),
            "tf_frames": {k: list(v) for k, v in sorted(self.tf_frames.items())},
            "actions": self.actions[-50:],
            "diagnostics": self.diagnostics[-20:],
        }

    def close(self) -> None:
        if self.fh:
            self.fh.write(json.dumps({"summary": self.summary()}) + "\n")
            self.fh.close()
            self.fh = None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", type=Path, default=None, help="JSONL file to write")
    ap.add_argument("--count", type=int, default=0, help="exit 0 after this many Skeleton3DArray (0: run until ^C)")
    ap.add_argument("--min-people", type=int, default=0, help="count only arrays with at least this many people")
    ap.add_argument("--timeout", type=float, default=0.0, help="exit 3 after this many seconds (0: no limit)")
    ap.add_argument("--image-stamps", action="store_true", help="also record color/image_raw stamps")
    ap.add_argument("--sensor-qos", action="store_true", help="best-effort skeleton subscription")
    args, ros_args = ap.parse_known_args(argv)
    apply_dds_defaults()
    rclpy.init(args=[sys.argv[0], *ros_args])
    node = Recorder(args.output, qos_profile_sensor_data if args.sensor_qos else 10, args.image_stamps)
    node.min_people = args.min_people
    t0 = time.monotonic()
    rc = 0
    try:
        while rclpy.ok():
            rclpy.spin_once(node, timeout_sec=0.1)
            if args.count and node.counted >= args.count:
                # drain a little so late markers / TF of the same frames are seen too
                end = time.monotonic() + 0.3
                while time.monotonic() < end:
                    rclpy.spin_once(node, timeout_sec=0.05)
                break
            if args.timeout and time.monotonic() - t0 > args.timeout:
                print(f"recorder: timeout after {args.timeout:.0f} s with {node.arrays} arrays", flush=True)
                rc = 3
                break
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.close()
        print(json.dumps({"summary": node.summary()}), flush=True)
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return rc


if __name__ == "__main__":
    sys.exit(main())
