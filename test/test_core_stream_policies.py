"""The node's policies, ROS-free: time jumps, newest-frame hand-over + max_fps, RGB-only fallback, stamps, camera."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from conftest import wait_for

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.camera_policy import CameraPolicy
from pose3d_ros.core.depth_fallback import DepthFallback
from pose3d_ros.core.frame_slot import LatestFrameSlot
from pose3d_ros.core.stamp_check import StampCheck
from pose3d_ros.core.time_jumps import TimeJumpDetector, TimeStep
from pose3d_ros.param_spec import ParamSpec, unknown_names


# -- time jumps ----------------------------------------------------------------------------------------------------
def test_time_steps_are_classified():
    d = TimeJumpDetector(jump_back_s=1.0, gap_s=5.0)
    kinds = [d.observe(t).kind for t in (10.0, 10.1, 10.05, 10.2, 30.0, 2.0, 2.1)]
    assert kinds == [TimeStep.FIRST, TimeStep.NORMAL, TimeStep.OUT_OF_ORDER, TimeStep.NORMAL,
                     TimeStep.JUMP_FORWARD, TimeStep.JUMP_BACK, TimeStep.NORMAL]


def test_a_late_message_does_not_move_the_newest_stamp():
    d = TimeJumpDetector()
    d.observe(5.0)
    assert d.observe(4.5).drop and d.newest == 5.0
    jump = d.observe(3.0)
    assert jump.restarts and d.newest == 3.0 and "jumped back by 2.000 s" in jump.describe()


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_time_jump_thresholds_are_checked(bad):
    with pytest.raises(ValueError, match="jump_back_s"):
        TimeJumpDetector(jump_back_s=bad)
    with pytest.raises(ValueError, match="finite"):
        TimeJumpDetector().observe(float("nan"))


# -- newest-frame slot -----------------------------------------------------------------------------------------------
def test_slot_keeps_only_the_newest_and_counts_drops():
    slot: LatestFrameSlot[int] = LatestFrameSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(timeout=0.1) == 4 and slot.received == 5 and slot.dropped == 4
    assert slot.take(timeout=0.05) is None


def test_max_fps_spaces_the_takes_with_a_fake_clock():
    now = [0.0]
    slot: LatestFrameSlot[str] = LatestFrameSlot(max_fps=2.0, clock=lambda: now[0])
    slot.put("a")
    assert slot.take(timeout=0.0) == "a"
    slot.put("b")
    assert slot.take(timeout=0.0) is None  # 0.5 s have not passed
    now[0] = 0.5
    assert slot.take(timeout=0.0) == "b"


class _FrozenClock:
    """A clock that never advances (only a wake-up can end a throttled wait) and counts the worker's reads."""

    def __init__(self) -> None:
        self.worker_reads = 0
        self._main = threading.get_ident()

    def __call__(self) -> float:
        if threading.get_ident() != self._main:
            self.worker_reads += 1
        return 0.0


def _throttled_worker(clock: _FrozenClock, slot: LatestFrameSlot[str], got: list) -> threading.Thread:
    """Start a worker on a slot whose next take is throttled; return once it waits inside :meth:`take`."""
    worker = threading.Thread(target=lambda: got.append(slot.take(timeout=60.0)), daemon=True)
    worker.start()
    # take() reads the clock for its deadline, then again under the lock, which it only lets go of in its wait:
    # after the second read the main thread's next call on the slot runs while the worker waits
    wait_for(lambda: clock.worker_reads >= 2, 5.0, "the worker to wait in take()", poll=0.005)
    return worker


def test_lowering_max_fps_wakes_a_waiting_worker_at_once():
    clock = _FrozenClock()
    slot: LatestFrameSlot[str] = LatestFrameSlot(max_fps=0.02, clock=clock)  # one frame per 50 s
    slot.put("first")
    assert slot.take(timeout=1.0) == "first"
    slot.put("second")
    got: list = []
    worker = _throttled_worker(clock, slot, got)
    assert not got  # still throttled
    t0 = time.monotonic()
    slot.set_max_fps(0.0)
    worker.join(timeout=5.0)
    assert got == ["second"] and time.monotonic() - t0 < 3.0  # woken, not the 50 s wait timing out


def test_close_ends_a_throttled_wait():
    clock = _FrozenClock()
    slot: LatestFrameSlot[str] = LatestFrameSlot(max_fps=0.02, clock=clock)
    slot.put("x")
    slot.take(timeout=1.0)
    slot.put("y")
    got: list = []
    worker = _throttled_worker(clock, slot, got)
    t0 = time.monotonic()
    slot.close()
    worker.join(timeout=5.0)
    assert got == [None] and time.monotonic() - t0 < 3.0
    slot.reopen()
    slot.put("z")
    assert slot.take(timeout=1.0) == "z"


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_slot_refuses_bad_rates(bad):
    with pytest.raises(ValueError, match="max_fps"):
        LatestFrameSlot(max_fps=bad)


# -- RGB-only fallback ----------------------------------------------------------------------------------------------
def test_no_depth_switches_to_rgb_only_after_the_timeout_of_colour_stamps():
    fb = DepthFallback(timeout_s=1.0)
    decisions = [fb.rgb_only(t) for t in np.arange(0.0, 1.5, 0.1)]
    assert not any(decisions[:10]) and all(decisions[11:])


