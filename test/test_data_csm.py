"""Tests for pose3d_ros.data.csm: the Vicon IQ ``.csm`` reader and its marker -> joint-centre rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from pose3d_ros.data import csm
from pose3d_ros.data.mocap import POSE3D16_NAMES, MocapFileError

REAL = Path("/usr/share/assimp/models/CSM/ThomasFechten.csm")

# A standing person in the file's frame (mm, z up, facing -y, left = +x), left-side markers; right = mirrored x.
# The rules give round joint centres: HJC (90, -52.5, 925) by Bell (W = 250), KJC (90, -52.5, 500) and
# AJC (90, -52.5, 80) by the chord rule (markers 55 / 42 mm lateral at right angles), SJC 50 mm below LSHO.
_LEFT = {
    "FHD": (60, -80, 1650), "BHD": (60, 80, 1650), "SHO": (180, 0, 1450), "UPA": (220, 0, 1250),
    "ELB": (180, 0, 1100), "FRM": (220, 0, 950), "WRA": (200, 0, 850), "WRB": (160, 0, 850), "FIN": (180, 0, 750),
    "FWT": (125, -100, 1000), "BWT": (50, 100, 1000), "Pel": (150, 0, 1000), "THI": (200, -52.5, 700),
    "KNE": (145, -52.5, 500), "SHN": (200, -52.5, 300), "ANK": (132, -52.5, 80), "HEL": (90, 0, 30),
    "TOE": (90, -150, 30), "MT5": (130, -120, 30),
}  # fmt: skip
_CENTRE = {"C7": (0, 80, 1500), "T10": (0, 100, 1200), "CLAV": (0, -80, 1500), "STRN": (0, -100, 1200),
           "RBAC": (-50, 110, 1300)}  # fmt: skip
_JOINTS_L = {"shoulder": (180, 0, 1400), "elbow": (180, 0, 1100), "wrist": (180, 0, 850),
             "hip": (90, -52.5, 925), "knee": (90, -52.5, 500), "ankle": (90, -52.5, 80)}  # fmt: skip
_STEP = np.array([0.0, -10.0, 0.0])  # mm per frame, walking forward: linear, so interpolated gaps are exact


def _markers() -> dict[str, np.ndarray]:
    m = {k: np.array(v, float) for k, v in _CENTRE.items()}
    for k, (x, y, z) in _LEFT.items():
        m["L" + k], m["R" + k] = np.array([x, y, z], float), np.array([-x, y, z], float)
    return m


def _expected(frames: np.ndarray) -> np.ndarray:
    """(T, 16, 3) pose3d16 in package axes (metres, lowest ankle at y = 0) for the synthetic person."""
    j = {}
    for side, sign in (("left", 1), ("right", -1)):
        for name, (x, y, z) in _JOINTS_L.items():
            j[f"{side}_{name}"] = np.array([sign * x, y, z])
    j["pelvis"], j["neck"], j["head"] = np.array([0, -52.5, 925.0]), np.array([0, 0, 1400.0]), np.array([0, 0, 1650.0])
    j["spine"] = (j["pelvis"] + j["neck"]) / 2
    zup = np.stack([j[n] for n in POSE3D16_NAMES])[None] + frames[:, None, None] * _STEP
    pkg = np.stack([zup[..., 0], -zup[..., 2], zup[..., 1]], -1) / 1000
    pkg[..., 1] += 0.080  # ankles at z = 80 mm
    return pkg


def _write(path: Path, n_frames: int = 40, gaps: dict[str, range] | None = None, single_dropout: bool = False,
           header_extra: str = "") -> Path:
    m = _markers()
    names = list(m)
    lines = ["$Filename synthetic.csm", "$Actor Test", "", "$FirstFrame 1", f"$LastFrame {n_frames}", "$Rate 120.000",
             header_extra, "$Order", " ".join(names), "", "$Points"]
    for t in range(n_frames):
        vals = []
        for k in names:
            if gaps and k in gaps and t in gaps[k]:
                vals.append("DROPOUT" if single_dropout else "DROPOUT DROPOUT DROPOUT")
            else:
                vals.append(" ".join(f"{v:.4f}" for v in m[k] + t * _STEP))
        lines.append(f"{t + 1}  " + "  ".join(vals))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_read_csm_parses_markers_rate_and_dropouts(tmp_path):
    p = _write(tmp_path / "a.csm", gaps={"LKNE": range(5, 6)}, single_dropout=True)
    markers, fps = csm.read_csm(p)
    assert fps == 120.0 and len(markers) == 2 * len(_LEFT) + len(_CENTRE)
    assert_allclose(markers["LFWT"][3], np.array(_LEFT["FWT"]) + 3 * _STEP)
    assert np.isnan(markers["LKNE"][5]).all() and np.isfinite(markers["LKNE"][[4, 6]]).all()


def test_synthetic_take_gives_exact_joint_centres_and_handles_gaps(tmp_path):
    gaps = {"LKNE": range(5, 6), "RWRA": range(10, 12), "LELB": range(20, 35)}  # 1 + 2 frames filled, 15 too long
    take = csm.read_csm_take(_write(tmp_path / "b.csm", gaps=gaps), name="syn", subject="s", label="walk")
    kept = np.r_[0:20, 35:40]
    assert take.joints.shape == (len(kept), 16, 3) and take.fps == 120.0
    assert_allclose(take.joints, _expected(kept), atol=1e-6)
    assert take.notes["frames_dropped"] == 15 and take.notes["frames_interpolated"] == 3
    assert take.notes["rigid_repaired"] == {}


def test_mislabelled_ankle_marker_is_rebuilt_from_the_foot(tmp_path):
    p = _write(tmp_path / "c.csm")
    text = p.read_text().splitlines()
    names = text[text.index("$Order") + 1].split()
    col = 1 + 3 * names.index("RANK") + 2  # z of RANK
    for i in range(text.index("$Points") + 31, len(text)):  # frames 30..39: the marker floats 0.2 m up
        toks = text[i].split()
        toks[col] = f"{float(toks[col]) + 200:.4f}"
        text[i] = " ".join(toks)
    p.write_text("\n".join(text) + "\n")
    take = csm.read_csm_take(p)
    assert take.notes["rigid_repaired"] == {"RANK": 10}
    assert_allclose(take.joints, _expected(np.arange(40)), atol=1e-6)


def test_mirrored_skeleton_is_refused(tmp_path):
    joints = _expected(np.arange(5))
    head_forward = np.tile([0.0, 0.0, -1.0], (5, 1))  # the synthetic person faces -y (z up) = -z (package)
    assert csm.check_orientation(tmp_path / "x.csm", joints, head_forward) == 1.0
    mirrored = joints * [-1.0, 1.0, 1.0]
    with pytest.raises(MocapFileError, match="mirrored"):
        csm.check_orientation(tmp_path / "x.csm", mirrored, head_forward)
    with pytest.raises(MocapFileError, match="upright"):
        csm.check_orientation(tmp_path / "x.csm", joints * [1.0, -1.0, 1.0], head_forward)


def _cut_mid_line(t: str) -> str:
    return t[: t.rindex("\n", 0, len(t) - 1) + 40]


def _drop_last_line(t: str) -> str:
    return t[: t.rindex("\n", 0, len(t) - 1) + 1]


def _edit_frame(t: str, i: int, fn) -> str:
    lines = t.splitlines()
    k = lines.index("$Points") + 1 + i
    lines[k] = fn(lines[k])
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("mutate, problem", [
    (_cut_mid_line, r"line 51: .* values do not give x y z"),
    (_drop_last_line, r"truncated: \$LastFrame is 40"),
    (lambda t: t.replace("$Order", "$Ordre"), r"no \$Order"),
    (lambda t: t.replace("$Rate 120.000", ""), r"no \$Rate"),
    (lambda t: t.replace("$Rate 120.000", "$Rate -5"), r"line 6: frame rate"),
    (lambda t: _edit_frame(t, 3, lambda s: s.replace("1000.0000", "1e3x", 1)), r"line 15: non-numeric value '1e3x'"),
    (lambda t: _edit_frame(t, 7, lambda s: s + " 1.0"), r"line 19: 130 values .*wrong number of columns"),
    (lambda t: _edit_frame(t, 2, lambda s: "2" + s[1:]), r"line 14: frame number 2 is not an increasing"),
    (lambda t: t.replace("LKNE", "LKNX"), r"unknown marker set: no marker\(s\) LKNE"),
    (lambda t: t[: t.index("$Points") + 8], r"no \$Points frames"),
    (lambda t: "", r"no \$Order"),
])  # fmt: skip
def test_malformed_files_raise_mocap_file_error_naming_the_path(tmp_path, mutate, problem):
    p = _write(tmp_path / "bad.csm")
    p.write_text(mutate(p.read_text()))
    with pytest.raises(MocapFileError, match=problem) as e:
        csm.read_csm_take(p)
    assert str(p) in str(e.value)


def test_unreadable_files_raise_mocap_file_error(tmp_path):
    with pytest.raises(MocapFileError, match="cannot read") as e:
        csm.read_csm_take(tmp_path / "missing.csm")
    assert "missing.csm" in str(e.value)
    (tmp_path / "bin.csm").write_bytes(b"\xff\xfe\x00$Order\x80\x81")
    with pytest.raises(MocapFileError, match="cannot read"):
        csm.read_csm(tmp_path / "bin.csm")


@pytest.mark.skipif(not REAL.is_file(), reason="assimp's test models (Debian assimp-testmodels) not installed")
def test_real_fencing_take_is_a_plausible_upright_unmirrored_person():
    from pose3d_ros.core.skeleton import bone_lengths

    take = csm.read_csm_take(REAL)
    assert take.fps == 120.0 and take.joints.shape == (2439, 16, 3) and take.notes["frames_dropped"] == 0
    assert take.notes["rigid_repaired"] == {"RANK": 1164}  # the floating right-ankle marker of the first 9.7 s
    assert "Free for any purpose" in take.notes["licence"]
    j = take.joints.astype(float)
    i = POSE3D16_NAMES.index
    bones = bone_lengths(j)
    med = dict(zip(POSE3D16_NAMES[1:], np.median(bones, 0), strict=True))
    q25, q75 = np.percentile(bones, [25, 75], 0)
    assert (q75 - q25).max() < 0.03  # bounded variation (IQR) for every bone
    for side in ("left", "right"):
        assert 0.30 < med[f"{side}_knee"] < 0.50  # thigh (0.33 m right: RKNE sits ~4 cm higher than LKNE)
        assert 0.33 < med[f"{side}_ankle"] < 0.48  # shank
        assert 0.25 < med[f"{side}_elbow"] < 0.35  # upper arm
        assert 0.19 < med[f"{side}_wrist"] < 0.30  # forearm
    assert abs(med["left_hip"] - med["right_hip"]) < 1e-3 and abs(med["left_knee"] - med["right_knee"]) < 0.05
    y = np.median(j[..., 1], 0)
    assert y[i("head")] < y[i("pelvis")] < min(y[i("left_ankle")], y[i("right_ankle")])
    assert take.notes["facing_agreement"] > 0.99
    # a right-handed fencer: the right foot leads, and the lunges (widest stances) go where the hips face
    facing = np.cross(j[:, i("left_hip")] - j[:, i("right_hip")], j[:, i("neck")] - j[:, i("pelvis")])
    lead = ((j[:, i("right_ankle")] - j[:, i("left_ankle")]) * facing).sum(-1)
    wide = np.linalg.norm(j[:, i("right_ankle")] - j[:, i("left_ankle")], axis=-1)
    assert np.median(lead) > 0 and (lead[wide > np.percentile(wide, 95)] > 0).all()
