"""``pose3d_node``: RGB(-D) images in, 3D skeletons, markers, TF, actions and diagnostics out. A lifecycle node.

configure: check the parameters (``NODE_PARAMS``), load the pipeline, create the outputs (:mod:`.outputs`); activate:
subscribe to ``color/image_raw`` + ``color/camera_info`` (+ ``depth_registered/image_raw`` with ``use_depth``)
through an ApproximateTimeSynchronizer and start the worker; deactivate: unsubscribe, stop the worker; cleanup:
release. The node converts messages and calls ROS-free policies (``pose3d_ros.core``): ``time_jumps``, ``frame_slot``
(newest frame only, ``max_fps``), ``depth_fallback`` (RGB-only), ``camera_policy``, ``frame_ids`` (valid TF frames),
``output_guard`` (a non-finite, behind-the-camera, out-of-range or inhuman skeleton is dropped, never published) and
``stream_health`` (per-input arrivals, synchronised sets and outputs feed ``/diagnostics``, which names a silent
topic or stamps that never pair). Bad input gives one throttled log line and a diagnostics WARN/ERROR; every
processed frame publishes a ``Skeleton3DArray``, an empty one when the frame failed.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import State, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from pose3d_ros.core.camera_policy import CameraPolicy
from pose3d_ros.core.depth_fallback import DepthFallback
from pose3d_ros.core.depth_input import usable_depth
from pose3d_ros.core.frame_ids import DEFAULT_FRAME_ID, FrameIdPolicy
from pose3d_ros.core.frame_slot import LatestFrameSlot
from pose3d_ros.core.frame_stats import FrameStats
from pose3d_ros.core.output_guard import OutputGuard
from pose3d_ros.core.stamp_check import StampCheck
from pose3d_ros.core.stream_health import RateBounds, StreamHealth
from pose3d_ros.param_spec import ParamSpec
from pose3d_ros.pipeline_config import DEPRECATED_DEVICES, DEVICES, config_from_node_params

from .conversions import camera_from_info, stamp_to_sec
from .diagnostics import ERROR, WARN, DiagnosticsReporter
from .image_msgs import BadInput, color_from_msg, depth_from_msg
from .imports import USING_FALLBACK, ApproximateTimeSynchronizer, Subscriber
from .lifecycle import QOS_CHOICES, ManagedNode, qos_profile, run_managed
from .outputs import Pose3DOutputs
from .params import declare_all
from .time_jump_stage import TimeJumpStage

__all__ = ["Pose3DNode", "main", "BadInput", "NODE_PARAMS"]

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
    S("backend", "cpu", "inference backend (GPU ones fall back to CPU)", choices=(*DEVICES, *DEPRECATED_DEVICES)),
    S("model", "", "2D model name or ONNX path ('' = the pipeline default)"),
    S("detector", "", "person detector of a top-down model ('' = the pipeline default)"),
    S("input_pixels", 0, "pixel budget of full-frame network inputs, shaped like the image (0 = the pipeline "
      "default)", lo=0, hi=16777216),
    S("max_fps", 0.0, "process at most this many frames per second (0 = no limit)", lo=0.0, hi=240.0,
      dynamic=True),
    S("output_bag", "", "also write the skeletons to this rosbag2 (MCAP) bag ('' = off)"),
    S("max_range_m", 30.0, "farthest published joint from the camera, m: a skeleton with a joint beyond it (or "
      "behind the camera, not finite, or with inhuman bone lengths) is dropped, never published (RGB-only distances "
      "of far people come from their size: 15-17 m in the bundled footage)", lo=0.5, hi=1000.0),
    S("default_frame_id", DEFAULT_FRAME_ID, "frame published when an image's frame_id is empty (invalid ones are "
      "cleaned: TF needs valid parents)"),
    S("stream_timeout", 1.0, "an input silent this long, or colour/camera_info/depth stamps not pairing this long, "
      "turns /diagnostics WARN/ERROR, s", lo=0.1, hi=60.0),
    S("expected_rate_min", 1.0, "slowest acceptable input and output rate, Hz (slower = /diagnostics WARN)",
      lo=0.0, hi=1000.0),
    S("expected_rate_max", 120.0, "fastest acceptable input rate, Hz (faster = /diagnostics WARN)",
      lo=0.1, hi=10000.0),
)
_DYNAMIC = {s.name: s for s in NODE_PARAMS if s.dynamic}


class Pose3DNode(ManagedNode):
    """Inference node (see module docstring). Parameters: ``NODE_PARAMS`` / ``config/pose3d.yaml``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("pose3d_node", **kwargs)
        self._stop = threading.Event()
        self.worker: threading.Thread | None = None
        self.pipeline: Any = None
        self.out: Pose3DOutputs | None = None
        self.subs: list = []
        self.problems = []
        self.params, self.param_problems = declare_all(self, NODE_PARAMS)
        self.autostart = bool(self.params["autostart"])
        self.add_on_set_parameters_callback(self._on_params)
        self.slot: LatestFrameSlot = LatestFrameSlot(self._valid_max_fps())
        self.depth_fallback = DepthFallback(float(self.params["depth_timeout"]))
        self.stamps = StampCheck()
        self.camera_policy = CameraPolicy()
        self.frame_ids = FrameIdPolicy()
        self.guard = OutputGuard()
        self.health = StreamHealth.for_camera("color/image_raw", "color/camera_info", None, "skeletons", 0.05)
        self.stats = FrameStats()
        self.processed = self.skipped_idle = 0
        self.diag = DiagnosticsReporter(self, f"{self.get_name()}: pose3d", "camera", self._status,
                                        extra_fn=self._topic_statuses)

    def _valid_max_fps(self) -> float:
        v = self.params["max_fps"]
        return float(v) if isinstance(v, float) and np.isfinite(v) and 0 <= v <= 240 else 0.0

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        p = self.params
        if not self.param_problems and p["depth_min_m"] >= p["depth_max_m"]:
            self.param_problems.append(f"depth_min_m ({p['depth_min_m']}, expected < depth_max_m "
                                       f"{p['depth_max_m']})")
        if not self.param_problems and p["expected_rate_min"] > p["expected_rate_max"]:
            self.param_problems.append(f"expected_rate_min ({p['expected_rate_min']}, expected <= "
                                       f"expected_rate_max {p['expected_rate_max']})")
        if not self.param_problems:
            try:
                self.frame_ids = FrameIdPolicy(p["default_frame_id"])
            except ValueError as exc:
                self.param_problems.append(f"default_frame_id: {exc}")
        if self.param_problems:
            return self.refuse(self.param_problems)
        try:
            from pose3d_ros.pipeline import Pose3DPipeline

            config = config_from_node_params(p)
            self.pipeline = Pose3DPipeline(config)
            self.camera_policy = CameraPolicy.from_file(p["camera_info_fallback_file"] or None)
            self.guard = OutputGuard(p["max_range_m"])
        except Exception as exc:  # noqa: BLE001 - any start-up failure is one clear line, never a traceback
            return self.refuse([f"{type(exc).__name__}: {exc}"])
        self.use_depth = config.use_depth
        self.qos = qos_profile(p["qos"])
        try:
            self.out = Pose3DOutputs(self, self.params)
        except Exception as exc:  # noqa: BLE001
            return self.refuse([f"{type(exc).__name__}: {exc}"])
        self.get_logger().info(
            f"configured: depth={'on' if self.use_depth else 'off'}, qos={p['qos']}, slop={p['sync_slop']}s, "
            f"backend={self.pipeline.backend_name}, fallbacks={[k for k, v in USING_FALLBACK.items() if v]}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        p = self.params
        self.sub_color = Subscriber(self, Image, "color/image_raw", qos_profile=self.qos)
        self.sub_info = Subscriber(self, CameraInfo, "color/camera_info", qos_profile=self.qos)
        inputs = [self.sub_color, self.sub_info]
        if self.use_depth:
            self.sub_depth = Subscriber(self, Image, "depth_registered/image_raw", qos_profile=self.qos)
            inputs.append(self.sub_depth)
        self.health = self._make_health(inputs)
        for sub in inputs:  # the raw arrival hook: every message, before any stage can drop it
            sub.registerCallback(self._arrived, sub.sub.topic_name)
        if self.use_depth:
            self.sub_depth.registerCallback(lambda m: self.depth_fallback.depth_seen(stamp_to_sec(m.header.stamp)))
        # the time-jump stage registers before the synchronisers, so it sees every message before they do
        self.jump_stage = TimeJumpStage(inputs, on_restart=self._on_restart)
        self.syncs = [ApproximateTimeSynchronizer(inputs[:2], p["sync_queue_size"], p["sync_slop"])]
        self.syncs[0].registerCallback(self._on_rgb)
        if self.use_depth:
            self.syncs.append(ApproximateTimeSynchronizer(inputs, p["sync_queue_size"], p["sync_slop"]))
            self.syncs[1].registerCallback(self._on_rgbd)
        self.jump_stage.attach(*self.syncs)
        self.subs = inputs
        self._stop.clear()
        self.slot.reopen()
        self.worker = threading.Thread(target=self._work, name="pose3d-worker", daemon=True)
        self.worker.start()
        self.get_logger().info("active")
        return super().on_activate(state)

    def _make_health(self, inputs: list) -> StreamHealth:
        p = self.params
        names = [sub.sub.topic_name for sub in inputs]
        low = min(p["expected_rate_min"], self._valid_max_fps() or p["expected_rate_min"])  # max_fps limits the output
        return StreamHealth.for_camera(names[0], names[1], names[2] if len(names) > 2 else None, self.out.topic_name,
                                       p["sync_slop"], p["stream_timeout"], RateBounds(low, p["expected_rate_max"]))

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
        if self.out is not None:
            self.out.destroy()
        if self.pipeline is not None:
            self.pipeline.close()
        self.out = self.pipeline = None

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
    def _arrived(self, msg: Any, topic: str) -> None:
        self.health.arrived(topic, stamp_to_sec(msg.header.stamp))

    def _on_restart(self, _jump: Any) -> None:
        self.depth_fallback.reset()
        self.health.forget_stamps()

    def _on_rgb(self, color: Image, info: CameraInfo) -> None:
        self.health.paired("rgb")
        if not self.use_depth:
            self._on_frame(color, info, None)
        elif self.depth_fallback.rgb_only(stamp_to_sec(color.header.stamp), self.params["sync_slop"]):
            self.diag.report(WARN, f"no depth on depth_registered/image_raw for {self.depth_fallback.timeout_s:g} s "
                             "of colour frames: processing RGB-only", "no_depth")
            self._on_frame(color, info, None)

    def _on_rgbd(self, color: Image, info: CameraInfo, depth: Image) -> None:
        self.health.paired("rgbd")
        self._on_frame(color, info, depth)

    def _on_frame(self, color: Image, info: CameraInfo, depth: Image | None = None) -> None:
        self.slot.put((color, info, depth))

    def _problem(self, key: str, message: str, level: int = WARN) -> None:
        """One log line per kind every few seconds, and a diagnostics report each time."""
        self.diag.problem(key, message, level)

    # -- work --------------------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            item = self.slot.take(timeout=0.5)
            if item is None:
                continue
            health = self.health
            if not self.out.wanted():
                self.skipped_idle += 1
                health.idle()
                continue
            health.begin_frame()
            header = self._header(item[0])
            sent, people = self.out.arrays_sent, 0
            try:
                people = self._process(header, *item)
            except BadInput as exc:
                self._problem(exc.key, str(exc), exc.level)
            except Exception as exc:  # noqa: BLE001 - the node must keep serving whatever a frame does
                if not self.context.ok():
                    break
                self._problem(f"internal:{type(exc).__name__}", f"frame failed: {type(exc).__name__}: {exc}", ERROR)
            try:
                if self.out.arrays_sent == sent:  # failed before its array: "published every frame" holds
                    self.out.publish_empty(header)
            except Exception:  # noqa: BLE001 - shutting down: the publisher is gone
                if not self.context.ok():
                    break
            health.published(people)

    def _header(self, color_msg: Image) -> Header:
        """The output header: the image's stamp, its frame id made a valid TF frame (reported once per id)."""
        decision = self.frame_ids.decide(color_msg.header.frame_id)
        if decision.problem:
            self._problem("frame_id", decision.problem)
        self.diag.hardware_id = decision.frame_id
        return Header(stamp=color_msg.header.stamp, frame_id=decision.frame_id)

    def _process(self, header: Header, color_msg: Image, info: CameraInfo, depth_msg: Image | None) -> int:
        """Process one frame and publish it; the number of people published. Raises BadInput (or any error) before
        anything is published."""
        from pose3d_ros.pipeline import Frame, StaleFrame, validate_frame

        t0 = time.perf_counter()
        stamp = stamp_to_sec(header.stamp)
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
                depth, issues = usable_depth(depth_from_msg(depth_msg), depth_msg.encoding, (h, w),
                                             self.params["depth_min_m"], self.params["depth_max_m"],
                                             self.params["depth_convert_mm"])
            except BadInput as exc:
                depth, issues = None, []
                self._problem(exc.key, f"{exc}; processing RGB-only", WARN)
            for issue in issues:
                self._problem(issue.key, issue.message)
        frame = Frame(color=color, depth_m=depth, camera=cam.camera, stamp=stamp)
        try:
            validate_frame(frame)  # a tiny / huge image is bad input, not a frame that failed
        except ValueError as exc:
            raise BadInput("bad_image", str(exc), ERROR) from None
        try:
            result = self.pipeline.process(frame)
        except StaleFrame as exc:
            raise BadInput("stamp_out_of_order", str(exc)) from None
        if result.time_jump is not None and result.time_jump.restarts:
            self._problem("time_jump", result.time_jump.describe())
        people = result.people if cam.metric else self.camera_policy.root_relative(result.people)
        verdict = self.guard.filter(people, cam.metric)
        for r in verdict.rejected:
            self._problem(f"dropped:{r.kind}", f"skeleton {r.person_id} dropped, not published: {r.reason}")
        self.out.publish(header, verdict.kept, getattr(result, "events", None) or [], color, cam.metric)
        self.processed += 1
        latency = self.stamps.latency(stamp, self.get_clock().now().nanoseconds * 1e-9)
        if latency is None and self.stamps.problem:
            self._problem("stamp_implausible", self.stamps.problem)
        self.stats.add((time.perf_counter() - t0) * 1e3, latency, getattr(result, "timings", None))
        return len(verdict.kept)

    # -- health ------------------------------------------------------------------------------------------------------
    def _topic_statuses(self) -> list[tuple[str, int, str, dict]]:
        """diagnostic_updater-style ``<topic> topic status`` per input and for ``skeletons`` (empty while inactive)."""
        if not self.subs:
            return []
        report = self.health.evaluate()
        return [(f"{t.topic} topic status", t.level, t.message, t.values) for t in (*report.inputs, report.output)]

    def _status(self) -> tuple[int, str, dict]:
        report = self.health.evaluate() if self.subs else None
        values: dict[str, Any] = {
            "state": self._state_machine.current_state[1] if hasattr(self, "_state_machine") else "?",
            "fps": round(self.health.fps(), 2) if self.subs else 0.0,
            **self.stats.values(),
            "latency_note": "stamps older than the node clock: not measured (use_sim_time?)" if self.stamps.old else "",
            "people": report.people if report is not None else 0,
            "backend": str(getattr(self.pipeline, "backend_name", self.params["backend"])),
            "frame_id": self.diag.hardware_id,
            "received": self.slot.received,
            "processed": self.processed,
            "dropped_newest_only": self.slot.dropped,
            "skipped_no_subscriber": self.skipped_idle,
            "skeletons_dropped_invalid": self.guard.dropped,
        }
        if self.pipeline is None:
            why = "; ".join(self.problems) if self.problems else "waiting for configure/activate"
            return (ERROR if self.problems else WARN), f"not configured: {why}", values
        if report is None:
            return WARN, "inactive: not subscribed to the inputs (activate to process)", values
        return report.level, report.message, values

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
