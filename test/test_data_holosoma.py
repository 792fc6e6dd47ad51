"""Tests for pose3d_ros.data.holosoma (climbing joint arrays) and pose3d_ros.data.walker (pybullet walker clips).

Synthetic ``.npy`` files check the joint map, axes, grounding and every malformed-file case; the real files are
used only where present: the holosoma wheel unpacked under ``$POSE3D_HOLOSOMA_ROOT`` (or installed), the walker
clips from the dev dependency pybullet.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.data import holosoma as h
from pose3d_ros.data.mocap import POSE3D16_NAMES, Z_UP_TO_PACKAGE, MocapFileError

# A standing person in a z-up world, facing +x (their left at +y), ankles 0.1 m above the floor.
_REST = {
    "Hips": (0, 0, 1.0), "Spine": (0, 0, 1.1), "Spine1": (0, 0, 1.3), "Neck": (0, 0, 1.52), "Head": (0.01, 0, 1.66),
    "LeftShoulder": (0, 0.05, 1.47), "LeftArm": (0, 0.18, 1.46), "LeftForeArm": (0, 0.19, 1.16),
    "LeftHand": (0.02, 0.2, 0.91), "LeftUpLeg": (0, 0.1, 1.0), "LeftLeg": (0.02, 0.1, 0.56),
    "LeftFoot": (0, 0.1, 0.1), "LeftToeBase": (0.15, 0.11, 0.02),
}  # fmt: skip


def _rest_pose(leg_scale: float = 1.0) -> np.ndarray:
    """(53, 3) z-up joints: the table above, mirrored to the right side, fingers near the hand."""
    pts = {}
    for name, xyz in _REST.items():
        p = np.array(xyz, dtype=float)
        if name in ("LeftLeg", "LeftFoot", "LeftToeBase"):  # scale the leg about the hip (a second body size)
            p[2] = 1.0 - (1.0 - p[2]) * leg_scale
        pts[name] = p
        if name.startswith("Left"):
            pts["Right" + name[4:]] = p * [1, -1, 1]
    for side in ("Left", "Right"):
        pts[f"{side}FootMod"] = pts[f"{side}Foot"]
        for k, finger in enumerate(("Thumb", "Index", "Middle", "Ring", "Pinky")):
            for seg in (1, 2, 3):
                pts[f"{side}Hand{finger}{seg}"] = pts[f"{side}Hand"] + [0.01 * k, 0, -0.02 * seg]
    return np.stack([pts[n] for n in h.HOLOSOMA_JOINTS])


def _take(T: int = 20, **kw) -> np.ndarray:
    """(T, 53, 3): the rest pose walking along +x, 1 cm a frame."""
    return (_rest_pose(**kw)[None] + np.arange(T)[:, None, None] * [0.01, 0, 0]).astype(np.float32)


def _write(tmp_path: Path, arr, name: str = "mocap_climb_seq_0_joint_positions_f0-19.npy", **kw) -> Path:
    p = tmp_path / name
    np.save(p, arr, **kw)
    return p


def test_known_mapping_axes_and_ground(tmp_path):
    src = _take()
    take = h.read_holosoma_take(_write(tmp_path, src), "t", "s")
    assert take.joints.shape == (20, 16, 3) and take.fps == h.DEFAULT_FPS and take.label == "climb"
    J = {n: i for i, n in enumerate(h.HOLOSOMA_JOINTS)}
    x = src.astype(float)
    want = {n: x[:, J[s]] for n, s in h.JOINT_MAP.items()}
    want["pelvis"] = 0.5 * (x[:, J["LeftUpLeg"]] + x[:, J["RightUpLeg"]])
    want["neck"] = 0.5 * (x[:, J["LeftArm"]] + x[:, J["RightArm"]])
    want["spine"] = 0.5 * (want["pelvis"] + want["neck"])
    expected = np.stack([want[n] for n in POSE3D16_NAMES], 1) @ Z_UP_TO_PACKAGE.T
    expected[..., 1] += 0.1  # ankles at z = 0.1 -> package y = -0.1 -> grounded to 0
    assert_allclose(take.joints, expected, atol=1e-6)
    P = POSE3D16_NAMES.index
    j = take.joints
    assert (j[:, P("head"), 1] < j[:, P("pelvis"), 1]).all()  # upright: y down
    assert (j[:, P("left_hip"), 2] > j[:, P("right_hip"), 2]).all()  # the source's +y (person's left) -> package +z
    facing = np.cross(j[:, P("left_hip")] - j[:, P("right_hip")], j[:, P("neck")] - j[:, P("pelvis")])
    assert (facing[:, 0] > 0).all()  # still facing +x, the way the toes point and it walks: a proper rotation
    assert take.notes["frames"] == 20 and len(take.notes["sha256"]) == 64


def test_mirrored_or_y_up_files_are_refused(tmp_path):
    src = _take()
    swapped = src.copy()
    for i, n in enumerate(h.HOLOSOMA_JOINTS):  # swap the Left*/Right* labels: a mirror image of the person
        if n.startswith("Left"):
            r = h.HOLOSOMA_JOINTS.index("Right" + n[4:])
            swapped[:, [i, r]] = src[:, [r, i]]
    p = _write(tmp_path, swapped)
    with pytest.raises(MocapFileError, match="mirrored") as err:
        h.read_holosoma_take(p, "t", "s")
    assert str(p) in str(err.value)
    y_up = src[..., [0, 2, 1]] * [1, 1, -1]  # a proper rotation that puts the person's up on y
    with pytest.raises(MocapFileError, match="z-up"):
        h.read_holosoma_take(_write(tmp_path, y_up, "y.npy"), "t", "s")


def _truncated(tmp_path: Path) -> Path:
    p = _write(tmp_path, _take(), "trunc.npy")
    p.write_bytes(p.read_bytes()[:-500])
    return p


def _archive(p: Path) -> Path:
    with p.open("wb") as f:  # np.savez would append ".npz" to a file name
        np.savez(f, a=_take())
    return p


def _nan_frame(tmp_path: Path) -> Path:
    a = _take()
    a[7, 3, 1] = np.nan
    return _write(tmp_path, a, "nan.npy")


@pytest.mark.parametrize(("make", "problem"), [
    (lambda d: _write(d, _take()[:, :52], "short.npy"), "shape"),
    (lambda d: _write(d, _take()[:, :, :2], "2d.npy"), "shape"),
    (lambda d: _write(d, _take()[0], "one.npy"), "shape"),
    (lambda d: _write(d, np.zeros((0, 53, 3), np.float32), "empty.npy"), "shape"),
    (_nan_frame, "NaN"),
    (_truncated, "readable"),
    (lambda d: _write(d, np.array([{"a": 1}], dtype=object), "obj.npy", allow_pickle=True), "readable"),
    (lambda d: _write(d, np.full((5, 53, 3), "x"), "str.npy"), "dtype"),
    (lambda d: (d / "text.npy").write_text("not numpy") and d / "text.npy", "readable"),
    (lambda d: d / "missing.npy", "readable"),
    (lambda d: _archive(d / "arch.npy"), "archive"),
    (lambda d: _write(d, _take() * 1000.0, "mm.npy"), "not human"),  # millimetres
])  # fmt: skip
def test_malformed_files_raise_naming_the_path(tmp_path, make, problem):
    p = make(tmp_path)
    with pytest.raises(MocapFileError, match=problem) as err:
        h.read_holosoma_take(p, "t", "s")
    assert str(p) in str(err.value) and err.value.path == str(p)


def test_files_names_and_subject_clusters(tmp_path):
    d = tmp_path / "holosoma_retargeting" / "demo_data" / "climb"
    paths = []
    for k, scale in [(10, 1.0), (2, 1.0), (3, 1.04)]:
        (d / f"mocap_climb_seq_{k}").mkdir(parents=True)
        paths.append(_write(d / f"mocap_climb_seq_{k}", _take(leg_scale=scale),
                            f"mocap_climb_seq_{k}_joint_positions_f0-19.npy"))  # fmt: skip
    (d / "mocap_climb_seq_2" / "other.npy").write_bytes(b"")  # not a joint-position file: ignored
    files = h.climb_files(tmp_path)
    assert files == [paths[1], paths[2], paths[0]]  # numeric, not lexical, order
    assert [h.sequence_name(p) for p in files] == ["climb_seq_2", "climb_seq_3", "climb_seq_10"]
    subjects = h.assign_subjects(files)
    assert [subjects[p] for p in files] == ["climb_a", "climb_b", "climb_a"]
    takes = h.read_climb_takes(tmp_path / "holosoma_retargeting")
    assert [t.name for t in takes] == ["holosoma_climb_seq_2", "holosoma_climb_seq_3", "holosoma_climb_seq_10"]
    assert takes[0].source.endswith("holosoma_retargeting/demo_data/climb/mocap_climb_seq_2/"
                                    "mocap_climb_seq_2_joint_positions_f0-19.npy")  # fmt: skip
    with pytest.raises(FileNotFoundError):
        h.climb_files(tmp_path / "holosoma_retargeting" / "demo_data" / "climb" / "mocap_climb_seq_2" / "none")


def _holosoma_root() -> Path | None:
    if os.environ.get("POSE3D_HOLOSOMA_ROOT"):
        return Path(os.environ["POSE3D_HOLOSOMA_ROOT"])
    spec = importlib.util.find_spec("holosoma_retargeting")
    return Path(spec.origin).parent if spec and spec.origin else None


def test_real_climbing_sequences():
    root = _holosoma_root()
    if root is None or not list(root.rglob("mocap_climb_seq_*_joint_positions_*.npy")):
        pytest.skip("holosoma-retargeting demo data not found (set POSE3D_HOLOSOMA_ROOT to the unpacked wheel)")
    takes = h.read_climb_takes(root)
    assert [t.name for t in takes] == [f"holosoma_climb_seq_{k}" for k in range(5)]
    assert [len(t.joints) for t in takes] == [2801, 2423, 3011, 2401, 2303]
    assert [t.subject for t in takes] == ["climb_a"] * 4 + ["climb_b"]
    P = POSE3D16_NAMES.index
    for t in takes:
        j = t.joints
        assert np.median(j[:, P("head"), 1] - j[:, P("pelvis"), 1]) < -0.1
        assert abs(j[:, [P("left_ankle"), P("right_ankle")], 1].max()) < 1e-6
        # the hips joint of the source is the mid-hip point
        assert np.isclose(t.notes["median_bones_m"][P("left_hip") - 1], t.notes["median_bones_m"][P("right_hip") - 1])


def test_walker_clips_are_the_deepmimic_humanoid():
    if importlib.util.find_spec("pybullet_data") is None:
        pytest.skip("pybullet (dev dependency) not installed")
    from pose3d_ros.data import deepmimic as dm
    from pose3d_ros.data import walker

    files = walker.walker_files()
    assert sorted(files) == ["turn_left0", "turn_left1", "turn_right0", "turn_right1", "walk_forward"]
    takes = walker.read_walker_takes()
    walk = dm.frames_to_pose3d16(dm.read_motion_file(dm.motion_files()["walk"])[0])
    rigid = list(h.RIGID_BONES)
    for t in takes:
        assert t.joints.shape == (38, 16, 3) and t.fps == 30.0 and t.label == "walk"
        assert_allclose(h.median_bone_lengths(t.joints)[rigid], h.median_bone_lengths(walk)[rigid], atol=1e-5)
        P = POSE3D16_NAMES.index
        facing = np.cross(t.joints[:, P("left_hip")] - t.joints[:, P("right_hip")],
                          t.joints[:, P("neck")] - t.joints[:, P("pelvis")])  # fmt: skip
        assert facing.mean(0) @ (t.joints[-1, 0] - t.joints[0, 0]) > 0  # walks the way it faces


def test_walker_bad_clip_raises(tmp_path):
    from pose3d_ros.data import walker

    (tmp_path / "data" / "motions" / "walker").mkdir(parents=True)
    bad = tmp_path / "data" / "motions" / "walker" / "0bad.txt"
    bad.write_text('{"Loop": "wrap", "Frames": [[0.033, 1, 2, 3]]}')
    assert walker.walker_files(tmp_path) == {"bad": bad}
    with pytest.raises(MocapFileError) as err:
        walker.read_walker_take(bad, "x")
    assert str(bad) in str(err.value)
