"""Which topics of a recorded bag hold colour, registered depth and their camera infos.

Bags from other cameras use other names (DESIGN.md §3): ours and openni/freenect ``<ns>/color/image_raw`` +
``<ns>/depth_registered/image_raw``; RealSense ``/camera/color/image_raw`` + ``/camera/aligned_depth_to_color/
image_raw``; Azure Kinect ``/rgb/image_raw`` (bgra8) + ``/depth_to_rgb/image_raw``. Topics are picked by message
type first, then by name: colour is an image topic without depth / infrared words in its name, preferring
``color`` / ``rgb`` and ``image_raw``; depth is an image topic with ``depth`` in its name, preferring the ones
registered to colour; a camera info is the ``camera_info`` next to its image. Explicit names override the choice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BagTopics", "choose_topics", "IMAGE_TYPES", "INFO_TYPE", "RAW_IMAGE_TYPE", "COMPRESSED_IMAGE_TYPE"]

RAW_IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (RAW_IMAGE_TYPE, COMPRESSED_IMAGE_TYPE)
INFO_TYPE = "sensor_msgs/msg/CameraInfo"

#: name words that rule a topic out as colour
_NOT_COLOR = {
    "depth",
    "ir",
    "infra",
    "infra1",
    "infra2",
    "infrared",
    "disparity",
    "confidence",
    "mask",
    "debug",
    "segmentation",
    "compresseddepth",
    "thermal",
}
#: name words of depth registered to the colour camera
_REGISTERED = ("depth_registered", "aligned_depth_to_color", "depth_to_rgb", "registered", "aligned")
#: image_transport sub-topics that sit below the image topic
_TRANSPORTS = ("compressed", "compresseddepth", "theora", "zstd")


@dataclass(frozen=True)
class BagTopics:
    """The chosen topics (``None``: the bag has none, or depth is not wanted)."""

    color: str
    depth: str | None
    color_info: str | None
    depth_info: str | None


def _words(topic: str) -> set[str]:
    return {w for w in re.split(r"[/_\-.]+", topic.lower()) if w}


def _image_base(topic: str) -> str:
    """``/a/image_raw/compressed`` -> ``/a/image_raw`` (the image topic under an image_transport suffix)."""
    parent, _, last = topic.rstrip("/").rpartition("/")
    return parent if last.lower() in _TRANSPORTS else topic


def _parent(topic: str) -> str:
    return _image_base(topic).rpartition("/")[0]


def _color_score(topic: str, msgtype: str) -> tuple:
    words, last = _words(topic), _image_base(topic).rpartition("/")[2].lower()
    return (
        bool(words & {"color", "colour", "rgb"}),
        last == "image_raw",
        msgtype == RAW_IMAGE_TYPE,
        last.startswith("image"),
    )


def _depth_score(topic: str, msgtype: str) -> tuple:
    name, last = topic.lower(), _image_base(topic).rpartition("/")[2].lower()
    return (any(r in name for r in _REGISTERED), msgtype == RAW_IMAGE_TYPE, last == "image_raw", "rect" in name)


def _shared(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _info_for(image_topic: str, infos: list[str], exclude_depth: bool) -> str | None:
    want = f"{_parent(image_topic)}/camera_info"
    if want in infos:
        return want
    # else the info sharing the longest namespace with the image (at least one level: never another camera's)
    parent = _parent(image_topic).split("/")
    best, best_len = None, 1
    for info in infos:
        if exclude_depth and "depth" in _words(info):
            continue
        n = _shared(info.rpartition("/")[0].split("/"), parent)
        if n > best_len:
            best, best_len = info, n
    return best


def _resolve(name: str, topics: Mapping[str, str], types: tuple[str, ...], what: str) -> str:
    for cand in (name, "/" + name.lstrip("/")):
        if cand in topics:
            if topics[cand] not in types:
                raise LookupError(f"{what} topic {cand!r} is a {topics[cand]}, not a {' / '.join(types)}")
            return cand
    have = ", ".join(f"{t} ({m.rsplit('/', 1)[-1]})" for t, m in sorted(topics.items()) if m in types) or "none"
    raise LookupError(f"the bag has no {what} topic {name!r} (its {' / '.join(types)} topics: {have})")


def choose_topics(
    topics: Mapping[str, str],
    color: str | None = None,
    depth: str | None = None,
    info: str | None = None,
    use_depth: bool = True,
) -> BagTopics:
    """Pick the colour, depth and camera-info topics of a bag.

    Parameters
    ----------
    topics : mapping of topic name -> message type (``sensor_msgs/msg/Image``, ...)
    color, depth, info : str, optional
        Explicit topic names (with or without the leading ``/``); they must exist with the right type.
    use_depth : bool
        False: no depth topic is chosen.

    Raises
    ------
    LookupError
        No colour image topic, or an explicit topic that is missing or of another type. The message lists the
        bag's image topics.
    """
    images = {t: m for t, m in topics.items() if m in IMAGE_TYPES}
    infos = sorted(t for t, m in topics.items() if m == INFO_TYPE)
    if color is not None:
        color_topic = _resolve(color, topics, IMAGE_TYPES, "colour image")
    else:
        cands = [t for t in images if not (_words(t) & _NOT_COLOR)]
        if not cands:
            have = ", ".join(sorted(images)) or "none"
            raise LookupError(f"the bag has no colour image topic (its image topics: {have}); name one explicitly")
        color_topic = max(sorted(cands), key=lambda t: _color_score(t, images[t]))
    depth_topic = None
    if depth is not None and use_depth:
        depth_topic = _resolve(depth, topics, IMAGE_TYPES, "depth image")
    elif use_depth:
        cands = [t for t in images if "depth" in _words(t) and t != color_topic and "confidence" not in _words(t)]
        if cands:
            depth_topic = max(sorted(cands), key=lambda t: _depth_score(t, images[t]))
    color_info = _resolve(info, topics, (INFO_TYPE,), "camera info") if info else _info_for(color_topic, infos, True)
    depth_info = None
    if depth_topic is not None:
        want = f"{_parent(depth_topic)}/camera_info"
        depth_info = want if want in infos else None
    return BagTopics(color_topic, depth_topic, color_info, depth_info)
