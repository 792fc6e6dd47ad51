"""DDS settings every pose3d_ros process applies before ``rclpy.init``: the package's Fast DDS profile.

Without it Fast DDS sends 640x480 images through UDP fragments that the kernel drops under load (measured here:
3 of 10 best-effort 0.6-1.2 MB images delivered); the profile (``config/fastdds.xml``) adds a 16 MiB shared-memory
segment for same-host traffic. A profile the user already set is kept.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

__all__ = ["fastdds_profile", "apply_dds_defaults"]


def fastdds_profile() -> Path | None:
    """``config/fastdds.xml`` of the installed package (``<prefix>/share/pose3d_ros``) or of the checkout."""
    candidates = [Path(p) / "share" / "pose3d_ros" / "config" / "fastdds.xml"
                  for p in (os.environ.get("VIRTUAL_ENV", ""), sys.prefix,
                            *os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)) if p]
    candidates.append(Path(__file__).resolve().parents[2] / "config" / "fastdds.xml")
    return next((c for c in candidates if c.is_file()), None)


def apply_dds_defaults(env: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Set ``FASTDDS_DEFAULT_PROFILES_FILE`` in ``env`` (default ``os.environ``) unless a profile is already set."""
    env = os.environ if env is None else env
    if env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp") != "rmw_fastrtps_cpp":
        return env
    if env.get("FASTDDS_DEFAULT_PROFILES_FILE") or env.get("FASTRTPS_DEFAULT_PROFILES_FILE"):
        return env
    prof = fastdds_profile()
    if prof is not None:
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(prof)
    return env
