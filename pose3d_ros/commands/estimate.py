"""``pose3d-ros estimate``: images / a directory of images / a video / an RGB-D recording -> 3D skeletons as JSON
lines (+ rendering).

One JSON object per frame::

    {"frame": i, "stamp": t, "skeletons": [{"id": n, "confidence": c, "action": "", "action_confidence": 0.0,
      "joints": {"<joint_name>": [x, y, z], ...}, "pixels": {"<joint_name>": [u, v, conf], ...},
      "measured": {"<joint_name>": true|false, ...}}]}

``joints`` are metres in the camera optical frame (x right, y down, z forward), joint names and order as in
``msg/Skeleton3D.msg`` (pose3d16). Without ``--camera-info`` the intrinsics are
:meth:`pose3d_ros.core.camera.PinholeCamera.default` (Kinect v1 colour camera, fx = fy = 525 px at 640 px width,
scaled with the image width; principal point at the centre), and the metric scale comes from the prior's body
size. ``--depth DIR`` gives registered depth images (16-bit PNG in mm, or ``.npy`` in metres), one per frame in
name order: measured joints then carry metric depth.

A rosbag2 bag (a directory with ``metadata.yaml`` or a ``.mcap`` file; ours from ``pose3d-ros record`` or
``ros2 bag record`` of another camera) or a ``record --format dir`` directory is read through
:class:`pose3d_ros.sources.playback.PlaybackSource`: its registered depth and camera info are used (``--depth`` /
``--camera-info`` override them), stamps are the recorded ones, and ``--color-topic`` / ``--depth-topic`` /
``--info-topic`` pick a bag's topics where the automatic choice does not.

``--render out.mp4`` (or a directory, one PNG per frame) draws the 2D overlay next to a 3D plot of the skeletons.

Example (real footage shipped with the package)::

    pose3d-ros estimate --input pose3d_ros/resources/footage/vtest_640x480.mp4 --output out/vtest.jsonl \\
        --render out/vtest_render.mp4
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pose3d_ros.core.camera import PinholeCamera

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", type=Path, required=True, help="image file, directory of images, or video file")
    parser.add_argument("--output", type=Path, required=True, help="JSONL to write ('-' = stdout)")
    parser.add_argument("--depth", type=Path, default=None, help="directory of registered depth images (png mm/npy m)")
    parser.add_argument("--camera-info", type=Path, default=None, help="ROS camera calibration YAML of the images")
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        help="write 2D overlay + 3D plot: a video (.mp4/.avi) or a directory (one PNG per frame)",
    )
    parser.add_argument("--model", default=None, help="2D model name (models.json) or .onnx path (default model)")
    parser.add_argument(
        "--detector",
        default=None,
        help="bottom-up model that finds people for a top-down --model (default from the config)",
    )
    parser.add_argument(
        "--input-size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        default=None,
        help="fixed input size of the bottom-up network (multiples of 8; default: from "
        "--input-pixels and the frame's aspect ratio)",
    )
    parser.add_argument(
        "--input-pixels",
        type=int,
        default=None,
        help="pixel budget of the bottom-up network input (its shape follows the frame)",
    )
    parser.add_argument("--stages", type=int, default=None, help="number of 3D-prior refinement stages")
    parser.add_argument("--backend", default="onnxruntime", help="onnxruntime | cuda | tensorrt")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the CNN")
    parser.add_argument("--fps", type=float, default=10.0, help="frame rate for stamps of image sequences")
    parser.add_argument(
        "--tracking",
        choices=("auto", "on", "off"),
        default="auto",
        help="persistent ids + smoothing (auto: on for videos and directories, off for one image)",
    )
    parser.add_argument(
        "--roi-tracking",
        action="store_true",
        help="with tracking, run the CNN on the region around tracked people (faster, the live "
        "node's default; offline default: full frames, which finds new/small people sooner)",
    )
    parser.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = all)")
    parser.add_argument("--config", type=Path, default=None, help="YAML with a 'pipeline' section")
    parser.add_argument("--color-topic", default=None, help="bag input: colour image topic (default: chosen by name)")
    parser.add_argument("--depth-topic", default=None, help="bag input: registered depth topic")
    parser.add_argument("--info-topic", default=None, help="bag input: colour camera_info topic")


#: one input frame: index, stamp (s), RGB, name, depth in metres (recordings) or None, camera (recordings) or None
FrameItem = tuple[int, float, np.ndarray, str, "np.ndarray | None", "PinholeCamera | None"]


def _is_recording(path: Path) -> bool:
    """A rosbag2 bag or a ``record --format dir`` directory (colour + depth + camera), read through sources/."""
    from pose3d_ros.bags import is_bag_path

    return is_bag_path(path) or (path.is_dir() and (path / "color").is_dir() and (path / "stamps.txt").is_file())


def _iter_recording(path: Path, topics: dict) -> Iterator[FrameItem]:
    """Frames of a bag / recording directory with their depth and camera; raises SourceError when unreadable."""
    from pose3d_ros.sources import EndOfStream
    from pose3d_ros.sources.playback import PlaybackSource

    with PlaybackSource(path, rate=0, loop=False, stamps="recorded", **topics) as src:
        while True:
            try:
                f = src.get_frame()
            except EndOfStream:
                return
            yield f.index, f.stamp, f.color, f"{path.name}#{f.index}", f.depth_m, f.camera


def _iter_frames(path: Path, fps: float, topics: dict | None = None) -> Iterator[FrameItem]:
    """Yield :data:`FrameItem`; raises ValueError (SourceError for recordings) for unusable inputs."""
    import cv2

    if _is_recording(path):
        yield from _iter_recording(path, topics or {})
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)})")
        for i, f in enumerate(files):
            bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError(f"{f}: unreadable image")
            yield i, i / fps, np.ascontiguousarray(bgr[..., ::-1]), f.name, None, None
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{path}: unreadable image")
        yield 0, 0.0, np.ascontiguousarray(bgr[..., ::-1]), path.name, None, None
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise ValueError(f"{path}: cannot open video")
        rate = cap.get(cv2.CAP_PROP_FPS) or fps
        rate = rate if np.isfinite(rate) and rate > 0 else fps
        i = 0
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                yield i, i / rate, np.ascontiguousarray(bgr[..., ::-1]), f"{path.name}#{i}", None, None
                i += 1
        finally:
            cap.release()
        if i == 0:
            raise ValueError(f"{path}: no frames could be decoded")
    else:
        raise ValueError(
            f"{path}: not an image ({', '.join(IMAGE_SUFFIXES)}), a video "
            f"({', '.join(VIDEO_SUFFIXES)}), a bag (.mcap or a directory) or a directory"
        )


def skeleton_json(person) -> dict:
    """One ``PersonResult`` as the JSONL skeleton object (finite numbers only)."""
    from pose3d_ros.core.skeleton import JOINT_NAMES

    def r(v: float, nd: int) -> float:
        return round(float(v), nd)

    return {
        "id": int(person.id),
        "confidence": r(person.score, 4),
        "action": person.action,
        "action_confidence": r(person.action_confidence, 4),
        "joints": {n: [r(v, 4) for v in person.joints[j]] for j, n in enumerate(JOINT_NAMES)},
        "pixels": {
            n: [r(person.pixels[j, 0], 2), r(person.pixels[j, 1], 2), r(person.confidence[j], 4)]
            for j, n in enumerate(JOINT_NAMES)
            if np.isfinite(person.pixels[j]).all()
        },
        "measured": {n: bool(person.measured[j]) for j, n in enumerate(JOINT_NAMES)},
    }


class _Renderer:
    """Writes composed frames to a video file or a directory of PNGs."""

    def __init__(self, target: Path, fps: float) -> None:
        self.target, self.fps, self.writer = target, fps, None
        self.is_video = target.suffix.lower() in VIDEO_SUFFIXES
        if not self.is_video:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)

    def write(self, index: int, rgb: np.ndarray) -> None:
        import cv2

        bgr = np.ascontiguousarray(rgb[..., ::-1])
        if not self.is_video:
            cv2.imwrite(str(self.target / f"frame_{index:06d}.png"), bgr)
            return
        if self.writer is None:
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.target.suffix.lower() == ".avi" else "mp4v"))
            self.writer = cv2.VideoWriter(str(self.target), fourcc, self.fps, (bgr.shape[1], bgr.shape[0]))
            if not self.writer.isOpened():
                raise ValueError(f"{self.target}: cannot open a video writer (try .avi or a directory)")
        self.writer.write(bgr)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


def run(args: argparse.Namespace) -> int:
    from pose3d_ros.commands.lift import _depth_files, _read_depth
    from pose3d_ros.core.camera import PinholeCamera, load_camera_yaml
    from pose3d_ros.pipeline import Frame, PipelineConfig, Pose3DPipeline
    from pose3d_ros.render import compose_frame
    from pose3d_ros.sources.base import SourceError

    try:
        if not args.input.exists():
            raise ValueError(f"{args.input}: no such file or directory")
        section = {}
        if args.config is not None:
            section = PipelineConfig.from_yaml(args.config).__dict__.copy()
        sequence = args.input.is_dir() or args.input.suffix.lower() in VIDEO_SUFFIXES or _is_recording(args.input)
        tracking = args.tracking == "on" or (args.tracking == "auto" and sequence)
        section.update(backend=args.backend, threads=args.threads, tracking=tracking)
        if tracking:  # offline: report people from their first frame on
            section["tracker"] = {"min_hits": 1, **dict(section.get("tracker") or {})}
        if args.config is None or args.roi_tracking:
            section["roi_tracking"] = bool(args.roi_tracking)
        if args.model:
            section["model"] = args.model
        if args.detector:
            section["detector"] = args.detector
        if args.input_size:
            section["input_size"] = tuple(args.input_size)
        if args.input_pixels is not None:
            section["input_pixels"] = int(args.input_pixels)
        if args.stages is not None:
            section["stages"] = {**dict(section.get("stages") or {}), "n_stages": args.stages}
        config = PipelineConfig.from_dict(section)
        depth_files = _depth_files(args.depth) if args.depth is not None else None
        camera_file = load_camera_yaml(args.camera_info) if args.camera_info is not None else None
        pipeline = Pose3DPipeline(config)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"estimate: {exc}", file=sys.stderr)
        return 2

    out = sys.stdout if str(args.output) == "-" else None
    if out is None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        out = args.output.open("w")
    renderer = _Renderer(args.render, args.fps) if args.render is not None else None
    n_frames = n_people = 0
    total_ms: list[float] = []
    t_wall = time.perf_counter()
    try:
        topics = {"color_topic": args.color_topic, "depth_topic": args.depth_topic, "info_topic": args.info_topic}
        for index, stamp, rgb, name, rec_depth, rec_cam in _iter_frames(args.input, args.fps, topics):
            if args.max_frames and index >= args.max_frames:
                break
            h, w = rgb.shape[:2]
            cam = camera_file or rec_cam or PinholeCamera.default(w, h)
            if (cam.width, cam.height) != (w, h):
                raise ValueError(f"camera info is {cam.width}x{cam.height} but {name} is {w}x{h}")
            depth = rec_depth
            if depth_files is not None:
                if index >= len(depth_files):
                    raise ValueError(f"{args.depth}: only {len(depth_files)} depth images for frame {index}")
                depth = _read_depth(depth_files[index])
            result = pipeline.process(Frame(rgb, depth, cam, stamp))
            total_ms.append(result.timings["total"])
            doc = {
                "frame": index,
                "stamp": round(stamp, 6),
                "source": name,
                "skeletons": [skeleton_json(p) for p in result.people],
            }
            out.write(json.dumps(doc) + "\n")
            n_frames += 1
            n_people += len(result.people)
            if renderer is not None:
                text = f"{name}  {result.timings['total']:.0f} ms  {len(result.people)} people"
                renderer.write(index, compose_frame(rgb, result.people, text))
    except (ValueError, SourceError) as exc:  # SourceError: a corrupt / truncated bag, missing topics
        print(f"estimate: {exc}", file=sys.stderr)
        return 2
    finally:
        if out is not sys.stdout:
            out.close()
        if renderer is not None:
            renderer.close()
        pipeline.close()
    wall = time.perf_counter() - t_wall
    med = float(np.median(total_ms)) if total_ms else float("nan")
    print(
        f"estimate: {n_frames} frames, {n_people} skeletons, median {med:.1f} ms/frame (pipeline), "
        f"{n_frames / max(wall, 1e-9):.1f} frames/s overall ({pipeline.backend_name}) -> {args.output}",
        file=sys.stderr,
    )
    return 0
