"""Which image stamps can be trusted for latency: not zero, not before 1970, not in the future.

A driver that leaves the stamp at 0 or stamps with another clock would otherwise put 1.8e12 ms into the latency
statistics (or a negative latency for a clock ahead of ours). Such frames are still processed; only their latency
is left out, and the reason is reported.
"""

from __future__ import annotations

import math

__all__ = ["StampCheck"]


class StampCheck:
    """Latency of a frame from its stamp and the receiving clock, or None when the stamp is implausible.

    Parameters
    ----------
    max_future_s : float
        A stamp this far ahead of the clock is from another clock (s).
    max_age_s : float
        A stamp this much older than the clock is from another clock or a recording (s).
    """

    def __init__(self, max_future_s: float = 0.5, max_age_s: float = 60.0) -> None:
        self.max_future_s, self.max_age_s = float(max_future_s), float(max_age_s)
        self.problem = ""
        #: the last stamp was much older than the clock (latency not measured, nothing wrong)
        self.old = False

    def latency(self, stamp: float, now: float) -> float | None:
        """``now - stamp`` (s), or None for a stamp not from this clock (:attr:`problem` says why when it is wrong:
        zero, negative, or in the future; a stamp merely old, e.g. from a replayed bag, sets :attr:`old`)."""
        self.old = False
        if not (math.isfinite(stamp) and stamp > 0):
            self.problem = f"image stamp {stamp:.3f} s is zero or negative: latency not measured (stamp the images)"
            return None
        lag = now - stamp
        if lag < -self.max_future_s:
            self.problem = f"image stamp is {-lag:.3f} s in the future of this node's clock: latency not measured"
            return None
        if lag > self.max_age_s:  # a replayed recording without use_sim_time: normal, only not a latency
            self.problem = ""
            self.old = True
            return None
        self.problem = ""
        self.old = False
        return lag
