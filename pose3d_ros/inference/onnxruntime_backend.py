"""ONNX Runtime backend (the default): CPU, or CUDA / TensorRT execution providers with ``onnxruntime-gpu``.

Like mmdeploy's ONNX Runtime wrapper: output names come from ``get_outputs()`` and the provider list from one
device string.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .base import InferenceBackend, TensorSpec
from .errors import BackendUnavailable, InferenceError, ModelLoadError

__all__ = ["OnnxRuntimeBackend", "GRAPH_OPTIMIZATION_LEVELS", "ORT_DEVICES", "ort_providers"]

#: Accepted ``graph_optimization`` values -> ONNX Runtime levels.
GRAPH_OPTIMIZATION_LEVELS: dict[str, ort.GraphOptimizationLevel] = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}

#: Device string -> the execution provider that must be active for it (CPU is always appended as fallback
#: for operators the GPU provider does not implement).
ORT_DEVICES: dict[str, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}

# ONNX tensor type strings (``NodeArg.type``) -> numpy dtypes.
_ORT_DTYPES: dict[str, np.dtype] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(double)": np.dtype(np.float64),
    "tensor(int8)": np.dtype(np.int8),
    "tensor(int16)": np.dtype(np.int16),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(uint8)": np.dtype(np.uint8),
    "tensor(uint16)": np.dtype(np.uint16),
    "tensor(bool)": np.dtype(np.bool_),
}

_MIB = 1 << 20


def ort_providers(
    device: str,
    *,
    device_id: int = 0,
    fp16: bool = False,
    workspace_mb: int = 1024,
    engine_cache_dir: str | os.PathLike[str] | None = None,
) -> list[str | tuple[str, dict[str, object]]]:
    """ONNX Runtime provider list for one device string.

    Parameters
    ----------
    device : {"cpu", "cuda", "tensorrt"}
        ``"tensorrt"`` means ONNX Runtime's TensorRT execution provider (then CUDA, then CPU for the rest).
    device_id : int
        GPU index for the CUDA / TensorRT providers.
    fp16 : bool
        Let the TensorRT provider use FP16 kernels.
    workspace_mb : int
        TensorRT provider workspace limit, MiB.
    engine_cache_dir : path-like, optional
        Where the TensorRT provider caches its engines (no cache when None).

    Returns
    -------
    list
        Provider names / ``(name, options)`` pairs for ``InferenceSession(providers=...)``.

    Raises
    ------
    ValueError
        Unknown ``device``.
    """
    if device not in ORT_DEVICES:
        raise ValueError(f"unknown ONNX Runtime device {device!r}; expected one of {sorted(ORT_DEVICES)}")
    cuda = ("CUDAExecutionProvider", {"device_id": device_id})
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        return [cuda, "CPUExecutionProvider"]
    trt_options: dict[str, object] = {
        "device_id": device_id,
        "trt_fp16_enable": bool(fp16),
        "trt_max_workspace_size": int(workspace_mb) * _MIB,
    }
    if engine_cache_dir is not None:
        trt_options["trt_engine_cache_enable"] = True
        trt_options["trt_engine_cache_path"] = str(engine_cache_dir)
    return [("TensorrtExecutionProvider", trt_options), cuda, "CPUExecutionProvider"]


class OnnxRuntimeBackend(InferenceBackend):
    """Run an ONNX model with ONNX Runtime.

    Parameters
    ----------
    model_path : path-like
        The ``.onnx`` file.
    device : {"cpu", "cuda", "tensorrt"}
        Which execution provider must run the model (see :func:`ort_providers`).
    threads : int, optional
        Intra-op threads (``None``: ONNX Runtime's default, one per physical core).
    graph_optimization : {"disable", "basic", "extended", "all"}
        ONNX Runtime graph optimisation level.
    allow_spinning : bool, optional
        Whether idle intra-op threads busy-wait for the next job (ONNX Runtime's default: yes). Spinning lowers
        latency on an idle machine but burns cores the rest of the node needs on a small CPU.
    device_id, fp16, workspace_mb, engine_cache_dir
        GPU provider options, see :func:`ort_providers`; ignored on CPU.

    Raises
    ------
    ModelLoadError
        The file is missing or ONNX Runtime cannot load it (the message names the file).
    BackendUnavailable
        The provider for ``device`` is not installed, or ONNX Runtime could not activate it (no GPU / CUDA libs).
    ValueError
        Bad ``device``, ``threads`` or ``graph_optimization`` value.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        device: str = "cpu",
        threads: int | None = None,
        graph_optimization: str = "all",
        allow_spinning: bool | None = None,
        device_id: int = 0,
        fp16: bool = False,
        workspace_mb: int = 1024,
        engine_cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
            raise ValueError(f"threads must be a positive int or None, got {threads!r}")
        if graph_optimization not in GRAPH_OPTIMIZATION_LEVELS:
            raise ValueError(
                f"unknown graph_optimization {graph_optimization!r}; expected one of {list(GRAPH_OPTIMIZATION_LEVELS)}"
            )
        providers = ort_providers(
            device, device_id=device_id, fp16=fp16, workspace_mb=workspace_mb, engine_cache_dir=engine_cache_dir
        )
        wanted = ORT_DEVICES[device]
        if wanted not in ort.get_available_providers():
            raise BackendUnavailable(
                f"ONNX Runtime has no {wanted} for device {device!r} (available: {ort.get_available_providers()}); "
                "install onnxruntime-gpu on a machine with an NVIDIA GPU, or use device='cpu'"
            )
        path = Path(model_path)
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")

        options = ort.SessionOptions()
        options.graph_optimization_level = GRAPH_OPTIMIZATION_LEVELS[graph_optimization]
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = 0 if threads is None else threads  # 0 = ONNX Runtime's default
        options.inter_op_num_threads = 1  # sequential graph: a second pool would only compete for cores
        options.log_severity_level = 3  # errors only; ONNX Runtime's warnings are noise for users
        if allow_spinning is not None:
            options.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
        try:
            session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # ONNX Runtime raises its own pybind types (InvalidProtobuf, Fail, ...)
            if device != "cpu" and _loads_on_cpu(path):
                # The model is fine: the GPU provider is what failed (driver, CUDA libraries, unsupported GPU).
                raise BackendUnavailable(f"ONNX Runtime cannot run {path} with {wanted}: {exc}") from exc
            raise ModelLoadError(f"cannot load ONNX model {path}: {exc}") from exc
        # ONNX Runtime silently drops a GPU provider whose libraries fail to load: check what is really active.
        if wanted not in session.get_providers():
            raise BackendUnavailable(
                f"ONNX Runtime could not activate {wanted} for {path} (active: {session.get_providers()}); "
                "check the CUDA/cuDNN/TensorRT libraries and the GPU driver"
            )
        self._session: ort.InferenceSession | None = session
        self.model_path = path
        self.device = device
        self.threads = threads
        self.graph_optimization = graph_optimization
        self.allow_spinning = allow_spinning
        self.name = f"onnxruntime:{device}"
        self._inputs = tuple(_spec(arg, path) for arg in session.get_inputs())
        self._outputs = tuple(_spec(arg, path) for arg in session.get_outputs())

    @property
    def intra_op_threads(self) -> int:
        """Intra-op thread count the session was created with (0 = ONNX Runtime's default)."""
        return 0 if self._session is None else int(self._session.get_session_options().intra_op_num_threads)

    @property
    def providers(self) -> list[str]:
        """Execution providers active in the session, in priority order."""
        return [] if self._session is None else list(self._session.get_providers())

    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        session = self._session
        if session is None:
            raise InferenceError(f"{self.name}: the session is closed")
        names = self.output_names
        try:
            values = session.run(names, feed)
        except Exception as exc:
            raise InferenceError(f"{self.name}: inference failed on {self.model_path}: {exc}") from exc
        return dict(zip(names, values, strict=True))

    def _close(self) -> None:
        self._session = None  # the session frees its memory when the last reference goes


def _spec(arg: ort.NodeArg, path: Path) -> TensorSpec:
    """TensorSpec of an ONNX Runtime NodeArg (symbolic / unknown dimensions -> None)."""
    dtype = _ORT_DTYPES.get(arg.type)
    if dtype is None:
        raise ModelLoadError(f"model {path}: tensor '{arg.name}' has unsupported type {arg.type}")
    shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in arg.shape)
    return TensorSpec(arg.name, shape, dtype)


def _loads_on_cpu(path: Path) -> bool:
    """Whether ONNX Runtime can load ``path`` on CPU (tells a broken model from a broken GPU provider)."""
    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception:
        return False
    return True
