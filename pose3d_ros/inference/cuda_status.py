"""CUDA failures as one exception type, and the check that TensorRT 10 + pycuda + a GPU are usable here.

Two styles of CUDA API reach this package. pycuda *raises*: every failure is a ``pycuda._driver.Error`` subclass
(``LogicError``, ``RuntimeError``, ``LaunchError``, ``MemoryError`` — older releases also derive ``MemoryError``
from the built-in one), created in C++ with ``PyErr_NewException("pycuda._driver.<name>")`` and re-exported by
``pycuda.driver``, with messages like ``"cuInit failed: no CUDA-capable device is detected"``. cuda-python
(``cuda.bindings``) *returns* ``(CUresult, *values)`` tuples instead. :func:`cuda_call` turns both into
:class:`~pose3d_ros.inference.errors.CudaError` naming the call; :func:`import_tensorrt` turns "no TensorRT, no
pycuda, no driver, no device" into one-line :class:`~pose3d_ros.inference.errors.BackendUnavailable` messages.
Nothing here imports ``tensorrt`` or ``pycuda`` at module import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import BackendUnavailable, CudaError

__all__ = [
    "MIN_TENSORRT_MAJOR",
    "UNAVAILABLE_HINT",
    "check_cuda_status",
    "cuda_call",
    "describe_cuda_exception",
    "import_tensorrt",
    "is_cuda_exception",
]

#: Oldest TensorRT major version the backend's named-tensor API (``execute_async_v3``) exists in.
MIN_TENSORRT_MAJOR = 10
#: What to do about it, appended to every "unavailable" message.
UNAVAILABLE_HINT = "install TensorRT 10 and pycuda on a machine with an NVIDIA GPU, or use device='cpu'"

# cuda-python (``cuda.bindings``) status enum type names -> their success value.
_STATUS_SUCCESS = {"CUresult": 0, "cudaError_t": 0, "nvrtcResult": 0}
# Top-level packages whose exceptions are CUDA failures (pycuda, cuda-python's ``cuda.*``).
_CUDA_PACKAGES = ("pycuda", "cuda")


def check_cuda_status(result: Any, what: str = "CUDA call") -> Any:
    """Check the return value of a CUDA call and strip its status.

    cuda-python calls return ``(status, *values)`` (``driver.cuInit(0)`` gives ``(CUresult.CUDA_SUCCESS,)``,
    ``driver.cuDeviceGetCount()`` gives ``(CUresult.CUDA_SUCCESS, 1)``); pycuda calls return their value directly
    and raise on failure (see :func:`cuda_call`). NVIDIA's sample checks ``CUresult`` with ``if`` and then
    ``cudaError_t`` with a second ``if``/``else``, so a *successful* ``CUresult`` falls into the ``else`` and raises
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
    if kind not in _STATUS_SUCCESS:
        return result
    if int(status) != _STATUS_SUCCESS[kind]:
        label = getattr(status, "name", str(status))
        raise CudaError(f"{what} failed: {kind} {label} ({int(status)})")
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def is_cuda_exception(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the CUDA libraries (any class of its MRO defined in ``pycuda.*`` or ``cuda.*``).

    pycuda's classes are made in C++ (``pycuda._driver.Error`` ...), so their ``__module__`` is ``pycuda._driver``;
    looking through the MRO also catches subclasses defined elsewhere. A ``TypeError`` from our own code is not
    one.
    """
    for cls in type(exc).__mro__:
        module = str(getattr(cls, "__module__", "") or "")
        if module.split(".")[0] in _CUDA_PACKAGES:
            return True
    return False


def describe_cuda_exception(exc: BaseException, what: str) -> str:
    """One line for a CUDA library exception: its message (which already names the CUDA function, e.g.
    ``"cuMemAlloc failed: out of memory"``), prefixed with ``what`` only when it does not, and its class.

    Examples
    --------
    >>> class RuntimeError_(Exception): ...
    >>> RuntimeError_.__module__, RuntimeError_.__name__ = "pycuda._driver", "RuntimeError"
    >>> describe_cuda_exception(RuntimeError_("cuInit failed: no CUDA-capable device is detected"), "cuInit")
    'cuInit failed: no CUDA-capable device is detected [pycuda._driver.RuntimeError]'
    """
    detail = " ".join(str(exc).split()) or "no message"
    head = detail.split(":", 1)[0]
    if not head.endswith(" failed"):
        detail = f"{what} failed: {detail}"
    return f"{detail} [{type(exc).__module__}.{type(exc).__name__}]"


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

    Returns
    -------
    object
        What ``func`` returned, with a cuda-python status stripped (:func:`check_cuda_status`).

    Raises
    ------
    CudaError
        The call raised a pycuda/CUDA exception (:func:`is_cuda_exception`) or returned a failure status.
    """
    label = what or getattr(func, "__qualname__", None) or repr(func)
    try:
        result = func(*args, **kwargs)
    except CudaError:
        raise
    except Exception as exc:
        if is_cuda_exception(exc):
            raise CudaError(describe_cuda_exception(exc, label)) from exc
        raise  # our own bugs stay what they are
    return check_cuda_status(result, label)


def _unavailable(reason: str) -> BackendUnavailable:
    return BackendUnavailable(f"TensorRT backend unavailable: {' '.join(reason.split())}; {UNAVAILABLE_HINT}")


def import_tensorrt(device_id: int = 0) -> tuple[Any, Any]:
    """Import ``tensorrt`` and ``pycuda.driver``, start the CUDA driver and check that device ``device_id`` exists.

    Parameters
    ----------
    device_id : int
        CUDA device index.

    Returns
    -------
    (module, module)
        ``tensorrt`` and ``pycuda.driver`` (initialised).

    Raises
    ------
    BackendUnavailable
        One line saying what is missing: TensorRT (or a version older than 10), pycuda, a working driver
        (``cuInit`` failed, e.g. "no CUDA-capable device is detected"), or the device.
    """
    try:
        import tensorrt as trt
    except (ImportError, OSError) as exc:  # OSError: the wheel is there but libnvinfer is not
        raise _unavailable(f"cannot import tensorrt ({exc})") from exc
    version = str(getattr(trt, "__version__", "unknown"))
    try:
        major = int(version.split(".")[0])
    except ValueError:
        major = -1
    if major < MIN_TENSORRT_MAJOR:
        raise _unavailable(f"TensorRT {version} found, {MIN_TENSORRT_MAJOR}.x or newer needed")
    try:
        import pycuda.driver as cuda
    except (ImportError, OSError) as exc:  # e.g. "libcuda.so.1: cannot open shared object file"
        raise _unavailable(f"cannot import pycuda ({exc})") from exc
    try:
        cuda_call(cuda.init, what="cuInit")
        count = int(cuda_call(cuda.Device.count, what="cuDeviceGetCount"))
    except CudaError as exc:
        raise _unavailable(f"the CUDA driver does not start ({exc})") from exc
    if count < 1:
        raise _unavailable("the CUDA driver reports no device")
    if not 0 <= device_id < count:
        raise _unavailable(f"CUDA device {device_id} requested, {count} device(s) present")
    return trt, cuda
