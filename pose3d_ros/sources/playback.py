"""Playback of rosbag2 bags, recorded RGB-D directories, video files and still images; and the writer for such
directories (bags are written by :class:`pose3d_ros.bags.rgbd.RGBDBagWriter`).

A rosbag2 bag (a directory with ``metadata.yaml``, or a ``.mcap`` / ``.db3`` file; ours, or ``ros2 bag record`` of
another camera) plays through :class:`pose3d_ros.bags.reader.BagFrameReader`: colour, the nearest registered depth
and camera info, topics chosen by type and name (:mod:`pose3d_ros.bags.topics`) or given explicitly.

Recording directory layout (written by ``pose3d-ros record --format dir`` / :class:`RecordingWriter`)::

    camera_info.yaml        ROS calibration YAML of the colour camera (depth is registered to it)
    stamps.txt              one acquisition time (seconds) per frame
    color/000000.png ...    8-bit RGB frames (stored as PNG in OpenCV's BGR order, read back as RGB)
    depth/000000.png ...    16-bit depth in millimetres (0 = none); optional

A video file (``.avi``, ``.mp4``, ...) or an image (``.png``, ``.jpg``) plays as RGB only, with
:meth:`PinholeCamera.default` intrinsics unless a ``camera_info`` YAML is given.

``RGBDFrame.stamp`` is the wall-clock time of delivery by default (``stamps="wall"``: a live stream for the
driver), or the recording's own time (``stamps="recorded"``: a bag's header stamps, ``stamps.txt``; a video's frame
``i`` at ``open time + i / fps``), which ``pose3d-ros record`` stores. ``source_stamp`` always holds the recorded one.
"""

from __future__ import annotations

import time
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pose3d_ros.core.camera import PinholeCamera, load_camera_yaml, save_camera_yaml

from .base import DeviceUnavailable, EndOfStream, RGBDFrame, Source, SourceError

if TYPE_CHECKING:
    from pose3d_ros.bags.reader import BagFrame

__all__ = ["PlaybackSource", "RecordingWriter", "IMAGE_SUFFIXES", "VIDEO_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg")
#: playback rate of sources without recorded stamps (video without fps, still image), frames per second
DEFAULT_RATE_HZ = 30.0
STAMP_MODES = ("wall", "recorded")


