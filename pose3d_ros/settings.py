"""Settings dataclasses built from plain mappings (YAML sections, ROS parameters): one rule for unknown keys."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


def known_keys_only(cls: type, data: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    """Return ``data`` as a new dict after checking every key is a field of the dataclass ``cls``.

    Raises
    ------
    ValueError
        Naming the unknown keys and the known ones, e.g. ``unknown pipeline settings ['modle']; known: [...]``.
    """
    data = dict(data or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; known: {sorted(known)}")
    return data
