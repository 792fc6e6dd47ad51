"""cv_bridge-equivalent conversions between ``sensor_msgs/Image`` and numpy arrays.

Supported encodings: rgb8, bgr8 (H, W, 3) uint8; mono8 (H, W) uint8; 16UC1 (H, W) uint16 (millimetres, REP-118);
32FC1 (H, W) float32 (metres). Row padding (``step`` > width * pixel size) and big-endian data are handled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ENCODINGS", "ImageConversionError", "imgmsg_to_numpy", "numpy_to_imgmsg", "CvBridge", "CvBridgeError"]

#: encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "mono8": (np.dtype(np.uint8), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "mono16": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
}


class ImageConversionError(ValueError):
    """A ``sensor_msgs/Image`` could not be converted (unknown encoding, inconsistent size/step/data)."""


CvBridgeError = ImageConversionError


def imgmsg_to_numpy(msg: Any, desired_encoding: str = "passthrough") -> np.ndarray:
    """Convert a ``sensor_msgs/Image`` into an array that owns its memory.

    Parameters
    ----------
    msg : sensor_msgs.msg.Image
    desired_encoding : str
        ``"passthrough"`` keeps the message encoding; ``"rgb8"``/``"bgr8"`` convert between the two colour orders
        (and from mono8).

    Returns
    -------
    image : (H, W, 3) uint8, (H, W) uint8/uint16/float32

    Raises
    ------
    ImageConversionError
        Unknown encoding, zero-sized image, ``step`` too small, or ``data`` shorter than ``step * height``.
    """
    enc = msg.encoding
    if enc not in ENCODINGS:
        raise ImageConversionError(f"unsupported image encoding {enc!r} (supported: {', '.join(ENCODINGS)})")
    dtype, channels = ENCODINGS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h <= 0 or w <= 0:
        raise ImageConversionError(f"empty image: {w}x{h} ({enc})")
    row_bytes = w * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageConversionError(f"image step {step} < width*channels*itemsize = {row_bytes} ({w}x{h} {enc})")
    data = msg.data
    try:
        buf = np.frombuffer(data, dtype=np.uint8)  # bytes, array.array and ndarray share the buffer protocol
    except TypeError:
        buf = np.frombuffer(bytes(data), dtype=np.uint8)
    if buf.size < step * h:
        raise ImageConversionError(
            f"image data has {buf.size} bytes, expected step*height = {step * h} ({w}x{h} {enc})"
        )
    rows = buf[: step * h].reshape(h, step)[:, :row_bytes]
    out_dtype = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    img = np.ascontiguousarray(rows).view(out_dtype).astype(dtype, copy=True)
    img = img.reshape(h, w, channels) if channels > 1 else img.reshape(h, w)
    if desired_encoding in ("passthrough", enc):
        return img
    if desired_encoding in ("rgb8", "bgr8"):
        if enc in ("rgb8", "bgr8"):
            return np.ascontiguousarray(img[..., ::-1])
        if enc == "mono8":
            return np.repeat(img[..., None], 3, axis=2)
    raise ImageConversionError(f"cannot convert encoding {enc!r} to {desired_encoding!r}")


def numpy_to_imgmsg(image: np.ndarray, encoding: str, header: Any = None) -> Any:
    """Build a ``sensor_msgs/Image`` from an array (``is_bigendian = 0``, dense rows).

    Raises
    ------
    ImageConversionError
        Unknown encoding, or an array whose dtype / number of channels does not match ``encoding``.
    """
    from sensor_msgs.msg import Image

    if encoding not in ENCODINGS:
        raise ImageConversionError(f"unsupported image encoding {encoding!r} (supported: {', '.join(ENCODINGS)})")
    dtype, channels = ENCODINGS[encoding]
    image = np.asarray(image)
    got_channels = 1 if image.ndim == 2 else (image.shape[2] if image.ndim == 3 else -1)
    if image.dtype != dtype or got_channels != channels or image.size == 0:
        raise ImageConversionError(
            f"array {image.dtype}{list(image.shape)} does not fit encoding {encoding!r} "
            f"(needs {dtype} with {channels} channel(s), non-empty)"
        )
    image = np.ascontiguousarray(image, dtype=dtype.newbyteorder("<"))
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(image.shape[1] * channels * dtype.itemsize)
    msg.data = image.tobytes()
    return msg


class CvBridge:
    """The two cv_bridge methods the nodes use, over :func:`imgmsg_to_numpy` / :func:`numpy_to_imgmsg`."""

    def imgmsg_to_cv2(self, img_msg: Any, desired_encoding: str = "passthrough") -> np.ndarray:
        return imgmsg_to_numpy(img_msg, desired_encoding)

    def cv2_to_imgmsg(self, cvim: np.ndarray, encoding: str = "passthrough", header: Any = None) -> Any:
        if encoding == "passthrough":
            raise ImageConversionError("cv2_to_imgmsg needs an explicit encoding in the pose3d_ros fallback")
        return numpy_to_imgmsg(cvim, encoding, header)
