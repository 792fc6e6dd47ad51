"""Pinhole camera geometry in the REP-103 optical frame (x right, y down, z forward), ROS calibration YAML, and
REP-118 depth images.

Pixel convention: as in ROS ``CameraInfo`` and OpenCV, integer pixel coordinates are pixel centres, so the image
spans ``[-0.5, width - 0.5]``. A camera may carry a lens distortion (:class:`pose3d_ros.core.distortion.Distortion`,
from ``CameraInfo.distortion_model`` + ``D``): then :meth:`PinholeCamera.project` / :meth:`PinholeCamera.back_project`
work in raw (distorted) image pixels, :meth:`PinholeCamera.undistort_pixels` gives the ideal pinhole pixels of the same
K, and :meth:`PinholeCamera.without_distortion` is the ideal camera those pixels belong to (what the lifter takes).
Intrinsics validation: :mod:`pose3d_ros.core.intrinsics`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import yaml

from .distortion import Distortion
from .image_encodings import depth_to_metres
from .intrinsics import IntrinsicsError, check_intrinsics, validate_intrinsics

__all__ = [
    "PinholeCamera",
    "KINECT_V1_FOCAL_PX",
    "KINECT_V1_WIDTH",
    "load_camera_yaml",
    "save_camera_yaml",
    "depth_to_metres",  # moved to pose3d_ros.core.image_encodings; kept here for callers
    "validate_intrinsics",  # from pose3d_ros.core.intrinsics
    "IntrinsicsError",
]

#: Focal length (pixels) of the Kinect v1 colour camera at 640x480 (the common default of the ROS openni/freenect
#: drivers when the device has no calibration).
KINECT_V1_FOCAL_PX = 525.0
#: Image width (pixels) that :data:`KINECT_V1_FOCAL_PX` refers to.
KINECT_V1_WIDTH = 640


@dataclass(frozen=True)
class PinholeCamera:
    """Pinhole camera, optionally with lens distortion.

    Parameters
    ----------
    fx, fy : float
        Focal lengths in pixels; finite and > 0.
    cx, cy : float
        Principal point in pixels (pixel-centre convention); finite.
    width, height : int
        Image size in pixels; > 0.
    distortion : Distortion or None
        Lens distortion of the raw image (None, or all-zero coefficients: none).

    Raises
    ------
    ValueError
        On non-positive or non-finite focal lengths, non-finite principal point, non-positive image size, or a
        ``distortion`` that is not a :class:`Distortion`. (Plausibility: :meth:`from_K` / :mod:`.intrinsics`.)
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion: Distortion | None = None

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
        if self.distortion is not None:
            if not isinstance(self.distortion, Distortion):
                raise ValueError(
                    f"camera distortion must be a Distortion or None, got {type(self.distortion).__name__}"
                    " (use Distortion.from_ros(model, D))"
                )
            if self.distortion.is_zero:
                object.__setattr__(self, "distortion", None)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_K(
        cls, K: np.ndarray, width: int, height: int, distortion: Distortion | None = None, **limits: float
    ) -> PinholeCamera:
        """Build from a camera matrix (``CameraInfo.k``), validated: no guessing.

        Parameters
        ----------
        K : (3, 3) or (9,) array_like
            ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]``; the skew ``s`` must be negligible (it is dropped).
        width, height : int
        distortion : Distortion, optional
            E.g. ``Distortion.from_ros(info.distortion_model, info.d)``.
        **limits
            Plausibility limits of :func:`pose3d_ros.core.intrinsics.validate_intrinsics` (``min_fov_deg``, ...).

        Raises
        ------
        pose3d_ros.core.intrinsics.IntrinsicsError
            A ``ValueError`` listing every problem: wrong size, non-finite or all-zero K (an uncalibrated driver),
            ``K[2][2] != 1``, a field of view outside 10-170 degrees, principal point outside the image, skew.
        pose3d_ros.core.distortion.DistortionError
            A ``ValueError``: a ``distortion`` that cannot describe this image (:meth:`Distortion.check_image`).
        """
        check_intrinsics(K, width, height, **limits)
        k = np.asarray(K, dtype=np.float64).reshape(3, 3)
        if distortion is not None and not distortion.is_zero:
            distortion.check_image(k, int(float(width)), int(float(height)))
        return cls(
            fx=k[0, 0],
            fy=k[1, 1],
            cx=k[0, 2],
            cy=k[1, 2],
            width=int(float(width)),
            height=int(float(height)),
            distortion=distortion,
        )

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

    @property
    def has_distortion(self) -> bool:
        """The raw image is distorted (pixels must go through :meth:`undistort_pixels` before pinhole geometry)."""
        return self.distortion is not None

    def without_distortion(self) -> PinholeCamera:
        """The ideal pinhole camera of the same K: the camera of :meth:`undistort_pixels`' output."""
        return self if self.distortion is None else dataclasses.replace(self, distortion=None)

    # ---------------------------------------------------------------- distortion
    def undistort_pixels(self, uv: np.ndarray) -> np.ndarray:
        """Raw image pixels -> ideal pinhole pixels of the same K, ``(..., 2) -> (..., 2)`` float64.

        A copy when there is no distortion. NaN for NaN input and for pixels the model cannot invert (see
        :meth:`pose3d_ros.core.distortion.Distortion.undistort_pixels`).
        """
        q = np.array(uv, dtype=np.float64)
        if q.ndim < 1 or q.shape[-1] != 2:
            raise ValueError(f"uv must have shape (..., 2), got {q.shape}")
        return q if self.distortion is None else self.distortion.undistort_pixels(q, self.K)

    def distort_pixels(self, uv: np.ndarray) -> np.ndarray:
        """Ideal pinhole pixels -> raw image pixels, ``(..., 2) -> (..., 2)`` float64 (inverse of
        :meth:`undistort_pixels`; a copy when there is no distortion)."""
        q = np.array(uv, dtype=np.float64)
        if q.ndim < 1 or q.shape[-1] != 2:
            raise ValueError(f"uv must have shape (..., 2), got {q.shape}")
        return q if self.distortion is None else self.distortion.distort_pixels(q, self.K)

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
            ``(u, v)`` in the raw image (distorted when the camera has a distortion, as ``cv2.projectPoints``);
            NaN for points with ``z <= 0`` (behind or on the camera plane), non-finite coordinates, or outside the
            distortion model's valid range.
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
        return uv if self.distortion is None else self.distortion.distort_pixels(uv, self.K)

    def back_project(self, uv: np.ndarray, depth_m: np.ndarray | float) -> np.ndarray:
        """Back-project pixels with known depth (z, metres along the optical axis) to camera-frame points.

        Parameters
        ----------
        uv : (..., 2) array_like
            Pixel coordinates in the raw image (undistorted first when the camera has a distortion).
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
        if self.distortion is not None:
            q = self.distortion.undistort_pixels(q, self.K)
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
        ``sy`` defaults to ``sx``. The distortion (a function of normalised coordinates) is kept.
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
            distortion=self.distortion,
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
    try:
        values = np.asarray(node["data"], dtype=np.float64).reshape(-1)
        r, c = int(node.get("rows", rows)), int(node.get("cols", cols))
    except (TypeError, ValueError):
        raise ValueError(f"camera YAML: {key!r} must hold numbers, got {node!r}") from None
    if values.size != r * c:
        raise ValueError(f"camera YAML: {key!r} declares {r}x{c} but has {values.size} values")
    return values.reshape(r, c)


def load_camera_yaml(path: str | PathLike, use_projection: bool = False) -> PinholeCamera:
    """Read a ROS camera calibration YAML (``camera_calibration`` / ``camera_info_manager`` format).

    Parameters
    ----------
    path : str or path-like
    use_projection : bool, optional
        Take the intrinsics from ``projection_matrix`` and no distortion: for rectified images (``image_rect``).

    Returns
    -------
    PinholeCamera
        With the file's ``distortion_model`` + ``distortion_coefficients`` (None when absent or all zero), unless
        ``use_projection``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not valid YAML, lacks ``image_width``/``image_height``/``camera_matrix``, holds an
        uncalibrated (all-zero) or implausible matrix (:class:`pose3d_ros.core.intrinsics.IntrinsicsError`), or a
        distortion that does not fit its model (:class:`pose3d_ros.core.distortion.DistortionError`). The message
        names the file.
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
    try:
        if use_projection:
            k = _matrix(data, "projection_matrix", 3, 4)[:, :3]
            distortion = None
        else:
            k = _matrix(data, "camera_matrix", 3, 3)
            d = _matrix(data, "distortion_coefficients", 1, 5) if "distortion_coefficients" in data else None
            distortion = Distortion.from_ros(data.get("distortion_model") or "", None if d is None else d.ravel())
        return PinholeCamera.from_K(k, data["image_width"], data["image_height"], distortion)
    except ValueError as exc:  # name the file, keep the type (IntrinsicsError keeps ``problems``)
        exc.args = (f"camera YAML {p}: {exc}", *exc.args[1:])
        raise


def save_camera_yaml(path: str | PathLike, cam: PinholeCamera, name: str = "camera") -> None:
    """Write ``cam`` as a ROS camera calibration YAML (its distortion, else plumb_bob with zeros; identity
    rectification, ``P = [K | 0]``), readable by ``camera_info_manager`` and :func:`load_camera_yaml`."""
    k = cam.K
    p = np.hstack([k, np.zeros((3, 1))])
    model, coeffs = (
        ("plumb_bob", (0.0,) * 5) if cam.distortion is None else (cam.distortion.model, cam.distortion.coeffs)
    )
    data = {
        "image_width": int(cam.width),
        "image_height": int(cam.height),
        "camera_name": str(name),
        "camera_matrix": {"rows": 3, "cols": 3, "data": [float(v) for v in k.ravel()]},
        "distortion_model": model,
        "distortion_coefficients": {"rows": 1, "cols": len(coeffs), "data": [float(v) for v in coeffs]},
        "rectification_matrix": {"rows": 3, "cols": 3, "data": [float(v) for v in np.eye(3).ravel()]},
        "projection_matrix": {"rows": 3, "cols": 4, "data": [float(v) for v in p.ravel()]},
    }
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None))
