"""Tests of the anatomical refinement (bone lengths + full prior covariance + robust depth) and limb mirror images."""

from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.core.bone_refinement import BoneRefinementParams, BoneRefiner
from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.lifting import PoseLifter
from pose3d_ros.core.prior import PosePrior, default_prior_path, rotate_y
from pose3d_ros.core.skeleton import POSE3D16, bone_lengths
from pose3d_ros.data.deepmimic import load_mocap_clips
from pose3d_ros.data.takes import TEST_TAKES

CAM = PinholeCamera.default(640, 480)
HELD_OUT = tuple(n.removeprefix("deepmimic_") for n in TEST_TAKES if n.startswith("deepmimic_"))  # test takes


@pytest.fixture(scope="module")
def prior() -> PosePrior:
    return PosePrior.load(default_prior_path())


def held_out_views(n: int, seed: int = 0) -> np.ndarray:
    """Real held-out skeletons, turned to random headings, 2.5-4 m in front of the camera."""
    rng = np.random.default_rng(seed)
    clips = load_mocap_clips()
    x = np.concatenate([clips[c] for c in HELD_OUT]).astype(np.float64)
    x = x[rng.choice(len(x), n, replace=False)]
    t = np.stack([rng.uniform(-0.4, 0.4, n), rng.uniform(-0.2, 0.2, n), rng.uniform(2.5, 4.0, n)], -1)
    return rotate_y(x - x[:, :1], rng.uniform(-np.pi, np.pi, n)) + t[:, None]


def normalised(points: np.ndarray) -> np.ndarray:
    return points[..., :2] / points[..., 2:]


def mpjpe(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm((a - a[:, :1]) - (b - b[:, :1]), axis=-1).mean())


def lift_state(prior: PosePrior, x: np.ndarray, joint_depth: np.ndarray | None = None):
    """The subspace lift of exact projections (what the refinement starts from)."""
    pix = normalised(x) * [CAM.fx, CAM.fy] + [CAM.cx, CAM.cy]
    return PoseLifter(prior, anatomical=None).lift(pix, np.ones(x.shape[:2]), CAM, joint_depth=joint_depth)


def test_a_real_skeleton_seen_exactly_stays_where_it_is(prior):
    x = held_out_views(12, seed=1)
    res = lift_state(prior, x)
    refiner = BoneRefiner(prior)
    # start at the truth (with the lift's component / rotation): exact rays and bones, nothing should pull it away
    out = refiner.refine(x, res.component, res.rotation, np.ones(len(x)), normalised(x), np.ones((12, 16)),
                         5.0 / CAM.fx, joint_depth=x[..., 2])
    assert np.linalg.norm(out - x, axis=-1).mean() < 0.005


def test_refinement_with_exact_depth_recovers_the_pose_from_the_lift(prior):
    x = held_out_views(12, seed=2)
    res = lift_state(prior, x, x[..., 2])
    out = BoneRefiner(prior).refine(res.poses, res.component, res.rotation, res.scale, normalised(x),
                                    np.ones((12, 16)), 5.0 / CAM.fx, joint_depth=x[..., 2])
    assert mpjpe(out, x) < 0.3 * mpjpe(res.poses, x)
    assert np.linalg.norm(out - x, axis=-1).mean() < 0.02  # metric, camera frame
    # bones come from the depths now (a loose bone term): within a few cm of the truth, 1 cm on average
    np.testing.assert_allclose(bone_lengths(out), bone_lengths(x), atol=0.03)
    assert np.abs(bone_lengths(out) - bone_lengths(x)).mean() < 0.01


def test_a_depth_outlier_does_not_drag_the_pose_and_is_not_marked_measured(prior):
    x = held_out_views(8, seed=3)
    depth = x[..., 2].copy()
    wrist, elbow = POSE3D16.index("left_wrist"), POSE3D16.index("left_elbow")
    depth[:, wrist] += 1.0  # the wrist's pixel saw the wall behind, through a gap
    res = lift_state(prior, x, depth)
    refiner = BoneRefiner(prior)
    out = refiner.refine(res.poses, res.component, res.rotation, res.scale, normalised(x), np.ones((8, 16)),
                         5.0 / CAM.fx, joint_depth=depth)
    rest = np.setdiff1d(np.arange(16), [wrist, elbow])
    assert np.linalg.norm(out[:, rest] - x[:, rest], axis=-1).mean() < 0.02
    # the wrist itself has no usable depth left: 2D + bone + prior place it (its mirror image is possible)
    assert np.median(np.linalg.norm(out[:, wrist] - x[:, wrist], axis=-1)) < 0.1
    measured = refiner.params.depth.inliers(out[..., 2], depth)
    assert not measured[:, wrist].any()
    assert measured[:, rest].mean() > 0.95


def test_without_depth_the_body_size_stays_the_lifts(prior):
    x = held_out_views(6, seed=4)
    res = lift_state(prior, x)
    out = BoneRefiner(prior).refine(res.poses, res.component, res.rotation, res.scale, normalised(x),
                                    np.ones((6, 16)), 5.0 / CAM.fx)
    # bones take the prior's mean lengths times the lift's body-size factor (depth alone could change it)
    np.testing.assert_allclose(bone_lengths(out).sum(1), res.scale * prior.bone_lengths_.sum(), rtol=0.03)


