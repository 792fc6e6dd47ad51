"""Read RGB-D frames out of a rosbag2 bag (MCAP or SQLite, a bag directory or a single ``.mcap`` / ``.db3`` file).

Each colour image becomes one :class:`BagFrame` with the depth image nearest to it in header stamp (within
``sync_tolerance``) and the nearest camera info. Messages are read once, in log-time order, with a small buffer: a
colour image is paired once the depth (and info) stream has passed its stamp, or ``wait`` seconds of log time later
(a dropped depth frame), or at the end of the bag. Camera infos with lens distortion are honoured by undistorting
colour (bilinear) and depth (nearest) to the same K, so frames are always distortion-free pinhole images.

Every failure (missing or corrupt file, truncated bag, no colour topic, undecodable image) raises
:class:`~pose3d_ros.sources.base.SourceError`; :class:`~pose3d_ros.sources.base.DeviceUnavailable` (a subclass)
when the bag cannot be opened at all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.sources.base import DeviceUnavailable, SourceError

from .images import decode_color, decode_compressed_color, decode_compressed_depth, decode_depth
from .topics import BagTopics, choose_topics
from .typestore import typestore

__all__ = ["BagFrame", "BagFrameReader", "DEFAULT_SYNC_TOLERANCE_S"]

#: largest colour-depth stamp difference that still pairs them (half a frame at 15 fps)
DEFAULT_SYNC_TOLERANCE_S = 0.05
#: how long (log time) a colour image waits for its depth / info before it is delivered with what there is
DEFAULT_WAIT_S = 0.5
_NS = 1_000_000_000
_BUFFER = 64  # depth / info messages kept for pairing (2 s at 30 fps)


@dataclass
class BagFrame:
    """One colour image with its paired depth and intrinsics.

    Attributes
    ----------
    color : (H, W, 3) uint8 RGB
    depth_mm : (H, W) uint16 or None
        Registered depth in mm (0 = none); None when no depth was close enough in time, or none is read.
    camera : PinholeCamera or None
        From the nearest camera info (scaled to the image when the info is of another size); None without one.
    stamp_ns : int
        Header stamp of the colour image (its log time when the header stamp is zero).
    log_time_ns : int
        When the recorder received it.
    depth_dt_s : float
        Depth stamp minus colour stamp, seconds (NaN without depth).
    """

    color: np.ndarray
    depth_mm: np.ndarray | None
    camera: PinholeCamera | None
    stamp_ns: int
    log_time_ns: int
    depth_dt_s: float = float("nan")


def _stamp_ns(msg: Any, log_time: int) -> int:
    st = msg.header.stamp
    ns = int(st.sec) * _NS + int(st.nanosec)
    return ns if ns > 0 else log_time


class _Undistorter:
    """Undistortion maps of one camera info, computed once; None where the info has no (supported) distortion."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._maps: tuple[np.ndarray, np.ndarray] | None = None

    def maps(self, info: Any) -> tuple[np.ndarray, np.ndarray] | None:
        d = np.asarray(info.d, dtype=np.float64)
        model = str(info.distortion_model).lower()
        if d.size == 0 or not np.any(d) or model not in ("plumb_bob", "rational_polynomial", "equidistant"):
            return None
        k = np.asarray(info.k, dtype=np.float64).reshape(3, 3)
        size = (int(info.width), int(info.height))
        key = (model, tuple(d), tuple(k.ravel()), size)
        if key != self._key:
            if model == "equidistant":
                self._maps = cv2.fisheye.initUndistortRectifyMap(k, d[:4], np.eye(3), k, size, cv2.CV_32FC1)
            else:
                self._maps = cv2.initUndistortRectifyMap(k, d, None, k, size, cv2.CV_32FC1)
            self._key = key
        return self._maps


