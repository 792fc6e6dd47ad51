"""Native TensorRT 10 backend: engine built from the ONNX model, cached on disk, run with pycuda.

Follows NVIDIA's ``samples/python/common_runtime.py`` (TensorRT 10 named-tensor API, ``execute_async_v3``; every
CUDA call through one checker; buffers in a class with ``free()``), with pycuda instead of cuda-python because
pycuda is the package's GPU dependency. ``tensorrt`` and ``pycuda`` are imported lazily: on a machine without them
(or without a GPU) constructing :class:`TensorRTBackend` raises :class:`BackendUnavailable` with one message.

Not verified on a GPU in the session that wrote it (no GPU was available); the pure logic (cache key, CUDA status
checker, profile parsing) is unit-tested on CPU.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base import InferenceBackend, TensorSpec
from .engine_cache import EngineCache, EngineKey, file_sha256
from .errors import (
    BackendUnavailable,
    CudaError,
    EngineBuildError,
    InferenceError,
    InputValidationError,
    ModelLoadError,
)

__all__ = [
    "TensorRTBackend",
    "ProfileShapes",
    "BuildResult",
    "check_cuda_status",
    "cuda_call",
    "import_tensorrt",
    "parse_profile_spec",
    "normalize_profile",
    "ensure_engine",
    "build_serialized_engine",
]

_LOG = logging.getLogger(__name__)
_MIB = 1 << 20
MIN_TENSORRT_MAJOR = 10

#: Input name -> (min, opt, max) shapes of the optimisation profile, or one shape meaning min = opt = max.
ProfileShapes = Mapping[str, tuple[Sequence[int], Sequence[int], Sequence[int]] | Sequence[int]]

# cuda-python (``cuda.bindings``) return-status enum type names -> their success value. pycuda raises instead
# of returning a status; both styles go through :func:`cuda_call`.
_STATUS_SUCCESS = {"CUresult": 0, "cudaError_t": 0, "nvrtcResult": 0}


# ---------------------------------------------------------------------------------------------- CUDA checking
def check_cuda_status(result: Any, what: str = "CUDA call") -> Any:
    """Check the return value of a CUDA call and strip its status.

    cuda-python calls return ``(status, *values)``; pycuda calls return their value directly (and raise on
    failure, see :func:`cuda_call`). NVIDIA's sample checks ``CUresult`` with ``if`` and then ``cudaError_t``
    with a second ``if``/``else``, so a *successful* ``CUresult`` falls into the ``else`` and raises
    "Unknown error type"; here the branches are exclusive.

    Parameters
    ----------
    result : object
        What the CUDA call returned.
    what : str
        Name of the call, for the error message.

    Returns
    -------
    object
        ``None`` for a bare status, the single value, or a tuple of values; non-status results unchanged.

    Raises
    ------
    CudaError
        The status is not success.
    """
    status, values = result, ()
    if isinstance(result, tuple) and result and type(result[0]).__name__ in _STATUS_SUCCESS:
        status, values = result[0], result[1:]
    kind = type(status).__name__
    if kind in _STATUS_SUCCESS:
        if int(status) != _STATUS_SUCCESS[kind]:
            label = getattr(status, "name", str(status))
            raise CudaError(f"{what} failed: {kind} {label} ({int(status)})")
        if not values:
            return None
        return values[0] if len(values) == 1 else values
    return result


def cuda_call(func: Callable[..., Any], *args: Any, what: str | None = None, **kwargs: Any) -> Any:
    """Call a CUDA API function; any CUDA failure becomes :class:`CudaError` naming the call.

    Parameters
    ----------
    func : callable
        A pycuda or cuda-python function/method.
    *args, **kwargs
        Its arguments.
    what : str, optional
        Name for messages (default: ``func.__qualname__``).

    Raises
    ------
    CudaError
        The call raised a pycuda/CUDA exception or returned a failure status.
    """
    label = what or getattr(func, "__qualname__", None) or repr(func)
    try:
        result = func(*args, **kwargs)
    except CudaError:
        raise
    except Exception as exc:
        # Only the CUDA libraries' own exceptions are CUDA failures; a TypeError from our own code stays one.
        if type(exc).__module__.split(".")[0] in ("pycuda", "cuda"):
            raise CudaError(f"{label} failed: {type(exc).__name__}: {exc}") from exc
        raise
    return check_cuda_status(result, label)


# ---------------------------------------------------------------------------------------------- availability
def import_tensorrt(device_id: int = 0) -> tuple[Any, Any]:
    """Import ``tensorrt`` and ``pycuda.driver`` and check a CUDA device exists.

    Returns
    -------
    (module, module)
        ``tensorrt`` and ``pycuda.driver`` (initialised).

    Raises
    ------
    BackendUnavailable
        One message saying what is missing.
    """
    hint = "install TensorRT 10 and pycuda on a machine with an NVIDIA GPU, or use device='cpu'"
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendUnavailable(f"TensorRT backend unavailable: cannot import tensorrt ({exc}); {hint}") from exc
    major = int(str(trt.__version__).split(".")[0])
    if major < MIN_TENSORRT_MAJOR:
        raise BackendUnavailable(
            f"TensorRT backend unavailable: TensorRT {trt.__version__} found, {MIN_TENSORRT_MAJOR}.x needed; {hint}"
        )
    try:
        import pycuda.driver as cuda
    except ImportError as exc:
        raise BackendUnavailable(f"TensorRT backend unavailable: cannot import pycuda ({exc}); {hint}") from exc
    try:
        cuda_call(cuda.init, what="cuInit")
        count = cuda_call(cuda.Device.count, what="cuDeviceGetCount")
    except CudaError as exc:
        raise BackendUnavailable(f"TensorRT backend unavailable: no usable CUDA driver ({exc}); {hint}") from exc
    if not 0 <= device_id < count:
        raise BackendUnavailable(
            f"TensorRT backend unavailable: CUDA device {device_id} requested, {count} device(s) present; {hint}"
        )
    return trt, cuda


# ---------------------------------------------------------------------------------------------- profiles
def parse_profile_spec(text: str) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """Parse ``"name:1x3x256x256:1x3x368x368:1x3x656x656[,name2:...]"`` into a profile dict.

    A single shape (``"name:1x3x368x368"``) means min = opt = max.

    Raises
    ------
    ValueError
        Malformed text, non-positive dimensions, ranks that differ, or min > opt > max violations.
    """
    profile: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        fields = item.split(":")
        if len(fields) not in (2, 4) or not fields[0]:
            raise ValueError(f"profile entry {item!r} must be NAME:SHAPE or NAME:MIN:OPT:MAX (shapes like 1x3x368x368)")
        name = fields[0]
        try:
            shapes = [tuple(int(d) for d in f.lower().split("x")) for f in fields[1:]]
        except ValueError as exc:
            raise ValueError(f"profile entry {item!r}: shapes must be integers joined by 'x'") from exc
        if len(shapes) == 1:
            shapes = shapes * 3
        _check_profile(name, shapes[0], shapes[1], shapes[2])
        profile[name] = (shapes[0], shapes[1], shapes[2])
    return profile


def _check_profile(name: str, lo: Sequence[int], opt: Sequence[int], hi: Sequence[int]) -> None:
    if not (len(lo) == len(opt) == len(hi)):
        raise ValueError(f"profile for '{name}': min/opt/max ranks differ ({lo}, {opt}, {hi})")
    if any(d < 1 for d in (*lo, *opt, *hi)):
        raise ValueError(f"profile for '{name}': dimensions must be >= 1 ({lo}, {opt}, {hi})")
    if any(not (a <= b <= c) for a, b, c in zip(lo, opt, hi, strict=True)):
        raise ValueError(f"profile for '{name}': need min <= opt <= max per dimension ({lo}, {opt}, {hi})")


def normalize_profile(
    profile: Mapping[str, Any] | None,
) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] | None:
    """Check a profile request; a single shape (``{"image": (1, 3, 192, 256)}``) means min = opt = max.

    Raises
    ------
    ValueError
        A value that is neither one shape nor (min, opt, max) shapes, or inconsistent shapes.
    """
    if not profile:
        return None
    out = {}
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
        _check_profile(name, *shapes)
        out[str(name)] = shapes
    return out


def _profile_text(profile: ProfileShapes | None, max_batch: int) -> str:
    """Canonical text of a (normalised) profile request, part of the cache key."""
    items = sorted((name, [list(map(int, s)) for s in shapes]) for name, shapes in (profile or {}).items())
    return repr((items, int(max_batch)))


def _resolve_profile(
    name: str, shape: Sequence[int], profile: ProfileShapes | None, max_batch: int
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None:
    """(min, opt, max) for a network input with ``shape`` (-1 = dynamic); None when the input is static."""
    dims = tuple(int(d) for d in shape)
    if profile and name in profile:
        lo, opt, hi = (tuple(int(d) for d in s) for s in profile[name])
        _check_profile(name, lo, opt, hi)
        for given in (lo, opt, hi):
            if len(given) != len(dims) or any(d >= 0 and d != g for d, g in zip(dims, given, strict=True)):
                raise EngineBuildError(f"profile for input '{name}' {given} does not fit the model's shape {dims}")
        return lo, opt, hi
    if all(d >= 0 for d in dims):
        return None
    if any(d < 0 for d in dims[1:]):
        raise EngineBuildError(
            f"input '{name}' has dynamic dimensions {dims} beyond the batch; give an optimisation profile "
            f"(profile_shapes={{'{name}': (min, opt, max)}} or --profile {name}:MIN:OPT:MAX)"
        )
    # Only the batch is dynamic: 1 person-crop is the common case, up to max_batch.
    rest = dims[1:]
    return (1, *rest), (1, *rest), (max_batch, *rest)


# ---------------------------------------------------------------------------------------------- engine build
def build_serialized_engine(
    trt: Any,
    model_path: Path,
    *,
    fp16: bool,
    workspace_mb: int,
    profile: ProfileShapes | None,
    max_batch: int,
    trt_logger: Any,
) -> bytes:
    """Parse an ONNX file and build a serialised TensorRT engine.

    Raises
    ------
    ModelLoadError
        The ONNX parser rejects the file (all parser errors are in the message).
    EngineBuildError
        Building failed (unsupported layer, out of workspace...).
    """
    builder = trt.Builder(trt_logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse(model_path.read_bytes(), str(model_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelLoadError(f"TensorRT cannot parse ONNX model {model_path}: {errors or 'unknown parser error'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) * _MIB)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    opt_profile = None
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shapes = _resolve_profile(tensor.name, tuple(tensor.shape), profile, max_batch)
        if shapes is not None:
            opt_profile = opt_profile or builder.create_optimization_profile()
            opt_profile.set_shape(tensor.name, *shapes)
    if opt_profile is not None:
        config.add_optimization_profile(opt_profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(f"TensorRT failed to build an engine from {model_path} (see the TensorRT log above)")
    return bytes(serialized)


@dataclass(frozen=True)
class BuildResult:
    """Where an engine is, and whether it came from the cache."""

    engine_path: Path
    key: EngineKey
    cache_status: str
    build_seconds: float


def ensure_engine(
    model_path: str | os.PathLike[str],
    *,
    fp16: bool = False,
    workspace_mb: int = 1024,
    cache_dir: str | os.PathLike[str] | None = None,
    profile: ProfileShapes | None = None,
    max_batch: int = 1,
    device_id: int = 0,
    force: bool = False,
    logger: Any = None,
) -> BuildResult:
    """Return a cached engine for the model, building (and caching) it when missing, stale or corrupt.

    Parameters
    ----------
    model_path : path-like
        The ONNX file.
    fp16 : bool
        Allow FP16 kernels.
    workspace_mb : int
        Builder workspace limit, MiB.
    cache_dir : path-like, optional
        Engine cache directory (:func:`~pose3d_ros.inference.engine_cache.default_cache_dir` when None).
    profile : mapping, optional
        Input name -> (min, opt, max) shapes, or one shape (fixed), for dynamic inputs.
    max_batch : int
        Batch range when only the first dimension is dynamic and no profile is given.
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
    trt, cuda = import_tensorrt(device_id)
    device = cuda.Device(device_id)
    key = EngineKey(
        model_sha256=file_sha256(path),
        tensorrt_version=str(trt.__version__),
        gpu_name=str(cuda_call(device.name, what="cuDeviceGetName")),
        compute_capability=tuple(cuda_call(device.compute_capability, what="cuDeviceComputeCapability")),
        fp16=bool(fp16),
        profile=_profile_text(profile, max_batch),
    )
    cache = EngineCache(cache_dir)
    lookup = cache.load(key, path.stem)
    if lookup.status == "hit" and not force:
        return BuildResult(lookup.engine_path, key, "hit", 0.0)
    if lookup.status in ("stale", "corrupt"):
        log.warning(f"rebuilding TensorRT engine: {lookup.reason}")
    log.info(f"building TensorRT engine for {path} (fp16={fp16}, workspace {workspace_mb} MiB); this can take minutes")
    trt_logger = trt.Logger(trt.Logger.WARNING)
    context = cuda_call(device.retain_primary_context, what="cuDevicePrimaryCtxRetain")
    cuda_call(context.push, what="cuCtxPushCurrent")
    try:
        start = time.monotonic()
        data = build_serialized_engine(
            trt, path, fp16=fp16, workspace_mb=workspace_mb, profile=profile, max_batch=max_batch,
            trt_logger=trt_logger,
        )
        seconds = time.monotonic() - start
    finally:
        cuda_call(cuda.Context.pop, what="cuCtxPopCurrent")
        cuda_call(context.detach, what="cuDevicePrimaryCtxRelease")
    engine_path = cache.store(
        key, path.stem, data, extra={"model_path": str(path.resolve()), "workspace_mb": workspace_mb,
                                     "build_seconds": round(seconds, 2), "built_at": time.time()},
    )
    log.info(f"TensorRT engine built in {seconds:.1f} s: {engine_path}")
    return BuildResult(engine_path, key, "built" if lookup.status == "miss" else f"rebuilt ({lookup.status})",
                       seconds)


