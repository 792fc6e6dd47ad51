"""``kinect_driver``: publishes colour, registered depth and camera info from a camera source.

Topics (relative, remappable): ``color/image_raw`` (rgb8), ``color/camera_info``, ``depth/image_raw`` (16UC1 mm,
registered to colour), ``depth/camera_info``; all four share the acquisition stamp of the frame, frame id = the
colour optical frame (registered depth lives in it). SensorDataQoS. Static TF ``<base_frame>`` -> optical frame.
``/diagnostics``: OK while frames flow, ERROR while the device is absent (retried with exponential backoff).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import rclpy
from geometry_msgs.msg import TransformStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from pose3d_ros.core.camera import load_camera_yaml
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
from .dds import apply_dds_defaults
from .diagnostics import ERROR, OK, WARN, DiagnosticsReporter
from .imports import HAVE_TF2_MSGS, StaticTransformBroadcaster, numpy_to_imgmsg
from .params import declare

__all__ = ["KinectDriverNode", "main"]


class KinectDriverNode(Node):
    """Camera driver: a capture thread reads the source and publishes; the executor runs timers and parameters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("kinect_driver", **kwargs)
        # made before anything that can fail: destroy_node() runs on every exit path
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.source: Source | None = None
        self.backend = declare(self, "backend", "playback",
                               f"camera backend: {', '.join(BACKENDS)}", read_only=True)
        self.path = declare(self, "path", "", "playback: recording directory, video or image "
                            "('' = the embedded footage)", read_only=True)
        self.rate = declare(self, "rate", 0.0, "playback frames per second (0 = recorded rate); device: max publish "
                            "rate (0 = as delivered)", lo=0.0, hi=240.0, dynamic=True)
        self.loop = declare(self, "loop", True, "playback: start again at the end", read_only=True)
        self.device_index = declare(self, "device_index", 0, "freenect device number / webcam index", lo=0, hi=16,
                                    read_only=True)
        self.depth_mode = declare(self, "depth_mode", "auto", "freenect depth: auto | registered | 11bit",
                                  read_only=True)
        self.use_depth = declare(self, "use_depth", True, "publish depth/image_raw when the source has depth",
                                 read_only=True)
        self.camera_info_file = declare(self, "camera_info_file", "", "ROS calibration YAML overriding the "
                                        "source's intrinsics ('' = source / Kinect v1 defaults)", read_only=True)
        self.camera_name = declare(self, "camera_name", "camera", "prefix of the TF frame names", read_only=True)
        self.base_frame = declare(self, "base_frame", "", "camera body frame ('' = <camera_name>_link)",
                                  read_only=True)
        self.optical_frame = declare(self, "optical_frame", "", "colour optical frame, also the registered depth's "
                                     "('' = <camera_name>_color_optical_frame)", read_only=True)
        self.publish_tf = declare(self, "publish_tf", True, "publish the static TF base_frame -> optical_frame",
                                  read_only=True)
        self.retry_initial = declare(self, "retry_initial_s", 0.5, "first retry delay when the device is absent, s",
                                     lo=0.05, hi=60.0, read_only=True)
        self.retry_max = declare(self, "retry_max_s", 10.0, "largest retry delay (exponential backoff), s",
                                 lo=0.1, hi=600.0, read_only=True)
        self.max_frames = declare(self, "max_frames", 0, "stop publishing after this many frames (0 = no limit)",
                                  lo=0, hi=2**31 - 1, read_only=True)
        self.base_frame = self.base_frame or f"{self.camera_name}_link"
        self.optical_frame = self.optical_frame or f"{self.camera_name}_color_optical_frame"
        self.add_on_set_parameters_callback(self._on_params)

        qos = qos_profile_sensor_data
        self.pub_color = self.create_publisher(Image, "color/image_raw", qos)
        self.pub_color_info = self.create_publisher(CameraInfo, "color/camera_info", qos)
        self.pub_depth = self.create_publisher(Image, "depth/image_raw", qos)
        self.pub_depth_info = self.create_publisher(CameraInfo, "depth/camera_info", qos)
        self.static_tf = StaticTransformBroadcaster(self) if (self.publish_tf and HAVE_TF2_MSGS) else None
        if self.publish_tf and not HAVE_TF2_MSGS:
            self.get_logger().warning("tf2_msgs is not installed: no static TF (rebuild with scripts/setup_env.sh)")
        elif self.static_tf is not None:
            self._send_static_tf()

        self.frames = 0
        self.state = "starting"
        self.last_error = ""
        self.fps = 0.0
        self._fps_t0, self._fps_n = time.monotonic(), 0
        self.diag = DiagnosticsReporter(self, f"{self.get_name()}: camera", f"{self.backend}", self._status)
        self.thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self.thread.start()

    # -- parameters --------------------------------------------------------------------------------------------------
    def _on_params(self, params: list) -> SetParametersResult:
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
        cam = load_camera_yaml(self.camera_info_file) if self.camera_info_file else None
        if self.backend == "playback":
            path = self.path or default_footage_path()
            if not path:
                raise DeviceUnavailable("playback needs a path parameter (no embedded footage found)")
            return create_source("playback", path=path, rate=(self.rate or None), loop=self.loop,
                                 camera_info=self.camera_info_file or None, use_depth=self.use_depth)
        if self.backend == "freenect":
            return create_source("freenect", device_index=self.device_index, depth_mode=self.depth_mode,
                                 camera=cam, use_depth=self.use_depth)
        if self.backend == "webcam":
            return create_source("webcam", device=self.device_index, camera=cam)
        return create_source(self.backend)

    def _run(self) -> None:
        delay = self.retry_initial
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
                    delay = self.retry_initial
                frame = self.source.get_frame(timeout=1.0)
                try:
                    self._publish(frame)
                except Exception:
                    if not self.context.ok():  # shutting down (Ctrl-C): the publishers are gone
                        break
                    raise
                if self.max_frames and self.frames >= self.max_frames:
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
                delay = min(delay * 2.0, self.retry_max)

    def _publish(self, frame: RGBDFrame) -> None:
        header = Header(stamp=sec_to_stamp(frame.stamp), frame_id=self.optical_frame)
        info = camera_info_from_camera(frame.camera, header)
        color_msg = numpy_to_imgmsg(frame.color, "rgb8", header)
        depth_msg = None
        if frame.depth_mm is not None and self.use_depth:
            depth_msg = numpy_to_imgmsg(frame.depth_mm, "16UC1", header)
        # camera_info first: a synchroniser that waits for it then sees the images complete a set
        self.pub_color_info.publish(info)
        if depth_msg is not None:
            self.pub_depth_info.publish(info)
            self.pub_depth.publish(depth_msg)
        self.pub_color.publish(color_msg)
        self.frames += 1
        self._fps_n += 1
        now = time.monotonic()
        if now - self._fps_t0 >= 2.0:
            self.fps = self._fps_n / (now - self._fps_t0)
            self._fps_t0, self._fps_n = now, 0

    def _status(self) -> tuple[int, str, dict]:
        values = {"backend": self.backend, "frames": self.frames, "fps": round(self.fps, 2), "state": self.state,
                  "frame_id": self.optical_frame}
        if self.state == "unavailable":
            return ERROR, f"camera unavailable: {self.last_error}", values
        if self.state in ("starting",):
            return WARN, "waiting for the first frame", values
        if self.state in ("ended", "done"):
            return OK, f"stream {self.state} after {self.frames} frames", values
        return OK, f"streaming at {self.fps:.1f} fps", values

    def destroy_node(self) -> None:
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout=3.0)
        if self.source is not None:
            try:
                self.source.close()
            except Exception:  # noqa: BLE001
                pass
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    apply_dds_defaults()
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    try:
        node = KinectDriverNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