class PlaybackSource(Source):
    """Replay a recording directory, a video or an image.

    Parameters
    ----------
    path : path-like
        rosbag2 bag (directory or ``.mcap`` / ``.db3`` file), recording directory, video file or image file.
    rate : float or None
        Frames per second; ``None`` plays in real time (a bag: its recorded stamps; stamps.txt / video fps), 0 as
        fast as possible.
    loop : bool
        Start again at the end instead of raising :class:`EndOfStream`.
    camera_info : path-like, optional
        Calibration YAML overriding the recording's (or the default intrinsics of a video).
    use_depth : bool
        Deliver the recorded depth (when present).
    stamps : {"wall", "recorded"}
        What ``RGBDFrame.stamp`` holds (see the module docstring).
    color_topic, depth_topic, info_topic : str, optional
        Bags: topics to read instead of the automatic choice.
    sync_tolerance : float
        Bags: largest colour-depth stamp difference that pairs them, seconds.
    """

    name = "playback"

    def __init__(
        self,
        path: str | PathLike,
        rate: float | None = None,
        loop: bool = True,
        camera_info: str | PathLike | None = None,
        use_depth: bool = True,
        stamps: str = "wall",
        color_topic: str | None = None,
        depth_topic: str | None = None,
        info_topic: str | None = None,
        sync_tolerance: float = 0.05,
    ) -> None:
        super().__init__()
        if rate is not None and (not np.isfinite(rate) or rate < 0):
            raise ValueError(f"playback rate must be >= 0 frames/s or None, got {rate}")
        if stamps not in STAMP_MODES:
            raise ValueError(f"playback stamps must be one of {STAMP_MODES}, got {stamps!r}")
        self.path = Path(path)
        self.rate = rate
        self.loop = loop
        self.camera_info_path = Path(camera_info) if camera_info else None
        self.use_depth = use_depth
        self.stamps = stamps
        self.bag_options = {
            "color_topic": color_topic,
            "depth_topic": depth_topic,
            "info_topic": info_topic,
            "sync_tolerance": sync_tolerance,
        }
        self._kind = ""
        self._bag = None  # BagFrameReader while a bag is open
        self._bag_frames = None  # its frame iterator
        self._bag_next = None  # the frame read ahead at open (fails early on a broken bag)
        self._bag_shape = (0, 0)  # its (H, W) and camera (None: no camera info): the source's calibration
        self._bag_camera: PinholeCamera | None = None
        self._prev_stamp: float | None = None
        self._loop_offset = 0.0
        self._t_open = 0.0
        self._color_files: list[Path] = []
        self._depth_files: list[Path | None] = []
        self._stamps: np.ndarray = np.zeros(0)
        self._cap: cv2.VideoCapture | None = None
        self._image: np.ndarray | None = None
        self._pos = 0
        self._next_due = 0.0
        self._fps = DEFAULT_RATE_HZ

    def _open(self) -> None:
        p = self.path
        if not p.exists():
            raise DeviceUnavailable(f"playback path {str(p)!r} does not exist")
        self._t_open = time.time()
        self._prev_stamp, self._loop_offset = None, 0.0
        from pose3d_ros.bags import is_bag_path  # rosbags itself loads only for bags

        if is_bag_path(p):
            self._open_bag()
        elif p.is_dir():
            self._kind = "dir"
            self._color_files = sorted((p / "color").glob("*.png")) + sorted((p / "color").glob("*.jpg"))
            if not self._color_files:
                raise DeviceUnavailable(f"recording {str(p)!r} has no color/*.png frames")
            depth_dir = p / "depth"
            self._depth_files = [
                (depth_dir / (f.stem + ".png")) if (depth_dir / (f.stem + ".png")).is_file() else None
                for f in self._color_files
            ]
            stamps_file = p / "stamps.txt"
            if stamps_file.is_file():
                st = np.loadtxt(stamps_file, dtype=np.float64, ndmin=1)
                if st.shape[0] != len(self._color_files) or not np.all(np.isfinite(st)):
                    raise SourceError(
                        f"{stamps_file} has {st.shape[0]} stamps for {len(self._color_files)} frames (or non-finite)"
                    )
                self._stamps = st
                dt = np.diff(st)
                if dt.size and np.median(dt) > 0:
                    self._fps = float(1.0 / np.median(dt))
            else:
                self._stamps = np.arange(len(self._color_files)) / DEFAULT_RATE_HZ
            self.has_depth = self.use_depth and any(d is not None for d in self._depth_files)
        elif p.suffix.lower() in IMAGE_SUFFIXES:
            self._kind = "image"
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                raise DeviceUnavailable(f"cannot read image {str(p)!r}")
            self._image = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            self.has_depth = False
        else:
            self._kind = "video"
            self._cap = cv2.VideoCapture(str(p))
            if not self._cap.isOpened():
                raise DeviceUnavailable(f"cannot open video {str(p)!r} (unsupported format or codec?)")
            fps = self._cap.get(cv2.CAP_PROP_FPS)
            self._fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else DEFAULT_RATE_HZ
            self.has_depth = False
        self._pos = 0
        self._next_due = 0.0

    def _open_bag(self) -> None:
        from pose3d_ros.bags.reader import BagFrameReader

        self._kind = "bag"
        self._bag = BagFrameReader(self.path, use_depth=self.use_depth, **self.bag_options)
        self._bag.open()
        try:
            self._bag_frames = self._bag.frames()
            self._bag_next = next(self._bag_frames, None)
        except SourceError:
            self._bag.close()
            raise
        if self._bag_next is None:
            self._bag.close()
            raise DeviceUnavailable(f"bag {str(self.path)!r} has no images on {self._bag.topics.color}")
        self._bag_shape, self._bag_camera = self._bag_next.color.shape[:2], self._bag_next.camera
        n, span = len(self._bag), self._bag.duration_s
        self._fps = (n - 1) / span if n > 1 and span > 0 else DEFAULT_RATE_HZ
        self.has_depth = self.use_depth and self._bag.topics.depth is not None

    def _close(self) -> None:
        if self._bag is not None:
            self._bag.close()
            self._bag = self._bag_frames = self._bag_next = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._image = None

    def __len__(self) -> int:
        if self._kind == "bag" and self._bag is not None:
            return len(self._bag)
        if self._kind == "dir":
            return len(self._color_files)
        if self._kind == "video" and self._cap is not None:
            return int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        return 1

    @property
    def fps(self) -> float:
        """Recorded frame rate (frames per second)."""
        return self._fps

    def _calibration(self) -> PinholeCamera:
        if self.camera_info_path is not None:
            return load_camera_yaml(self.camera_info_path)
        if self._kind == "dir" and (self.path / "camera_info.yaml").is_file():
            return load_camera_yaml(self.path / "camera_info.yaml")
        if self._kind == "bag" and self._bag_camera is not None:
            return self._bag_camera
        h, w = self._peek_shape()
        return PinholeCamera.default(w, h)

    def _peek_shape(self) -> tuple[int, int]:
        if self._kind == "bag":
            return self._bag_shape
        if self._kind == "image" and self._image is not None:
            return self._image.shape[:2]
        if self._kind == "video" and self._cap is not None:
            return int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        img = cv2.imread(str(self._color_files[0]), cv2.IMREAD_COLOR)
        return img.shape[:2]

    def _pace(self, gap: float | None = None) -> None:
        """Wait until this frame is due; ``gap``: recorded time since the previous frame (real-time bag playback)."""
        rate = self._fps if self.rate is None else self.rate
        if rate <= 0:
            return
        # real time follows the recorded gaps; a pause in a recording longer than 1 s plays as 1 s
        step = min(max(gap, 0.0), 1.0) if (self.rate is None and gap is not None) else 1.0 / rate
        now = time.monotonic()
        if self._next_due == 0.0:
            self._next_due = now
            return
        self._next_due += step
        if now - self._next_due > 1.0:  # we fell far behind: resync
            self._next_due = now
        elif self._next_due > now:
            time.sleep(self._next_due - now)

    def _next_bag_frame(self) -> BagFrame:
        frame, self._bag_next = self._bag_next, None
        if frame is None:
            frame = next(self._bag_frames, None)
        if frame is None:
            if not self.loop:
                raise EndOfStream(f"end of bag {str(self.path)!r} ({len(self._bag)} images)")
            # stamps keep increasing over loops: one recording span plus a frame period later each time
            self._loop_offset += self._bag.duration_s + 1.0 / self._fps
            self._bag_frames = self._bag.frames()
            frame = next(self._bag_frames, None)
            if frame is None:
                raise SourceError(f"cannot rewind bag {str(self.path)!r}")
        return frame

    def _read(self, timeout: float) -> RGBDFrame:
        if self._kind == "bag":
            return self._read_bag()
        self._pace()
        depth = None
        if self._kind == "image":
            color = self._image.copy()
            src_stamp = self._pos / self._fps
        elif self._kind == "video":
            ok, bgr = self._cap.read()
            if not ok:
                if not self.loop:
                    raise EndOfStream(f"end of video {str(self.path)!r}")
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, bgr = self._cap.read()
                if not ok:
                    raise SourceError(f"cannot rewind video {str(self.path)!r}")
            color = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            src_stamp = self._pos / self._fps  # frames served so far: keeps increasing over loops
        else:
            if self._pos >= len(self._color_files):
                if not self.loop:
                    raise EndOfStream(f"end of recording {str(self.path)!r} ({len(self._color_files)} frames)")
                self._pos = 0
                self._loop_offset += float(self._stamps[-1] - self._stamps[0]) + 1.0 / self._fps
            i = self._pos
            bgr = cv2.imread(str(self._color_files[i]), cv2.IMREAD_COLOR)
            if bgr is None:
                raise SourceError(f"cannot read {self._color_files[i]}")
            color = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if self.has_depth and self._depth_files[i] is not None:
                depth = cv2.imread(str(self._depth_files[i]), cv2.IMREAD_ANYDEPTH)
                if depth is None or depth.dtype != np.uint16:
                    raise SourceError(f"{self._depth_files[i]} is not a 16-bit depth PNG")
            src_stamp = float(self._stamps[i])
        self._pos += 1
        if self.stamps == "wall":
            stamp = time.time()
        elif self._kind == "dir":
            stamp = src_stamp + self._loop_offset
        else:  # a video or an image has no absolute time: frame i at open time + i / fps
            stamp = self._t_open + src_stamp
        return RGBDFrame(
            color=color, depth_mm=depth, camera=self._camera_for(color), stamp=stamp, source_stamp=src_stamp
        )

    def _camera_for(self, color: np.ndarray, recorded: PinholeCamera | None = None) -> PinholeCamera:
        cam = recorded if (recorded is not None and self.camera_info_path is None) else self.camera
        if (cam.height, cam.width) != color.shape[:2]:
            cam = cam.scaled(color.shape[1] / cam.width, color.shape[0] / cam.height)
        return cam

    def _read_bag(self) -> RGBDFrame:
        bf = self._next_bag_frame()
        src_stamp = bf.stamp_ns / 1e9
        gap = None if self._prev_stamp is None or src_stamp < self._prev_stamp else src_stamp - self._prev_stamp
        self._prev_stamp = src_stamp
        self._pace(gap)
        self._pos += 1
        stamp = time.time() if self.stamps == "wall" else src_stamp + self._loop_offset
        depth = bf.depth_mm if self.has_depth else None
        return RGBDFrame(
            color=bf.color,
            depth_mm=depth,
            camera=self._camera_for(bf.color, bf.camera),
            stamp=stamp,
            source_stamp=src_stamp,
        )


