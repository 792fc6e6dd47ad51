"""Plausibility of a camera matrix K for an image size, ROS-free: no guessing, one clear message per problem.

A camera matrix is usable for metric 3D when ``K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` holds finite values with
``K[2, 2] == 1`` (no homogeneous rescaling is guessed), ``fx, fy > 0`` giving a field of view between
:data:`MIN_FOV_DEG` and :data:`MAX_FOV_DEG` on both axes, square-ish pixels (``fx / fy`` within
:data:`MAX_PIXEL_ASPECT`), the principal point inside the image and a skew that moves no image corner by more than
``max_skew_px`` (the pinhole model here has none). Equivalently for the focal length:
``width / (2 tan(max_fov / 2)) <= fx <= width / (2 tan(min_fov / 2))``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "MIN_FOV_DEG",
    "MAX_FOV_DEG",
    "MAX_PIXEL_ASPECT",
    "MAX_IMAGE_SIDE",
    "IntrinsicsError",
    "field_of_view_deg",
    "validate_intrinsics",
    "check_intrinsics",
]

#: Narrowest plausible field of view (degrees) of an RGB-D camera (a long lens: ~10 deg).
MIN_FOV_DEG = 10.0
#: Widest field of view (degrees) a pinhole K can describe sensibly (fisheye lenses need their distortion model).
MAX_FOV_DEG = 170.0
#: Largest ratio between fx and fy (binned or anamorphic streams stay well within it).
MAX_PIXEL_ASPECT = 3.0
#: Largest image side (pixels) accepted as a camera size.
MAX_IMAGE_SIDE = 65535
#: Largest shift (pixels) the ignored skew may cause at an image corner.
DEFAULT_MAX_SKEW_PX = 1.0


class IntrinsicsError(ValueError):
    """Camera intrinsics that are not usable for metric 3D; ``problems`` lists each reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("camera intrinsics unusable: " + "; ".join(problems))
        self.problems = list(problems)


def field_of_view_deg(focal_px: float, size_px: float) -> float:
    """Field of view (degrees) of ``size_px`` pixels seen with focal length ``focal_px``: ``2 atan(size / 2f)``."""
    return math.degrees(2.0 * math.atan2(float(size_px), 2.0 * float(focal_px)))


def _size(name: str, value: object, problems: list[str]) -> int | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        problems.append(f"image {name} {value!r} is not a number")
        return None
    if not math.isfinite(v) or not v.is_integer() or not 0 < v <= MAX_IMAGE_SIDE:
        problems.append(f"image {name} {value!r} must be a whole number of pixels in [1, {MAX_IMAGE_SIDE}]")
        return None
    return int(v)