class BagFrameReader:
    """RGB-D frames of a bag, paired by stamp.

    Parameters
    ----------
    path : path-like
        Bag directory, or a ``.mcap`` / ``.db3`` file.
    color_topic, depth_topic, info_topic : str, optional
        Override the automatic topic choice (:func:`pose3d_ros.bags.topics.choose_topics`).
    use_depth : bool
        Read depth (when the bag has it).
    sync_tolerance : float
        Seconds; a colour image further than this from every depth image comes without depth.
    rectify : bool
        Undistort images whose camera info has distortion coefficients.

    Raises
    ------
    ValueError
        Negative ``sync_tolerance``.
    """

    def __init__(
        self,
        path: str | PathLike,
        *,
        color_topic: str | None = None,
        depth_topic: str | None = None,
        info_topic: str | None = None,
        use_depth: bool = True,
        sync_tolerance: float = DEFAULT_SYNC_TOLERANCE_S,
        rectify: bool = True,
        wait: float = DEFAULT_WAIT_S,
    ) -> None:
        if not (sync_tolerance >= 0 and wait >= 0):
            raise ValueError(f"sync_tolerance and wait must be >= 0 s, got {sync_tolerance} / {wait}")
        self.path = Path(path)
        self._want = (color_topic, depth_topic, info_topic)
        self.use_depth = use_depth
        self.tolerance_ns = int(sync_tolerance * _NS)
        self.wait_ns = int(wait * _NS)
        self.rectify = rectify
        self.store = typestore()
        self.topics: BagTopics | None = None
        self._reader: Any = None
        self._conns: list[Any] = []  # the chosen topics' connections (a topic may have several)
        self._undistort = _Undistorter()

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def open(self) -> None:
        """Open the bag and choose its topics.

        Raises
        ------
        DeviceUnavailable
            Missing path, not a bag, corrupt or truncated file, no colour topic, explicit topic not in the bag.
        """
        from rosbags.rosbag2 import Reader

        if not self.path.exists():
            raise DeviceUnavailable(f"bag {str(self.path)!r} does not exist")
        try:
            reader = Reader(self.path)
            reader.open()
        except Exception as exc:  # noqa: BLE001 - rosbags raises many types (asserts too) on broken files
            raise DeviceUnavailable(f"cannot read bag {str(self.path)!r}: {exc or type(exc).__name__}") from exc
        try:
            types = {c.topic: c.msgtype for c in reader.connections}
            color, depth, info = self._want
            self.topics = choose_topics(types, color, depth, info, self.use_depth)
        except LookupError as exc:
            reader.close()
            raise DeviceUnavailable(f"bag {str(self.path)!r}: {exc}") from None
        self._reader = reader
        wanted = {self.topics.color, self.topics.depth, self.topics.color_info} - {None}
        self._conns = [c for c in reader.connections if c.topic in wanted]

    def close(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            try:
                reader.close()
            except Exception:  # noqa: BLE001 - closing a broken bag must not mask the error that got us here
                pass

    def __enter__(self) -> BagFrameReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- metadata ----------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of colour images."""
        return sum(int(c.msgcount) for c in self._conns if c.topic == self.topics.color) if self._reader else 0

    @property
    def duration_s(self) -> float:
        """Time between the first and the last message of the bag, seconds."""
        return max(self._reader.duration - 1, 0) / _NS if self._reader is not None else 0.0

    # -- frames ------------------------------------------------------------------------------------------------------
    def frames(self) -> Iterator[BagFrame]:
        """Colour frames in log-time order, with their paired depth and camera.

        Raises
        ------
        SourceError
            A corrupt message or chunk, an undecodable image, or depth not registered to colour.
        """
        if self._reader is None or self.topics is None:
            raise SourceError(f"bag {str(self.path)!r} is not open")
        t = self.topics
        need = [s for s in (t.depth, t.color_info) if s is not None]
        pending: deque[tuple[int, int, Any]] = deque()
        buffers: dict[str, deque[tuple[int, Any]]] = {s: deque(maxlen=_BUFFER) for s in need}
        latest = dict.fromkeys(need, -1)
        messages = self._reader.messages(connections=self._conns)
        while True:
            try:
                item = next(messages, None)
                if item is None:
                    break
                conn, log_time, raw = item
                msg = self.store.deserialize_cdr(raw, conn.msgtype)
                stamp = _stamp_ns(msg, log_time)
            except Exception as exc:  # noqa: BLE001 - a truncated chunk or a corrupt message, whatever raises
                raise SourceError(f"bag {str(self.path)!r} is corrupt: {exc or type(exc).__name__}") from exc
            if conn.topic == t.color:
                pending.append((stamp, log_time, msg))
            else:
                buffers[conn.topic].append((stamp, msg))
                latest[conn.topic] = max(latest[conn.topic], stamp)
            while pending and all(latest[s] >= pending[0][0] or log_time - pending[0][1] > self.wait_ns for s in need):
                yield self._frame(*pending.popleft(), buffers)
        while pending:
            yield self._frame(*pending.popleft(), buffers)

    @staticmethod
    def _nearest(buf: deque[tuple[int, Any]] | None, stamp: int) -> tuple[int, Any] | None:
        if not buf:
            return None
        return min(buf, key=lambda sm: abs(sm[0] - stamp))

    def _frame(self, stamp: int, log_time: int, msg: Any, buffers: dict[str, deque]) -> BagFrame:
        t = self.topics
        try:
            color = decode_compressed_color(msg) if hasattr(msg, "format") else decode_color(msg)
        except ValueError as exc:
            raise SourceError(f"bag {str(self.path)!r}, {t.color}: {exc}") from None
        h, w = color.shape[:2]
        depth, depth_dt = None, float("nan")
        near = self._nearest(buffers.get(t.depth), stamp) if t.depth else None
        if near is not None and abs(near[0] - stamp) <= self.tolerance_ns:
            try:
                dmsg = near[1]
                depth = decode_compressed_depth(dmsg) if hasattr(dmsg, "format") else decode_depth(dmsg)
            except ValueError as exc:
                raise SourceError(f"bag {str(self.path)!r}, {t.depth}: {exc}") from None
            if depth.shape != (h, w):
                raise SourceError(
                    f"bag {str(self.path)!r}: depth {t.depth} is {depth.shape[1]}x{depth.shape[0]} but colour "
                    f"{t.color} is {w}x{h}: not registered to colour (choose a registered depth topic, e.g. "
                    "aligned_depth_to_color / depth_to_rgb / depth_registered, or read colour only)"
                )
            depth_dt = (near[0] - stamp) / _NS
        camera = None
        info_near = self._nearest(buffers.get(t.color_info), stamp) if t.color_info else None
        if info_near is not None:
            info = info_near[1]
            camera = self._camera(info, w, h)
            maps = self._undistort.maps(info) if self.rectify and camera is not None else None
            if maps is not None and (int(info.width), int(info.height)) == (w, h):
                color = cv2.remap(color, maps[0], maps[1], cv2.INTER_LINEAR)
                if depth is not None:  # registered depth shares colour's lens; never blend depths across edges
                    depth = cv2.remap(depth, maps[0], maps[1], cv2.INTER_NEAREST)
        return BagFrame(color, depth, camera, stamp, log_time, depth_dt)

    @staticmethod
    def _camera(info: Any, w: int, h: int) -> PinholeCamera | None:
        iw, ih = int(info.width) or w, int(info.height) or h
        try:
            cam = PinholeCamera.from_K(np.asarray(info.k), iw, ih)
        except ValueError:  # an uncalibrated camera (K all zero): the caller falls back to default intrinsics
            return None
        return cam if (iw, ih) == (w, h) else cam.scaled(w / iw, h / ih)
