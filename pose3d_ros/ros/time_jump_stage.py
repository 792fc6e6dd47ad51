"""The inference node's time-jump stage: every input message passes it before the synchronisers see it.

Neither ``message_filters.ApproximateTimeSynchronizer`` nor our fallback handles a jump back in time: the newer
stamps left in the queues evict every new message, so a looping bag or a reset clock stalls the node. This stage
classifies each input stamp with :class:`pose3d_ros.core.time_jumps.TimeJumpDetector`; on a restart it empties the
synchronisers' queues (both libraries keep ``queues``, a list of dicts, guarded by ``lock``) and calls
``on_restart``. It registers on the input filters *before* the synchronisers are built, and message_filters calls
callbacks in registration order, so the flush happens before the synchroniser queues the message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pose3d_ros.core.time_jumps import TimeJump, TimeJumpDetector

__all__ = ["TimeJumpStage", "stamp_seconds"]


def stamp_seconds(msg: Any) -> float:
    """``msg.header.stamp`` in seconds."""
    return float(msg.header.stamp.sec) + 1e-9 * float(msg.header.stamp.nanosec)


class TimeJumpStage:
    """Watch ``inputs`` (message_filters-style filters) for time jumps; flush ``syncs`` when time restarts.

    Parameters
    ----------
    inputs : sequence of filters
        The synchronisers' inputs (anything with ``registerCallback``), in their order.
    on_restart : callable (TimeJump) -> None, optional
        Told about each restart (the node resets the RGB-only fallback and reports it).
    jump_back_s : float
        See :class:`TimeJumpDetector`.
    """

    def __init__(self, inputs: Sequence[Any], on_restart: Callable[[TimeJump], None] | None = None,
                 jump_back_s: float = 1.0) -> None:
        self.detectors = [TimeJumpDetector(jump_back_s=jump_back_s) for _ in inputs]
        self.syncs: list[Any] = []
        self.on_restart = on_restart
        self.restarts = 0
        for i, f in enumerate(inputs):
            f.registerCallback(self._observe, i)

    def attach(self, *syncs: Any) -> None:
        """The synchronisers whose queues a restart empties (built after this stage)."""
        self.syncs.extend(syncs)

    def _observe(self, msg: Any, index: int) -> None:
        t = stamp_seconds(msg)
        jump = self.detectors[index].observe(t)
        if not jump.restarts:
            return
        self.restarts += 1
        for detector in self.detectors:
            detector.reset()
        self.detectors[index].observe(t)
        for sync in self.syncs:
            with sync.lock:
                for q in sync.queues:
                    q.clear()
        if self.on_restart is not None:
            self.on_restart(jump)
