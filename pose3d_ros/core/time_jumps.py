"""What a step in message or frame time means: the one owner of time-jump decisions.

A stream's stamps normally increase. When they do not, the cause decides what must happen:

- ``OUT_OF_ORDER``: a little older than the newest seen (≤ ``jump_back_s``): a late message. It is dropped; state
  (tracks, filters, action windows) is kept.
- ``JUMP_BACK``: much older (> ``jump_back_s``): a bag started again or the clock was reset. Everything that
  accumulates over time is restarted — synchroniser queues, tracks, action windows — but track ids keep counting
  up (an id is never reused).
- ``JUMP_FORWARD``: a gap longer than ``gap_s``: the stream paused. Nothing is reset (tracks age out by their own
  time-outs), but windows that assume contiguous frames (actions) start afresh.

``TimeJumpDetector`` is ROS-free; the inference node uses one per input before its synchroniser (so both the real
``message_filters`` and our fallback, whose queues otherwise evict every message of a replayed bag, restart
cleanly), and the pipeline uses one on frame stamps (so ``estimate`` on a looping bag behaves like the node).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

__all__ = ["TimeStep", "TimeJump", "TimeJumpDetector"]


class TimeStep(Enum):
    """Kinds of step between consecutive stamps of one stream."""

    FIRST = "first"
    NORMAL = "normal"
    OUT_OF_ORDER = "out_of_order"
    JUMP_BACK = "jump_back"
    JUMP_FORWARD = "jump_forward"


@dataclass(frozen=True)
class TimeJump:
    """One observed step: its kind and the signed difference to the newest earlier stamp (s)."""

    kind: TimeStep
    delta_s: float

    @property
    def restarts(self) -> bool:
        """True when time-accumulating state must start again (a bag loop or a clock reset)."""
        return self.kind is TimeStep.JUMP_BACK

    @property
    def drop(self) -> bool:
        """True when the message is stale and must not be used."""
        return self.kind is TimeStep.OUT_OF_ORDER

    def describe(self) -> str:
        """One line for logs and /diagnostics."""
        if self.kind is TimeStep.JUMP_BACK:
            return f"time jumped back by {-self.delta_s:.3f} s (bag loop or clock reset): tracks and actions restarted"
        if self.kind is TimeStep.OUT_OF_ORDER:
            return f"stamp {-self.delta_s:.3f} s older than the newest seen: message dropped (out of order)"
        if self.kind is TimeStep.JUMP_FORWARD:
            return f"stream paused for {self.delta_s:.3f} s"
        return self.kind.value


class TimeJumpDetector:
    """Classify each stamp of one stream against the newest seen.

    Parameters
    ----------
    jump_back_s : float
        A step back larger than this is a restart (``JUMP_BACK``), a smaller one a late message (> 0).
    gap_s : float
        A step forward larger than this is a pause (``JUMP_FORWARD``) (> 0).

    Raises
    ------
    ValueError
        On non-positive or non-finite thresholds.
    """

    def __init__(self, jump_back_s: float = 1.0, gap_s: float = 5.0) -> None:
        for name, v in (("jump_back_s", jump_back_s), ("gap_s", gap_s)):
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number of seconds > 0, got {v}")
        self.jump_back_s, self.gap_s = float(jump_back_s), float(gap_s)
        self.newest: float | None = None

    def observe(self, stamp: float) -> TimeJump:
        """Classify ``stamp`` (s). A restart makes it the newest; a late message leaves the newest unchanged.

        Raises
        ------
        ValueError
            On a non-finite stamp.
        """
        t = float(stamp)
        if not math.isfinite(t):
            raise ValueError(f"stamp must be finite, got {stamp}")
        if self.newest is None:
            self.newest = t
            return TimeJump(TimeStep.FIRST, 0.0)
        delta = t - self.newest
        if delta < -self.jump_back_s:
            kind = TimeStep.JUMP_BACK
        elif delta < 0:
            return TimeJump(TimeStep.OUT_OF_ORDER, delta)
        elif delta > self.gap_s:
            kind = TimeStep.JUMP_FORWARD
        else:
            kind = TimeStep.NORMAL
        self.newest = t
        return TimeJump(kind, delta)

    def reset(self) -> None:
        """Forget the newest stamp (a new stream)."""
        self.newest = None
