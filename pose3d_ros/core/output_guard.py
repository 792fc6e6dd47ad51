"""The output invariant, enforced at the edge: no skeleton leaves the node unless a human could stand there.

Whatever the stages upstream do (a depth map of 1e30 m, a lifting that diverged, a track smoothed through NaN),
every published joint must be finite; with metric 3D it must lie in front of the camera (``z > 0``) and within
``max_range_m`` of it; and every skeleton's bones must be human: each at most ``MAX_BONE_M`` (twice the longest human
bone), each limb, spine and head bone at least ``MIN_BONE_M``, all of them together between ``MIN_TOTAL_BONE_M`` and
``MAX_TOTAL_BONE_M``. The bounds are generous on purpose: they catch garbage (NaN, 1e30 m, a collapsed or exploded
skeleton), not estimates that are merely off. Measured: an adult's 15 pose3d16 bones sum to 3.6-4.1 m in the
bundled real mocap (a 1 m child to ~2.2 m); the node's own estimates on the bundled footage (566 skeletons, RGB-only
and with depth) sum to 2.8-8.5 m, their longest bone is 0.93 m, and the half-widths (neck-shoulder, pelvis-hip) of a
side view shrink to 1.4 cm, so those have no lower bound. A skeleton that fails is dropped, never published as
valid, and the reason is returned for diagnostics. Root-relative skeletons (no valid intrinsics: see
:mod:`pose3d_ros.core.camera_policy`) are checked for finiteness and bones only: they have no camera position.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .skeleton import JOINT_NAMES, NUM_JOINTS, POSE3D16, bone_lengths

__all__ = [
    "MIN_BONE_M",
    "MAX_BONE_M",
    "MIN_TOTAL_BONE_M",
    "MAX_TOTAL_BONE_M",
    "WIDTH_BONES",
    "Rejection",
    "GuardResult",
    "OutputGuard",
]

#: shortest plausible limb, spine or head bone, m (the shortest, neck-head, is >= 0.13 m in the bundled mocap)
MIN_BONE_M = 0.02
#: longest plausible bone, m (twice the longest human bone, the thigh or shin, ~0.45-0.5 m)
MAX_BONE_M = 1.0
#: plausible sum of the 15 pose3d16 bones, m (adult ~3.6-4.1 m, a 1 m tall child ~2.2 m)
MIN_TOTAL_BONE_M = 1.2
MAX_TOTAL_BONE_M = 9.0
#: half shoulder / hip widths: a side view foreshortens them to ~0 in an estimate, so only the upper bound applies
WIDTH_BONES = ("neck-left_shoulder", "neck-right_shoulder", "pelvis-left_hip", "pelvis-right_hip")

_BONE_NAMES = tuple(f"{JOINT_NAMES[a]}-{JOINT_NAMES[b]}" for a, b in POSE3D16.bones)
_HAS_MIN = np.array([n not in WIDTH_BONES for n in _BONE_NAMES])


@dataclass(frozen=True)
class Rejection:
    """Why one skeleton was dropped: ``kind`` groups reasons for counting, ``reason`` is one readable line."""

    person_id: int
    kind: str
    reason: str


@dataclass
class GuardResult:
    """The people that may be published and the ones dropped (with why)."""

    kept: list[Any] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


class OutputGuard:
    """Check skeletons against the output invariant; count what is dropped.

    Parameters
    ----------
    max_range_m : float
        Farthest a metric joint may be from the camera centre, m (> 0).
    bone_m : (float, float)
        Allowed length of each bone, m (the lower bound not for ``WIDTH_BONES``).
    total_bone_m : (float, float)
        Allowed sum of all bone lengths, m.

    Raises
    ------
    ValueError
        On a non-finite or non-positive range, or bounds that are not ``0 <= lo < hi``.
    """

    def __init__(self, max_range_m: float = 30.0, bone_m: tuple[float, float] = (MIN_BONE_M, MAX_BONE_M),
                 total_bone_m: tuple[float, float] = (MIN_TOTAL_BONE_M, MAX_TOTAL_BONE_M)) -> None:
        if not (math.isfinite(max_range_m) and max_range_m > 0):
            raise ValueError(f"max_range_m must be a finite number > 0, got {max_range_m}")
        for name, (lo, hi) in (("bone_m", bone_m), ("total_bone_m", total_bone_m)):
            if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
                raise ValueError(f"{name} must be finite bounds 0 <= lo < hi, got ({lo}, {hi})")
        self.max_range_m = float(max_range_m)
        self.bone_m = (float(bone_m[0]), float(bone_m[1]))
        self.total_bone_m = (float(total_bone_m[0]), float(total_bone_m[1]))
        #: dropped skeletons per kind since start
        self.counts: dict[str, int] = {}
        self.checked = 0

    def problem(self, joints: Any, metric: bool = True) -> tuple[str, str]:
        """``(kind, reason)`` of the first rule ``joints`` breaks, or ``("", "")`` when it may be published.

        Parameters
        ----------
        joints : (16, 3) array_like
            pose3d16 joints in metres, camera optical frame (``metric``) or relative to the pelvis.
        metric : bool
            Positions are in the camera frame: also check ``z > 0`` and the range.
        """
        try:
            p = np.asarray(joints, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            return "malformed", f"joints are not numbers ({exc})"
        if p.shape != (NUM_JOINTS, 3):
            return "malformed", f"joints have shape {p.shape}, expected ({NUM_JOINTS}, 3)"
        bad = ~np.isfinite(p).all(axis=1)
        if bad.any():
            return "non_finite", f"joint {JOINT_NAMES[int(np.argmax(bad))]} is not finite ({int(bad.sum())} joints)"
        if metric:
            j = int(np.argmin(p[:, 2]))
            if p[j, 2] <= 0:
                return "behind_camera", f"joint {JOINT_NAMES[j]} is behind the camera (z = {p[j, 2]:.3g} m)"
            dist = np.linalg.norm(p, axis=1)
            j = int(np.argmax(dist))
            if dist[j] > self.max_range_m:
                return "out_of_range", (f"joint {JOINT_NAMES[j]} is {dist[j]:.3g} m away (max_range_m "
                                        f"{self.max_range_m:g})")
        bones = bone_lengths(p)
        lo, hi = self.bone_m
        out = ((bones < lo) & _HAS_MIN) | (bones > hi)
        if out.any():
            b = int(np.argmax(np.where(out, np.abs(bones - (lo + hi) / 2), -1.0)))
            return "bone_length", f"bone {_BONE_NAMES[b]} is {bones[b]:.3g} m (expected {lo:g}-{hi:g} m)"
        total = float(bones.sum())
        lo, hi = self.total_bone_m
        if not lo <= total <= hi:
            return "body_size", f"bones sum to {total:.3g} m (expected {lo:g}-{hi:g} m for a person)"
        return "", ""

    def filter(self, people: Sequence[Any], metric: bool = True) -> GuardResult:
        """Split ``people`` (objects with ``id`` and ``joints (16, 3)``) into the publishable and the dropped."""
        out = GuardResult()
        for person in people:
            self.checked += 1
            kind, reason = self.problem(getattr(person, "joints", None), metric)
            if not kind:
                out.kept.append(person)
                continue
            self.counts[kind] = self.counts.get(kind, 0) + 1
            out.rejected.append(Rejection(int(getattr(person, "id", -1)), kind, reason))
        return out

    @property
    def dropped(self) -> int:
        """Skeletons dropped since start, all kinds together."""
        return sum(self.counts.values())
