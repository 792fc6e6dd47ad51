"""The time-jump stage and our fallback synchroniser against upstream ros2/message_filters (test/upstream/).

Both libraries get the same message sequences; they must emit the same sets, and with the stage a jump back in
time (a looping bag) must not stall either of them. Without the stage upstream stalls — the test would notice.
"""

from __future__ import annotations

import importlib.util
import sys
from types import SimpleNamespace

import pytest
from conftest import REPO

pytest.importorskip("rclpy")

from builtin_interfaces.msg import Time  # noqa: E402

from pose3d_ros.ros.compat import message_filters as compat  # noqa: E402
from pose3d_ros.ros.time_jump_stage import TimeJumpStage  # noqa: E402


def _upstream():
    spec = importlib.util.spec_from_file_location("upstream_message_filters",
                                                  REPO / "test/upstream/message_filters/__init__.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["upstream_message_filters"] = mod
    spec.loader.exec_module(mod)
    return mod


LIBRARIES = {"compat": compat, "upstream": _upstream()}


def msg(t: float, tag: str) -> SimpleNamespace:
    sec = int(t // 1)
    return SimpleNamespace(header=SimpleNamespace(stamp=Time(sec=sec, nanosec=int(round((t - sec) * 1e9)))), tag=tag)


def run(lib, events, with_stage: bool, slop: float = 0.05, queue: int = 5):
    a, b = lib.SimpleFilter(), lib.SimpleFilter()
    stage = TimeJumpStage([a, b]) if with_stage else None
    sync = lib.ApproximateTimeSynchronizer([a, b], queue, slop)
    if stage is not None:
        stage.attach(sync)
    out: list = []
    sync.registerCallback(lambda x, y: out.append((x.tag, y.tag)))
    for which, t in events:
        (a if which == "a" else b).signalMessage(msg(t, f"{which}{t:g}"))
    return out, stage


def looping_bag(loops: int = 2, frames: int = 60, lag: int = 3) -> list:
    """A 2 s, 30 fps recording played ``loops`` times: input ``a`` arrives ``lag`` frames after ``b`` (a slow
    stream) and every other ``a`` is lost (best effort), so ``b`` leftovers fill its queue."""
    ev = []
    for _ in range(loops):
        for i in range(frames + lag):
            if i < frames:
                ev.append(("b", 100.0 + i / 30 + 0.004))
            j = i - lag
            if 0 <= j < frames and j % 2:
                ev.append(("a", 100.0 + j / 30))
    return ev


@pytest.mark.parametrize("lib", sorted(LIBRARIES))
def test_a_looping_bag_stalls_without_the_stage(lib):
    out, _ = run(LIBRARIES[lib], looping_bag(), with_stage=False)
    assert len(out) < 60  # the first loop's newer stamps evict the second loop's messages: a stall


@pytest.mark.parametrize("lib", sorted(LIBRARIES))
def test_the_stage_restarts_both_libraries_on_a_jump_back(lib):
    out, stage = run(LIBRARIES[lib], looping_bag(), with_stage=True)
    assert len(out) == 60 and stage.restarts == 1
    assert out[30] == ("a100.033", "b100.037")  # the second loop starts at its first set


@pytest.mark.parametrize("events,slop", [
    (looping_bag(1), 0.05),
    ([("a", 1.0), ("b", 1.03), ("a", 1.1), ("b", 1.2), ("b", 1.101)], 0.05),
    ([("a", 1.0), ("b", 1.05)], 0.05),  # spread == slop: upstream requires strictly less
    ([("a", 1.0), ("b", 1.0)], 0.0),  # slop 0 never pairs upstream
    ([("a", t / 10) for t in range(10)] + [("b", 0.05)], 0.1),  # queue overflow: oldest evicted
])
def test_compat_emits_what_upstream_emits(events, slop):
    got = {name: run(lib, events, with_stage=False, slop=slop)[0] for name, lib in LIBRARIES.items()}
    assert got["compat"] == got["upstream"]


def test_late_messages_do_not_restart():
    ev = [("a", 10.0), ("b", 10.0), ("a", 10.2), ("b", 9.8), ("b", 10.2)]
    out, stage = run(compat, ev, with_stage=True)
    assert stage.restarts == 0 and len(out) == 2
