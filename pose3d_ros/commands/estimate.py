"""``pose3d-ros estimate``: images / a directory of images / a video / an RGB-D recording -> 3D skeletons as JSON
lines (+ rendering).

One JSON object per input frame, in order::

    {"frame": i, "stamp": t, "source": "<file>[#i]", "skeletons": [{"id": n, "confidence": c, "action": "",
      "action_confidence": 0.0, "joints": {"<joint_name>": [x, y, z], ...},
      "pixels": {"<joint_name>": [u, v, conf], ...}, "measured": {"<joint_name>": true|false, ...}}]}

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

Output rule: every written joint is finite and in front of the camera (``z > 0``), never NaN or absurd (see
:mod:`pose3d_ros.commands._offline`); a skeleton that breaks it is left out and counted in ``"dropped"``. A frame
that fails still gets its line, ``{"frame": i, "stamp": t, "source": ..., "skeletons": [], "error": "..."}``, and a
warning on stderr: an unreadable image of a directory is skipped that way (the run goes on), as is a frame the
pipeline refuses or an unreadable depth image.

Refusals: a missing or unreadable input, ``--config`` that is not valid YAML or whose ``pipeline`` section is not
a mapping of known settings, a camera info or ``--depth`` image of another size than the frames, too few depth
images, or an ``--output`` that is a directory (its missing parent directories are made) print one line
``pose3d-ros estimate: <file>: <problem>`` on stderr and exit with status 2, as does a run in which no frame could
be processed. argparse refuses ``--fps`` <= 0 and negative ``--max-frames`` (status 2).

Example (real footage shipped with the package)::

    pose3d-ros estimate --input pose3d_ros/resources/footage/vtest_640x480.mp4 --output out/vtest.jsonl \\
        --render out/vtest_render.mp4
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pose3d_ros.commands._estimate_io import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    InputFrame,
    Renderer,
    is_sequence,
    iter_frames,
)
from pose3d_ros.commands._offline import (
    JOINT_DECIMALS,
    CommandError,
    Warnings,
    check_depth_size,
    check_output,
    depth_files,
    describe,
    fail,
    non_negative_int,
    number,
    open_output,
    pose_problem,
    positive_float,
    positive_int,
    read_depth,
)
from pose3d_ros.inference.factory import DEPRECATED_DEVICES, DEVICES

if TYPE_CHECKING:
    from pose3d_ros.core.camera import PinholeCamera
    from pose3d_ros.pipeline import PersonResult
    from pose3d_ros.pipeline_config import PipelineConfig

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "add_arguments", "run", "skeleton_json"]

COMMAND = "estimate"


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
        type=positive_int,
        nargs=2,
        metavar=("H", "W"),
        default=None,
        help="fixed input size of the bottom-up network (multiples of 8; default: from "
        "--input-pixels and the frame's aspect ratio)",
    )
    parser.add_argument(
        "--input-pixels",
        type=positive_int,
        default=None,
        help="pixel budget of the bottom-up network input (its shape follows the frame)",
    )
    parser.add_argument("--stages", type=non_negative_int, default=None, help="number of 3D-prior refinement stages")
    parser.add_argument(
        "--backend",
        choices=(*DEVICES, *DEPRECATED_DEVICES),
        default="cpu",
        help="inference device (GPU ones fall back to CPU; onnxruntime: deprecated name of cpu)",
    )
    parser.add_argument("--threads", type=positive_int, default=2, help="CPU threads for the CNN")
    parser.add_argument("--fps", type=positive_float, default=10.0, help="frame rate for stamps of image sequences")
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
    parser.add_argument("--max-frames", type=non_negative_int, default=0, help="stop after this many frames (0 = all)")
    parser.add_argument("--config", type=Path, default=None, help="YAML with a 'pipeline' section")
    parser.add_argument("--color-topic", default=None, help="bag input: colour image topic (default: chosen by name)")
    parser.add_argument("--depth-topic", default=None, help="bag input: registered depth topic")
    parser.add_argument("--info-topic", default=None, help="bag input: colour camera_info topic")


def skeleton_json(person: PersonResult) -> dict:
    """One ``PersonResult`` as the JSONL skeleton object (finite numbers only: check the joints with
    :func:`~pose3d_ros.commands._offline.pose_problem` first)."""
    from pose3d_ros.core.skeleton import JOINT_NAMES

    r = number
    return {
        "id": int(person.id),
        "confidence": r(person.score, 4),
        "action": person.action,
        "action_confidence": r(person.action_confidence, 4),
        "joints": {n: [r(v, JOINT_DECIMALS) for v in person.joints[j]] for j, n in enumerate(JOINT_NAMES)},
        "pixels": {
            n: [r(person.pixels[j, 0], 2), r(person.pixels[j, 1], 2), r(person.confidence[j], 4)]
            for j, n in enumerate(JOINT_NAMES)
            if np.isfinite(person.pixels[j]).all()
        },
        "measured": {n: bool(person.measured[j]) for j, n in enumerate(JOINT_NAMES)},
    }


def _pipeline_config(args: argparse.Namespace) -> PipelineConfig:
    """The pipeline settings: ``--config``'s ``pipeline`` section, then the options; :class:`CommandError`.

    Deprecated settings (``backend: onnxruntime``) are reported on stderr: Python hides a library's
    ``DeprecationWarning`` by default.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        config = _settings(args)
    warn = Warnings(COMMAND)
    for w in caught:
        if issubclass(w.category, DeprecationWarning):
            warn(str(w.message))
        else:  # not ours to report: as if never caught
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return config


