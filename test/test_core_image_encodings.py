"""Tests for pose3d_ros.core.image_encodings: every ROS colour / depth encoding -> RGB uint8 / metres float32."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from pose3d_ros.core import camera
from pose3d_ros.core.image_encodings import (
    ImageEncodingError,
    decode_color,
    decode_depth,
    depth_to_metres,
    unpack_image,
)

#: a 2x3 RGB test image with distinct channels
RGB = np.arange(18, dtype=np.uint8).reshape(2, 3, 3) * 10


def _padded(rows: np.ndarray, pad: int) -> tuple[bytes, int]:
    """Rows of bytes with ``pad`` junk bytes after each (a ``step`` larger than the pixels)."""
    r = rows.reshape(rows.shape[0], -1).view(np.uint8)
    junk = np.full((r.shape[0], pad), 0xAB, np.uint8)
    return np.hstack([r, junk]).tobytes(), r.shape[1] + pad


@pytest.mark.parametrize(
    ("encoding", "pixels"),
    [
        ("rgb8", RGB),
        ("bgr8", RGB[..., ::-1]),
        ("8UC3", RGB[..., ::-1]),
        ("rgba8", np.concatenate([RGB, np.full((2, 3, 1), 7, np.uint8)], axis=2)),
        ("bgra8", np.concatenate([RGB[..., ::-1], np.full((2, 3, 1), 7, np.uint8)], axis=2)),
    ],
)
def test_colour_orders_with_row_padding(encoding, pixels):
    data, step = _padded(np.ascontiguousarray(pixels), pad=5)
    out = decode_color(data, encoding, 3, 2, step, 0)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3) and out.flags.c_contiguous
    assert_array_equal(out, RGB)
    assert_array_equal(decode_color(np.ascontiguousarray(pixels), encoding), RGB)  # an unpacked array too


def test_mono8_and_mono16():
    gray = np.array([[0, 100, 255]], np.uint8)
    assert_array_equal(decode_color(gray.tobytes(), "mono8", 3, 1), np.repeat(gray[..., None], 3, axis=2))
    g16 = np.array([[0, 256 * 100, 65535]], np.uint16)
    fixed = decode_color(g16.astype(">u2").tobytes(), "mono16", 3, 1, 6, 1, mono16_scale="fixed")
    assert fixed[0, :, 0].tolist() == [0, 100, 255]
    # an IR image using 10 of the 16 bits: "auto" stretches it (1000 is the frame's top -> 255)
    ir = np.tile(np.array([0, 250, 500, 1000], np.uint16), (8, 2))
    auto = decode_color(ir, "mono16")
    assert auto[0, :4, 1].tolist() == [0, 64, 128, 255]
    assert decode_color(np.zeros((4, 4), np.uint16), "mono16").max() == 0


def test_yuv422_byte_orders():
    # BT.601 limited range: Y=81, U=90, V=240 is pure red; Y=41, U=240, V=110 is pure blue
    red, blue = (81, 90, 240), (41, 240, 110)
    uyvy = np.array([[red[1], red[0], red[2], red[0], blue[1], blue[0], blue[2], blue[0]]], np.uint8)
    yuyv = np.array([[red[0], red[1], red[0], red[2], blue[0], blue[1], blue[0], blue[2]]], np.uint8)
    for enc, data in (("yuv422", uyvy), ("uyvy", uyvy), ("yuv422_yuy2", yuyv), ("yuyv", yuyv)):
        out = decode_color(data.tobytes(), enc, 4, 1, 8, 0).astype(int)
        assert out.shape == (1, 4, 3)
        assert np.abs(out[0, :2] - (255, 0, 0)).max() <= 3, (enc, out)
        assert np.abs(out[0, 2:] - (0, 0, 255)).max() <= 3, (enc, out)


def test_depth_16uc1_big_endian_and_padding():
    mm = np.array([[0, 1000, 1500], [65535, 250, 4000]], np.uint16)
    data, step = _padded(mm.astype(">u2"), pad=2)
    m = decode_depth(data, "16UC1", 3, 2, step, 1)
    assert m.dtype == np.float32 and m.shape == (2, 3)
    assert np.isnan(m[0, 0])
    assert_allclose(m[0, 1:], [1.0, 1.5])
    assert_allclose(m[1], [65.535, 0.25, 4.0], rtol=1e-6)
    assert_allclose(decode_depth(mm.tobytes(), "mono16", 3, 2), m, equal_nan=True)


def test_depth_32fc1_big_endian():
    d = np.array([[np.nan, 2.5, -1.0, np.inf, 0.0, 7.25]], np.float32)
    m = decode_depth(d.astype(">f4").tobytes(), "32FC1", 6, 1, 24, 1)
    assert np.isnan(m[0, [0, 2, 3, 4]]).all()
    assert m[0, 1] == np.float32(2.5) and m[0, 5] == np.float32(7.25)
    little = decode_depth(d.tobytes(), "32fc1", 6, 1, 24, 0)
    assert_allclose(little, m, equal_nan=True)


def test_camera_keeps_depth_to_metres():
    assert camera.depth_to_metres is depth_to_metres


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: decode_color(b"\0" * 12, "nv12", 2, 2), r"unsupported colour encoding 'nv12' \(supported: rgb8"),
        (lambda: decode_color(b"\0" * 12, "32FC1", 2, 2), "unsupported colour encoding '32FC1'"),
        (lambda: decode_depth(b"\0" * 12, "rgb8", 2, 2), "unsupported depth encoding 'rgb8'"),
        (lambda: decode_color(b"\0" * 17, "rgb8", 3, 2), r"rgb8 image 3x2: data has 17 bytes, expected step 9 x"),
        (lambda: decode_color(b"\0" * 40, "rgb8", 3, 2, 8), r"rgb8 image 3x2: step 8 < width 3 x 3"),
        (lambda: decode_depth(b"\0" * 40, "16UC1", 0, 2), "16UC1 image is 0x2: empty"),
        (lambda: decode_color(b"\0" * 12, "yuv422", 3, 2), "width must be even"),
        (lambda: decode_color(b"\0" * 12, "rgb8"), "needs width and height"),
        (lambda: decode_color(np.zeros((2, 2, 3), np.float32), "rgb8"), r"rgb8 needs a non-empty \(H, W, 3\) uint8"),
        (lambda: decode_color(np.zeros((2, 2), np.uint8), "rgb8"), r"got uint8\[2, 2\]"),
        (lambda: decode_color(["x"], "mono8", 1, 1), "not a byte buffer"),
        (lambda: unpack_image(b"", "16UC1", "w", 2), "must be integers"),
    ],
)
def test_errors_name_the_encoding_and_sizes(call, match):
    with pytest.raises(ImageEncodingError, match=match):
        call()
    assert issubclass(ImageEncodingError, ValueError)


def test_list_of_ints_and_array_array_buffers():
    import array

    rgb = RGB.reshape(-1).tolist()
    assert_array_equal(decode_color(rgb, "rgb8", 3, 2), RGB)
    assert_array_equal(decode_color(array.array("B", rgb), "rgb8", 3, 2, 9), RGB)
