"""OpenNI2 and Azure Kinect backends: available only where their libraries import; a clear error otherwise."""

from __future__ import annotations

import time

import numpy as np

from pose3d_ros.core.camera import PinholeCamera

from .base import DeviceUnavailable, RGBDFrame, Source

__all__ = ["OpenNI2Source", "K4ASource"]


class OpenNI2Source(Source):
    """OpenNI2 device or ``.oni`` file (Debian ``libopenni2-0`` + PyPI ``openni``), depth registered to colour."""

    name = "openni2"
    has_depth = True

    def __init__(self, uri: str | None = None, camera: PinholeCamera | None = None) -> None:
        super().__init__()
        self.uri = uri
        self._camera_override = camera
        self._dev = self._color = self._depth = None

    def _open(self) -> None:
        try:
            from openni import openni2  # noqa: PLC0415
        except ImportError as exc:
            msg = f"openni2 backend unavailable ({exc}): install libopenni2-0 and PyPI openni"
            raise DeviceUnavailable(msg) from None
        try:
            openni2.initialize()
            self._dev = openni2.Device.open_file(self.uri.encode()) if self.uri else openni2.Device.open_any()
            self._dev.set_image_registration_mode(openni2.IMAGE_REGISTRATION_DEPTH_TO_COLOR)
            self._color = self._dev.create_color_stream()
            self._depth = self._dev.create_depth_stream()
            self._color.start()
            self._depth.start()
        except Exception as exc:  # noqa: BLE001 - the binding raises its own OpenNIError
            raise DeviceUnavailable(f"OpenNI2 device {self.uri or '(any)'} could not be opened: {exc}") from None

    def _close(self) -> None:
        for s in (self._color, self._depth):
            if s is not None:
                s.stop()
        if self._dev is not None:
            self._dev.close()
        self._dev = self._color = self._depth = None

    def _calibration(self) -> PinholeCamera:
        if self._camera_override is not None:
            return self._camera_override
        mode = self._color.get_video_mode()
        return PinholeCamera.default(mode.resolutionX, mode.resolutionY)

    def _read(self, timeout: float) -> RGBDFrame:
        cf = self._color.read_frame()
        df = self._depth.read_frame()
        color = np.frombuffer(cf.get_buffer_as_uint8(), np.uint8).reshape(cf.height, cf.width, 3).copy()
        depth = np.frombuffer(df.get_buffer_as_uint16(), np.uint16).reshape(df.height, df.width).copy()
        if depth.shape != color.shape[:2]:
            import cv2  # noqa: PLC0415

            depth = cv2.resize(depth, (color.shape[1], color.shape[0]), interpolation=cv2.INTER_NEAREST)
        return RGBDFrame(color=color, depth_mm=depth, camera=self.camera, stamp=time.time())


class K4ASource(Source):
    """Azure Kinect through PyPI ``pyk4a`` (depth transformed to the colour camera)."""

    name = "k4a"
    has_depth = True

    def __init__(self, device_id: int = 0) -> None:
        super().__init__()
        self.device_id = device_id
        self._k4a = None

    def _open(self) -> None:
        try:
            import pyk4a  # noqa: PLC0415
        except ImportError as exc:
            raise DeviceUnavailable(f"k4a backend unavailable ({exc}): install PyPI pyk4a (needs numpy<2)") from None
        try:
            self._k4a = pyk4a.PyK4A(device_id=self.device_id)
            self._k4a.start()
        except Exception as exc:  # noqa: BLE001 - K4AException and friends
            raise DeviceUnavailable(f"Azure Kinect {self.device_id} could not be opened: {exc}") from None

    def _close(self) -> None:
        if self._k4a is not None:
            self._k4a.stop()
        self._k4a = None

    def _calibration(self) -> PinholeCamera:
        import pyk4a  # noqa: PLC0415

        k = self._k4a.calibration.get_camera_matrix(pyk4a.CalibrationType.COLOR)
        cap = self._k4a.get_capture()
        h, w = cap.color.shape[:2]
        return PinholeCamera.from_K(np.asarray(k), w, h)

    def _read(self, timeout: float) -> RGBDFrame:
        cap = self._k4a.get_capture(timeout=int(timeout * 1000))
        color = np.ascontiguousarray(cap.color[..., 2::-1])  # BGRA -> RGB
        depth = cap.transformed_depth
        return RGBDFrame(color=color, depth_mm=None if depth is None else depth.astype(np.uint16), camera=self.camera,
                         stamp=time.time())