def test_mirrored_limb_is_put_back(prior):
    x = held_out_views(30, seed=5)
    refiner = BoneRefiner(prior)
    rays = np.concatenate([normalised(x), np.ones((30, 16, 1))], -1)
    knee, hip = POSE3D16.index("right_knee"), POSE3D16.index("right_hip")
    # mirror the right knee (and the shin with it) along its ray about the point nearest to the hip: the same 2D
    centre = (x[:, hip] * rays[:, knee]).sum(-1) / (rays[:, knee] ** 2).sum(-1)
    along = (x[:, knee] * rays[:, knee]).sum(-1) / (rays[:, knee] ** 2).sum(-1)
    shift = (2 * (centre - along))[:, None] * rays[:, knee]
    big = np.abs(shift[:, 2]) > 0.1  # only where the mirror image really differs
    assert big.sum() >= 5
    wrong = x.copy()
    wrong[:, [knee, knee + 1]] += shift[:, None]
    np.testing.assert_allclose(normalised(wrong[:, knee]), normalised(x[:, knee]), atol=1e-9)
    fixed = refiner.resolve_flips(wrong[big], normalised(x[big]), np.ones((int(big.sum()), 16)))
    back = np.linalg.norm(fixed[:, knee] - x[big][:, knee], axis=-1) < 1e-6
    assert back.mean() >= 0.7
    # whatever it picks, every seen joint keeps its 2D
    picked = refiner.resolve_flips(x, normalised(x), np.ones((30, 16)))
    np.testing.assert_allclose(normalised(picked), normalised(x), atol=1e-9)


def test_precise_2d_lifting_told_the_bones_beats_the_subspace_on_held_out_clips(prior):
    # precise 2D + the person's own bone lengths fix each bone's depth up to its sign: better than the subspace.
    # (Held to the prior's mean body instead, it no longer pays on a body the prior has not seen.)
    x = held_out_views(40, seed=6)
    pix = normalised(x) * [CAM.fx, CAM.fy] + [CAM.cx, CAM.cy]
    subspace = PoseLifter(prior, anatomical=None).lift(pix, np.ones((40, 16)), CAM).poses
    precise = PoseLifter(prior, precise_2d=True).lift(pix, np.ones((40, 16)), CAM,
                                                      bone_lengths=bone_lengths(x)).poses
    default = PoseLifter(prior).lift(pix, np.ones((40, 16)), CAM).poses
    np.testing.assert_array_equal(default, subspace)  # without depth the default keeps the subspace pose
    assert mpjpe(precise, x) < 0.85 * mpjpe(subspace, x)


def test_missing_joints_and_people_without_depth(prior):
    x = held_out_views(3, seed=7)
    pix = normalised(x) * [CAM.fx, CAM.fy] + [CAM.cx, CAM.cy]
    conf = np.ones((3, 16))
    conf[0, [6, 9]] = 0.0  # wrists unseen
    depth = x[..., 2].copy()
    depth[1] = np.nan  # nobody measured
    depth[2, :14] = np.nan  # two joints only: too few to trust, treated like no depth
    res = PoseLifter(prior).lift(pix, conf, CAM, joint_depth=depth)
    assert res.valid.all() and np.isfinite(res.poses).all()
    # the people without enough depth get exactly the lift without the anatomical step
    subspace = PoseLifter(prior, anatomical=None).lift(pix, conf, CAM, joint_depth=depth)
    np.testing.assert_array_equal(res.poses[1:], subspace.poses[1:])
    assert np.abs(res.poses[0] - subspace.poses[0]).max() > 1e-3


def test_empty_input_and_bad_parameters(prior):
    refiner = BoneRefiner(prior)
    empty = np.zeros((0, 16, 3))
    assert refiner.refine(empty, np.zeros(0, int), np.zeros(0), np.ones(0), np.zeros((0, 16, 2)),
                          np.zeros((0, 16)), 0.01).shape == (0, 16, 3)
    assert refiner.resolve_flips(empty, np.zeros((0, 16, 2)), np.zeros((0, 16))).shape == (0, 16, 3)
    for bad in ({"bone_rel_sigma": 0.0}, {"prior_weight": -1.0}, {"depth": {"floor_m": float("nan")}},
                {"n_iterations": -1}, {"mixture_weight": -0.1}, {"size_sigma": 0.0}):
        with pytest.raises(ValueError, match="floor_m" if "depth" in bad else next(iter(bad))):
            BoneRefinementParams(**bad)
    with pytest.raises(ValueError, match="not fitted"):
        BoneRefiner(PosePrior())


def test_depth_noise_grows_with_the_square_of_the_distance():
    params = BoneRefinementParams(depth={"floor_m": 0.01, "coeff": 1.7e-3})
    s1, s4 = params.depth.sigma(np.array([1.0, 4.0]))
    assert s1 == pytest.approx(np.hypot(0.01, 1.7e-3), rel=1e-9)
    assert s4 == pytest.approx(np.hypot(0.01, 16 * 1.7e-3), rel=1e-9)


def test_a_non_finite_start_or_depth_gives_no_made_up_pose(prior):
    x = held_out_views(3, seed=8)
    res = lift_state(prior, x)
    start = res.poses.copy()
    start[1, 4] = np.nan  # a broken start for person 1
    depth = x[..., 2].copy()
    depth[2] = [np.inf, -1.0, 0.0] + [np.nan] * 13  # nothing usable for person 2
    depth[2] = np.where(np.isfinite(depth[2]) & (depth[2] > 0), depth[2], np.nan)
    out = BoneRefiner(prior).refine(start, res.component, res.rotation, res.scale, normalised(x), np.ones((3, 16)),
                                    5.0 / CAM.fx, joint_depth=depth)
    assert np.isfinite(out[[0, 2]]).all()
    assert np.isnan(out[1]).any()  # not silently replaced by something plausible-looking
