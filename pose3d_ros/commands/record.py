"""``pose3d-ros record``: capture colour + registered depth + camera info into a directory ``playback`` replays.

    pose3d-ros record --source freenect --output rec/ --seconds 10
    pose3d-ros record --source playback --path video.mp4 --output rec/ --frames 100

The layout is documented in :mod:`pose3d_ros.sources.playback` (color/*.png, depth/*.png in mm, camera_info.yaml,
stamps.txt). Ctrl-C stops cleanly; what was written stays readable.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pose3d_ros.sources import BACKENDS

    parser.add_argument("--source", default="freenect", choices=sorted(BACKENDS), help="camera backend")
    parser.add_argument("--path", default=None, help="playback source: recording directory, video or image")
    parser.add_argument("--device", type=int, default=0, help="device index (freenect, webcam)")
    parser.add_argument("--output", type=Path, required=True, help="directory to write")
    parser.add_argument("--frames", type=int, default=0, help="stop after this many frames (0 = no limit)")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this many seconds (0 = no limit)")
    parser.add_argument("--no-depth", action="store_true", help="record colour only")
    parser.add_argument("--overwrite", action="store_true", help="replace a recording already in --output")


def run(args: argparse.Namespace) -> int:
    from pose3d_ros.sources import DeviceUnavailable, EndOfStream, SourceError, create_source
    from pose3d_ros.sources.playback import RecordingWriter

    if args.frames < 0 or args.seconds < 0:
        print(f"record: --frames and --seconds must be >= 0, got {args.frames} / {args.seconds}", file=sys.stderr)
        return 2
    if args.frames == 0 and args.seconds == 0 and args.source == "playback" and args.path is None:
        print("record: playback needs --path", file=sys.stderr)
        return 2
    opts: dict = {}
    if args.source == "playback":
        opts = {"path": args.path, "rate": 0.0, "loop": False, "use_depth": not args.no_depth}
    elif args.source == "freenect":
        opts = {"device_index": args.device, "use_depth": not args.no_depth}
    elif args.source == "webcam":
        opts = {"device": args.device}
    try:
        writer = RecordingWriter(args.output, overwrite=args.overwrite)
    except FileExistsError as exc:
        print(f"record: {exc}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    try:
        with create_source(args.source, **opts) as src, writer:
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
    except (DeviceUnavailable, SourceError, ValueError) as exc:
        print(f"record: {exc}", file=sys.stderr)
        return 1
    dt = time.monotonic() - t0
    print(f"record: wrote {len(writer)} frames to {args.output} in {dt:.1f} s")
    return 0
