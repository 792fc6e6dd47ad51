"""TensorRT engines: which optimisation profile a model needs, the cache key, and building from ONNX.

:func:`profile_for` says which input shapes the pipeline feeds a model (a fixed crop for the top-down BlazePose
landmarker; frame-shaped inputs at a pixel budget for the MoveNet detector and bottom-up OpenPose), and both the
pipeline's backend creation and ``pose3d-ros build-engine`` take the engine's profile from it, so the engine
build-engine caches is the one the node looks up (:func:`engine_key` is the same for both). :func:`ensure_engine`
parses the ONNX model, sets FP16 and the profile, serialises the engine and stores it in
:class:`~pose3d_ros.inference.engine_cache.EngineCache`. Everything but :func:`ensure_engine`,
:func:`detect_target` and :func:`build_serialized_engine` runs without TensorRT (it is imported lazily).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..models.frontend import DEFAULT_INPUT_PIXELS, input_size_for_frame
from .cuda_status import cuda_call, import_tensorrt
from .engine_cache import EngineCache, EngineKey, file_sha256
from .errors import EngineBuildError, ModelLoadError

if TYPE_CHECKING:
    from ..models.registry import ModelConfig

__all__ = [
    "MAX_FRAME_ASPECT", "ROI_GRID", "TUNED_FRAME", "BuildResult", "BuildTarget", "InputSizes", "Profile",
    "ProfileShapes", "build_serialized_engine", "check_profile", "detect_target", "engine_key", "ensure_engine",
    "normalize_profile", "pipeline_input_sizes", "profile_for", "profile_text", "resolve_input_profile",
]

_LOG = logging.getLogger(__name__)
_MIB = 1 << 20

Shape = tuple[int, ...]
#: Input name -> (min, opt, max) shapes, checked (:func:`normalize_profile`).
Profile = dict[str, tuple[Shape, Shape, Shape]]
#: What callers may pass: input name -> (min, opt, max) shapes, or one shape meaning min = opt = max.
ProfileShapes = Mapping[str, tuple[Sequence[int], Sequence[int], Sequence[int]] | Sequence[int]]

#: Widest frame (long side : short side, landscape or portrait) a pipeline engine accepts: 4:3, 16:9, 21:9 and
#: 32:9 cameras and their portrait forms fit. A frame beyond it gives a network input outside the profile, which
#: the TensorRT backend refuses (``InputValidationError`` naming the shape and the profile).
MAX_FRAME_ASPECT = 4.0
#: Frame the engine is tuned for (TensorRT's "opt" shape): VGA / Kinect v1, 640 x 480.
TUNED_FRAME = (480, 640)
#: Side granularity of the bottom-up front end's ROI inputs (``BottomUpFrontEnd._next_roi``): the smallest side.
ROI_GRID = 32
#: Side granularity of frame-shaped inputs: ``max(stride, 32)`` (``BottomUpFrontEnd`` / ``MoveNetDetector``).
_FRAME_MULTIPLE = 32
_FAR = 1 << 16  # a frame side so large that "never upsample past the frame" never binds


# ---------------------------------------------------------------------------------------------- profiles
@dataclass(frozen=True)
class InputSizes:
    """How the pipeline sizes a model's frame-shaped input; with the model, all a profile depends on.

    Attributes
    ----------
    fixed : (int, int) or None
        Fixed ``(H, W)`` input of a bottom-up model (``PipelineConfig.input_size``); None = frame-shaped.
    pixels : int
        Pixel budget ``H x W`` of a full-frame input (``input_pixels`` / ``detector_pixels``).
    tuned_frame : (int, int)
        Frame ``(H, W)`` whose input TensorRT optimises for.
    max_aspect : float
        Widest frame aspect ratio (either orientation) the profile must cover.
    """

    fixed: tuple[int, int] | None = None
    pixels: int = DEFAULT_INPUT_PIXELS
    tuned_frame: tuple[int, int] = TUNED_FRAME
    max_aspect: float = MAX_FRAME_ASPECT

    def __post_init__(self) -> None:
        if self.fixed is not None and (len(self.fixed) != 2 or min(int(v) for v in self.fixed) < 1):
            raise ValueError(f"fixed input size must be (H, W) >= 1, got {self.fixed}")
        if int(self.pixels) < 1 or min(int(v) for v in self.tuned_frame) < 1:
            raise ValueError(f"need a positive pixel budget and tuned frame, got {self.pixels}, {self.tuned_frame}")
        h, w = self.tuned_frame
        if not np.isfinite(self.max_aspect) or max(h / w, w / h) > self.max_aspect:
            raise ValueError(f"tuned frame {h}x{w} is wider than max_aspect {self.max_aspect}")


def _image_shape(model: ModelConfig, h: int, w: int) -> Shape:
    return (1, 3, int(h), int(w)) if model.input_format == "NCHW" else (1, int(h), int(w), 3)


def profile_for(model: ModelConfig, input_sizes: InputSizes | None = None) -> Profile:
    """The optimisation profile of the shapes the pipeline feeds ``model``: input name -> (min, opt, max).

    * top-down (BlazePose): one square crop of ``input_size[0]`` pixels (``BlazePoseLandmarker.crop``), fixed;
    * MoveNet detector: the frame's aspect at ``input_sizes.pixels`` (``input_size_for_frame``, sides multiples of
      ``max(stride, 32)``, never upsampled past the frame, so small frames give inputs down to 32 x 32);
    * bottom-up (OpenPose): the same frame-shaped full pass (not capped by the frame) and the ROI passes between
      (multiples of :data:`ROI_GRID`, no larger than the full pass), or ``input_sizes.fixed`` and its ROIs;
    * and, for both, the configured ``input_size`` that the start-up check feeds once.

    Frame-shaped inputs cover every frame up to ``max_aspect`` in either orientation; ``opt`` is the input of
    ``tuned_frame``. Batch is 1. Needs no TensorRT and no ONNX file.

    Parameters
    ----------
    model : ModelConfig
        A shipped or user model (:func:`pose3d_ros.models.registry.resolve_model`).
    input_sizes : InputSizes, optional
        The pipeline's sizing of this model (:func:`pipeline_input_sizes`); default: the pipeline defaults.

    Returns
    -------
    dict of str to (min, opt, max) tuples of int
        Ready for :func:`ensure_engine` / ``create_backend(profile_shapes=...)``.

    Examples
    --------
    >>> from pose3d_ros.models.registry import get_model_config
    >>> profile_for(get_model_config("blazepose_full"))
    {'image': ((1, 256, 256, 3), (1, 256, 256, 3), (1, 256, 256, 3))}
    """
    sizes = input_sizes or InputSizes()
    name = model.input_name
    if model.top_down:
        crop = _image_shape(model, model.input_size[0], model.input_size[0])
        return {name: (crop, crop, crop)}
    multiple = max(int(model.stride), _FRAME_MULTIPLE)
    capped = model.family == "movenet"  # MoveNetDetector: max_size=(h, w); it ignores a fixed input_size
    if sizes.fixed is not None and not capped:
        opt = hi = tuple(int(v) for v in sizes.fixed)
        lo = (min(ROI_GRID, opt[0]), min(ROI_GRID, opt[1]))
    else:
        pixels, far = int(sizes.pixels), _FAR
        # input_size_for_frame is monotonic in the aspect: the tallest input comes from the tallest frame, the
        # widest from the widest one; inputs of frames in between (and ROIs, and capped small frames) are smaller.
        tall = input_size_for_frame(int(round(far * sizes.max_aspect)), far, pixels, multiple)
        wide = input_size_for_frame(far, int(round(far * sizes.max_aspect)), pixels, multiple)
        th, tw = sizes.tuned_frame
        opt = input_size_for_frame(th, tw, pixels, multiple, max_size=(th, tw) if capped else None)
        hi = (max(tall[0], wide[0]), max(tall[1], wide[1]))
        lo = (min(ROI_GRID, multiple),) * 2
    # The start-up check runs the model once at its configured input_size (models/model_check.probe_input).
    probe = tuple(int(v) for v in model.input_size)
    lo = (min(lo[0], probe[0]), min(lo[1], probe[1]))
    hi = (max(hi[0], probe[0]), max(hi[1], probe[1]))
    return {name: (_image_shape(model, *lo), _image_shape(model, *opt), _image_shape(model, *hi))}


def pipeline_input_sizes(config: Any, model: ModelConfig, *, detector: bool) -> InputSizes:
    """How a :class:`~pose3d_ros.pipeline_config.PipelineConfig` sizes ``model``'s input.

    Parameters
    ----------
    config : PipelineConfig
    model : ModelConfig
        The pipeline's 2D model, or its person detector.
    detector : bool
        ``model`` is the detector of a top-down pipeline (its budget is ``detector_pixels``; a MoveNet detector's
        may be overridden by ``detector_params["input_pixels"]``).
    """
    if model.top_down:
        return InputSizes()  # crops: the frame does not matter
    if model.family == "movenet":
        pixels = config.detector_settings("movenet").input_pixels if detector else config.input_pixels
        return InputSizes(pixels=int(pixels))
    pixels = config.detector_pixels if detector else config.input_pixels
    return InputSizes(fixed=config.input_size, pixels=int(pixels))


def check_profile(name: str, lo: Sequence[int], opt: Sequence[int], hi: Sequence[int]) -> None:
    """Raise ``ValueError`` unless min/opt/max of input ``name`` have one rank, dimensions >= 1, min <= opt <= max."""
    if not (len(lo) == len(opt) == len(hi)):
        raise ValueError(f"profile for '{name}': min/opt/max ranks differ ({lo}, {opt}, {hi})")
    if any(d < 1 for d in (*lo, *opt, *hi)):
        raise ValueError(f"profile for '{name}': dimensions must be >= 1 ({lo}, {opt}, {hi})")
    if any(not (a <= b <= c) for a, b, c in zip(lo, opt, hi, strict=True)):
        raise ValueError(f"profile for '{name}': need min <= opt <= max per dimension ({lo}, {opt}, {hi})")


def normalize_profile(profile: ProfileShapes | None) -> Profile | None:
    """Check a profile request; a single shape (``{"image": (1, 3, 192, 256)}``) means min = opt = max.

    Raises
    ------
    ValueError
        A value that is neither one shape nor (min, opt, max) shapes, or inconsistent shapes.
    """
    if not profile:
        return None
    out: Profile = {}
    for name, value in profile.items():
        try:
            if all(isinstance(d, (int, np.integer)) for d in value):
                shapes = (tuple(int(d) for d in value),) * 3
            else:
                shapes = tuple(tuple(int(d) for d in s) for s in value)
        except TypeError as exc:
            raise ValueError(f"profile for '{name}' must be a shape or (min, opt, max) shapes, got {value!r}") from exc
        if len(shapes) != 3:
            raise ValueError(f"profile for '{name}' must be a shape or (min, opt, max) shapes, got {value!r}")
        check_profile(name, *shapes)
        out[str(name)] = (shapes[0], shapes[1], shapes[2])
    return out


def profile_text(profile: ProfileShapes | None, max_batch: int) -> str:
    """Canonical text of a profile request, part of the cache key (equal requests give equal text)."""
    items = sorted((name, [list(map(int, s)) for s in shapes]) for name, shapes in (normalize_profile(profile) or
                                                                                   {}).items())
    return repr((items, int(max_batch)))


def resolve_input_profile(name: str, shape: Sequence[int], profile: ProfileShapes | None,
                          max_batch: int) -> tuple[Shape, Shape, Shape] | None:
    """(min, opt, max) for a network input with ``shape`` (-1 = dynamic); None when the input is static.

    A requested profile must keep the model's static dimensions; for a fully static input it only has to contain
    that shape (the input then needs no profile: a pipeline feeds a static model its one shape).

    Raises
    ------
    EngineBuildError
        The request does not fit the model, or dimensions besides the batch are dynamic and nothing was asked.
    """
    dims = tuple(int(d) for d in shape)
    static = all(d >= 0 for d in dims)
    if profile and name in profile:
        lo, opt, hi = normalize_profile({name: profile[name]})[name]  # type: ignore[index]
        if len(lo) != len(dims):
            raise EngineBuildError(f"profile for input '{name}' has rank {len(lo)}, the model's shape is {dims}")
        if static:
            if any(not a <= d <= b for a, d, b in zip(lo, dims, hi, strict=True)):
                raise EngineBuildError(f"profile for input '{name}' {lo}..{hi} does not contain the model's fixed "
                                       f"shape {dims}")
            return None
        for given in (lo, opt, hi):
            if any(d >= 0 and d != g for d, g in zip(dims, given, strict=True)):
                raise EngineBuildError(f"profile for input '{name}' {given} does not fit the model's shape {dims}")
        return lo, opt, hi
    if static:
        return None
    if any(d < 0 for d in dims[1:]):
        raise EngineBuildError(
            f"input '{name}' has dynamic dimensions {dims} beyond the batch; give an optimisation profile "
            f"(profile_shapes={{'{name}': (min, opt, max)}} or --profile {name}:MIN:OPT:MAX)"
        )
    rest = dims[1:]  # only the batch is dynamic: 1 person-crop is the common case, up to max_batch
    return (1, *rest), (1, *rest), (max_batch, *rest)


# ---------------------------------------------------------------------------------------------- cache key
@dataclass(frozen=True)
class BuildTarget:
    """The TensorRT version and GPU an engine is built for (the machine-dependent part of its key)."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]