def _settings(args: argparse.Namespace) -> PipelineConfig:
    """:func:`_pipeline_config` without the warnings."""
    from pose3d_ros.pipeline_config import PipelineConfig

    section: dict = {}
    if args.config is not None:
        try:
            section = PipelineConfig.from_yaml(args.config).__dict__.copy()
        except (OSError, ValueError, TypeError) as exc:  # TypeError: a setting of the wrong kind
            raise CommandError.about(args.config, exc) from None
    tracking = args.tracking == "on" or (args.tracking == "auto" and is_sequence(args.input))
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
    try:
        return PipelineConfig.from_dict(section)
    except (ValueError, TypeError) as exc:
        raise CommandError(args.config, describe(exc, args.config)) from None


def _setup(args: argparse.Namespace) -> tuple[PipelineConfig, list[Path] | None, PinholeCamera | None]:
    """Config, depth files and camera file of a run (checked), or a :class:`CommandError`."""
    from pose3d_ros.core.camera import load_camera_yaml

    if not args.input.exists():
        raise CommandError(args.input, "no such file or directory")
    check_output(args.output, make_parents=True, inputs=(args.input,))
    config = _pipeline_config(args)
    depths = depth_files(args.depth) if args.depth is not None else None
    camera = None
    if args.camera_info is not None:
        try:
            camera = load_camera_yaml(args.camera_info)
        except (OSError, ValueError) as exc:
            raise CommandError.about(args.camera_info, exc) from None
    return config, depths, camera


def _frame_depth(args: argparse.Namespace, item: InputFrame, depths: list[Path] | None, w: int,
                 h: int) -> np.ndarray | None:
    """The frame's depth (metres) or None; ValueError = this frame fails, CommandError = the run stops."""
    if depths is None:
        return item.depth
    if item.index >= len(depths):
        raise CommandError(args.depth, f"only {len(depths)} depth images for frame {item.index} ({item.name})")
    depth = read_depth(depths[item.index])
    check_depth_size(depth, w, h, depths[item.index], item.name)
    return depth


