"""Tests for pose3d_ros.core.skeleton: layouts, conversion to pose3d16, mirroring, bone lengths."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from pose3d_ros.core.skeleton import (
    BLAZEPOSE33,
    COCO17,
    H36M17,
    JOINT_NAMES,
    KINECT_V1_20,
    KINECT_V2_25,
    LAYOUTS,
    NUM_JOINTS,
    OPENPOSE18,
    POSE3D16,
    SkeletonLayout,
    bone_lengths,
    convert,
    get_layout,
    mirror,
)


def test_pose3d16_matches_message_order():
    assert JOINT_NAMES[:4] == ("pelvis", "spine", "neck", "head")
    assert JOINT_NAMES[15] == "right_ankle"
    assert NUM_JOINTS == len(JOINT_NAMES) == 16
    assert POSE3D16.parents[0] == -1 and (POSE3D16.parents[1:] >= 0).all()


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_mirror_index_is_an_involution_pairing_left_and_right(layout):
    m = layout.mirror_index
    assert_array_equal(m[m], np.arange(len(layout)))
    for li, ri in zip(layout.left, layout.right, strict=True):
        assert m[li] == ri
        assert layout.names[li].replace("left", "right") == layout.names[ri]


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_bones_form_a_single_tree(layout):
    assert len(layout.bones) == len(layout) - 1
    assert (layout.parents == -1).sum() == 1


@pytest.mark.parametrize(
    ("layout", "size"),
    [(COCO17, 17), (OPENPOSE18, 18), (BLAZEPOSE33, 33), (H36M17, 17), (KINECT_V1_20, 20), (KINECT_V2_25, 25)],
)
def test_standard_layout_sizes(layout, size):
    assert len(layout) == size


def test_standard_orders_spot_checks():
    assert OPENPOSE18.index("right_shoulder") == 2 and OPENPOSE18.index("left_ear") == 17
    assert COCO17.index("left_hip") == 11 and BLAZEPOSE33.index("left_hip") == 23
    assert H36M17.index("left_shoulder") == 11 and H36M17.index("right_hip") == 1
    assert KINECT_V2_25.index("spine_shoulder") == 20 and KINECT_V2_25.parents[2] == 20
    assert KINECT_V1_20.index("hip_right") == 16


def test_get_layout_aliases_and_unknown():
    assert get_layout("COCO-17") is COCO17
    assert get_layout("kinect_v2") is KINECT_V2_25
    assert get_layout(POSE3D16) is POSE3D16
    with pytest.raises(KeyError, match="unknown skeleton layout 'smpl24'"):
        get_layout("smpl24")


def test_index_unknown_joint_names_layout():
    with pytest.raises(KeyError, match="coco17"):
        COCO17.index("pelvis")


def test_layout_rejects_cycles_and_duplicates():
    with pytest.raises(ValueError, match="do not form a tree"):
        SkeletonLayout("bad", ("a", "b"), (1, 0))
    with pytest.raises(ValueError, match="not unique"):
        SkeletonLayout("bad", ("a", "a"), (-1, 0))
    with pytest.raises(ValueError, match="no mirror joint"):
        SkeletonLayout("bad", ("a", "left_x"), (-1, 0))


def test_convert_identity_for_pose3d16():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(4, 16, 3))
    out, conf = convert(pts, None, "pose3d16")
    assert_allclose(out, pts)
    assert_allclose(conf, 1.0)


def test_convert_coco_worked_example():
    pts = np.full((17, 2), np.nan)
    conf = np.zeros(17)
    named = {
        "left_hip": (10, 100), "right_hip": (30, 100), "left_shoulder": (0, 40), "right_shoulder": (40, 40),
        "left_ear": (15, 10), "right_ear": (25, 10), "nose": (20, 14), "left_knee": (12, 150),
    }
    for n, uv in named.items():
        pts[COCO17.index(n)] = uv
        conf[COCO17.index(n)] = 0.9
    conf[COCO17.index("right_hip")] = 0.5
    out, c = convert(pts, conf, "coco17")
    assert_allclose(out[POSE3D16.index("pelvis")], [20, 100])
    assert_allclose(c[POSE3D16.index("pelvis")], 0.5)  # min of the two hips
    assert_allclose(out[POSE3D16.index("neck")], [20, 40])
    assert_allclose(out[POSE3D16.index("spine")], [20, 70])
    assert_allclose(out[POSE3D16.index("head")], [20, 10])  # ears preferred over the nose
    assert_allclose(out[POSE3D16.index("left_knee")], [12, 150])
    assert np.isnan(out[POSE3D16.index("left_ankle")]).all() and c[POSE3D16.index("left_ankle")] == 0


def test_convert_head_falls_back_to_nose_per_sample():
    pts = np.zeros((2, 17, 2))
    pts[:, COCO17.index("nose")] = [5, 6]
    pts[:, COCO17.index("left_ear")] = [1, 1]
    pts[:, COCO17.index("right_ear")] = [3, 1]
    conf = np.ones((2, 17))
    conf[1, COCO17.index("right_ear")] = 0  # second sample: one ear missing
    conf[1, COCO17.index("left_eye")] = 0
    out, _ = convert(pts, conf, "coco17")
    assert_allclose(out[0, 3], [2, 1])
    assert_allclose(out[1, 3], [5, 6])


def test_convert_openpose_matches_coco_on_same_people():
    rng = np.random.default_rng(1)
    coco = rng.uniform(0, 640, size=(5, 17, 2))
    op = np.zeros((5, 18, 2))
    for i, n in enumerate(OPENPOSE18.names):
        op[:, i] = coco[:, COCO17.index(n)] if n in COCO17 else 0.0
    a, ca = convert(coco, None, COCO17)
    b, cb = convert(op, None, OPENPOSE18)
    assert_allclose(a, b)
    assert_allclose(ca, cb)


@pytest.mark.parametrize("layout", [KINECT_V1_20, KINECT_V2_25, H36M17, BLAZEPOSE33], ids=lambda x: x.name)
def test_convert_fills_every_joint_from_complete_layouts(layout):
    rng = np.random.default_rng(2)
    out, conf = convert(rng.normal(size=(3, len(layout), 3)), None, layout)
    assert np.isfinite(out).all() and (conf == 1).all()


def test_convert_kinect_v1_copies_limbs_by_side():
    pts = np.arange(20 * 3, dtype=float).reshape(20, 3)
    out, _ = convert(pts, None, "kinect_v1_20")
    assert_allclose(out[POSE3D16.index("left_wrist")], pts[KINECT_V1_20.index("wrist_left")])
    assert_allclose(out[POSE3D16.index("neck")], pts[KINECT_V1_20.index("shoulder_center")])


def test_convert_nan_points_are_missing_even_with_confidence():
    pts = np.zeros((16, 3))
    pts[5] = np.inf
    out, conf = convert(pts, np.ones(16), "pose3d16")
    assert np.isnan(out[5]).all() and conf[5] == 0


@pytest.mark.parametrize(
    ("points", "conf", "match"),
    [(np.zeros((16, 2)), None, r"\(\.\.\., 17, D\)"), (np.zeros((17, 2)), np.ones(16), "conf must have shape")],
)
def test_convert_bad_shapes(points, conf, match):
    with pytest.raises(ValueError, match=match):
        convert(points, conf, "coco17")


def test_convert_rejects_other_target():
    with pytest.raises(ValueError, match="pose3d16"):
        convert(np.zeros((16, 2)), None, "pose3d16", "coco17")


def test_mirror_swaps_sides_and_negates_x_and_is_involution():
    rng = np.random.default_rng(3)
    pose = rng.normal(size=(2, 16, 3))
    m = mirror(pose)
    assert_allclose(m[:, POSE3D16.index("left_wrist")], pose[:, POSE3D16.index("right_wrist")] * [-1, 1, 1])
    assert_allclose(m[:, 0], pose[:, 0] * [-1, 1, 1])
    assert_allclose(mirror(m), pose)


def test_mirror_preserves_bone_lengths():
    rng = np.random.default_rng(4)
    pose = rng.normal(size=(16, 3))
    bl = bone_lengths(pose)
    assert_allclose(np.sort(bone_lengths(mirror(pose))), np.sort(bl))


def test_bone_lengths_worked_example():
    pose = np.zeros((16, 3))
    pose[1] = [0, -0.3, 0]  # spine 0.3 m above the pelvis
    pose[2] = [0, -0.3, 0.4]
    bl = bone_lengths(pose)
    assert bl.shape == (15,)
    assert_allclose(bl[0], 0.3)  # pelvis->spine
    assert_allclose(bl[1], 0.4)  # spine->neck


def test_bone_lengths_bad_shape():
    with pytest.raises(ValueError, match="16"):
        bone_lengths(np.zeros((15, 3)))
