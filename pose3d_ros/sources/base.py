"""Common capture type and source interface for every camera backend (device or recording).

Modelled on pyk4a: ``open/close/start/stop``, a context manager, an ``opened`` property, cached calibration
(:attr:`Source.camera`), one capture type (:class:`RGBDFrame`) for devices and playback alike.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field

import numpy as np

from pose3d_ros.core.camera import PinholeCamera

__all__ = ["RGBDFrame", "Source", "SourceError", "DeviceUnavailable", "SourceTimeout", "EndOfStream"]


class SourceError(RuntimeError):
    """A camera source failed (base class)."""


class DeviceUnavailable(SourceError):
    """The device (or its driver library) is absent, unplugged or busy. The message says what to install or check."""


class SourceTimeout(SourceError):
    """No frame arrived within the requested time."""


class EndOfStream(SourceError):
    """A non-looping recording has no more frames."""


@dataclass
class RGBDFrame:
    """One capture: colour, optional registered depth, the camera that took it, and its acquisition time.

    Attributes
    ----------
    color : (H, W, 3) uint8
        RGB image.
    depth_mm : (H, W) uint16 or None
        Depth registered to ``color`` in millimetres (0 = no measurement), REP-118 16UC1.
    camera : PinholeCamera
        Intrinsics of ``color`` (and of the registered depth).
    stamp : float
        Acquisition time, seconds since the epoch (wall clock; ROS stamps use it).
    index : int
        Frame number since :meth:`Source.start`.
    source_stamp : float
        The stamp the recording carried (playback) or the device timestamp; informational.
    """

    color: np.ndarray
    depth_mm: np.ndarray | None
    camera: PinholeCamera
    stamp: float = field(default_factory=time.time)
    index: int = 0
    source_stamp: float = float("nan")

    def __post_init__(self) -> None:
        c = np.asarray(self.color)
        if c.ndim != 3 or c.shape[2] != 3 or c.dtype != np.uint8 or c.size == 0:
            raise ValueError(f"color must be (H, W, 3) uint8, got {c.dtype}{list(c.shape)}")
        if self.depth_mm is not None:
            d = np.asarray(self.depth_mm)
            if d.shape != c.shape[:2] or d.dtype != np.uint16:
                raise ValueError(
                    f"depth_mm must be {c.shape[:2]} uint16 (registered to color), got {d.dtype}{list(d.shape)}"
                )
        if (self.camera.height, self.camera.width) != c.shape[:2]:
            raise ValueError(
                f"camera is {self.camera.width}x{self.camera.height} but color is {c.shape[1]}x{c.shape[0]}"
            )

    @property
    def depth_m(self) -> np.ndarray | None:
        """(H, W) float32 metres with NaN where depth is missing, or None."""
        if self.depth_mm is None:
            return None
        d = self.depth_mm.astype(np.float32) * np.float32(1e-3)
        d[self.depth_mm == 0] = np.nan
        return d


class Source(abc.ABC):
    """A camera or recording delivering :class:`RGBDFrame` captures.

    Subclasses implement :meth:`_open`, :meth:`_close`, :meth:`_read` and :meth:`_calibration`. Usage::

        with create_source("playback", path="rec") as src:
            frame = src.get_frame(timeout=1.0)
    """

    #: backend name used by the driver's ``backend`` parameter
    name = "base"
    #: whether frames carry registered depth
    has_depth = False

    def __init__(self) -> None:
        self._opened = False
        self._started = False
        self._camera: PinholeCamera | None = None
        self._index = 0

    # -- lifecycle -------------------------------------------------------------------------------------------------
    @property
    def opened(self) -> bool:
        return self._opened

    @property
    def started(self) -> bool:
        return self._started

    def open(self) -> None:
        """Open the device / recording. Raises :class:`DeviceUnavailable` when it cannot be reached."""
        if not self._opened:
            self._open()
            self._opened = True

    def close(self) -> None:
        """Stop (if started) and release the device. Safe to call twice."""
        if self._started:
            self.stop()
        if self._opened:
            try:
                self._close()
            finally:
                self._opened = False
                self._camera = None

    def start(self) -> None:
        """Start streaming (opens first when needed)."""
        self.open()
        self._started = True
        self._index = 0

    def stop(self) -> None:
        self._started = False

    def __enter__(self) -> Source:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass

    # -- data ------------------------------------------------------------------------------------------------------
    @property
    def camera(self) -> PinholeCamera:
        """Intrinsics of the colour stream (cached after the first call)."""
        if not self._opened:
            raise SourceError(f"{self.name} source is not open")
        if self._camera is None:
            self._camera = self._calibration()
        return self._camera

    def get_frame(self, timeout: float = 1.0) -> RGBDFrame:
        """Next capture, waiting at most ``timeout`` seconds.

        Raises
        ------
        SourceError
            When not started; :class:`SourceTimeout`, :class:`EndOfStream`, :class:`DeviceUnavailable` as they occur.
        """
        if not self._started:
            raise SourceError(f"{self.name} source is not started (call start() or use it as a context manager)")
        frame = self._read(timeout)
        frame.index = self._index
        self._index += 1
        return frame

    @abc.abstractmethod
    def _open(self) -> None: ...

    @abc.abstractmethod
    def _close(self) -> None: ...

    @abc.abstractmethod
    def _read(self, timeout: float) -> RGBDFrame: ...

    @abc.abstractmethod
    def _calibration(self) -> PinholeCamera: ...
