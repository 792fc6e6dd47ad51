"""Tests for pose3d_ros.core.tracking.Tracker."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.tracking import Tracker

CAM = PinholeCamera.default(640, 480)
FPS = 30.0
_TEMPLATE = np.array(
    [
        (0, 0, 0), (0, -0.25, 0), (0, -0.5, 0), (0, -0.7, 0),
        (0.18, -0.5, 0), (0.3, -0.3, 0), (0.35, -0.05, 0), (-0.18, -0.5, 0), (-0.3, -0.3, 0), (-0.35, -0.05, 0),
        (0.1, 0, 0), (0.12, 0.42, 0), (0.12, 0.82, 0), (-0.1, 0, 0), (-0.12, 0.42, 0), (-0.12, 0.82, 0),
    ],
    dtype=float,
)


def _frame(roots):
    """Detections (poses, pixels, conf) of people whose pelvis is at each row of roots."""
    poses = _TEMPLATE[None] + np.asarray(roots, dtype=float)[:, None, :]
    return poses, CAM.project(poses), np.ones(poses.shape[:2])


def _ids_by_detection(tracks):
    return {tr.detection: tr.id for tr in tracks}


def test_birth_after_min_hits_and_stable_id():
    tr = Tracker(min_hits=3)
    outs = [tr.update(*_frame([[0.01 * k, 0, 2.5]]), k / FPS) for k in range(30)]
    assert outs[0] == [] and outs[1] == []
    ids = {t.id for out in outs[2:] for t in out}
    assert ids == {1}


def test_single_frame_false_positive_not_confirmed_and_consumes_no_id():
    tr = Tracker(min_hits=2)
    tr.update(*_frame([[0, 0, 2.5]]), 0.0)
    tr.update(*_frame([[0, 0, 2.5], [1.2, 0, 3.0]]), 1 / FPS)  # ghost appears once
    out = tr.update(*_frame([[0, 0, 2.5]]), 2 / FPS)
    assert [t.id for t in out] == [1]
    out = [tr.update(*_frame([[0, 0, 2.5], [-1.0, 0, 3.0]]), k / FPS) for k in (3, 4)][-1]
    assert sorted(t.id for t in out) == [1, 2]


def test_id_survives_five_frame_occlusion():
    tr = Tracker(min_hits=2, max_age=10)
    k = 0
    for k in range(10):
        out = tr.update(*_frame([[0.02 * k, 0, 2.5]]), k / FPS)
    pid = out[0].id
    for k in range(10, 15):  # occluded: nothing detected, the person keeps walking
        assert tr.update(*_frame(np.zeros((0, 3))), k / FPS) == []
    out = tr.update(*_frame([[0.02 * 15, 0, 2.5]]), 15 / FPS)
    assert [t.id for t in out] == [pid]
    assert len(tr.tracks) == 1


def test_track_dies_after_max_age_and_id_not_reused():
    tr = Tracker(min_hits=1, max_age=3, max_age_s=10.0)
    first = tr.update(*_frame([[0, 0, 2.5]]), 0.0)[0].id
    for k in range(1, 5):
        tr.update(*_frame(np.zeros((0, 3))), k / FPS)
    assert tr.tracks == []
    again = tr.update(*_frame([[0, 0, 2.5]]), 5 / FPS)[0].id
    assert again != first and again > first


def test_track_dies_after_max_age_seconds():
    tr = Tracker(min_hits=1, max_age=100, max_age_s=0.5)
    tr.update(*_frame([[0, 0, 2.5]]), 0.0)
    tr.update(*_frame(np.zeros((0, 3))), 0.6)
    assert tr.tracks == []


@pytest.mark.parametrize("depths", [(2.2, 3.6), (2.6, 3.0)])
def test_crossing_people_keep_their_ids(depths):
    rng = np.random.default_rng(0)
    tr = Tracker(min_hits=2)
    owner = {}
    for k in range(60):
        x = -1.0 + 2.0 * k / 59  # A walks right, B walks left: they overlap in the image mid-way
        roots = np.array([[x, 0, depths[0]], [-x, 0.02, depths[1]]])
        order = rng.permutation(2)
        out = tr.update(*_frame(roots[order]), k / FPS)
        for t in out:
            person = int(order[t.detection])
            owner.setdefault(t.id, person)
            assert owner[t.id] == person, f"id {t.id} swapped at frame {k}"
    assert len(owner) == 2


def test_side_by_side_swap_resisted_with_noise():
    rng = np.random.default_rng(1)
    tr = Tracker(min_hits=2)
    owner = {}
    for k in range(90):
        roots = np.array([[-0.35, 0, 2.5], [0.35, 0, 2.5]]) + rng.normal(0, 0.03, (2, 3))
        poses, pix, conf = _frame(roots)
        pix += rng.normal(0, 3.0, pix.shape)
        order = rng.permutation(2)
        for t in tr.update(poses[order], pix[order], conf[order], k / FPS):
            owner.setdefault(t.id, int(order[t.detection]))
            assert owner[t.id] == int(order[t.detection])
    assert sorted(owner) == [1, 2]


def test_smoothing_reduces_jitter():
    rng = np.random.default_rng(2)
    tr = Tracker(min_hits=1)
    raw, smooth = [], []
    for k in range(120):
        poses, pix, conf = _frame([[0, 0, 2.5]])
        poses = poses + rng.normal(0, 0.01, poses.shape)
        out = tr.update(poses, pix, conf, k / FPS)
        raw.append(poses[0])
        smooth.append(out[0].pose)
    raw, smooth = np.array(raw)[30:], np.array(smooth)[30:]
    assert smooth.std(axis=0).mean() < 0.5 * raw.std(axis=0).mean()


def test_nan_joint_keeps_last_smoothed_value():
    tr = Tracker(min_hits=1)
    poses, pix, conf = _frame([[0, 0, 2.5]])
    tr.update(poses, pix, conf, 0.0)
    poses2 = poses.copy()
    poses2[0, 6] = np.nan
    out = tr.update(poses2, pix, conf, 1 / FPS)
    assert np.isfinite(out[0].pose).all()
    assert_allclose(out[0].pose[6], poses[0, 6])


def test_detection_without_finite_joint_ignored():
    tr = Tracker(min_hits=1)
    out = tr.update(np.full((1, 16, 3), np.nan), np.full((1, 16, 2), np.nan), np.zeros((1, 16)), 0.0)
    assert out == [] and tr.tracks == []


def test_time_backwards_is_refused_and_reset_keeps_ids_counting():
    tr = Tracker(min_hits=1)
    tr.update(*_frame([[0, 0, 2.5]]), 5.0)
    with pytest.raises(ValueError, match="older than the last frame"):
        tr.update(*_frame([[0, 0, 2.5]]), 1.0)
    tr.reset()
    out = tr.update(*_frame([[0, 0, 2.5]]), 1.0)
    assert [t.id for t in out] == [2]  # a new track, never id 1 again


def test_cost_matrix_gates_far_detections():
    tr = Tracker(min_hits=1, gate_3d_m=0.5)
    tr.update(*_frame([[0, 0, 2.5]]), 0.0)
    poses, pix, _ = _frame([[0.1, 0, 2.5], [2.0, 0, 2.5]])
    cost = tr.cost_matrix(poses, pix, 1 / FPS)
    assert cost[0, 0] < 1.0 and cost[0, 1] >= 1e6


@pytest.mark.parametrize(
    ("poses", "pixels", "conf", "match"),
    [
        (np.zeros((1, 16, 2)), np.zeros((1, 16, 2)), np.zeros((1, 16)), "poses"),
        (np.zeros((1, 16, 3)), np.zeros((2, 16, 2)), np.zeros((1, 16)), "pixels"),
        (np.zeros((1, 16, 3)), np.zeros((1, 16, 2)), np.zeros((1, 15)), "conf"),
    ],
)
def test_bad_shapes(poses, pixels, conf, match):
    with pytest.raises(ValueError, match=match):
        Tracker().update(poses, pixels, conf, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"min_hits": 0}, "min_hits"), ({"gate_3d_m": 0.0}, "gate_3d_m"), ({"weight_3d": 0.0, "weight_2d": 0.0}, "both")],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Tracker(**kwargs)



def test_missed_neighbour_does_not_take_the_seen_persons_id():
    rng = np.random.default_rng(3)
    tr = Tracker(min_hits=2)
    ids = {}
    for k in range(40):
        roots = np.array([[-0.3, 0, 2.5], [0.3, 0, 2.5]]) + rng.normal(0, 0.04, (2, 3))
        seen = [0] if 20 <= k < 26 else [0, 1]  # person 1 missed for 6 frames right next to person 0
        out = tr.update(*_frame(roots[seen]), k / FPS)
        for t in out:
            person = seen[t.detection]
            assert ids.setdefault(person, t.id) == t.id, f"person {person} changed id at frame {k}"
    assert ids == {0: 1, 1: 2}


@pytest.mark.parametrize("frac, same_id", [(0.1, True), (0.0, False)])
def test_monocular_depth_jitter_far_away_keeps_the_id(frac, same_id):
    # RGB-only roots jitter along the ray in proportion to the distance: 0.7 m at 5 m between two frames.
    tr = Tracker(min_hits=1, gate_depth_frac=frac)
    first = tr.update(*_frame([[0.0, 0.0, 5.0]]), 0.0)
    second = tr.update(*_frame([[0.0, 0.0, 5.7]]), 1 / FPS)
    assert (first[0].id == second[0].id) == same_id
