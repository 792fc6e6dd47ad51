"""``sensor_msgs/Image`` -> numpy for the inference node: thin wrappers of :mod:`pose3d_ros.core.image_encodings`
that turn its one error type into :class:`BadInput` (kind + message for diagnostics)."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

from pose3d_ros.core.image_encodings import (
    COLOR_ENCODINGS,
    DEPTH_ENCODINGS,
    ImageEncodingError,
    decode_color,
    decode_depth,
)

from .diagnostics import WARN

__all__ = ["BadInput", "COLOR_ENCODINGS", "DEPTH_ENCODINGS", "color_from_msg", "depth_from_msg"]


class BadInput(ValueError):
    """An input message the node cannot use; ``key`` names the kind (for counting and throttling)."""

    def __init__(self, key: str, message: str, level: int = WARN) -> None:
        super().__init__(message)
        self.key, self.level = key, level


def _key(exc: ImageEncodingError) -> str:
    return "encoding" if "unsupported" in str(exc) else "bad_image"


def color_from_msg(msg: Image) -> np.ndarray:
    """Colour message (any of COLOR_ENCODINGS) -> (H, W, 3) uint8 RGB. Raises :class:`BadInput`."""
    try:
        return decode_color(msg.data, msg.encoding, msg.width, msg.height, msg.step, bool(msg.is_bigendian))
    except ImageEncodingError as exc:
        raise BadInput(_key(exc), f"color image rejected: {exc}") from None


def depth_from_msg(msg: Image) -> np.ndarray:
    """Depth message (16UC1 mm, 32FC1 m) -> (H, W) float32 metres (NaN = none). Raises :class:`BadInput`."""
    try:
        return decode_depth(msg.data, msg.encoding, msg.width, msg.height, msg.step, bool(msg.is_bigendian))
    except ImageEncodingError as exc:
        raise BadInput(_key(exc), f"depth image rejected: {exc}") from None
