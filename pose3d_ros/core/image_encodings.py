"""``sensor_msgs/Image`` pixel buffers -> numpy, ROS-free: colour to (H, W, 3) uint8 RGB, depth to (H, W) float32
metres (REP-118), from the message fields alone (``data, encoding, width, height, step, is_bigendian``).

Colour encodings (names as in ``sensor_msgs/image_encodings``, matched case-insensitively): ``rgb8``, ``bgr8``,
``8UC3`` (read as bgr8, as cv_bridge does), ``rgba8``, ``bgra8`` (Azure Kinect), ``mono8`` / ``8UC1``, ``mono16``
(scaled to 8 bits), ``yuv422`` (= ``uyvy``: U Y0 V Y1) and ``yuv422_yuy2`` (= ``yuyv``: Y0 U Y1 V), both BT.601 as
``cv2.cvtColor`` decodes them. Depth encodings: ``16UC1`` (millimetres, 0 = no reading; ``mono16`` accepted as an
alias) and ``32FC1`` (metres, NaN / inf / <= 0 = no reading). Row padding (``step``) and big-endian data are
honoured. Anything else raises :class:`ImageEncodingError` naming the encoding and the sizes.

Plausibility of the depth values (range, units) is :mod:`pose3d_ros.core.depth_check`.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

__all__ = [
    "COLOR_ENCODINGS",
    "DEPTH_ENCODINGS",
    "ENCODING_LAYOUTS",
    "ImageEncodingError",
    "unpack_image",
    "decode_color",
    "decode_depth",
    "depth_to_metres",
]

#: Millimetres per metre (REP-118: 16UC1 depth is in millimetres).
MM_PER_M = 1000.0

#: encoding (lower case) -> (channel dtype, channels) of the pixel buffer.
ENCODING_LAYOUTS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "8uc3": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8uc1": (np.dtype(np.uint8), 1),
    "mono16": (np.dtype(np.uint16), 1),
    "16uc1": (np.dtype(np.uint16), 1),
    "32fc1": (np.dtype(np.float32), 1),
    "yuv422": (np.dtype(np.uint8), 2),
    "uyvy": (np.dtype(np.uint8), 2),
    "yuv422_yuy2": (np.dtype(np.uint8), 2),
    "yuyv": (np.dtype(np.uint8), 2),
}

#: colour encoding -> cv2 conversion code to RGB (None: already RGB; "mono16": scaled first).
_TO_RGB: dict[str, int | None] = {
    "rgb8": None,
    "bgr8": cv2.COLOR_BGR2RGB,
    "8uc3": cv2.COLOR_BGR2RGB,
    "rgba8": cv2.COLOR_RGBA2RGB,
    "bgra8": cv2.COLOR_BGRA2RGB,
    "mono8": cv2.COLOR_GRAY2RGB,
    "8uc1": cv2.COLOR_GRAY2RGB,
    "mono16": cv2.COLOR_GRAY2RGB,
    "yuv422": cv2.COLOR_YUV2RGB_UYVY,  # sensor_msgs: yuv422 is the old name of uyvy
    "uyvy": cv2.COLOR_YUV2RGB_UYVY,
    "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2,
    "yuyv": cv2.COLOR_YUV2RGB_YUY2,
}
_YUV = ("yuv422", "uyvy", "yuv422_yuy2", "yuyv")
#: Supported colour encodings, canonical spelling.
COLOR_ENCODINGS = (
    "rgb8",
    "bgr8",
    "8UC3",
    "rgba8",
    "bgra8",
    "mono8",
    "8UC1",
    "mono16",
    "yuv422",
    "uyvy",
    "yuv422_yuy2",
    "yuyv",
)
#: Supported depth encodings (``mono16`` is an alias of 16UC1).
DEPTH_ENCODINGS = ("16UC1", "32FC1", "mono16")
#: Percentile of a mono16 frame mapped to 255 by the ``"auto"`` scaling (robust to a few hot pixels).
MONO16_AUTO_PERCENTILE = 99.9
#: The ``"auto"`` mono16 percentile is taken on every n-th row and column of frames above this many pixels (speed;
#: 640x480 -> 19k samples).
_MONO16_SAMPLE_STRIDE = 4
_MONO16_FULL_PIXELS = 65536


class ImageEncodingError(ValueError):
    """An image buffer cannot be decoded: unsupported encoding, or data that does not fit width / height / step."""


def _canonical(encoding: Any, allowed: tuple[str, ...], kind: str) -> str:
    enc = str(encoding).strip().lower()
    if enc not in {a.lower() for a in allowed}:
        raise ImageEncodingError(f"unsupported {kind} encoding {encoding!r} (supported: {', '.join(allowed)})")
    return enc


def _as_bytes(data: Any) -> np.ndarray:
    """Flat uint8 view of any buffer (bytes, bytearray, memoryview, array.array, ndarray) or list of ints."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:  # a list of ints (a message filled by hand)
        try:
            return np.asarray(data, dtype=np.uint8).reshape(-1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ImageEncodingError(f"image data is not a byte buffer ({type(data).__name__}: {exc})") from None


def _is_pixel_array(data: Any) -> bool:
    return isinstance(data, np.ndarray) and data.ndim >= 2


def unpack_image(
    data: Any, encoding: str, width: int, height: int, step: int | None = None, is_bigendian: bool | int = False
) -> np.ndarray:
    """Pixel buffer -> typed array that owns its memory, in native byte order.

    Parameters
    ----------
    data : bytes-like or 1-D uint8 array
        ``sensor_msgs/Image.data``: ``height`` rows of ``step`` bytes (extra bytes after the last row are ignored).
    encoding : str
        One of :data:`ENCODING_LAYOUTS` (any case).
    width, height : int
        Image size in pixels, > 0.
    step : int, optional
        Bytes per row, >= ``width * channels * itemsize`` (default: exactly that, no padding).
    is_bigendian : bool or int
        Byte order of multi-byte channels (``16UC1``, ``mono16``, ``32FC1``).

    Returns
    -------
    (height, width) or (height, width, channels) ndarray
        dtype and channels from :data:`ENCODING_LAYOUTS` (yuv422 family: 2 uint8 channels).

    Raises
    ------
    ImageEncodingError
        Unknown encoding, non-positive size, ``step`` too small, or ``data`` shorter than ``step * height``.
    """
    enc = str(encoding).strip().lower()
    if enc not in ENCODING_LAYOUTS:
        supported = ", ".join(COLOR_ENCODINGS + DEPTH_ENCODINGS[:2])
        raise ImageEncodingError(f"unsupported image encoding {encoding!r} (supported: {supported})")
    dtype, channels = ENCODING_LAYOUTS[enc]
    try:
        w, h = int(width), int(height)
        row_bytes = w * channels * dtype.itemsize
        step_b = row_bytes if step is None else int(step)
    except (TypeError, ValueError, OverflowError):
        raise ImageEncodingError(
            f"{encoding} image: width {width!r}, height {height!r}, step {step!r} must be integers"
        ) from None
    if w <= 0 or h <= 0:
        raise ImageEncodingError(f"{encoding} image is {w}x{h}: empty")
    if step_b < row_bytes:
        raise ImageEncodingError(
            f"{encoding} image {w}x{h}: step {step_b} < width {w} x {channels * dtype.itemsize} "
            f"bytes per pixel = {row_bytes}"
        )
    buf = _as_bytes(data)
    if buf.size < step_b * h:
        raise ImageEncodingError(
            f"{encoding} image {w}x{h}: data has {buf.size} bytes, expected step {step_b} x height {h} = {step_b * h}"
        )
    rows = buf[: step_b * h].reshape(h, step_b)[:, :row_bytes]
    src = dtype.newbyteorder(">" if is_bigendian else "<") if dtype.itemsize > 1 else dtype
    img = np.ascontiguousarray(rows).view(src).astype(dtype, copy=True)
    return img.reshape(h, w, channels) if channels > 1 else img.reshape(h, w)


def _check_array(img: np.ndarray, enc: str, encoding: str) -> np.ndarray:
    dtype, channels = ENCODING_LAYOUTS[enc]
    if channels == 1 and img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    got = 1 if img.ndim == 2 else (img.shape[2] if img.ndim == 3 else -1)
    if got != channels or img.dtype != dtype or img.size == 0:
        shape = f"(H, W, {channels})" if channels > 1 else "(H, W)"
        raise ImageEncodingError(
            f"{encoding} needs a non-empty {shape} {dtype} array, got {img.dtype}{list(img.shape)}"
        )
    return img


def _mono16_to_8(img: np.ndarray, scale: str) -> np.ndarray:
    if scale == "fixed":  # cv_bridge's 16 -> 8 bit conversion: value / 256
        return (img >> 8).astype(np.uint8)
    sample = img if img.size <= _MONO16_FULL_PIXELS else img[::_MONO16_SAMPLE_STRIDE, ::_MONO16_SAMPLE_STRIDE]
    top = float(np.percentile(sample, MONO16_AUTO_PERCENTILE))
    if top <= 0:  # a mostly dark frame (or an unlucky sample): its brightest pixel
        top = float(img.max())
        if top <= 0:
            return np.zeros(img.shape, np.uint8)
    return np.clip(img.astype(np.float32) * np.float32(255.0 / top) + np.float32(0.5), 0, 255).astype(np.uint8)


def decode_color(
    data: Any,
    encoding: str,
    width: int | None = None,
    height: int | None = None,
    step: int | None = None,
    is_bigendian: bool | int = False,
    *,
    mono16_scale: str = "auto",
) -> np.ndarray:
    """Colour image (buffer or array) -> (H, W, 3) uint8 RGB, a new C-contiguous array.

    Parameters
    ----------
    data : bytes-like, 1-D uint8 array, or pixel array
        The message buffer (``width`` and ``height`` required), or an already unpacked array of the encoding's
        layout ((H, W, C) uint8, (H, W) uint8 / uint16, yuv422 (H, W, 2) uint8).
    encoding : str
        One of :data:`COLOR_ENCODINGS` (any case).
    width, height, step, is_bigendian
        As in ``sensor_msgs/Image`` (see :func:`unpack_image`); ignored for a pixel array.
    mono16_scale : {"auto", "fixed"}
        ``mono16`` to 8 bits: ``"auto"`` maps the frame's :data:`MONO16_AUTO_PERCENTILE` percentile to 255 (IR
        images use few of the 16 bits); ``"fixed"`` divides by 256 as cv_bridge does.

    Returns
    -------
    (H, W, 3) uint8 ndarray

    Raises
    ------
    ImageEncodingError
        Unsupported encoding, data that does not fit the sizes, or an odd width for the yuv422 family.
    """
    enc = _canonical(encoding, COLOR_ENCODINGS, "colour")
    if mono16_scale not in ("auto", "fixed"):
        raise ValueError(f"mono16_scale must be 'auto' or 'fixed', got {mono16_scale!r}")
    if _is_pixel_array(data):
        img = _check_array(np.asarray(data), enc, str(encoding))
    else:
        if width is None or height is None:
            raise ImageEncodingError(f"{encoding} buffer needs width and height")
        if enc in _YUV and int(width) % 2:
            raise ImageEncodingError(f"{encoding} image {width}x{height}: width must be even (2 pixels share U, V)")
        img = unpack_image(data, encoding, width, height, step, is_bigendian)
    if enc in _YUV and img.shape[1] % 2:
        raise ImageEncodingError(f"{encoding} image {img.shape[1]}x{img.shape[0]}: width must be even")
    if enc == "mono16":
        img = _mono16_to_8(img, mono16_scale)
    code = _TO_RGB[enc]
    if code is None:
        return np.array(img, dtype=np.uint8, order="C", copy=True)
    return cv2.cvtColor(np.ascontiguousarray(img), code)


def depth_to_metres(depth: np.ndarray, encoding: str) -> np.ndarray:
    """Convert an unpacked depth image to float32 metres with invalid pixels as NaN (REP-118).

    Parameters
    ----------
    depth : (H, W) or (H, W, 1) array_like
        Raw depth image (any numeric dtype).
    encoding : {"16UC1", "32FC1", "mono16"}
        ``16UC1`` / ``mono16``: unsigned millimetres, 0 = no reading. ``32FC1``: metres, NaN / inf / <= 0 = no
        reading.

    Returns
    -------
    (H, W) float32 ndarray
        A new array; values are not range-checked (see :func:`pose3d_ros.core.depth_check.check_depth_units`).

    Raises
    ------
    ImageEncodingError
        On an unknown encoding or a non-2D image.
    """
    d = np.asarray(depth)
    if d.ndim == 3 and d.shape[-1] == 1:
        d = d[..., 0]
    if d.ndim != 2:
        raise ImageEncodingError(f"{encoding} depth image must be 2-D (H, W), got shape {d.shape}")
    enc = str(encoding).strip().upper()
    if enc in ("16UC1", "MONO16"):
        out = d.astype(np.float32) / np.float32(MM_PER_M)
    elif enc == "32FC1":
        out = d.astype(np.float32, copy=True)
    else:
        raise ImageEncodingError(f"unsupported depth encoding {encoding!r}; expected '16UC1' (mm) or '32FC1' (m)")
    with np.errstate(invalid="ignore"):
        out[~(np.isfinite(out) & (out > 0))] = np.nan
    return out


def decode_depth(
    data: Any,
    encoding: str,
    width: int | None = None,
    height: int | None = None,
    step: int | None = None,
    is_bigendian: bool | int = False,
) -> np.ndarray:
    """Depth image (buffer or array) -> (H, W) float32 metres, NaN = no reading.

    Parameters
    ----------
    data : bytes-like, 1-D uint8 array, or (H, W) array
        The message buffer (``width`` and ``height`` required) or an unpacked depth array.
    encoding : {"16UC1", "32FC1", "mono16"}
        Any case. 16UC1 / mono16 in millimetres, 32FC1 in metres (REP-118).
    width, height, step, is_bigendian
        As in ``sensor_msgs/Image`` (see :func:`unpack_image`); ignored for an array.

    Returns
    -------
    (H, W) float32 ndarray

    Raises
    ------
    ImageEncodingError
        Unsupported encoding or data that does not fit the sizes.
    """
    _canonical(encoding, DEPTH_ENCODINGS, "depth")  # the error names the supported depth encodings
    if _is_pixel_array(data):
        return depth_to_metres(data, encoding)
    if width is None or height is None:
        raise ImageEncodingError(f"{encoding} depth buffer needs width and height")
    return depth_to_metres(unpack_image(data, encoding, width, height, step, is_bigendian), encoding)
