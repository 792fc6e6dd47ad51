"""REP-155 outputs (core/rep155.py): joint angles checked by the human_description URDF's own forward kinematics,
known poses, missing joints, the 2D skeleton mapping and the region of interest."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.spatial.transform import Rotation

from pose3d_ros.core.rep155 import (
    REP155_JOINT_NAMES,
    Rep155Body,
    body_roi,
    rep155_joint_angles,
    skeleton2d_points,
)
from pose3d_ros.core.skeleton import POSE3D16

J = {n: POSE3D16.index(n) for n in POSE3D16.names}
A = {n: k for k, n in enumerate(REP155_JOINT_NAMES)}

# ros4hri/human_description urdf/human-tpl.xacro (humble-devel 2.0.2), transcribed: joint -> (parent, origin xyz,
# axis). Lengths are arbitrary here (directions are what the angles determine). Arms hang from torso, legs from body.
NSL, UPPER, FORE, TORSO, WAIST_W, THIGH, TIBIA = 0.2, 0.3, 0.25, 0.5, 0.24, 0.45, 0.45
URDF = {
    "l_y_shoulder": ("torso", (0, NSL, 0), (0, 0, -1)),
    "l_p_shoulder": ("l_y_shoulder", (0, 0, 0), (1, 0, 0)),
    "l_r_shoulder": ("l_p_shoulder", (0, 0, 0), (0, 0, 1)),
    "l_elbow": ("l_r_shoulder", (0, 0, -UPPER), (0, -1, 0)),
    "l_wrist": ("l_elbow", (0, 0, -FORE), None),
    "r_y_shoulder": ("torso", (0, -NSL, 0), (0, 0, 1)),
    "r_p_shoulder": ("r_y_shoulder", (0, 0, 0), (-1, 0, 0)),
    "r_r_shoulder": ("r_p_shoulder", (0, 0, 0), (0, 0, -1)),
    "r_elbow": ("r_r_shoulder", (0, 0, -UPPER), (0, -1, 0)),
    "r_wrist": ("r_elbow", (0, 0, -FORE), None),
    "l_y_hip": ("body", (0, WAIST_W / 2, 0), (0, 0, -1)),
    "l_p_hip": ("l_y_hip", (0, 0, 0), (1, 0, 0)),
    "l_r_hip": ("l_p_hip", (0, 0, 0), (0, -1, 0)),
    "l_knee": ("l_r_hip", (0, 0, -THIGH), (0, -1, 0)),
    "l_ankle": ("l_knee", (0, 0, -TIBIA), None),
    "r_y_hip": ("body", (0, -WAIST_W / 2, 0), (0, 0, -1)),
    "r_p_hip": ("r_y_hip", (0, 0, 0), (-1, 0, 0)),
    "r_r_hip": ("r_p_hip", (0, 0, 0), (0, -1, 0)),
    "r_knee": ("r_r_hip", (0, 0, -THIGH), (0, -1, 0)),
    "r_ankle": ("r_knee", (0, 0, -TIBIA), None),
}
LIMITS = {  # URDF limits
    "y_shoulder": (-1.1, 1.9), "p_shoulder": (-0.4, 3.3), "r_shoulder": (-1.7, 1.5), "elbow": (0.0, 2.5),
    "y_hip": (-0.1, 0.6), "p_hip": (-0.4, 3.3), "r_hip": (-0.4, 0.7), "knee": (-2.5, 0.0),
}  # fmt: skip


def urdf_fk(angles: dict[str, float]) -> dict[str, np.ndarray]:
    """Link origins in the body frame by the URDF's chain (torso = body + TORSO up: waist 0)."""
    pose = {"body": (np.zeros(3), np.eye(3)), "torso": (np.array([0, 0, TORSO]), np.eye(3))}
    for name, (parent, origin, axis) in URDF.items():  # dict order has every parent first
        p, r = pose[parent]
        p = p + r @ np.asarray(origin, float)
        if axis is not None:
            r = r @ Rotation.from_rotvec(angles.get(name, 0.0) * np.asarray(axis, float)).as_matrix()
        pose[name] = (p, r)
    return {k: v[0] for k, v in pose.items()}


