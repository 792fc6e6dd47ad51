"""The output invariant (core.output_guard) and frame-id cleaning (core.frame_ids), ROS-free."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from pose3d_ros.core.frame_ids import DEFAULT_FRAME_ID, MAX_FRAME_ID_LEN, FrameIdPolicy, clean_frame_id
from pose3d_ros.core.output_guard import OutputGuard
from pose3d_ros.core.skeleton import POSE3D16, bone_lengths

MOCAP = "pose3d_ros/resources/mocap/real_mocap_pose3d16.npz"


@dataclass
class Person:
    id: int
    joints: np.ndarray


def _standing(z: float = 3.0) -> np.ndarray:
    """A hand-built 1.75 m person (camera optical frame: y down), pelvis 3 m in front of the camera."""
    j = {
        "pelvis": (0, 0), "spine": (0, -0.25), "neck": (0, -0.5), "head": (0, -0.72),
        "left_shoulder": (0.18, -0.5), "left_elbow": (0.2, -0.22), "left_wrist": (0.22, 0.03),
        "right_shoulder": (-0.18, -0.5), "right_elbow": (-0.2, -0.22), "right_wrist": (-0.22, 0.03),
        "left_hip": (0.1, 0.0), "left_knee": (0.1, 0.45), "left_ankle": (0.1, 0.87),
        "right_hip": (-0.1, 0.0), "right_knee": (-0.1, 0.45), "right_ankle": (-0.1, 0.87),
    }
    return np.array([[*j[n], z] for n in POSE3D16.names], dtype=np.float64)


def test_a_plausible_person_passes():
    assert OutputGuard().problem(_standing()) == ("", "")


def test_real_mocap_bodies_pass():
    """Every frame of the bundled real mocap (3 actors), placed 3 m in front of the camera, passes the guard."""
    poses = np.load(MOCAP)["joints"]
    poses = poses - poses[:, :1] + np.array([0.0, 0.0, 3.0])
    guard = OutputGuard()
    kinds = {guard.problem(p)[0] for p in poses[::10]}
    assert kinds == {""}


@pytest.mark.parametrize("joint,value,kind,words", [
    ("left_wrist", np.nan, "non_finite", "left_wrist is not finite"),
    ("head", np.inf, "non_finite", "head is not finite"),
    ("right_ankle", 1e30, "out_of_range", "right_ankle is 1e+30 m away"),
])
def test_a_bad_joint_is_named(joint, value, kind, words):
    j = _standing()
    j[POSE3D16.index(joint), 2] = value
    got_kind, reason = OutputGuard().problem(j)
    assert got_kind == kind and words in reason


def test_behind_the_camera_and_beyond_range():
    guard = OutputGuard(max_range_m=5.0)
    kind, reason = guard.problem(_standing(z=-2.0))
    assert kind == "behind_camera" and "z = -2" in reason
    kind, reason = guard.problem(_standing(z=6.0))
    assert kind == "out_of_range" and "max_range_m 5" in reason
    assert guard.problem(_standing(z=4.5)) == ("", "")


def test_root_relative_skeletons_skip_the_camera_checks():
    j = _standing(z=0.0)  # pelvis at the camera centre: fine for root-relative 3D, impossible as metric
    assert OutputGuard().problem(j, metric=False) == ("", "")
    assert OutputGuard().problem(j, metric=True)[0] == "behind_camera"


def test_inhuman_bones_are_named():
    j = _standing()
    j[POSE3D16.index("left_wrist")] += (0.0, 1.5, 0.0)  # a 1.75 m forearm
    kind, reason = OutputGuard().problem(j)
    assert kind == "bone_length" and "left_elbow-left_wrist" in reason and "expected 0.02-1 m" in reason
    j = _standing()
    j[POSE3D16.index("right_knee")] = j[POSE3D16.index("right_hip")]  # a zero-length thigh
    assert OutputGuard().problem(j)[0] == "bone_length"


def test_a_foreshortened_hip_width_is_not_inhuman():
    """Half-widths have no lower bound: estimates of side views shrink them to ~1 cm (seen on the footage)."""
    j = _standing()
    j[POSE3D16.index("left_hip")] = j[POSE3D16.index("pelvis")] + (0.01, 0.0, 0.0)
    assert OutputGuard().problem(j) == ("", "")


@pytest.mark.parametrize("scale,kind", [(0.55, ""), (0.25, "body_size"), (2.0, ""), (2.21, "body_size"),
                                        (2.5, "bone_length")])
def test_total_size_of_a_scaled_person(scale, kind):
    """A 1 m child (0.55x) and a 2x estimate pass; a 44 cm doll and a 2.21x giant (each bone still < 1 m, 9.02 m of
    bones) are caught by their size, a 2.5x one by its thighs."""
    base = _standing()
    j = (base - base[0]) * scale + base[0]
    if scale == 2.21:
        assert bone_lengths(j).max() < 1.0 < 9.0 < bone_lengths(j).sum()
    assert OutputGuard().problem(j)[0] == kind, bone_lengths(j).sum()


def test_filter_keeps_the_good_and_counts_the_dropped():
    bad = _standing()
    bad[3, 2] = np.nan
    guard = OutputGuard()
    res = guard.filter([Person(1, _standing()), Person(2, bad), Person(3, _standing(z=-1.0))])
    assert [p.id for p in res.kept] == [1]
    assert [(r.person_id, r.kind) for r in res.rejected] == [(2, "non_finite"), (3, "behind_camera")]
    assert guard.counts == {"non_finite": 1, "behind_camera": 1} and guard.dropped == 2 and guard.checked == 3


@pytest.mark.parametrize("joints", [None, np.zeros((15, 3)), np.zeros((16, 2)), "abc"])
def test_malformed_joints_are_dropped(joints):
    assert OutputGuard().problem(joints)[0] == "malformed"


@pytest.mark.parametrize("kwargs", [{"max_range_m": 0.0}, {"max_range_m": float("nan")}, {"bone_m": (0.5, 0.1)},
                                    {"total_bone_m": (-1.0, 2.0)}])
def test_guard_bounds_are_checked(kwargs):
    with pytest.raises(ValueError):
        OutputGuard(**kwargs)


# -- frame ids -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw,expected,words", [
    ("camera_color_optical_frame", "camera_color_optical_frame", ""),
    ("", DEFAULT_FRAME_ID, "empty"),
    ("   ", DEFAULT_FRAME_ID, "empty"),
    ("my camera frame", "my_camera_frame", "illegal characters replaced"),
    ("/camera_link", "camera_link", "illegal characters replaced"),
    ("cam\u00e9ra\n", "cam_ra_", "illegal characters replaced"),
    ("***", DEFAULT_FRAME_ID, "no valid characters"),
])
def test_frame_ids_are_cleaned(raw, expected, words):
    d = clean_frame_id(raw)
    assert d.frame_id == expected
    assert (words in d.problem) if words else d.problem == ""


def test_a_10000_char_frame_id_is_cut_and_stays_distinct():
    a, b = clean_frame_id("a" * 10_000), clean_frame_id("a" * 9_999 + "b")
    assert len(a.frame_id) == MAX_FRAME_ID_LEN and len(b.frame_id) == MAX_FRAME_ID_LEN
    assert a.frame_id != b.frame_id and "10000 chars" in a.problem and len(a.problem) < 300


def test_policy_reports_each_bad_id_once():
    policy = FrameIdPolicy(default="cam_optical")
    first = policy.decide("")
    assert first.frame_id == "cam_optical" and first.problem
    assert policy.decide("").problem == "" and policy.decide("ok_frame").problem == ""
    again = policy.decide("")
    assert again.frame_id == "cam_optical" and again.problem == ""  # seen before: not reported again
    assert policy.decide("has space").problem  # a new bad id is


@pytest.mark.parametrize("default", ["", "with space", "/leading", "x" * 200])
def test_an_invalid_default_is_refused(default):
    with pytest.raises(ValueError, match="default frame id"):
        FrameIdPolicy(default=default)
