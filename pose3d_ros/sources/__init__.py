"""Camera sources: one capture type (:class:`RGBDFrame`), one interface (:class:`Source`), several backends.

``create_source(backend, **options)`` builds one by name: ``freenect`` (Kinect v1), ``playback`` (rosbag2 bag,
recording directory, video or image), ``webcam`` (OpenCV), ``openni2`` / ``k4a`` (where their libraries are
installed), ``synthetic`` (tests only). Backends import their device libraries only when opened.
"""

from __future__ import annotations

from typing import Any

from .base import DeviceUnavailable, EndOfStream, RGBDFrame, Source, SourceError, SourceTimeout

__all__ = [
    "BACKENDS",
    "create_source",
    "default_footage_path",
    "RGBDFrame",
    "Source",
    "SourceError",
    "DeviceUnavailable",
    "SourceTimeout",
    "EndOfStream",
]

#: backend name -> "module:Class" (imported lazily; a module path starting with "pose3d_ros." is absolute)
BACKENDS: dict[str, str] = {
    "freenect": "freenect_source:FreenectSource",
    "playback": "playback:PlaybackSource",
    "webcam": "webcam:WebcamSource",
    "openni2": "optional:OpenNI2Source",
    "k4a": "optional:K4ASource",
    "synthetic": "pose3d_ros.sim.synthetic_source:SyntheticSource",  # a test camera (pose3d_ros.sim)
}


def create_source(backend: str, **options: Any) -> Source:
    """Instantiate the source ``backend`` with keyword ``options`` (the backend's constructor arguments).

    Raises
    ------
    ValueError
        Unknown backend name.
    """
    import importlib

    if backend not in BACKENDS:
        raise ValueError(f"unknown source backend {backend!r} (choose from {', '.join(BACKENDS)})")
    module, cls = BACKENDS[backend].split(":")
    path = module if module.startswith("pose3d_ros.") else f"{__name__}.{module}"
    return getattr(importlib.import_module(path), cls)(**options)


def default_footage_path() -> str | None:
    """The embedded real footage (``pose3d_ros/resources/footage``) for the no-camera fallback, if present.

    Prefers a recording directory, then a video, then an image.
    """
    from importlib.resources import files

    root = files("pose3d_ros") / "resources" / "footage"
    try:
        entries = sorted(root.iterdir(), key=lambda p: p.name)
    except (FileNotFoundError, NotADirectoryError):
        return None
    from .playback import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    for want in ("dir", "video", "image"):
        for e in entries:
            name = e.name.lower()
            if want == "dir" and e.is_dir() and (e / "color").is_dir():
                return str(e)
            if want == "video" and name.endswith(VIDEO_SUFFIXES):
                return str(e)
            if want == "image" and name.endswith(IMAGE_SUFFIXES):
                return str(e)
    return None
