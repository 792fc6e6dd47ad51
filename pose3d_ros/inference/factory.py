"""One entry point that turns a device string into a backend, with an optional fallback to ONNX Runtime CPU."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..settings import known_keys_only
from .base import InferenceBackend
from .errors import BackendUnavailable, EngineBuildError, ModelLoadError

if TYPE_CHECKING:
    from .tensorrt_build import ProfileShapes

__all__ = ["DEVICES", "DEPRECATED_DEVICES", "BackendOptions", "create_backend", "create_backend_from_options"]

_LOG = logging.getLogger(__name__)

#: Accepted ``device`` values.
#: ``cpu`` ONNX Runtime on CPU (default); ``cuda`` ONNX Runtime's CUDA provider; ``tensorrt`` the native TensorRT
#: backend (TensorRT 10 + pycuda), else ONNX Runtime's TensorRT provider when ``onnxruntime-gpu`` has it;
#: ``ort-tensorrt`` ONNX Runtime's TensorRT provider only.
DEVICES = ("cpu", "cuda", "tensorrt", "ort-tensorrt")

#: Old names still accepted where a device is configured (``PipelineConfig.backend``, the node's ``backend``
#: parameter, ``estimate --backend``) so that existing YAML keeps working: the config normalises them to the device
#: with a ``DeprecationWarning``. :func:`create_backend` takes :data:`DEVICES` only.
DEPRECATED_DEVICES: dict[str, str] = {"onnxruntime": "cpu"}

_SPINNING: dict[str, bool | None] = {"default": None, "on": True, "off": False}


def create_backend(
    model_path: str | os.PathLike[str],
    device: str = "cpu",
    threads: int | None = None,
    fp16: bool = False,
    workspace_mb: int = 1024,
    engine_cache_dir: str | os.PathLike[str] | None = None,
    fallback_to_cpu: bool = True,
    logger: Any = None,
    *,
    graph_optimization: str = "all",
    allow_spinning: bool | None = False,
    device_id: int = 0,
    profile_shapes: ProfileShapes | None = None,
    max_batch: int = 1,
) -> InferenceBackend:
    """Load ``model_path`` on ``device``.

    Parameters
    ----------
    model_path : path-like
        ONNX model.
    device : {"cpu", "cuda", "tensorrt", "ort-tensorrt"}
        See :data:`DEVICES`.
    threads : int, optional
        ONNX Runtime intra-op threads (CPU work; ``None`` = ONNX Runtime default).
    fp16 : bool
        Allow FP16 kernels (TensorRT only).
    workspace_mb : int
        TensorRT builder workspace, MiB.
    engine_cache_dir : path-like, optional
        Where TensorRT engines are cached (default: ``~/.cache/pose3d_ros/engines``).
    fallback_to_cpu : bool
        When the GPU backend is unavailable (no library, no GPU) or TensorRT cannot build the model, log one
        warning and return ONNX Runtime on CPU instead of raising.
    logger : logging.Logger-like, optional
        Receives the fallback warning (``.warning(str)``); rclpy loggers work too.
    graph_optimization : {"disable", "basic", "extended", "all"}
        ONNX Runtime graph optimisation level.
    allow_spinning : bool or None
        Whether ONNX Runtime's idle threads busy-wait (``None`` = ONNX Runtime's default, which spins). Off by
        default: on the 2-core target with other work on the cores, spinning never helped and with 2 threads cost
        25-40 % (bench/bench_backends.py, shipped OpenPose model at 192x256: 2 threads 110 ms spinning vs 83 ms not).
    device_id : int
        GPU index.
    profile_shapes : mapping, optional
        TensorRT optimisation profile: input name -> (min, opt, max) shapes, or one shape (fixed). Needed when
        an input has dynamic dimensions besides the batch (e.g. ``{"image": (1, 3, 192, 256)}``); the pipeline's
        is :func:`~pose3d_ros.inference.tensorrt_build.profile_for`.
    max_batch : int
        TensorRT batch range when only the batch dimension is dynamic.

    Returns
    -------
    InferenceBackend
        Its ``name`` says what actually runs (e.g. ``"onnxruntime:cpu"`` after a fallback).

    Raises
    ------
    ValueError
        Unknown ``device`` or bad option values.
    ModelLoadError
        Missing or corrupt model (never hidden by the fallback).
    BackendUnavailable, EngineBuildError
        The GPU backend failed and ``fallback_to_cpu`` is False.
    """
    from .onnxruntime_backend import OnnxRuntimeBackend  # onnxruntime loads only when a backend is made

    if device not in DEVICES:
        raise ValueError(f"unknown inference device {device!r}; expected one of {list(DEVICES)}")
    path = Path(model_path)
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}")
    log = logger or _LOG

    def ort(ort_device: str) -> InferenceBackend:
        return OnnxRuntimeBackend(
            path, device=ort_device, threads=threads, graph_optimization=graph_optimization,
            allow_spinning=allow_spinning, device_id=device_id, fp16=fp16, workspace_mb=workspace_mb,
            engine_cache_dir=engine_cache_dir,
        )

    if device == "cpu":
        return ort("cpu")
    failures: list[str] = []
    try:
        if device == "tensorrt":
            from .tensorrt_backend import TensorRTBackend

            try:
                return TensorRTBackend(
                    path, fp16=fp16, workspace_mb=workspace_mb, engine_cache_dir=engine_cache_dir,
                    profile_shapes=profile_shapes, max_batch=max_batch, device_id=device_id, logger=log,
                )
            except (BackendUnavailable, EngineBuildError) as exc:
                failures.append(str(exc))
            backend = ort("tensorrt")  # onnxruntime-gpu's TensorRT provider, when installed
            log.warning(f"native TensorRT unavailable, using ONNX Runtime's TensorRT provider: {failures[0]}")
            return backend
        return ort("tensorrt" if device == "ort-tensorrt" else "cuda")
    except (BackendUnavailable, EngineBuildError) as exc:
        failures.append(str(exc))
        if not fallback_to_cpu:
            # Every reason in one message: for "tensorrt", why native TensorRT *and* ONNX Runtime's provider failed.
            raise type(exc)(" | ".join(failures)) from exc
    backend = ort("cpu")
    # One warning per fallback, with every reason, so the log says why the GPU is not used.
    log.warning(f"inference device {device!r} unavailable, falling back to ONNX Runtime on CPU: {' | '.join(failures)}")
    return backend


@dataclasses.dataclass(frozen=True)
class BackendOptions:
    """Backend settings as they appear in a config file / ROS parameters (see :func:`create_backend`).

    ``threads = 0`` and ``engine_cache_dir = ""`` mean "ONNX Runtime's / the package's default" so that every field
    has a plain ROS parameter type; ``spinning`` is ``"off"`` (package default, see :func:`create_backend`),
    ``"on"`` or ``"default"`` (ONNX Runtime's choice).
    """

    device: str = "cpu"
    threads: int = 0
    graph_optimization: str = "all"
    spinning: str = "off"
    fp16: bool = False
    workspace_mb: int = 1024
    engine_cache_dir: str = ""
    fallback_to_cpu: bool = True
    device_id: int = 0
    max_batch: int = 1

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"unknown inference device {self.device!r}; expected one of {list(DEVICES)}")
        for name in ("threads", "workspace_mb", "device_id", "max_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        if self.spinning not in _SPINNING:
            raise ValueError(f"spinning must be one of {list(_SPINNING)}, got {self.spinning!r}")
        if self.workspace_mb < 1 or self.max_batch < 1:
            raise ValueError(f"workspace_mb and max_batch must be >= 1, got {self.workspace_mb}, {self.max_batch}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BackendOptions:
        """Build from a mapping (e.g. a YAML section); unknown keys raise.

        Raises
        ------
        ValueError
            Unknown keys or bad values.
        """
        return cls(**known_keys_only(cls, data, "inference backend option(s)"))


def create_backend_from_options(
    model_path: str | os.PathLike[str], options: BackendOptions, logger: Any = None
) -> InferenceBackend:
    """:func:`create_backend` with settings from :class:`BackendOptions`."""
    return create_backend(
        model_path,
        device=options.device,
        threads=options.threads or None,
        fp16=options.fp16,
        workspace_mb=options.workspace_mb,
        engine_cache_dir=options.engine_cache_dir or None,
        fallback_to_cpu=options.fallback_to_cpu,
        logger=logger,
        graph_optimization=options.graph_optimization,
        allow_spinning=_SPINNING[options.spinning],
        device_id=options.device_id,
        max_batch=options.max_batch,
    )
