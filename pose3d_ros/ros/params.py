"""Parameter declaration with descriptions and ranges (every parameter documented where it is declared)."""

from __future__ import annotations

from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

__all__ = ["declare"]


def declare(node: Any, name: str, default: Any, description: str, *, lo: float | None = None,
            hi: float | None = None, step: float = 0, read_only: bool = False, dynamic: bool = False) -> Any:
    """Declare ``name`` on ``node`` with a described ``ParameterDescriptor`` and return its value.

    ``lo``/``hi`` set an inclusive range (integer or floating point by the default's type); ``dynamic`` marks the
    description "(dynamic)" for parameters that take effect without restart.
    """
    desc = ParameterDescriptor(description=description + (" (dynamic)" if dynamic else " (read at start-up)"),
                               read_only=read_only)
    if lo is not None and hi is not None:
        if isinstance(default, bool):
            pass
        elif isinstance(default, int):
            desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=int(step))]
        elif isinstance(default, float):
            desc.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=float(step))]
    return node.declare_parameter(name, default, desc).value
