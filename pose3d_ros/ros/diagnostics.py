"""``/diagnostics`` publishing for the nodes: one status per node, OK/WARN/ERROR with key/value timings.

Like diagnostic_updater (not on PyPI) reduced to what the nodes need: a timer calls ``status_fn`` and publishes
the returned ``(level, message, values)``; problems reported between ticks with :meth:`report` are kept until
they age out, so a single bad frame shows up as WARN for ``hold`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

__all__ = ["OK", "WARN", "ERROR", "STALE", "DiagnosticsReporter"]

OK, WARN, ERROR, STALE = 0, 1, 2, 3


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
    """

    def __init__(self, node: Any, name: str, hardware_id: str, status_fn: Callable[[], tuple[int, str, dict]],
                 period: float = 1.0, hold: float = 3.0) -> None:
        if period <= 0:
            raise ValueError(f"diagnostics period must be > 0 s, got {period}")
        self.node, self.name, self.hardware_id = node, name, hardware_id
        self.status_fn = status_fn
        self.hold = hold
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

    def publish(self) -> None:
        try:
            level, message, values = self.current()
        except Exception as exc:  # noqa: BLE001 - a status bug must not take the node down with it
            level, message, values = 2, f"status unavailable: {type(exc).__name__}: {exc}", {}
        st = DiagnosticStatus(level=_level_byte(level), name=self.name, message=message[:500],
                              hardware_id=self.hardware_id)
        st.values = [KeyValue(key=str(k), value=(f"{v:.3f}" if isinstance(v, float) else str(v)))
                     for k, v in values.items()]
        arr = DiagnosticArray(status=[st])
        arr.header.stamp = self.node.get_clock().now().to_msg()
        self.pub.publish(arr)
