"""Kinect v1 through libfreenect (Debian ``libfreenect-dev`` + PyPI ``freenect``), sync API.

Depth is requested as ``DEPTH_REGISTERED``: millimetres, registered to the 640x480 colour image by libfreenect.
Debian's ``fakenect`` replay library only implements raw 11-bit depth (it aborts on any other format), so when
``FAKENECT_PATH`` is set (or ``depth_mode="11bit"``) raw disparity is read and converted to millimetres with the
usual Kinect v1 fit (not registered: the replayed recording is assumed aligned).
"""

from __future__ import annotations

import os
import time

import numpy as np

from pose3d_ros.core.camera import PinholeCamera

from .base import DeviceUnavailable, RGBDFrame, Source, SourceError, SourceTimeout

__all__ = ["FreenectSource", "raw11_to_mm"]

#: Kinect v1 raw-disparity -> metres fit, d = A * tan(raw / B + C) (Magnenat, OpenKinect wiki); valid for raw < 2047
_RAW_A, _RAW_B, _RAW_C = 0.1236, 2842.5, 1.1863
#: raw 11-bit value meaning "no measurement"
RAW11_INVALID = 2047
_INSTALL_HINT = "install Debian libfreenect-dev and PyPI freenect (scripts/install_system_deps.sh)"


def raw11_to_mm(raw: np.ndarray) -> np.ndarray:
    """Kinect v1 raw 11-bit disparity (H, W) -> uint16 millimetres (0 where invalid or out of range)."""
    raw = np.asarray(raw)
    metres = _RAW_A * np.tan(raw.astype(np.float32) / np.float32(_RAW_B) + np.float32(_RAW_C))
    mm = np.rint(metres * 1000.0)
    valid = (raw < RAW11_INVALID) & (raw > 0) & np.isfinite(mm) & (mm > 0) & (mm < 65535)
    return np.where(valid, mm, 0).astype(np.uint16)


class FreenectSource(Source):
    """Kinect v1 colour (RGB, 640x480) + registered depth (mm) through ``freenect.sync_get_*``.

    Parameters
    ----------
    device_index : int
        libfreenect device number (>= 0).
    depth_mode : {"auto", "registered", "11bit"}
        ``auto`` = registered, except 11bit under fakenect (``FAKENECT_PATH`` set).
    camera : PinholeCamera, optional
        Calibrated intrinsics; default :meth:`PinholeCamera.default` (Kinect v1, fx = fy = 525).
    use_depth : bool
        Read depth at all.
    """

    name = "freenect"

    def __init__(
        self, device_index: int = 0, depth_mode: str = "auto", camera: PinholeCamera | None = None,
        use_depth: bool = True,
    ) -> None:
        super().__init__()
        if int(device_index) < 0:
            raise ValueError(f"device_index must be >= 0, got {device_index}")
        if depth_mode not in ("auto", "registered", "11bit"):
            raise ValueError(f"depth_mode must be 'auto', 'registered' or '11bit', got {depth_mode!r}")
        self.device_index = int(device_index)
        self.depth_mode = depth_mode
        self.use_depth = use_depth
        self.has_depth = use_depth
        self._camera_override = camera
        self._fn = None
        self._fmt = None

    def _open(self) -> None:
        try:
            import freenect  # noqa: PLC0415 - optional dependency
        except ImportError as exc:
            raise DeviceUnavailable(f"freenect backend unavailable ({exc}): {_INSTALL_HINT}") from None
        self._fn = freenect
        mode = self.depth_mode
        if mode == "auto":
            mode = "11bit" if os.environ.get("FAKENECT_PATH") else "registered"
        self._fmt = freenect.DEPTH_11BIT if mode == "11bit" else freenect.DEPTH_REGISTERED
        # the sync API returns None when no device answers (it also prints libusb errors on stderr)
        probe = freenect.sync_get_video(self.device_index, freenect.VIDEO_RGB)
        if probe is None:
            freenect.sync_stop()
            raise DeviceUnavailable(
                f"no Kinect v1 at libfreenect index {self.device_index}: check USB power/cable and permissions "
                "(udev rule for 045e:02ae), or use backend:=playback"
            )

    def _close(self) -> None:
        if self._fn is not None:
            self._fn.sync_stop()
        self._fn = None

    def _calibration(self) -> PinholeCamera:
        return self._camera_override or PinholeCamera.default(640, 480)

    def _read(self, timeout: float) -> RGBDFrame:
        fn = self._fn
        t0 = time.monotonic()
        video = fn.sync_get_video(self.device_index, fn.VIDEO_RGB)
        if video is None:
            raise DeviceUnavailable(f"Kinect v1 at index {self.device_index} stopped answering (unplugged?)")
        stamp = time.time()
        color = np.ascontiguousarray(video[0], dtype=np.uint8)
        depth = None
        if self.use_depth:
            dep = fn.sync_get_depth(self.device_index, self._fmt)
            if dep is None:
                raise DeviceUnavailable(f"Kinect v1 at index {self.device_index}: depth stream failed")
            raw = np.asarray(dep[0])
            depth = raw11_to_mm(raw) if self._fmt == fn.DEPTH_11BIT else raw.astype(np.uint16, copy=True)
        if time.monotonic() - t0 > max(timeout, 0.0) + 5.0:
            raise SourceTimeout(f"Kinect v1 frame took {time.monotonic() - t0:.1f} s (> timeout {timeout} s)")
        if color.shape != (480, 640, 3):
            raise SourceError(f"unexpected Kinect colour frame shape {color.shape}")
        return RGBDFrame(color=color, depth_mm=depth, camera=self.camera, stamp=stamp, source_stamp=float(video[1]))
