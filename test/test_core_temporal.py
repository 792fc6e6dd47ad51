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
    from pose3d_ros.core.prior import bone_lengths

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
