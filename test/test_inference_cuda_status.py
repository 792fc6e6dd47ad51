"""The CUDA status checker and the TensorRT/pycuda availability check, against what the libraries really give:
pycuda raises ``pycuda._driver.Error`` subclasses (made in C++ with ``PyErr_NewException("pycuda._driver.<Name>")``,
messages like ``"cuInit failed: no CUDA-capable device is detected"``); cuda-python returns ``(CUresult, ...)``
tuples. The fakes below copy those class names, modules, bases and messages; no GPU needed."""

from __future__ import annotations

import enum
import sys
import types
from types import SimpleNamespace

import pytest

from pose3d_ros.inference.cuda_status import (
    UNAVAILABLE_HINT,
    check_cuda_status,
    cuda_call,
    import_tensorrt,
    is_cuda_exception,
)
from pose3d_ros.inference.errors import BackendUnavailable, CudaError


def _pycuda_errors() -> SimpleNamespace:
    """Exception classes shaped like pycuda's (src/wrapper/wrap_cudadrv.cpp, DECLARE_EXC)."""

    def make(name: str, bases: tuple[type, ...]) -> type:
        return type(name, bases, {"__module__": "pycuda._driver"})

    error = make("Error", (Exception,))
    return SimpleNamespace(
        Error=error, LogicError=make("LogicError", (error,)), LaunchError=make("LaunchError", (error,)),
        RuntimeError=make("RuntimeError", (error,)),
        MemoryError=make("MemoryError", (error, MemoryError)),  # older pycuda: also the built-in MemoryError
    )


ERRORS = _pycuda_errors()


# ------------------------------------------------------------------------------------------- pycuda exceptions
@pytest.mark.parametrize("kind", ["Error", "LogicError", "LaunchError", "RuntimeError", "MemoryError"])
def test_every_pycuda_exception_becomes_a_cuda_error_naming_call_and_class(kind: str) -> None:
    original = getattr(ERRORS, kind)("cuMemAlloc failed: out of memory")

    def fails() -> None:
        raise original

    with pytest.raises(CudaError) as info:
        cuda_call(fails, what="mem_alloc")
    # pycuda's message already names the CUDA function: kept as it is, not "mem_alloc failed: ... cuMemAlloc failed"
    assert str(info.value) == f"cuMemAlloc failed: out of memory [pycuda._driver.{kind}]"
    assert info.value.__cause__ is original


def test_a_message_without_the_call_name_is_prefixed_and_made_one_line() -> None:
    def fails() -> None:
        raise ERRORS.LogicError("invalid device context\n(was the context popped?)")

    with pytest.raises(CudaError, match=r"^cuCtxPushCurrent failed: invalid device context \(was the context "
                                        r"popped\?\) \[pycuda\._driver\.LogicError\]$"):
        cuda_call(fails, what="cuCtxPushCurrent")


def test_subclasses_defined_elsewhere_still_count_as_cuda_errors() -> None:
    class Mine(ERRORS.RuntimeError):  # __module__ is this test module
        pass

    assert is_cuda_exception(Mine("x")) and is_cuda_exception(ERRORS.MemoryError("x"))
    assert not is_cuda_exception(MemoryError("host out of memory")) and not is_cuda_exception(TypeError("x"))


def test_our_own_bugs_are_not_relabelled_as_cuda_errors() -> None:
    with pytest.raises(TypeError):
        cuda_call(lambda: None + 1)


def test_real_pycuda_classes_are_recognised_where_pycuda_is_installed() -> None:
    cuda = pytest.importorskip("pycuda.driver")
    for cls in (cuda.Error, cuda.LogicError, cuda.RuntimeError, cuda.MemoryError, cuda.LaunchError):
        assert is_cuda_exception(cls("x")), cls


# ------------------------------------------------------------------------------------------- cuda-python statuses
class CUresult(enum.IntEnum):  # same type name and values as cuda.bindings.driver.CUresult
    CUDA_SUCCESS = 0
    CUDA_ERROR_OUT_OF_MEMORY = 2
    CUDA_ERROR_NO_DEVICE = 100


class cudaError_t(enum.IntEnum):  # noqa: N801 - cuda-python's spelling
    cudaSuccess = 0
    cudaErrorInvalidValue = 1


