"""The CNN's own metric 3D (BlazePose world landmarks) in the final 3D stage (models/cpm_stages.py)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.core.camera import PinholeCamera
from pose3d_ros.core.lifting import PoseLifter
from pose3d_ros.core.prior import PosePrior, default_prior_path
from pose3d_ros.core.skeleton import BLAZEPOSE33, convert
from pose3d_ros.models.cpm_stages import PriorStages, StageParams
from pose3d_ros.models.frontend import People2D

CAM = PinholeCamera.default(640, 480)


@pytest.fixture(scope="module")
def lifter():
    return PoseLifter(PosePrior.load(default_prior_path()))


def _person(seed=0):
    """A standing BlazePose-33 person 3 m away: camera-frame joints, pixels, hip-centred 'world' landmarks."""
    rng = np.random.default_rng(seed)
    pts = np.zeros((33, 3))
    names = BLAZEPOSE33.names
    y = {"nose": -0.75, "eye": -0.78, "ear": -0.75, "mouth": -0.7, "shoulder": -0.5, "elbow": -0.22, "wrist": 0.02,
         "pinky": 0.08, "index": 0.1, "thumb": 0.06, "hip": 0.0, "knee": 0.42, "ankle": 0.82, "heel": 0.85,
         "foot": 0.86}
    for i, n in enumerate(names):
        part = next(k for k in y if k in n)
        side = 1 if n.startswith("left") else -1 if n.startswith("right") else 0
        widths = {"shoulder": 0.19, "elbow": 0.22, "wrist": 0.24, "hip": 0.1, "knee": 0.11, "ankle": 0.11}
        width = widths.get(part, 0.12)
        pts[i] = (side * width, y[part], 0.0)
    pts += rng.normal(0, 0.005, pts.shape)
    cam_pts = pts + (0.0, 0.0, 3.0)
    world = pts - 0.5 * (pts[23] + pts[24])
    return cam_pts, CAM.project(cam_pts), world


def _run(lifter, weight, world, depth=None):
    _, px, _ = _person()
    people = People2D("blazepose33", px[None], np.ones((1, 33)), np.ones(1), None, world[None])
    stages = PriorStages(lifter, StageParams(n_stages=0, cnn_3d_weight=weight))
    return stages.run_people(people, CAM, depth)


def test_weight_zero_is_the_lift_alone_and_one_is_the_cnn_shape(lifter):
    cam_pts, _, world = _person()
    alone = _run(lifter, 0.0, world)
    full = _run(lifter, 1.0, world)
    w16, _ = convert(world, None, "blazepose33")
    assert_allclose(full.poses[0, 0], alone.poses[0, 0])  # the root (metric position) comes from the lift
    assert_allclose(full.poses[0] - full.poses[0, :1], w16 - w16[:1], atol=1e-9)
    half = _run(lifter, 0.5, world)
    assert_allclose(half.poses[0], 0.5 * (alone.poses[0] + full.poses[0]), atol=1e-9)


def test_people_measured_by_depth_keep_the_depth_fit(lifter):
    cam_pts, px, world = _person()
    depth = np.full((480, 640), np.nan, np.float32)
    for (u, v), z in zip(px.round().astype(int), cam_pts[:, 2], strict=True):
        depth[v - 3:v + 4, u - 3:u + 4] = z
    with_depth = _run(lifter, 0.0, world, depth)
    blended = _run(lifter, 1.0, world * 1.3, depth)  # a wrong CNN shape must not move a depth-measured person
    assert with_depth.measured.any()
    assert_allclose(blended.poses, with_depth.poses)


def test_bad_weight_or_non_finite_cnn_3d(lifter):
    with pytest.raises(ValueError, match="cnn_3d_weight"):
        StageParams(cnn_3d_weight=1.5)
    _, _, world = _person()
    bad = world.copy()
    bad[23] = np.nan  # a hip: no pelvis, no root-relative CNN pose
    alone = _run(lifter, 0.0, world)
    assert_allclose(_run(lifter, 0.7, bad).poses, alone.poses)  # no usable CNN 3D: the lift stands