def engine_key(model_path: str | os.PathLike[str], target: BuildTarget, *, fp16: bool = False,
               profile: ProfileShapes | None = None, max_batch: int = 1, model_sha256: str | None = None) -> EngineKey:
    """The cache key of the engine for ``model_path`` built with these settings on ``target`` (no TensorRT needed).

    Raises
    ------
    ValueError
        A malformed profile.
    FileNotFoundError
        ``model_path`` does not exist (and ``model_sha256`` is not given).
    """
    return EngineKey(
        model_sha256=model_sha256 or file_sha256(model_path), tensorrt_version=str(target.tensorrt_version),
        gpu_name=str(target.gpu_name), compute_capability=tuple(target.compute_capability),  # type: ignore[arg-type]
        fp16=bool(fp16), profile=profile_text(profile, max_batch),
    )


def detect_target(device_id: int = 0) -> BuildTarget:
    """TensorRT version and the name / compute capability of CUDA device ``device_id``.

    Raises
    ------
    BackendUnavailable
        No TensorRT 10, no pycuda, no driver or no such device.
    """
    trt, cuda = import_tensorrt(device_id)
    device = cuda.Device(device_id)
    return BuildTarget(str(trt.__version__), str(cuda_call(device.name, what="cuDeviceGetName")),
                       tuple(cuda_call(device.compute_capability, what="cuDeviceComputeCapability")))


