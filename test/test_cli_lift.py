"""End-to-end tests of `pose3d-ros lift` and `pose3d-ros train-prior` through the CLI entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pose3d_ros.cli import main
from pose3d_ros.core.camera import PinholeCamera, save_camera_yaml
from pose3d_ros.core.prior import PosePrior, rotate_y
from pose3d_ros.core.skeleton import JOINT_NAMES, get_layout
from pose3d_ros.data.deepmimic import load_mocap_clips

CAM = PinholeCamera.default(640, 480)
COCO_FROM_POSE3D16 = {"left_shoulder": 4, "right_shoulder": 7, "left_elbow": 5, "right_elbow": 8, "left_wrist": 6,
                      "right_wrist": 9, "left_hip": 10, "right_hip": 13, "left_knee": 11, "right_knee": 14,
                      "left_ankle": 12, "right_ankle": 15}  # fmt: skip


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    """Two walking people 3 m and 4 m in front of the camera, (2, 16, 3) metres."""
    walk = load_mocap_clips()["walk"].astype(np.float64)[[0, 20]]
    walk = rotate_y(walk - walk[:, :1], np.array([0.4, 2.5]))
    return walk + np.array([[[-0.6, 0.1, 3.0]], [[0.7, 0.2, 4.0]]])


def _pixels(points: np.ndarray) -> np.ndarray:
    return points[..., :2] / points[..., 2:] * [CAM.fx, CAM.fy] + [CAM.cx, CAM.cy]


def _coco_people(scene: np.ndarray) -> list[dict]:
    pix = _pixels(scene)
    people = []
    for p in range(len(scene)):
        joints = {name: [float(pix[p, j, 0]), float(pix[p, j, 1]), 0.9] for name, j in COCO_FROM_POSE3D16.items()}
        joints["nose"] = [float(pix[p, 3, 0]), float(pix[p, 3, 1]), 0.8]  # head centre stands in for the nose
        people.append({"pixels": joints})
    return people


def _read(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_lift_jsonl_gives_metric_camera_frame_skeletons(tmp_path, scene):
    src = tmp_path / "2d.jsonl"
    src.write_text(json.dumps({"frame": 7, "people": _coco_people(scene)}) + "\n"
                   + json.dumps({"frame": 8, "people": []}) + "\n")
    save_camera_yaml(tmp_path / "cam.yaml", CAM, "rgb")
    out = tmp_path / "3d.jsonl"
    rc = main(["lift", "--input", str(src), "--layout", "coco17", "--camera-info", str(tmp_path / "cam.yaml"),
               "--output", str(out)])
    assert rc == 0
    lines = _read(out)
    assert [d["frame"] for d in lines] == [7, 8] and lines[1]["skeletons"] == []
    skeletons = lines[0]["skeletons"]
    assert len(skeletons) == 2 and set(skeletons[0]["joints"]) == set(JOINT_NAMES)
    for p, skel in enumerate(skeletons):
        pose = np.array([skel["joints"][n] for n in JOINT_NAMES])
        # metric depth from the prior's body size: within 15 % of the truth, and the 2D is reproduced
        assert pose[0, 2] == pytest.approx(scene[p, 0, 2], rel=0.15)
        assert np.abs(_pixels(pose)[[4, 7, 10, 13]] - _pixels(scene[p])[[4, 7, 10, 13]]).max() < 15.0


def test_lift_openpose_directory_body25(tmp_path, scene):
    op = get_layout("openpose18")
    pix = _pixels(scene[0])
    kp = np.zeros((25, 3))
    body25_of = {"neck": 1, "right_shoulder": 2, "right_elbow": 3, "right_wrist": 4, "left_shoulder": 5,
                 "left_elbow": 6, "left_wrist": 7, "right_hip": 9, "right_knee": 10, "right_ankle": 11,
                 "left_hip": 12, "left_knee": 13, "left_ankle": 14}  # fmt: skip
    for name, b25 in body25_of.items():
        if name in COCO_FROM_POSE3D16:
            kp[b25] = [*pix[COCO_FROM_POSE3D16[name]], 0.9]
    assert "neck" in op.names
    (tmp_path / "op").mkdir()
    for i in range(2):
        (tmp_path / "op" / f"f{i:03d}_keypoints.json").write_text(
            json.dumps({"people": [{"pose_keypoints_2d": kp.ravel().tolist()}]}))
    out = tmp_path / "3d.jsonl"
    assert main(["lift", "--input", str(tmp_path / "op"), "--output", str(out)]) == 0
    lines = _read(out)
    assert len(lines) == 2 and all(len(d["skeletons"]) == 1 for d in lines)
    assert all(np.isfinite(v).all() for d in lines for v in d["skeletons"][0]["joints"].values())


@pytest.mark.parametrize(("content", "message"), [
    ('{"frame": 0, "people": [{"pixels": {"tail": [1, 2, 1]}}]}', "not in layout"),
    ('{"frame": 0, "people": [{"pixels": {"nose": "x"}}]}', "needs"),
    ("not json", "not a frame object"),
])  # fmt: skip
def test_lift_rejects_malformed_input_with_a_message(tmp_path, capsys, content, message):
    src = tmp_path / "bad.jsonl"
    src.write_text(content + "\n")
    assert main(["lift", "--input", str(src), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert message in capsys.readouterr().err


def test_lift_with_depth_marks_measured_joints(tmp_path, scene):
    from pose3d_ros.core.depth import simulate_kinect_depth

    depth = simulate_kinect_depth(scene, CAM, np.random.default_rng(0), noise=False, hole_fraction=0.0)
    (tmp_path / "depth").mkdir()
    np.save(tmp_path / "depth" / "000.npy", depth.astype(np.float32))
    src = tmp_path / "2d.jsonl"
    src.write_text(json.dumps({"frame": 0, "people": _coco_people(scene)}) + "\n")
    out = tmp_path / "3d.jsonl"
    assert main(["lift", "--input", str(src), "--depth", str(tmp_path / "depth"), "--output", str(out)]) == 0
    skel = _read(out)[0]["skeletons"][0]
    assert sum(skel["measured"].values()) >= 8
    pose = np.array([skel["joints"][n] for n in JOINT_NAMES])
    assert np.linalg.norm(pose - scene[0], axis=-1).mean() < 0.08


def test_lift_precise_2d_runs_the_bone_length_refinement(tmp_path, scene):
    src = tmp_path / "2d.jsonl"
    src.write_text(json.dumps({"frame": 0, "people": _coco_people(scene)}) + "\n")
    poses = {}
    for flag in ([], ["--precise-2d"]):
        out = tmp_path / f"3d{len(flag)}.jsonl"
        assert main(["lift", "--input", str(src), "--output", str(out), *flag]) == 0
        skel = _read(out)[0]["skeletons"][0]
        poses[len(flag)] = np.array([skel["joints"][n] for n in JOINT_NAMES])
    assert np.isfinite(poses[1]).all()
    assert np.abs(poses[1] - poses[0]).max() > 0.01
    # the refined skeleton has the prior's bone proportions: left and right limbs equally long
    from pose3d_ros.core.prior import bone_lengths

    bones = bone_lengths(poses[1][None])[0]
    assert bones[4] == pytest.approx(bones[7], rel=0.1) and bones[10] == pytest.approx(bones[13], rel=0.1)


def test_train_prior_from_jsonl_and_csv(tmp_path):
    walk = load_mocap_clips()["walk"].astype(np.float64)
    with (tmp_path / "rec.jsonl").open("w") as fh:
        for i, pose in enumerate(walk):
            fh.write(json.dumps({"frame": i, "skeletons": [{"id": 0, "joints": {
                n: pose[j].tolist() for j, n in enumerate(JOINT_NAMES)}}]}) + "\n")
    np.savetxt(tmp_path / "rec.csv", walk.reshape(len(walk), -1), delimiter=",",
               header=",".join(f"{n}_{a}" for n in JOINT_NAMES for a in "xyz"))
    out = tmp_path / "prior.npz"
    rc = main(["train-prior", "--data", str(tmp_path / "rec.jsonl"), str(tmp_path / "rec.csv"), "--components", "2",
               "--bases", "4", "--augment", "400", "--max-iter", "10", "--output", str(out)])
    assert rc == 0
    prior = PosePrior.load(out)
    assert prior.means_.shape == (2, 16, 3) and prior.components_.shape == (2, 4, 48)


def test_train_prior_without_data_fails_cleanly(tmp_path, capsys):
    assert main(["train-prior", "--output", str(tmp_path / "p.npz")]) == 2
    assert "no training data" in capsys.readouterr().err


def test_train_prior_on_shipped_takes_holds_out_the_test_takes(tmp_path, capsys):
    out = tmp_path / "prior.npz"
    rc = main(["train-prior", "--mocap", "deepmimic", "--components", "2", "--bases", "4", "--augment", "0",
               "--max-iter", "5", "--output", str(out)])
    assert rc == 0
    log = capsys.readouterr().out
    assert "left out: cmu_01_03" in log and "deepmimic_walk," not in log.split("left out")[0]
    assert PosePrior.load(out).means_.shape == (2, 16, 3)


def test_train_prior_warns_when_data_are_few_for_k_by_b(tmp_path, capsys):
    walk = load_mocap_clips()["walk"].astype(np.float64)[:40]
    np.savetxt(tmp_path / "few.csv", walk.reshape(len(walk), -1), delimiter=",")
    rc = main(["train-prior", "--data", str(tmp_path / "few.csv"), "--components", "3", "--bases", "4",
               "--augment", "0", "--max-iter", "3", "--output", str(tmp_path / "p.npz")])
    assert rc == 0
    assert "are few for K=3 x B=4" in capsys.readouterr().err


def test_train_prior_refuses_unknown_take_names(tmp_path, capsys):
    rc = main(["train-prior", "--mocap", "all", "--exclude-takes", "no_such_take", "--output", str(tmp_path / "p")])
    assert rc == 2
    assert "unknown takes ['no_such_take']" in capsys.readouterr().err
