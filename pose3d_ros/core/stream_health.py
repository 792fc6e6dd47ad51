"""Health of a node's input streams and output, from arrival events: what ``/diagnostics`` says, and why.

A node that publishes nothing must not say OK. :class:`StreamHealth` is fed one event per input message as it arrives
(before any synchroniser), one per synchronised set and one per published output, and is read by the diagnostics
timer. It names the silent topic ("color/image_raw silent for 2.1 s (was 10.0 Hz)"), the input that never came
("no messages on color/camera_info"), the inputs whose stamps never pair within the slop, with the offset between
the stamps of messages that arrived together ("depth stamps are 0.500 s behind color"), an output that stopped
while inputs flow, and a frame stuck in processing. The people count is 0 once nothing current was published.
Per-topic rates follow diagnostic_updater's ``FrequencyStatus`` (:mod:`pose3d_ros.core.frequency`), so the statuses
read like any other ROS driver's.

Time is a monotonic clock (injectable for tests); stamps are the messages' header stamps in seconds.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .frequency import ERROR, KEPT_EVENTS, OK, WARN, FrequencyWindow, RateBounds

__all__ = ["OK", "WARN", "ERROR", "RateBounds", "FrequencyWindow", "Pairing", "TopicStatus", "HealthReport",
           "StreamHealth"]


@dataclass(frozen=True)
class Pairing:
    """Inputs a synchroniser pairs by stamp (the first is the reference the offsets are measured from).

    ``required``: nothing is published without these sets (ERROR when they never form); else WARN.
    """

    name: str
    inputs: tuple[str, ...]
    slop_s: float
    required: bool = True


@dataclass(frozen=True)
class TopicStatus:
    """One frequency status: the topic, its level, message and diagnostic_updater-style values."""

    topic: str
    level: int
    message: str
    values: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthReport:
    """Overall level + message (worst problems first), and one status per input and for the output."""

    level: int
    message: str
    problems: tuple[str, ...]
    inputs: tuple[TopicStatus, ...]
    output: TopicStatus
    people: int


class StreamHealth:
    """Per-topic arrivals, synchronised sets and published outputs in; a :class:`HealthReport` out.

    Parameters
    ----------
    inputs : sequence of (str, bool)
        Input topic names and whether each is required (nothing is published without it).
    pairings : sequence of Pairing
        The synchronisers' input sets.
    output : str
        The output topic (for messages).
    timeout_s : float
        Silence, or sets not pairing, for this long is reported (s).
    bounds : RateBounds
        Expected input and output rate window.
    people_hold_s : float
        The people count reads 0 once nothing was published for this long (s).
    clock : callable
        Monotonic seconds.
    """

    def __init__(self, inputs: Sequence[tuple[str, bool]], pairings: Sequence[Pairing] = (), output: str = "output",
                 timeout_s: float = 1.0, bounds: RateBounds | None = None, people_hold_s: float = 1.0,
                 window_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.required = {name: bool(req) for name, req in inputs}
        for p in pairings:
            unknown = [i for i in p.inputs if i not in self.required]
            if unknown or len(p.inputs) < 2:
                raise ValueError(f"pairing {p.name!r} needs >= 2 known inputs, got {p.inputs} (unknown: {unknown})")
        self.pairings = tuple(pairings)
        self.output_name = output
        self.timeout_s, self.people_hold_s = float(timeout_s), float(people_hold_s)
        self.bounds = bounds or RateBounds()
        self.window_s = float(window_s)
        self.clock = clock
        self._lock = threading.Lock()
        self.start()

    @classmethod
    def for_camera(cls, color: str, info: str, depth: str | None, output: str, slop_s: float, timeout_s: float = 1.0,
                   bounds: RateBounds | None = None, clock: Callable[[], float] = time.monotonic) -> StreamHealth:
        """The inference node's inputs: colour + camera_info required and paired ("rgb"); depth optional, paired with
        both ("rgbd")."""
        inputs = [(color, True), (info, True)] + ([(depth, False)] if depth else [])
        pairings = [Pairing("rgb", (color, info), slop_s)]
        if depth:
            pairings.append(Pairing("rgbd", (color, info, depth), slop_s, required=False))
        return cls(inputs, pairings, output, timeout_s, bounds, clock=clock)

    # -- events ------------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Forget everything (the node was (re)activated)."""
        now = self.clock()
        with self._lock:
            self.started = now
            self.arrivals = {n: FrequencyWindow(self.window_s, self.timeout_s) for n in self.required}
            for w in self.arrivals.values():
                w.reset(now)
            self.stamps: dict[str, deque[tuple[float, float]]] = {n: deque(maxlen=KEPT_EVENTS) for n in self.required}
            self.last_paired: dict[str, float] = {}
            self.outputs = FrequencyWindow(self.window_s, self.timeout_s)
            self.outputs.reset(now)
            self.last_people = 0
            self.last_idle: float | None = None
            self.first_input: float | None = None
            self.busy_since: float | None = None

    def arrived(self, name: str, stamp: float) -> None:
        """A message on input ``name`` with header stamp ``stamp`` (s) arrived."""
        now = self.clock()
        with self._lock:
            self.arrivals[name].tick(now)
            if self.first_input is None:
                self.first_input = now
            if math.isfinite(stamp):
                self.stamps[name].append((now, float(stamp)))

    def paired(self, pairing: str) -> None:
        """The synchroniser of ``pairing`` emitted a set."""
        with self._lock:
            self.last_paired[pairing] = self.clock()

    def forget_stamps(self) -> None:
        """Time jumped back: old stamps would give wrong offsets."""
        with self._lock:
            for d in self.stamps.values():
                d.clear()

    def begin_frame(self) -> None:
        with self._lock:
            self.busy_since = self.clock()

    def published(self, people: int) -> None:
        """An output was published (an empty one for a failed frame too) with ``people`` people."""
        with self._lock:
            self.outputs.tick(self.clock())
            self.last_people = int(people)
            self.busy_since = None

    def idle(self) -> None:
        """A frame was skipped because nothing subscribes to the outputs."""
        with self._lock:
            self.last_idle = self.clock()
            self.busy_since = None

    # -- reading -----------------------------------------------------------------------------------------------------
    def people(self) -> int:
        """People in the latest output, 0 when nothing was published in the last ``people_hold_s`` or a required
        input is silent."""
        with self._lock:
            return self._people(self.clock())

    def fps(self) -> float:
        with self._lock:
            now = self.clock()
            return 0.0 if self.outputs.silent(now) else self.outputs.rate(now)

    def stamp_offset(self, ref: str, other: str) -> float | None:
        """Median of ``stamp(other) - stamp(ref)`` over messages that arrived together (nearest arrival times), s.

        Matching by arrival, not by the closest stamps: a depth stream stamped 0.5 s late at 10 Hz has stamps 0.0 s
        from some colour stamp, but arrives next to the colour image stamped 0.5 s later.
        """
        a, b = list(self.stamps[ref]), list(self.stamps[other])
        if not a or not b:
            return None
        times = [t for t, _ in a]
        diffs = []
        for t, stamp in b:
            i = bisect_left(times, t)
            j = min((k for k in (i - 1, i) if 0 <= k < len(a)), key=lambda k: abs(times[k] - t))
            diffs.append(stamp - a[j][1])
        return float(np.median(diffs))

    def _pairing_problem(self, p: Pairing, now: float) -> tuple[int, str] | None:
        since = [self.arrivals[i].flowing_since for i in p.inputs]
        if any(s is None for s in since) or any(self.arrivals[i].silent(now) for i in p.inputs):
            return None  # an input is missing: reported as such
        waited = now - max(self.last_paired.get(p.name, self.started), *since)  # type: ignore[type-var]
        if waited <= max(self.arrivals[i].silence_after() for i in p.inputs):
            return None
        ref = p.inputs[0]
        parts = []
        for other in p.inputs[1:]:
            off = self.stamp_offset(ref, other)
            if off is None:
                continue
            side = "behind" if off < 0 else "ahead of"
            parts.append(f"{other} stamps are {abs(off):.3f} s {side} {ref}" if abs(off) > p.slop_s else
                         f"{other} stamps are within {abs(off):.3f} s of {ref}")
        never = p.name not in self.last_paired
        what = "never paired" if never else f"not paired for {waited:.1f} s"
        detail = "; ".join(parts) or "no stamps"
        return (ERROR if p.required else WARN), f"{' + '.join(p.inputs)} {what} within the {p.slop_s:g} s slop " \
                                                f"({detail})"

    def evaluate(self) -> HealthReport:
        """The report now (see class docstring)."""
        with self._lock:
            now = self.clock()
            problems: list[tuple[int, str]] = []
            inputs = []
            for name, window in self.arrivals.items():
                level, message, values = window.status(now, self.bounds)
                if not self.required[name] and level == ERROR:
                    level = WARN  # an optional stream (depth) missing degrades the output, it does not stop it
                inputs.append(TopicStatus(name, level, message, values))
            seen = [n for n, w in self.arrivals.items() if w.count]
            flowing = [n for n in seen if not self.arrivals[n].silent(now)]
            waited = now - self.started
            if not seen:
                if waited > self.timeout_s:
                    problems.append((WARN, f"no input: nothing on {', '.join(self.arrivals)} for {waited:.1f} s "
                                           "(camera driver not running, or topics not remapped?)"))
            elif not flowing:
                age = min(self.arrivals[n].age(now) or 0.0 for n in seen)
                problems.append((ERROR, f"all inputs silent for {age:.1f} s: {', '.join(seen)} (driver stopped, "
                                        "frozen or disconnected?)"))
            else:
                problems.extend(self._input_problems(now, flowing))
                for p in self.pairings:
                    found = self._pairing_problem(p, now)
                    if found:
                        problems.append(found)
            output = self._output_status(now, bool(seen), problems)
            if output.level > OK:
                problems.append((output.level, f"{self.output_name}: {output.message}"))
            problems.sort(key=lambda lp: -lp[0])
            level = max((lvl for lvl, _ in problems), default=OK)
            people = self._people(now)
            if problems:
                message = "; ".join(m for _, m in problems)
            elif output.message.startswith("idle"):
                message = output.message
            else:
                message = f"{self.outputs.rate(now):.1f} fps, {people} people"
            return HealthReport(level, message, tuple(m for _, m in problems), tuple(inputs), output, people)

    def _input_problems(self, now: float, flowing: list[str]) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        first = self.first_input if self.first_input is not None else now
        ref = flowing[0]
        ref_rate = self.arrivals[ref].rate(now)
        for name, window in self.arrivals.items():
            level = ERROR if self.required[name] else WARN
            if window.count == 0:
                if now - first <= self.timeout_s:
                    continue  # the others just started: give it the timeout to arrive
                out.append((level, f"no messages on {name} ({ref} arrives at {ref_rate:.1f} Hz)"
                            + (": nothing can be processed without it" if self.required[name] else "")))
            elif window.silent(now):
                out.append((level, f"{name} silent for {window.age(now):.1f} s (was "
                                   f"{window.usual_rate():.1f} Hz)"))
            elif window.rate(now) < self.bounds.lowest:
                out.append((WARN, f"{name} at {window.rate(now):.2f} Hz, below the expected "
                                  f"{self.bounds.lowest:.2f} Hz"))
        return out

    def _output_status(self, now: float, any_input: bool, problems: list[tuple[int, str]]) -> TopicStatus:
        level, message, values = self.outputs.status(now, self.bounds)
        if level == ERROR:
            busy = None if self.busy_since is None else now - self.busy_since
            if not any_input:
                level, message = WARN, "waiting for input"
            elif self.last_idle is not None and now - self.last_idle <= self.outputs.silence_after():
                level, message = OK, "idle: nothing subscribes to the outputs"
            elif busy is not None:  # slow (a first frame warming the model up), or hung once it lasts
                level = WARN if busy <= 10 * self.timeout_s else ERROR
                message += f"; one frame in processing for {busy:.1f} s"
            elif self.outputs.count == 0 and self.first_input is not None and \
                    now - self.first_input <= self.timeout_s:
                level, message = WARN, "waiting for the first synchronised frame"
            elif not problems:
                message += "; inputs arrive but no synchronised frame was processed"
        values["People"] = self._people(now)
        return TopicStatus(self.output_name, level, message, values)

    def _people(self, now: float) -> int:
        """The latest count while it is current: 0 once nothing was published for ``people_hold_s``, or once a
        required input is silent (the frame still in processing then is of the past)."""
        age = self.outputs.age(now)
        if age is None or age > self.people_hold_s:
            return 0
        if any(self.required[n] and w.silent(now) for n, w in self.arrivals.items()):
            return 0
        return self.last_people
