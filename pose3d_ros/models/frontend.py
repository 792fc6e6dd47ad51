"""The 2D front end's common result, and the network input geometry that follows the image.

Whatever produces the 2D people (the bottom-up OpenPose grouping, or the top-down BlazePose landmarker on person
crops), the rest of the pipeline sees one :class:`People2D`: joints in a named layout, confidences, and for each
person the CNN belief maps with their pixel <-> map transforms, which the 3D-prior stages
(:mod:`pose3d_ros.models.cpm_stages`) fuse with the projected pose.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

__all__ = ["PersonMaps", "People2D", "input_size_for_frame", "DEFAULT_INPUT_PIXELS"]

#: Default network input budget (pixels) of a full-frame (bottom-up) pass: 352 x 448 for a 4:3 frame. Measured on
#: the real-video validation set (first half, OpenPose s2): 49152 px 28.5 px 2D median error / 35 FPS, 90112 px
#: 22.5 px / 24 FPS, 160000 px 18.3 px / 19 FPS; accuracy first.
DEFAULT_INPUT_PIXELS = 160000


@dataclasses.dataclass
class PersonMaps:
    """CNN belief maps seen by one person, and how they sit in the image.

    Attributes
    ----------
    heatmaps : (C, h, w) float32
        Confidences in [0, 1]; channel ``k`` is joint ``k`` of ``layout`` (extra channels after them are ignored).
    image_to_map, map_to_image : callable
        ``(..., 2)`` image pixels <-> map cells.
    """

    heatmaps: np.ndarray
    image_to_map: Callable[[np.ndarray], np.ndarray]
    map_to_image: Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass
class People2D:
    """The 2D people of one frame.

    Attributes
    ----------
    layout : str
        Joint layout of ``keypoints`` and of the map channels (``openpose18``, ``blazepose33``).
    keypoints : (P, J, 2) float64
        Image pixels, NaN = missing.
    conf : (P, J) float64
        Confidence in [0, 1], 0 = missing.
    scores : (P,) float64
        Person score in [0, 1].
    maps : list of PersonMaps or None
        One per person (bottom-up people share one object); None = no belief maps (stages skipped).
    world : (P, J, 3) float64 or None
        Metric root-relative 3D from the CNN when it gives one (BlazePose world landmarks), image axes.
    full_frame : bool
        The detector looked at the whole frame (new people can appear only then).
    """

    layout: str
    keypoints: np.ndarray
    conf: np.ndarray
    scores: np.ndarray
    maps: list[PersonMaps] | None = None
    world: np.ndarray | None = None
    full_frame: bool = True

    def __post_init__(self) -> None:
        p = len(self.keypoints)
        if self.conf.shape[0] != p or self.scores.shape != (p,):
            raise ValueError(f"People2D: {p} keypoint sets but conf {self.conf.shape}, scores {self.scores.shape}")
        if self.maps is not None and len(self.maps) != p:
            raise ValueError(f"People2D: {p} people but {len(self.maps)} belief maps")

    def __len__(self) -> int:
        return len(self.keypoints)

    def take(self, index) -> People2D:
        """The people at ``index`` (an index array or slice), in that order."""
        idx = np.arange(len(self))[index]
        return People2D(
            self.layout, self.keypoints[idx], self.conf[idx], self.scores[idx],
            None if self.maps is None else [self.maps[i] for i in idx],
            None if self.world is None else self.world[idx], self.full_frame,
        )


def input_size_for_frame(height: int, width: int, pixels: int, multiple: int = 32,
                         max_size: tuple[int, int] | None = None) -> tuple[int, int]:
    """Network input ``(H, W)`` with the frame's aspect ratio and about ``pixels`` pixels.

    Portrait frames get a portrait input and landscape a landscape one, so the picture fills the input instead of
    being letterboxed into a fraction of it. Sides are multiples of ``multiple`` (few distinct shapes; the model's
    stride), rounded so the input never exceeds the frame's aspect by more than one step.

    Parameters
    ----------
    height, width : int
        Frame size, pixels.
    pixels : int
        Budget H x W of the network input.
    multiple : int
    max_size : (int, int), optional
        Upper bound per side (e.g. the frame itself: never upsample a small frame past it).

    Raises
    ------
    ValueError
        Non-positive sizes or budget.

    Examples
    --------
    >>> input_size_for_frame(480, 640, 90112)
    (256, 352)
    >>> input_size_for_frame(1920, 1088, 90112)
    (384, 224)
    """
    if min(int(height), int(width)) < 1 or int(pixels) < 1 or int(multiple) < 1:
        raise ValueError(f"need positive frame size, pixel budget and multiple, got {height}x{width}, {pixels}, "
                         f"{multiple}")
    aspect = width / height
    h = np.sqrt(pixels / aspect)
    w = h * aspect
    h_in = max(multiple, int(round(h / multiple)) * multiple)
    w_in = max(multiple, int(round(w / multiple)) * multiple)
    if max_size is not None:
        cap_h = max(multiple, int(np.ceil(max_size[0] / multiple)) * multiple)
        cap_w = max(multiple, int(np.ceil(max_size[1] / multiple)) * multiple)
        h_in, w_in = min(h_in, cap_h), min(w_in, cap_w)
    return h_in, w_in
