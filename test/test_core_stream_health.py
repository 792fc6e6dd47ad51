"""Stream health (core.stream_health) with a fake clock: every way the node can publish nothing is named."""

from __future__ import annotations

import math

import pytest

from pose3d_ros.core.frame_stats import FrameStats
from pose3d_ros.core.stream_health import ERROR, OK, WARN, FrequencyWindow, Pairing, RateBounds, StreamHealth

COLOR, INFO, DEPTH = "/camera/color/image_raw", "/camera/color/camera_info", "/camera/depth_registered/image_raw"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, slop: float = 0.05) -> StreamHealth:
    return StreamHealth([(COLOR, True), (INFO, True), (DEPTH, False)],
                        [Pairing("rgb", (COLOR, INFO), slop), Pairing("rgbd", (COLOR, INFO, DEPTH), slop, False)],
                        output="/camera/skeletons", timeout_s=1.0, bounds=RateBounds(1.0, 120.0), clock=clock)


def run(h: StreamHealth, clock: Clock, seconds: float, rate: float = 10.0, topics=(COLOR, INFO, DEPTH),
        offsets=None, pair: bool = True, publish: bool = True, people: int = 2) -> None:
    """Feed ``seconds`` of a stream at ``rate``: arrivals, pairings and outputs as the node makes them."""
    offsets = offsets or {}
    for _ in range(int(round(seconds * rate))):
        clock.t += 1.0 / rate
        stamp = clock.t - 1000.0
        for t in topics:
            h.arrived(t, stamp + offsets.get(t, 0.0))
        if pair:
            h.paired("rgb")
            h.paired("rgbd")
        if publish:
            h.published(people)


def test_a_healthy_stream_is_ok_with_rates(clock):
    h = make(clock)
    run(h, clock, 3.0)
    r = h.evaluate()
    assert r.level == OK and r.problems == () and r.people == 2
    assert r.message.endswith(" fps, 2 people") and float(r.message.split()[0]) == pytest.approx(10.0, rel=0.06)
    color = next(t for t in r.inputs if t.topic == COLOR)
    assert color.level == OK and color.values["Actual frequency (Hz)"] == pytest.approx(10.0, rel=0.05)
    assert color.values["Minimum acceptable frequency (Hz)"] == 0.9
    assert color.values["Maximum acceptable frequency (Hz)"] == 132.0
    assert r.output.level == OK and r.output.values["People"] == 2


def test_nothing_received_is_waiting_then_warns(clock):
    h = make(clock)
    assert h.evaluate().level == WARN  # startup: the output is waiting
    clock.t += 2.0
    r = h.evaluate()
    assert r.level == WARN and "no input" in r.message and COLOR in r.message
    assert all(t.level >= WARN for t in r.inputs)


def test_camera_info_never_arrives(clock):
    h = make(clock)
    run(h, clock, 2.0, topics=(COLOR, DEPTH), pair=False, publish=False)
    r = h.evaluate()
    assert r.level == ERROR
    assert f"no messages on {INFO}" in r.message and "nothing can be processed" in r.message
    assert next(t for t in r.inputs if t.topic == INFO).level == ERROR
    assert "/camera/skeletons" in r.message  # and the output says it is silent
    assert r.people == 0


def test_depth_never_arrives_is_a_warning_only(clock):
    h = make(clock)
    run(h, clock, 2.0, topics=(COLOR, INFO))  # the node processes RGB-only and publishes
    r = h.evaluate()
    assert r.level == WARN and f"no messages on {DEPTH}" in r.message
    assert next(t for t in r.inputs if t.topic == DEPTH).level == WARN


@pytest.mark.parametrize("offset,side", [(-0.5, "behind"), (0.5, "ahead of")])
def test_stamps_that_never_pair_name_the_offset(clock, offset, side):
    h = make(clock)
    for _ in range(20):  # colour + info pair; depth is `offset` s off and never pairs; nothing is published
        clock.t += 0.1
        s = clock.t - 1000.0
        h.arrived(COLOR, s)
        h.arrived(INFO, s)
        h.arrived(DEPTH, s + offset)
        h.paired("rgb")
    r = h.evaluate()
    assert r.level == ERROR  # nothing published
    text = next(p for p in r.problems if "never paired" in p)
    assert f"{DEPTH} stamps are 0.500 s {side} {COLOR}" in text and "0.05 s slop" in text


def test_colour_and_info_that_never_pair_are_an_error(clock):
    h = make(clock)
    run(h, clock, 2.0, topics=(COLOR, INFO, DEPTH), offsets={INFO: 0.2}, pair=False, publish=False)
    r = h.evaluate()
    msg = next(p for p in r.problems if p.startswith(f"{COLOR} + {INFO} never paired"))
    assert "0.200 s ahead of" in msg and r.level == ERROR


def test_colour_stops(clock):
    h = make(clock)
    run(h, clock, 2.0)
    run(h, clock, 2.0, topics=(INFO, DEPTH), pair=False, publish=False)
    r = h.evaluate()
    assert r.level == ERROR
    assert f"{COLOR} silent for 2.0 s (was 10.0 Hz)" in r.message
    assert next(t for t in r.inputs if t.topic == COLOR).message.startswith("No events recorded for 2.0 s")
    assert r.people == 0 and "2 people" not in r.message  # not the stale count


def test_all_streams_stop(clock):
    """The driver was killed or frozen: everything falls silent at once."""
    h = make(clock)
    run(h, clock, 2.0)
    clock.t += 1.5
    r = h.evaluate()
    assert r.level == ERROR and "all inputs silent for 1.5 s" in r.message
    assert r.people == 0 and h.people() == 0 and h.fps() == 0.0


