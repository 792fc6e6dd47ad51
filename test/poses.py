"""Hand-made poses shared by the tests."""

from __future__ import annotations

import numpy as np

from pose3d_ros.core.skeleton import POSE3D16


def tpose(z: float = 2.5) -> np.ndarray:
    """A simple upright pose3d16 (metres, camera frame) centred at depth z."""
    p = {
        "pelvis": (0, 0, 0), "spine": (0, -0.25, 0), "neck": (0, -0.5, 0), "head": (0, -0.7, 0),
        "left_shoulder": (0.18, -0.5, 0), "left_elbow": (0.45, -0.5, 0.02), "left_wrist": (0.7, -0.5, 0.05),
        "right_shoulder": (-0.18, -0.5, 0), "right_elbow": (-0.45, -0.5, -0.02), "right_wrist": (-0.7, -0.5, -0.05),
        "left_hip": (0.1, 0, 0), "left_knee": (0.12, 0.42, 0.03), "left_ankle": (0.12, 0.82, 0.0),
        "right_hip": (-0.1, 0, 0), "right_knee": (-0.12, 0.42, -0.03), "right_ankle": (-0.12, 0.82, 0.0),
    }
    return np.array([p[n] for n in POSE3D16.names], dtype=float) + [0.1, 0.0, z]