# ---------------------------------------------------------------------------------------------- buffers
class DeviceBuffers:
    """Pinned host + device memory for every I/O tensor, sized for the profile's largest shapes.

    Parameters
    ----------
    cuda : module
        ``pycuda.driver``.
    sizes : mapping of str to (int, numpy.dtype)
        Tensor name -> (max element count, dtype).
    """

    def __init__(self, cuda: Any, sizes: Mapping[str, tuple[int, np.dtype]]) -> None:
        self._cuda = cuda
        self.host: dict[str, np.ndarray] = {}
        self.device: dict[str, Any] = {}
        try:
            for name, (count, dtype) in sizes.items():
                # Pinned memory lets the async copies overlap and is what memcpy_*_async requires.
                self.host[name] = cuda_call(cuda.pagelocked_empty, max(int(count), 1), dtype, what="cuMemHostAlloc")
                self.device[name] = cuda_call(cuda.mem_alloc, self.host[name].nbytes, what="cuMemAlloc")
        except BaseException:
            self.free()
            raise

    def address(self, name: str) -> int:
        """Device pointer of a tensor's buffer."""
        return int(self.device[name])

    def free(self) -> None:
        """Free all device and pinned host memory (idempotent)."""
        for alloc in self.device.values():
            cuda_call(alloc.free, what="cuMemFree")
        for array in self.host.values():
            base = getattr(array, "base", None)
            if base is not None and hasattr(base, "free"):
                cuda_call(base.free, what="cuMemFreeHost")
        self.device.clear()
        self.host.clear()


