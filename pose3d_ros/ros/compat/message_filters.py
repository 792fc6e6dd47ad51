"""Subset of ros2/message_filters: ``Subscriber`` and ``ApproximateTimeSynchronizer`` with the same semantics.

The pairing rule is the one of message_filters' Python ``ApproximateTimeSynchronizer``: each input keeps at most
``queue_size`` messages keyed by header stamp; when a message arrives, the closest stamp of every other input that
lies within ``slop`` is tried, and the first set whose spread is strictly below ``slop`` is emitted (oldest dropped
first; so ``slop = 0`` never pairs, as upstream). Like upstream it does nothing about time jumps: after a jump back
the newer stamps left in the queues evict every new message. The inference node's time-jump stage
(:mod:`pose3d_ros.ros.time_jump_stage`) flushes the queues of either library; ``test/test_ros_message_filters.py``
runs both against the same message sequences.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["SimpleFilter", "Subscriber", "ApproximateTimeSynchronizer", "stamp_ns"]


def stamp_ns(msg: Any) -> int:
    """Header stamp of ``msg`` in integer nanoseconds (``builtin_interfaces/Time``)."""
    stamp = msg.header.stamp
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class SimpleFilter:
    """A filter stage: callbacks registered with :meth:`register_callback` receive what :meth:`signal_message` sends."""

    def __init__(self) -> None:
        self.callbacks: dict[int, tuple[Callable[..., None], tuple]] = {}

    def register_callback(self, cb: Callable[..., None], *args: Any) -> int:
        """Register ``cb(*msgs, *args)``; returns a connection id."""
        conn = len(self.callbacks)
        self.callbacks[conn] = (cb, args)
        return conn

    registerCallback = register_callback  # noqa: N815 - message_filters' spelling

    def signal_message(self, *msgs: Any) -> None:
        for cb, args in list(self.callbacks.values()):
            cb(*(msgs + args))

    signalMessage = signal_message  # noqa: N815


class Subscriber(SimpleFilter):
    """A ROS subscription as the first stage of a filter chain (``message_filters.Subscriber``)."""

    def __init__(self, node: Any, msg_type: type, topic: str, qos_profile: Any = 10, **kwargs: Any) -> None:
        super().__init__()
        self.node = node
        self.topic = topic
        self.sub = node.create_subscription(msg_type, topic, self.callback, qos_profile, **kwargs)

    def callback(self, msg: Any) -> None:
        self.signal_message(msg)

    def getTopic(self) -> str:  # noqa: N802
        return self.topic

    def __getattr__(self, name: str) -> Any:
        # like message_filters: unknown attributes are the subscription's
        return getattr(self.__dict__["sub"], name)


class ApproximateTimeSynchronizer(SimpleFilter):
    """Emit tuples of messages (one per input filter) whose header stamps lie within ``slop`` seconds.

    Parameters
    ----------
    fs : list of SimpleFilter
        Input stages (e.g. :class:`Subscriber`), one per message stream.
    queue_size : int
        Messages kept per input while waiting for partners (>= 1).
    slop : float
        Largest stamp spread, in seconds, of a synchronised set (>= 0).
    allow_headerless : bool
        Unsupported here (every input must have a header); kept for signature compatibility.

    Raises
    ------
    ValueError
        On ``queue_size < 1``, negative or non-finite ``slop``, or ``allow_headerless=True``.
    """

    def __init__(self, fs: list, queue_size: int, slop: float, allow_headerless: bool = False) -> None:
        super().__init__()
        if int(queue_size) < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        slop = float(slop)
        if not slop >= 0 or slop == float("inf"):
            raise ValueError(f"slop must be a finite number of seconds >= 0, got {slop}")
        if allow_headerless:
            raise ValueError("allow_headerless=True is not supported by the pose3d_ros fallback synchronizer")
        self.queue_size = int(queue_size)
        self.slop_ns = int(round(slop * 1e9))
        self.lock = threading.Lock()
        self.queues: list[dict[int, Any]] = [{} for _ in fs]
        self.input_connections = [
            f.register_callback(self.add, q, i) for i, (f, q) in enumerate(zip(fs, self.queues, strict=True))
        ]

    def add(self, msg: Any, my_queue: dict[int, Any], my_queue_index: int | None = None) -> None:
        """Queue ``msg`` for input ``my_queue_index`` and emit the first complete set it finishes."""
        stamp = stamp_ns(msg)
        with self.lock:
            my_queue[stamp] = msg
            while len(my_queue) > self.queue_size:
                del my_queue[min(my_queue)]
            others = [q for i, q in enumerate(self.queues) if i != my_queue_index]
            candidates = []
            for queue in others:
                near = sorted((abs(s - stamp), s) for s in queue if abs(s - stamp) <= self.slop_ns)
                if not near:
                    return
                candidates.append([s for _, s in near])
            found = None
            for combo in itertools.product(*candidates):
                stamps = list(combo)
                stamps.insert(my_queue_index if my_queue_index is not None else len(stamps), stamp)
                if max(stamps) - min(stamps) < self.slop_ns:
                    found = stamps
                    break
            if found is None:
                return
            msgs = [q[s] for q, s in zip(self.queues, found, strict=True)]
            for q, s in zip(self.queues, found, strict=True):
                del q[s]
        self.signal_message(*msgs)