def skeleton_from_fk(pts: dict[str, np.ndarray], rotation=None, origin=(0.0, 0.1, 3.0)) -> np.ndarray:
    """pose3d16 joints (camera frame) of a URDF pose, the body placed with ``rotation`` (default facing the camera)."""
    rotation = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]]) if rotation is None else rotation
    local = {
        "pelvis": pts["body"], "spine": pts["torso"] / 2, "neck": pts["torso"], "head": pts["torso"] + (0, 0, 0.2),
        "left_shoulder": pts["l_y_shoulder"], "left_elbow": pts["l_elbow"], "left_wrist": pts["l_wrist"],
        "right_shoulder": pts["r_y_shoulder"], "right_elbow": pts["r_elbow"], "right_wrist": pts["r_wrist"],
        "left_hip": pts["l_y_hip"], "left_knee": pts["l_knee"], "left_ankle": pts["l_ankle"],
        "right_hip": pts["r_y_hip"], "right_knee": pts["r_knee"], "right_ankle": pts["r_ankle"],
    }  # fmt: skip
    body = np.array([local[n] for n in POSE3D16.names])
    return np.asarray(origin) + body @ np.asarray(rotation).T


def as_dict(angles: np.ndarray) -> dict[str, float]:
    return {n: float(angles[k]) for n, k in A.items()}


def segments(pts: dict[str, np.ndarray]) -> np.ndarray:
    pairs = [("l_y_shoulder", "l_elbow"), ("l_elbow", "l_wrist"), ("r_y_shoulder", "r_elbow"), ("r_elbow", "r_wrist"),
             ("l_y_hip", "l_knee"), ("l_knee", "l_ankle"), ("r_y_hip", "r_knee"), ("r_knee", "r_ankle")]  # fmt: skip
    d = np.array([pts[b] - pts[a] for a, b in pairs])
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_joint_names_follow_hri_fullbody():
    assert len(REP155_JOINT_NAMES) == 20 and REP155_JOINT_NAMES[0] == "waist"
    assert REP155_JOINT_NAMES[4:8] == ("l_y_shoulder", "l_p_shoulder", "l_r_shoulder", "l_elbow")
    assert REP155_JOINT_NAMES[16:] == ("r_y_hip", "r_p_hip", "r_r_hip", "r_knee")


def test_rest_pose_is_all_zero():
    angles = rep155_joint_angles(skeleton_from_fk(urdf_fk({})))
    assert_allclose(angles, 0.0, atol=1e-9)


def test_angles_from_random_urdf_poses_are_recovered():
    rng = np.random.default_rng(4)
    rot = Rotation.from_rotvec([0.0, -0.8, 0.0]).as_matrix() @ np.array([[0, 1, 0], [0, 0, -1], [-1, 0, 0.0]])
    for _ in range(300):
        q = {}
        for s in "lr":  # inside the URDF limits, away from the singular configurations (straight limb, arm down)
            q[f"{s}_y_shoulder"] = rng.uniform(-1.1, 1.9)
            q[f"{s}_p_shoulder"] = rng.uniform(0.2, 3.0)
            q[f"{s}_r_shoulder"] = rng.uniform(-1.7, 1.5)
            q[f"{s}_elbow"] = rng.uniform(0.2, 2.5)
            q[f"{s}_y_hip"] = rng.uniform(-0.1, 0.6)
            q[f"{s}_p_hip"] = rng.uniform(-0.4, 1.2)
            q[f"{s}_r_hip"] = rng.uniform(-0.4, 0.7)
            q[f"{s}_knee"] = rng.uniform(-2.5, -0.2)
        pts = urdf_fk(q)
        got = as_dict(rep155_joint_angles(skeleton_from_fk(pts, rot)))
        for name, value in q.items():
            assert got[name] == pytest.approx(value, abs=1e-7), name
        assert_allclose(segments(urdf_fk(got)), segments(pts), atol=1e-7)


def test_singular_poses_still_reproduce_the_limbs():
    rng = np.random.default_rng(5)
    for _ in range(100):
        q = {f"{s}_{j}": rng.uniform(*LIMITS[j]) for s in "lr" for j in LIMITS}
        for s in "lr":
            q[f"{s}_elbow"] = q[f"{s}_knee"] = 0.0  # straight limbs: twist unobservable
        pts = urdf_fk(q)
        got = as_dict(rep155_joint_angles(skeleton_from_fk(pts)))
        assert_allclose(segments(urdf_fk(got)), segments(pts), atol=1e-7)
        assert got["l_r_shoulder"] == got["r_r_shoulder"] == got["l_y_hip"] == got["r_y_hip"] == 0.0


