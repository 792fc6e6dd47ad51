"""Tests of the mocap conversion, augmentation and the mixture-of-PPCA pose prior."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import multivariate_normal

from pose3d_ros.core.prior import PosePrior, PriorFileError, default_prior_path, rotate_y
from pose3d_ros.core.skeleton import POSE3D16, bone_lengths, skeleton_size
from pose3d_ros.data import augment
from pose3d_ros.data.deepmimic import frames_to_pose3d16, load_mocap_clips, load_mocap_fps
from pose3d_ros.data.takes import TEST_TAKES


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    return load_mocap_clips()


@pytest.fixture(scope="module")
def poses(clips) -> np.ndarray:
    return np.concatenate([clips[k] for k in sorted(clips)]).astype(np.float64)


@pytest.fixture(scope="module")
def small_prior(poses) -> PosePrior:
    return PosePrior(n_components=3, n_bases=6, max_iter=20).fit(poses[::2])


# ------------------------------------------------------------------------------------------------- mocap
def test_mocap_clips_have_expected_names_and_shapes(clips):
    assert {"walk", "run", "jump", "kick", "punch", "cartwheel"} <= clips.keys()
    assert all(v.dtype == np.float32 and v.shape[1:] == (16, 3) for v in clips.values())
    assert sum(len(v) for v in clips.values()) == 1620
    assert load_mocap_fps()["walk"] == pytest.approx(30.0, rel=1e-3)


def test_mocap_limb_bone_lengths_are_constant(clips):
    lengths = bone_lengths(np.concatenate(list(clips.values())).astype(np.float64))
    limbs = [POSE3D16.index(n) - 1 for n in ("left_elbow", "left_wrist", "right_knee", "right_ankle")]
    assert np.ptp(lengths[:, limbs], axis=0).max() < 1e-4


def test_mocap_walk_is_upright_with_left_on_the_persons_left(clips):
    walk = clips["walk"].astype(np.float64)
    head, ankles = walk[:, POSE3D16.index("head"), 1], walk[:, [12, 15], 1].mean(1)
    assert np.all(head < ankles - 1.2)  # y down: the head is well above the feet
    # facing direction (horizontal) = up x right; the person walks forward along it
    right = walk[:, POSE3D16.index("right_hip")] - walk[:, POSE3D16.index("left_hip")]
    forward = np.cross(np.array([0.0, -1.0, 0.0]), right)  # up x right = forward (right-handed)
    travel = walk[-1, 0] - walk[0, 0]
    assert float(forward.mean(0) @ travel) > 0


def test_fk_rejects_bad_frames():
    with pytest.raises(ValueError, match="44"):
        frames_to_pose3d16(np.zeros((3, 43)))
    bad = np.zeros((1, 44))
    bad[0, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        frames_to_pose3d16(bad)


# ------------------------------------------------------------------------------------------------- augmentation
def test_mirror_twice_is_identity_and_swaps_sides(poses):
    once = augment.mirror(poses[:50])
    assert_allclose(augment.mirror(once), poses[:50], atol=1e-12)
    assert_allclose(once[:, POSE3D16.index("left_wrist"), 0], -poses[:50, POSE3D16.index("right_wrist"), 0])


@pytest.mark.parametrize("name", ["recombine", "perturb", "tilt", "rotate"])
def test_augmentations_keep_limb_bone_lengths(poses, name):
    rng = np.random.default_rng(1)
    x = poses[::10]
    out = {"recombine": lambda: augment.recombine_limbs(x, rng, len(x)),
           "perturb": lambda: augment.perturb_joint_angles(x, rng),
           "tilt": lambda: augment.tilt(x, rng),
           "rotate": lambda: augment.rotate_vertical(x, rng)}[name]()
    limbs = [4, 5, 7, 8, 10, 11, 13, 14]  # bones ending at elbows, wrists, knees, ankles (index = joint - 1)
    assert_allclose(bone_lengths(out)[:, limbs], bone_lengths(x[:1])[:, limbs].repeat(len(out), 0), atol=1e-6)


def test_perturbed_knees_never_hyperextend(poses):
    out = augment.perturb_joint_angles(poses[::5], np.random.default_rng(2), max_deg=40.0)
    thigh, shin = out[:, 11] - out[:, 10], out[:, 12] - out[:, 11]
    flex = np.degrees(np.arccos(np.clip((thigh * shin).sum(-1) / np.linalg.norm(thigh, axis=-1)
                                        / np.linalg.norm(shin, axis=-1), -1, 1)))
    assert flex.max() <= 160.0 + 1e-6


def test_scale_bones_spans_the_size_range(poses):
    out = augment.scale_bones(poses[::5], np.random.default_rng(3), size_range=(0.8, 1.2), proportion_sd=0.0)
    ratio = skeleton_size(out) / skeleton_size(poses[::5])
    assert ratio.min() >= 0.8 - 1e-9 and ratio.max() <= 1.2 + 1e-9 and np.ptp(ratio) > 0.2


# ------------------------------------------------------------------------------------------------- prior
def test_single_component_likelihood_matches_closed_form_gaussian():
    rng = np.random.default_rng(0)
    base = load_mocap_clips()["walk"][0].astype(np.float64)
    x = base[None] + 0.01 * rng.standard_normal((400, 16, 3)) * np.linspace(0.2, 2.0, 48).reshape(1, 16, 3)
    prior = PosePrior(n_components=1, n_bases=5).fit(x)
    z = prior.normalize(x[:20])[:, 1:].reshape(20, -1)
    u = prior.components_[0][:, 3:]
    cov = u.T @ np.diag(prior.variances_[0] - prior.noise_variance_[0]) @ u + prior.noise_variance_[0] * np.eye(45)
    expected = multivariate_normal(prior.means_[0, 1:].ravel(), cov).logpdf(z)
    assert_allclose(prior.score_samples(x[:20]), expected, rtol=1e-8)


def test_training_like_poses_outscore_wider_spread(small_prior, poses):
    rng = np.random.default_rng(4)
    noisy = poses[::7] + 0.05 * rng.standard_normal(poses[::7].shape)
    assert small_prior.score(poses[::7]) > small_prior.score(noisy) + 10


def test_score_is_invariant_to_translation_scale_and_heading(small_prior, poses):
    x = poses[:30]
    moved = rotate_y(x * 1.1, 1.3) + np.array([0.5, -0.2, 3.0])
    assert_allclose(small_prior.score_samples(moved), small_prior.score_samples(x), rtol=1e-6)


def test_save_load_roundtrip(tmp_path, small_prior, poses):
    small_prior.save(tmp_path / "p.npz")
    loaded = PosePrior.load(tmp_path / "p.npz")
    assert loaded.layout == "pose3d16"
    assert_allclose(loaded.score_samples(poses[:40]), small_prior.score_samples(poses[:40]), rtol=1e-10)
    assert loaded.body_size_ == pytest.approx(small_prior.body_size_)


def _rewrite(src, dst, **changes):
    with np.load(src) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    np.savez(dst, **arrays)


@pytest.mark.parametrize(("change", "message"), [
    ({"layout": np.array("coco17")}, "layout 'coco17'"),
    ({"format_version": np.int64(99)}, "version 99"),
    ({"means": np.zeros((2, 16, 3))}, "inconsistent"),
    ({"variances": None}, "NaN"),
])  # fmt: skip
def test_load_rejects_other_layout_version_shapes_and_nan(tmp_path, small_prior, change, message):
    small_prior.save(tmp_path / "p.npz")
    if "variances" in change:
        change = {"variances": np.full_like(small_prior.variances_, np.nan)}
    _rewrite(tmp_path / "p.npz", tmp_path / "bad.npz", **change)
    with pytest.raises(PriorFileError, match=message):
        PosePrior.load(tmp_path / "bad.npz")


def test_load_rejects_corrupt_and_missing_files(tmp_path):
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(PriorFileError, match="not a readable"):
        PosePrior.load(tmp_path / "corrupt.npz")
    with pytest.raises(FileNotFoundError):
        PosePrior.load(tmp_path / "absent.npz")


def test_fit_rejects_bad_input(poses):
    with pytest.raises(ValueError, match="shape"):
        PosePrior().fit(np.zeros((100, 15, 3)))
    bad = poses[:200].copy()
    bad[3, 4, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        PosePrior(2, 4).fit(bad)
    with pytest.raises(ValueError, match="too few"):
        PosePrior(8, 10).fit(poses[:20])
    with pytest.raises(RuntimeError, match="not fitted"):
        PosePrior().score_samples(poses[:2])


def test_default_prior_loads_and_prefers_held_out_mocap_to_noise():
    assert "deepmimic_walk" in TEST_TAKES  # held out of the shipped prior's fit
    prior = PosePrior.load(default_prior_path())
    walk = load_mocap_clips()["walk"].astype(np.float64)
    noise = walk + 0.05 * np.random.default_rng(5).standard_normal(walk.shape)
    assert prior.score(walk) > prior.score(noise)
    assert 3.0 < prior.body_size_ < 5.0
