"""DDS settings every pose3d_ros process applies before ``rclpy.init``: the package's Fast DDS profile.

Without it Fast DDS sends 640x480 images through UDP fragments that the kernel drops under load (measured here:
3 of 10 best-effort 0.6-1.2 MB images delivered); the profile (``config/fastdds.xml``) adds a 16 MiB shared-memory
segment for same-host traffic, and binds UDP to 127.0.0.1 while discovery is local (``fastdds_network.xml``, all
interfaces, otherwise). A profile the user already set is kept.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

__all__ = ["fastdds_profile", "apply_dds_defaults", "discovery_is_local"]


#: discovery ranges under which every DDS socket may be bound to loopback
LOCAL_RANGES = ("LOCALHOST", "OFF")


def discovery_is_local(env: Mapping[str, str]) -> bool:
    """True when ROS 2 discovery stays on this host (``ROS_AUTOMATIC_DISCOVERY_RANGE``, or Humble's
    ``ROS_LOCALHOST_ONLY=1`` where the range is not set)."""
    rng = env.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "").strip().upper()
    if rng:
        return rng in LOCAL_RANGES
    return env.get("ROS_LOCALHOST_ONLY", "0").strip() == "1"


def fastdds_profile(local: bool = True) -> Path | None:
    """``config/fastdds.xml`` (loopback only) or ``config/fastdds_network.xml`` (all interfaces) of the installed
    package (``<prefix>/share/pose3d_ros``) or of the checkout."""
    name = "fastdds.xml" if local else "fastdds_network.xml"
    candidates = [Path(p) / "share" / "pose3d_ros" / "config" / name
                  for p in (os.environ.get("VIRTUAL_ENV", ""), sys.prefix,
                            *os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)) if p]
    candidates.append(Path(__file__).resolve().parents[2] / "config" / name)
    return next((c for c in candidates if c.is_file()), None)


def apply_dds_defaults(env: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Set ``FASTDDS_DEFAULT_PROFILES_FILE`` in ``env`` (default ``os.environ``) unless a profile is already set:
    the loopback-only profile while discovery is local, the all-interfaces one otherwise."""
    env = os.environ if env is None else env
    if env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp") != "rmw_fastrtps_cpp":
        return env
    if env.get("FASTDDS_DEFAULT_PROFILES_FILE") or env.get("FASTRTPS_DEFAULT_PROFILES_FILE"):
        return env
    prof = fastdds_profile(local=discovery_is_local(env))
    if prof is not None:
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(prof)
    return env
