"""Malformed colour / camera_info / depth message sets for ``bench/fuzz_node.py`` (and the valid frame they are
interleaved with).

Every builder takes the shared :class:`Assets`, a seeded ``numpy`` generator and the set's nominal stamp ``t``
(seconds) and returns a :class:`MessageSet`: the three messages the inference node synchronises (any may be None:
a missing stream), built field by field here, never through the package's own converters, so a converter bug
cannot hide its own input. Classes (``CLASSES``, each a family of variants chosen at random):

* ``color_encoding`` / ``depth_encoding``: garbage, empty, 5000-character, wrong-case and wrong-type encodings;
* ``color_geometry`` / ``depth_geometry``: zero / huge / 2^32-1 sides, steps too short, not a multiple, 2^32-1,
  sizes whose product overflows 32 bits;
* ``color_truncated`` / ``depth_truncated``: data one byte short, half, empty, one row;
* ``depth_values``: NaN, 0, +inf, 1e30, negative, 65535, noise, 1 mm, in 16UC1 and 32FC1;
* ``depth_bigendian``: the big-endian flag set on little-endian data (a lie), and honest big-endian data;
* ``depth_mm_as_m``: 32FC1 holding millimetres (2600.0 "m"); ``depth_size``: depth of another size;
* ``intrinsics``: fx = 1, 1e6, 1e300, -525, NaN, inf; cx = 1e300; K all zero; K[8] = 525; skew 1e6; P zero;
  camera_info of another size or 0x0; ``distortion``: NaN, 1e10, 100 coefficients, unknown models, short lists;
* ``frame_id``: empty, spaces, 10000 characters, control characters, different per message;
* ``stamps``: zero, negative, far future (2^31 - 1 s), 100 s back, 0.5 s back, nanosec 999999999, colour and
  depth stamps apart by 0.1 s / 5 s;
* ``content``: valid messages of noise, black, white, mono8 / bgr8 frames, a 1x1 and an 8x8 image;
* ``missing``: colour + info without depth, depth alone, info alone, colour alone.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

FRAME = "camera_color_optical_frame"
#: the valid camera: Kinect v1 colour intrinsics (fx = fy = 525 px at 640x480, centre at the middle)
FOCAL_640 = 525.0
#: the valid depth: a wall at 2.6 m (16UC1 mm). An RGB-only lift puts the footage's two players 2.4 and 2.9 m from
#: this camera; a wall much farther turns them into giants (3.5 m: 5.8 m of bones), which is the input's fault.
WALL_MM = 2600
U32 = 2**32 - 1
I32 = 2**31 - 1


@dataclasses.dataclass
class MessageSet:
    """One colour / camera_info / depth set, as published (None = not published)."""

    kind: str
    variant: str
    color: Image | None
    info: CameraInfo | None
    depth: Image | None
    valid: bool = False


class Assets:
    """Images and cameras shared by all builders (built once)."""

    def __init__(self, footage: Path) -> None:
        import cv2

        bgr = cv2.imread(str(footage))
        if bgr is None:
            raise FileNotFoundError(f"cannot read footage {footage}")
        bgr = cv2.resize(bgr, (640, 480), interpolation=cv2.INTER_AREA)
        self.rgb = np.ascontiguousarray(bgr[..., ::-1])
        self.depth_mm = np.full(self.rgb.shape[:2], WALL_MM, np.uint16)


def stamp(t: float) -> Time:
    """Seconds -> Time (sec may be negative; out-of-range values are clipped to int32)."""
    sec = math.floor(t)
    return Time(sec=int(max(-I32 - 1, min(I32, sec))), nanosec=int(min(999_999_999, max(0, round((t - sec) * 1e9)))))


def header(t: float, frame_id: str = FRAME) -> Header:
    return Header(stamp=stamp(t), frame_id=frame_id)


def image(arr: np.ndarray, encoding: str, t: float, bigendian: bool = False) -> Image:
    """A dense Image of ``arr`` (little-endian bytes unless ``bigendian``)."""
    a = np.ascontiguousarray(arr)
    if a.dtype.itemsize > 1:
        a = a.astype(a.dtype.newbyteorder(">" if bigendian else "<"))
    channels = 1 if a.ndim == 2 else a.shape[2]
    return Image(header=header(t), height=int(a.shape[0]), width=int(a.shape[1]), encoding=encoding,
                 is_bigendian=int(bigendian), step=int(a.shape[1] * channels * a.dtype.itemsize), data=a.tobytes())


def camera_info(width: int, height: int, t: float, fx: float | None = None) -> CameraInfo:
    f = FOCAL_640 * width / 640.0 if fx is None else fx
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    return CameraInfo(header=header(t), width=width, height=height, distortion_model="plumb_bob", d=[0.0] * 5,
                      k=[f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0], r=[1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0],
                      p=[f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0])


def valid_set(a: Assets, t: float, kind: str = "valid", variant: str = "footage") -> MessageSet:
    """The footage (640x480) with Kinect v1 intrinsics and a plausible depth (:data:`WALL_MM`)."""
    return MessageSet(kind, variant, image(a.rgb, "rgb8", t), camera_info(a.rgb.shape[1], a.rgb.shape[0], t),
                      image(a.depth_mm, "16UC1", t), valid=(kind == "valid"))


def _base(a: Assets, rng: np.random.Generator, t: float, kind: str, variant: str) -> MessageSet:
    """A valid set to spoil (``rng`` unused: every class starts from the same frame)."""
    del rng
    return valid_set(a, t, kind, variant)


def _pick(rng: np.random.Generator, variants: dict[str, Callable]) -> tuple[str, Callable]:
    name = list(variants)[int(rng.integers(len(variants)))]
    return name, variants[name]


# ----------------------------------------------------------------------------------------------------- builders
def color_encoding(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    enc = ["bayer_grbg8", "", "RGB8", "rgb8 ", "rgb16", "yuv422", "jpeg", "\x00", "x" * 5000, "8UC3", "16UC1",
           "32FC1", "bgra8", "rgba8", "mono16", "64FC3", "rgb8\x00garbage", "ü€"]
    s = _base(a, rng, t, "color_encoding", "")
    s.color.encoding = enc[int(rng.integers(len(enc)))]
    s.variant = repr(s.color.encoding[:20])
    return s


def depth_encoding(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    enc = ["rgb8", "mono8", "8UC1", "32FC3", "", "16SC1", "64FC1", "32FC2", "16uc1", "x" * 5000, "bgr8"]
    s = _base(a, rng, t, "depth_encoding", "")
    s.depth.encoding = enc[int(rng.integers(len(enc)))]
    s.variant = repr(s.depth.encoding[:20])
    return s


def _geometry(msg: Image, rng: np.random.Generator) -> str:
    w, h, step = msg.width, msg.height, msg.step
    variants: dict[str, Callable[[], None]] = {
        "width_0": lambda: setattr(msg, "width", 0), "height_0": lambda: setattr(msg, "height", 0),
        "both_0": lambda: (setattr(msg, "width", 0), setattr(msg, "height", 0)),
        "width_huge": lambda: setattr(msg, "width", 100_000), "height_u32": lambda: setattr(msg, "height", U32),
        "width_u32": lambda: setattr(msg, "width", U32),
        "overflow": lambda: (setattr(msg, "width", 65536), setattr(msg, "height", 65536), setattr(msg, "step", 0)),
        "step_0": lambda: setattr(msg, "step", 0), "step_short": lambda: setattr(msg, "step", step - 1),
        "step_half": lambda: setattr(msg, "step", step // 2), "step_odd": lambda: setattr(msg, "step", step + 1),
        "step_u32": lambda: setattr(msg, "step", U32),
        "swapped": lambda: (setattr(msg, "width", h), setattr(msg, "height", w)),
        "height_plus_1": lambda: setattr(msg, "height", h + 1),
    }
    name, fn = _pick(rng, variants)
    fn()
    return name


def color_geometry(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "color_geometry", "")
    s.variant = _geometry(s.color, rng)
    return s


def depth_geometry(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "depth_geometry", "")
    s.variant = _geometry(s.depth, rng)
    return s


def _truncate(msg: Image, rng: np.random.Generator) -> str:
    data = bytes(msg.data)
    cuts = {"minus_1": len(data) - 1, "half": len(data) // 2, "empty": 0, "one_row": msg.step, "odd": 7}
    name = list(cuts)[int(rng.integers(len(cuts)))]
    msg.data = data[: cuts[name]]
    return name


def color_truncated(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "color_truncated", "")
    s.variant = _truncate(s.color, rng)
    return s


def depth_truncated(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "depth_truncated", "")
    s.variant = _truncate(s.depth, rng)
    return s


def depth_values(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "depth_values", "")
    h, w = s.depth.height, s.depth.width
    f32 = {"nan": np.nan, "zero": 0.0, "inf": np.inf, "huge": 1e30, "negative": -3.0, "1mm": 0.001,
           "max_f32": np.finfo(np.float32).max, "neg_inf": -np.inf}
    u16 = {"zero16": 0, "max16": 65535, "1mm16": 1}
    options = [*f32, *u16, "noise32", "noise16", "half_nan"]
    name = options[int(rng.integers(len(options)))]
    if name in f32:
        s.depth = image(np.full((h, w), f32[name], np.float32), "32FC1", t)
    elif name in u16:
        s.depth = image(np.full((h, w), u16[name], np.uint16), "16UC1", t)
    elif name == "noise32":
        s.depth = image(rng.normal(0.0, 1e4, (h, w)).astype(np.float32), "32FC1", t)
    elif name == "noise16":
        s.depth = image(rng.integers(0, 65536, (h, w)).astype(np.uint16), "16UC1", t)
    else:
        d = np.full((h, w), WALL_MM / 1e3, np.float32)
        d[:, : w // 2] = np.nan
        s.depth = image(d, "32FC1", t)
    s.variant = name
    return s


def depth_bigendian(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "depth_bigendian", "")
    h, w = s.depth.height, s.depth.width
    name = ["lie16", "lie32", "true16", "true32"][int(rng.integers(4))]
    arr = np.full((h, w), WALL_MM, np.uint16) if name.endswith("16") else np.full((h, w), WALL_MM / 1e3, np.float32)
    enc = "16UC1" if name.endswith("16") else "32FC1"
    s.depth = image(arr, enc, t, bigendian=name.startswith("true"))
    if name.startswith("lie"):
        s.depth.is_bigendian = 1  # little-endian bytes that claim to be big-endian
    s.variant = name
    return s


def depth_mm_as_m(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "depth_mm_as_m", f"{WALL_MM:.1f} in 32FC1")
    s.depth = image(np.full((s.depth.height, s.depth.width), float(WALL_MM), np.float32), "32FC1", t)
    return s


def depth_size(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "depth_size", "")
    shape = [(240, 320), (480, 640), (120, 160), (481, 640), (1, 1)][int(rng.integers(5))]
    if shape == (s.depth.height, s.depth.width):
        shape = (shape[0] + 1, shape[1])
    s.depth = image(np.full(shape, WALL_MM, np.uint16), "16UC1", t)
    s.variant = f"{shape[1]}x{shape[0]}"
    return s


def intrinsics(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "intrinsics", "")
    k, p = list(s.info.k), list(s.info.p)

    def set_k(i: int, v: float) -> None:
        k[i] = v
        if i in (0, 2, 4, 5):
            p[{0: 0, 2: 2, 4: 5, 5: 6}[i]] = v

    variants: dict[str, Callable[[], None]] = {
        "fx_1": lambda: set_k(0, 1.0), "fx_1e6": lambda: set_k(0, 1e6), "fx_1e300": lambda: set_k(0, 1e300),
        "fx_negative": lambda: set_k(0, -525.0), "fx_nan": lambda: set_k(0, math.nan),
        "fx_inf": lambda: set_k(0, math.inf), "fy_0": lambda: set_k(4, 0.0), "cx_1e300": lambda: set_k(2, 1e300),
        "cy_negative_huge": lambda: set_k(5, -1e12), "k_zero": lambda: k.__setitem__(slice(None), [0.0] * 9),
        "k8_525": lambda: set_k(8, 525.0), "skew_1e6": lambda: set_k(1, 1e6), "k_nan": lambda: k.__setitem__(
            slice(None), [math.nan] * 9), "p_zero": lambda: p.__setitem__(slice(None), [0.0] * 12),
        "r_garbage": lambda: setattr(s.info, "r", [1e9] * 9),
        "size_mismatch": lambda: setattr(s.info, "width", s.info.width // 2),
        "size_0": lambda: (setattr(s.info, "width", 0), setattr(s.info, "height", 0)),
        "size_u32": lambda: setattr(s.info, "height", U32),
    }
    s.variant, fn = _pick(rng, variants)
    fn()
    s.info.k, s.info.p = k, p
    return s


def distortion(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "distortion", "")
    variants = {
        "nan": ("plumb_bob", [math.nan] * 5), "huge": ("plumb_bob", [1e10, -1e10, 1e10, 1e10, 1e10]),
        "k1_minus_1": ("plumb_bob", [-1.0, 0, 0, 0, 0]), "many": ("plumb_bob", list(rng.normal(0, 100, 100))),
        "short": ("plumb_bob", [0.1]), "unknown_model": ("fisheye_garbage", [0.1] * 5),
        "empty_model": ("", [0.1, 0.2, 0.0, 0.0, 0.0]), "rational_short": ("rational_polynomial", [0.1] * 3),
        "equidistant_huge": ("equidistant", [1e6, 1e6, 1e6, 1e6]), "inf": ("plumb_bob", [math.inf] * 5),
        "none_with_coeffs": ("none", [5.0] * 5),
    }
    s.variant = list(variants)[int(rng.integers(len(variants)))]
    s.info.distortion_model, s.info.d = variants[s.variant][0], [float(v) for v in variants[s.variant][1]]
    return s


def frame_id(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "frame_id", "")
    ids = {"empty": "", "spaces": "   ", "long": "x" * 10000, "control": "cam\n\t\x00era", "unicode": "камера/ü",
           "slashes": "///", "tf_invalid": "camera frame#1"}
    s.variant = list(ids)[int(rng.integers(len(ids)))] if rng.random() < 0.9 else "differ"
    if s.variant == "differ":
        s.color.header.frame_id, s.info.header.frame_id, s.depth.header.frame_id = "a", "b", "c"
    else:
        for m in (s.color, s.info, s.depth):
            m.header.frame_id = ids[s.variant]
    return s


def stamps(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "stamps", "")
    shifts = {"zero": None, "negative": -5.0 - t, "far_future": I32 - t, "back_100s": -100.0, "back_0.5s": -0.5,
              "nanosec_max": None, "depth_apart_0.1s": None, "depth_apart_5s": None, "epoch_1s": 1.0 - t}
    s.variant = list(shifts)[int(rng.integers(len(shifts)))]
    msgs = (s.color, s.info, s.depth)
    if s.variant == "zero":
        for m in msgs:
            m.header.stamp = Time(sec=0, nanosec=0)
    elif s.variant == "nanosec_max":
        for m in msgs:
            m.header.stamp = Time(sec=int(t), nanosec=999_999_999)
    elif s.variant.startswith("depth_apart"):
        s.depth.header.stamp = stamp(t + (0.1 if s.variant.endswith("0.1s") else 5.0))
    else:
        for m in msgs:
            m.header.stamp = stamp(t + shifts[s.variant])
    return s


def content(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "content", "")
    h, w = s.color.height, s.color.width
    s.variant = ["noise", "black", "white", "mono8", "bgr8", "tiny_1x1", "small_8x8"][int(rng.integers(7))]
    if s.variant == "noise":
        s.color = image(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "rgb8", t)
    elif s.variant in ("black", "white"):
        s.color = image(np.full((h, w, 3), 0 if s.variant == "black" else 255, np.uint8), "rgb8", t)
    elif s.variant == "mono8":
        s.color = image(a.rgb.mean(axis=2).astype(np.uint8), "mono8", t)
    elif s.variant == "bgr8":
        s.color = image(np.ascontiguousarray(a.rgb[..., ::-1]), "bgr8", t)
    else:
        side = 1 if s.variant == "tiny_1x1" else 8
        s.color = image(np.full((side, side, 3), 128, np.uint8), "rgb8", t)
        s.info = camera_info(side, side, t)
        s.depth = image(np.full((side, side), WALL_MM, np.uint16), "16UC1", t)
    return s


def missing(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    s = _base(a, rng, t, "missing", "")
    s.variant = ["no_depth", "depth_only", "info_only", "color_only"][int(rng.integers(4))]
    if s.variant == "no_depth":
        s.depth = None
    elif s.variant == "depth_only":
        s.color = s.info = None
    elif s.variant == "info_only":
        s.color = s.depth = None
    else:
        s.info = s.depth = None
    return s


CLASSES: dict[str, Callable[[Assets, np.random.Generator, float], MessageSet]] = {
    f.__name__: f for f in (color_encoding, depth_encoding, color_geometry, depth_geometry, color_truncated,
                            depth_truncated, depth_values, depth_bigendian, depth_mm_as_m, depth_size, intrinsics,
                            distortion, frame_id, stamps, content, missing)
}


def malformed(a: Assets, rng: np.random.Generator, t: float) -> MessageSet:
    """One malformed set of a class chosen uniformly."""
    names = list(CLASSES)
    return CLASSES[names[int(rng.integers(len(names)))]](a, rng, t)
