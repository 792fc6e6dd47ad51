"""Event frequency over a sliding window, with diagnostic_updater's ``FrequencyStatus`` semantics.

An expected window ``[min_hz (1 - tolerance), max_hz (1 + tolerance)]`` (``RateBounds``, like
``FrequencyStatusParam``); :meth:`FrequencyWindow.status` gives ERROR "No events recorded", WARN "Frequency too
low/high" or OK "Desired frequency met" with the same value names ("Events in window", "Actual frequency (Hz)",
"Minimum acceptable frequency (Hz)", ...). Unlike diagnostic_updater, silence is judged on the age of the last event
(adaptive: 2.5 usual intervals, at least ``timeout_s``), so a stream that stops is named within about a second.
Times are a monotonic clock passed in by the caller; not thread-safe (callers lock).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["OK", "WARN", "ERROR", "KEPT_EVENTS", "RateBounds", "FrequencyWindow"]

OK, WARN, ERROR = 0, 1, 2
#: events kept per window (bounded memory whatever the rate)
KEPT_EVENTS = 64


@dataclass(frozen=True)
class RateBounds:
    """Expected frequency window, as diagnostic_updater's ``FrequencyStatusParam`` (``max_hz`` inf = none)."""

    min_hz: float = 1.0
    max_hz: float = math.inf
    tolerance: float = 0.1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_hz) and 0 <= self.min_hz <= self.max_hz and 0 <= self.tolerance < 1):
            raise ValueError(f"rate bounds must satisfy 0 <= min_hz <= max_hz and 0 <= tolerance < 1, got "
                             f"min_hz={self.min_hz}, max_hz={self.max_hz}, tolerance={self.tolerance}")

    @property
    def lowest(self) -> float:
        return self.min_hz * (1 - self.tolerance)

    @property
    def highest(self) -> float:
        return self.max_hz * (1 + self.tolerance)


class FrequencyWindow:
    """Events counted over a sliding window: rate, age of the last one, silence.

    Parameters
    ----------
    window_s : float
        Length of the window the rate is measured over, s (> 0).
    timeout_s : float
        Shortest silence reported, s (> 0); a slow stream is silent only after 2.5 of its usual intervals.
    """

    def __init__(self, window_s: float = 2.0, timeout_s: float = 1.0) -> None:
        for name, v in (("window_s", window_s), ("timeout_s", timeout_s)):
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number of seconds > 0, got {v}")
        self.window_s, self.timeout_s = float(window_s), float(timeout_s)
        self.reset(0.0)

    def reset(self, now: float) -> None:
        self.started = now
        self.times: deque[float] = deque(maxlen=KEPT_EVENTS)
        self.count = 0
        self.flowing_since: float | None = None

    def tick(self, now: float) -> None:
        if not self.times or now - self.times[-1] > self.silence_after():
            self.flowing_since = now  # first message, or the first after a silence
        self.times.append(now)
        self.count += 1

    def interval(self) -> float | None:
        """Median interval between the kept events, s (None before two)."""
        if len(self.times) < 2:
            return None
        return float(np.median(np.diff(np.asarray(self.times))))

    def silence_after(self) -> float:
        iv = self.interval()
        return max(self.timeout_s, 2.5 * iv) if iv is not None else self.timeout_s

    def age(self, now: float) -> float | None:
        return now - self.times[-1] if self.times else None

    def silent(self, now: float) -> bool:
        """Events were seen, and none for longer than :meth:`silence_after`."""
        age = self.age(now)
        return age is not None and age > self.silence_after()

    def in_window(self, now: float) -> tuple[int, float]:
        """(events, window duration s) of the last ``window_s``."""
        duration = max(min(self.window_s, now - self.started), 1e-9)
        n = len(self.times) - bisect_right(self.times, now - duration)
        return n, duration

    def rate(self, now: float) -> float:
        n, duration = self.in_window(now)
        return n / duration

    def status(self, now: float, bounds: RateBounds) -> tuple[int, str, dict[str, object]]:
        """diagnostic_updater ``FrequencyStatus`` of these events: (level, message, values)."""
        n, duration = self.in_window(now)
        freq = n / duration
        values: dict[str, object] = {"Events in window": n, "Events since startup": self.count,
                                     "Duration of window (s)": round(duration, 3),
                                     "Actual frequency (Hz)": round(freq, 3)}
        if bounds.min_hz == bounds.max_hz:
            values["Target frequency (Hz)"] = bounds.min_hz
        if bounds.min_hz > 0:
            values["Minimum acceptable frequency (Hz)"] = round(bounds.lowest, 3)
        if math.isfinite(bounds.max_hz):
            values["Maximum acceptable frequency (Hz)"] = round(bounds.highest, 3)
        age = self.age(now)
        if age is not None:
            values["Last event age (s)"] = round(age, 3)
        if self.count == 0:
            if now - self.started <= self.timeout_s:
                return WARN, "Waiting for the first event", values
            return ERROR, f"No events recorded (nothing since start {now - self.started:.1f} s ago)", values
        if self.silent(now):
            return ERROR, f"No events recorded for {age:.1f} s (was {self.usual_rate():.1f} Hz)", values
        if freq < bounds.lowest:
            return WARN, f"Frequency too low: {freq:.2f} Hz (minimum {bounds.lowest:.2f} Hz)", values
        if freq > bounds.highest:
            return WARN, f"Frequency too high: {freq:.2f} Hz (maximum {bounds.highest:.2f} Hz)", values
        return OK, f"Desired frequency met: {freq:.2f} Hz", values

    def usual_rate(self) -> float:
        """1 / the median interval of the kept events, Hz (0 before two)."""
        iv = self.interval()
        return 1.0 / iv if iv else 0.0
