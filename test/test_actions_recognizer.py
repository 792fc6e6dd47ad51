"""Per-track recognition, debouncing and events (pose3d_ros.actions.recognizer)."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.actions.classifier import ActionClassifier, ModelFormatError
from pose3d_ros.actions.recognizer import ActionRecognizer, Debouncer, RecognizerConfig
from pose3d_ros.core.tracking import Track
from pose3d_ros.data.deepmimic import load_mocap_clips, load_mocap_fps
from pose3d_ros.sim.gestures import make_sequence


def real_track(tid: int, pose: np.ndarray, misses: int = 0) -> Track:
    """A real :class:`Track` (what the recogniser gets from the tracker) with the given id and pose."""
    pose = np.asarray(pose, dtype=np.float64)
    return Track(id=tid, pose=pose, pixels=np.full((len(pose), 2), np.nan), conf=np.ones(len(pose)), misses=misses,
                 raw_pose=pose)


def _run(rec, seq, tid=1):
    events, labels = [], []
    for t, p in zip(seq.times, seq.poses, strict=True):
        lab, ev = rec.update([real_track(tid, p)], float(t))
        events += ev
        labels.append(lab[tid][0])
    return events, labels


@pytest.fixture(scope="module")
def gestures_only():
    return ActionRecognizer({"classifier": False})


def test_wave_gives_one_event_within_half_a_second(gestures_only):
    gestures_only.reset()
    seq = make_sequence("wave", side="right", noise_m=0.008, rng=np.random.default_rng(0))
    events, labels = _run(gestures_only, seq)
    assert [e.label for e in events] == ["wave_right"]
    assert 0.0 <= events[0].stamp - seq.performed <= 0.5
    assert events[0].skeleton_id == 1 and events[0].ray_direction is None
    assert "wave_right" in labels and labels[-1] == ""  # released after the arm came down


def test_point_event_carries_the_ray(gestures_only):
    gestures_only.reset()
    seq = make_sequence("point", side="left", point_dir=[0.9, 0.1, -0.4])
    events, _ = _run(gestures_only, seq)
    assert [e.label for e in events] == ["point_left"]
    np.testing.assert_allclose(events[0].ray_direction, seq.ray_direction, atol=0.02)
    assert events[0].ray_origin.shape == (3,)


def test_scratching_the_head_gives_no_event(gestures_only):
    gestures_only.reset()
    seq = make_sequence("scratch_head", side="left", noise_m=0.008, rng=np.random.default_rng(1))
    assert _run(gestures_only, seq)[0] == []


def test_changing_ids_gaps_and_nan_joints_give_no_event_and_no_error(gestures_only):
    gestures_only.reset()
    rng = np.random.default_rng(2)
    seq = make_sequence("wave", nan_prob=0.3, rng=rng)
    events = []
    for i, (t, p) in enumerate(zip(seq.times, seq.poses, strict=True)):
        if i % 7 == 6:
            continue  # dropped frame
        tracks = [real_track(1 + i // 5, p), real_track(0, p), real_track(99, np.full((16, 3), np.nan))]
        labels, ev = gestures_only.update(tracks, float(t))
        events += ev
        assert 0 not in labels  # tentative tracks are not reported
    assert events == []


def test_classifier_recognises_a_mocap_action():
    clip = load_mocap_clips()["crawl"]
    fps = load_mocap_fps()["crawl"]
    rec = ActionRecognizer({"gestures": False})
    events = []
    for i, p in enumerate(clip):
        _, ev = rec.update([real_track(5, p)], i / fps)
        events += ev
    assert events and events[0].label == "crawl"


def test_debouncer_ignores_flicker_and_keeps_label_with_hysteresis():
    d = Debouncer(min_confidence=0.6, release_confidence=0.4, min_duration_s=0.3)
    assert not d.step({"a": 0.9}, 0.0)
    assert not d.step({"a": 0.9}, 0.2)
    assert not d.step({"b": 0.9}, 0.25)  # flicker: pending restarts
    assert not d.step({"a": 0.9}, 0.3)
    assert d.step({"a": 0.9}, 0.6) and d.current == "a"
    assert not d.step({"a": 0.5}, 0.7) and d.current == "a"  # between release and start threshold: kept
    assert not d.step({"a": 0.3}, 0.8) and d.current == ""
    assert not d.step({"a": 0.9}, 0.9)
    assert d.step({"a": 0.9}, 1.2)  # a new start is a new event


def test_config_errors():
    with pytest.raises(ValueError, match="min_confidnce"):
        RecognizerConfig.from_dict({"min_confidnce": 0.5})
    with pytest.raises(ValueError, match="release_confidence"):
        RecognizerConfig.from_dict({"release_confidence": 0.9, "min_confidence": 0.5})


def test_model_for_another_layout_fails_at_construction(tmp_path):
    m = ActionClassifier.init(["a", "b"], 96, channels=4)
    m.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as z:
        d = dict(z)
    d["layout"] = np.array("kinect_v2_25")
    np.savez(tmp_path / "k.npz", **d)
    with pytest.raises(ModelFormatError, match="kinect_v2_25"):
        ActionRecognizer({"model_path": str(tmp_path / "k.npz")})


def test_wave_through_the_real_tracker():
    from pose3d_ros.core.camera import PinholeCamera
    from pose3d_ros.core.tracking import Tracker

    cam = PinholeCamera.default(640, 480)
    tracker = Tracker()
    rec = ActionRecognizer({"classifier": False})
    seq = make_sequence("wave", side="left", noise_m=0.005, rng=np.random.default_rng(8))
    events = []
    for t, p in zip(seq.times, seq.poses, strict=True):
        tracks = tracker.update(p[None], cam.project(p)[None], np.ones((1, 16)), float(t))
        events += rec.update(tracks, float(t))[1]
    assert [e.label for e in events] == ["wave_left"]
    assert events[0].stamp - seq.performed <= 0.5
