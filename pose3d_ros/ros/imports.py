"""Real ROS libraries where installed, else the tested fallbacks in :mod:`pose3d_ros.ros.compat`.

``USING_FALLBACK`` records which were replaced (reported in the nodes' diagnostics).
"""

from __future__ import annotations

USING_FALLBACK: dict[str, bool] = {}

try:  # pragma: no cover - depends on the ROS installation
    from message_filters import ApproximateTimeSynchronizer, Subscriber

    USING_FALLBACK["message_filters"] = False
except ImportError:
    from .compat.message_filters import ApproximateTimeSynchronizer, Subscriber

    USING_FALLBACK["message_filters"] = True

try:  # pragma: no cover
    from tf2_ros import StaticTransformBroadcaster, TransformBroadcaster

    USING_FALLBACK["tf2_ros"] = False
except ImportError:
    from .compat.tf2_ros import StaticTransformBroadcaster, TransformBroadcaster

    USING_FALLBACK["tf2_ros"] = True

try:
    from tf2_msgs.msg import TFMessage  # noqa: F401 - availability probe

    HAVE_TF2_MSGS = True
except ImportError:  # pragma: no cover - vendored tf2_msgs is built by scripts/setup_env.sh
    HAVE_TF2_MSGS = False

try:  # ROS4HRI output (pose3d_ros.ros.hri) needs hri_msgs: the distribution's, else vendor/hri_msgs
    from hri_msgs.msg import IdsList  # noqa: F401 - availability probe

    HAVE_HRI_MSGS = True
except ImportError:  # pragma: no cover
    HAVE_HRI_MSGS = False

# cv_bridge is not used even when installed: its Python module needs a matching OpenCV build, and our conversion
# handles exactly the encodings the nodes accept, with errors that name the bad field.
from .compat.cv_bridge import ImageConversionError, imgmsg_to_numpy, numpy_to_imgmsg  # noqa: E402

__all__ = [
    "ApproximateTimeSynchronizer",
    "Subscriber",
    "TransformBroadcaster",
    "StaticTransformBroadcaster",
    "HAVE_TF2_MSGS",
    "HAVE_HRI_MSGS",
    "USING_FALLBACK",
    "ImageConversionError",
    "imgmsg_to_numpy",
    "numpy_to_imgmsg",
]
