"""Action / gesture events: what the recognizer emits when a tracked person starts an action (ROS-free)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ActionEventData:
    """One debounced action or gesture start (becomes a ``pose3d_ros/ActionEvent`` message).

    Attributes
    ----------
    skeleton_id : int
        Track id of the person (``Skeleton3D.id``).
    label : str
        Action or gesture label, e.g. ``"wave_left"``, ``"point_right"``, ``"walk"``.
    confidence : float
        In [0, 1].
    stamp : float
        Time (s) at which the action was confirmed (the image time of that frame).
    ray_origin : (3,) ndarray or None
        Pointing gestures only: start of the pointing ray (the shoulder), metres, camera optical frame.
    ray_direction : (3,) ndarray or None
        Pointing gestures only: unit vector shoulder -> wrist in the camera optical frame.
    """

    skeleton_id: int
    label: str
    confidence: float
    stamp: float
    ray_origin: np.ndarray | None = None
    ray_direction: np.ndarray | None = None