def test_successful_status_tuples_give_their_values() -> None:
    # NVIDIA's sample raises "Unknown error type" for a successful CUresult (its second `if` should be `elif`).
    assert check_cuda_status(CUresult.CUDA_SUCCESS) is None
    assert check_cuda_status((CUresult.CUDA_SUCCESS,)) is None  # driver.cuInit(0)
    assert check_cuda_status((CUresult.CUDA_SUCCESS, 1)) == 1  # driver.cuDeviceGetCount()
    assert check_cuda_status((cudaError_t.cudaSuccess, 1, 2)) == (1, 2)


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ((CUresult.CUDA_ERROR_NO_DEVICE,), "cuInit failed: CUresult CUDA_ERROR_NO_DEVICE (100)"),
        ((CUresult.CUDA_ERROR_OUT_OF_MEMORY, 0), "cuInit failed: CUresult CUDA_ERROR_OUT_OF_MEMORY (2)"),
        (cudaError_t.cudaErrorInvalidValue, "cuInit failed: cudaError_t cudaErrorInvalidValue (1)"),
    ],
)
def test_failing_status_raises_naming_call_and_status(result: object, message: str) -> None:
    with pytest.raises(CudaError) as info:
        cuda_call(lambda: result, what="cuInit")
    assert str(info.value) == message


def test_plain_results_pass_through() -> None:
    assert cuda_call(lambda a, b: a + b, 2, 3) == 5
    assert check_cuda_status((1, 2)) == (1, 2)  # a tuple without a status is a value


# ------------------------------------------------------------------------------------------- import_tensorrt
@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A fake ``tensorrt`` + ``pycuda.driver`` in ``sys.modules``; ``state`` says how the driver behaves."""
    state = SimpleNamespace(version="10.3.0", init_error=None, count=1)
    trt = types.ModuleType("tensorrt")
    driver = types.ModuleType("pycuda.driver")
    driver.__dict__.update(vars(ERRORS))

    def init() -> None:
        if state.init_error is not None:
            raise state.init_error

    driver.init = init
    driver.Device = type("Device", (), {"count": staticmethod(lambda: state.count)})
    package = types.ModuleType("pycuda")
    package.__path__ = []  # a package
    package.driver = driver
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "pycuda", package)
    monkeypatch.setitem(sys.modules, "pycuda.driver", driver)
    monkeypatch.setattr(trt, "__version__", state.version, raising=False)
    return SimpleNamespace(state=state, trt=trt, driver=driver)


def _unavailable(device_id: int = 0) -> str:
    with pytest.raises(BackendUnavailable) as info:
        import_tensorrt(device_id)
    text = str(info.value)
    assert "\n" not in text and text.startswith("TensorRT backend unavailable: ")
    assert text.endswith(f"; {UNAVAILABLE_HINT}")
    return text[len("TensorRT backend unavailable: "): -len(f"; {UNAVAILABLE_HINT}")]


def test_a_working_stack_is_returned(stack: SimpleNamespace) -> None:
    assert import_tensorrt(0) == (stack.trt, stack.driver)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("RuntimeError", "cuInit failed: no CUDA-capable device is detected"),
        ("Error", "cuInit failed: CUDA driver version is insufficient for CUDA runtime version"),
        ("LogicError", "cuInit failed: invalid argument"),
    ],
)
def test_a_driver_that_does_not_start_is_unavailable(stack: SimpleNamespace, kind: str, message: str) -> None:
    stack.state.init_error = getattr(ERRORS, kind)(message)
    assert _unavailable() == f"the CUDA driver does not start ({message} [pycuda._driver.{kind}])"


def test_no_device_or_another_index_is_unavailable(stack: SimpleNamespace) -> None:
    stack.state.count = 0
    assert _unavailable() == "the CUDA driver reports no device"
    stack.state.count = 1
    assert _unavailable(device_id=1) == "CUDA device 1 requested, 1 device(s) present"


def test_tensorrt_older_than_10_is_unavailable(stack: SimpleNamespace) -> None:
    stack.trt.__version__ = "8.6.1"
    assert _unavailable() == "TensorRT 8.6.1 found, 10.x or newer needed"


@pytest.mark.parametrize("missing", ["tensorrt", "pycuda.driver"])
def test_a_missing_library_is_unavailable(stack: SimpleNamespace, monkeypatch: pytest.MonkeyPatch,
                                          missing: str) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # `import` of a None entry raises ImportError
    reason = _unavailable()
    assert reason.startswith(f"cannot import {missing.split('.')[0]} (")


def test_a_bug_in_the_driver_call_is_not_hidden(stack: SimpleNamespace) -> None:
    stack.state.init_error = TypeError("init() takes 1 positional argument")
    with pytest.raises(TypeError):
        import_tensorrt()
