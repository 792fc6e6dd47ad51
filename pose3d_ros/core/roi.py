"""Rotation-aligned square person regions (the crops a top-down 2D model sees).

A top-down landmark model (BlazePose) only works well on a crop in which the person is upright, centred and at a
known scale. MediaPipe derives that crop from two alignment points: the body centre (mid-hip) and a point whose
distance from the centre is the radius of a circle around the whole body and whose direction is "up the spine"
(hips -> shoulders). The same rule is used here with the points coming from a bottom-up detector (first frame, new
people) or from the landmark model's own auxiliary points of the previous frame (tracking).

Coordinates: image pixels with the pixel-centre convention of OpenCV (pixel ``i`` covers ``[i - 0.5, i + 0.5)``).
Rotation: radians, positive = the crop's "up" is turned clockwise on screen (image y points down).
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = [
    "RotatedRect",
    "rect_from_alignment_points",
    "rect_from_keypoints",
    "crop_matrix",
    "crop_to_image",
    "image_to_crop",
]

#: Crop side / (2 x alignment radius): MediaPipe's RectTransformation scale for the pose ROI.
ALIGNMENT_SCALE = 1.25
#: Adult proportions, in shoulder widths (biacromial ~0.39 m): mid-shoulder to mid-hip, and the radius of the
#: circle around the whole body from the mid-hip (~0.9 m).
TORSO_PER_SHOULDER = 1.3
BODY_RADIUS_PER_SHOULDER = 2.3


@dataclasses.dataclass(frozen=True)
class RotatedRect:
    """A square region of the image, rotated about its centre.

    Attributes
    ----------
    cx, cy : float
        Centre, image pixels.
    size : float
        Side length, pixels (> 0).
    rotation : float
        Radians; 0 = upright.
    """

    cx: float
    cy: float
    size: float
    rotation: float = 0.0

    def __post_init__(self) -> None:
        values = (self.cx, self.cy, self.size, self.rotation)
        if not np.isfinite(values).all():
            raise ValueError(f"a region needs finite centre, size and rotation, got {values}")
        if not self.size > 0:
            raise ValueError(f"a region needs a positive size, got {self.size}")

    def corners(self) -> np.ndarray:
        """(4, 2) image pixels of the corners (top-left, top-right, bottom-right, bottom-left of the crop)."""
        half = 0.5 * self.size
        local = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
        return local @ _rotation(self.rotation).T + (self.cx, self.cy)

    def bounds(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounds ``(x0, y0, x1, y1)`` of the rotated square."""
        c = self.corners()
        return float(c[:, 0].min()), float(c[:, 1].min()), float(c[:, 0].max()), float(c[:, 1].max())


def _rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def _normalize_radians(angle: float) -> float:
    return float(angle - 2 * np.pi * np.floor((angle + np.pi) / (2 * np.pi)))


def rect_from_alignment_points(center, scale_point, scale: float = ALIGNMENT_SCALE,
                               target_angle: float = np.pi / 2) -> RotatedRect:
    """The crop around a body from its centre and its alignment point (MediaPipe's AlignmentPointsRects rule).

    Parameters
    ----------
    center : (2,) array_like
        Body centre (mid-hip), pixels.
    scale_point : (2,) array_like
        Point at the body's bounding radius from ``center``, in the direction hips -> shoulders.
    scale : float
        Crop side = ``scale`` x 2 x radius.
    target_angle : float
        Direction that becomes "up" in the crop (pi/2 = image up).

    Raises
    ------
    ValueError
        Non-finite points or coincident points (no size, no direction).
    """
    c = np.asarray(center, dtype=np.float64).reshape(2)
    p = np.asarray(scale_point, dtype=np.float64).reshape(2)
    if not (np.isfinite(c).all() and np.isfinite(p).all()):
        raise ValueError(f"alignment points must be finite, got {c} and {p}")
    radius = float(np.hypot(*(p - c)))
    if radius < 1e-6:
        raise ValueError("alignment points coincide: no size or direction for the crop")
    rotation = _normalize_radians(target_angle - np.arctan2(-(p[1] - c[1]), p[0] - c[0]))
    return RotatedRect(float(c[0]), float(c[1]), 2.0 * radius * scale, rotation)


