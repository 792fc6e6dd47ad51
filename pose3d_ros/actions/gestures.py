"""Rule-based interaction gestures on a tracked person's recent 3D skeleton history (no training needed).

Everything is measured in a body frame built per frame from the skeleton, so the rules hold whichever way the person
faces and however tall they are: *up* = pelvis -> neck, *left* = right shoulder -> left shoulder (made orthogonal to
up), *forward* = left x up (towards the camera when facing it). Heights and distances are in **torso lengths**
(pelvis -> neck, ~0.5 m on an adult); angles in degrees; times in seconds. Labels:

* ``wave_left`` / ``wave_right``: wrist above the elbow (``WAVE_WRIST_ABOVE_ELBOW``) and away from the head
  (``WAVE_MIN_HEAD_DIST``), lateral wrist oscillation with >= ``OSC_MIN_CHANGES`` direction changes of
  >= ``WAVE_MIN_SWING`` at ``OSC_MIN_HZ``-``OSC_MAX_HZ`` within the last ``WAVE_WINDOW_S``;
* ``raise_left_hand`` / ``raise_right_hand``: wrist ``RAISE_MIN_ABOVE_HEAD`` above the head centre, held ``HOLD_S``,
  not swinging sideways; ``raise_hands``: both (hands up);
* ``t_pose``: both arms straight (elbow > ``STRAIGHT_ELBOW_DEG``), sideways (``TPOSE_MIN_SIDEWAYS``), wrists within
  ``TPOSE_MAX_HEIGHT`` of shoulder height, held ``HOLD_S``;
* ``point_left`` / ``point_right``: arm straight, lifted >= ``POINT_MIN_ELEVATION_DEG`` from hanging, wrist below the
  raised-hand height, direction steady within ``POINT_MAX_WOBBLE_DEG`` over ``HOLD_S``; ray origin = shoulder,
  direction = unit shoulder -> wrist, camera optical frame;
* ``stop``: arm straight towards the camera (forearm within ``STOP_MAX_ANGLE_DEG`` of the wrist -> camera-centre
  direction), wrist at chest height (``STOP_MIN_HEIGHT``-``STOP_MAX_HEIGHT``), held ``HOLD_S``;
* ``come_here``: beckoning, the elbow flexes and extends (>= ``OSC_MIN_CHANGES`` direction changes of
  >= ``COME_MIN_FLEX_DEG``) in the oscillation band, wrist in front of the body (``COME_MIN_FORWARD``), below the
  head, upper arm steady (``COME_MAX_UPPER_ARM_WOBBLE_DEG``).

Look-alikes that must not fire: scratching / touching the head (wrist within ``WAVE_MIN_HEAD_DIST`` of the head,
small swing), arm swing while walking (wrists below the chest, elbow angle steady), a quick reach (shorter than
``HOLD_S``), hands on hips / arms crossed (elbows bent). Pointing straight at the camera reads as ``stop``
(the skeleton has no palm); that is the documented ambiguity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d_ros.core.skeleton import POSE3D16

_I = POSE3D16.index
PELVIS, NECK, HEAD = _I("pelvis"), _I("neck"), _I("head")
_CORE = [PELVIS, NECK] + [_I(f"{s}_{n}") for s in ("left", "right") for n in ("shoulder", "elbow", "wrist")]

MAX_STALE_S = 0.2  # s: gestures are judged on the last frame with all arm joints if it is at most this old
HOLD_S = 0.3  # s: static gestures (raise, T-pose, point, stop) must hold this long
HOLD_MIN_FRACTION = 0.8  # of the frames in the hold window that must satisfy the pose (tolerates noisy frames)
MIN_FRAMES = 3  # fewer frames in a window: no decision
STRAIGHT_ELBOW_DEG = 150.0  # elbow angle above this = straight arm (pointing, T-pose, stop)
WAVE_WINDOW_S = 1.5  # s: oscillating gestures are looked for in this much history
WAVE_MIN_SWING = 0.2  # torso lengths (~10 cm): a lateral wrist excursion smaller than this is no direction change
WAVE_MIN_HEAD_DIST = 0.4  # torso lengths (~20 cm): a wrist closer to the head centre is touching / scratching it
WAVE_WRIST_ABOVE_ELBOW = 0.1  # torso lengths: the wrist must be this much above the elbow
SMOOTH_FRAMES = 3  # samples averaged before looking for direction changes
OSC_MIN_CHANGES = 2  # direction changes needed for wave / come here
OSC_MIN_HZ, OSC_MAX_HZ = 0.5, 4.0  # oscillation frequency band (Hz)
OSC_MAX_IDLE_S = 0.8  # s: the last direction change must be this recent (gesture still going on)
COME_MIN_FLEX_DEG = 35.0  # degrees of elbow flexion per half cycle for a beckon
COME_MIN_FORWARD = 0.5  # torso lengths: the wrist is at least this far in front of the shoulder (mean over window)
COME_MAX_UPPER_ARM_WOBBLE_DEG = 20.0  # upper arm direction spread (std, deg): beyond it the whole arm moves (punch)
POINT_MIN_ELEVATION_DEG = 45.0  # arm lifted at least this much from hanging straight down
POINT_MAX_WOBBLE_DEG = 15.0  # pointing direction may wander this much during the hold
TPOSE_MAX_HEIGHT = 0.35  # torso lengths: wrists within this of shoulder height
TPOSE_MIN_SIDEWAYS = 0.8  # cosine between shoulder -> wrist and the outward body axis (~37 deg)
STOP_MAX_ANGLE_DEG = 40.0  # forearm (elbow -> wrist) within this angle of the direction wrist -> camera centre
STOP_MIN_HEIGHT, STOP_MAX_HEIGHT = 0.5, 1.3  # torso lengths above the pelvis: chest height
RAISE_MIN_ABOVE_HEAD = 0.3  # torso lengths (~15 cm): a raised wrist is above the top of the head, not on it
HEAD_ABOVE_NECK = 0.45  # torso lengths: head-centre height used when the head joint is missing

GESTURE_LABELS = ("wave_left", "wave_right", "raise_left_hand", "raise_right_hand", "raise_hands", "t_pose",
                  "point_left", "point_right", "stop", "come_here")


@dataclass
class Gesture:
    """A gesture active at the last frame of the history.

    Attributes
    ----------
    label : str
    confidence : float
        In [0, 1] (margin-based; 0.5 = just at the thresholds).
    side : str
        ``"left"``, ``"right"`` or ``"both"``.
    ray_origin, ray_direction : (3,) ndarray or None
        Pointing only: shoulder position (m) and unit shoulder -> wrist direction, camera optical frame.
    """

    label: str
    confidence: float
    side: str
    ray_origin: np.ndarray | None = None
    ray_direction: np.ndarray | None = None


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.sqrt((v * v).sum(axis=-1, keepdims=True))


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=-1)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.degrees(np.arccos(np.clip(_dot(_unit(a), _unit(b)), -1.0, 1.0)))


def direction_changes(x: np.ndarray, t: np.ndarray, min_swing: float) -> np.ndarray:
    """Times of direction changes of a 1D signal, with hysteresis.

    A turn is recorded at an extreme once the signal has come back from it by at least ``min_swing`` (so noise smaller
    than ``min_swing`` never counts). NaN samples are skipped.

    Parameters
    ----------
    x, t : (T,) array_like
        Signal and its times (s).
    min_swing : float
        Hysteresis, in the units of ``x`` (> 0).

    Returns
    -------
    (K,) float64 ndarray
        Times of the recorded extremes.
    """
    if min_swing <= 0:
        raise ValueError(f"min_swing must be > 0, got {min_swing}")
    ok = np.isfinite(x)
    x, t = np.asarray(x, dtype=np.float64)[ok], np.asarray(t, dtype=np.float64)[ok]
    turns: list[float] = []
    if len(x) < 2:
        return np.zeros(0)
    hi_v, hi_t, lo_v, lo_t = x[0], t[0], x[0], t[0]
    direction = 0  # +1 rising, -1 falling, 0 unknown
    for v, tt in zip(x[1:], t[1:], strict=True):
        if v > hi_v:
            hi_v, hi_t = v, tt
        if v < lo_v:
            lo_v, lo_t = v, tt
        if direction >= 0 and hi_v - v >= min_swing:  # came down from a maximum
            if direction == 1:
                turns.append(hi_t)
            direction, lo_v, lo_t = -1, v, tt
        elif direction <= 0 and v - lo_v >= min_swing:  # came up from a minimum
            if direction == -1:
                turns.append(lo_t)
            direction, hi_v, hi_t = 1, v, tt
    return np.asarray(turns)


def _oscillation(x: np.ndarray, t: np.ndarray, min_swing: float) -> tuple[bool, np.ndarray, float]:
    """(oscillating in the band and still going, mask of the frames since the first turn, swing / min_swing)."""
    turns = direction_changes(x, t, min_swing)
    if len(turns) < OSC_MIN_CHANGES:
        return False, np.zeros(len(t), bool), 0.0
    span = turns[-1] - turns[0]
    freq = (len(turns) - 1) / (2.0 * span) if span > 0 else np.inf
    recent = t[-1] - turns[-1] <= OSC_MAX_IDLE_S
    since = t >= turns[0]
    swing = float(np.nanmax(x[since]) - np.nanmin(x[since]))
    return bool(OSC_MIN_HZ <= freq <= OSC_MAX_HZ and recent), since, swing / min_swing


class _Body:
    """Per-frame body axes and arm measurements of a history (T frames)."""

    def __init__(self, t: np.ndarray, p: np.ndarray):
        self.t, self.p = t, p
        pel, neck = p[:, PELVIS], p[:, NECK]
        up = neck - pel
        self.scale = np.linalg.norm(up, axis=1)
        self.up = _unit(up)
        left = p[:, _I("left_shoulder")] - p[:, _I("right_shoulder")]
        hips = p[:, _I("left_hip")] - p[:, _I("right_hip")]
        left = np.where(np.isfinite(left).all(1, keepdims=True), left, hips)
        left = left - _dot(left, self.up)[:, None] * self.up
        self.left = _unit(left)
        self.forward = np.cross(self.left, self.up)
        head = p[:, HEAD]
        head_h = self.height(head)
        self.head_h = np.where(np.isfinite(head_h), head_h, 1.0 + HEAD_ABOVE_NECK)
        self.head = np.where(np.isfinite(head).all(1, keepdims=True), head,
                             neck + self.up * (HEAD_ABOVE_NECK * self.scale)[:, None])

    def height(self, q: np.ndarray) -> np.ndarray:
        """Height above the pelvis along the body's up axis, in torso lengths."""
        return _dot(q - self.p[:, PELVIS], self.up) / self.scale

    def arm(self, side: str) -> dict[str, np.ndarray]:
        s, e, w = (self.p[:, _I(f"{side}_{n}")] for n in ("shoulder", "elbow", "wrist"))
        out_axis = self.left if side == "left" else -self.left
        return {
            "s": s, "e": e, "w": w, "out": out_axis,
            "elbow_deg": _angle_deg(s - e, w - e),
            "wrist_h": self.height(w), "elbow_h": self.height(e), "shoulder_h": self.height(s),
            "dir": _unit(w - s),
            "elev_deg": _angle_deg(w - s, -self.up),  # 0 = hanging down, 90 = horizontal, 180 = straight up
            "lateral": _dot(w - e, out_axis) / self.scale,
            "forward": _dot(w - s, self.forward) / self.scale,
            "head_dist": np.linalg.norm(w - self.head, axis=1) / self.scale,
        }


