"""Tests of the previous-pose matching that gives the lift its temporal continuity."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.core.temporal import PreviousPoses


def _person(x0: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pix = np.stack([x0 + rng.uniform(-20, 20, 16), np.linspace(100, 400, 16)], -1)
    pose = rng.normal(size=(16, 3)) + [0.0, 0.0, 3.0]
    return pix, pose


def test_each_person_gets_its_own_previous_pose_root_relative():
    (pa, qa), (pb, qb) = _person(100, 1), _person(500, 2)
    prev = PreviousPoses()
    prev.remember(np.stack([pa, pb]), np.stack([qa, qb]))
    got = prev.match(np.stack([pb + 3.0, pa - 2.0]))  # order swapped, moved a little
    np.testing.assert_allclose(got[0], qb - qb[0])
    np.testing.assert_allclose(got[1], qa - qa[0])


def test_a_new_person_far_from_everyone_gets_none():
    (pa, qa), (pb, _) = _person(100, 1), _person(500, 2)
    prev = PreviousPoses()
    prev.remember(pa[None], qa[None])
    got = prev.match(np.stack([pa, pb]))
    assert np.isfinite(got[0]).all() and np.isnan(got[1]).all()
    assert prev.match(pb[None]) is None  # nobody matches at all


def test_one_previous_person_is_used_once_and_reset_forgets():
    pa, qa = _person(100, 1)
    prev = PreviousPoses()
    prev.remember(pa[None], qa[None])
    got = prev.match(np.stack([pa + 1.0, pa + 2.0]))
    assert np.isfinite(got[0]).all() and np.isnan(got[1]).all()  # the nearer one wins
    prev.reset()
    assert prev.match(pa[None]) is None


def test_invalid_poses_are_not_remembered_and_bad_settings_raise():
    pa, qa = _person(100, 1)
    prev = PreviousPoses()
    prev.remember(pa[None], np.full((1, 16, 3), np.nan))
    assert prev.match(pa[None]) is None
    with pytest.raises(ValueError):
        PreviousPoses(max_frac=0.0)


def test_bone_estimates_follow_depth_measured_poses_of_the_same_person():
    from pose3d_ros.core.skeleton import bone_lengths

    pa, qa = _person(100, 1)
    prev = PreviousPoses(bone_rate=0.5)
    assert prev.match(pa[None]) is None and prev.bones() is None
    prev.remember(pa[None], qa[None], np.ones((1, 16), bool))  # a measured pose: its bones are the estimate
    prev.match(pa[None] + 1.0)
    np.testing.assert_allclose(prev.bones()[0], bone_lengths(qa))
    longer = qa[0] + 1.2 * (qa - qa[0])  # every bone 20 % longer
    prev.remember(pa[None] + 1.0, longer[None], np.ones((1, 16), bool))
    prev.match(pa[None])
    np.testing.assert_allclose(prev.bones()[0], 1.1 * bone_lengths(qa))  # half-way (bone_rate 0.5)
    prev.remember(pa[None], qa[None], np.zeros((1, 16), bool))  # unmeasured: the estimate is kept
    prev.match(pa[None])
    np.testing.assert_allclose(prev.bones()[0], 1.1 * bone_lengths(qa))


def test_bone_estimates_stay_human_when_the_measured_poses_keep_growing():
    """A lift that used the estimate measures it again: a growing error must not feed itself without bound."""
    from pose3d_ros.core.skeleton import bone_lengths
    from pose3d_ros.core.temporal import BODY_RANGE, BONE_RANGE

    pa, qa = _person(100, 2)
    mean = bone_lengths(qa)
    prev = PreviousPoses(bone_rate=0.5, mean_bones=mean)
    pose = qa
    for _ in range(40):
        prev.match(pa[None])
        prev.remember(pa[None], pose[None], np.ones((1, 16), bool))
        pose = pose[0] + 1.15 * (pose - pose[0])  # each frame's pose 15 % bigger than the last
    prev.match(pa[None])
    bones = prev.bones()[0]
    assert (bones <= BONE_RANGE[1] * mean + 1e-9).all()
    assert bones.sum() <= BODY_RANGE[1] * mean.sum() + 1e-9


def test_only_bones_measured_at_both_ends_update_the_estimate():
    from pose3d_ros.core.skeleton import bone_lengths

    pa, qa = _person(100, 3)
    prev = PreviousPoses(bone_rate=1.0)
    prev.remember(pa[None], qa[None], np.ones((1, 16), bool))
    measured = np.ones((1, 16), bool)
    measured[0, 15] = False  # the right ankle has no depth: the right shin (bone 14) keeps its estimate
    prev.match(pa[None])
    prev.remember(pa[None], (qa[0] + 1.3 * (qa - qa[0]))[None], measured)
    prev.match(pa[None])
    bones = prev.bones()[0]
    np.testing.assert_allclose(bones[14], bone_lengths(qa)[14])
    np.testing.assert_allclose(bones[:14], 1.3 * bone_lengths(qa)[:14])
