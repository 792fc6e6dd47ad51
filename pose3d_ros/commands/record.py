"""``pose3d-ros record``: capture colour + registered depth + camera info into a rosbag2 bag (MCAP) or a directory.

    pose3d-ros record --source freenect --output rec --seconds 10
    pose3d-ros record --source playback --path video.mp4 --output rec --frames 100
    pose3d-ros record --source synthetic --output rec_dir --frames 30 --format dir

``--format bag`` (default) writes a rosbag2 bag with MCAP storage, zstd-compressed chunks, on the driver's topics
(``<namespace>/color/image_raw``, ``color/camera_info``, ``depth_registered/image_raw``, ``depth_registered/
camera_info``) plus ``/tf_static`` (:mod:`pose3d_ros.bags.rgbd`): ``ros2 bag play``, Foxglove, ``rosbags`` and
``mcap`` read it. ``--format dir`` writes the older directory layout (:mod:`pose3d_ros.sources.playback`). Both keep
the source's own stamps: a device's acquisition times, a bag's or recording's recorded ones, a video's frame ``i``
at ``start + i / fps`` (not the speed at which it was read). Ctrl-C stops cleanly; what was written stays readable.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pose3d_ros.sources import BACKENDS

    parser.add_argument("--source", default="freenect", choices=sorted(BACKENDS), help="camera backend")
    parser.add_argument("--path", default=None, help="playback source: bag, recording directory, video or image")
    parser.add_argument("--device", type=int, default=0, help="device index (freenect, webcam)")
    parser.add_argument("--output", type=Path, required=True, help="bag directory (or recording directory) to write")
    parser.add_argument(
        "--format",
        choices=("bag", "dir"),
        default="bag",
        help="bag: rosbag2 MCAP (default); dir: color/*.png + depth/*.png + stamps.txt",
    )
    parser.add_argument("--namespace", default="/camera", help="bag topic namespace (the driver's)")
    parser.add_argument("--camera-name", default="camera", help="bag TF frames <name>_link, <name>_color_optical_frame")
    parser.add_argument("--compression", choices=("zstd", "none"), default="zstd", help="bag chunk compression")
    parser.add_argument("--frames", type=int, default=0, help="stop after this many frames (0 = no limit)")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this many seconds (0 = no limit)")
    parser.add_argument("--no-depth", action="store_true", help="record colour only")
    parser.add_argument("--overwrite", action="store_true", help="replace a recording already in --output")
    parser.add_argument("--color-topic", default=None, help="playback of a bag: colour topic (default: by name)")
    parser.add_argument("--depth-topic", default=None, help="playback of a bag: registered depth topic")
    parser.add_argument("--info-topic", default=None, help="playback of a bag: colour camera_info topic")


def _writer(args: argparse.Namespace):
    if args.format == "dir":
        from pose3d_ros.sources.playback import RecordingWriter

        return RecordingWriter(args.output, overwrite=args.overwrite)
    from pose3d_ros.bags.rgbd import RGBDBagWriter

    return RGBDBagWriter(
        args.output,
        args.namespace,
        camera_name=args.camera_name,
        overwrite=args.overwrite,
        compression=args.compression,
    )


def run(args: argparse.Namespace) -> int:
    from pose3d_ros.sources import DeviceUnavailable, EndOfStream, SourceError, create_source

    if args.frames < 0 or args.seconds < 0:
        print(f"record: --frames and --seconds must be >= 0, got {args.frames} / {args.seconds}", file=sys.stderr)
        return 2
    if args.source == "playback" and args.path is None:
        print("record: playback needs --path", file=sys.stderr)
        return 2
    opts: dict = {}
    if args.source == "playback":
        # recorded stamps: a video's frame period, a bag's header stamps (not the read speed)
        opts = {
            "path": args.path,
            "rate": 0.0,
            "loop": False,
            "use_depth": not args.no_depth,
            "stamps": "recorded",
            "color_topic": args.color_topic,
            "depth_topic": args.depth_topic,
            "info_topic": args.info_topic,
        }
    elif args.source == "freenect":
        opts = {"device_index": args.device, "use_depth": not args.no_depth}
    elif args.source == "webcam":
        opts = {"device": args.device}
    try:
        writer = _writer(args)
    except (FileExistsError, ValueError) as exc:
        print(f"record: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"record: cannot write {args.output}: {exc}", file=sys.stderr)
        return 1
    t0 = time.monotonic()
    try:
        with writer, create_source(args.source, **opts) as src:
            while True:
                if args.frames and len(writer) >= args.frames:
                    break
                if args.seconds and time.monotonic() - t0 >= args.seconds:
                    break
                frame = src.get_frame(timeout=2.0)
                if args.no_depth:
                    frame.depth_mm = None
                writer.write(frame)
    except EndOfStream:
        pass
    except KeyboardInterrupt:
        print("record: interrupted", file=sys.stderr)
    except (DeviceUnavailable, SourceError, ValueError, OSError) as exc:
        print(f"record: {exc}", file=sys.stderr)
        if args.format == "bag" and len(writer) == 0:  # no empty bag left behind to block the next try
            shutil.rmtree(args.output, ignore_errors=True)
        return 1
    dt = time.monotonic() - t0
    what = f"bag, {args.compression}" if args.format == "bag" else "directory"
    print(f"record: wrote {len(writer)} frames to {args.output} ({what}) in {dt:.1f} s")
    return 0
