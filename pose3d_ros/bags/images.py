"""``sensor_msgs/Image`` / ``CompressedImage`` pixels <-> numpy, for any message object with the ROS field names.

Works on rosbags messages, rclpy messages and ``mcap_ros2`` decoded messages alike (only the fields are read).
Colour comes out as (H, W, 3) uint8 RGB, depth as (H, W) uint16 millimetres with 0 = no reading (REP-118), the
units of :class:`~pose3d_ros.sources.base.RGBDFrame`.

Raw images are unpacked by :mod:`pose3d_ros.core.image_encodings` (rgb8, bgr8, rgba8, bgra8, mono8, mono16, the
yuv422 / uyvy / yuyv family; depth 16UC1 / mono16 in mm and 32FC1 in m, either byte order, row padding).
``CompressedImage``: JPEG / PNG colour and ``compressedDepth`` PNG depth (16UC1 and 32FC1).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from pose3d_ros.core import image_encodings as _enc

__all__ = [
    "decode_color",
    "decode_depth",
    "decode_compressed_color",
    "decode_compressed_depth",
    "encode_image",
]

#: largest depth a 16UC1 image can hold, millimetres
_MAX_MM = np.iinfo(np.uint16).max
#: compressed_depth_image_transport prefixes the PNG with a 12-byte ConfigHeader (int32 format, float32[2] params)
_COMPRESSED_DEPTH_HEADER = 12


def decode_color(msg: Any) -> np.ndarray:
    """``sensor_msgs/Image`` -> (H, W, 3) uint8 RGB (a new array); :func:`pose3d_ros.core.image_encodings.decode_color`.

    Raises
    ------
    ValueError
        Unsupported encoding, or data that does not fit height / width / step.
    """
    return _enc.decode_color(msg.data, msg.encoding, msg.width, msg.height, msg.step, msg.is_bigendian)


def _metres_to_mm(m: np.ndarray) -> np.ndarray:
    mm = np.zeros(m.shape, np.uint16)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(m) & (m > 0) & (m * 1000.0 <= _MAX_MM)  # beyond 65.5 m 16UC1 has no value: no reading
    mm[ok] = np.rint(m[ok] * 1000.0).astype(np.uint16)
    return mm


def decode_depth(msg: Any) -> np.ndarray:
    """``sensor_msgs/Image`` depth -> (H, W) uint16 mm, 0 = no reading (32FC1 metres are rounded to mm).

    Raises
    ------
    ValueError
        Unsupported encoding, or data that does not fit height / width / step.
    """
    enc = str(msg.encoding).strip().lower()
    if enc not in ("16uc1", "mono16", "32fc1"):
        raise ValueError(f"unsupported depth encoding {msg.encoding!r} (supported: 16UC1, mono16 in mm; 32FC1 in m)")
    raw = _enc.unpack_image(msg.data, enc, msg.width, msg.height, msg.step, msg.is_bigendian)  # native byte order
    return raw.astype(np.uint16, copy=False) if enc != "32fc1" else _metres_to_mm(raw)


def _bytes(data: Any) -> np.ndarray:
    """A compressed payload (numpy, bytes, array.array, list of ints) as a flat uint8 array."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:  # a list of ints (an rclpy message filled by hand)
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def decode_compressed_color(msg: Any) -> np.ndarray:
    """``sensor_msgs/CompressedImage`` (JPEG / PNG) -> (H, W, 3) uint8 RGB.

    Raises
    ------
    ValueError
        When the data does not decode as an image.
    """
    buf = _bytes(msg.data)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if bgr is None:
        raise ValueError(f"compressed image ({msg.format!r}, {buf.size} bytes) does not decode")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def decode_compressed_depth(msg: Any) -> np.ndarray:
    """``sensor_msgs/CompressedImage`` from ``compressed_depth_image_transport`` (PNG) -> (H, W) uint16 mm.

    Raises
    ------
    ValueError
        Not a ``compressedDepth`` PNG (RVL is not supported), or data that does not decode.
    """
    fmt = str(msg.format)
    if "compresseddepth" not in fmt.lower() or "rvl" in fmt.lower():
        raise ValueError(f"unsupported compressed depth format {fmt!r} (supported: compressedDepth png)")
    raw = _bytes(msg.data)
    if raw.size <= _COMPRESSED_DEPTH_HEADER:
        raise ValueError(f"compressed depth image has only {raw.size} bytes")
    img = cv2.imdecode(raw[_COMPRESSED_DEPTH_HEADER:], cv2.IMREAD_UNCHANGED)
    if img is None or img.ndim != 2:
        raise ValueError(f"compressed depth image ({fmt!r}) does not decode as a one-channel PNG")
    if fmt.lower().startswith("32fc1"):
        # inverse-depth quantisation: depth = a / (q - b), q = 0 means no reading
        a, b = np.frombuffer(raw[4:_COMPRESSED_DEPTH_HEADER].tobytes(), dtype="<f4")
        q = img.astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            m = np.where(q > 0, a / (q - b), np.nan)
        return _metres_to_mm(m)
    return img.astype(np.uint16)


def encode_image(array: np.ndarray, encoding: str) -> dict[str, Any]:
    """numpy -> the ``sensor_msgs/Image`` fields ``height, width, encoding, is_bigendian, step, data`` (little endian).

    Parameters
    ----------
    array : (H, W, C) uint8 for rgb8 / bgr8 / rgba8 / bgra8, (H, W) uint8 for mono8, (H, W) uint16 for 16UC1 /
        mono16, (H, W) float32 for 32FC1
    encoding : str

    Raises
    ------
    ValueError
        When shape or dtype do not match ``encoding``.
    """
    a = np.asarray(array)
    want = {
        "rgb8": (np.uint8, 3),
        "bgr8": (np.uint8, 3),
        "rgba8": (np.uint8, 4),
        "bgra8": (np.uint8, 4),
        "mono8": (np.uint8, 0),
        "16UC1": (np.uint16, 0),
        "mono16": (np.uint16, 0),
        "32FC1": (np.float32, 0),
    }
    if encoding not in want:
        raise ValueError(f"cannot encode {encoding!r} (supported: {', '.join(want)})")
    dtype, channels = want[encoding]
    ok_shape = a.ndim == 3 and a.shape[2] == channels if channels else a.ndim == 2
    if a.dtype != dtype or not ok_shape or a.size == 0:
        shape = f"(H, W, {channels})" if channels else "(H, W)"
        raise ValueError(f"{encoding} needs a {shape} {np.dtype(dtype)} array, got {a.dtype}{list(a.shape)}")
    a = np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<"))
    h, w = a.shape[:2]
    return {
        "height": h,
        "width": w,
        "encoding": encoding,
        "is_bigendian": 0,
        "step": a.nbytes // h,
        "data": a.reshape(-1).view(np.uint8),
    }
