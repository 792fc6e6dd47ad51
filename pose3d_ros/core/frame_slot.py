"""Newest-frame-only hand-over between a message thread and a worker, with a max-rate throttle.

The inference node must never build a queue behind a slow model: a new synchronised set replaces the one still
waiting (counted as dropped). ``max_fps`` limits how often the worker takes one; changing it, or closing the slot,
takes effect at once, even while the worker waits (a 50 s wait from ``max_fps=0.02`` ends when it is set back).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["LatestFrameSlot"]

T = TypeVar("T")


class LatestFrameSlot(Generic[T]):
    """Holds at most one item; :meth:`take` returns it no sooner than ``1 / max_fps`` after the previous take.

    Parameters
    ----------
    max_fps : float
        Largest take rate (0 = no limit).
    clock : callable
        Monotonic seconds (injectable for tests).

    Raises
    ------
    ValueError
        On a negative or non-finite ``max_fps``.
    """

    def __init__(self, max_fps: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._closed = False
        self._clock = clock
        self._last_take: float | None = None
        self.max_fps = self._checked(max_fps)
        self.received = 0
        self.dropped = 0

    @staticmethod
    def _checked(max_fps: float) -> float:
        v = float(max_fps)
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"max_fps must be a finite number >= 0, got {max_fps}")
        return v

    def put(self, item: T) -> None:
        """Offer ``item``; one still waiting is replaced (and counted in ``dropped``)."""
        with self._cond:
            self.received += 1
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def set_max_fps(self, max_fps: float) -> None:
        """Change the rate limit; a worker waiting in :meth:`take` re-evaluates at once."""
        v = self._checked(max_fps)
        with self._cond:
            self.max_fps = v
            self._cond.notify_all()

    def close(self) -> None:
        """Wake every waiter; :meth:`take` returns None from now on."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        """Accept items again after :meth:`close` (a lifecycle node re-activated); the slot starts empty."""
        with self._cond:
            self._closed = False
            self._item = None
            self._last_take = None

    @property
    def closed(self) -> bool:
        return self._closed

    def _ready_in(self) -> float:
        """Seconds until the throttle allows a take (0 = now). Called with the lock held."""
        if self.max_fps <= 0 or self._last_take is None:
            return 0.0
        return max(0.0, self._last_take + 1.0 / self.max_fps - self._clock())

    def take(self, timeout: float) -> T | None:
        """The newest item once the throttle allows, or None after ``timeout`` seconds or on :meth:`close`."""
        deadline = self._clock() + timeout
        with self._cond:
            while not self._closed:
                left = deadline - self._clock()
                if self._item is not None:
                    wait = self._ready_in()
                    if wait <= 0:
                        item, self._item = self._item, None
                        self._last_take = self._clock()
                        return item
                    if left <= 0:
                        return None
                    self._cond.wait(min(wait, left))
                    continue
                if left <= 0:
                    return None
                self._cond.wait(left)
        return None
