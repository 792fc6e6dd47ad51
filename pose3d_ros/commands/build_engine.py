"""``pose3d-ros build-engine``: build (or find in the cache) the TensorRT engine of an ONNX model.

Run it once on the robot's GPU so the node starts without a multi-minute build; the node finds the same cache
entry because the key is the model's sha256 + TensorRT version + GPU + precision + profile.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pose3d_ros.inference.engine_cache import default_cache_dir
from pose3d_ros.inference.errors import InferenceError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="ONNX model file")
    parser.add_argument("--fp16", action="store_true", help="allow FP16 kernels (faster on most GPUs)")
    parser.add_argument("--workspace-mb", type=int, default=1024, help="builder workspace limit in MiB (default 1024)")
    parser.add_argument(
        "--cache-dir", default=None, help=f"engine cache directory (default {default_cache_dir()}; "
        "$POSE3D_ROS_CACHE or $XDG_CACHE_HOME move it)"
    )
    parser.add_argument(
        "--profile", default="", metavar="NAME:MIN:OPT:MAX[,...]",
        help="optimisation profile for dynamic inputs, shapes like 1x3x368x368 (NAME:SHAPE fixes one shape)",
    )
    parser.add_argument("--max-batch", type=int, default=1,
                        help="batch range 1..N when only the batch dimension is dynamic (default 1)")
    parser.add_argument("--device-id", type=int, default=0, help="CUDA device index (default 0)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a valid cached engine exists")


def run(args: argparse.Namespace) -> int:
    from pose3d_ros.inference.tensorrt_backend import ensure_engine, parse_profile_spec

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        profile = parse_profile_spec(args.profile) if args.profile else None
        result = ensure_engine(
            args.model, fp16=args.fp16, workspace_mb=args.workspace_mb, cache_dir=args.cache_dir, profile=profile,
            max_batch=args.max_batch, device_id=args.device_id, force=args.force,
        )
    except (InferenceError, ValueError) as exc:
        print(f"build-engine: {exc}", file=sys.stderr)
        return 1
    key = result.key
    print(f"engine: {result.engine_path}")
    print(f"cache: {result.cache_status}; TensorRT {key.tensorrt_version}; GPU {key.gpu_name} "
          f"(sm_{key.compute_capability[0]}{key.compute_capability[1]}); fp16={key.fp16}")
    return 0
