"""``kinect_driver``: publishes colour, registered depth and camera info from a camera source. A lifecycle node.

Topics (relative, remappable): ``color/image_raw`` (rgb8), ``color/camera_info``, ``depth_registered/image_raw``
(16UC1 mm, registered to colour, openni/freenect naming) and ``depth_registered/camera_info``; all four share the
acquisition stamp of the frame, frame id = the colour optical frame (registered depth lives in it). QoS: the ``qos``
parameter (``sensor_data`` default). Static TF ``<base_frame>`` -> optical frame. ``/diagnostics`` (hardware_id =
``camera_name``): OK while frames flow at the expected rate (diagnostic_updater frequency values: ``rate`` +-50 %,
or >= 1 Hz at ``rate`` 0), WARN outside it, ERROR while the device is absent (retried with exponential backoff) or
streaming yields no frame for a second. Configuration errors (an unknown backend, a missing file, out-of-range
values) refuse the configuration at once instead of retrying.

Deprecated for one release: the registered depth is also published on ``depth/image_raw`` and
``depth/camera_info`` (the names of earlier versions) while anything subscribes to them
(``legacy_depth_topics``); in openni/freenect naming those are the *unregistered* stream.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from geometry_msgs.msg import TransformStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import State, TransitionCallbackReturn
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from pose3d_ros.core.camera import load_camera_yaml
from pose3d_ros.core.frequency import FrequencyWindow, RateBounds
from pose3d_ros.param_spec import ParamSpec
from pose3d_ros.sources import (
    BACKENDS,
    DeviceUnavailable,
    EndOfStream,
    RGBDFrame,
    Source,
    SourceError,
    create_source,
    default_footage_path,
)

from .conversions import camera_info_from_camera, sec_to_stamp
from .diagnostics import ERROR, OK, WARN, DiagnosticsReporter
from .imports import HAVE_TF2_MSGS, StaticTransformBroadcaster, numpy_to_imgmsg
from .lifecycle import QOS_CHOICES, ManagedNode, qos_profile, run_managed
from .params import declare_all

__all__ = ["KinectDriverNode", "main", "DRIVER_PARAMS"]

S = ParamSpec
DRIVER_PARAMS = (
    S("autostart", True, "configure and activate at start-up; false = wait for a lifecycle manager"),
    S("backend", "playback", "camera backend", choices=tuple(BACKENDS)),
    S("path", "", "playback: rosbag2 bag, recording directory, video or image ('' = the embedded footage)"),
    S("rate", 0.0, "playback frames per second (0 = recorded rate); device: max publish rate (0 = as delivered)",
      lo=0.0, hi=240.0, dynamic=True),
    S("loop", True, "playback: start again at the end"),
    S("device_index", 0, "freenect device number / webcam index", lo=0, hi=16),
    S("depth_mode", "auto", "freenect depth (auto = 11bit under fakenect)", choices=("auto", "registered", "11bit")),
    S("use_depth", True, "publish depth_registered/image_raw when the source has depth"),
    S("qos", "sensor_data", "QoS of the image and camera_info publishers", choices=QOS_CHOICES),
    S("legacy_depth_topics", True, "also publish depth/image_raw + depth/camera_info while subscribed "
      "(deprecated names, removed in the next release)"),
    S("camera_info_file", "", "ROS calibration YAML overriding the source's intrinsics ('' = the source's)"),
    S("camera_name", "camera", "prefix of the TF frame names"),
    S("base_frame", "", "camera body frame ('' = <camera_name>_link)"),
    S("optical_frame", "", "colour optical frame, also the registered depth's ('' = "
      "<camera_name>_color_optical_frame)"),
    S("publish_tf", True, "publish the static TF base_frame -> optical_frame"),
    S("retry_initial_s", 0.5, "first retry delay when the device is absent, s", lo=0.05, hi=60.0),
    S("retry_max_s", 10.0, "largest retry delay (exponential backoff), s", lo=0.1, hi=600.0),
    S("max_frames", 0, "stop publishing after this many frames (0 = no limit)", lo=0, hi=2**31 - 1),
)

DRIVER_PARAMS_BY_NAME = {s.name: s for s in DRIVER_PARAMS if s.dynamic}


class KinectDriverNode(ManagedNode):
    """Camera driver: a capture thread reads the source and publishes; the executor runs timers and parameters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("kinect_driver", **kwargs)
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.source: Source | None = None
        self.problems = []
        self.params, self.param_problems = declare_all(self, DRIVER_PARAMS)
        p = self.params
        self.autostart = bool(p["autostart"])
        self.backend = p["backend"]
        self.rate = float(p["rate"]) if isinstance(p["rate"], float) else 0.0
        self.use_depth = bool(p["use_depth"])
        self.base_frame = p["base_frame"] or f"{p['camera_name']}_link"
        self.optical_frame = p["optical_frame"] or f"{p['camera_name']}_color_optical_frame"
        self.add_on_set_parameters_callback(self._on_params)
        self.frames = 0
        self.state = "unconfigured"
        self.last_error = ""
        self._rate_lock = threading.Lock()
        self.published = FrequencyWindow(window_s=2.0, timeout_s=1.0)
        self.published.reset(time.monotonic())
        self.camera_override = None
        self.static_tf = None
        self.pubs: dict[str, Any] = {}
        self.diag = DiagnosticsReporter(self, f"{self.get_name()}: camera", str(p["camera_name"]), self._status)

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def _config_problems(self) -> list[str]:
        """Configuration errors: refused at once (only device errors are retried)."""
        p = self.params
        out = list(self.param_problems)
        for key in ("path", "camera_info_file"):
            if p[key] and not os.path.exists(p[key]):
                out.append(f"{key} ({p[key]!r}, expected an existing file or directory)")
        if p["retry_max_s"] < p["retry_initial_s"]:
            out.append(f"retry_max_s ({p['retry_max_s']}, expected >= retry_initial_s {p['retry_initial_s']})")
        if not out and p["camera_info_file"]:
            try:
                self.camera_override = load_camera_yaml(p["camera_info_file"])
            except (OSError, ValueError) as exc:
                out.append(f"camera_info_file ({p['camera_info_file']!r}): {exc}")
        return out

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        problems = self._config_problems()
        if problems:
            self.state = "refused"
            return self.refuse(problems)
        qos = qos_profile(self.params["qos"])
        topics = {"color": (Image, "color/image_raw"), "color_info": (CameraInfo, "color/camera_info"),
                  "depth": (Image, "depth_registered/image_raw"),
                  "depth_info": (CameraInfo, "depth_registered/camera_info")}
        if self.params["legacy_depth_topics"]:
            topics.update(legacy_depth=(Image, "depth/image_raw"), legacy_depth_info=(CameraInfo, "depth/camera_info"))
        self.pubs = {k: self.create_lifecycle_publisher(t, name, qos) for k, (t, name) in topics.items()}
        if self.params["publish_tf"] and HAVE_TF2_MSGS:
            self.static_tf = StaticTransformBroadcaster(self)
            self._send_static_tf()
        elif self.params["publish_tf"]:
            self.get_logger().warning("tf2_msgs is not installed: no static TF (rebuild with scripts/setup_env.sh)")
        self.state = "configured"
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self._stop.clear()
        self.state = "starting"
        with self._rate_lock:
            self.published.reset(time.monotonic())
        self.thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self.thread.start()
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._stop_capture()
        self.state = "inactive"
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        for pub in self.pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self.pubs = {}
        self.state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._stop_capture()
        return TransitionCallbackReturn.SUCCESS

    def _stop_capture(self) -> None:
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout=3.0)
            self.thread = None
        if self.source is not None:
            try:
                self.source.close()
            except Exception:  # noqa: BLE001 - a broken device may fail to close
                pass
            self.source = None

    # -- parameters --------------------------------------------------------------------------------------------------
    def _on_params(self, params: list) -> SetParametersResult:
        for p in params:
            problem = DRIVER_PARAMS_BY_NAME[p.name].problem(p.value) if p.name in DRIVER_PARAMS_BY_NAME else None
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        for p in params:
            if p.name == "rate":
                self.rate = float(p.value)
                if self.backend == "playback" and self.source is not None:
                    self.source.rate = self.rate or None
        return SetParametersResult(successful=True)

    # -- TF ----------------------------------------------------------------------------------------------------------
    def _send_static_tf(self) -> None:
        t = TransformStamped()
        t.header.stamp = self.get_clock().now().to_msg()
        t.header.frame_id = self.base_frame
        t.child_frame_id = self.optical_frame
        # REP-103: optical frame (z forward, x right, y down) in the body frame (x forward, y left, z up)
        t.transform.rotation.x, t.transform.rotation.y = -0.5, 0.5
        t.transform.rotation.z, t.transform.rotation.w = -0.5, 0.5
        self.static_tf.sendTransform(t)

    # -- capture -----------------------------------------------------------------------------------------------------
    def _make_source(self) -> Source:
        p = self.params
        cam = self.camera_override
        if self.backend == "playback":
            path = p["path"] or default_footage_path()
            if not path:
                raise DeviceUnavailable("playback needs a path parameter (no embedded footage found)")
            return create_source("playback", path=path, rate=(self.rate or None), loop=p["loop"],
                                 camera_info=p["camera_info_file"] or None, use_depth=self.use_depth)
        if self.backend == "freenect":
            return create_source("freenect", device_index=p["device_index"], depth_mode=p["depth_mode"],
                                 camera=cam, use_depth=self.use_depth)
        if self.backend == "webcam":
            return create_source("webcam", device=p["device_index"], camera=cam)
        return create_source(self.backend)

    def _run(self) -> None:
        delay = self.params["retry_initial_s"]
        while not self._stop.is_set():
            try:
                if self.source is None:
                    self.source = self._make_source()
                if not self.source.started:
                    self.source.start()
                    self.state = "streaming"
                    self.get_logger().info(
                        f"{self.backend}: streaming {self.source.camera.width}x{self.source.camera.height}, "
                        f"depth={'yes' if self.source.has_depth and self.use_depth else 'no'}, "
                        f"frame '{self.optical_frame}'"
                    )
                    delay = self.params["retry_initial_s"]
                frame = self.source.get_frame(timeout=1.0)
                try:
                    self._publish(frame)
                except Exception:
                    if not self.context.ok() or self._stop.is_set():  # shutting down: the publishers are gone
                        break
                    raise
                if self.params["max_frames"] and self.frames >= self.params["max_frames"]:
                    self.state = "done"
                    self.get_logger().info(f"published {self.frames} frames (max_frames): idle")
                    break
                if self.rate > 0 and self.backend != "playback":
                    self._stop.wait(1.0 / self.rate)
            except EndOfStream as exc:
                self.state = "ended"
                self.last_error = str(exc)
                self.get_logger().info(f"{exc}: idle")
                break
            except (DeviceUnavailable, SourceError, OSError, ValueError) as exc:
                self.state = "unavailable"
                self.last_error = str(exc)
                self.get_logger().error(f"{self.backend}: {exc}; retrying in {delay:.1f} s")
                if self.source is not None:
                    try:
                        self.source.close()
                    except Exception:  # noqa: BLE001 - a broken device may fail to close, we retry anyway
                        pass
                    self.source = None
                self._stop.wait(delay)  # never a busy loop
                delay = min(delay * 2.0, self.params["retry_max_s"])

    def _publish(self, frame: RGBDFrame) -> None:
        header = Header(stamp=sec_to_stamp(frame.stamp), frame_id=self.optical_frame)
        info = camera_info_from_camera(frame.camera, header)
        color_msg = numpy_to_imgmsg(frame.color, "rgb8", header)
        depth_msg = None
        if frame.depth_mm is not None and self.use_depth:
            depth_msg = numpy_to_imgmsg(frame.depth_mm, "16UC1", header)
        # camera_info first: a synchroniser that waits for it then sees the images complete a set
        pubs = self.pubs
        pubs["color_info"].publish(info)
        if depth_msg is not None:
            pubs["depth_info"].publish(info)
            pubs["depth"].publish(depth_msg)
            legacy = pubs.get("legacy_depth")
            if legacy is not None and legacy.get_subscription_count() > 0:
                pubs["legacy_depth_info"].publish(info)
                legacy.publish(depth_msg)
        pubs["color"].publish(color_msg)
        self.frames += 1
        with self._rate_lock:
            self.published.tick(time.monotonic())

    def rate_bounds(self) -> RateBounds:
        """Expected publish rate: ``rate`` +-50 % when set, else at least 1 Hz."""
        return RateBounds(self.rate, self.rate, tolerance=0.5) if self.rate > 0 else RateBounds(1.0)

    def _status(self) -> tuple[int, str, dict]:
        """Composite status (like diagnostic_updater's CompositeDiagnosticTask): the driver state, then the
        frequency of the published frames while streaming."""
        with self._rate_lock:
            now = time.monotonic()
            f_level, f_message, f_values = self.published.status(now, self.rate_bounds())
            fps = 0.0 if self.published.silent(now) else self.published.rate(now)
        values = {"backend": self.backend, "frames": self.frames, "fps": round(fps, 2), "state": self.state,
                  "frame_id": self.optical_frame, **f_values}
        if self.state == "refused":
            return ERROR, f"configuration refused: {'; '.join(self.problems)}", values
        if self.state == "unavailable":
            return ERROR, f"camera unavailable: {self.last_error}", values
        if self.state in ("starting", "unconfigured", "configured", "inactive"):
            return WARN, {"starting": "waiting for the first frame"}.get(self.state, self.state), values
        if self.state in ("ended", "done"):
            return OK, f"stream {self.state} after {self.frames} frames", values
        if f_level > OK:
            return f_level, f"streaming, but {f_message[0].lower()}{f_message[1:]}", values
        return OK, f"streaming at {fps:.1f} fps", values

    def destroy_node(self) -> None:
        self._stop_capture()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return run_managed(KinectDriverNode, args)


if __name__ == "__main__":
    import sys

    sys.exit(main())