def run(args: argparse.Namespace) -> int:
    """Estimate every frame (see the module docstring); 0 on success, 2 on a refusal."""
    from pose3d_ros.sources.base import SourceError

    try:
        config, depths, camera_file = _setup(args)  # refusals come before the (slower) imports and model loading
        renderer = Renderer(args.render, args.fps) if args.render is not None else None
        from pose3d_ros.core.camera import PinholeCamera
        from pose3d_ros.pipeline import Frame, Pose3DPipeline
        from pose3d_ros.render import compose_frame

        pipeline = Pose3DPipeline(config)
    except CommandError as exc:
        return fail(COMMAND, exc)
    except (ValueError, TypeError, KeyError, OSError, RuntimeError) as exc:  # model / backend / settings
        settings = f" (settings from {args.config})" if args.config is not None else ""
        return fail(COMMAND, CommandError(None, describe(exc) + settings))

    warn = Warnings(COMMAND)
    out = None
    n_frames = n_people = n_failed = n_dropped = 0
    total_ms: list[float] = []
    t_wall = time.perf_counter()
    try:
        out = open_output(args.output)
        topics = {"color_topic": args.color_topic, "depth_topic": args.depth_topic, "info_topic": args.info_topic}
        for item in iter_frames(args.input, args.fps, topics):
            if args.max_frames and item.index >= args.max_frames:
                break
            record: dict = {"frame": item.index, "stamp": number(item.stamp, 6), "source": item.name,
                            "skeletons": []}
            result, people = None, []
            if item.rgb is not None:
                h, w = item.rgb.shape[:2]
                cam = camera_file or item.camera or PinholeCamera.default(w, h)
                if (cam.width, cam.height) != (w, h):
                    raise CommandError(args.camera_info if camera_file else args.input,
                                       f"camera info is {cam.width}x{cam.height} but {item.name} is {w}x{h}")
                try:
                    depth = _frame_depth(args, item, depths, w, h)
                    result = pipeline.process(Frame(item.rgb, depth, cam, item.stamp))
                except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:  # this frame only
                    item.error = describe(exc)
            if result is None:
                record["error"] = item.error or "no image"
                n_failed += 1
                warn(f"frame {item.index} ({item.name}): {record['error']} (skipped)")
            else:
                total_ms.append(result.timings["total"])
                for person in result.people:
                    if (problem := pose_problem(person.joints)) is None:
                        people.append(person)
                        continue
                    n_dropped += 1
                    record["dropped"] = record.get("dropped", 0) + 1
                    warn(f"frame {item.index} ({item.name}): skeleton {person.id} left out: {problem}")
                record["skeletons"] = [skeleton_json(p) for p in people]
                n_frames += 1
                n_people += len(people)
            out.write(json.dumps(record, allow_nan=False) + "\n")
            if renderer is not None and item.rgb is not None:
                text = (f"{item.name}  error" if result is None else
                        f"{item.name}  {result.timings['total']:.0f} ms  {len(record['skeletons'])} people")
                renderer.write(item.index, compose_frame(item.rgb, people, text))
    except CommandError as exc:
        return fail(COMMAND, exc)
    except SourceError as exc:  # a corrupt / truncated bag, missing topics
        return fail(COMMAND, CommandError.about(args.input, exc))
    except OSError as exc:  # writing the output (disk full, closed pipe)
        return fail(COMMAND, CommandError.about(args.output, exc))
    finally:
        if out is not None and out is not sys.stdout:
            out.close()
        if renderer is not None:
            renderer.close()
        pipeline.close()
    wall = time.perf_counter() - t_wall
    med = float(np.median(total_ms)) if total_ms else float("nan")
    notes = "".join([f", {n_failed} failed frames" if n_failed else "",
                     f", {n_dropped} skeletons left out (implausible 3D)" if n_dropped else ""])
    print(
        f"pose3d-ros {COMMAND}: {n_frames} frames, {n_people} skeletons{notes}, median {med:.1f} ms/frame "
        f"(pipeline), {n_frames / max(wall, 1e-9):.1f} frames/s overall ({pipeline.backend_name}) -> {args.output}",
        file=sys.stderr,
    )
    if n_failed and not n_frames:
        return fail(COMMAND, CommandError(args.input, "no frame could be processed"))
    return 0