def test_silence_is_reported_within_the_timeout_not_before(clock):
    h = make(clock)
    run(h, clock, 2.0)
    clock.t += 0.9
    assert h.evaluate().level == OK
    clock.t += 0.2
    assert h.evaluate().level == ERROR


def test_a_slow_stream_is_not_called_silent_between_frames(clock):
    """At 0.5 Hz a 1.5 s gap is normal (2.5 intervals = 5 s), only the rate is too low."""
    h = make(clock)
    run(h, clock, 10.0, rate=0.5)
    clock.t += 1.5
    r = h.evaluate()
    assert "silent" not in r.message and r.level == WARN and "below the expected" in r.message


def test_the_people_count_goes_to_zero(clock):
    h = make(clock)
    run(h, clock, 1.0, people=3)
    assert h.people() == 3
    clock.t += 1.1
    assert h.people() == 0


def test_the_people_count_of_a_frame_finished_after_colour_stopped_is_not_current(clock):
    h = make(clock)
    run(h, clock, 2.0, people=3)
    run(h, clock, 1.2, topics=(INFO, DEPTH), pair=False, publish=False)
    h.published(3)  # the frame that was in processing when colour stopped
    r = h.evaluate()
    assert r.people == 0 and h.people() == 0 and "silent" in r.message


def test_idle_without_subscribers_is_ok(clock):
    h = make(clock)
    for _ in range(20):
        clock.t += 0.1
        for t in (COLOR, INFO, DEPTH):
            h.arrived(t, clock.t)
        h.paired("rgb")
        h.paired("rgbd")
        h.idle()
    r = h.evaluate()
    assert r.level == OK and r.output.message.startswith("idle") and r.message.startswith("idle")


def test_a_frame_stuck_in_processing_is_named(clock):
    h = make(clock)
    run(h, clock, 1.0)
    h.begin_frame()
    run(h, clock, 2.0, publish=False)
    r = h.evaluate()
    assert r.level == WARN and "one frame in processing for 2.0 s" in r.message  # slow
    run(h, clock, 10.0, publish=False)
    r = h.evaluate()
    assert r.output.level == ERROR and "one frame in processing for 12.0 s" in r.message  # hung


def test_restart_clears_everything(clock):
    h = make(clock)
    run(h, clock, 2.0)
    h.start()
    r = h.evaluate()
    assert r.people == 0 and all(t.values["Events since startup"] == 0 for t in r.inputs)


def test_forget_stamps_after_a_time_jump(clock):
    h = make(clock)
    run(h, clock, 1.0, offsets={DEPTH: 0.5}, pair=False)
    h.forget_stamps()
    assert h.stamp_offset(COLOR, DEPTH) is None


# -- building blocks -----------------------------------------------------------------------------------------------
def test_frequency_window_follows_diagnostic_updater():
    w = FrequencyWindow(window_s=2.0, timeout_s=1.0)
    w.reset(0.0)
    assert w.status(0.5, RateBounds(5.0))[0] == WARN  # waiting for the first event
    assert w.status(1.5, RateBounds(5.0))[1].startswith("No events recorded")
    for k in range(1, 21):
        w.tick(k * 0.1)
    level, message, values = w.status(2.0, RateBounds(5.0, 8.0))
    assert level == WARN and message.startswith("Frequency too high") and values["Events in window"] == 20
    assert w.status(2.0, RateBounds(5.0, 10.0))[0] == OK
    assert w.status(2.0, RateBounds(20.0, 30.0))[1].startswith("Frequency too low")
    assert w.status(2.0, RateBounds(10.0, 10.0))[2]["Target frequency (Hz)"] == 10.0


@pytest.mark.parametrize("kwargs", [{"min_hz": -1.0}, {"min_hz": 5.0, "max_hz": 1.0}, {"tolerance": 1.0},
                                    {"min_hz": math.nan}])
def test_rate_bounds_are_checked(kwargs):
    with pytest.raises(ValueError, match="rate bounds"):
        RateBounds(**kwargs)


def test_pairings_must_name_known_inputs(clock):
    with pytest.raises(ValueError, match="unknown"):
        StreamHealth([(COLOR, True)], [Pairing("x", (COLOR, "nope"), 0.05)], clock=clock)


def test_frame_stats_percentiles():
    st = FrameStats(keep=100)
    for k in range(1, 101):
        st.add(processing_ms=float(k), latency_s=k / 1000.0, timings={"lift": 0.5})
    v = st.values()
    assert v["latency_median_ms"] == 50.0 and v["latency_p95_ms"] == 95.0 and v["processing_ms"] == 50.5
    assert v["stage_ms: lift"] == 0.5
    assert FrameStats().values()["latency_p95_ms"] == "n/a"


def test_a_missing_input_gets_the_timeout_after_the_first_message(clock):
    """camera_info one frame behind colour at start-up is no error; still missing after the timeout, it is."""
    h = make(clock)
    run(h, clock, 0.5, topics=(COLOR, DEPTH), pair=False, publish=False)
    assert "no messages" not in h.evaluate().message
    run(h, clock, 0.7, topics=(COLOR, DEPTH), pair=False, publish=False)
    assert f"no messages on {INFO}" in h.evaluate().message


def test_for_camera_without_depth(clock):
    h = StreamHealth.for_camera(COLOR, INFO, None, "/camera/skeletons", 0.05, clock=clock)
    assert list(h.required) == [COLOR, INFO] and [p.name for p in h.pairings] == ["rgb"]
    run(h, clock, 2.0, topics=(COLOR, INFO))
    assert h.evaluate().level == OK
