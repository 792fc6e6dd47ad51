"""Skeleton-window features for action recognition: normalisation, NaN filling, mirroring, velocities.

A *window* is ``(T, J, 3)`` joints of one person in metres, camera optical frame (x right, y down, z forward), in the
pose3d16 order. Normalisation makes the classifier see the motion, not where the person stands, how tall they are or
which way they face:

* root-centred: the pelvis of the **last** frame is the origin (the root trajectory inside the window is kept, so
  walking / jumping stay visible);
* body-scale: divided by the median torso length (pelvis -> neck) of the window;
* heading-invariant: rotated about the vertical (y) axis so that the mean hips line (right hip -> left hip) points
  along +x, i.e. the person faces the camera (-z).
"""

from __future__ import annotations

import numpy as np

from pose3d_ros.core.skeleton import POSE3D16, mirror

PELVIS, NECK = POSE3D16.index("pelvis"), POSE3D16.index("neck")
LEFT_HIP, RIGHT_HIP = POSE3D16.index("left_hip"), POSE3D16.index("right_hip")
NUM_JOINTS = POSE3D16.num_joints

MIN_TORSO_M = 0.05  # torso shorter than this (metres) is a broken skeleton: the window is not normalisable
MIN_HIP_WIDTH_M = 0.02  # hips closer than this (horizontally, metres) give no heading; then no rotation is applied


def _check_window(window: np.ndarray) -> np.ndarray:
    w = np.asarray(window, dtype=np.float64)
    if w.ndim != 3 or w.shape[1] != NUM_JOINTS or w.shape[2] != 3:
        raise ValueError(f"window must have shape (T, {NUM_JOINTS}, 3), got {w.shape}")
    if w.shape[0] < 1:
        raise ValueError("window must have at least one frame, got 0")
    return w


def fill_missing(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill NaN / inf joints by linear interpolation over time (edge values held at the ends).

    Parameters
    ----------
    window : (T, J, 3) array_like

    Returns
    -------
    filled : (T, J, 3) float64 ndarray
        Joints never finite in the window stay NaN.
    valid : (T, J) bool ndarray
        True where the input joint was finite.
    """
    w = _check_window(window).copy()
    valid = np.isfinite(w).all(axis=2)
    t = np.arange(w.shape[0], dtype=np.float64)
    for j in np.flatnonzero(~valid.all(axis=0)):
        ok = valid[:, j]
        if not ok.any():
            w[:, j] = np.nan
            continue
        for d in range(3):
            w[:, j, d] = np.interp(t, t[ok], w[ok, j, d])
    return w, valid


def heading_angle(window: np.ndarray) -> float:
    """Heading (rad) of the mean hips line in the x-z plane: ``atan2(dz, dx)`` of right hip -> left hip.

    Returns 0 when the hips are missing or (nearly) vertical above each other.
    """
    w = _check_window(window)
    d = w[:, LEFT_HIP] - w[:, RIGHT_HIP]
    d = d[np.isfinite(d).all(axis=1)]
    if len(d) == 0:
        return 0.0
    m = d.mean(axis=0)
    if np.hypot(m[0], m[2]) < MIN_HIP_WIDTH_M:
        return 0.0
    return float(np.arctan2(m[2], m[0]))


def rotation_y(angle: float) -> np.ndarray:
    """(3, 3) rotation about the camera y axis by ``angle`` rad (x towards z for positive angles)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


def normalize_window(window: np.ndarray) -> np.ndarray:
    """Root-centre, scale and rotate a window (see the module docstring).

    Parameters
    ----------
    window : (T, J, 3) array_like
        pose3d16 joints in metres; NaN joints are filled over time first (:func:`fill_missing`); joints never seen in
        the window are put at the root (0).

    Returns
    -------
    (T, J, 3) float64 ndarray
        Finite, in torso lengths, hips line along +x.

    Raises
    ------
    ValueError
        On a bad shape, when the pelvis or neck is never finite, or the torso is shorter than ``MIN_TORSO_M``.
    """
    w, _ = fill_missing(window)
    if not np.isfinite(w[:, PELVIS]).all() or not np.isfinite(w[:, NECK]).all():
        raise ValueError("window has no finite pelvis / neck in any frame: cannot normalise")
    torso = float(np.median(np.linalg.norm(w[:, NECK] - w[:, PELVIS], axis=1)))
    if not torso >= MIN_TORSO_M:
        raise ValueError(f"median torso length {torso:.4f} m is below {MIN_TORSO_M} m: not a body")
    # rotate by -heading so the hips line lands on +x
    rot = rotation_y(-heading_angle(w))
    out = (w - w[-1, PELVIS]) @ rot.T / torso
    return np.nan_to_num(out, nan=0.0)


def mirror_window(window: np.ndarray) -> np.ndarray:
    """Left-right mirror image of a window (joints swapped, x negated): a plausible motion with sides exchanged.

    Parameters
    ----------
    window : (..., J, 3) array_like

    Returns
    -------
    (..., J, 3) float64 ndarray
    """
    return mirror(window, POSE3D16)


def window_features(window: np.ndarray, dt: float) -> np.ndarray:
    """Per-frame feature vectors of a window: normalised positions and velocities.

    Parameters
    ----------
    window : (T, J, 3) array_like
        pose3d16 joints in metres, frames ``dt`` seconds apart.
    dt : float
        Frame spacing in seconds (> 0); velocities are in torso lengths per second.

    Returns
    -------
    (T, 2 * J * 3) float32 ndarray
        ``[positions (J*3), velocities (J*3)]`` per frame; the first frame's velocity repeats the second's.
    """
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt}")
    n = normalize_window(window)
    t = n.shape[0]
    pos = n.reshape(t, -1)
    vel = np.zeros_like(pos)
    if t > 1:
        vel[1:] = np.diff(pos, axis=0) / dt
        vel[0] = vel[1]
    return np.concatenate([pos, vel], axis=1).astype(np.float32)


