"""Depth plausibility: the sensor's valid range and a per-frame check for depth in the wrong units.

A depth reading outside the sensor's plausible range (:data:`DEFAULT_MIN_DEPTH_M` to :data:`DEFAULT_MAX_DEPTH_M`,
a parameter) is no reading (NaN). A frame whose statistics say "wrong units" is flagged with the likely cause:
a 32FC1 image whose median is above :data:`MM_AS_METRES_MEDIAN_M` holds millimetres (converted only when asked), a
16UC1 image of nothing but 65535 marks "no reading" the wrong way (REP-118 uses 0), a 16UC1 median of a few
millimetres is metres stored as integers, a median far (2x) outside the range means other units or a wrong range.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .image_encodings import MM_PER_M

__all__ = [
    "DEFAULT_MIN_DEPTH_M",
    "DEFAULT_MAX_DEPTH_M",
    "MM_AS_METRES_MEDIAN_M",
    "DepthCheck",
    "apply_depth_range",
    "check_depth_units",
]

#: Nearest plausible depth reading (m): structured-light and stereo RGB-D cameras see nothing closer than ~0.2-0.5 m.
DEFAULT_MIN_DEPTH_M = 0.2
#: Farthest plausible depth reading (m): Kinect v1/v2, RealSense D4xx and Azure Kinect report up to ~4-10 m.
DEFAULT_MAX_DEPTH_M = 10.0
#: A 32FC1 median above this (m) is millimetres written as metres (no RGB-D camera sees people 100 m away).
MM_AS_METRES_MEDIAN_M = 100.0
#: A 16UC1 median below this (m, i.e. 20 raw units) is metres written as integer millimetres.
_METRES_AS_MM_MEDIAN_M = 0.02
#: A median this many times beyond the range is flagged (unit mistakes are factors of 10 or more; a median just
#: outside the range is the scene, e.g. a far wall, not the units).
_OUT_OF_RANGE_FACTOR = 2.0
#: The 16UC1 value some drivers use for "no reading" (REP-118 uses 0), as metres.
_U16_MAX_M = np.float32(np.iinfo(np.uint16).max / MM_PER_M)
#: Statistics use every n-th row and column of frames above this many pixels (640x480 -> 19k samples; the check
#: then costs about a millisecond).
_SAMPLE_STRIDE = 4
_FULL_PIXELS = 65536


@dataclasses.dataclass(frozen=True)
class DepthCheck:
    """Result of :func:`check_depth_units`.

    Attributes
    ----------
    depth_m : (H, W) float32
        Depth in metres with readings outside ``[min_m, max_m]`` set to NaN (converted from millimetres when
        ``converted``).
    problem : str or None
        What looks wrong and the likely cause, or None for a plausible frame.
    cause : str or None
        Short key of the problem for counting / throttling: ``"millimetres_as_metres"``, ``"metres_as_millimetres"``,
        ``"all_65535"``, ``"median_out_of_range"``, ``"no_reading"``.
    median_m : float
        Median of the valid readings before the range test (NaN when there are none), in the input's units.
    valid_fraction : float
        Share of the pixels inside the range after the check (sampled).
    converted : bool
        The 32FC1 millimetres were divided by 1000 (``convert_mm``).
    """

    depth_m: np.ndarray
    problem: str | None
    cause: str | None
    median_m: float
    valid_fraction: float
    converted: bool = False

    @property
    def usable(self) -> bool:
        """The depth can be used for metric 3D: no problem, or a problem that was corrected (``converted``)."""
        return self.problem is None or self.converted


def _sample(d: np.ndarray) -> np.ndarray:
    return d if d.size <= _FULL_PIXELS else d[::_SAMPLE_STRIDE, ::_SAMPLE_STRIDE]


def _check_range(min_m: float, max_m: float) -> tuple[float, float]:
    lo, hi = float(min_m), float(max_m)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
        raise ValueError(f"depth range must be finite with 0 <= min_m < max_m, got [{min_m}, {max_m}] m")
    return lo, hi


def apply_depth_range(
    depth_m: np.ndarray, min_m: float = DEFAULT_MIN_DEPTH_M, max_m: float = DEFAULT_MAX_DEPTH_M
) -> np.ndarray:
    """Depth with readings outside ``[min_m, max_m]`` (and non-finite ones) as NaN.

    Parameters
    ----------
    depth_m : (H, W) float array_like
        Metres.
    min_m, max_m : float
        Plausible range of the sensor, ``0 <= min_m < max_m``, finite.

    Returns
    -------
    (H, W) float32 ndarray
        A new array.

    Raises
    ------
    ValueError
        On a bad range or a non-2-D / non-float image.
    """
    lo, hi = _check_range(min_m, max_m)
    d = np.asarray(depth_m)
    if d.ndim != 2 or not np.issubdtype(d.dtype, np.floating):
        raise ValueError(f"depth_m must be a (H, W) float image in metres, got {d.dtype}{list(d.shape)}")
    out = d.astype(np.float32, copy=True)
    with np.errstate(invalid="ignore"):
        out[~((out >= np.float32(lo)) & (out <= np.float32(hi)))] = np.nan
    return out


def check_depth_units(
    depth_m: np.ndarray,
    encoding: str,
    min_m: float = DEFAULT_MIN_DEPTH_M,
    max_m: float = DEFAULT_MAX_DEPTH_M,
    convert_mm: bool = False,
) -> DepthCheck:
    """Check one depth frame's units and range, and blank readings outside the range.

    Parameters
    ----------
    depth_m : (H, W) float array_like
        The decoded frame in metres, NaN = no reading (:func:`pose3d_ros.core.image_encodings.decode_depth`).
    encoding : str
        The message's encoding (``16UC1`` / ``mono16`` / ``32FC1``): the likely causes differ.
    min_m, max_m : float
        Plausible range of the sensor (m).
    convert_mm : bool
        Divide a 32FC1 frame flagged as millimetres by 1000 (the problem is still reported, ``converted`` set).

    Returns
    -------
    DepthCheck

    Raises
    ------
    ValueError
        On a bad range, a non-2-D / non-float image or an unknown encoding.

    Examples
    --------
    >>> d = np.full((4, 4), 1500.0, np.float32)          # 1.5 m written as millimetres in a 32FC1 image
    >>> check_depth_units(d, "32FC1").cause
    'millimetres_as_metres'
    >>> float(check_depth_units(d, "32FC1", convert_mm=True).depth_m[0, 0])
    1.5
    """
    lo, hi = _check_range(min_m, max_m)
    d = np.asarray(depth_m)
    if d.ndim != 2 or not np.issubdtype(d.dtype, np.floating):
        raise ValueError(f"depth_m must be a (H, W) float image in metres, got {d.dtype}{list(d.shape)}")
    enc = str(encoding).strip().upper()
    if enc not in ("16UC1", "MONO16", "32FC1"):
        raise ValueError(f"unsupported depth encoding {encoding!r}; expected '16UC1' (mm) or '32FC1' (m)")
    sample = _sample(d)
    with np.errstate(invalid="ignore"):
        readings = sample[np.isfinite(sample) & (sample > 0)]
    median = float(np.median(readings)) if readings.size else float("nan")
    problem = cause = None
    converted = False
    rng = f"[{lo:g}, {hi:g}] m"
    if readings.size == 0:
        cause = "no_reading"
        problem = (
            f"{encoding} depth {d.shape[1]}x{d.shape[0]} has no reading at all: sensor covered or too close, "
            "emitter off, or depth not streaming"
        )
    elif enc != "32FC1" and bool(np.all(readings == _U16_MAX_M)):
        cause = "all_65535"
        problem = (
            f"every {encoding} depth reading is 65535: the driver marks 'no reading' as 65535 (REP-118 uses "
            "0), or the stream is not depth"
        )
    elif enc == "32FC1" and median > MM_AS_METRES_MEDIAN_M:
        cause = "millimetres_as_metres"
        problem = (
            f"32FC1 depth median {median:g} > {MM_AS_METRES_MEDIAN_M:g}: the image is probably in millimetres "
            "(REP-118: 32FC1 is metres)"
        )
        if convert_mm:
            d = d / np.float32(MM_PER_M)
            converted = True
            problem += "; converted from millimetres"
    elif enc != "32FC1" and median < _METRES_AS_MM_MEDIAN_M:
        cause = "metres_as_millimetres"
        problem = (
            f"{encoding} depth median {median * MM_PER_M:g} mm: the values look like metres stored as integers "
            "(REP-118: 16UC1 is millimetres)"
        )
    elif not lo / _OUT_OF_RANGE_FACTOR <= median <= hi * _OUT_OF_RANGE_FACTOR:
        cause = "median_out_of_range"
        hint = "units other than millimetres (e.g. 0.1 mm)" if enc != "32FC1" else "units other than metres"
        problem = (
            f"{encoding} depth median {median:g} m is far outside the plausible range {rng}: {hint}, or a wrong "
            "depth range parameter"
        )
    out = apply_depth_range(d, lo, hi)
    kept = _sample(out)
    fraction = float(np.isfinite(kept).mean()) if kept.size else 0.0
    return DepthCheck(out, problem, cause, median, fraction, converted)