@pytest.mark.parametrize("side", ["l", "r"])
def test_known_arm_poses(side):
    sign = 1 if side == "l" else -1
    pts = urdf_fk({})
    sh = pts[f"{side}_y_shoulder"]
    # arm straight out to the side, horizontal: pure abduction of 90 degrees on either side
    pts[f"{side}_elbow"], pts[f"{side}_wrist"] = sh + (0, sign * UPPER, 0), sh + (0, sign * (UPPER + FORE), 0)
    got = as_dict(rep155_joint_angles(skeleton_from_fk(pts)))
    assert (got[f"{side}_p_shoulder"], got[f"{side}_y_shoulder"]) == (pytest.approx(math.pi / 2), pytest.approx(0))
    assert got[f"{side}_elbow"] == pytest.approx(0.0, abs=1e-9)
    # upper arm down, forearm forward: elbow flexed 90 degrees, no roll
    pts[f"{side}_elbow"], pts[f"{side}_wrist"] = sh + (0, 0, -UPPER), sh + (FORE, 0, -UPPER)
    got = as_dict(rep155_joint_angles(skeleton_from_fk(pts)))
    assert got[f"{side}_elbow"] == pytest.approx(math.pi / 2)
    assert got[f"{side}_p_shoulder"] == pytest.approx(0.0, abs=1e-9)
    assert got[f"{side}_r_shoulder"] == pytest.approx(0.0, abs=1e-9)


def test_arm_hanging_slightly_backward_stays_inside_the_limits():
    pts = urdf_fk({})
    sh = pts["l_y_shoulder"]
    d = np.array([-0.05, -0.02, -1.0]) / np.linalg.norm([-0.05, -0.02, -1.0])  # behind and toward the body
    pts["l_elbow"], pts["l_wrist"] = sh + UPPER * d, sh + UPPER * d + (0.1, 0, -0.2)
    got = as_dict(rep155_joint_angles(skeleton_from_fk(pts)))
    for j in ("y_shoulder", "p_shoulder", "r_shoulder", "elbow"):
        lo, hi = LIMITS[j]
        assert lo <= got[f"l_{j}"] <= hi, (j, got[f"l_{j}"])
    assert got["l_p_shoulder"] < 0
    assert_allclose(segments(urdf_fk(got))[:2], segments(pts)[:2], atol=1e-7)


def test_known_leg_poses():
    pts = urdf_fk({})
    hip = pts["l_y_hip"]
    # sitting: thigh forward, shank down -> hip flexion +90 (r_hip about -y), knee -90
    pts["l_knee"], pts["l_ankle"] = hip + (THIGH, 0, 0), hip + (THIGH, 0, -TIBIA)
    got = as_dict(rep155_joint_angles(skeleton_from_fk(pts)))
    assert got["l_r_hip"] == pytest.approx(math.pi / 2)
    assert got["l_knee"] == pytest.approx(-math.pi / 2)
    assert got["l_p_hip"] == pytest.approx(0.0, abs=1e-9) and got["l_y_hip"] == pytest.approx(0.0, abs=1e-9)
    # kneeling on the left knee: thigh down, shank backward -> knee -90, hip straight
    pts["l_knee"], pts["l_ankle"] = hip + (0, 0, -THIGH), hip + (-TIBIA, 0, -THIGH)
    got = as_dict(rep155_joint_angles(skeleton_from_fk(pts)))
    assert (got["l_knee"], got["l_r_hip"]) == (pytest.approx(-math.pi / 2), pytest.approx(0.0, abs=1e-9))


def test_head_pitch_and_roll():
    pts = urdf_fk({})
    j = skeleton_from_fk(pts, rotation=np.eye(3), origin=(0, 0, 0))  # body frame = camera frame here
    neck = j[J["neck"]]
    j[J["head"]] = neck + 0.2 * np.array([math.sin(0.3), 0, math.cos(0.3)])  # leaning the head forward
    got = as_dict(rep155_joint_angles(j))
    assert got["p_head"] == pytest.approx(-0.3) and got["r_head"] == pytest.approx(0.0, abs=1e-9)  # p_head is about -y
    j[J["head"]] = neck + 0.2 * np.array([0, math.sin(0.2), math.cos(0.2)])  # tilted toward the left shoulder
    got = as_dict(rep155_joint_angles(j))
    assert got["r_head"] == pytest.approx(-0.2) and got["y_head"] == 0.0 and got["waist"] == 0.0