def batch_features(windows: np.ndarray, dt: float) -> np.ndarray:
    """:func:`window_features` for ``(N, T, J, 3)`` windows -> ``(N, T, 2*J*3)`` float32 (vectorised)."""
    w = np.asarray(windows, dtype=np.float64)
    if w.ndim != 4 or w.shape[2] != NUM_JOINTS or w.shape[3] != 3:
        raise ValueError(f"windows must have shape (N, T, {NUM_JOINTS}, 3), got {w.shape}")
    if not np.isfinite(w).all():
        return np.stack([window_features(x, dt) for x in w])
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt}")
    n, t = w.shape[:2]
    # median via sort: np.median's overhead dominates at these sizes (one person per frame must cost < 1 ms)
    srt = np.sort(np.sqrt(((w[:, :, NECK] - w[:, :, PELVIS]) ** 2).sum(axis=2)), axis=1)
    torso = 0.5 * (srt[:, (t - 1) // 2] + srt[:, t // 2])
    if not (torso >= MIN_TORSO_M).all():
        raise ValueError(f"a window's median torso length is below {MIN_TORSO_M} m: not a body")
    d = (w[:, :, LEFT_HIP] - w[:, :, RIGHT_HIP]).sum(axis=1)
    ang = np.where(np.hypot(d[:, 0], d[:, 2]) < MIN_HIP_WIDTH_M * t, 0.0, np.arctan2(d[:, 2], d[:, 0]))
    c, s = np.cos(ang), np.sin(ang)  # rotation_y(-ang): x' = c x + s z, z' = -s x + c z
    centred = (w - w[:, -1:, PELVIS][:, :, None, :]) / torso[:, None, None, None]
    out = np.empty_like(centred)
    cc, ss = c[:, None, None], s[:, None, None]
    out[..., 0] = cc * centred[..., 0] + ss * centred[..., 2]
    out[..., 1] = centred[..., 1]
    out[..., 2] = -ss * centred[..., 0] + cc * centred[..., 2]
    pos = out.reshape(n, t, -1)
    vel = np.zeros_like(pos)
    if t > 1:
        vel[:, 1:] = np.diff(pos, axis=1) / dt
        vel[:, 0] = vel[:, 1]
    return np.concatenate([pos, vel], axis=2).astype(np.float32)


def resample_track(times: np.ndarray, poses: np.ndarray, t_end: float, duration: float, n: int) -> np.ndarray:
    """Resample an irregularly timed pose history onto ``n`` evenly spaced frames ending at ``t_end``.

    Parameters
    ----------
    times : (M,) array_like
        Increasing stamps in seconds.
    poses : (M, J, 3) array_like
        Joints (NaN allowed; NaN stays NaN around the gap).
    t_end : float
        Time of the last output frame.
    duration : float
        Window length in seconds (first frame at ``t_end - duration``); times before the history are clamped (the
        first pose is held), which is also what training does for windows at the start of a clip.
    n : int
        Number of output frames (>= 2).

    Returns
    -------
    (n, J, 3) float64 ndarray
    """
    ts = np.asarray(times, dtype=np.float64)
    p = np.asarray(poses, dtype=np.float64)
    if ts.ndim != 1 or p.ndim != 3 or p.shape[0] != ts.shape[0] or p.shape[2] != 3:
        raise ValueError(f"times (M,) and poses (M, J, 3) must match, got {ts.shape} and {p.shape}")
    if ts.shape[0] == 0:
        raise ValueError("empty history: need at least one pose")
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if np.any(np.diff(ts) < 0):
        raise ValueError("times must be non-decreasing")
    grid = np.linspace(t_end - duration, t_end, n)
    grid = np.clip(grid, ts[0], ts[-1])
    idx = np.clip(np.searchsorted(ts, grid, side="right") - 1, 0, len(ts) - 1)
    nxt = np.minimum(idx + 1, len(ts) - 1)
    span = ts[nxt] - ts[idx]
    a = np.where(span > 0, (grid - ts[idx]) / np.where(span > 0, span, 1.0), 0.0)[:, None, None]
    blend = p[idx] * (1.0 - a) + p[nxt] * a
    return np.where(a > 0, blend, p[idx])  # a NaN next pose must not leak into an exact sample
