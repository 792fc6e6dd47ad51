"""Exceptions raised by the inference backends.

Every backend failure derives from :class:`InferenceError`, so callers (the pipeline, the ROS node) can catch one
type; the subclasses say *what* went wrong so the caller can react (fall back, report, re-raise).
"""

from __future__ import annotations

__all__ = [
    "InferenceError",
    "ModelLoadError",
    "BackendUnavailable",
    "InputValidationError",
    "EngineBuildError",
    "CudaError",
]


class InferenceError(RuntimeError):
    """Base class of every error raised by :mod:`pose3d_ros.inference`."""


class ModelLoadError(InferenceError):
    """The model file is missing, unreadable or not a valid model; the message names the file."""


class BackendUnavailable(InferenceError):
    """The requested backend cannot run here (library not installed, no GPU, missing execution provider)."""


class InputValidationError(InferenceError, ValueError):
    """The inputs given to ``run`` do not match the model (name, dtype, rank or shape)."""


class EngineBuildError(InferenceError):
    """TensorRT could not parse the ONNX model or build an engine from it."""


class CudaError(InferenceError):
    """A CUDA driver/runtime call failed; the message names the call and the CUDA status."""
