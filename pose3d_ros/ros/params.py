"""Parameters declared from one table per node: description, range, choices, and a clear refusal when wrong.

Each node lists its parameters as :class:`pose3d_ros.param_spec.ParamSpec` rows; :func:`declare_all` declares
them with described ``ParameterDescriptor``s (ranges visible to ``ros2 param describe``) and, instead of the
traceback rclpy raises for a wrong type or an out-of-range override, collects one line per problem, e.g.
``sync_slop (5, expected a double in [0.0, 1.0])``. Unknown overrides (``use_dept``) are problems too, with the
closest known name. The node refuses to configure while any problem is left.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException

from pose3d_ros.param_spec import ParamSpec, unknown_names

__all__ = ["ParamSpec", "declare", "declare_all", "descriptor"]

#: declared by rclpy itself (or by the lifecycle/type-description services) on every node
_BUILTIN = frozenset({"use_sim_time", "start_type_description_service", "qos_overrides"})


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """The ``ParameterDescriptor`` of ``spec`` (description, read-only flag, numeric range)."""
    desc = ParameterDescriptor(description=spec.full_description, read_only=not spec.dynamic)
    if spec.lo is not None and spec.hi is not None and not isinstance(spec.default, bool):
        if isinstance(spec.default, int):
            desc.integer_range = [IntegerRange(from_value=int(spec.lo), to_value=int(spec.hi), step=0)]
        elif isinstance(spec.default, float):
            desc.floating_point_range = [FloatingPointRange(from_value=float(spec.lo), to_value=float(spec.hi),
                                                            step=0.0)]
    return desc


def declare_all(node: Any, specs: Iterable[ParamSpec]) -> tuple[dict[str, Any], list[str]]:
    """Declare every parameter of ``specs`` on ``node``.

    Returns
    -------
    values : dict
        Name -> value (the default where the given value was refused).
    problems : list of str
        One line per refused value or unknown override; empty when all is well.
    """
    specs = list(specs)
    overrides = dict(getattr(node, "_parameter_overrides", {}) or {})
    values: dict[str, Any] = {}
    problems: list[str] = []
    for spec in specs:
        try:
            value = node.declare_parameter(spec.name, spec.default, descriptor(spec)).value
        except ParameterException:
            given = overrides[spec.name].value if spec.name in overrides else None
            problems.append(spec.problem(given) or f"{spec.name} ({given!r}, expected {spec.expected()})")
            value = node.declare_parameter(spec.name, spec.default, descriptor(spec), ignore_override=True).value
        else:
            problem = spec.problem(value)
            if problem:
                problems.append(problem)
        values[spec.name] = value
    known = [s.name for s in specs]
    given = [n for n in overrides if n not in _BUILTIN and not n.startswith("qos_overrides.")]
    problems += [f"unknown parameter {name!r}" + (f" (did you mean {close!r}?)" if close else "")
                 for name, close in unknown_names(given, known)]
    return values, problems


def declare(node: Any, name: str, default: Any, description: str, *, lo: float | None = None,
            hi: float | None = None, read_only: bool = False, dynamic: bool = False) -> Any:
    """Declare one parameter (for small tools; nodes use :func:`declare_all` with a table)."""
    spec = ParamSpec(name, default, description, lo=lo, hi=hi, dynamic=dynamic and not read_only)
    return node.declare_parameter(name, default, descriptor(spec)).value
