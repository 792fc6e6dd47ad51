"""Which intrinsics a frame is processed with, and whether its 3D may be called metric. No guessing.

A valid camera_info of the image's size (or of the same aspect: a binned stream) is used as it is. An invalid one
(all zeros, a focal length no real lens has, the principal point outside the image, ``K[8] != 1``...) is never
replaced silently by another camera's intrinsics: the frame is processed with a nominal camera for its 2D and
root-relative 3D only (no metric positions, no depth, no TF), and the reason is reported — unless the user named a
fallback calibration file, which is then used (and said so).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .camera import PinholeCamera, load_camera_yaml
from .skeleton import POSE3D16

__all__ = ["CameraDecision", "CameraPolicy", "NOMINAL_HFOV_DEG", "intrinsics_problems"]

#: field of view of the nominal camera used for 2D + root-relative 3D when no valid intrinsics exist
NOMINAL_HFOV_DEG = 60.0
_WARN, _ERROR = 1, 2
_PELVIS = POSE3D16.index("pelvis")


@dataclass(frozen=True)
class CameraDecision:
    """The camera to process a frame with (None = skip the frame), whether its 3D is metric, and why not."""

    camera: PinholeCamera | None
    metric: bool
    problem: str = ""
    key: str = "camera_info"
    level: int = _WARN


def intrinsics_problems(cam: PinholeCamera) -> list[str]:
    """What makes ``cam`` impossible for a real camera of its image size (empty = plausible)."""
    try:
        from .camera import validate_intrinsics  # the full rule set (field of view, principal point, K[8])
    except ImportError:  # pragma: no cover - older core
        validate_intrinsics = None
    if validate_intrinsics is not None:
        return list(validate_intrinsics(cam.K, cam.width, cam.height))
    out = []
    hfov = 2 * math.degrees(math.atan(cam.width / (2 * cam.fx)))
    if not 10.0 <= hfov <= 170.0:
        out.append(f"fx={cam.fx:g} gives a {hfov:.1f} deg field of view")
    if not (0 <= cam.cx < cam.width and 0 <= cam.cy < cam.height):
        out.append(f"principal point ({cam.cx:g}, {cam.cy:g}) is outside the {cam.width}x{cam.height} image")
    return out


def nominal_camera(width: int, height: int) -> PinholeCamera:
    """A square-pixel camera with a NOMINAL_HFOV_DEG field of view and the principal point at the centre."""
    f = width / (2.0 * math.tan(math.radians(NOMINAL_HFOV_DEG) / 2.0))
    return PinholeCamera(fx=f, fy=f, cx=(width - 1) / 2.0, cy=(height - 1) / 2.0, width=width, height=height)


class CameraPolicy:
    """Decide the camera per frame from the camera_info's camera (or its error) and the image size.

    Parameters
    ----------
    fallback : PinholeCamera or None
        Calibration to use while camera_info is invalid (a user's file); None = no metric 3D meanwhile.
    """

    def __init__(self, fallback: PinholeCamera | None = None) -> None:
        self.fallback = fallback

    @classmethod
    def from_file(cls, path: str | None) -> CameraPolicy:
        """With the ROS calibration YAML at ``path`` as the fallback (None = none).

        Raises
        ------
        OSError, ValueError
            The file cannot be read or holds no valid camera.
        """
        if not path:
            return cls()
        cam = load_camera_yaml(path)
        problems = intrinsics_problems(cam)
        if problems:
            raise ValueError(f"camera_info_fallback_file {path}: {'; '.join(problems)}")
        return cls(cam)

    def _fit(self, cam: PinholeCamera, width: int, height: int) -> PinholeCamera | None:
        if (cam.width, cam.height) == (width, height):
            return cam
        if abs(cam.width / width - cam.height / height) < 1e-6:
            return cam.scaled(width / cam.width, height / cam.height)  # same aspect: a binned stream
        return None

    def decide(self, info_camera: PinholeCamera | None, info_error: str, width: int, height: int) -> CameraDecision:
        """The camera for a ``width`` x ``height`` image whose camera_info gave ``info_camera`` (or ``info_error``)."""
        why = info_error
        if info_camera is not None:
            fitted = self._fit(info_camera, width, height)
            if fitted is None:
                return CameraDecision(None, False, f"camera_info is {info_camera.width}x{info_camera.height} but "
                                      f"the color image is {width}x{height}: frame skipped", "size_mismatch", _ERROR)
            problems = intrinsics_problems(info_camera)
            if not problems:
                return CameraDecision(fitted, True)
            why = "; ".join(problems)
        if self.fallback is not None:
            fitted = self._fit(self.fallback, width, height)
            if fitted is not None:
                return CameraDecision(fitted, True, f"camera_info invalid ({why}): using camera_info_fallback_file")
        return CameraDecision(nominal_camera(width, height), False,
                              f"camera_info invalid ({why}): publishing 2D and root-relative 3D only (no metric "
                              "positions, depth or TF) until a valid camera_info arrives", "camera_info", _ERROR)

    @staticmethod
    def root_relative(people: Sequence[Any]) -> list[Any]:
        """Copies of ``people`` with joints relative to the pelvis (what a non-metric 3D pose can honestly say)."""
        out = []
        for person in people:
            joints = np.asarray(person.joints, dtype=np.float64)
            root = joints[_PELVIS] if np.isfinite(joints[_PELVIS]).all() else np.nanmean(joints, axis=0)
            measured = np.zeros_like(np.asarray(person.measured, dtype=bool))
            out.append(dataclasses.replace(person, joints=joints - root, measured=measured))
        return out