def test_missing_joints_give_nan_and_the_body_state_keeps_the_last_value():
    q = {"l_p_shoulder": 1.0, "l_elbow": 0.5, "l_y_shoulder": 0.3}
    j = skeleton_from_fk(urdf_fk(q))
    body = Rep155Body()
    _, first = body.update(j)
    j[J["left_elbow"]] = np.nan
    raw = rep155_joint_angles(j)
    assert np.isnan(raw[[A["l_y_shoulder"], A["l_p_shoulder"], A["l_r_shoulder"], A["l_elbow"]]]).all()
    assert np.isfinite(raw[[A["r_elbow"], A["l_knee"]]]).all()
    frame, filled = body.update(j)
    assert frame is not None and np.isfinite(filled).all()
    assert filled[A["l_p_shoulder"]] == pytest.approx(1.0) and filled[A["l_elbow"]] == pytest.approx(0.5)
    assert_allclose(filled, first, atol=1e-9)
    assert np.isnan(rep155_joint_angles(np.full((16, 3), np.nan))).all()
    assert_allclose(Rep155Body().update(np.full((16, 3), np.nan))[1], 0.0)  # nothing known yet: the rest pose


def test_skeleton2d_mapping_and_normalisation():
    rng = np.random.default_rng(2)
    pix = rng.uniform(0, 400, size=(16, 2))
    conf = rng.uniform(0.3, 1.0, size=16)
    pix[J["left_knee"]] = (700, 50)  # right of a 640-wide image
    pix[J["right_ankle"]] = np.nan
    pts = skeleton2d_points(pix, conf, 640, 480)
    assert pts.shape == (18, 3)
    # hri_msgs constants: NECK=1, RIGHT_SHOULDER=2, LEFT_WRIST=7, RIGHT_HIP=8, RIGHT_ANKLE=10, LEFT_KNEE=12
    assert_allclose(pts[1], (*(pix[J["neck"]] / (640, 480)), conf[J["neck"]]))
    assert_allclose(pts[2], (*(pix[J["right_shoulder"]] / (640, 480)), conf[J["right_shoulder"]]))
    assert_allclose(pts[7], (*(pix[J["left_wrist"]] / (640, 480)), conf[J["left_wrist"]]))
    assert_allclose(pts[8], (*(pix[J["right_hip"]] / (640, 480)), conf[J["right_hip"]]))
    assert_allclose(pts[12], (1.0, 50 / 480, 0.0))  # clipped, and outside the image: confidence 0
    assert_allclose(pts[10], 0.0)
    for k in (0, 14, 15, 16, 17):  # nose, eyes, ears: not in pose3d16
        assert_allclose(pts[k], 0.0)
    assert (pts[:, :2] >= 0).all() and (pts[:, :2] <= 1).all()


def test_roi_contains_the_joints_and_is_padded():
    pix = np.full((16, 2), np.nan)
    pix[J["head"]], pix[J["left_ankle"]], pix[J["right_wrist"]] = (300, 100), (340, 400), (250, 250)
    conf = np.ones(16)
    xmin, ymin, xmax, ymax = body_roi(pix, conf, 640, 480, margin=0.1)
    assert_allclose((xmin, xmax), ((250 - 9) / 640, (340 + 9) / 640))
    assert_allclose((ymin, ymax), ((100 - 30 - 30) / 480, (400 + 30) / 480))  # extra margin above the head
    assert body_roi(pix, conf, 640, 480, margin=10.0) == (0.0, 0.0, 1.0, 1.0)
    one = np.full((16, 2), np.nan)
    one[0] = (10, 10)
    assert body_roi(one, conf, 640, 480) is None
    with pytest.raises(ValueError, match="image size"):
        body_roi(pix, conf, 0, 480)
    with pytest.raises(ValueError, match=r"\(16, 2\)"):
        skeleton2d_points(np.zeros((17, 2)), conf, 640, 480)