# ---------------------------------------------------------------------------------------------- build
def build_serialized_engine(trt: Any, model_path: Path, *, fp16: bool, workspace_mb: int,
                            profile: ProfileShapes | None, max_batch: int, trt_logger: Any) -> bytes:
    """Parse an ONNX file and build a serialised TensorRT engine (TensorRT 10: explicit batch only).

    Raises
    ------
    ModelLoadError
        The ONNX parser rejects the file (all parser errors are in the message).
    EngineBuildError
        The profile names inputs the model lacks or does not fit it, or building failed.
    """
    builder = trt.Builder(trt_logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse(model_path.read_bytes(), str(model_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelLoadError(f"TensorRT cannot parse ONNX model {model_path}: {errors or 'unknown parser error'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) * _MIB)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    unknown = sorted(set(profile or {}) - {t.name for t in inputs})
    if unknown:
        raise EngineBuildError(f"the profile names input(s) {unknown} that {model_path.name} does not have; its "
                               f"inputs are {[t.name for t in inputs]}")
    opt_profile = None
    for tensor in inputs:
        shapes = resolve_input_profile(tensor.name, tuple(tensor.shape), profile, max_batch)
        if shapes is not None:
            opt_profile = opt_profile or builder.create_optimization_profile()
            opt_profile.set_shape(tensor.name, *shapes)
    if opt_profile is not None and config.add_optimization_profile(opt_profile) < 0:
        raise EngineBuildError(f"TensorRT rejects the optimisation profile {dict(profile or {})} for {model_path}")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(f"TensorRT failed to build an engine from {model_path} (see the TensorRT log above)")
    return bytes(serialized)


@dataclass(frozen=True)
class BuildResult:
    """Where an engine is, and whether it came from the cache (``hit``, ``built``, ``rebuilt (stale)``...)."""

    engine_path: Path
    key: EngineKey
    cache_status: str
    build_seconds: float


def ensure_engine(
    model_path: str | os.PathLike[str], *, fp16: bool = False, workspace_mb: int = 1024,
    cache_dir: str | os.PathLike[str] | None = None, profile: ProfileShapes | None = None, max_batch: int = 1,
    device_id: int = 0, force: bool = False, logger: Any = None,
) -> BuildResult:
    """Return a cached engine for the model, building (and caching) it when missing, stale or corrupt.

    Parameters
    ----------
    model_path : path-like
        The ONNX file.
    fp16 : bool
        Allow FP16 kernels.
    workspace_mb : int
        Builder workspace limit, MiB (not part of the key).
    cache_dir : path-like, optional
        Engine cache directory (:func:`~pose3d_ros.inference.engine_cache.default_cache_dir` when None).
    profile : mapping, optional
        Input name -> (min, opt, max) shapes, or one shape (fixed); :func:`profile_for` gives the pipeline's.
    max_batch : int
        Batch range when only the first dimension is dynamic and the profile does not name the input.
    device_id : int
        CUDA device.
    force : bool
        Rebuild even on a cache hit.
    logger : logging.Logger-like, optional
        Receives ``info`` / ``warning`` messages, each one preformatted string (so rclpy loggers work too).

    Raises
    ------
    BackendUnavailable, ModelLoadError, EngineBuildError, ValueError
    """
    log = logger or _LOG
    if workspace_mb < 1:
        raise ValueError(f"workspace_mb must be >= 1, got {workspace_mb}")
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    profile = normalize_profile(profile)
    path = Path(model_path)
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}")
    key = engine_key(path, detect_target(device_id), fp16=fp16, profile=profile, max_batch=max_batch)
    cache = EngineCache(cache_dir)
    lookup = cache.load(key, path.stem)
    if lookup.status == "hit" and not force:
        return BuildResult(lookup.engine_path, key, "hit", 0.0)
    if lookup.status in ("stale", "corrupt"):
        log.warning(f"rebuilding TensorRT engine: {lookup.reason}")
    log.info(f"building TensorRT engine for {path} (fp16={fp16}, workspace {workspace_mb} MiB); this can take minutes")
    trt, cuda = import_tensorrt(device_id)
    context = cuda_call(cuda.Device(device_id).retain_primary_context, what="cuDevicePrimaryCtxRetain")
    cuda_call(context.push, what="cuCtxPushCurrent")
    try:
        start = time.monotonic()
        data = build_serialized_engine(trt, path, fp16=fp16, workspace_mb=workspace_mb, profile=profile,
                                       max_batch=max_batch, trt_logger=trt.Logger(trt.Logger.WARNING))
        seconds = time.monotonic() - start
    finally:
        cuda_call(cuda.Context.pop, what="cuCtxPopCurrent")
        cuda_call(context.detach, what="cuDevicePrimaryCtxRelease")
    engine_path = cache.store(key, path.stem, data, extra={
        "model_path": str(path.resolve()), "workspace_mb": workspace_mb, "build_seconds": round(seconds, 2),
        "built_at": time.time()})
    log.info(f"TensorRT engine built in {seconds:.1f} s: {engine_path}")
    return BuildResult(engine_path, key, "built" if lookup.status == "miss" else f"rebuilt ({lookup.status})",
                       seconds)
