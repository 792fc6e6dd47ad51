"""One parameter of a node, ROS-free: default, description, range or choices, and what a wrong value is.

Nodes declare their parameters from a tuple of :class:`ParamSpec` (see ``ros/params.py``); the same rows check
values set at run time and are compared with the comments of ``config/*.yaml`` by the tests.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ParamSpec", "unknown_names"]

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a double", str: "a string"}


@dataclass(frozen=True)
class ParamSpec:
    """A parameter: ``name``, ``default`` (its type is the parameter's), ``description``.

    ``lo``/``hi`` bound numbers (inclusive), ``choices`` enumerate the allowed strings, ``dynamic`` parameters
    change at run time (the others are read when the node is configured).
    """

    name: str
    default: Any
    description: str
    lo: float | None = None
    hi: float | None = None
    choices: Sequence[str] = field(default_factory=tuple)
    dynamic: bool = False

    @property
    def full_description(self) -> str:
        """The description as declared (what ``ros2 param describe`` shows and the YAML comment says)."""
        text = self.description
        if self.choices:
            text += f" [{' | '.join(self.choices)}]"
        return text + (" (dynamic)" if self.dynamic else "")

    def expected(self) -> str:
        """What a valid value looks like, e.g. ``a double in [0.0, 1.0]``."""
        kind = _TYPE_NAMES.get(type(self.default), type(self.default).__name__)
        if self.choices:
            return f"one of {', '.join(self.choices)}"
        if self.lo is not None and self.hi is not None and not isinstance(self.default, bool):
            return f"{kind} in [{self.lo}, {self.hi}]"
        return kind

    def problem(self, value: Any) -> str | None:
        """None when ``value`` is valid, else ``name (value, expected ...)``."""
        bad = f"{self.name} ({value!r}, expected {self.expected()})"
        want = type(self.default)
        if want is float:
            if isinstance(value, bool) or not isinstance(value, float):
                return bad + ("; write it with a decimal point" if isinstance(value, int) else "")
        elif type(value) is not want:
            return bad
        if isinstance(value, float) and not math.isfinite(value):
            return bad
        if self.lo is not None and isinstance(value, int | float) and not isinstance(value, bool) and value < self.lo:
            return bad
        if self.hi is not None and isinstance(value, int | float) and not isinstance(value, bool) and value > self.hi:
            return bad
        if self.choices and value not in self.choices:
            close = difflib.get_close_matches(str(value), list(self.choices), n=1, cutoff=0.6)
            return bad + (f" (did you mean {close[0]!r}?)" if close else "")
        return None


def unknown_names(given: Iterable[str], known: Sequence[str]) -> list[tuple[str, str | None]]:
    """The names of ``given`` not in ``known``, each with the closest known name (or None)."""
    out = []
    for name in given:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            out.append((name, close[0] if close else None))
    return out
