"""Tests for pose3d_ros.data.ase: 3ds Max ASCII (Biped) parsing, forward kinematics, bad-sample rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.data import ase
from pose3d_ros.data.mocap import POSE3D16_NAMES, MocapFileError

REAL = Path("/usr/share/assimp/models/ASE/MotionCaptureROM.ase")

# A Biped in inches, z up, facing -y, left = +x, all NODE_TM rotations identity: name -> (parent, world position).
_REST = {
    "Bip01": ("", (0, 0, 36)), "Bip01 Pelvis": ("Bip01", (0, 0, 36)), "Bip01 Spine": ("Bip01 Pelvis", (0, 0, 38)),
    "Bip01 Neck": ("Bip01 Spine", (0, 0, 57)), "Bip01 Head": ("Bip01 Neck", (0, 0, 60)),
    "Bip01 HeadNub": ("Bip01 Head", (0, 0, 68)),
}  # fmt: skip
for _s, _x in (("L", 1), ("R", -1)):
    _REST.update({
        f"Bip01 {_s} Thigh": ("Bip01 Spine", (4 * _x, 0, 36)),
        f"Bip01 {_s} Calf": (f"Bip01 {_s} Thigh", (4 * _x, 0, 20)),
        f"Bip01 {_s} Foot": (f"Bip01 {_s} Calf", (4 * _x, 0, 4)),
        f"Bip01 {_s} Toe0": (f"Bip01 {_s} Foot", (4 * _x, -5, 1)),
        f"Bip01 {_s} UpperArm": ("Bip01 Neck", (7 * _x, 0, 57)),
        f"Bip01 {_s} Forearm": (f"Bip01 {_s} UpperArm", (18 * _x, 0, 57)),
        f"Bip01 {_s} Hand": (f"Bip01 {_s} Forearm", (28 * _x, 0, 57)),
    })  # fmt: skip
_JOINT_NODE = {"left_hip": "L Thigh", "left_knee": "L Calf", "left_ankle": "L Foot", "left_shoulder": "L UpperArm",
               "left_elbow": "L Forearm", "left_wrist": "L Hand"}  # fmt: skip
_JOINT_NODE.update({k.replace("left", "right"): "R" + v[1:] for k, v in list(_JOINT_NODE.items())})


def _rx(a: float) -> np.ndarray:  # ASE row-vector matrix of (x axis, angle a)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# Tracks: root walks -y 10 in per sample (its key at tick 1600 missing = held); the left calf turns by two
# non-commuting deltas (0.5 rad about x, then 0.3 rad about z: order matters); the pelvis rolls 60 deg at sample 3.
_POS = {"Bip01": {0: (0, 0, 36), 800: (0, -10, 36), 2400: (0, -30, 36), 3200: (0, -40, 36)}}
_ROT = {"Bip01 L Calf": {0: (1, 0, 0, 0.0), 800: (1, 0, 0, 0.5), 2400: (0, 0, 1, 0.3)},
        "Bip01 Pelvis": {0: (1, 0, 0, 0.0), 2400: (0, 1, 0, np.pi / 3), 3200: (0, 1, 0, -np.pi / 3)}}  # fmt: skip


def _ase_text() -> str:
    out = ["*3DSMAX_ASCIIEXPORT\t200", "*SCENE {", "\t*SCENE_FIRSTFRAME 0", "\t*SCENE_LASTFRAME 20",
           "\t*SCENE_FRAMESPEED 30", "\t*SCENE_TICKSPERFRAME 160", "}"]
    for name, (parent, xyz) in _REST.items():
        kind = "HELPEROBJECT" if name.endswith("Nub") else "GEOMOBJECT"
        out += [f"*{kind} {{", f'\t*NODE_NAME "{name}"'] + ([f'\t*NODE_PARENT "{parent}"'] if parent else [])
        out += ["\t*NODE_TM {", f'\t\t*NODE_NAME "{name}"', "\t\t*INHERIT_SCL 1 1 1", "\t\t*TM_ROW0 1.0 0.0 0.0",
                "\t\t*TM_ROW1 0.0 1.0 0.0", "\t\t*TM_ROW2 0.0 0.0 1.0", "\t\t*TM_ROW3 {} {} {}".format(*xyz), "\t}"]
        if name in _POS or name in _ROT:
            out += ["\t*TM_ANIMATION {", f'\t\t*NODE_NAME "{name}"']
            for track, keys in (("POS", _POS.get(name)), ("ROT", _ROT.get(name))):
                if keys:
                    out += [f"\t\t*CONTROL_{track}_TRACK {{"]
                    out += [f"\t\t\t*CONTROL_{track}_SAMPLE {t}\t" + "\t".join(f"{v:.6f}" for v in vals)
                            for t, vals in keys.items()] + ["\t\t}"]
            out += ["\t}"]
        out += ["}"]
    return "\n".join(out) + "\n"


def _expected(samples: list[int]) -> np.ndarray:
    """pose3d16 (package axes, metres, lowest ankle at y = 0) for the kept synthetic samples."""
    root = {0: 0, 1: -10, 2: -10, 3: -30, 4: -40}
    calf = {0: np.eye(3), 1: _rx(0.5), 2: _rx(0.5)}
    calf[3] = calf[4] = _rx(0.5) @ _rz(0.3)  # L_k = L_(k-1) @ delta
    out = []
    for k in samples:
        p = {j: np.array(_REST["Bip01 " + n][1], float) for j, n in _JOINT_NODE.items()}
        p["left_ankle"] = p["left_knee"] + np.array([0.0, 0.0, -16.0]) @ calf[k]
        p["pelvis"], p["neck"] = (p["left_hip"] + p["right_hip"]) / 2, (p["left_shoulder"] + p["right_shoulder"]) / 2
        p["spine"], p["head"] = (p["pelvis"] + p["neck"]) / 2, np.array([0.0, 0.0, 64.0])
        zup = np.stack([p[n] for n in POSE3D16_NAMES]) + [0, root[k], 0]
        out.append(np.stack([zup[:, 0], -zup[:, 2] + 4.0, zup[:, 1]], -1) * 0.0254)  # right ankle z = 4 in
    return np.stack(out)


def test_synthetic_biped_gives_exact_forward_kinematics_and_drops_the_rolled_sample(tmp_path):
    p = tmp_path / "syn.ase"
    p.write_text(_ase_text())
    take = ase.read_ase_take(p, name="syn", subject="s", label="rom")
    assert take.fps == 6.0 and take.notes["unit"] == "inch"
    assert take.notes["samples_in_file"] == 5 and take.notes["samples_dropped"] == 1
    assert take.notes["dropped_sample_ranges_s"] == [(0.5, 2 / 3)]
    assert_allclose(take.joints, _expected([0, 1, 2, 4]), atol=1e-5)


def test_implausible_samples_hysteresis_and_short_good_gaps():
    j = np.tile(_expected([0]), (20, 1, 1))
    j[5, POSE3D16_NAMES.index("left_hip"), 1] -= 0.15  # pelvis roll ~41 deg: implausible
    j[6, POSE3D16_NAMES.index("left_hip"), 1] -= 0.07  # ~19 deg: only above half the limit, joined by hysteresis
    j[9, POSE3D16_NAMES.index("neck")] = j[9, POSE3D16_NAMES.index("pelvis")] * 0.3 + j[9, 2] * 0.7  # trunk folds
    bad = ase.implausible_samples(j.astype(float), fps=6.0)
    assert np.flatnonzero(bad).tolist() == [5, 6, 7, 8, 9]  # 7-8: a good stretch under 1 s between bad runs


def _swap(old: str, new: str, count: int = 1):
    return lambda t: t.replace(old, new, count)


@pytest.mark.parametrize("mutate, problem", [
    (lambda t: t[: t.rindex("\n", 0, len(t) // 2) + 1], r"truncated: the \*\w+ block opened on line \d+ is not closed"),
    (lambda t: t.replace("*3DSMAX_ASCIIEXPORT\t200", "*MAX_EXPORT"), "not a 3ds Max ASCII export"),
    (_swap("*TM_ROW3 4 0 20", "*TM_ROW3 4 zero 20"), r"line \d+: non-numeric value in '4 zero 20'"),
    (_swap("*CONTROL_ROT_SAMPLE 800\t1.000000\t0.000000\t0.000000\t0.500000", "*CONTROL_ROT_SAMPLE 800\t1.0"),
     r"line \d+: expected 5 numbers, got 2"),
    (_swap('"Bip01 L Calf"', '"Bip01 L Shin"', -1), r"no Biped bone for left_knee"),
    (_swap('*NODE_PARENT "Bip01 Spine"', '*NODE_PARENT "Bip01 Spline"'), r"unknown parent 'Bip01 Spline'"),
    (_swap("*CONTROL_POS_TRACK {", "*CONTROL_POS_TCB {"), r"node 'Bip01': unsupported controllers"),
    (_swap("\t*SCENE_FRAMESPEED 30", ""), r"no positive \*SCENE_FRAMESPEED"),
    (_swap("*TM_ROW3 4 0 20", "*TM_ROW3 40 0 200"), r"not human|thigh length"),
    (lambda t: t + "}\n", r"line \d+: unmatched '}'"),
])  # fmt: skip
def test_malformed_files_raise_mocap_file_error_naming_the_path(tmp_path, mutate, problem):
    p = tmp_path / "bad.ase"
    p.write_text(mutate(_ase_text()))
    with pytest.raises(MocapFileError, match=problem) as e:
        ase.read_ase_take(p)
    assert str(p) in str(e.value)


def test_missing_file_raises_mocap_file_error(tmp_path):
    with pytest.raises(MocapFileError, match="cannot read"):
        ase.read_ase_take(tmp_path / "missing.ase")


@pytest.mark.skipif(not REAL.is_file(), reason="assimp's test models (Debian assimp-testmodels) not installed")
def test_real_rom_take_is_a_plausible_upright_unmirrored_person():
    from pose3d_ros.core.skeleton import bone_lengths

    take = ase.read_ase_take(REAL)
    assert take.fps == 6.0 and take.notes["unit"] == "inch" and take.notes["samples_in_file"] == 272
    assert take.notes["samples_dropped"] == 92 and take.joints.shape == (180, 16, 3)
    assert "Free for any purpose" in take.notes["licence"]
    j = take.joints.astype(float)
    i = POSE3D16_NAMES.index
    bones = dict(zip(POSE3D16_NAMES[1:], bone_lengths(j).T, strict=True))
    for joint, lo, hi in (("left_knee", 0.38, 0.42), ("left_ankle", 0.32, 0.37), ("left_elbow", 0.28, 0.32),
                          ("left_wrist", 0.24, 0.28)):  # fmt: skip
        right = joint.replace("left", "right")
        assert lo < bones[joint].mean() < hi and bones[joint].std() < 1e-4  # rigid Biped bones
        assert_allclose(bones[right], bones[joint], atol=1e-4)
    assert 0.25 < bones["spine"].min() and bones["spine"].max() < 0.32  # no folded spine left
    y = np.median(j[..., 1], 0)
    assert y[i("head")] < y[i("pelvis")] < min(y[i("left_ankle")], y[i("right_ankle")])
    assert take.notes["facing_agreement"] > 0.99
    # walking (pelvis faster than 0.5 m/s) mostly goes where the hips face
    facing = np.cross(j[:, i("left_hip")] - j[:, i("right_hip")], j[:, i("neck")] - j[:, i("pelvis")])
    v = np.gradient(j[:, i("pelvis")], axis=0) * take.fps
    v[:, 1] = 0
    walking = np.linalg.norm(v, axis=-1) > 0.5
    assert walking.sum() > 30 and np.mean((v[walking] * facing[walking]).sum(-1) > 0) > 0.8
