"""``/diagnostics`` publishing for the nodes: a summary status per node, OK/WARN/ERROR with key/value timings, and
diagnostic_updater-style topic statuses (``<node>: <topic> topic status``, frequency values) next to it.

Like diagnostic_updater (not on PyPI) reduced to what the nodes need: a timer calls ``status_fn`` and publishes
the returned ``(level, message, values)``, after the ``(name, level, message, values)`` statuses of ``extra_fn``
(so the summary is the last status of each array); problems reported between ticks with :meth:`report` are kept
until they age out, so a single bad frame shows up as WARN for ``hold`` seconds. :meth:`problem` also logs, once per
kind every ``log_throttle_s``. All statuses carry ``hardware_id`` (the camera).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

__all__ = ["OK", "WARN", "ERROR", "STALE", "DiagnosticsReporter", "StatusTuple"]

OK, WARN, ERROR, STALE = 0, 1, 2, 3
#: (name suffix, level, message, values) of one extra status
StatusTuple = tuple[str, int, str, dict]


def _level_byte(level: int) -> bytes:
    return bytes([int(level)])


class DiagnosticsReporter:
    """Publish a ``DiagnosticArray`` every ``period`` seconds for ``name``.

    Parameters
    ----------
    node : rclpy.node.Node
        Node that owns the publisher and timer (passed in, not subclassed).
    name, hardware_id : str
        ``DiagnosticStatus.name`` / ``hardware_id``.
    status_fn : callable () -> (level, message, dict)
        Current health from the node.
    period : float
        Seconds between messages (> 0).
    hold : float
        Seconds a reported problem keeps the status at its level.
    extra_fn : callable () -> list of StatusTuple, optional
        Further statuses (topic frequencies), named ``<node>: <suffix>``, published before the summary.
    log_throttle_s : float
        Seconds between repeated log lines of one kind of :meth:`problem`.
    """

    def __init__(self, node: Any, name: str, hardware_id: str, status_fn: Callable[[], tuple[int, str, dict]],
                 period: float = 1.0, hold: float = 3.0, extra_fn: Callable[[], list[StatusTuple]] | None = None,
                 log_throttle_s: float = 5.0) -> None:
        if period <= 0:
            raise ValueError(f"diagnostics period must be > 0 s, got {period}")
        self.node, self.name, self.hardware_id = node, name, hardware_id
        self.status_fn = status_fn
        self.extra_fn = extra_fn
        self.hold = hold
        self.log_throttle_s = float(log_throttle_s)
        self._log_times: dict[str, float] = {}
        self._lock = threading.Lock()
        self._problems: dict[str, tuple[int, float]] = {}  # key -> (level, time)
        self._messages: dict[str, str] = {}  # key -> latest message
        self.counts: dict[str, int] = {}
        self.pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.timer = node.create_timer(period, self.publish)

    def report(self, level: int, message: str, key: str | None = None) -> None:
        """Record a problem (``key`` groups repeats of one kind, counted in the published values)."""
        k = key or message
        with self._lock:
            self._problems[k] = (level, time.monotonic())
            self._messages[k] = message
            self.counts[k] = self.counts.get(k, 0) + 1

    def problem(self, key: str, message: str, level: int = WARN) -> None:
        """:meth:`report`, and one log line per ``key`` every ``log_throttle_s`` (with the repeat count)."""
        self.report(level, message, key)
        now = time.monotonic()
        with self._lock:
            if now - self._log_times.get(key, -1e18) < self.log_throttle_s:
                return
            self._log_times[key] = now
            n = self.counts.get(key, 1)
        text = f"{message} (seen {n}x; repeats muted for {self.log_throttle_s:.0f} s)"
        if level >= ERROR:  # rclpy fixes a severity per call site: one call per level
            self.node.get_logger().error(text)
        else:
            self.node.get_logger().warning(text)

    def current(self) -> tuple[int, str, dict]:
        level, message, values = self.status_fn()
        now = time.monotonic()
        with self._lock:
            msgs = self._messages
            for k, (lvl, t) in list(self._problems.items()):
                if now - t > self.hold:
                    del self._problems[k]
                    continue
                if lvl > level:
                    level, message = lvl, msgs.get(k, k)
                elif lvl == level and lvl > OK:
                    message = f"{message}; {msgs.get(k, k)}"
            values = dict(values)
            for k, n in self.counts.items():
                values[f"count: {k}"] = n
        return level, message, values

    def _status(self, name: str, level: int, message: str, values: dict) -> DiagnosticStatus:
        st = DiagnosticStatus(level=_level_byte(level), name=name, message=message[:500],
                              hardware_id=self.hardware_id)
        st.values = [KeyValue(key=str(k), value=(f"{v:.3f}" if isinstance(v, float) else str(v)))
                     for k, v in values.items()]
        return st

    def publish(self) -> None:
        statuses = []
        try:
            prefix = self.node.get_name()
            for suffix, lvl, msg, vals in (self.extra_fn() if self.extra_fn is not None else []):
                statuses.append(self._status(f"{prefix}: {suffix}", lvl, msg, vals))
        except Exception as exc:  # noqa: BLE001 - a status bug must not take the node down with it
            statuses = [self._status(f"{self.name} topics", ERROR, f"status unavailable: {type(exc).__name__}: "
                                     f"{exc}", {})]
        try:
            level, message, values = self.current()
        except Exception as exc:  # noqa: BLE001
            level, message, values = ERROR, f"status unavailable: {type(exc).__name__}: {exc}", {}
        statuses.append(self._status(self.name, level, message, values))
        arr = DiagnosticArray(status=statuses)
        arr.header.stamp = self.node.get_clock().now().to_msg()
        self.pub.publish(arr)
