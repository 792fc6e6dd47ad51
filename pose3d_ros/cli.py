"""The ``pose3d-ros`` command: one entry point, one module per sub-command (imported only when used)."""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command -> (module under pose3d_ros.commands, one-line help). Each module defines
# ``add_arguments(parser)`` and ``run(args) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "run the whole system on embedded real footage (no camera needed)"),
    "estimate": ("estimate", "offline: images / a directory / a video / a bag -> 3D skeletons as JSONL (+ rendering)"),
    "lift": ("lift", "bring your own 2D keypoints (JSONL or OpenPose JSON) -> 3D skeletons as JSONL"),
    "record": ("record", "record color + depth + camera info from a source into a rosbag2 bag (MCAP) or a directory"),
    "train-prior": ("train_prior", "fit the probabilistic 3D pose prior (mixture of PPCA) on 3D skeleton data"),
    "train-actions": ("train_actions", "train the action classifier on labelled skeleton sequences"),
    "build-engine": ("build_engine", "build (and cache) the TensorRT engines the node loads, from its settings"),
    "driver": ("run_node", "start the kinect driver node (without `ros2 launch`)"),
    "node": ("run_node", "start the inference node (without `ros2 launch`)"),
    "launch": ("run_node", "start driver + inference node together (without `ros2 launch`)"),
}


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pose3d-ros", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if name == chosen:  # only the chosen command's module is imported (fast --help, light deps)
            importlib.import_module(f"pose3d_ros.commands.{module}").add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    mod = importlib.import_module(f"pose3d_ros.commands.{args._module}")
    return int(mod.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
