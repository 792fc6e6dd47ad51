"""Pinhole camera geometry in the REP-103 optical frame (x right, y down, z forward), ROS calibration YAML, and
REP-118 depth images.

Pixel convention: as in ROS ``CameraInfo`` and OpenCV, integer pixel coordinates are pixel centres, so the image
spans ``[-0.5, width - 0.5]``. Projection is distortion-free: feed rectified (or undistorted, e.g. Kinect registered)
images.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import yaml

__all__ = [
    "PinholeCamera",
    "KINECT_V1_FOCAL_PX",
    "KINECT_V1_WIDTH",
    "load_camera_yaml",
    "save_camera_yaml",
    "depth_to_metres",
]

#: Focal length (pixels) of the Kinect v1 colour camera at 640x480 (the common default of the ROS openni/freenect
#: drivers when the device has no calibration).
KINECT_V1_FOCAL_PX = 525.0
#: Image width (pixels) that :data:`KINECT_V1_FOCAL_PX` refers to.
KINECT_V1_WIDTH = 640
#: Millimetres per metre (REP-118: 16UC1 depth is in millimetres).
_MM_PER_M = 1000.0


@dataclass(frozen=True)
class PinholeCamera:
    """Distortion-free pinhole camera.

    Parameters
    ----------
    fx, fy : float
        Focal lengths in pixels; finite and > 0.
    cx, cy : float
        Principal point in pixels (pixel-centre convention); finite.
    width, height : int
        Image size in pixels; > 0.

    Raises
    ------
    ValueError
        On non-positive or non-finite focal lengths, non-finite principal point, or non-positive image size.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy"):
            value = getattr(self, name)
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"camera {name} must be a number, got {value!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"camera {name} must be finite, got {value}")
            object.__setattr__(self, name, value)
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(
                f"camera focal lengths must be > 0, got fx={self.fx}, fy={self.fy} (uncalibrated camera_info?)"
            )
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"camera {name} must be a whole number of pixels, got {value}")
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ValueError(f"camera {name} must be an integer, got {value!r}") from None
            if value <= 0:
                raise ValueError(f"camera {name} must be > 0, got {value}")
            object.__setattr__(self, name, value)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_K(cls, K: np.ndarray, width: int, height: int) -> PinholeCamera:  # noqa: N802 - K is the usual name
        """Build from a 3x3 intrinsic matrix (e.g. ``CameraInfo.k`` reshaped, 9 values accepted too).

        Parameters
        ----------
        K : (3, 3) or (9,) array_like
            ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]``. Skew ``s`` is ignored (zero for real cameras).
        width, height : int

        Raises
        ------
        ValueError
            If K has the wrong size, is all zeros (a driver publishing an uncalibrated ``CameraInfo``), holds
            non-finite values, or has ``fx <= 0`` / ``fy <= 0``.
        """
        k = np.asarray(K, dtype=np.float64)
        if k.size != 9:
            raise ValueError(f"camera matrix K must have 9 values (3x3), got shape {k.shape}")
        k = k.reshape(3, 3)
        if not np.isfinite(k).all():
            raise ValueError(f"camera matrix K has non-finite values: {k.tolist()}")
        if not k.any():
            raise ValueError("camera matrix K is all zeros: the camera is not calibrated (check camera_info)")
        if k[2, 2] != 0 and k[2, 2] != 1:
            k = k / k[2, 2]  # homogeneous scale
        return cls(fx=k[0, 0], fy=k[1, 1], cx=k[0, 2], cy=k[1, 2], width=width, height=height)

    @classmethod
    def default(cls, width: int = KINECT_V1_WIDTH, height: int = 480) -> PinholeCamera:
        """Default intrinsics when no calibration exists: Kinect v1 colour camera.

        ``fx = fy = 525 * width / 640`` (square pixels, the Kinect v1 factory-typical focal length scaled to the
        image width), principal point at the image centre ``((width - 1) / 2, (height - 1) / 2)``.
        """
        f = KINECT_V1_FOCAL_PX * float(width) / KINECT_V1_WIDTH
        return cls(fx=f, fy=f, cx=(width - 1) / 2.0, cy=(height - 1) / 2.0, width=width, height=height)

    # ---------------------------------------------------------------- properties
    @property
    def K(self) -> np.ndarray:  # noqa: N802
        """(3, 3) float64 intrinsic matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape ``(height, width)``."""
        return (self.height, self.width)

    # ---------------------------------------------------------------- geometry
    def project(self, points: np.ndarray) -> np.ndarray:
        """Project camera-frame points to pixels.

        Parameters
        ----------
        points : (..., 3) array_like
            Metres in the optical frame.

        Returns
        -------
        (..., 2) float64 ndarray
            ``(u, v)``; NaN for points with ``z <= 0`` (behind or on the camera plane) or non-finite coordinates.
        """
        p = np.asarray(points, dtype=np.float64)
        if p.ndim < 1 or p.shape[-1] != 3:
            raise ValueError(f"points must have shape (..., 3), got {p.shape}")
        z = p[..., 2]
        ok = np.isfinite(p).all(axis=-1) & (z > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            zs = np.where(ok, z, 1.0)
            uv = np.stack([self.fx * p[..., 0] / zs + self.cx, self.fy * p[..., 1] / zs + self.cy], axis=-1)
        uv[~ok] = np.nan
        return uv

    def back_project(self, uv: np.ndarray, depth_m: np.ndarray | float) -> np.ndarray:
        """Back-project pixels with known depth (z, metres along the optical axis) to camera-frame points.

        Parameters
        ----------
        uv : (..., 2) array_like
            Pixel coordinates.
        depth_m : (...) array_like or float
            Depth ``z`` in metres, broadcastable to ``uv.shape[:-1]``. Non-positive or non-finite -> NaN point.

        Returns
        -------
        (..., 3) float64 ndarray
        """
        q = np.asarray(uv, dtype=np.float64)
        if q.ndim < 1 or q.shape[-1] != 2:
            raise ValueError(f"uv must have shape (..., 2), got {q.shape}")
        z = np.asarray(depth_m, dtype=np.float64)
        try:
            z = np.broadcast_to(z, q.shape[:-1])
        except ValueError:
            raise ValueError(f"depth_m of shape {z.shape} does not broadcast to uv points {q.shape[:-1]}") from None
        z = np.where(np.isfinite(z) & (z > 0), z, np.nan)
        x = (q[..., 0] - self.cx) / self.fx * z
        y = (q[..., 1] - self.cy) / self.fy * z
        return np.stack([x, y, z], axis=-1)

    def rays(self, uv: np.ndarray) -> np.ndarray:
        """Unit viewing rays through pixels, ``(..., 2) -> (..., 3)`` (z > 0)."""
        d = self.back_project(uv, 1.0)
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def scaled(self, sx: float, sy: float | None = None) -> PinholeCamera:
        """Camera of the image resized by ``(sx, sy)`` (e.g. the network input).

        Uses the pixel-centre convention of ``cv2.resize``: ``u' = (u + 0.5) * sx - 0.5``, so
        ``cx' = (cx + 0.5) * sx - 0.5``; the new size is ``round(width * sx)`` x ``round(height * sy)``.
        ``sy`` defaults to ``sx``.
        """
        sy = sx if sy is None else sy
        for name, s in (("sx", sx), ("sy", sy)):
            if not (math.isfinite(s) and s > 0):
                raise ValueError(f"scale {name} must be finite and > 0, got {s}")
        return PinholeCamera(
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
            width=max(1, round(self.width * sx)),
            height=max(1, round(self.height * sy)),
        )

    def contains(self, uv: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Whether pixels lie inside the image (shrunk by ``margin`` pixels); ``(..., 2) -> (...)`` bool."""
        q = np.asarray(uv, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return (
                (q[..., 0] >= -0.5 + margin)
                & (q[..., 0] <= self.width - 0.5 - margin)
                & (q[..., 1] >= -0.5 + margin)
                & (q[..., 1] <= self.height - 0.5 - margin)
            )


# -------------------------------------------------------------------- calibration YAML
def _matrix(data: dict, key: str, rows: int, cols: int) -> np.ndarray:
    node = data.get(key)
    if not isinstance(node, dict) or "data" not in node:
        raise ValueError(f"camera YAML: {key!r} must be a mapping with rows, cols and data")
    values = np.asarray(node["data"], dtype=np.float64).reshape(-1)
    r, c = int(node.get("rows", rows)), int(node.get("cols", cols))
    if values.size != r * c:
        raise ValueError(f"camera YAML: {key!r} declares {r}x{c} but has {values.size} values")
    return values.reshape(r, c)


def load_camera_yaml(path: str | PathLike, use_projection: bool = False) -> PinholeCamera:
    """Read a ROS camera calibration YAML (``camera_calibration`` / ``camera_info_manager`` format).

    Parameters
    ----------
    path : str or path-like
    use_projection : bool, optional
        Take the intrinsics from ``projection_matrix`` (for rectified images) instead of ``camera_matrix``.

    Returns
    -------
    PinholeCamera

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not valid YAML, lacks ``image_width``/``image_height``/``camera_matrix``, or holds an
        uncalibrated (all-zero) or invalid matrix.

    Notes
    -----
    Non-zero distortion coefficients are ignored with a ``UserWarning``: the pipeline expects rectified images.
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"camera YAML {p}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"camera YAML {p}: expected a mapping at top level, got {type(data).__name__}")
    for key in ("image_width", "image_height"):
        if key not in data:
            raise ValueError(f"camera YAML {p}: missing {key!r}")
    if use_projection:
        k = _matrix(data, "projection_matrix", 3, 4)[:, :3]
    else:
        k = _matrix(data, "camera_matrix", 3, 3)
    if "distortion_coefficients" in data:
        d = _matrix(data, "distortion_coefficients", 1, 5)
        if np.any(d != 0) and not use_projection:
            warnings.warn(
                f"camera YAML {p}: distortion {d.ravel().tolist()} is ignored; feed rectified images",
                UserWarning,
                stacklevel=2,
            )
    try:
        return PinholeCamera.from_K(k, int(data["image_width"]), int(data["image_height"]))
    except ValueError as exc:
        raise ValueError(f"camera YAML {p}: {exc}") from exc


def save_camera_yaml(path: str | PathLike, cam: PinholeCamera, name: str = "camera") -> None:
    """Write ``cam`` as a ROS camera calibration YAML (plumb_bob, zero distortion, identity rectification,
    ``P = [K | 0]``), readable by ``camera_info_manager`` and :func:`load_camera_yaml`."""
    k = cam.K
    p = np.hstack([k, np.zeros((3, 1))])
    data = {
        "image_width": int(cam.width),
        "image_height": int(cam.height),
        "camera_name": str(name),
        "camera_matrix": {"rows": 3, "cols": 3, "data": [float(v) for v in k.ravel()]},
        "distortion_model": "plumb_bob",
        "distortion_coefficients": {"rows": 1, "cols": 5, "data": [0.0] * 5},
        "rectification_matrix": {"rows": 3, "cols": 3, "data": [float(v) for v in np.eye(3).ravel()]},
        "projection_matrix": {"rows": 3, "cols": 4, "data": [float(v) for v in p.ravel()]},
    }
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None))


