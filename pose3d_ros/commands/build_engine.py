"""``pose3d-ros build-engine``: build (or find in the cache) the TensorRT engines the inference node will load.

Run it once on the robot's GPU so the node starts without a multi-minute build. Without ``--profile`` it takes the
same settings as the node (``--model``, ``--detector``, ``--input-pixels``, ``--pipeline-config`` are the node's
``model``, ``detector``, ``input_pixels`` and ``pipeline_config`` parameters, defaults alike) and builds every
engine that pipeline creates, each with the optimisation profile the pipeline asks for
(:func:`pose3d_ros.inference.tensorrt_build.profile_for`): the cache keys then match and the node loads these
engines. ``--profile`` builds one engine of any ONNX file for your own ``create_backend(profile_shapes=...)``.
``--dry-run`` prints the engines and profiles without TensorRT.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pose3d_ros.inference.engine_cache import default_cache_dir
from pose3d_ros.inference.errors import InferenceError
from pose3d_ros.inference.tensorrt_build import (
    Profile,
    check_profile,
    normalize_profile,
    pipeline_input_sizes,
    profile_for,
)
from pose3d_ros.models.registry import ModelChecksumError

if TYPE_CHECKING:
    from pose3d_ros.pipeline_config import PipelineConfig

__all__ = ["EngineJob", "add_arguments", "parse_profile_spec", "pipeline_engines", "plan", "run"]


@dataclasses.dataclass(frozen=True)
class EngineJob:
    """One engine to build: what :func:`~pose3d_ros.inference.tensorrt_build.ensure_engine` is called with."""

    name: str
    model_path: Path
    profile: Profile | None
    fp16: bool = False
    max_batch: int = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    node = parser.add_argument_group("the node's settings (engines the node loads; defaults = the node's)")
    node.add_argument("--model", default="", help="2D model name or ONNX path (node parameter 'model'; "
                      "default: the pipeline's)")
    node.add_argument("--detector", default="", help="person detector of a top-down model (node parameter "
                      "'detector')")
    node.add_argument("--input-pixels", type=int, default=0, help="pixel budget of frame-shaped inputs (node "
                      "parameter 'input_pixels'; 0 = the pipeline's)")
    node.add_argument("--pipeline-config", default="", help="YAML with the 'pipeline' section (node parameter "
                      "'pipeline_config')")
    parser.add_argument("--fp16", action="store_true",
                        help="allow FP16 kernels (the node itself builds FP32 engines: it has no fp16 setting)")
    parser.add_argument("--workspace-mb", type=int, default=1024, help="builder workspace limit in MiB (default 1024)")
    parser.add_argument(
        "--cache-dir", default=None, help=f"engine cache directory (default {default_cache_dir()}; "
        "$POSE3D_ROS_CACHE or $XDG_CACHE_HOME move it, for the node too)"
    )
    parser.add_argument(
        "--profile", default="", metavar="NAME:MIN:OPT:MAX[,...]",
        help="a custom engine of --model (an ONNX file) with this profile, shapes like 1x3x368x368 (NAME:SHAPE "
             "fixes one shape); not the node's engine",
    )
    parser.add_argument("--max-batch", type=int, default=1,
                        help="with --profile: batch range 1..N of inputs whose only dynamic dimension is the batch")
    parser.add_argument("--device-id", type=int, default=0, help="CUDA device index (default 0)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a valid cached engine exists")
    parser.add_argument("--dry-run", action="store_true", help="print the engines and profiles; build nothing")


def parse_profile_spec(text: str) -> Profile:
    """Parse ``"name:1x3x256x256:1x3x368x368:1x3x656x656[,name2:...]"`` into a profile dict.

    A single shape (``"name:1x3x368x368"``) means min = opt = max.

    Raises
    ------
    ValueError
        Malformed text, non-positive dimensions, ranks that differ, or min > opt > max violations.
    """
    profile: Profile = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        fields = item.split(":")
        if len(fields) not in (2, 4) or not fields[0]:
            raise ValueError(f"profile entry {item!r} must be NAME:SHAPE or NAME:MIN:OPT:MAX (shapes like 1x3x368x368)")
        try:
            shapes = [tuple(int(d) for d in f.lower().split("x")) for f in fields[1:]]
        except ValueError as exc:
            raise ValueError(f"profile entry {item!r}: shapes must be integers joined by 'x'") from exc
        if len(shapes) == 1:
            shapes = shapes * 3
        check_profile(fields[0], *shapes)
        profile[fields[0]] = (shapes[0], shapes[1], shapes[2])
    return profile


def pipeline_engines(config: PipelineConfig, fp16: bool = False) -> list[EngineJob]:
    """The engines a :class:`~pose3d_ros.pipeline.Pose3DPipeline` with ``config`` creates on ``backend: tensorrt``:
    its 2D model and, for a top-down model, its detector; each with the pipeline's profile.

    Raises
    ------
    ModelConfigError, ModelChecksumError
        An unknown model name, a detector that is not bottom-up, a missing or corrupt model file.
    """
    from pose3d_ros.models.registry import ModelConfigError, verify_checksum
    from pose3d_ros.pipeline import _model_config  # the pipeline's own rule for names and .onnx paths

    main = _model_config(config.model, None)
    models = [(main, False)]
    if main.top_down:
        detector = _model_config(config.detector, None)
        if detector.top_down:
            raise ModelConfigError(f"detector must be a bottom-up model, got {detector.name!r}")
        models.append((detector, True))
    return [EngineJob(model.name, verify_checksum(model),
                      profile_for(model, pipeline_input_sizes(config, model, detector=is_detector)), fp16=fp16)
            for model, is_detector in models]


def plan(args: argparse.Namespace) -> list[EngineJob]:
    """The engines ``args`` ask for (no TensorRT needed).

    Raises
    ------
    ValueError, ModelChecksumError
        Bad arguments, an unknown model, a missing or corrupt model file.
    """
    if args.max_batch < 1:
        raise ValueError(f"--max-batch must be >= 1, got {args.max_batch}")
    if args.profile:
        if not args.model:
            raise ValueError("--profile needs --model (the ONNX file to build)")
        path = Path(args.model).expanduser()
        if not path.is_file() and not args.model.endswith(".onnx"):
            from pose3d_ros.models.registry import get_model_config

            path = get_model_config(args.model).path  # a shipped model's name
        if not path.is_file():
            raise ValueError(f"model file not found: {path}")
        return [EngineJob(path.stem, path, normalize_profile(parse_profile_spec(args.profile)), fp16=args.fp16,
                          max_batch=args.max_batch)]
    if args.max_batch != 1:
        raise ValueError("--max-batch applies to --profile engines; the node's engines have batch 1")
    from pose3d_ros.pipeline_config import config_from_node_params

    config = config_from_node_params({
        "pipeline_config": args.pipeline_config, "backend": "tensorrt", "model": args.model,
        "detector": args.detector, "input_pixels": args.input_pixels,
    })
    return pipeline_engines(config, fp16=args.fp16)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _describe(job: EngineJob) -> str:
    shapes = "; ".join(f"{name} min {_shape(lo)} opt {_shape(opt)} max {_shape(hi)}"
                       for name, (lo, opt, hi) in (job.profile or {}).items())
    return f"{job.name} ({job.model_path}): {shapes or 'no profile'}" + (", fp16" if job.fp16 else "")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        jobs = plan(args)
    except (InferenceError, ValueError, ModelChecksumError) as exc:
        print(f"build-engine: {exc}", file=sys.stderr)
        return 1
    if args.dry_run:
        for job in jobs:
            print(_describe(job))
        return 0
    if args.fp16 and not args.profile:
        print("build-engine: note: the node loads FP32 engines (it has no fp16 setting); these FP16 engines are for "
              "create_backend(..., fp16=True)", file=sys.stderr)
    from pose3d_ros.inference.tensorrt_build import ensure_engine

    for job in jobs:
        try:
            result = ensure_engine(
                job.model_path, fp16=job.fp16, workspace_mb=args.workspace_mb, cache_dir=args.cache_dir,
                profile=job.profile, max_batch=job.max_batch, device_id=args.device_id, force=args.force,
            )
        except (InferenceError, ValueError) as exc:
            print(f"build-engine: {job.name}: {exc}", file=sys.stderr)
            return 1
        key = result.key
        print(f"{_describe(job)}\n  engine: {result.engine_path}\n  cache: {result.cache_status}; TensorRT "
              f"{key.tensorrt_version}; GPU {key.gpu_name} (sm_{key.compute_capability[0]}"
              f"{key.compute_capability[1]}); fp16={key.fp16}")
    return 0
