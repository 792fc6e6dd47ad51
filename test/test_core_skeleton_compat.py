"""The topology helpers moved to pose3d_ros.core.skeleton give exactly what their former copies gave.

The former implementations (core.prior's ``bone_lengths`` / ``skeleton_size`` / ``pose3d16_mirror_index``, the
augmentation's mirror, the temporal bone ends) are frozen here with the pose3d16 parents of ``msg/Skeleton3D.msg``
written out, and compared bit for bit on the shipped mocap and the shipped prior.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from pose3d_ros.core import prior as prior_module
from pose3d_ros.core import skeleton, temporal
from pose3d_ros.core.prior import PosePrior, default_prior_path, pose3d16_parents
from pose3d_ros.core.skeleton import POSE3D16, bone_lengths, skeleton_size
from pose3d_ros.data import augment
from pose3d_ros.data.deepmimic import load_mocap_clips

# pose3d16 as msg/Skeleton3D.msg documents it: the tables the former copies were built from
_OLD_PARENTS = np.array([-1, 0, 1, 2, 2, 4, 5, 2, 7, 8, 0, 10, 11, 0, 13, 14])
_OLD_MIRROR = np.array([0, 1, 2, 3, 7, 8, 9, 4, 5, 6, 13, 14, 15, 10, 11, 12])


def _old_bone_lengths(poses: np.ndarray) -> np.ndarray:
    """core.prior.bone_lengths before the move."""
    child = np.arange(1, len(_OLD_PARENTS))
    return np.linalg.norm(poses[..., child, :] - poses[..., _OLD_PARENTS[child], :], axis=-1)


def _old_skeleton_size(poses: np.ndarray) -> np.ndarray:
    """core.prior.skeleton_size before the move."""
    child = np.arange(1, len(_OLD_PARENTS))
    return np.linalg.norm(poses[..., child, :] - poses[..., _OLD_PARENTS[child], :], axis=-1).sum(-1)


def _old_mirror(poses: np.ndarray) -> np.ndarray:
    """data.augment.mirror before the move (after its shape check)."""
    x = np.asarray(poses, dtype=np.float64).copy()
    x[..., 0] *= -1.0
    return x[:, _OLD_MIRROR]


@pytest.fixture(scope="module")
def mocap() -> np.ndarray:
    clips = load_mocap_clips()
    return np.concatenate([clips[k] for k in sorted(clips)])  # float32, as shipped


@pytest.fixture(scope="module")
def shipped() -> PosePrior:
    return PosePrior.load(default_prior_path())


def test_the_layout_is_the_one_the_old_tables_described():
    assert_array_equal(POSE3D16.parents, _OLD_PARENTS)
    assert_array_equal(POSE3D16.mirror_index, _OLD_MIRROR)
    assert POSE3D16.order == tuple(range(16))  # augment.scale_bones' walk is the old range(1, 16)
    assert [c for _, c in POSE3D16.bones] == list(range(1, 16))  # bone i ends at joint i + 1, as before


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bone_lengths_and_size_are_bit_identical_to_the_former_prior_helpers(mocap, dtype):
    x = mocap.astype(dtype)
    new, old = bone_lengths(x), _old_bone_lengths(x)
    assert new.dtype == old.dtype == dtype
    assert_array_equal(new, old)
    assert_array_equal(skeleton_size(x), _old_skeleton_size(x))


def test_prior_re_exports_the_skeleton_functions_themselves():
    assert prior_module.bone_lengths is skeleton.bone_lengths
    assert prior_module.skeleton_size is skeleton.skeleton_size


def test_pose3d16_parents_is_still_a_writable_copy():
    parents = pose3d16_parents()
    assert_array_equal(parents, _OLD_PARENTS)
    parents[0] = 5  # a caller may scribble on its copy ...
    assert POSE3D16.parents[0] == -1 and pose3d16_parents()[0] == -1  # ... never on the layout


def test_shipped_prior_means_and_normalisation_unchanged(shipped, mocap):
    means = np.asarray(shipped.means_, dtype=np.float64)
    assert_array_equal(bone_lengths(means), _old_bone_lengths(means))
    assert_allclose(shipped.bone_lengths_.sum(), shipped.body_size_, rtol=0, atol=1e-9)  # fit() sums them
    walk = load_mocap_clips()["walk"].astype(np.float64)[::10]
    assert_allclose(skeleton_size(shipped.normalize(walk)), shipped.body_size_, rtol=0, atol=1e-9)


def test_a_fitted_prior_keeps_the_old_mean_bone_lengths(mocap):
    x = mocap[::40].astype(np.float64)
    fitted = PosePrior(n_components=1, n_bases=3, max_iter=3).fit(x)
    assert_allclose(fitted.bone_lengths_, _old_bone_lengths(x).mean(0), rtol=0, atol=1e-9)
    assert_allclose(fitted.body_size_, _old_skeleton_size(x).mean(), rtol=0, atol=1e-9)


def test_augment_mirror_is_bit_identical_to_its_former_copy(mocap):
    x = mocap[::25].astype(np.float64)
    assert_array_equal(augment.mirror(x), _old_mirror(x))
    with pytest.raises(ValueError, match="NaN"):
        augment.mirror(np.full((1, 16, 3), np.nan))  # the augmentation's own input check still applies


def test_temporal_bone_ends_are_the_old_ones():
    assert_array_equal(temporal._CHILD, np.arange(1, 16))
    assert_array_equal(temporal._PARENT, _OLD_PARENTS[1:])
