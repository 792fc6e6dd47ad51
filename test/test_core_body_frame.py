"""REP-155 body frame (core/body_frame.py): known poses, the frame turns with the person, NaN fallbacks, quaternions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.spatial.transform import Rotation

from pose3d_ros.core.body_frame import (
    CAMERA_FACING,
    body_frame,
    quaternion_to_rotation,
    rotation_to_quaternion,
)
from pose3d_ros.core.skeleton import POSE3D16

J = {n: POSE3D16.index(n) for n in POSE3D16.names}

# A standing person in its own REP-103 body coordinates: x forward, y left, z up (metres, origin mid-hip).
BODY = {
    "pelvis": (0, 0, 0), "spine": (0, 0, 0.25), "neck": (0, 0, 0.5), "head": (0.02, 0, 0.7),
    "left_shoulder": (0, 0.18, 0.5), "left_elbow": (0.05, 0.2, 0.22), "left_wrist": (0.2, 0.2, 0.05),
    "right_shoulder": (0, -0.18, 0.5), "right_elbow": (0, -0.2, 0.2), "right_wrist": (0, -0.2, -0.05),
    "left_hip": (0, 0.1, 0), "left_knee": (0.03, 0.1, -0.45), "left_ankle": (0, 0.1, -0.9),
    "right_hip": (0, -0.1, 0), "right_knee": (0, -0.1, -0.45), "right_ankle": (0, -0.1, -0.9),
}  # fmt: skip
BODY_J = np.array([BODY[n] for n in POSE3D16.names], dtype=float)

# Body axes written in the camera optical frame (x right, y down, z forward) for a person facing the camera:
# forward = toward the camera (-z), left = the image's right (+x), up = -y.
FACING = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])  # columns: body x, y, z


def place(rotation: np.ndarray, origin=(0.1, 0.2, 3.0)) -> np.ndarray:
    """The standing person in the camera frame with body axes ``rotation`` (columns) at ``origin``."""
    return np.asarray(origin) + BODY_J @ np.asarray(rotation).T


def yaw_about_vertical(theta: float) -> np.ndarray:
    """Rotation of the camera frame about its vertical axis (-y, up) by ``theta`` (right-hand rule)."""
    return Rotation.from_rotvec(theta * np.array([0.0, -1.0, 0.0])).as_matrix()


def test_person_facing_the_camera_literal_coordinates():
    j = np.full((16, 3), np.nan)
    j[J["left_hip"]], j[J["right_hip"]] = (0.15, 0.3, 2.0), (-0.05, 0.3, 2.0)  # the person's left = image right
    j[J["left_shoulder"]], j[J["right_shoulder"]] = (0.2, -0.2, 2.0), (-0.1, -0.2, 2.0)
    j[J["neck"]] = (0.05, -0.2, 2.0)
    f = body_frame(j)
    assert f.source == "skeleton"
    assert_allclose(f.origin, (0.05, 0.3, 2.0))
    assert_allclose(f.rotation[:, 0], (0, 0, -1), atol=1e-12)  # x out of the chest = toward the camera
    assert_allclose(f.rotation[:, 1], (1, 0, 0), atol=1e-12)  # y = person's left = image right
    assert_allclose(f.rotation[:, 2], (0, -1, 0), atol=1e-12)  # z up = -y optical


def test_facing_person_recovers_its_placement():
    f = body_frame(place(FACING))
    assert_allclose(f.rotation, FACING, atol=1e-12)
    assert_allclose(FACING, CAMERA_FACING)


@pytest.mark.parametrize("theta", [math.pi / 2, -math.pi / 2, math.pi, 0.7, -2.2])
def test_frame_turns_with_the_person(theta):
    r = yaw_about_vertical(theta) @ FACING
    f = body_frame(place(r))
    assert_allclose(f.rotation, r, atol=1e-12)


def test_person_turned_to_their_left_faces_the_image_right():
    # +90 degrees about up = a quarter turn to the person's own left; facing the camera, their left is image right
    f = body_frame(place(yaw_about_vertical(math.pi / 2) @ FACING))
    assert_allclose(f.rotation[:, 0], (1, 0, 0), atol=1e-12)
    assert_allclose(f.rotation[:, 1], (0, 0, 1), atol=1e-12)  # their left now points away from the camera
    assert_allclose(f.rotation[:, 2], (0, -1, 0), atol=1e-12)


def test_lying_person_z_follows_the_spine():
    r = Rotation.from_rotvec([0.0, 0.0, math.pi / 2]).as_matrix() @ FACING  # rolled about the optical axis
    f = body_frame(place(r))
    assert_allclose(f.rotation, r, atol=1e-12)
    assert_allclose(f.rotation[:, 2], (1, 0, 0), atol=1e-12)  # head toward the image's right


def test_random_poses_give_proper_right_handed_rotations():
    rng = np.random.default_rng(0)
    for _ in range(200):
        r = Rotation.random(random_state=rng).as_matrix()
        j = place(r) + rng.normal(scale=0.03, size=(16, 3))
        j[rng.uniform(size=16) < 0.2] = np.nan
        f = body_frame(j)
        if f is None:
            assert not np.isfinite(j[J["pelvis"]]).all()
            continue
        x, y, z = f.rotation.T
        assert_allclose(f.rotation.T @ f.rotation, np.eye(3), atol=1e-9)
        assert np.linalg.det(f.rotation) == pytest.approx(1.0)
        assert_allclose(np.cross(x, y), z, atol=1e-9)


def test_missing_shoulders_use_the_hips():
    j = place(FACING)
    j[[J["left_shoulder"], J["right_shoulder"]]] = np.nan
    f = body_frame(j)
    assert f.source == "skeleton"
    assert_allclose(f.rotation, FACING, atol=1e-12)


def test_no_left_right_pair_keeps_the_previous_forward():
    r = yaw_about_vertical(0.5) @ FACING
    j = place(r)
    j[[J["left_shoulder"], J["right_shoulder"], J["left_hip"], J["right_hip"]]] = np.nan
    f = body_frame(j)  # no previous: assumed to face the camera
    assert f.source == "up_only"
    assert_allclose(f.rotation, FACING, atol=1e-12)
    f = body_frame(j, previous=r)
    assert_allclose(f.rotation, r, atol=1e-12)


def test_no_spine_keeps_camera_up():
    j = place(yaw_about_vertical(0.5) @ FACING)
    j[[J["neck"], J["spine"], J["head"], J["left_shoulder"], J["right_shoulder"]]] = np.nan
    f = body_frame(j)
    assert f.source == "left_only"
    assert_allclose(f.rotation, yaw_about_vertical(0.5) @ FACING, atol=1e-12)


def test_only_a_pelvis_gives_previous_or_camera_facing():
    j = np.full((16, 3), np.nan)
    j[J["pelvis"]] = (0, 0, 2)
    f = body_frame(j)
    assert (f.source, f.origin.tolist()) == ("camera_facing", [0, 0, 2])
    assert_allclose(f.rotation, FACING)
    prev = yaw_about_vertical(1.0) @ FACING
    f = body_frame(j, previous=prev)
    assert f.source == "previous"
    assert_allclose(f.rotation, prev)


def test_no_hips_and_no_pelvis_gives_no_frame():
    j = place(FACING)
    j[[J["pelvis"], J["left_hip"]]] = np.nan
    assert body_frame(j) is None
    j = place(FACING)
    j[J["right_hip"]] = np.nan  # one hip missing: the pelvis is the origin
    assert_allclose(body_frame(j).origin, (0.1, 0.2, 3.0))


def test_bad_input_raises():
    with pytest.raises(ValueError, match=r"\(16, 3\)"):
        body_frame(np.zeros((17, 3)))
    with pytest.raises(ValueError, match="proper rotation"):
        body_frame(place(FACING), previous=np.diag([1.0, 1.0, -1.0]))


def test_to_body_inverts_the_placement():
    f = body_frame(place(yaw_about_vertical(0.3) @ FACING))
    assert_allclose(f.to_body(place(yaw_about_vertical(0.3) @ FACING)), BODY_J, atol=1e-12)


def test_quaternion_matches_scipy_including_near_180_degrees():
    rng = np.random.default_rng(1)
    rots = list(Rotation.random(100, random_state=rng).as_matrix())
    rots += [Rotation.from_rotvec(math.pi * np.array(a) / np.linalg.norm(a)).as_matrix() for a in
             ([1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, -2, 3])]  # fmt: skip
    rots.append(FACING)
    for r in rots:
        q = rotation_to_quaternion(r)
        ref = Rotation.from_matrix(r).as_quat()  # (x, y, z, w)
        ref = -ref if ref[3] < 0 or (ref[3] == 0 and np.dot(ref, q) < 0) else ref
        assert_allclose(q, ref, atol=1e-9)
        assert_allclose(quaternion_to_rotation(q), r, atol=1e-9)


def test_facing_quaternion_worked_example():
    # FACING is a rotation of 120 degrees about (1, 1, -1)/sqrt(3) (Rodrigues by hand: e1 -> -e3, e2 -> e1):
    # q = (sin 60 * axis, cos 60)
    s = math.sin(math.pi / 3) / math.sqrt(3)
    assert_allclose(rotation_to_quaternion(FACING), (s, s, -s, 0.5), atol=1e-12)
