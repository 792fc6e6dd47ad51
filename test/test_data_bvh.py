"""Tests for pose3d_ros.data.bvh: parsing, forward kinematics, pose3d16 conversion and malformed-file errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.data.bvh import read_bvh, read_bvh_take
from pose3d_ros.data.mocap import POSE3D16_NAMES, MocapFileError

ASSIMP_BVH = Path("/usr/share/assimp/models/BVH")

# Two joints and an end site. Frame 0: root at (1, 2, 3) rotated Z 90 then X 90 (intrinsic), Chest X 90.
TINY = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Chest
  {
    OFFSET 0 1 0
    CHANNELS 1 Xrotation
    End Site
    {
      OFFSET 0 0 2
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
1 2 3 90 0 90 90
1 2 3 0 0 0 0
"""
_FRAME0_LINE = 19  # 1-based line of the first frame in TINY


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "take.bvh"
    path.write_text(text)
    return path


def test_tiny_forward_kinematics_exact(tmp_path):
    pos, fps = read_bvh(_write(tmp_path, TINY))
    assert list(pos) == ["Hips", "Chest", "Chest_End"]
    assert fps == 30.0  # 1 / 0.0333333 snapped
    # frame 0: Rz(90) @ Rx(90) @ (0, 1, 0) = (0, 0, 1) (the other order would give (-1, 0, 0));
    # Rz(90) @ Rx(90) @ Rx(90) @ (0, 0, 2) = (0, 0, -2)
    assert_allclose(pos["Hips"], [[1, 2, 3], [1, 2, 3]], atol=1e-12)
    assert_allclose(pos["Chest"], [[1, 2, 4], [1, 3, 3]], atol=1e-12)
    assert_allclose(pos["Chest_End"], [[1, 2, 2], [1, 3, 5]], atol=1e-12)


def test_unknown_skeleton_lists_missing_joints(tmp_path):
    path = _write(tmp_path, TINY)
    with pytest.raises(MocapFileError, match="match no known skeleton") as e:
        read_bvh_take(path, "tiny", "s", "walk")
    assert str(path) in str(e.value) and "LeftUpLeg" in str(e.value) and "LeftHip" in str(e.value)


def _replace(old: str, new: str):
    return lambda t: t.replace(old, new, 1)


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda t: t[: t.index("End Site")], "HIERARCHY ends"),
        (lambda t: t[: t.index("MOTION")], "no MOTION"),
        (lambda t: "", "not a BVH file"),
        (lambda t: t[: t.rindex(" 0 0 0")], f"line {_FRAME0_LINE + 1}: frame 1 has 4 values.*truncated"),
        (lambda t: t[: t.rindex("1 2 3")], "only 1 frame lines"),
        (_replace("90 0 90 90", "90 0 90 90 7"), f"line {_FRAME0_LINE}: frame 0 has 8 values, the HIERARCHY has 7"),
        (_replace("90 0 90 90", "90 0 abc 90"), f"line {_FRAME0_LINE}: value 'abc' is not a number"),
        (_replace("90 0 90 90", "90 0 nan 90"), f"line {_FRAME0_LINE}: NaN or inf in frame 0"),
        (_replace("0.0333333", "fast"), "Frame Time 'fast' is not a number"),
        (_replace("0.0333333", "0"), "Frame Time > 0"),
        (_replace("Frames: 2", "Frames:"), "MOTION must be followed by"),
        (_replace("OFFSET 0 1 0", "OFFSET 0 one 0"), "line 8: OFFSET of 'Chest' value 'one'"),
        (_replace("1 Xrotation", "1 Wrotation"), "line 9: unknown channel 'Wrotation'"),
        (_replace("Yrotation Xrotation", "Zrotation Xrotation"), "rotation channels ZZX"),
        (_replace("JOINT Chest", "JOINT Hips"), "'Hips' used twice"),
    ],
)
def test_malformed_file_names_path_and_problem(tmp_path, mutate, problem):
    path = _write(tmp_path, mutate(TINY))
    with pytest.raises(MocapFileError, match=problem) as e:
        read_bvh(path)
    assert str(e.value).startswith(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(MocapFileError, match="cannot read"):
        read_bvh(tmp_path / "absent.bvh")


def _assimp(name: str) -> Path:
    path = ASSIMP_BVH / name
    if not path.exists():
        pytest.skip(f"{path} not installed (Debian package assimp-testmodels)")
    return path


@pytest.fixture(scope="module")
def cmu_01_01():
    return read_bvh_take(_assimp("01_01.bvh"), "cmu_01_01", "cmu_01", "jump")


def _bones(joints: np.ndarray, pairs: list[tuple[str, str]]) -> np.ndarray:
    i = POSE3D16_NAMES.index
    return np.stack([np.linalg.norm(joints[:, i(a)] - joints[:, i(b)], axis=1) for a, b in pairs], 1)


_LIMBS = [(f"{s}_{a}", f"{s}_{b}") for s in ("left", "right")
          for a, b in (("hip", "knee"), ("knee", "ankle"), ("shoulder", "elbow"), ("elbow", "wrist"))]  # fmt: skip


def test_cmu_take_units_and_rigid_bones(cmu_01_01):
    take = cmu_01_01
    assert take.fps == 120.0 and take.joints.shape == (2752, 16, 3)
    assert take.notes["unit"] == "cmu_asf" and take.notes["skeleton"] == "cmu"
    bones = _bones(take.joints, _LIMBS)
    assert np.all((np.median(bones[:, [0, 4]], 0) > 0.35) & (np.median(bones[:, [0, 4]], 0) < 0.5))  # thighs
    assert np.all(np.ptp(bones, 0) < 1e-4)  # rigid links stay rigid through FK and the axis change


def test_cmu_take_upright_and_left_is_left(cmu_01_01):
    j = cmu_01_01.joints.astype(np.float64)
    i = POSE3D16_NAMES.index
    head, pelvis, ankle = j[:, i("head"), 1], j[:, i("pelvis"), 1], j[:, i("left_ankle"), 1]
    assert np.mean((head < pelvis) & (pelvis < ankle)) > 0.95  # y down
    assert np.isclose(j[:, [i("left_ankle"), i("right_ankle")], 1].max(), 0.0, atol=1e-6)  # grounded
    # same handedness as the DeepMimic clips: (l_hip - r_hip) x (neck - pelvis) points where the person walks
    fwd = np.cross(j[:, i("left_hip")] - j[:, i("right_hip")], j[:, i("neck")] - j[:, i("pelvis")])
    vel = np.gradient(j[:, i("pelvis")], axis=0)
    vel[:, 1] = 0.0
    moving = np.linalg.norm(vel, axis=1) * cmu_01_01.fps > 0.5
    assert moving.sum() > 100 and np.mean(np.sum(fwd[moving] * vel[moving], 1) > 0) > 0.9


def test_boxing_take_cm_and_extra_frame_line():
    take = read_bvh_take(_assimp("Boxing_Toes.bvh"), "boxing_toes", "assimp_boxing", "box")
    assert take.fps == 100.0 and take.notes["unit"] == "cm" and take.notes["skeleton"] == "ab_chest"
    assert take.notes["frames_declared"] == 3069 and len(take.joints) == 3070  # exporter off-by-one kept
    thighs = np.median(_bones(take.joints, _LIMBS)[:, [0, 4]], 0)
    assert np.all((thighs > 0.35) & (thighs < 0.5))
