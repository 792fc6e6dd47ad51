"""ROS 2 shell around the ROS-free core: nodes, msg <-> numpy conversions, TF, diagnostics.

Everything that imports rclpy lives here (and in ``pose3d_ros.sources`` only where a device needs it: never).
"""

from __future__ import annotations

import importlib.util
import site
import sys
from pathlib import Path


def ensure_msg_path() -> None:
    """Make ``pose3d_ros.msg`` importable when ``pose3d_ros`` was imported from the source checkout.

    colcon generates ``pose3d_ros/msg`` into the install prefix only; running from the repository root puts the
    source tree (which has no ``msg``) first on ``sys.path``. The installed package directory is then appended to
    ``pose3d_ros.__path__`` so both halves import side by side (a no-op in an installed environment).
    """
    pkg = sys.modules.get("pose3d_ros")
    if pkg is None or importlib.util.find_spec("pose3d_ros.msg") is not None:
        return
    roots = list(site.getsitepackages()) + [p for p in sys.path if p.endswith("site-packages")]
    for root in roots:
        candidate = Path(root) / "pose3d_ros"
        if (candidate / "msg").is_dir() and str(candidate) not in pkg.__path__:
            pkg.__path__.append(str(candidate))
            return


ensure_msg_path()
