"""The one interface every inference backend implements.

Like ``onnx.backend.base`` (prepare once, ``run`` per frame) and mmdeploy's ``BaseWrapper`` (a dict of named numpy
arrays in, a dict of named numpy arrays out, ordered ``output_names``): callers never see the engine.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

import numpy as np

from .errors import InferenceError, InputValidationError

__all__ = ["TensorSpec", "InferenceBackend"]


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and dtype of one model input or output.

    Attributes
    ----------
    name : str
        Tensor name in the model.
    shape : tuple of (int or None)
        Dimensions; ``None`` marks a dynamic dimension (batch, image size...).
    dtype : numpy.dtype
        Element type.
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype

    def accepts(self, shape: tuple[int, ...]) -> bool:
        """Whether a concrete ``shape`` fits this spec (same rank, equal static dimensions)."""
        if len(shape) != len(self.shape):
            return False
        return all(want is None or want == got for want, got in zip(self.shape, shape, strict=True))


class InferenceBackend(abc.ABC):
    """A loaded model that maps named numpy inputs to named numpy outputs.

    Subclasses fill ``_inputs`` / ``_outputs`` (in model order) when they load the model and implement
    :meth:`_run` and :meth:`_close`. :meth:`run` validates the inputs first, so ``_run`` gets C-contiguous arrays
    of the right dtype and rank, keyed exactly by :attr:`input_names`.
    """

    #: Short identifier of the backend/device actually in use, e.g. ``"onnxruntime:cpu"``.
    name: str = "backend"

    def __init__(self) -> None:
        self._inputs: tuple[TensorSpec, ...] = ()
        self._outputs: tuple[TensorSpec, ...] = ()
        self._closed = False

    # ------------------------------------------------------------------ model description
    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        """Input specs in model order."""
        return self._inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        """Output specs in model order."""
        return self._outputs

    @property
    def input_names(self) -> list[str]:
        """Input names in model order."""
        return [spec.name for spec in self._inputs]

    @property
    def output_names(self) -> list[str]:
        """Output names in model order (the order of the dict :meth:`run` returns)."""
        return [spec.name for spec in self._outputs]

    @property
    def input_shapes(self) -> dict[str, tuple[int | None, ...]]:
        """Input name -> shape, ``None`` for dynamic dimensions."""
        return {spec.name: spec.shape for spec in self._inputs}

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    # ------------------------------------------------------------------ inference
    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model once.

        Parameters
        ----------
        inputs : mapping of str to numpy.ndarray
            One array per model input, keyed by :attr:`input_names`. Non-contiguous arrays are copied to
            contiguous memory; dtypes are not converted (a mismatch raises).

        Returns
        -------
        dict of str to numpy.ndarray
            One array per model output, in :attr:`output_names` order. The arrays are owned by the caller.

        Raises
        ------
        InputValidationError
            Missing or unknown input names, wrong dtype, wrong rank or a static dimension that differs.
        InferenceError
            The backend is closed or the runtime failed.
        """
        if self._closed:
            raise InferenceError(f"{self.name}: run() called after close()")
        return self._run(self.validate_inputs(inputs))

    def validate_inputs(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Check ``inputs`` against the model's input specs and return them C-contiguous.

        Raises
        ------
        InputValidationError
            See :meth:`run`.
        """
        if not isinstance(inputs, Mapping):
            raise InputValidationError(f"inputs must be a dict of name -> numpy array, got {type(inputs).__name__}")
        expected = self.input_names
        missing = [n for n in expected if n not in inputs]
        unknown = [n for n in inputs if n not in expected]
        if missing or unknown:
            raise InputValidationError(
                f"input names do not match the model: missing {missing}, unknown {unknown}; "
                f"the model expects {expected}"
            )
        feed: dict[str, np.ndarray] = {}
        for spec in self._inputs:
            value = inputs[spec.name]
            if not isinstance(value, np.ndarray):
                raise InputValidationError(f"input '{spec.name}' must be a numpy array, got {type(value).__name__}")
            if value.dtype != spec.dtype:
                raise InputValidationError(
                    f"input '{spec.name}' has dtype {value.dtype}, the model expects {spec.dtype}"
                )
            if not spec.accepts(value.shape):
                wanted = tuple("?" if d is None else d for d in spec.shape)
                raise InputValidationError(
                    f"input '{spec.name}' has shape {value.shape}, the model expects {wanted} (? = any size)"
                )
            # Runtimes copy raw memory: a strided view would be read as garbage or rejected.
            feed[spec.name] = np.ascontiguousarray(value)
        return feed

    @abc.abstractmethod
    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run validated, contiguous ``feed``; return outputs in :attr:`output_names` order."""

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Release the runtime's resources (idempotent)."""
        if not self._closed:
            self._closed = True
            self._close()

    @abc.abstractmethod
    def _close(self) -> None:
        """Free sessions, engines, buffers."""

    def __enter__(self) -> InferenceBackend:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {self.name} inputs={self.input_names} outputs={self.output_names} {state}>"
