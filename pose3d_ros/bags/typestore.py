"""The rosbags type store used to (de)serialise bag messages: ROS 2 Jazzy's built-in types plus ours (``msg/*.msg``).

Jazzy's ``sensor_msgs``, ``std_msgs``, ``geometry_msgs`` and ``tf2_msgs`` definitions (and so their RIHS01 type
hashes) are the same as Kilted's and Humble's for the types we write, so the bags play on any of them.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

__all__ = ["typestore", "find_msg_dir", "normalize_msgtype", "CUSTOM_PACKAGE"]

#: package of our message definitions (``pose3d_ros/msg/Skeleton3DArray``, ...)
CUSTOM_PACKAGE = "pose3d_ros"
_STORE = Stores.ROS2_JAZZY


def find_msg_dir() -> Path | None:
    """Directory holding our ``*.msg`` files: the source checkout's ``msg/``, else ``share/pose3d_ros/msg`` of an
    install prefix (``AMENT_PREFIX_PATH``, then ``sys.prefix``); None when neither exists."""
    candidates = [Path(__file__).resolve().parents[2] / "msg"]
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p] + [sys.prefix]
    candidates += [Path(p) / "share" / CUSTOM_PACKAGE / "msg" for p in prefixes]
    for c in candidates:
        if (c / "Skeleton3DArray.msg").is_file():  # ours, not some other package's msg/
            return c
    return None


@functools.lru_cache(maxsize=1)
def typestore() -> Typestore:
    """Jazzy's types plus ``pose3d_ros/msg/*`` where their definitions are found (shared, built once)."""
    store = get_typestore(_STORE)
    msg_dir = find_msg_dir()
    if msg_dir is not None:
        types = {}
        for f in sorted(msg_dir.glob("*.msg")):
            types.update(get_types_from_msg(f.read_text(), f"{CUSTOM_PACKAGE}/msg/{f.stem}"))
        store.register(types)
    return store


def normalize_msgtype(msgtype: str) -> str:
    """``pkg/Name`` or ``pkg.msg.Name`` -> ``pkg/msg/Name`` (rosbag2 spelling).

    Raises
    ------
    ValueError
        When ``msgtype`` is not of the form ``pkg/Name`` or ``pkg/msg/Name``.
    """
    parts = [p for p in msgtype.replace(".", "/").split("/") if p]
    if len(parts) == 2:
        parts.insert(1, "msg")
    if len(parts) != 3:
        raise ValueError(f"message type must look like 'pkg/msg/Name', got {msgtype!r}")
    return "/".join(parts)