# ---------------------------------------------------------------------------------------------- backend
class TensorRTBackend(InferenceBackend):
    """Run an ONNX model through a TensorRT 10 engine (built once, cached on disk).

    Parameters
    ----------
    model_path : path-like
        The ONNX file (the engine is built from it, or loaded from the cache).
    fp16 : bool
        Allow FP16 kernels.
    workspace_mb : int
        Builder workspace limit, MiB.
    engine_cache_dir : path-like, optional
        Engine cache directory (default: see :func:`~pose3d_ros.inference.engine_cache.default_cache_dir`).
    profile_shapes : mapping, optional
        Input name -> (min, opt, max) shapes, or one shape (fixed), for dynamic inputs; e.g.
        ``{"image": (1, 3, 192, 256)}`` for a 2D model fed at a fixed letterboxed size.
    max_batch : int
        Batch range when only the batch dimension is dynamic and no profile is given.
    device_id : int
        CUDA device.
    logger : logging.Logger-like, optional
        Receives build/rebuild messages.

    Raises
    ------
    BackendUnavailable
        No TensorRT 10, no pycuda, or no GPU.
    ModelLoadError, EngineBuildError
        The model cannot be parsed / built.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        fp16: bool = False,
        workspace_mb: int = 1024,
        engine_cache_dir: str | os.PathLike[str] | None = None,
        profile_shapes: ProfileShapes | None = None,
        max_batch: int = 1,
        device_id: int = 0,
        logger: Any = None,
    ) -> None:
        super().__init__()
        self._log = logger or _LOG
        self.model_path = Path(model_path)
        self.name = f"tensorrt:cuda{device_id}" + (":fp16" if fp16 else "")
        build_args = dict(
            fp16=fp16, workspace_mb=workspace_mb, cache_dir=engine_cache_dir, profile=profile_shapes,
            max_batch=max_batch, device_id=device_id, logger=self._log,
        )
        result = ensure_engine(self.model_path, **build_args)
        trt, cuda = import_tensorrt(device_id)
        self._trt, self._cuda = trt, cuda
        self.engine_path = result.engine_path
        self._buffers: DeviceBuffers | None = None
        # One set of buffers and one stream: concurrent run() calls (several ROS callback threads) take turns.
        self._lock = threading.Lock()
        self._context = cuda_call(cuda.Device(device_id).retain_primary_context, what="cuDevicePrimaryCtxRetain")
        self._push()
        try:
            self._trt_logger = trt.Logger(trt.Logger.WARNING)
            self._runtime = trt.Runtime(self._trt_logger)
            engine = self._runtime.deserialize_cuda_engine(result.engine_path.read_bytes())
            if engine is None:
                # Checksum matched but TensorRT refused it (e.g. driver change): rebuild once, not crash.
                self._log.warning(f"TensorRT could not deserialise {result.engine_path}; rebuilding")
                EngineCache(engine_cache_dir).invalidate(result.key, self.model_path.stem)
                result = ensure_engine(self.model_path, **build_args)
                self.engine_path = result.engine_path
                engine = self._runtime.deserialize_cuda_engine(result.engine_path.read_bytes())
                if engine is None:
                    raise EngineBuildError(f"TensorRT cannot deserialise the freshly built {result.engine_path}")
            self._engine = engine
            self._exec = engine.create_execution_context()
            if self._exec is None:
                raise EngineBuildError(f"cannot create an execution context for {result.engine_path}")
            self._stream = cuda_call(cuda.Stream, what="cuStreamCreate")
            self._setup_io()
        except BaseException:
            self._release()
            self._pop()
            cuda_call(self._context.detach, what="cuDevicePrimaryCtxRelease")
            raise
        self._pop()

    # -------------------------------------------------------------- setup
    def _setup_io(self) -> None:
        trt, engine = self._trt, self._engine
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs, outputs = [], []
        self._profile: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        for name in names:
            shape = tuple(int(d) for d in engine.get_tensor_shape(name))
            spec = TensorSpec(name, tuple(d if d >= 0 else None for d in shape),
                              np.dtype(trt.nptype(engine.get_tensor_dtype(name))))
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                inputs.append(spec)
                if any(d < 0 for d in shape):
                    lo, _, hi = engine.get_tensor_profile_shape(name, 0)
                    self._profile[name] = (tuple(lo), tuple(hi))
                else:
                    self._profile[name] = (shape, shape)
            else:
                outputs.append(spec)
        self._inputs, self._outputs = tuple(inputs), tuple(outputs)
        # Largest output shapes follow from the largest input shapes.
        for spec in self._inputs:
            if not self._exec.set_input_shape(spec.name, self._profile[spec.name][1]):
                raise EngineBuildError(f"engine rejects the profile's max shape for '{spec.name}'")
        sizes = {s.name: (int(np.prod(self._profile[s.name][1])), s.dtype) for s in self._inputs}
        for spec in self._outputs:
            shape = tuple(int(d) for d in self._exec.get_tensor_shape(spec.name))
            if any(d < 0 for d in shape):
                raise EngineBuildError(f"output '{spec.name}' has data-dependent shape {shape}; not supported")
            sizes[spec.name] = (int(np.prod(shape)), spec.dtype)
        self._buffers = DeviceBuffers(self._cuda, sizes)
        for name in names:  # buffers never move, so addresses are bound once
            if not self._exec.set_tensor_address(name, self._buffers.address(name)):
                raise EngineBuildError(f"cannot bind the buffer of tensor '{name}'")

    # -------------------------------------------------------------- run
    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            return self._run_locked(feed)

    def _run_locked(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        buffers, cuda, stream = self._buffers, self._cuda, getattr(self, "_stream", None)
        if buffers is None or stream is None:
            raise InferenceError(f"{self.name}: buffers are freed")
        for name, array in feed.items():
            lo, hi = self._profile[name]
            if any(not (a <= d <= b) for a, d, b in zip(lo, array.shape, hi, strict=True)):
                raise InputValidationError(
                    f"input '{name}' shape {array.shape} is outside the engine's profile {lo}..{hi}; "
                    "rebuild with a wider profile"
                )
        self._push()
        try:
            for name, array in feed.items():
                if not self._exec.set_input_shape(name, array.shape):
                    raise InputValidationError(f"TensorRT rejects shape {array.shape} for input '{name}'")
                host = buffers.host[name][: array.size]
                np.copyto(host, array.reshape(-1))
                cuda_call(cuda.memcpy_htod_async, buffers.device[name], host, stream, what="cuMemcpyHtoDAsync")
            if not self._exec.execute_async_v3(stream.handle):
                raise InferenceError(f"{self.name}: execute_async_v3 failed on {self.engine_path}")
            views = {}
            for spec in self._outputs:
                shape = tuple(int(d) for d in self._exec.get_tensor_shape(spec.name))
                host = buffers.host[spec.name][: int(np.prod(shape))]
                cuda_call(cuda.memcpy_dtoh_async, host, buffers.device[spec.name], stream, what="cuMemcpyDtoHAsync")
                views[spec.name] = host.reshape(shape)
            cuda_call(stream.synchronize, what="cuStreamSynchronize")
        finally:
            self._pop()
        # Copies: the pinned buffers are reused by the next run.
        return {name: view.copy() for name, view in views.items()}

    # -------------------------------------------------------------- context / lifetime
    def _push(self) -> None:
        # pycuda contexts are per thread: ROS callbacks may run on another thread than the constructor.
        cuda_call(self._context.push, what="cuCtxPushCurrent")

    def _pop(self) -> None:
        cuda_call(self._cuda.Context.pop, what="cuCtxPopCurrent")

    def _release(self) -> None:
        if self._buffers is not None:
            self._buffers.free()
            self._buffers = None
        for attr in ("_exec", "_engine", "_runtime", "_stream"):
            if hasattr(self, attr):
                delattr(self, attr)  # TensorRT objects free on destruction, inside the pushed context

    def _close(self) -> None:
        with self._lock:  # never free buffers under a running inference
            self._push()
            try:
                self._release()
            finally:
                self._pop()
        cuda_call(self._context.detach, what="cuDevicePrimaryCtxRelease")