# -------------------------------------------------------------------- depth images (REP-118)
def depth_to_metres(depth: np.ndarray, encoding: str) -> np.ndarray:
    """Convert a depth image to float32 metres with invalid pixels as NaN (REP-118).

    Parameters
    ----------
    depth : (H, W) array_like
        Raw depth image.
    encoding : {"16UC1", "32FC1"}
        ``16UC1``: unsigned millimetres, 0 = no reading. ``32FC1``: metres, NaN/inf/<=0 = no reading.
        (``mono16`` is accepted as an alias of 16UC1.)

    Returns
    -------
    (H, W) float32 ndarray

    Raises
    ------
    ValueError
        On an unknown encoding or a non-2D image.
    """
    d = np.asarray(depth)
    if d.ndim == 3 and d.shape[-1] == 1:
        d = d[..., 0]
    if d.ndim != 2:
        raise ValueError(f"depth image must be 2-D (H, W), got shape {d.shape}")
    enc = str(encoding).upper()
    if enc in ("16UC1", "MONO16"):
        out = d.astype(np.float32) / np.float32(_MM_PER_M)
    elif enc == "32FC1":
        out = d.astype(np.float32, copy=True)
    else:
        raise ValueError(f"unsupported depth encoding {encoding!r}; expected '16UC1' (mm) or '32FC1' (m)")
    out[~(np.isfinite(out) & (out > 0))] = np.nan
    return out