def _held(t: np.ndarray, ok: np.ndarray, hold_s: float, valid: np.ndarray) -> tuple[bool, np.ndarray]:
    """Whether ``ok`` holds over the last ``hold_s`` (history must cover it); also the mask of that span.

    Frames that are not ``valid`` (missing joints) are unknown, not failures: the fraction counts valid frames only.
    """
    span = t >= t[-1] - hold_s
    judged = span & valid
    if t[0] > t[-1] - hold_s + 1e-6 or judged.sum() < MIN_FRAMES:
        return False, span
    return bool(ok[judged].mean() >= HOLD_MIN_FRACTION and ok[-1]), span


def _smooth(x: np.ndarray) -> np.ndarray:
    """NaN-aware running mean over ``SMOOTH_FRAMES`` samples (joint noise must not make direction changes)."""
    ok = np.isfinite(x)
    k = np.ones(SMOOTH_FRAMES)
    num = np.convolve(np.where(ok, x, 0.0), k, mode="same")
    den = np.convolve(ok.astype(np.float64), k, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _mostly(ok: np.ndarray, mask: np.ndarray) -> bool:
    """At least ``HOLD_MIN_FRACTION`` of the ``mask`` frames (>= ``MIN_FRAMES`` of them) satisfy ``ok``."""
    return bool(mask.sum() >= MIN_FRAMES and ok[mask].mean() >= HOLD_MIN_FRACTION)


def _conf(*margins: float) -> float:
    """0.5 at the thresholds, rising to 1 with the smallest normalised margin."""
    m = min(margins) if margins else 0.0
    return float(np.clip(0.5 + 0.5 * m, 0.0, 1.0))


def detect_gestures(times: np.ndarray, poses: np.ndarray) -> list[Gesture]:
    """Gestures active at the last frame of a person's history.

    Parameters
    ----------
    times : (T,) array_like
        Increasing stamps (s); irregular spacing is fine.
    poses : (T, 16, 3) array_like
        pose3d16 joints (m, camera optical frame); NaN joints make the frames that need them fail the rules.

    Returns
    -------
    list of Gesture
        At most one per arm plus whole-body ones (``raise_hands`` / ``t_pose`` replace the one-arm gestures they
        contain), best confidence first; empty when nothing is performed or the history is too short.
    """
    t = np.asarray(times, dtype=np.float64)
    p = np.asarray(poses, dtype=np.float64)
    if t.ndim != 1 or p.shape != (t.shape[0], POSE3D16.num_joints, 3):
        raise ValueError(f"times (T,) and poses (T, {POSE3D16.num_joints}, 3) must match, got {t.shape}, {p.shape}")
    if len(t) < MIN_FRAMES:
        return []
    # a frame that misses a joint the rules need does not end a gesture: judge on the last complete frame when it is
    # recent (dropouts of single joints are common in estimated skeletons)
    complete = np.flatnonzero(np.isfinite(p[:, _CORE]).all(axis=(1, 2)))
    if len(complete) == 0 or t[-1] - t[complete[-1]] > MAX_STALE_S:
        return []
    t, p = t[:complete[-1] + 1], p[:complete[-1] + 1]
    if len(t) < MIN_FRAMES or _arms_at_rest(p[-1]):
        return []
    keep = t >= t[-1] - WAVE_WINDOW_S
    t, p = t[keep], p[keep]
    if len(t) < MIN_FRAMES:
        return []
    with np.errstate(invalid="ignore", divide="ignore"):
        body = _Body(t, p)
        arms = {side: body.arm(side) for side in ("left", "right") if not _arm_at_rest(p[-1], side)}
        per_arm: dict[str, Gesture] = {}
        raised = {"left": False, "right": False}
        tpose_ok = {"left": (False, 0.0), "right": (False, 0.0)}
        for side, a in arms.items():
            g, raised[side], tpose_ok[side] = _arm_gesture(body, side, a)
            if g is not None:
                per_arm[side] = g
        # one arm already held while the other is still on its way: wait for the two-arm gesture instead of
        # announcing the one-arm one (the arms of a T-pose / hands-up never arrive on the same frame)
        for side, other in (("left", "right"), ("right", "left")):
            g = per_arm.get(side)
            o = arms.get(other)
            if g is None or other in per_arm or o is None:
                continue
            if g.label.startswith("raise") and o["wrist_h"][-1] > body.head_h[-1]:
                del per_arm[side]
            elif g.label.startswith("point") and o["elbow_deg"][-1] > STRAIGHT_ELBOW_DEG and \
                    _dot(o["dir"][-1], o["out"][-1]) > TPOSE_MIN_SIDEWAYS and \
                    abs(o["wrist_h"][-1] - o["shoulder_h"][-1]) < TPOSE_MAX_HEIGHT:
                del per_arm[side]
        out: list[Gesture] = []
        if raised["left"] and raised["right"]:
            conf = min(per_arm[s].confidence for s in ("left", "right") if s in per_arm) if per_arm else 0.5
            out.append(Gesture("raise_hands", conf, "both"))
            per_arm = {s: g for s, g in per_arm.items() if not g.label.startswith("raise")}
        elif tpose_ok["left"][0] and tpose_ok["right"][0]:
            out.append(Gesture("t_pose", min(tpose_ok["left"][1], tpose_ok["right"][1]), "both"))
            per_arm = {s: g for s, g in per_arm.items() if not g.label.startswith("point")}
        out.extend(per_arm.values())
    return sorted(out, key=lambda g: -g.confidence)


def _arm_at_rest(pose: np.ndarray, side: str) -> bool:
    """Cheap last-frame test for one arm: it hangs (shoulder -> wrist within ``POINT_MIN_ELEVATION_DEG`` of the
    body's down axis) and the wrist is not above the elbow, so no rule can fire for it now (each needs a lifted arm
    or hand). A missing arm counts as at rest."""
    up = pose[NECK] - pose[PELVIS]
    n = float(np.sqrt(up @ up))
    s, e, w = pose[_I(f"{side}_shoulder")], pose[_I(f"{side}_elbow")], pose[_I(f"{side}_wrist")]
    d = w - s
    dn = float(np.sqrt(d @ d))
    if not (n > 0 and dn > 0 and np.isfinite(e).all()):
        return True
    up = up / n
    return bool(-(d @ up) / dn >= np.cos(np.radians(POINT_MIN_ELEVATION_DEG))
                and (w - e) @ up / n <= WAVE_WRIST_ABOVE_ELBOW)


def _arms_at_rest(pose: np.ndarray) -> bool:
    """Both arms at rest (:func:`_arm_at_rest`): no gesture can be active now."""
    return _arm_at_rest(pose, "left") and _arm_at_rest(pose, "right")


def _arm_gesture(body: _Body, side: str, a: dict[str, np.ndarray]) -> tuple[Gesture | None, bool, tuple[bool, float]]:
    """(one-arm gesture or None, raised-and-held, (T-pose arm held, confidence)) for one arm."""
    t = body.t
    finite = np.isfinite(a["wrist_h"]) & np.isfinite(a["elbow_deg"]) & np.isfinite(body.scale)
    if finite.sum() < MIN_FRAMES or not finite[-1]:
        return None, False, (False, 0.0)
    # oscillating gestures first: they pass through static poses (a wave passes "raised"); their other conditions
    # are checked only since the first direction change, so the arm coming up does not delay them
    hand_up = a["wrist_h"] - a["elbow_h"] > WAVE_WRIST_ABOVE_ELBOW
    off_head = a["head_dist"] > WAVE_MIN_HEAD_DIST
    ok, since, swing = _oscillation(_smooth(a["lateral"]), t, WAVE_MIN_SWING)
    if ok and hand_up[-1] and _mostly(hand_up & off_head, since & finite):
        return Gesture(f"wave_{side}", _conf(swing - 1.0), side), False, (False, 0.0)
    ok, since, flex = _oscillation(_smooth(a["elbow_deg"]), t, COME_MIN_FLEX_DEG)
    if ok:
        m = since & finite
        upper = _unit(a["e"] - a["s"])[m]
        wobble = _angle_deg(upper, np.nanmean(upper, axis=0)[None])
        steady = np.sqrt(np.nanmean(wobble**2)) < COME_MAX_UPPER_ARM_WOBBLE_DEG
        in_front = np.nanmean(a["forward"][m]) > COME_MIN_FORWARD
        below_head = np.nanmax(a["wrist_h"][m]) < np.nanmean(body.head_h[m])
        if in_front and below_head and steady:
            return Gesture("come_here", _conf(flex - 1.0), side), False, (False, 0.0)
    straight = a["elbow_deg"] > STRAIGHT_ELBOW_DEG
    straight_m = (a["elbow_deg"][-1] - STRAIGHT_ELBOW_DEG) / (180.0 - STRAIGHT_ELBOW_DEG)
    # raise: wrist above the head centre
    above = (a["wrist_h"] > body.head_h + RAISE_MIN_ABOVE_HEAD) & (a["head_dist"] > WAVE_MIN_HEAD_DIST)
    is_raised, span = _held(t, above, HOLD_S, finite)
    if is_raised:  # a hand swinging sideways up there is a wave in the making, not a raised hand
        lat = _smooth(a["lateral"])[span]
        is_raised = bool(np.nanmax(lat) - np.nanmin(lat) < WAVE_MIN_SWING)
    # T-pose arm: straight, sideways, at shoulder height
    sideways = _dot(a["dir"], a["out"])
    level = np.abs(a["wrist_h"] - a["shoulder_h"]) < TPOSE_MAX_HEIGHT
    tp_held, _ = _held(t, straight & (sideways > TPOSE_MIN_SIDEWAYS) & level, HOLD_S, finite)
    tp_conf = _conf(straight_m, (sideways[-1] - TPOSE_MIN_SIDEWAYS) / (1 - TPOSE_MIN_SIDEWAYS))
    if is_raised:
        margin = (a["wrist_h"][-1] - body.head_h[-1] - RAISE_MIN_ABOVE_HEAD) / 0.5
        return Gesture(f"raise_{side}_hand", _conf(margin), side), True, (tp_held, tp_conf)
    # stop: straight arm, forearm towards the camera (-z), wrist at chest height
    fore_angle = _angle_deg(a["w"] - a["e"], -a["w"])  # the camera centre is the origin of the optical frame
    chest = (a["wrist_h"] >= STOP_MIN_HEIGHT) & (a["wrist_h"] <= STOP_MAX_HEIGHT)
    stop_ok, _ = _held(t, straight & (fore_angle < STOP_MAX_ANGLE_DEG) & chest, HOLD_S, finite)
    if stop_ok:
        return Gesture("stop", _conf(straight_m, 1 - fore_angle[-1] / STOP_MAX_ANGLE_DEG), side), False, (
            tp_held, tp_conf)
    # point: straight arm lifted from hanging, wrist below the head, direction steady over the hold
    lifted = a["elev_deg"] > POINT_MIN_ELEVATION_DEG
    point_ok, span = _held(t, straight & lifted & ~above, HOLD_S, finite)
    if point_ok:
        dirs = a["dir"][span & np.isfinite(a["dir"]).all(1)]
        mean_dir = _unit(dirs.mean(axis=0))
        wobble = float(np.max(_angle_deg(dirs, mean_dir[None]))) if len(dirs) else 180.0
        if wobble <= POINT_MAX_WOBBLE_DEG:
            origin = a["s"][-1].copy()
            direction = _unit(a["w"][-1] - a["s"][-1])
            conf = _conf(straight_m, (a["elev_deg"][-1] - POINT_MIN_ELEVATION_DEG) / 45.0,
                         1 - wobble / POINT_MAX_WOBBLE_DEG)
            return Gesture(f"point_{side}", conf, side, origin, direction), False, (tp_held, tp_conf)
    return None, False, (tp_held, tp_conf)