class RecordingWriter:
    """Write :class:`RGBDFrame` captures into a directory that :class:`PlaybackSource` reads.

    Raises
    ------
    FileExistsError
        If ``path`` already holds a recording and ``overwrite`` is False.
    """

    def __init__(self, path: str | PathLike, overwrite: bool = False) -> None:
        self.path = Path(path)
        if (self.path / "stamps.txt").exists() and not overwrite:
            raise FileExistsError(f"{self.path} already holds a recording (pass overwrite=True / --overwrite)")
        (self.path / "color").mkdir(parents=True, exist_ok=True)
        self._stamps: list[float] = []
        self._camera: PinholeCamera | None = None
        self._depth_dir: Path | None = None
        self._stamps_fh = open(self.path / "stamps.txt", "w")  # noqa: SIM115 - closed in close()
        if overwrite:
            for f in list((self.path / "color").glob("*.png")) + list((self.path / "depth").glob("*.png")):
                f.unlink()

    def write(self, frame: RGBDFrame) -> None:
        i = len(self._stamps)
        if self._camera is None:
            self._camera = frame.camera
            save_camera_yaml(self.path / "camera_info.yaml", frame.camera, name="pose3d_recording")
        if not cv2.imwrite(str(self.path / "color" / f"{i:06d}.png"), cv2.cvtColor(frame.color, cv2.COLOR_RGB2BGR)):
            raise OSError(f"cannot write {self.path / 'color' / f'{i:06d}.png'}")
        if frame.depth_mm is not None:
            if self._depth_dir is None:
                self._depth_dir = self.path / "depth"
                self._depth_dir.mkdir(exist_ok=True)
            cv2.imwrite(str(self._depth_dir / f"{i:06d}.png"), frame.depth_mm)
        self._stamps.append(frame.stamp)
        # one line per frame, flushed, so an interrupted recording stays readable
        self._stamps_fh.write(f"{frame.stamp:.6f}\n")
        self._stamps_fh.flush()

    def __len__(self) -> int:
        return len(self._stamps)

    def close(self) -> None:
        if not self._stamps_fh.closed:
            self._stamps_fh.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
