"""Generated gesture sequences (and look-alike negatives) for tests and the gesture benchmark.

A simple upright body (metres, pose3d16, camera optical frame: x right, y down, z forward) stands facing the camera;
its arms are driven by per-frame upper-arm / forearm directions or by two-bone IK to a wrist target. Each sequence is
rest -> move in -> gesture (or look-alike) -> move out -> rest, so onset/offset are known for precision, recall and
latency measurements. No real data: this checks the rules, it does not prove them on people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d_ros.actions.features import rotation_y
from pose3d_ros.core.skeleton import POSE3D16

J = POSE3D16.index
UPPER_ARM_M = 0.29
FOREARM_M = 0.27
# Neutral body, person's left at +x, up = -y, facing the camera (-z); pelvis at the origin.
_NEUTRAL = {
    "pelvis": (0.0, 0.0, 0.0), "spine": (0.0, -0.25, 0.0), "neck": (0.0, -0.5, 0.0), "head": (0.0, -0.72, 0.0),
    "left_shoulder": (0.18, -0.48, 0.0), "right_shoulder": (-0.18, -0.48, 0.0),
    "left_hip": (0.1, 0.0, 0.0), "right_hip": (-0.1, 0.0, 0.0), "left_knee": (0.1, 0.45, 0.0),
    "right_knee": (-0.1, 0.45, 0.0), "left_ankle": (0.1, 0.88, 0.0), "right_ankle": (-0.1, 0.88, 0.0),
}
DOWN = np.array([0.0, 1.0, 0.0])
UP = np.array([0.0, -1.0, 0.0])
FORWARD = np.array([0.0, 0.0, -1.0])  # the person's forward = towards the camera

POSITIVE_KINDS = ("wave", "raise", "raise_both", "t_pose", "point", "stop", "come_here")
NEGATIVE_KINDS = ("scratch_head", "touch_face", "hands_on_hips", "talk", "arms_crossed", "arm_swing", "reach",
                  "idle")


@dataclass
class SyntheticSequence:
    """A generated sequence: ``times (T,)`` s, ``poses (T,16,3)`` m, expected ``label`` ("" for negatives),
    ``performed`` = time (s) at which the gesture is complete enough to be recognised (NaN for negatives),
    ``end`` = time the gesture stops, ``ray_direction`` (3,) for pointing (camera frame) else None."""

    kind: str
    label: str
    times: np.ndarray
    poses: np.ndarray
    performed: float
    end: float
    ray_direction: np.ndarray | None = None


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _side(v: np.ndarray, side: str) -> np.ndarray:
    """A left-arm direction mirrored for the right arm (x negated)."""
    v = np.array(v, dtype=np.float64)
    if side == "right":
        v[..., 0] = -v[..., 0]
    return v


def two_bone_ik(shoulder: np.ndarray, wrist: np.ndarray, pole: np.ndarray, l1: float = UPPER_ARM_M,
                l2: float = FOREARM_M) -> tuple[np.ndarray, np.ndarray]:
    """Elbow (and reachable wrist) for a wrist target; the elbow bends towards ``pole``. Shapes (..., 3)."""
    d = wrist - shoulder
    dist = np.clip(np.linalg.norm(d, axis=-1, keepdims=True), 1e-6, l1 + l2 - 1e-4)
    dh = d / np.linalg.norm(d, axis=-1, keepdims=True)
    wrist = shoulder + dh * dist
    cos_a = np.clip((l1**2 + dist**2 - l2**2) / (2 * l1 * dist), -1.0, 1.0)
    p = pole - (pole * dh).sum(-1, keepdims=True) * dh
    p = _unit(p + 1e-9)
    elbow = shoulder + l1 * (cos_a * dh + np.sqrt(1 - cos_a**2) * p)
    return elbow, wrist


class _Body:
    def __init__(self, t: np.ndarray):
        self.t = t
        self.p = np.repeat(np.array([_NEUTRAL[n] if n in _NEUTRAL else (0, 0, 0) for n in POSE3D16.names],
                                    dtype=np.float64)[None], len(t), axis=0)
        for side in ("left", "right"):
            self.arm_dirs(side, DOWN, DOWN)

    def arm_dirs(self, side: str, upper: np.ndarray, fore: np.ndarray, mask: np.ndarray | None = None) -> None:
        s = self.p[:, J(f"{side}_shoulder")]
        e = s + UPPER_ARM_M * _unit(np.broadcast_to(upper, s.shape))
        w = e + FOREARM_M * _unit(np.broadcast_to(fore, s.shape))
        m = np.ones(len(self.t), bool) if mask is None else mask
        self.p[m, J(f"{side}_elbow")] = e[m]
        self.p[m, J(f"{side}_wrist")] = w[m]

    def arm_ik(self, side: str, wrist: np.ndarray, pole: np.ndarray, mask: np.ndarray | None = None) -> None:
        s = self.p[:, J(f"{side}_shoulder")]
        e, w = two_bone_ik(s, np.broadcast_to(wrist, s.shape), np.broadcast_to(pole, s.shape))
        m = np.ones(len(self.t), bool) if mask is None else mask
        self.p[m, J(f"{side}_elbow")] = e[m]
        self.p[m, J(f"{side}_wrist")] = w[m]


def _blend(t: np.ndarray, t0: float, t1: float, t2: float, t3: float) -> np.ndarray:
    """0 before t0, smooth ramp to 1 at t1, 1 until t2, ramp down to 0 at t3."""
    up = np.clip((t - t0) / max(t1 - t0, 1e-9), 0, 1)
    down = np.clip((t3 - t) / max(t3 - t2, 1e-9), 0, 1)
    r = np.minimum(up, down)
    return r * r * (3 - 2 * r)


def _mix_dirs(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    return _unit(a * (1 - w)[:, None] + b * w[:, None] + 1e-9)


def make_sequence(kind: str, side: str = "left", fps: float = 30.0, rest_s: float = 1.0, hold_s: float = 2.0,
                  freq_hz: float = 1.5, heading: float = 0.0, position: tuple[float, float, float] = (0.0, 0.1, 3.0),
                  noise_m: float = 0.0, nan_prob: float = 0.0, rng: np.random.Generator | None = None,
                  point_dir: np.ndarray | None = None) -> SyntheticSequence:
    """Generate one gesture / look-alike sequence.

    Parameters
    ----------
    kind : str
        One of ``POSITIVE_KINDS`` or ``NEGATIVE_KINDS``.
    side : {"left", "right"}
        Arm used by one-armed kinds (the person's own side).
    fps, rest_s, hold_s : float
        Frame rate; rest before/after; how long the gesture is held / repeated (s).
    freq_hz : float
        Oscillation frequency of wave / come_here / scratch_head / talk / arm_swing.
    heading : float
        Rotation of the whole body about the vertical axis (rad); 0 = facing the camera.
    position : (3,) tuple
        Pelvis position in the camera frame (m).
    noise_m, nan_prob : float
        Gaussian joint noise (m) and probability that a joint is NaN in a frame (estimator-like input).
    rng : numpy Generator, optional
        For noise / NaNs (seeded by the caller).
    point_dir : (3,) array_like, optional
        Left-arm pointing direction in the body frame (mirrored for the right arm); default lateral-forward.

    Returns
    -------
    SyntheticSequence
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    if kind not in POSITIVE_KINDS + NEGATIVE_KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {POSITIVE_KINDS + NEGATIVE_KINDS}")
    if fps <= 0 or hold_s <= 0 or rest_s < 0:
        raise ValueError(f"fps and hold_s must be > 0 and rest_s >= 0, got {fps}, {hold_s}, {rest_s}")
    rng = np.random.default_rng(0) if rng is None else rng
    move = 0.3
    total = 2 * rest_s + 2 * move + hold_s
    t = np.arange(int(round(total * fps)) + 1) / fps
    t0, t1, t2, t3 = rest_s, rest_s + move, rest_s + move + hold_s, rest_s + 2 * move + hold_s
    w = _blend(t, t0, t1, t2, t3)
    tau = t - t1
    body = _Body(t)
    head = body.p[0, J("head")]
    label, performed, ray = "", np.nan, None
    down = np.broadcast_to(DOWN, (len(t), 3))
    if kind == "wave":
        upper = _side(_unit([1.0, -0.6, -0.2]), side)
        phi = np.radians(30.0) * np.sin(2 * np.pi * freq_hz * np.maximum(tau, 0))
        fore = _side(np.stack([np.sin(phi), -np.cos(phi), -0.1 * np.ones_like(phi)], 1), side)
        body.arm_dirs(side, _mix_dirs(down, np.broadcast_to(upper, down.shape), w), _mix_dirs(down, _unit(fore), w))
        label, performed = f"wave_{side}", t1 + 3 / (4 * freq_hz)  # second direction change
    elif kind in ("raise", "raise_both"):
        for s in (("left", "right") if kind == "raise_both" else (side,)):
            d = _mix_dirs(down, np.broadcast_to(_side(_unit([0.15, -1, -0.1]), s), down.shape), w)
            body.arm_dirs(s, d, d)
        label = "raise_hands" if kind == "raise_both" else f"raise_{side}_hand"
        performed = t1
    elif kind == "t_pose":
        for s in ("left", "right"):
            d = _mix_dirs(down, np.broadcast_to(_side([1.0, 0.0, 0.0], s), down.shape), w)
            body.arm_dirs(s, d, d)
        label, performed = "t_pose", t1
    elif kind == "point":
        pd = _unit(_side(point_dir if point_dir is not None else [0.7, 0.1, -0.7], side))
        d = _mix_dirs(down, np.broadcast_to(pd, down.shape), w)
        body.arm_dirs(side, d, d)
        label, performed, ray = f"point_{side}", t1, pd
    elif kind == "stop":  # the arm is pushed towards the camera (the robot), whichever way the body faces
        rot = rotation_y(heading)
        sh_cam = rot @ body.p[0, J(f"{side}_shoulder")] + np.asarray(position, dtype=np.float64)
        to_cam = rot.T @ _unit(_unit(-sh_cam) + np.array([0.0, 0.15, 0.0]))
        d = _mix_dirs(down, np.broadcast_to(to_cam, down.shape), w)
        body.arm_dirs(side, d, d)
        label, performed = "stop", t1
    elif kind == "come_here":
        upper = _side(_unit([0.15, 0.45, -1.0]), side)
        beta = np.radians(10 + 70 * (1 - np.cos(2 * np.pi * freq_hz * np.maximum(tau, 0))) / 2)  # elevation
        fore = _side(np.stack([0.1 * np.ones_like(beta), -np.sin(beta), -np.cos(beta)], 1), side)
        body.arm_dirs(side, _mix_dirs(down, np.broadcast_to(upper, down.shape), w), _mix_dirs(down, _unit(fore), w))
        label, performed = "come_here", t1 + 1 / freq_hz  # flexed twice (two direction changes)
    elif kind == "scratch_head":
        wig = 0.02 * np.sin(2 * np.pi * max(freq_hz, 3.0) * t)
        target = head + _side([0.09, -0.06, 0.0], side) + np.stack([wig, 0 * wig, 0.5 * wig], 1)
        rest = body.p[:, J(f"{side}_wrist")]
        body.arm_ik(side, rest * (1 - w)[:, None] + target * w[:, None], _side([1.0, 0.3, 0.3], side))
    elif kind == "touch_face":
        target = head + np.array([0.0, 0.1, -0.1])
        rest = body.p[:, J(f"{side}_wrist")]
        body.arm_ik(side, rest * (1 - w)[:, None] + target * w[:, None], _side([1.0, 0.5, 0.0], side))
    elif kind == "hands_on_hips":
        for s in ("left", "right"):
            target = body.p[0, J(f"{s}_hip")] + _side([0.06, -0.05, 0.0], s)
            rest = body.p[:, J(f"{s}_wrist")]
            body.arm_ik(s, rest * (1 - w)[:, None] + target * w[:, None], _side([1.0, 0.0, 0.3], s))
    elif kind == "talk":
        for k, s in enumerate(("left", "right")):
            osc = 0.05 * np.sin(2 * np.pi * freq_hz * t + k)
            target = np.array([0.0, 0.0, -0.3]) + _side([0.12, 0.0, 0.0], s) + np.stack([osc, 0.5 * osc, osc], 1)
            rest = body.p[:, J(f"{s}_wrist")]
            body.arm_ik(s, rest * (1 - w)[:, None] + target * w[:, None], _side([0.5, 1.0, 0.0], s))
    elif kind == "arms_crossed":
        for s in ("left", "right"):
            other = "right" if s == "left" else "left"
            target = body.p[0, J(f"{other}_shoulder")] + np.array([0.0, 0.25, -0.15])
            rest = body.p[:, J(f"{s}_wrist")]
            body.arm_ik(s, rest * (1 - w)[:, None] + target * w[:, None], _side([1.0, 1.0, 0.0], s))
    elif kind == "arm_swing":
        for k, s in enumerate(("left", "right")):
            a = np.radians(25) * np.sin(2 * np.pi * freq_hz * t + np.pi * k) * w
            up = np.stack([0 * a, np.cos(a), -np.sin(a)], 1)
            fore = np.stack([0 * a, np.cos(a + 0.3), -np.sin(a + 0.3)], 1)
            body.arm_dirs(s, up, fore)
    elif kind == "reach":  # a quick reach forward (0.1 s extended): not a held point
        w = _blend(t, t0, t0 + 0.2, t0 + 0.3, t0 + 0.5)
        d = _mix_dirs(down, np.broadcast_to(_side(_unit([0.3, 0.1, -1.0]), side), down.shape), w)
        body.arm_dirs(side, d, d)
    # "idle": arms down, only sway and noise
    sway = 0.02 * np.sin(2 * np.pi * 0.3 * t)
    p = body.p.copy()
    p[:, :, 0] += sway[:, None]
    rot = rotation_y(heading)
    p = p @ rot.T + np.asarray(position, dtype=np.float64)
    if ray is not None:
        ray = rot @ ray
    if noise_m > 0:
        p = p + rng.normal(0.0, noise_m, p.shape)
    if nan_prob > 0:
        p[rng.random(p.shape[:2]) < nan_prob] = np.nan
    return SyntheticSequence(kind, label, t, p, float(performed), float(t2), ray)
