"""Native TensorRT 10 backend (runtime): deserialise the cached engine, pinned host + device buffers, run.

Follows NVIDIA's ``samples/python/common_runtime.py`` (TensorRT 10 named-tensor API: ``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``; every CUDA call through one checker; buffers in a class with
``free()``), with pycuda instead of cuda-python because pycuda is the package's GPU dependency. The engine comes
from :func:`~pose3d_ros.inference.tensorrt_build.ensure_engine` (built from the ONNX model once, cached on disk);
``tensorrt`` and ``pycuda`` are imported lazily: on a machine without them (or without a GPU) constructing
:class:`TensorRTBackend` raises :class:`~pose3d_ros.inference.errors.BackendUnavailable` with one message.

Not run on a GPU in the session that wrote it (no GPU was available); ``test/test_inference_tensorrt_gpu.py``
runs it where one is.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .base import InferenceBackend, TensorSpec
from .cuda_status import cuda_call, import_tensorrt
from .engine_cache import EngineCache
from .errors import EngineBuildError, InferenceError, InputValidationError
from .tensorrt_build import MAX_FRAME_ASPECT, ProfileShapes, ensure_engine

__all__ = ["DeviceBuffers", "TensorRTBackend"]

_LOG = logging.getLogger(__name__)


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
        ``{"image": (1, 3, 192, 256)}`` for a 2D model fed at a fixed letterboxed size. The pipeline passes
        :func:`~pose3d_ros.inference.tensorrt_build.profile_for` (so does ``pose3d-ros build-engine``).
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
                    f"input '{name}' shape {array.shape} is outside the engine's optimisation profile {lo}..{hi} "
                    f"(the pipeline's covers frames up to {MAX_FRAME_ASPECT:g}:1 either way); a wider one needs "
                    "profile_shapes= or pose3d-ros build-engine --profile"
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
