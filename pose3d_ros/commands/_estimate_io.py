"""``pose3d-ros estimate``'s inputs (images, a directory, a video, a recording) and its rendering output."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pose3d_ros.commands._offline import CommandError

if TYPE_CHECKING:
    from pose3d_ros.core.camera import PinholeCamera

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


@dataclass
class InputFrame:
    """One input frame; ``rgb`` is None (and ``error`` says why) for an image of a directory that cannot be read."""

    index: int
    stamp: float  #: seconds
    rgb: np.ndarray | None  #: (H, W, 3) uint8
    name: str
    depth: np.ndarray | None = None  #: metres, recordings only
    camera: PinholeCamera | None = None  #: recordings only
    error: str | None = None


def is_recording(path: Path) -> bool:
    """A rosbag2 bag or a ``record --format dir`` directory (colour + depth + camera), read through sources/."""
    from pose3d_ros.bags import is_bag_path

    return is_bag_path(path) or (path.is_dir() and (path / "color").is_dir() and (path / "stamps.txt").is_file())


def is_sequence(path: Path) -> bool:
    """More than one frame: a directory, a video or a recording."""
    return path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES or is_recording(path)


def _iter_recording(path: Path, topics: dict) -> Iterator[InputFrame]:
    """Frames of a bag / recording directory with their depth and camera; raises SourceError when unreadable."""
    from pose3d_ros.sources import EndOfStream
    from pose3d_ros.sources.playback import PlaybackSource

    with PlaybackSource(path, rate=0, loop=False, stamps="recorded", **topics) as src:
        while True:
            try:
                f = src.get_frame()
            except EndOfStream:
                return
            yield InputFrame(f.index, f.stamp, f.color, f"{path.name}#{f.index}", f.depth_m, f.camera)


def _read_image(path: Path) -> np.ndarray | None:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if bgr is None else np.ascontiguousarray(bgr[..., ::-1])


def iter_frames(path: Path, fps: float, topics: dict | None = None) -> Iterator[InputFrame]:
    """Yield the :class:`InputFrame` of ``path`` (``fps`` > 0 stamps image sequences).

    Raises
    ------
    CommandError
        For an input that gives no frame at all (an unreadable single image, an empty directory, a video that
        does not open, an unknown kind of file); an unreadable image inside a directory is a frame with ``error``.
    SourceError
        For a recording that cannot be read (a corrupt / truncated bag, missing topics).
    """
    import cv2

    if not fps > 0:
        raise CommandError("--fps", f"must be > 0, got {fps}")
    if is_recording(path):
        yield from _iter_recording(path, topics or {})
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise CommandError(path, f"no images ({', '.join(IMAGE_SUFFIXES)})")
        n_read = 0
        for i, f in enumerate(files):
            rgb = _read_image(f)
            n_read += rgb is not None
            yield InputFrame(i, i / fps, rgb, f.name, error=None if rgb is not None else f"{f}: unreadable image")
        if not n_read:
            raise CommandError(path, f"none of its {len(files)} images could be read")
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        rgb = _read_image(path)
        if rgb is None:
            raise CommandError(path, "unreadable image")
        yield InputFrame(0, 0.0, rgb, path.name)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise CommandError(path, "cannot open video")
        rate = cap.get(cv2.CAP_PROP_FPS) or fps
        rate = rate if np.isfinite(rate) and rate > 0 else fps
        i = 0
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                yield InputFrame(i, i / rate, np.ascontiguousarray(bgr[..., ::-1]), f"{path.name}#{i}")
                i += 1
        finally:
            cap.release()
        if i == 0:
            raise CommandError(path, "no frames could be decoded")
    else:
        raise CommandError(path, f"not an image ({', '.join(IMAGE_SUFFIXES)}), a video "
                                 f"({', '.join(VIDEO_SUFFIXES)}), a bag (.mcap or a directory) or a directory")


class Renderer:
    """Writes composed frames to a video file or a directory of PNGs; :class:`CommandError` when it cannot."""

    def __init__(self, target: Path, fps: float) -> None:
        self.target, self.fps, self.writer = target, fps, None
        self.is_video = target.suffix.lower() in VIDEO_SUFFIXES
        folder = target.parent if self.is_video else target
        if self.is_video and target.is_dir():
            raise CommandError(target, "is a directory; --render needs a video file name (.mp4, .avi) or a directory")
        if folder.exists() and not folder.is_dir():
            raise CommandError(target, "is a file; --render needs a video file name (.mp4, .avi) or a directory"
                               if folder == target else f"{folder} is a file, not a directory")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError.about(target, exc) from None

    def write(self, index: int, rgb: np.ndarray) -> None:
        import cv2

        bgr = np.ascontiguousarray(rgb[..., ::-1])
        if not self.is_video:
            if not cv2.imwrite(str(self.target / f"frame_{index:06d}.png"), bgr):
                raise CommandError(self.target / f"frame_{index:06d}.png", "cannot write the rendering")
            return
        if self.writer is None:
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.target.suffix.lower() == ".avi" else "mp4v"))
            self.writer = cv2.VideoWriter(str(self.target), fourcc, self.fps, (bgr.shape[1], bgr.shape[0]))
            if not self.writer.isOpened():
                raise CommandError(self.target, "cannot open a video writer (try .avi or a directory)")
        self.writer.write(bgr)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
