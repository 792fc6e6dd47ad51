"""``sensor_msgs/Image`` -> numpy for the inference node, with one error type that names the problem."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

from pose3d_ros.core.camera import depth_to_metres

from .diagnostics import WARN
from .imports import ImageConversionError, imgmsg_to_numpy

__all__ = ["BadInput", "COLOR_ENCODINGS", "DEPTH_ENCODINGS", "color_from_msg", "depth_from_msg"]

COLOR_ENCODINGS = ("rgb8", "bgr8", "mono8")
DEPTH_ENCODINGS = ("16UC1", "32FC1")


class BadInput(ValueError):
    """An input message the node cannot use; ``key`` names the kind (for counting and throttling)."""

    def __init__(self, key: str, message: str, level: int = WARN) -> None:
        super().__init__(message)
        self.key, self.level = key, level


def color_from_msg(msg: Image) -> np.ndarray:
    """Colour message -> (H, W, 3) uint8 RGB. Raises :class:`BadInput` on anything else."""
    if msg.encoding not in COLOR_ENCODINGS:
        supported = ", ".join(COLOR_ENCODINGS)
        raise BadInput("encoding", f"color image encoding {msg.encoding!r} unsupported (use {supported})")
    try:
        img = imgmsg_to_numpy(msg)
    except ImageConversionError as exc:
        raise BadInput("bad_image", f"color image rejected: {exc}") from None
    if msg.encoding == "bgr8":
        img = np.ascontiguousarray(img[..., ::-1])
    elif msg.encoding == "mono8":
        img = np.repeat(img[..., None], 3, axis=2)
    return img


def depth_from_msg(msg: Image) -> np.ndarray:
    """Depth message -> (H, W) float32 metres (NaN = none). Raises :class:`BadInput`."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise BadInput("encoding", f"depth image encoding {msg.encoding!r} unsupported (use 16UC1 mm or 32FC1 m)")
    try:
        raw = imgmsg_to_numpy(msg)
    except ImageConversionError as exc:
        raise BadInput("bad_image", f"depth image rejected: {exc}") from None
    return depth_to_metres(raw, msg.encoding)
