"""Inference backends behind one interface: ONNX Runtime (default) and TensorRT 10 (+ pycuda).

>>> from pose3d_ros.inference import create_backend
>>> with create_backend("model.onnx", device="cpu", threads=2) as backend:  # doctest: +SKIP
...     outputs = backend.run({backend.input_names[0]: image})
"""

from .base import InferenceBackend, TensorSpec
from .engine_cache import EngineCache, EngineKey, default_cache_dir, file_sha256
from .errors import (
    BackendUnavailable,
    CudaError,
    EngineBuildError,
    InferenceError,
    InputValidationError,
    ModelLoadError,
)
from .factory import DEVICES, BackendOptions, create_backend, create_backend_from_options

__all__ = [
    "DEVICES",
    "BackendOptions",
    "BackendUnavailable",
    "CudaError",
    "EngineBuildError",
    "EngineCache",
    "EngineKey",
    "InferenceBackend",
    "InferenceError",
    "InputValidationError",
    "ModelLoadError",
    "TensorSpec",
    "create_backend",
    "create_backend_from_options",
    "default_cache_dir",
    "file_sha256",
]
