"""Real-video multi-view validation set: the pose2sim ``Demo_MultiPerson`` clip (4 calibrated phone videos) and
the pseudo-ground-truth asset ``bench/data/realval_pose2sim_multiperson.npz`` built from it by
``scripts/build_realval.py``.

The videos are not in this repository. Get the wheel once (``pip download --no-deps pose2sim==0.10.49 -d DIR``) and
call :func:`extract_multiperson` (only ``Pose2Sim/Demo_MultiPerson/`` members are read from it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "WHEEL_NAME",
    "WHEEL_SHA256",
    "MEMBER_SHA256",
    "DEMO_PREFIX",
    "default_cache_dir",
    "default_asset_path",
    "extract_multiperson",
    "RealVal",
    "load_realval",
]

WHEEL_NAME = "pose2sim-0.10.49-py3-none-any.whl"
WHEEL_SHA256 = "403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1"
DEMO_PREFIX = "Pose2Sim/Demo_MultiPerson/"
#: the members used, relative to :data:`DEMO_PREFIX`, with their sha256 (also in the wheel's RECORD).
MEMBER_SHA256 = {
    "calibration/Calib.qca.txt": "fd90e4bbae3278ef1dc0cdd42a34ee06bf88286f628a02c00a29407aa39e34c5",
    "Config.toml": "4f7167569129161a58a071f4bdb5a7776de4a124ab9e7a6354ddfd4b25c58603",
    "videos/cam01.mp4": "543cee6a4c2c2b52dc9eac9137ee63d14f1f84e706a9a7264769edcb11e5ea53",
    "videos/cam02.mp4": "8895092a7cf26359205a427b7ac2f4a935c2e0bd36d9b7a5140cb33faa468a6b",
    "videos/cam03.mp4": "d3daf48cdf9f5603868ddb99166ddaf9b12279e7ce968922926560d5fd3f0c99",
    "videos/cam04.mp4": "1490149dc40e7301fa5ceae23862b044ba5c398a8b2a40df21ed894702728c09",
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/pose3d_ros/pose2sim`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pose3d_ros" / "pose2sim"


def default_asset_path() -> Path:
    """The committed asset in a source checkout: ``bench/data/realval_pose2sim_multiperson.npz``."""
    return Path(__file__).resolve().parents[2] / "bench" / "data" / "realval_pose2sim_multiperson.npz"


def extract_multiperson(wheel: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
                        verify: bool = True) -> Path:
    """Extract the ``Demo_MultiPerson`` videos, calibration and config from the pose2sim wheel.

    Returns the folder holding ``videos/cam0{1..4}.mp4``, ``calibration/Calib.qca.txt`` and ``Config.toml``.
    Files already there with the right sha256 are kept. Raises FileNotFoundError (no wheel) or ValueError (a
    different wheel or a corrupt member) when ``verify``.
    """
    wheel = Path(wheel)
    if not wheel.is_file():
        raise FileNotFoundError(f"{wheel}: no such wheel (pip download --no-deps pose2sim==0.10.49 -d DIR)")
    if verify and _sha256(wheel) != WHEEL_SHA256:
        raise ValueError(f"{wheel}: sha256 differs from pose2sim 0.10.49's ({WHEEL_SHA256})")
    out = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    out = out / "Demo_MultiPerson"
    with zipfile.ZipFile(wheel) as zf:
        for rel, digest in MEMBER_SHA256.items():
            dst = out / rel
            if dst.is_file() and (not verify or _sha256(dst) == digest):
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_suffix(dst.suffix + ".part")
            with zf.open(DEMO_PREFIX + rel) as src, open(tmp, "wb") as f:
                shutil.copyfileobj(src, f)
            if verify and _sha256(tmp) != digest:
                tmp.unlink()
                raise ValueError(f"{wheel}: member {DEMO_PREFIX + rel} has an unexpected sha256")
            tmp.replace(dst)
    return out


@dataclass(frozen=True)
class RealVal:
    """The pseudo-ground-truth asset (see ``bench/data/README.md``).

    Shapes: F frames, P=2 people, J=33 BlazePose landmarks, C=4 cameras. World frame in metres; cameras in the
    OpenCV convention ``x_cam = R x_world + t`` for the original ``image_size = (W, H)`` frames.
    """

    joints3d: np.ndarray  # (F, P, J, 3) float32, NaN where not valid
    valid: np.ndarray  # (F, P, J) bool
    joints3d_lovo: np.ndarray  # (C, F, P, J, 3): camera c's 2D never used for index c
    valid_lovo: np.ndarray  # (C, F, P, J) bool
    reproj_err_px: np.ndarray  # (F, P, J) median over the views used
    n_views: np.ndarray  # (F, P, J) views used
    K: np.ndarray  # (C, 3, 3)
    dist: np.ndarray  # (C, 5) k1 k2 p1 p2 k3
    R: np.ndarray  # (C, 3, 3)
    t: np.ndarray  # (C, 3)
    image_size: tuple[int, int]
    frames: np.ndarray  # (F,) frame indices into the videos
    fps: float
    joint_names: tuple[str, ...]
    camera_names: tuple[str, ...]

    def project(self, cam: int, points: np.ndarray) -> np.ndarray:
        """Pixels (distorted, as in the videos) of world points ``(..., 3)`` in camera ``cam``."""
        from .multiview import project

        return project(points, self.K[cam], self.dist[cam], self.R[cam], self.t[cam])[0]

    def to_camera(self, cam: int, points: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` in camera ``cam``'s optical frame (x right, y down, z forward), metres."""
        return np.asarray(points) @ self.R[cam].T + self.t[cam]


def load_realval(path: str | os.PathLike | None = None) -> RealVal:
    """Load the asset (default: :func:`default_asset_path`). Raises ValueError on a malformed file."""
    path = Path(path) if path is not None else default_asset_path()
    with np.load(path, allow_pickle=False) as z:
        try:
            rv = RealVal(
                joints3d=z["joints3d"], valid=z["valid"], joints3d_lovo=z["joints3d_lovo"],
                valid_lovo=z["valid_lovo"], reproj_err_px=z["reproj_err_px"], n_views=z["n_views"], K=z["K"],
                dist=z["dist"], R=z["R"], t=z["t"], image_size=tuple(int(v) for v in z["image_size"]),
                frames=z["frames"], fps=float(z["fps"]), joint_names=tuple(str(s) for s in z["joint_names"]),
                camera_names=tuple(str(s) for s in z["camera_names"]),
            )
        except KeyError as exc:
            raise ValueError(f"{path}: missing array {exc}") from exc
    F, P, J, _ = rv.joints3d.shape
    C = rv.K.shape[0]
    if rv.valid.shape != (F, P, J) or rv.joints3d_lovo.shape != (C, F, P, J, 3) or len(rv.joint_names) != J:
        raise ValueError(f"{path}: inconsistent shapes")
    return rv
