"""``pose3d_node``: RGB(-D) images in, 3D skeletons, markers, TF, actions and diagnostics out. A lifecycle node.

configure: check the parameters (``NODE_PARAMS``), load the pipeline, create the publishers; activate: subscribe to
``color/image_raw`` + ``color/camera_info`` (+ ``depth_registered/image_raw`` with ``use_depth``) through an
ApproximateTimeSynchronizer and start the worker; deactivate: unsubscribe, stop the worker; cleanup: release the
pipeline. The node only converts messages and calls ROS-free policies: time jumps (:mod:`pose3d_ros.core.time_jumps`),
the newest-frame hand-over and ``max_fps`` (:mod:`pose3d_ros.core.frame_slot`), the RGB-only fallback
(:mod:`pose3d_ros.core.depth_fallback`), camera_info checks (:mod:`pose3d_ros.core.camera_policy`). Bad input gives
one throttled log line and a diagnostics WARN/ERROR; every processed frame publishes a ``Skeleton3DArray``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import State, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from pose3d_ros.core.camera_policy import CameraPolicy
from pose3d_ros.core.depth_check import check_depth_units
from pose3d_ros.core.depth_fallback import DepthFallback
from pose3d_ros.core.frame_slot import LatestFrameSlot
from pose3d_ros.core.stamp_check import StampCheck
from pose3d_ros.msg import ActionEvent, Skeleton3DArray  # noqa: E402,I001
from pose3d_ros.param_spec import ParamSpec
from pose3d_ros.pipeline_config import BACKEND_DEVICES, config_from_node_params

from .conversions import (
    action_event_msg,
    camera_from_info,
    markers_from_skeletons,
    skeleton_array_from_people,
    stamp_to_sec,
    transforms_from_skeletons,
)
from .diagnostics import ERROR, OK, WARN, DiagnosticsReporter
from .image_msgs import BadInput, color_from_msg, depth_from_msg
from .imports import (
    HAVE_HRI_MSGS,
    HAVE_TF2_MSGS,
    USING_FALLBACK,
    ApproximateTimeSynchronizer,
    Subscriber,
    TransformBroadcaster,
    numpy_to_imgmsg,
)
from .lifecycle import QOS_CHOICES, ManagedNode, qos_profile, run_managed
from .params import declare_all
from .time_jump_stage import TimeJumpStage

__all__ = ["Pose3DNode", "main", "BadInput", "NODE_PARAMS"]

#: seconds between repeats of one kind of warning in the log
LOG_THROTTLE_S = 5.0
S = ParamSpec
NODE_PARAMS = (
    S("autostart", True, "configure and activate at start-up; false = wait for a lifecycle manager"),
    S("use_depth", True, "subscribe to depth_registered/image_raw (16UC1 mm or 32FC1 m, registered to colour); "
      "false = RGB-only"),
    S("qos", "sensor_data", "QoS of the image and camera_info subscriptions", choices=QOS_CHOICES),
    S("sync_queue_size", 5, "ApproximateTimeSynchronizer queue per input", lo=1, hi=100),
    S("sync_slop", 0.05, "largest stamp spread of a colour/depth/info set, s", lo=0.001, hi=1.0),
    S("depth_timeout", 1.0, "colour stamps without any depth spanning this long (s) switch to RGB-only",
      lo=0.05, hi=60.0),
    S("depth_min_m", 0.2, "nearest plausible depth reading, m (closer = no reading)", lo=0.0, hi=5.0),
    S("depth_max_m", 10.0, "farthest plausible depth reading, m (farther = no reading)", lo=0.5, hi=100.0),
    S("depth_convert_mm", False, "convert 32FC1 depth that holds millimetres (median > 100 m) instead of "
      "ignoring it"),
    S("camera_info_fallback_file", "", "ROS calibration YAML used while camera_info is invalid ('' = no metric 3D "
      "until a valid camera_info arrives)"),
    S("process_mode", "subscribed", "work only while something subscribes to an output, or always",
      choices=("subscribed", "always"), dynamic=True),
    S("publish_tf", True, "publish TF body_<id> and <joint>_<id>", dynamic=True),
    S("publish_markers", True, "publish the MarkerArray on 'markers'", dynamic=True),
    S("publish_debug_image", True, "publish the 2D overlay on 'debug/image' when subscribed", dynamic=True),
    S("publish_hri", False, "also publish ROS4HRI (REP-155) topics under /humans/bodies"),
    S("marker_lifetime", 0.5, "marker lifetime, s: people who leave disappear", lo=0.0, hi=60.0, dynamic=True),
    S("min_joint_confidence", 0.1, "joints below this confidence are not drawn", lo=0.0, hi=1.0, dynamic=True),
    S("tf_prefix", "", "prefix of the per-person TF frame names"),
    S("pipeline_config", "", "YAML file with the 'pipeline' section ('' = the pipeline's defaults)"),
    S("backend", "onnxruntime", "inference backend (GPU ones fall back to CPU)", choices=tuple(BACKEND_DEVICES)),
    S("model", "", "2D model name or ONNX path ('' = the pipeline default)"),
    S("detector", "", "person detector of a top-down model ('' = the pipeline default)"),
    S("input_pixels", 0, "pixel budget of full-frame network inputs, shaped like the image (0 = the pipeline "
      "default)", lo=0, hi=16777216),
    S("max_fps", 0.0, "process at most this many frames per second (0 = no limit)", lo=0.0, hi=240.0,
      dynamic=True),
    S("output_bag", "", "also write the skeletons to this rosbag2 (MCAP) bag ('' = off)"),
)
_DYNAMIC = {s.name: s for s in NODE_PARAMS if s.dynamic}


class Pose3DNode(ManagedNode):
    """Inference node (see module docstring). Parameters: ``NODE_PARAMS`` / ``config/pose3d.yaml``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("pose3d_node", **kwargs)
        self._stop = threading.Event()
        self.worker: threading.Thread | None = None
        self.pipeline: Any = None
        self.subs: list = []
        self.hri: Any = None
        self.bag: Any = None
        self.problems = []
        self.params, self.param_problems = declare_all(self, NODE_PARAMS)
        self.autostart = bool(self.params["autostart"])
        self.add_on_set_parameters_callback(self._on_params)
        self.slot: LatestFrameSlot = LatestFrameSlot(self._valid_max_fps())
        self.depth_fallback = DepthFallback(float(self.params["depth_timeout"]))
        self.stamps = StampCheck()
        self.camera_policy = CameraPolicy()
        self.received = self.processed = self.skipped_idle = 0
        self.people = 0
        self.latencies: deque[float] = deque(maxlen=100)
        self.proc_ms: deque[float] = deque(maxlen=100)
        self.timings: dict[str, float] = {}
        self._done_times: deque[float] = deque(maxlen=60)
        self._log_times: dict[str, float] = {}
        self.diag = DiagnosticsReporter(self, f"{self.get_name()}: pose3d", "camera", self._status)

    def _valid_max_fps(self) -> float:
        v = self.params["max_fps"]
        return float(v) if isinstance(v, float) and np.isfinite(v) and 0 <= v <= 240 else 0.0

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        p = self.params
        if not self.param_problems and p["depth_min_m"] >= p["depth_max_m"]:
            self.param_problems.append(f"depth_min_m ({p['depth_min_m']}, expected < depth_max_m "
                                       f"{p['depth_max_m']})")
        if self.param_problems:
            return self.refuse(self.param_problems)
        try:
            from pose3d_ros.pipeline import Pose3DPipeline

            config = config_from_node_params(p)
            self.pipeline = Pose3DPipeline(config)
            self.camera_policy = CameraPolicy.from_file(p["camera_info_fallback_file"] or None)
        except Exception as exc:  # noqa: BLE001 - any start-up failure is one clear line, never a traceback
            return self.refuse([f"{type(exc).__name__}: {exc}"])
        self.use_depth = config.use_depth
        self.qos = qos_profile(p["qos"])
        self.pub_skeletons = self.create_lifecycle_publisher(Skeleton3DArray, "skeletons", 10)
        self.pub_markers = self.create_lifecycle_publisher(MarkerArray, "markers", 10)
        self.pub_actions = self.create_lifecycle_publisher(ActionEvent, "actions", 10)
        self.pub_debug = self.create_lifecycle_publisher(Image, "debug/image", qos_profile("sensor_data"))
        self.tf = TransformBroadcaster(self) if HAVE_TF2_MSGS else None
        try:
            self._open_outputs()
        except Exception as exc:  # noqa: BLE001
            return self.refuse([f"{type(exc).__name__}: {exc}"])
        self.get_logger().info(
            f"configured: depth={'on' if self.use_depth else 'off'}, qos={p['qos']}, slop={p['sync_slop']}s, "
            f"backend={self.pipeline.backend_name}, fallbacks={[k for k, v in USING_FALLBACK.items() if v]}")
        return TransitionCallbackReturn.SUCCESS

    def _open_outputs(self) -> None:
        if self.params["publish_hri"]:
            if not HAVE_HRI_MSGS:
                raise ImportError("publish_hri needs hri_msgs (install ros-<distro>-hri-msgs, or rebuild with "
                                  "scripts/setup_env.sh, which builds vendor/hri_msgs)")
            from .hri import HriPublisher

            self.hri = HriPublisher(self, qos=10, frame_prefix=self.params["tf_prefix"])
        if self.params["output_bag"]:
            from pose3d_ros.bags.writer import BagWriter

            self.bag = BagWriter(self.params["output_bag"])

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        p = self.params
        self.sub_color = Subscriber(self, Image, "color/image_raw", qos_profile=self.qos)
        self.sub_info = Subscriber(self, CameraInfo, "color/camera_info", qos_profile=self.qos)
        inputs = [self.sub_color, self.sub_info]
        if self.use_depth:
            self.sub_depth = Subscriber(self, Image, "depth_registered/image_raw", qos_profile=self.qos)
            self.sub_depth.registerCallback(lambda m: self.depth_fallback.depth_seen(stamp_to_sec(m.header.stamp)))
            inputs.append(self.sub_depth)
        # the time-jump stage registers first, so it sees every message before the synchronisers do
        self.jump_stage = TimeJumpStage(inputs, on_restart=lambda _jump: self.depth_fallback.reset())
        self.syncs = [ApproximateTimeSynchronizer(inputs[:2], p["sync_queue_size"], p["sync_slop"])]
        self.syncs[0].registerCallback(self._on_rgb)
        if self.use_depth:
            self.syncs.append(ApproximateTimeSynchronizer(inputs, p["sync_queue_size"], p["sync_slop"]))
            self.syncs[1].registerCallback(self._on_frame)
        self.jump_stage.attach(*self.syncs)
        self.subs = inputs
        self._stop.clear()
        self.slot.reopen()
        self.worker = threading.Thread(target=self._work, name="pose3d-worker", daemon=True)
        self.worker.start()
        self.get_logger().info("active")
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._stop_worker()
        for sub in self.subs:
            self.destroy_subscription(sub.sub)
        self.subs = []
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._stop_worker()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _stop_worker(self) -> None:
        self._stop.set()
        self.slot.close()
        if self.worker is not None:
            self.worker.join(timeout=5.0)
            self.worker = None

    def _release(self) -> None:
        for pub in ("pub_skeletons", "pub_markers", "pub_actions", "pub_debug"):
            if getattr(self, pub, None) is not None:
                self.destroy_lifecycle_publisher(getattr(self, pub))
                setattr(self, pub, None)
        if self.hri is not None:
            self.hri.destroy()
        for closable in (self.bag, self.pipeline):
            if closable is not None:
                closable.close()
        self.bag = self.pipeline = self.hri = None

    def _on_params(self, params: list) -> SetParametersResult:
        for prm in params:
            spec = _DYNAMIC.get(prm.name)
            if spec is not None and spec.problem(prm.value):
                return SetParametersResult(successful=False, reason=spec.problem(prm.value))
        for prm in params:
            if prm.name in _DYNAMIC:
                self.params[prm.name] = prm.value
                if prm.name == "max_fps":
                    self.slot.set_max_fps(prm.value)  # at once, even while the worker waits
        return SetParametersResult(successful=True)

    # -- input -------------------------------------------------------------------------------------------------------
    def _on_rgb(self, color: Image, info: CameraInfo) -> None:
        if not self.use_depth:
            self._on_frame(color, info, None)
        elif self.depth_fallback.rgb_only(stamp_to_sec(color.header.stamp), self.params["sync_slop"]):
            self.diag.report(WARN, f"no depth on depth_registered/image_raw for {self.depth_fallback.timeout_s:g} s "
                             "of colour frames: processing RGB-only", "no_depth")
            self._on_frame(color, info, None)

    def _on_frame(self, color: Image, info: CameraInfo, depth: Image | None = None) -> None:
        self.slot.put((color, info, depth))

    def _problem(self, key: str, message: str, level: int = WARN) -> None:
        """One log line per kind every LOG_THROTTLE_S seconds, and a diagnostics report each time."""
        self.diag.report(level, message, key)
        now = time.monotonic()
        if now - self._log_times.get(key, -1e9) >= LOG_THROTTLE_S:
            self._log_times[key] = now
            text = f"{message} (seen {self.diag.counts.get(key, 1)}x; repeats muted for {LOG_THROTTLE_S:.0f} s)"
            if level >= ERROR:  # rclpy fixes a severity per call site: one call per level
                self.get_logger().error(text)
            else:
                self.get_logger().warning(text)

    def _wanted(self) -> bool:
        if self.params["process_mode"] == "always":
            return True
        pubs = [self.pub_skeletons, self.pub_markers, self.pub_actions, self.pub_debug]
        n = sum(pub.get_subscription_count() for pub in pubs if pub is not None)
        if self.tf is not None and self.params["publish_tf"]:
            n += self.tf.pub_tf.get_subscription_count() if hasattr(self.tf, "pub_tf") else 1
        return n > 0 or self.hri is not None or self.bag is not None

    # -- work --------------------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            item = self.slot.take(timeout=0.5)
            if item is None:
                continue
            if not self._wanted():
                self.skipped_idle += 1
                continue
            try:
                self._process(*item)
            except BadInput as exc:
                self._problem(exc.key, str(exc), exc.level)
            except Exception as exc:  # noqa: BLE001 - the node must keep serving whatever a frame does
                if not self.context.ok():
                    break
                try:
                    self._problem(f"internal:{type(exc).__name__}", f"frame failed: {type(exc).__name__}: {exc}",
                                  ERROR)
                except Exception:  # noqa: BLE001, S110 - logging itself failed (shutdown): keep the thread alive
                    pass

    def _process(self, color_msg: Image, info: CameraInfo, depth_msg: Image | None) -> None:
        from pose3d_ros.pipeline import Frame, StaleFrame

        t0 = time.perf_counter()
        stamp = stamp_to_sec(color_msg.header.stamp)
        header = Header(stamp=color_msg.header.stamp, frame_id=color_msg.header.frame_id)
        self.diag.hardware_id = header.frame_id or "camera"
        color = color_from_msg(color_msg)
        h, w = color.shape[:2]
        try:
            info_cam, info_error = camera_from_info(info), ""
        except ValueError as exc:
            info_cam, info_error = None, str(exc)
        cam = self.camera_policy.decide(info_cam, info_error, w, h)
        if cam.problem:
            self._problem(cam.key, cam.problem, cam.level)
        if cam.camera is None:
            raise BadInput(cam.key, cam.problem or "no usable camera", ERROR)
        depth = None
        if depth_msg is not None and cam.metric:
            try:
                depth = depth_from_msg(depth_msg)
            except BadInput as exc:
                self._problem(exc.key, f"{exc}; processing RGB-only", WARN)
            if depth is not None and depth.shape != (h, w):
                self._problem("depth_size", f"depth {depth.shape[1]}x{depth.shape[0]} does not match color "
                              f"{w}x{h} (not registered?): processing RGB-only")
                depth = None
            if depth is not None:
                check = check_depth_units(depth, depth_msg.encoding, self.params["depth_min_m"],
                                          self.params["depth_max_m"], self.params["depth_convert_mm"])
                if check.problem:
                    self._problem(f"depth:{check.cause}", check.problem)
                depth = check.depth_m if check.usable else None
        try:
            result = self.pipeline.process(Frame(color=color, depth_m=depth, camera=cam.camera, stamp=stamp))
        except StaleFrame as exc:
            raise BadInput("stamp_out_of_order", str(exc)) from None
        if result.time_jump is not None and result.time_jump.restarts:
            self._problem("time_jump", result.time_jump.describe())
        people = result.people if cam.metric else self.camera_policy.root_relative(result.people)
        self._publish(header, result, people, color, cam.metric)
        self.processed += 1
        self.people = len(people)
        latency = self.stamps.latency(stamp, self.get_clock().now().nanoseconds * 1e-9)
        if latency is not None:
            self.latencies.append(latency)
        elif self.stamps.problem:
            self._problem("stamp_implausible", self.stamps.problem)
        self.proc_ms.append((time.perf_counter() - t0) * 1e3)
        self.timings = dict(getattr(result, "timings", {}) or {})
        self._done_times.append(time.monotonic())

    def _publish(self, header: Header, result: Any, people: list, color: np.ndarray, metric: bool) -> None:
        msg = skeleton_array_from_people(header, people)
        self.pub_skeletons.publish(msg)
        if self.bag is not None:
            self.bag.write(self.pub_skeletons.topic_name, None, msg, header.stamp.sec * 1_000_000_000
                           + header.stamp.nanosec)
        p = self.params
        if metric and p["publish_markers"] and self.pub_markers.get_subscription_count() > 0:
            self.pub_markers.publish(markers_from_skeletons(msg, p["marker_lifetime"],
                                                            min_confidence=p["min_joint_confidence"]))
        if metric and p["publish_tf"] and self.tf is not None and msg.skeletons:
            self.tf.sendTransform(transforms_from_skeletons(msg, p["tf_prefix"]))
        if self.hri is not None:  # REP-155 expects body frames even with publish_tf off
            hri_tfs = self.hri.publish(header, msg, people, color.shape[1], color.shape[0])
            if metric and self.tf is not None and hri_tfs:
                self.tf.sendTransform(hri_tfs)
        for ev in getattr(result, "events", []) or []:
            self.pub_actions.publish(action_event_msg(ev, header.frame_id))
        if p["publish_debug_image"] and self.pub_debug.get_subscription_count() > 0:
            from pose3d_ros.render import draw_skeletons_2d

            overlay = draw_skeletons_2d(color, people, p["min_joint_confidence"])
            self.pub_debug.publish(numpy_to_imgmsg(overlay, "rgb8", header))

    # -- health ------------------------------------------------------------------------------------------------------
    def fps(self) -> float:
        t = list(self._done_times)
        if len(t) < 2 or time.monotonic() - t[-1] > 2.0:
            return 0.0
        return (len(t) - 1) / max(t[-1] - t[0], 1e-6)

    def _status(self) -> tuple[int, str, dict]:
        lat = sorted(self.latencies)
        values: dict[str, Any] = {
            "state": self._state_machine.current_state[1] if hasattr(self, "_state_machine") else "?",
            "fps": round(self.fps(), 2),
            "latency_median_ms": round(1e3 * lat[len(lat) // 2], 1) if lat else "n/a",
            "latency_p95_ms": round(1e3 * lat[int(0.95 * (len(lat) - 1))], 1) if lat else "n/a",
            "latency_note": "stamps older than the node clock: not measured (use_sim_time?)" if self.stamps.old else "",
            "processing_ms": round(float(np.median(self.proc_ms)), 1) if self.proc_ms else "n/a",
            "people": self.people,
            "backend": str(getattr(self.pipeline, "backend_name", self.params["backend"])),
            "received": self.slot.received,
            "processed": self.processed,
            "dropped_newest_only": self.slot.dropped,
            "skipped_no_subscriber": self.skipped_idle,
        }
        values.update({f"stage_ms: {k}": round(float(v), 2) for k, v in self.timings.items()})
        if self.pipeline is None:
            why = "; ".join(self.problems) if self.problems else "waiting for configure/activate"
            return (ERROR if self.problems else WARN), f"not configured: {why}", values
        if self.processed == 0:
            return WARN, "no frame processed yet (waiting for synchronised color/camera_info" + (
                "/depth)" if self.use_depth else ")"), values
        return OK, f"{values['fps']} fps, {self.people} people", values

    def destroy_node(self) -> None:
        self._stop_worker()
        try:
            self._release()
        finally:
            super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return run_managed(Pose3DNode, args)


if __name__ == "__main__":
    import sys

    sys.exit(main())
