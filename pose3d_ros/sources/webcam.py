"""Webcam / V4L2 / any OpenCV ``VideoCapture`` device, RGB only."""

from __future__ import annotations

import time

import cv2

from pose3d_ros.core.camera import PinholeCamera

from .base import DeviceUnavailable, RGBDFrame, Source, SourceTimeout

__all__ = ["WebcamSource"]


class WebcamSource(Source):
    """OpenCV capture device (index or URL/path), RGB only, default intrinsics unless ``camera`` is given."""

    name = "webcam"
    has_depth = False

    def __init__(self, device: int | str = 0, width: int = 640, height: int = 480, fps: float = 30.0,
                 camera: PinholeCamera | None = None) -> None:
        super().__init__()
        if width <= 0 or height <= 0 or fps <= 0:
            raise ValueError(f"width/height/fps must be > 0, got {width}/{height}/{fps}")
        self.device, self.width, self.height, self.fps = device, int(width), int(height), float(fps)
        self._camera_override = camera
        self._cap: cv2.VideoCapture | None = None

    def _open(self) -> None:
        cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            cap.release()
            raise DeviceUnavailable(f"cannot open OpenCV capture device {self.device!r} (is a camera connected?)")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        self._cap = cap

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _calibration(self) -> PinholeCamera:
        if self._camera_override is not None:
            return self._camera_override
        w = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)) or self.width
        h = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) or self.height
        return PinholeCamera.default(w, h)

    def _read(self, timeout: float) -> RGBDFrame:
        t0 = time.monotonic()
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise SourceTimeout(f"webcam {self.device!r} delivered no frame in {time.monotonic() - t0:.1f} s")
        color = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        cam = self.camera
        if (cam.height, cam.width) != color.shape[:2]:
            cam = PinholeCamera.default(color.shape[1], color.shape[0])
        return RGBDFrame(color=color, depth_mm=None, camera=cam, stamp=time.time())