def test_a_pause_in_a_healthy_stream_keeps_depth():
    """After 3 s without any message, colour arriving just before its depth must not be processed RGB-only."""
    fb = DepthFallback(timeout_s=1.0)
    for t in np.arange(0.0, 1.0, 0.1):
        fb.depth_seen(t)
        assert not fb.rgb_only(t)
    assert not fb.rgb_only(4.0)  # first colour after the pause: depth may be on its way
    fb.depth_seen(4.0)  # ... and it came
    assert fb.missing_since is None and not fb.rgb_only(4.0)


def test_depth_fallback_reset_and_arguments():
    fb = DepthFallback(0.5)
    fb.rgb_only(10.0)
    fb.reset()
    assert not fb.rgb_only(0.0) and fb.rgb_only(0.6)
    with pytest.raises(ValueError):
        DepthFallback(0.0)


# -- stamps ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stamp,now,expect,problem", [
    (100.0, 100.05, 0.05, ""),
    (0.0, 100.0, None, "zero or negative"),
    (-5.0, 100.0, None, "zero or negative"),
    (200.0, 100.0, None, "in the future"),
    (100.0, 1e6, None, ""),  # a replayed bag: old, nothing wrong, only no latency
])
def test_latency_only_from_plausible_stamps(stamp, now, expect, problem):
    check = StampCheck()
    got = check.latency(stamp, now)
    assert (got is None) == (expect is None) and (expect is None or abs(got - expect) < 1e-9)
    assert problem in check.problem and (bool(problem) == bool(check.problem))


# -- camera policy --------------------------------------------------------------------------------------------------
def test_valid_camera_is_used_and_a_binned_one_scaled():
    cam = PinholeCamera(525.0, 525.0, 319.5, 239.5, 640, 480)
    d = CameraPolicy().decide(cam, "", 640, 480)
    assert d.camera == cam and d.metric and not d.problem
    half = CameraPolicy().decide(cam, "", 320, 240)
    assert half.metric and half.camera.width == 320 and abs(half.camera.fx - 262.5) < 1e-9


@pytest.mark.parametrize("cam,why", [
    (PinholeCamera(1.0, 1.0, 319.5, 239.5, 640, 480), "field of view"),
    (PinholeCamera(1e6, 1e6, 319.5, 239.5, 640, 480), "field of view"),
    (PinholeCamera(525.0, 525.0, 5000.0, 239.5, 640, 480), "principal point"),
])
def test_implausible_intrinsics_give_no_metric_3d_and_no_guess(cam, why):
    d = CameraPolicy().decide(cam, "", 640, 480)
    assert not d.metric and why in d.problem and "root-relative" in d.problem
    assert d.camera is not None and d.camera != PinholeCamera.default(640, 480)  # no Kinect v1 guess


def test_fallback_file_is_used_when_camera_info_is_invalid(tmp_path):
    from pose3d_ros.core.camera import save_camera_yaml

    path = tmp_path / "cam.yaml"
    save_camera_yaml(path, PinholeCamera(600.0, 600.0, 320.0, 240.0, 640, 480))
    d = CameraPolicy.from_file(str(path)).decide(None, "K is all zeros", 640, 480)
    assert d.metric and d.camera.fx == 600.0 and "fallback" in d.problem
    with pytest.raises((OSError, ValueError)):
        CameraPolicy.from_file(str(tmp_path / "missing.yaml"))


def test_size_mismatch_skips_the_frame():
    cam = PinholeCamera(525.0, 525.0, 319.5, 199.5, 640, 400)
    d = CameraPolicy().decide(cam, "", 640, 480)
    assert d.camera is None and d.key == "size_mismatch"


def test_root_relative_people_have_the_pelvis_at_the_origin():
    from pose3d_ros.pipeline import PersonResult

    joints = np.random.default_rng(0).normal(size=(16, 3)) + [0, 0, 3]
    p = PersonResult(id=1, joints=joints, pixels=np.zeros((16, 2)), confidence=np.ones(16),
                     measured=np.ones(16, bool))
    (q,) = CameraPolicy.root_relative([p])
    assert np.allclose(q.joints[0], 0) and np.allclose(q.joints - q.joints[0], joints - joints[0])
    assert not q.measured.any()


# -- parameter specs ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec,value,ok", [
    (ParamSpec("slop", 0.05, "", lo=0.0, hi=1.0), 0.5, True),
    (ParamSpec("slop", 0.05, "", lo=0.0, hi=1.0), 5, False),  # an int for a double
    (ParamSpec("slop", 0.05, "", lo=0.0, hi=1.0), -1.0, False),
    (ParamSpec("slop", 0.05, "", lo=0.0, hi=1.0), float("nan"), False),
    (ParamSpec("depth", True, ""), "maybe", False),
    (ParamSpec("n", 5, "", lo=1, hi=100), 0, False),
    (ParamSpec("mode", "a", "", choices=("a", "b")), "garbage", False),
    (ParamSpec("mode", "a", "", choices=("a", "b")), "b", True),
])
def test_param_spec_problems(spec, value, ok):
    problem = spec.problem(value)
    assert (problem is None) == ok
    if not ok:
        assert problem.startswith(f"{spec.name} ({value!r}, expected ")


def test_unknown_parameter_names_get_the_closest_known():
    assert unknown_names(["use_dept", "use_depth", "zzz"], ["use_depth", "sync_slop"]) == [
        ("use_dept", "use_depth"), ("zzz", None)]
