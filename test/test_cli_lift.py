"""End-to-end tests of `pose3d-ros lift` and `pose3d-ros train-prior` through the CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pose3d_ros.cli import main
from pose3d_ros.core.camera import PinholeCamera, save_camera_yaml
from pose3d_ros.core.prior import PosePrior, rotate_y
from pose3d_ros.core.skeleton import JOINT_NAMES, get_layout
from pose3d_ros.data.deepmimic import load_mocap_clips

CAM = PinholeCamera.default(640, 480)
REPO = Path(__file__).resolve().parents[1]
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


def test_lift_with_depth_marks_measured_joints(tmp_path, scene):
    from pose3d_ros.sim.kinect_depth import simulate_kinect_depth

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
    from pose3d_ros.core.skeleton import bone_lengths

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


# --- refusals and the output rule (issue 14 §1, §4) ------------------------------------------------------------

GOOD_LINE = '{"frame": 0, "people": []}'


def _one_line(err: str) -> str:
    """The single stderr line of a refusal (no traceback, nothing else)."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("content", "problem"), [
    ('{"people": 5}', "'people' must be a list of people, got int 5"),
    ('{"people": "abc"}', "'people' must be a list of people, got str 'abc'"),
    ('{"people": [1]}', 'people[0] must be an object {"pixels": {...}}, got int 1'),
    ('{"people": [{"pixels": [[1, 2, 1]]}]}', "people[0].pixels must be an object"),
    ('{"people": [{"pixels": 3}]}', "people[0].pixels must be an object"),
    ('{"frame": 1e400}', "'frame' must be an integer >= 0, got inf"),
    ('{"frame": 1.5}', "'frame' must be an integer >= 0, got 1.5"),
    ('{"frame": true}', "'frame' must be an integer >= 0, got True"),
    ('{"frame": -1}', "'frame' must be an integer >= 0, got -1"),
    ('{"people": [{"pixels": {"nose": [1, "a", 1]}}]}', "joint 'nose' needs [u, v(, conf)] numbers, got [1, 'a', 1]"),
    ('{"people": [{"pixels": {"nose": "x"}}]}', "joint 'nose' needs [u, v(, conf)] numbers"),
    ('{"people": [{"pixels": {"tail": [1, 2, 1]}}]}', "joint 'tail' is not in layout 'coco17'"),
    ("[1, 2]", "not a frame object: expected a JSON object, got list"),
    ("not json", "not a frame object (invalid JSON"),
])  # fmt: skip
def test_lift_refuses_a_malformed_line_naming_file_and_line(tmp_path, capsys, content, problem):
    src = tmp_path / "bad.jsonl"
    src.write_text(GOOD_LINE + "\n\n" + content + "\n")  # the bad line is line 3
    out = tmp_path / "o.jsonl"
    assert main(["lift", "--input", str(src), "--output", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"pose3d-ros lift: {src}:3: ") and problem in line, line
    assert not out.exists()  # refused before anything is written


@pytest.mark.parametrize(("doc", "problem"), [
    ({"people": [7]}, "people[0] must be an object with pose_keypoints_2d, got int 7"),
    ({"people": 3}, "'people' must be a list, got int 3"),
    ({"people": [{"pose_keypoints_2d": [1, 2]}]}, "people[0].pose_keypoints_2d has 2 numbers; expected 54"),
    ({"people": [{"pose_keypoints_2d": "abc"}]}, "people[0].pose_keypoints_2d must be a list of numbers"),
    ({"people": [{"pose_keypoints_2d": ["a"] * 54}]}, "people[0].pose_keypoints_2d must be a list of numbers"),
    ([1], "not an OpenPose JSON file: expected an object, got list"),
])  # fmt: skip
def test_lift_refuses_a_malformed_openpose_file_naming_it(tmp_path, capsys, doc, problem):
    (tmp_path / "op").mkdir()
    bad = tmp_path / "op" / "f001_keypoints.json"
    (tmp_path / "op" / "f000_keypoints.json").write_text('{"people": []}')
    bad.write_text(json.dumps(doc))
    assert main(["lift", "--input", str(tmp_path / "op"), "--output", str(tmp_path / "o.jsonl")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"pose3d-ros lift: {bad}: ") and problem in line, line


@pytest.mark.parametrize(("case", "problem"), [
    ("missing_directory", "directory {tmp}/nodir does not exist"),
    ("directory", "is a directory"),
    ("the_input", "is also the input; it would be overwritten"),
])  # fmt: skip
def test_lift_refuses_an_output_it_cannot_write(tmp_path, capsys, case, problem):
    src = tmp_path / "2d.jsonl"
    src.write_text(GOOD_LINE + "\n")
    out = {"missing_directory": tmp_path / "nodir" / "3d.jsonl", "directory": tmp_path, "the_input": src}[case]
    assert main(["lift", "--input", str(src), "--output", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"pose3d-ros lift: {out}: {problem.replace('{tmp}', str(tmp_path))}"), line
    assert src.read_text() == GOOD_LINE + "\n" and not (tmp_path / "nodir").exists()


def test_lift_refuses_depth_of_another_size_than_the_camera(tmp_path, capsys, scene):
    (tmp_path / "depth").mkdir()
    np.save(tmp_path / "depth" / "000.npy", np.full((240, 320), 3.0, np.float32))
    src = tmp_path / "2d.jsonl"
    src.write_text(json.dumps({"frame": 0, "people": _coco_people(scene)}) + "\n")
    out = tmp_path / "3d.jsonl"
    assert main(["lift", "--input", str(src), "--depth", str(tmp_path / "depth"), "--output", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line == (f"pose3d-ros lift: {tmp_path / 'depth' / '000.npy'}: depth is 320x240 but the camera is 640x480 "
                    "(depth must be registered to the colour image)")
    assert not out.exists()


def test_lift_refuses_fewer_depth_images_than_frames(tmp_path, capsys):
    (tmp_path / "depth").mkdir()
    np.save(tmp_path / "depth" / "000.npy", np.full((480, 640), 3.0, np.float32))
    src = tmp_path / "2d.jsonl"
    src.write_text(GOOD_LINE + "\n" + GOOD_LINE.replace("0", "1") + "\n")
    assert main(["lift", "--input", str(src), "--depth", str(tmp_path / "depth"), "--output",
                 str(tmp_path / "o.jsonl")]) == 2  # fmt: skip
    line = _one_line(capsys.readouterr().err)
    assert line == f"pose3d-ros lift: {tmp_path / 'depth'}: 1 depth images for 2 frames of {src}"


@pytest.mark.parametrize(("option", "value", "problem"), [
    ("--width", "0", "must be >= 1"),
    ("--height", "-480", "must be >= 1"),
    ("--min-confidence", "nan", "must be in [0, 1]"),
])  # fmt: skip
def test_lift_option_values_are_refused_by_argparse(tmp_path, capsys, option, value, problem):
    src = tmp_path / "2d.jsonl"
    src.write_text(GOOD_LINE + "\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["lift", "--input", str(src), "--output", str(tmp_path / "o.jsonl"), option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"argument {option}: {problem}" in err, err


def _strict(path) -> list[dict]:
    """The JSONL lines, refusing NaN / Infinity (not JSON)."""
    def refuse(token):
        raise AssertionError(f"{token} in the output")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def test_lift_writes_only_finite_joints_in_front_of_the_camera(tmp_path, scene):
    """Degenerate and absurd 2D (all joints on one pixel, scattered over +-1e6 px, NaN) lift to nothing usable: the
    frames are still written, with no skeleton that is non-finite, behind the camera or absurdly far."""
    rng = np.random.default_rng(0)
    names = get_layout("coco17").names

    def person(pix: np.ndarray) -> dict:
        return {"pixels": {n: [float(pix[j, 0]), float(pix[j, 1]), 0.9] for j, n in enumerate(names)}}

    frames = [
        [person(np.full((17, 2), 320.0) + rng.normal(0, 1e-9, (17, 2)))],
        [person(rng.uniform(-1e6, 1e6, (17, 2))) for _ in range(4)],
        [person(rng.uniform(-1e300, 1e300, (17, 2)))],
        _coco_people(scene),
    ]
    src = tmp_path / "2d.jsonl"
    src.write_text("".join(json.dumps({"frame": i, "people": p}) + "\n" for i, p in enumerate(frames)))
    src.write_text(src.read_text() + '{"frame": 4, "people": [{"pixels": {"nose": [NaN, 1, 1]}}]}\n')
    out = tmp_path / "3d.jsonl"
    assert main(["lift", "--input", str(src), "--output", str(out)]) == 0
    docs = _strict(out)
    assert [d["frame"] for d in docs] == [0, 1, 2, 3, 4]
    assert len(docs[3]["skeletons"]) == 2  # the real people still come through
    for d in docs:
        for skel in d["skeletons"]:
            pose = np.array([skel["joints"][n] for n in JOINT_NAMES])
            assert np.isfinite(pose).all() and (pose[:, 2] > 0).all() and (pose[:, 2] < 1000).all(), d["frame"]
    assert sum(d.get("dropped", 0) for d in docs) >= 1  # the lifter does output such poses; the command drops them


def test_lift_writes_a_record_for_a_frame_whose_depth_is_unreadable(tmp_path, capsys, scene):
    from pose3d_ros.sim.kinect_depth import simulate_kinect_depth

    depth = simulate_kinect_depth(scene, CAM, np.random.default_rng(0), noise=False, hole_fraction=0.0)
    (tmp_path / "depth").mkdir()
    np.save(tmp_path / "depth" / "000.npy", depth.astype(np.float32))
    (tmp_path / "depth" / "001.png").write_bytes(b"\x89PNG not really")
    src = tmp_path / "2d.jsonl"
    people = _coco_people(scene)
    src.write_text(json.dumps({"frame": 0, "people": people}) + "\n" + json.dumps({"frame": 1, "people": people}))
    out = tmp_path / "3d.jsonl"
    assert main(["lift", "--input", str(src), "--depth", str(tmp_path / "depth"), "--output", str(out)]) == 0
    docs = _strict(out)
    assert len(docs[0]["skeletons"]) == 2 and "error" not in docs[0]
    assert docs[1]["skeletons"] == [] and docs[1]["error"].startswith(f"{tmp_path / 'depth' / '001.png'}: unreadable")
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"warning: frame 1: {tmp_path / 'depth' / '001.png'}: unreadable" in err


def test_lift_refusal_from_a_shell_has_no_traceback(tmp_path):
    src = tmp_path / "2d.jsonl"
    src.write_text('{"people": [{"pixels": [[1, 2, 1]]}]}\n')
    proc = subprocess.run([sys.executable, "-m", "pose3d_ros.cli", "lift", "--input", str(src), "--output",
                           str(tmp_path / "o.jsonl")], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().startswith(f"pose3d-ros lift: {src}:1: people[0].pixels must be an object")