def rect_from_keypoints(points, conf, left_hip: int, right_hip: int, left_shoulder: int, right_shoulder: int,
                        margin: float = 1.1, scale: float = ALIGNMENT_SCALE) -> RotatedRect | None:
    """The crop for one person found by a bottom-up detector (e.g. OpenPose grouping).

    The centre is the mid-hip (extrapolated from the shoulders when a hip is missing, else the centre of the
    joints' box); the radius is the distance from it to the farthest seen joint times ``margin`` (at least a
    whole body for an upper body); the direction is mid-hip -> mid-shoulder (upright without shoulders).

    Parameters
    ----------
    points : (J, 2) array_like
        Joints in pixels, NaN = missing.
    conf : (J,) array_like
        Confidence; <= 0 = missing.
    left_hip, right_hip, left_shoulder, right_shoulder : int
        Joint indices in ``points``.

    Returns
    -------
    RotatedRect or None
        None when fewer than two joints are seen.
    """
    pts = np.asarray(points, dtype=np.float64)
    c = np.asarray(conf, dtype=np.float64)
    seen = np.isfinite(pts).all(axis=1) & (c > 0)
    if seen.sum() < 2:
        return None
    hips_ok = seen[left_hip] and seen[right_hip]
    shoulders_ok = seen[left_shoulder] and seen[right_shoulder]
    lo, hi = pts[seen].min(axis=0), pts[seen].max(axis=0)
    up = np.array([0.0, -1.0])
    radius_floor = 0.0
    if hips_ok:
        center = 0.5 * (pts[left_hip] + pts[right_hip])
    elif shoulders_ok and np.hypot(*(pts[left_shoulder] - pts[right_shoulder])) > 1e-6:
        # Upper body only (hips out of view or hidden): the landmark model still wants a crop centred on the
        # mid-hip, which lies about TORSO_PER_SHOULDER shoulder widths below the shoulders, across their line.
        across = pts[left_shoulder] - pts[right_shoulder]
        width = float(np.hypot(*across))
        down = np.array([-across[1], across[0]]) / width
        if down[1] < 0:
            down = -down
        center = 0.5 * (pts[left_shoulder] + pts[right_shoulder]) + TORSO_PER_SHOULDER * width * down
        radius_floor = BODY_RADIUS_PER_SHOULDER * width
    else:
        center = 0.5 * (lo + hi)
    radius = max(float(np.max(np.hypot(*(pts[seen] - center).T))) * margin, radius_floor)
    if radius < 2.0:
        return None
    if shoulders_ok:
        spine = 0.5 * (pts[left_shoulder] + pts[right_shoulder]) - center
        if np.hypot(*spine) > 1e-6:
            up = spine / np.hypot(*spine)
    return rect_from_alignment_points(center, center + radius * up, scale=scale)


def crop_matrix(rect: RotatedRect, out_size: int) -> np.ndarray:
    """(2, 3) affine map image pixels -> crop pixels, for ``cv2.warpAffine(image, M, (out_size, out_size))``."""
    if int(out_size) < 1:
        raise ValueError(f"crop size must be >= 1, got {out_size}")
    k = out_size / rect.size
    rt = _rotation(rect.rotation).T * k
    # Continuous coordinates (pixel edges at integers) are the ones that rotate about the centre; convert the
    # pixel-centre convention on both sides: u_crop + 0.5 = k R^T (u_img + 0.5 - c_cont) + out/2.
    c_cont = np.array([rect.cx + 0.5, rect.cy + 0.5])
    offset = -rt @ c_cont + out_size / 2.0 + rt @ np.array([0.5, 0.5]) - 0.5
    return np.hstack([rt, offset[:, None]])


def crop_to_image(points, rect: RotatedRect, out_size: int) -> np.ndarray:
    """Crop pixels (..., 2) -> image pixels (the inverse of :func:`crop_matrix`)."""
    m = crop_matrix(rect, out_size)
    a, b = m[:, :2], m[:, 2]
    return (np.asarray(points, dtype=np.float64) - b) @ np.linalg.inv(a).T


def image_to_crop(points, rect: RotatedRect, out_size: int) -> np.ndarray:
    """Image pixels (..., 2) -> crop pixels."""
    m = crop_matrix(rect, out_size)
    return np.asarray(points, dtype=np.float64) @ m[:, :2].T + m[:, 2]
