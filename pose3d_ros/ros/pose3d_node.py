"""``pose3d_node``: RGB(-D) images in, 3D skeletons, markers, TF, actions and diagnostics out.

Subscribes ``color/image_raw`` + ``color/camera_info`` (+ ``depth/image_raw`` when ``use_depth``) through an
ApproximateTimeSynchronizer; a worker thread processes only the newest synchronised frame (older ones are dropped
and counted, so a burst never builds a queue) with :class:`pose3d_ros.pipeline.Pose3DPipeline`, then publishes
``skeletons`` (every processed frame, header = image stamp + frame), ``markers``, ``actions``, ``debug/image``,
TF ``body_<id>`` / ``<joint>_<id>`` and ``/diagnostics``. Bad input (wrong encoding, size mismatch, K = 0, empty
image, stamps going backwards...) gives one throttled log line and a diagnostics WARN/ERROR; the node keeps serving.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from typing import Any

import cv2
import numpy as np
import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from pose3d_ros.core.camera import PinholeCamera, depth_to_metres
from pose3d_ros.core.skeleton import POSE3D16
from pose3d_ros.msg import ActionEvent, Skeleton3DArray  # noqa: E402,I001

from .conversions import (
    action_event_msg,
    camera_from_info,
    id_color,
    markers_from_skeletons,
    skeleton_array_from_people,
    stamp_to_sec,
    transforms_from_skeletons,
)
from .dds import apply_dds_defaults
from .diagnostics import ERROR, OK, WARN, DiagnosticsReporter
from .imports import (
    HAVE_TF2_MSGS,
    USING_FALLBACK,
    ApproximateTimeSynchronizer,
    ImageConversionError,
    Subscriber,
    TransformBroadcaster,
    imgmsg_to_numpy,
    numpy_to_imgmsg,
)
from .params import declare

__all__ = ["Pose3DNode", "main", "BadInput"]

COLOR_ENCODINGS = ("rgb8", "bgr8", "mono8")
DEPTH_ENCODINGS = ("16UC1", "32FC1")
#: seconds between repeats of one kind of warning in the log
LOG_THROTTLE_S = 5.0
#: with use_depth, colour frames are processed RGB-only when no depth image arrived for this long (s)
DEPTH_TIMEOUT_S = 1.0


class BadInput(ValueError):
    """An input message the node cannot use; ``key`` names the kind (for counting and throttling)."""

    def __init__(self, key: str, message: str, level: int = WARN) -> None:
        super().__init__(message)
        self.key, self.level = key, level


def color_from_msg(msg: Image) -> np.ndarray:
    """Colour message -> (H, W, 3) uint8 RGB. Raises :class:`BadInput` on anything else."""
    if msg.encoding not in COLOR_ENCODINGS:
        supported = ", ".join(COLOR_ENCODINGS)
        raise BadInput("encoding", f"color image encoding {msg.encoding!r} unsupported (use {supported})")
    try:
        img = imgmsg_to_numpy(msg)
    except ImageConversionError as exc:
        raise BadInput("bad_image", f"color image rejected: {exc}") from None
    if msg.encoding == "bgr8":
        img = np.ascontiguousarray(img[..., ::-1])
    elif msg.encoding == "mono8":
        img = np.repeat(img[..., None], 3, axis=2)
    return img


def depth_from_msg(msg: Image) -> np.ndarray:
    """Depth message -> (H, W) float32 metres (NaN = none). Raises :class:`BadInput`."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise BadInput("encoding", f"depth image encoding {msg.encoding!r} unsupported (use 16UC1 mm or 32FC1 m)")
    try:
        raw = imgmsg_to_numpy(msg)
    except ImageConversionError as exc:
        raise BadInput("bad_image", f"depth image rejected: {exc}") from None
    return depth_to_metres(raw, msg.encoding)


