"""Tests of the prior-based 2D -> 3D lifting."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.lifting import DEFAULT_ANATOMICAL, PoseLifter
from pose3d_ros.core.prior import PosePrior, default_prior_path, rotate_y
from pose3d_ros.data.deepmimic import load_mocap_clips

CAM = PinholeCamera.default(640, 480)


@pytest.fixture(scope="module")
def prior() -> PosePrior:
    return PosePrior.load(default_prior_path())


def project(points: np.ndarray) -> np.ndarray:
    return points[..., :2] / points[..., 2:] * [CAM.fx, CAM.fy] + [CAM.cx, CAM.cy]


def prior_poses(prior: PosePrior, n: int, seed: int = 0) -> np.ndarray:
    """Poses drawn from the prior (coefficients at half a standard deviation), turned and placed in front."""
    rng = np.random.default_rng(seed)
    comp = rng.choice(len(prior.weights_), size=n, p=prior.weights_)
    coef = 0.5 * rng.standard_normal((n, prior.variances_.shape[1])) * np.sqrt(prior.variances_[comp])
    y = (prior.means_[comp].reshape(n, -1) + np.einsum("nb,nbd->nd", coef, prior.components_[comp])).reshape(n, 16, 3)
    t = np.stack([rng.uniform(-0.5, 0.5, n), rng.uniform(-0.3, 0.3, n), rng.uniform(2.5, 4.0, n)], -1)
    return rotate_y(y, rng.uniform(-np.pi, np.pi, n)) + t[:, None]


def test_lifting_a_pose_generated_by_the_prior_returns_it(prior):
    x = prior_poses(prior, 20)
    res = PoseLifter(prior, noise_px=0.5, n_iterations=10).lift(project(x), np.ones((20, 16)), CAM)
    assert res.valid.all()
    rel = np.linalg.norm((res.poses - res.poses[:, :1]) - (x - x[:, :1]), axis=-1).mean(1)
    assert np.median(rel) < 0.015  # metres, root-relative shape (K = 24, B = 20: more near-equivalent hypotheses)
    assert rel.max() < 0.1  # a lower leg can stay depth-flipped (same 2D) on a pose in 20
    assert np.median(res.residual) < 0.5
    # absolute distance: size and distance trade off weakly (only through perspective); within 5 %
    assert np.abs(res.poses[:, 0, 2] / x[:, 0, 2] - 1).max() < 0.05


def test_a_depth_mirrored_pose_is_not_preferred(prior):
    # every point moved along its own ray to the depth mirrored about the pelvis plane: identical 2D projection
    x = prior_poses(prior, 30, seed=1)
    tz = x[:, :1, 2:]
    mirrored = x * ((2 * tz - x[..., 2:]) / x[..., 2:])
    res = PoseLifter(prior).lift(project(x), np.ones((30, 16)), CAM)
    to_true = np.linalg.norm(res.poses - x, axis=-1).mean(1)
    to_mirror = np.linalg.norm(res.poses - mirrored, axis=-1).mean(1)
    assert (to_true < to_mirror).mean() >= 0.9
    assert prior.score_samples(x).mean() > prior.score_samples(mirrored).mean()


def test_missing_joints_are_filled_by_the_prior(prior):
    x = prior_poses(prior, 10, seed=2)
    conf = np.ones((10, 16))
    conf[:, [6, 9, 12]] = 0.0  # wrists and an ankle unseen
    pix = project(x)
    pix[:, 6] = np.nan
    res = PoseLifter(prior, noise_px=1.0).lift(pix, conf, CAM)
    assert res.valid.all() and np.isfinite(res.poses).all()
    rel = (res.poses - res.poses[:, :1]) - (x - x[:, :1])
    assert np.median(np.linalg.norm(rel, axis=-1)) < 0.05


def test_too_few_joints_give_an_invalid_nan_pose_not_a_guess(prior):
    x = prior_poses(prior, 3, seed=3)
    conf = np.ones((3, 16))
    conf[1, 3:] = 0.0  # 3 joints only
    conf[2] = 0.0  # nobody
    res = PoseLifter(prior).lift(project(x), conf, CAM)
    assert res.valid.tolist() == [True, False, False]
    assert np.isnan(res.poses[1:]).all() and np.isfinite(res.poses[0]).all()
    assert res.component[1] == -1


def test_people_are_lifted_independently_of_the_batch(prior):
    x = prior_poses(prior, 4, seed=4)
    lifter = PoseLifter(prior)
    together = lifter.lift(project(x), np.ones((4, 16)), CAM).poses
    alone = np.concatenate([lifter.lift(project(x[i : i + 1]), np.ones((1, 16)), CAM).poses for i in range(4)])
    np.testing.assert_allclose(together, alone, atol=1e-9)


def mocap_poses(n: int, seed: int = 0, clip: str = "walk") -> np.ndarray:
    """Real skeletons (a held-out DeepMimic clip: constant bone lengths), turned and placed in front."""
    rng = np.random.default_rng(seed)
    x = load_mocap_clips()[clip][:: max(1, len(load_mocap_clips()[clip]) // n)][:n].astype(np.float64)
    t = np.stack([rng.uniform(-0.5, 0.5, n), rng.uniform(-0.3, 0.3, n), rng.uniform(2.5, 4.0, n)], -1)
    return rotate_y(x - x[:, :1], rng.uniform(-np.pi, np.pi, n)) + t[:, None]


@pytest.mark.parametrize("anatomical", [DEFAULT_ANATOMICAL, None])
def test_joint_depth_fixes_metric_scale_of_a_smaller_body(prior, anatomical):
    x = mocap_poses(10, seed=5)
    root = x[:, :1]
    small = (x - root) * 0.85 + root  # a child-sized body: 2D alone would put it further away
    lifter = PoseLifter(prior, noise_px=1.0, anatomical=anatomical)
    no_depth = lifter.lift(project(small), np.ones((10, 16)), CAM)
    with_depth = lifter.lift(project(small), np.ones((10, 16)), CAM, joint_depth=small[..., 2])
    err_no = np.linalg.norm(no_depth.poses - small, axis=-1).mean()
    err_d = np.linalg.norm(with_depth.poses - small, axis=-1).mean()
    assert err_d < (0.005 if anatomical else 0.03)
    assert err_no > 0.1
    assert np.median(with_depth.scale) == pytest.approx(0.85, abs=0.04)


def test_bad_inputs_raise_clear_errors(prior):
    lifter = PoseLifter(prior)
    with pytest.raises(ValueError, match=r"pixels must be \(P, 16, 2\)"):
        lifter.lift(np.zeros((1, 17, 2)), np.ones((1, 17)), CAM)
    with pytest.raises(ValueError, match="conf must be"):
        lifter.lift(np.zeros((2, 16, 2)), np.ones((1, 16)), CAM)

    class Broken:
        fx, fy, cx, cy = 0.0, 525.0, 320.0, 240.0

    with pytest.raises(ValueError, match="fx, fy > 0"):
        lifter.lift(np.zeros((1, 16, 2)), np.ones((1, 16)), Broken())
    with pytest.raises(ValueError, match="noise_px"):
        PoseLifter(prior, noise_px=-1.0)


def test_nan_and_inf_pixels_count_as_missing(prior):
    x = prior_poses(prior, 2, seed=6)
    pix = project(x)
    pix[0, 5] = np.inf
    pix[1, 0] = np.nan
    res = PoseLifter(prior).lift(pix, np.ones((2, 16)), CAM)
    assert res.valid.all() and np.isfinite(res.poses).all() and np.isfinite(res.residual).all()


def test_zero_negative_and_nan_depths_count_as_unmeasured(prior):
    x = prior_poses(prior, 2, seed=7)
    depth = x[..., 2].copy()
    depth[0, :8] = 0.0
    depth[0, 8:12] = -1.0
    depth[1, :] = np.nan
    lifter = PoseLifter(prior, noise_px=1.0, anatomical=None)  # the subspace lift alone, with and without depth
    res = lifter.lift(project(x), np.ones((2, 16)), CAM, joint_depth=depth)
    assert res.valid.all() and np.isfinite(res.poses).all()
    # person 1 has no usable depth at all: same root-relative shape as the 2D-only lift
    alone = lifter.lift(project(x[1:]), np.ones((1, 16)), CAM)
    rel = lambda p: p - p[:, :1]  # noqa: E731
    assert np.abs(rel(res.poses[1:]) - rel(alone.poses)).max() < 0.05
    with pytest.raises(ValueError, match="joint_depth must be"):
        lifter.lift(project(x), np.ones((2, 16)), CAM, joint_depth=depth[:, :5])


def _held_out_views(n: int = 12, seed: int = 3) -> np.ndarray:
    clip = load_mocap_clips()["walk"].astype(np.float64)[::7][:n]
    rng = np.random.default_rng(seed)
    x = rotate_y(clip - clip[:, :1], rng.uniform(-np.pi, np.pi, len(clip)))
    return x + [0.1, 0.0, 3.2]


def test_a_3d_observation_pulls_the_lift_to_it_and_sets_the_body_size(prior):
    # a body 15 % smaller than the prior's: 2D alone gets its size wrong, a metric 3D observation fixes it
    x = _held_out_views()
    x = (x - x[:, :1]) * 0.85 + x[:, :1]
    lifter = PoseLifter(prior)
    obs = x - x[:, :1] + 0.01 * np.random.default_rng(0).standard_normal(x.shape)
    plain = lifter.lift(project(x), np.ones(x.shape[:2]), CAM).poses
    seen = lifter.lift(project(x), np.ones(x.shape[:2]), CAM, observed_3d=obs).poses

    def rel_err(p):
        return np.linalg.norm((p - p[:, :1]) - (x - x[:, :1]), axis=-1).mean()

    assert rel_err(seen) < 0.5 * rel_err(plain)
    assert rel_err(seen) < 0.03
    size = np.linalg.norm(np.diff(seen[:, [11, 12]], axis=1), axis=-1).mean()  # shin length
    assert size == pytest.approx(np.linalg.norm(x[:, 12] - x[:, 11], axis=-1).mean(), rel=0.05)


def test_nan_observations_change_nothing(prior):
    x = _held_out_views(4)
    lifter = PoseLifter(prior)
    a = lifter.lift(project(x), np.ones(x.shape[:2]), CAM).poses
    b = lifter.lift(project(x), np.ones(x.shape[:2]), CAM, observed_3d=np.full(x.shape, np.nan)).poses
    np.testing.assert_allclose(a, b)


def test_given_bone_lengths_are_what_the_anatomical_step_holds(prior):
    # precise 2D of a body with other proportions: told its bones, the fit keeps them
    x = _held_out_views(6)
    from pose3d_ros.core.skeleton import bone_lengths

    lifter = PoseLifter(prior, precise_2d=True)
    true_bones = bone_lengths(x)
    told = lifter.lift(project(x), np.ones(x.shape[:2]), CAM, bone_lengths=true_bones * 1.1).poses
    got = bone_lengths(told) / bone_lengths(lifter.lift(project(x), np.ones(x.shape[:2]), CAM).poses)
    assert np.median(got[:, 10:]) > 1.04  # legs follow the bones they were told (10 % longer)


def test_bad_observation_and_bone_shapes_raise(prior):
    lifter = PoseLifter(prior)
    pix = project(_held_out_views(2))
    with pytest.raises(ValueError, match="observed_3d"):
        lifter.lift(pix, np.ones((2, 16)), CAM, observed_3d=np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="bone_lengths"):
        lifter.lift(pix, np.ones((2, 16)), CAM, bone_lengths=np.ones((2, 3)))
