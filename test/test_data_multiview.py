"""Tests for pose3d_ros.data.multiview: Qualisys calibration reading, projection, DLT and robust triangulation."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.data import multiview as mv


def _look_at(centre: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World->camera R, t (OpenCV axes) for a camera at ``centre`` looking at ``target``, world z up."""
    z = target - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    R = np.stack([x, np.cross(z, x), z])
    return R, -R @ centre


def _rig(n: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    K, R, t = [], [], []
    for i in range(n):
        a = 2 * np.pi * i / n + rng.uniform(-0.2, 0.2)
        Ri, ti = _look_at(np.array([4 * np.cos(a), 4 * np.sin(a), 1.8 + rng.uniform(-0.2, 0.2)]),
                          np.array([0.0, 0.0, 1.0]))
        K.append([[1700.0 + rng.uniform(-50, 50), 0, 540], [0, 1700.0, 960], [0, 0, 1]])
        R.append(Ri)
        t.append(ti)
    return np.array(K), np.array(R), np.array(t)


def _observe(K, R, t, X):
    return np.stack([mv.project(X, K[c], None, R[c], t[c])[0] for c in range(len(K))])


def test_dlt_recovers_known_points():
    K, R, t = _rig()
    X = np.random.default_rng(1).uniform([-1, -1, 0], [1, 1, 2], size=(20, 3))
    P = mv.projection_matrices(K, R, t)
    assert_allclose(mv.triangulate_dlt(P, _observe(K, R, t, X)), X, atol=1e-6)
    # a view with zero weight is ignored; fewer than two views -> NaN
    w = np.ones((4, 20))
    w[1:, 0] = 0.0
    out = mv.triangulate_dlt(P, _observe(K, R, t, X), w)
    assert np.isnan(out[0]).all() and np.allclose(out[1:], X[1:], atol=1e-6)


def test_robust_rejects_outlier_view():
    K, R, t = _rig()
    rng = np.random.default_rng(2)
    X = rng.uniform([-1, -1, 0], [1, 1, 2], size=(10, 3))
    uv = _observe(K, R, t, X) + rng.normal(0, 0.5, size=(4, 10, 2))
    uv[2, :5] += 60.0  # camera 3 badly wrong for the first five points
    P = mv.projection_matrices(K, R, t)
    res = mv.triangulate_robust(P, uv, np.ones((4, 10), bool), gate_px=15.0)
    assert res.valid.all()
    assert not res.used[2, :5].any() and res.used[:, 5:].all()
    assert (res.max_err < 15.0).all()
    assert_allclose(res.points, X, atol=0.02)
    # the plain DLT with the outlier is far off
    assert np.linalg.norm(mv.triangulate_dlt(P, uv)[:5] - X[:5], axis=1).min() > 0.02
    # leave-one-view-out style: a view masked out is never used
    ok = np.ones((4, 10), bool)
    ok[0] = False
    assert not mv.triangulate_robust(P, uv, ok, 15.0).used[0].any()


def test_robust_invalid_when_views_disagree():
    K, R, t = _rig(n=2)
    X = np.array([[0.0, 0.0, 1.0]])
    uv = _observe(K, R, t, X)
    uv[1, 0, 1] += 80.0  # vertical offset: off the epipolar line
    res = mv.triangulate_robust(mv.projection_matrices(K, R, t), uv, np.ones((2, 1), bool), 15.0)
    assert not res.valid[0] and np.isnan(res.points[0]).all()


def test_distortion_roundtrip():
    K, R, t = _rig(n=1)
    dist = np.array([-0.05, 0.13, 0.001, -0.0005, 0.0])
    X = np.random.default_rng(3).uniform([-1, -1, 0], [1, 1, 2], size=(30, 3))
    uv_d, z = mv.project(X, K[0], dist, R[0], t[0])
    assert (z > 0).all()
    assert_allclose(mv.undistort_points(uv_d, K[0], dist), mv.project(X, K[0], None, R[0], t[0])[0], atol=1e-6)


def _qca_text(K, R, t, dist) -> str:
    """A Qualisys file written the way pose2sim reads it (R = Rx(pi) @ M, C = x, y, z in mm, 1/64 px units)."""
    cams = []
    for c in range(len(K)):
        M = np.diag([1.0, -1.0, -1.0]) @ R[c]
        C = -R[c].T @ t[c] * 1000
        rot = " ".join(f'r{i + 1}{j + 1}="{float(M[i, j])!r}"' for i in range(3) for j in range(3))
        cams.append(
            f'<camera serial="cam{c + 1:02d}"><fov_video left="0" top="0" right="1087" bottom="1919"/>'
            f'<transform {rot} x="{float(C[0])!r}" y="{float(C[1])!r}" z="{float(C[2])!r}"/>'
            f'<intrinsic focalLengthU="{float(K[c, 0, 0]) * 64!r}" focalLengthV="{float(K[c, 1, 1]) * 64!r}" '
            f'centerPointU="{float(K[c, 0, 2]) * 64!r}" centerPointV="{float(K[c, 1, 2]) * 64!r}" '
            f'radialDistortion1="{dist[0]}" radialDistortion2="{dist[1]}" radialDistortion3="0" '
            f'tangentalDistortion1="{dist[2]}" tangentalDistortion2="{dist[3]}"/></camera>')
    return f'<?xml version="1.0"?><calibration><cameras>{"".join(cams)}</cameras></calibration>'


def test_read_qca_pose2sim_convention(tmp_path):
    K, R, t = _rig(seed=4)
    path = tmp_path / "Calib.qca.txt"
    path.write_text(_qca_text(K, R, t, [-0.04, 0.12, 0.0006, 0.0007]))
    cams = mv.read_qca(path)
    assert [c.name for c in cams] == ["cam01", "cam02", "cam03", "cam04"] and cams[0].image_size == (1088, 1920)
    for c, cam in enumerate(cams):
        Kc, dc, Rc, tc = mv.qca_to_opencv(cam, mv.POSE2SIM_CONVENTION)
        assert_allclose(Kc, K[c], atol=1e-9)
        assert_allclose(Rc, R[c], atol=1e-12)
        assert_allclose(tc, t[c], atol=1e-12)
        assert_allclose(dc, np.array([-0.04, 0.12, 0.0006, 0.0007, 0.0]) / 64)
    # another convention gives another camera (points would land behind it or elsewhere)
    Rw = mv.qca_to_opencv(cams[0], mv.QcaConvention(rotation="transposed"))[2]
    assert not np.allclose(Rw, R[0], atol=1e-3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mv.triangulate_dlt(np.zeros((3, 3, 4)), np.zeros((2, 5, 2))), r"uv must have shape \(V=3"),
        (lambda: mv.triangulate_dlt(np.zeros((2, 4, 3)), np.zeros((2, 5, 2))), r"P must have shape \(V, 3, 4\)"),
        (lambda: mv.triangulate_robust(np.zeros((2, 3, 4)), np.zeros((2, 5, 2)), np.ones((2, 5), bool), -1.0),
         "gate_px must be > 0"),
        (lambda: mv.triangulate_robust(np.zeros((2, 3, 4)), np.zeros((2, 5, 2)), np.ones((3, 5), bool), 15.0),
         r"need P \(V>=2, 3, 4\), uv \(V, N, 2\), ok \(V, N\)"),
        (lambda: mv.projection_matrices(np.eye(3), np.eye(3), np.zeros(3)), "expected K, R of shape"),
        (lambda: mv.qca_to_opencv(None, mv.QcaConvention(position="nowhere")), "unknown convention"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_read_qca_bad_files(tmp_path):
    bad = tmp_path / "bad.qca.txt"
    bad.write_text("not xml at all")
    with pytest.raises(ValueError, match="not an XML calibration file"):
        mv.read_qca(bad)
    bad.write_text("<calibration><cameras/></calibration>")
    with pytest.raises(ValueError, match="no cameras/camera entries"):
        mv.read_qca(bad)
    bad.write_text('<calibration><cameras><camera serial="c1"><fov_video left="0" top="0" right="9" bottom="9"/>'
                   '<transform r11="x"/><intrinsic/></camera></cameras></calibration>')
    with pytest.raises(ValueError, match="camera c1 has a missing or non-numeric attribute"):
        mv.read_qca(bad)


def test_refine_extrinsics_recovers_perturbed_camera():
    K, R, t = _rig(seed=5)
    rng = np.random.default_rng(6)
    X = rng.uniform([-1, -1, 0], [1, 1, 2], size=(200, 3))
    uv = _observe(K, R, t, X) + rng.normal(0, 0.3, size=(4, 200, 2))
    Rp, tp = R.copy(), t.copy()
    c, s = np.cos(0.02), np.sin(0.02)  # camera 3 off by ~1.1 degree and 5 cm
    Rp[2] = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]) @ R[2]
    tp[2] = t[2] + [0.05, 0.0, 0.0]
    P = mv.projection_matrices(K, Rp, tp)
    before = np.nanmedian(mv.reprojection_errors(P, mv.triangulate_dlt(P, uv), uv))
    R1, t1, info = mv.refine_extrinsics(K, Rp, tp, uv, np.ones((4, 200), bool), mv.triangulate_dlt(P, uv))
    P1 = mv.projection_matrices(K, R1, t1)
    after = np.nanmedian(mv.reprojection_errors(P1, mv.triangulate_dlt(P1, uv), uv))
    assert before > 3.0 and after < 0.5 and info["median_residual_px"][1] < 0.5
    # the gauge is the starting cameras' centres: the corrected rig lies close to the true one
    centres = np.einsum("cji,cj->ci", R1, -t1)
    assert np.abs(centres - np.einsum("cji,cj->ci", R, -t)).max() < 0.05
    with pytest.raises(ValueError, match="finite X0"):
        mv.refine_extrinsics(K, R, t, uv, np.ones((4, 200), bool), np.full((200, 3), np.nan))


def test_detection_pair_cost_matches_people():
    K, R, t = _rig(n=2, seed=7)
    rng = np.random.default_rng(8)
    people = [rng.uniform([-1, -1, 0], [1, 1, 2], size=(12, 3)) for _ in range(2)]
    uv = np.stack([_observe(K, R, t, X) for X in people], axis=1)  # (V=2, D=2, J=12, 2)
    ok = np.ones((2, 2, 12), bool)
    ok[1, 1, :8] = False  # view 2's second detection: too few usable joints
    e, cost = mv.detection_pair_cost(mv.projection_matrices(K, R, t), uv[0], uv[1], ok[0], ok[1])
    assert e.shape == (2, 2, 12) and cost.shape == (2, 2)
    assert cost[0, 0] < 1e-6 and cost[1, 0] > 10.0 and np.isinf(cost[:, 1]).all()
