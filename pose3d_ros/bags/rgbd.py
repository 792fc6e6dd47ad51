"""RGB-D captures -> a rosbag2 bag with the driver's topics, as ``ros2 bag record`` of the driver would store them.

Topics (under ``namespace``, default ``/camera``; DESIGN.md §3)::

    <ns>/color/image_raw              sensor_msgs/Image rgb8
    <ns>/color/camera_info            sensor_msgs/CameraInfo
    <ns>/depth_registered/image_raw   sensor_msgs/Image 16UC1, mm, registered to colour (when the frame has depth)
    <ns>/depth_registered/camera_info sensor_msgs/CameraInfo (the colour camera's: depth is registered to it)
    /tf_static                        tf2_msgs/TFMessage <camera>_link -> <camera>_color_optical_frame (REP-103)

Every message of a frame carries the frame's acquisition stamp, in its header and as the bag's log time.
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.sources.base import RGBDFrame

from .images import encode_image
from .writer import QOS_SENSOR_DATA, QOS_STATIC, BagWriter

__all__ = [
    "RGBDBagWriter",
    "topic_name",
    "camera_info_fields",
    "COLOR_IMAGE",
    "COLOR_INFO",
    "DEPTH_IMAGE",
    "DEPTH_INFO",
    "TF_STATIC",
    "OPTICAL_IN_BODY_XYZW",
]

COLOR_IMAGE = "color/image_raw"
COLOR_INFO = "color/camera_info"
DEPTH_IMAGE = "depth_registered/image_raw"
DEPTH_INFO = "depth_registered/camera_info"
TF_STATIC = "/tf_static"
#: REP-103: the optical frame (z forward, x right, y down) in the body frame (x forward, y left, z up)
OPTICAL_IN_BODY_XYZW = (-0.5, 0.5, -0.5, 0.5)
_NS_PER_S = 1_000_000_000


def topic_name(namespace: str, relative: str) -> str:
    """``("/camera", "color/image_raw")`` -> ``"/camera/color/image_raw"``; an empty namespace gives ``/<relative>``."""
    ns = "/" + namespace.strip("/") if namespace.strip("/") else ""
    return f"{ns}/{relative.strip('/')}"


def _header(stamp_ns: int, frame_id: str) -> dict:
    return {"stamp": {"sec": stamp_ns // _NS_PER_S, "nanosec": stamp_ns % _NS_PER_S}, "frame_id": frame_id}


def camera_info_fields(cam: PinholeCamera, stamp_ns: int, frame_id: str) -> dict:
    """``sensor_msgs/CameraInfo`` fields of a distortion-free camera (plumb_bob, zero D, identity R, P = [K|0])."""
    k = cam.K
    p = np.zeros((3, 4))
    p[:, :3] = k
    return {
        "header": _header(stamp_ns, frame_id),
        "height": cam.height,
        "width": cam.width,
        "distortion_model": "plumb_bob",
        "d": np.zeros(5),
        "k": k.ravel(),
        "r": np.eye(3).ravel(),
        "p": p.ravel(),
    }


class RGBDBagWriter:
    """Write :class:`RGBDFrame` captures into a bag that :class:`~pose3d_ros.sources.playback.PlaybackSource`,
    ``ros2 bag play`` and MCAP tools read.

    Parameters
    ----------
    path : path-like
        Bag directory to create.
    namespace : str
        Topic namespace (the driver's node namespace).
    camera_name : str
        TF frames ``<camera_name>_link`` and ``<camera_name>_color_optical_frame`` (the driver's defaults).
    overwrite : bool
        Replace an existing bag at ``path``.
    compression : {"zstd", "none"}

    Raises
    ------
    FileExistsError
        ``path`` exists.
    """

    def __init__(
        self,
        path: str | PathLike,
        namespace: str = "/camera",
        *,
        camera_name: str = "camera",
        overwrite: bool = False,
        compression: str = "zstd",
    ) -> None:
        self.bag = BagWriter(path, overwrite=overwrite, compression=compression)
        self.path = self.bag.path
        self.namespace = namespace
        self.base_frame = f"{camera_name}_link"
        self.optical_frame = f"{camera_name}_color_optical_frame"
        self._n = 0

    def _topic(self, relative: str) -> str:
        return topic_name(self.namespace, relative)

    def write(self, frame: RGBDFrame, stamp_ns: int | None = None) -> None:
        """Write one capture at ``stamp_ns`` (default: ``frame.stamp`` in ns)."""
        t = int(round(frame.stamp * _NS_PER_S)) if stamp_ns is None else int(stamp_ns)
        if self._n == 0:
            self._write_static_tf(t)
        info = camera_info_fields(frame.camera, t, self.optical_frame)
        header = info["header"]
        # camera_info before the image, as the driver publishes them: a synchroniser then sees complete sets
        self.bag.write(self._topic(COLOR_INFO), "sensor_msgs/msg/CameraInfo", info, t, QOS_SENSOR_DATA)
        if frame.depth_mm is not None:
            self.bag.write(self._topic(DEPTH_INFO), "sensor_msgs/msg/CameraInfo", info, t, QOS_SENSOR_DATA)
            depth = {"header": header, **encode_image(frame.depth_mm, "16UC1")}
            self.bag.write(self._topic(DEPTH_IMAGE), "sensor_msgs/msg/Image", depth, t, QOS_SENSOR_DATA)
        color = {"header": header, **encode_image(frame.color, "rgb8")}
        self.bag.write(self._topic(COLOR_IMAGE), "sensor_msgs/msg/Image", color, t, QOS_SENSOR_DATA)
        self._n += 1

    def _write_static_tf(self, stamp_ns: int) -> None:
        x, y, z, w = OPTICAL_IN_BODY_XYZW
        tf = {
            "header": _header(stamp_ns, self.base_frame),
            "child_frame_id": self.optical_frame,
            "transform": {"translation": {"x": 0.0, "y": 0.0, "z": 0.0}, "rotation": {"x": x, "y": y, "z": z, "w": w}},
        }
        self.bag.write(TF_STATIC, "tf2_msgs/msg/TFMessage", {"transforms": [tf]}, stamp_ns, QOS_STATIC)

    def __len__(self) -> int:
        return self._n

    def close(self) -> None:
        self.bag.close()

    def __enter__(self) -> RGBDBagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