class Pose3DNode(Node):
    """Inference node (see module docstring). Parameters are described in ``config/pose3d.yaml``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("pose3d_node", **kwargs)
        # made before anything that can fail: destroy_node() runs on every exit path
        self._stop = threading.Event()
        self.worker: threading.Thread | None = None
        d = lambda *a, **k: declare(self, *a, **k)  # noqa: E731
        self.use_depth = d("use_depth", True, "subscribe to depth/image_raw (registered, 16UC1 mm or 32FC1 m); "
                           "false = RGB-only", read_only=True)
        self.queue_size = d("sync_queue_size", 5, "ApproximateTimeSynchronizer queue per input", lo=1, hi=100,
                            read_only=True)
        self.slop = d("sync_slop", 0.05, "largest stamp spread of a colour/depth/info set, s", lo=0.0, hi=1.0,
                      read_only=True)
        self.process_mode = d("process_mode", "subscribed", "'subscribed': work only while something subscribes "
                              "to an output; 'always'", dynamic=True)
        self.publish_tf = d("publish_tf", True, "publish TF body_<id> and <joint>_<id>", dynamic=True)
        self.publish_markers = d("publish_markers", True, "publish the MarkerArray on 'markers'", dynamic=True)
        self.publish_debug = d("publish_debug_image", True, "publish the 2D overlay on 'debug/image' (when "
                               "subscribed)", dynamic=True)
        self.marker_lifetime = d("marker_lifetime", 0.5, "marker lifetime, s (people who leave disappear)",
                                 lo=0.0, hi=60.0, dynamic=True)
        self.min_conf = d("min_joint_confidence", 0.1, "joints below this confidence are not drawn", lo=0.0, hi=1.0,
                          dynamic=True)
        self.tf_prefix = d("tf_prefix", "", "prefix of the per-person TF frame names", read_only=True)
        self.pipeline_config = d("pipeline_config", "", "YAML file with the 'pipeline' section ('' = the "
                                 "package's config/pose3d.yaml defaults)", read_only=True)
        self.backend = d("backend", "onnxruntime", "inference backend: onnxruntime | tensorrt (falls back to CPU)",
                         read_only=True)
        self.model = d("model", "", "2D model name or ONNX path ('' = the pipeline default)", read_only=True)
        self.detector = d("detector", "", "person detector of a top-down model ('' = the pipeline default)",
                          read_only=True)
        self.input_pixels = d("input_pixels", 0, "pixel budget of full-frame network inputs, shaped like the image "
                              "(0 = the pipeline default)", lo=0, hi=16777216, read_only=True)
        self.max_fps = d("max_fps", 0.0, "process at most this many frames per second (0 = no limit)", lo=0.0,
                         hi=240.0, dynamic=True)
        self.add_on_set_parameters_callback(self._on_params)

        self.pipeline = self._make_pipeline()
        self.pub_skeletons = self.create_publisher(Skeleton3DArray, "skeletons", 10)
        self.pub_markers = self.create_publisher(MarkerArray, "markers", 10)
        self.pub_actions = self.create_publisher(ActionEvent, "actions", 10)
        self.pub_debug = self.create_publisher(Image, "debug/image", qos_profile_sensor_data)
        self.tf = TransformBroadcaster(self) if HAVE_TF2_MSGS else None

        qos = qos_profile_sensor_data
        self.sub_color = Subscriber(self, Image, "color/image_raw", qos_profile=qos)
        self.sub_info = Subscriber(self, CameraInfo, "color/camera_info", qos_profile=qos)
        # colour + info always; + depth when enabled. While no depth arrives (RGB-only camera, depth stream down)
        # the colour/info pairs are processed RGB-only, so a missing stream degrades instead of stalling.
        self.sync_rgb = ApproximateTimeSynchronizer([self.sub_color, self.sub_info], self.queue_size, self.slop)
        self.sync_rgb.registerCallback(self._on_rgb)
        self.last_depth_t = -1e9
        self.sync = None
        if self.use_depth:
            self.sub_depth = Subscriber(self, Image, "depth/image_raw", qos_profile=qos)
            self.sub_depth.registerCallback(self._on_depth_seen)
            self.sync = ApproximateTimeSynchronizer([self.sub_color, self.sub_info, self.sub_depth], self.queue_size,
                                                    self.slop)
            self.sync.registerCallback(self._on_frame)

        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pending: tuple | None = None
        self.received = self.processed = self.dropped = self.skipped_idle = 0
        self.people = 0
        self.last_stamp: float | None = None
        self.latencies: deque[float] = deque(maxlen=100)
        self.proc_ms: deque[float] = deque(maxlen=100)
        self.timings: dict[str, float] = {}
        self._done_times: deque[float] = deque(maxlen=60)
        self._log_times: dict[str, float] = {}
        self.diag = DiagnosticsReporter(self, f"{self.get_name()}: pose3d", self.backend, self._status)
        self.worker = threading.Thread(target=self._work, name="pose3d-worker", daemon=True)
        self.worker.start()
        self.get_logger().info(
            f"ready: depth={'on' if self.use_depth else 'off'}, slop={self.slop}s, queue={self.queue_size}, "
            f"process_mode={self.process_mode}, fallbacks={[k for k, v in USING_FALLBACK.items() if v]}"
        )

    # -- set-up ------------------------------------------------------------------------------------------------------
    def _make_pipeline(self) -> Any:
        from pose3d_ros.pipeline import PipelineConfig, Pose3DPipeline

        section: dict = {}
        if self.pipeline_config:
            import yaml

            with open(self.pipeline_config) as fh:
                data = yaml.safe_load(fh) or {}
            section = data.get("pipeline", data) if isinstance(data, dict) else {}
        if self.backend:
            section.setdefault("backend", self.backend)
        if self.model:
            section["model"] = self.model
        if self.detector:
            section["detector"] = self.detector
        if self.input_pixels:
            section["input_pixels"] = section["detector_pixels"] = int(self.input_pixels)
        section.setdefault("use_depth", self.use_depth)
        maker = getattr(PipelineConfig, "from_dict", None)
        config = maker(section) if maker else PipelineConfig(**section)
        return Pose3DPipeline(config)

    def _on_params(self, params: list) -> SetParametersResult:
        for p in params:
            if p.name == "process_mode" and p.value not in ("subscribed", "always"):
                return SetParametersResult(successful=False, reason="process_mode must be 'subscribed' or 'always'")
        for p in params:
            name = {"publish_debug_image": "publish_debug", "min_joint_confidence": "min_conf"}.get(p.name, p.name)
            if name in ("process_mode", "publish_tf", "publish_markers", "publish_debug", "marker_lifetime",
                        "min_conf", "max_fps"):
                setattr(self, name, p.value)
        return SetParametersResult(successful=True)

    # -- input -------------------------------------------------------------------------------------------------------
    def _on_depth_seen(self, _msg: Image) -> None:
        self.last_depth_t = time.monotonic()

    def _on_rgb(self, color: Image, info: CameraInfo) -> None:
        if self.use_depth and time.monotonic() - self.last_depth_t < DEPTH_TIMEOUT_S:
            return  # the colour/info/depth synchroniser handles this frame
        if self.use_depth:
            self.diag.report(WARN, f"no depth for {DEPTH_TIMEOUT_S:.0f} s: processing RGB-only", "no_depth")
        self._on_frame(color, info, None)

    def _on_frame(self, color: Image, info: CameraInfo, depth: Image | None = None) -> None:
        """Synchronised set: keep only the newest (the worker takes it); count what it replaces."""
        with self._lock:
            self.received += 1
            if self._pending is not None:
                self.dropped += 1
            self._pending = (color, info, depth, time.time())
        self._wake.set()

    def _problem(self, key: str, message: str, level: int = WARN) -> None:
        """One log line per kind every LOG_THROTTLE_S seconds, and a diagnostics report each time."""
        self.diag.report(level, message, key)
        now = time.monotonic()
        if now - self._log_times.get(key, -1e9) >= LOG_THROTTLE_S:
            self._log_times[key] = now
            text = f"{message} (seen {self.diag.counts.get(key, 1)}x; repeats muted for {LOG_THROTTLE_S:.0f} s)"
            # rclpy fixes a severity per call site: one call per level
            if level >= ERROR:
                self.get_logger().error(text)
            else:
                self.get_logger().warning(text)

    def _wanted(self) -> bool:
        if self.process_mode == "always":
            return True
        n = (self.pub_skeletons.get_subscription_count() + self.pub_markers.get_subscription_count()
             + self.pub_actions.get_subscription_count() + self.pub_debug.get_subscription_count())
        if self.tf is not None and self.publish_tf:
            n += self.tf.pub_tf.get_subscription_count() if hasattr(self.tf, "pub_tf") else 1
        return n > 0

    # -- work --------------------------------------------------------------------------------------------------------
    def _work(self) -> None:
        last_t = 0.0
        while not self._stop.is_set():
            if not self._wake.wait(timeout=0.5):
                continue
            with self._lock:
                item, self._pending = self._pending, None
                self._wake.clear()
            if item is None:
                continue
            if self.max_fps > 0:
                wait = last_t + 1.0 / self.max_fps - time.monotonic()
                if wait > 0:
                    self._stop.wait(wait)
            last_t = time.monotonic()
            if not self._wanted():
                self.skipped_idle += 1
                continue
            try:
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

    def _camera(self, info: CameraInfo, width: int, height: int) -> PinholeCamera:
        try:
            cam = camera_from_info(info)
        except ValueError as exc:
            self._problem("camera_info", f"camera_info unusable ({exc}); using default Kinect v1 intrinsics")
            return PinholeCamera.default(width, height)
        if (cam.width, cam.height) != (width, height):
            if cam.width > 0 and abs(cam.width / width - cam.height / height) < 1e-6:
                return cam.scaled(width / cam.width, height / cam.height)  # same aspect: a binned stream
            raise BadInput("size_mismatch", f"camera_info is {cam.width}x{cam.height} but the color image is "
                           f"{width}x{height}: frame skipped", ERROR)
        return cam

    def _process(self, color_msg: Image, info: CameraInfo, depth_msg: Image | None, t_recv: float) -> None:
        from pose3d_ros.pipeline import Frame

        t0 = time.perf_counter()
        stamp = stamp_to_sec(color_msg.header.stamp)
        if self.last_stamp is not None and stamp < self.last_stamp:
            self._problem("stamp_backwards", f"image stamps went backwards by {self.last_stamp - stamp:.3f} s "
                          "(bag loop or clock reset?): tracks restarted")
            reset = getattr(self.pipeline, "reset", None)
            if reset is not None:
                reset()
        self.last_stamp = stamp
        color = color_from_msg(color_msg)
        h, w = color.shape[:2]
        cam = self._camera(info, w, h)
        depth = None
        if depth_msg is not None:
            try:
                depth = depth_from_msg(depth_msg)
            except BadInput as exc:
                self._problem(exc.key, f"{exc}; processing RGB-only", WARN)
            if depth is not None and depth.shape != (h, w):
                self._problem("depth_size", f"depth {depth.shape[1]}x{depth.shape[0]} does not match color "
                              f"{w}x{h} (not registered?): processing RGB-only")
                depth = None
        frame = Frame(color=color, depth_m=depth, camera=cam, stamp=stamp)
        result = self.pipeline.process(frame)
        header = Header(stamp=color_msg.header.stamp, frame_id=color_msg.header.frame_id)
        self._publish(header, result, color)
        now = time.time()
        self.processed += 1
        self.people = len(result.people)
        self.latencies.append(now - stamp)
        self.proc_ms.append((time.perf_counter() - t0) * 1e3)
        self.timings = dict(getattr(result, "timings", {}) or {})
        self._done_times.append(time.monotonic())

    def _publish(self, header: Header, result: Any, color: np.ndarray) -> None:
        msg = skeleton_array_from_people(header, result.people)
        self.pub_skeletons.publish(msg)
        if self.publish_markers and self.pub_markers.get_subscription_count() > 0:
            self.pub_markers.publish(markers_from_skeletons(msg, self.marker_lifetime, min_confidence=self.min_conf))
        if self.publish_tf and self.tf is not None and msg.skeletons:
            self.tf.sendTransform(transforms_from_skeletons(msg, self.tf_prefix))
        for ev in getattr(result, "events", []) or []:
            self.pub_actions.publish(action_event_msg(ev, header.frame_id))
        if self.publish_debug and self.pub_debug.get_subscription_count() > 0:
            self.pub_debug.publish(numpy_to_imgmsg(draw_overlay(color, result.people, self.min_conf), "rgb8", header))

    # -- health ------------------------------------------------------------------------------------------------------
    def fps(self) -> float:
        t = list(self._done_times)
        if len(t) < 2 or time.monotonic() - t[-1] > 2.0:
            return 0.0
        return (len(t) - 1) / max(t[-1] - t[0], 1e-6)

    def _status(self) -> tuple[int, str, dict]:
        lat = sorted(self.latencies)
        values: dict[str, Any] = {
            "fps": round(self.fps(), 2),
            "latency_median_ms": round(1e3 * lat[len(lat) // 2], 1) if lat else "n/a",
            "latency_p95_ms": round(1e3 * lat[int(0.95 * (len(lat) - 1))], 1) if lat else "n/a",
            "processing_ms": round(float(np.median(self.proc_ms)), 1) if self.proc_ms else "n/a",
            "people": self.people,
            "backend": str(getattr(self.pipeline, "backend_name", self.backend)),
            "received": self.received,
            "processed": self.processed,
            "dropped_newest_only": self.dropped,
            "skipped_no_subscriber": self.skipped_idle,
        }
        values.update({f"stage_ms: {k}": round(float(v), 2) for k, v in self.timings.items()})
        if self.processed == 0:
            return WARN, "no frame processed yet (waiting for synchronised color/camera_info" + (
                "/depth)" if self.use_depth else ")"), values
        return OK, f"{values['fps']} fps, {self.people} people", values

    def destroy_node(self) -> None:
        self._stop.set()
        if self.worker is not None:
            self._wake.set()
            self.worker.join(timeout=5.0)
        super().destroy_node()


def draw_overlay(color: np.ndarray, people: list, min_conf: float = 0.1) -> np.ndarray:
    """The colour image with each person's 2D skeleton (colour per id) and id/action label. (H, W, 3) uint8 RGB."""
    img = np.ascontiguousarray(color).copy()
    for p in people:
        c = id_color(int(p.id))
        col = (int(255 * c.r), int(255 * c.g), int(255 * c.b))
        px = np.asarray(p.pixels, dtype=np.float64)
        conf = np.asarray(p.confidence, dtype=np.float64)
        ok = np.isfinite(px).all(axis=1) & (conf >= min_conf)
        for a, b in POSE3D16.bones:
            if ok[a] and ok[b]:
                cv2.line(img, tuple(int(v) for v in px[a]), tuple(int(v) for v in px[b]), col, 2, cv2.LINE_AA)
        for j in np.flatnonzero(ok):
            cv2.circle(img, (int(px[j, 0]), int(px[j, 1])), 3, col, -1, cv2.LINE_AA)
        head = POSE3D16.index("head")
        if ok[head]:
            label = f"{p.id} {getattr(p, 'action', '') or ''}".strip()
            cv2.putText(img, label, (int(px[head, 0]), int(px[head, 1]) - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.6, col, 2)
    return img


def main(args: list[str] | None = None) -> int:
    apply_dds_defaults()
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    rc = 0
    try:
        node = Pose3DNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        # the pipeline could not start (missing model/prior, bad config): one clear line, exit code 1
        rclpy.logging.get_logger("pose3d_node").fatal(f"cannot start: {type(exc).__name__}: {exc}")
        rc = 1
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return rc


if __name__ == "__main__":
    sys.exit(main())