def validate_intrinsics(
    K: object,
    width: object,
    height: object,
    *,
    min_fov_deg: float = MIN_FOV_DEG,
    max_fov_deg: float = MAX_FOV_DEG,
    max_skew_px: float = DEFAULT_MAX_SKEW_PX,
    max_pixel_aspect: float = MAX_PIXEL_ASPECT,
) -> list[str]:
    """Every problem of a camera matrix for an image size (empty list = usable).

    Parameters
    ----------
    K : (3, 3) or (9,) array_like
        Camera matrix (``CameraInfo.k``).
    width, height : int
        Image size in pixels.
    min_fov_deg, max_fov_deg : float
        Plausible field of view on each axis, ``0 < min < max < 180``.
    max_skew_px : float
        Largest shift (pixels) the skew ``K[0, 1]`` may cause at the image's top or bottom edge.
    max_pixel_aspect : float
        Largest ``max(fx / fy, fy / fx)``.

    Returns
    -------
    list of str
        One sentence per problem, naming the values.

    Raises
    ------
    ValueError
        On bad limits (not on a bad camera: that is the return value).

    Examples
    --------
    >>> validate_intrinsics([525, 0, 319.5, 0, 525, 239.5, 0, 0, 1], 640, 480)
    []
    >>> validate_intrinsics([525, 0, 319.5, 0, 525, 239.5, 0, 0, 525], 640, 480)[0]
    'K[2][2] = 525 must be 1 (a K scaled by 525?)'
    """
    if not 0 < min_fov_deg < max_fov_deg < 180:
        raise ValueError(f"need 0 < min_fov_deg < max_fov_deg < 180, got {min_fov_deg}, {max_fov_deg}")
    if not (max_skew_px >= 0 and max_pixel_aspect >= 1):
        raise ValueError(f"need max_skew_px >= 0 and max_pixel_aspect >= 1, got {max_skew_px}, {max_pixel_aspect}")
    problems: list[str] = []
    w = _size("width", width, problems)
    h = _size("height", height, problems)
    try:
        k = np.asarray(K, dtype=np.float64)
    except (TypeError, ValueError):
        return [*problems, f"K is not numeric: {K!r}"]
    if k.size != 9:
        return [*problems, f"K must have 9 values (3x3), got shape {k.shape}"]
    k = k.reshape(3, 3)
    if not np.isfinite(k).all():
        return [*problems, f"K has non-finite values: {k.tolist()}"]
    if not k.any():
        return [*problems, "K is all zeros: the camera is not calibrated"]
    if k[2, 2] != 1:
        problems.append(f"K[2][2] = {k[2, 2]:g} must be 1" + (f" (a K scaled by {k[2, 2]:g}?)" if k[2, 2] else ""))
    if k[1, 0] != 0 or k[2, 0] != 0 or k[2, 1] != 0:
        problems.append(
            f"K's lower triangle must be 0, got K[1][0] = {k[1, 0]:g}, K[2][0] = {k[2, 0]:g}, K[2][1] = {k[2, 1]:g}"
        )
    fx, fy, cx, cy, skew = k[0, 0], k[1, 1], k[0, 2], k[1, 2], k[0, 1]
    if not (fx > 0 and fy > 0):
        problems.append(f"focal lengths must be > 0, got fx = {fx:g}, fy = {fy:g}")
        return problems
    if max(fx / fy, fy / fx) > max_pixel_aspect:
        problems.append(
            f"fx = {fx:g} and fy = {fy:g} differ by more than {max_pixel_aspect:g}x (swapped or for "
            "another resolution?)"
        )
    for name, f, size in (("horizontal", fx, w), ("vertical", fy, h)):
        if size is None:
            continue
        fov = field_of_view_deg(f, size)
        if not min_fov_deg <= fov <= max_fov_deg:
            lo = size / (2 * math.tan(math.radians(max_fov_deg) / 2))
            hi = size / (2 * math.tan(math.radians(min_fov_deg) / 2))
            axis = "fx" if name == "horizontal" else "fy"
            problems.append(
                f"{name} field of view {fov:.3g} deg is outside [{min_fov_deg:g}, {max_fov_deg:g}] deg "
                f"({axis} = {f:g} px for {size} px; plausible {lo:.4g} to {hi:.4g} px)"
            )
    if w is not None and not -0.5 <= cx <= w - 0.5:
        problems.append(f"principal point cx = {cx:g} is outside the image width [-0.5, {w - 0.5:g}]")
    if h is not None and not -0.5 <= cy <= h - 0.5:
        problems.append(f"principal point cy = {cy:g} is outside the image height [-0.5, {h - 0.5:g}]")
    if h is not None and abs(skew) * (h / 2.0) / fy > max_skew_px:
        problems.append(
            f"skew K[0][1] = {skew:g} would move the image edge by {abs(skew) * h / 2 / fy:.3g} px "
            f"(> {max_skew_px:g}); the pinhole model has no skew"
        )
    return problems


def check_intrinsics(K: object, width: object, height: object, **limits: float) -> None:
    """Raise :class:`IntrinsicsError` listing every problem :func:`validate_intrinsics` finds.

    Raises
    ------
    IntrinsicsError
        A ``ValueError`` whose message joins the problems; ``.problems`` holds them.
    """
    problems = validate_intrinsics(K, width, height, **limits)
    if problems:
        raise IntrinsicsError(problems)
