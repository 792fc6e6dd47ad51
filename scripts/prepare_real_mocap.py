"""The ``--real`` part of ``scripts/prepare_mocap.py``: real motion capture -> ``real_mocap_pose3d16.npz`` + README.

Every source is read by its reader in ``pose3d_ros/data`` (each documents its joint-centre definitions), resampled
to :data:`pose3d_ros.data.takes.COMMON_FPS` and written with :func:`pose3d_ros.data.takes.save_takes`.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from pose3d_ros.core.skeleton import POSE3D16, bone_lengths
from pose3d_ros.data import takes as tk
from pose3d_ros.data.mocap import MocapTake

#: the left thigh and shin (bones end at their child joint, in ``POSE3D16.bones`` order)
_LEFT_LEG = tuple(i for i, (_, c) in enumerate(POSE3D16.bones) if POSE3D16.names[c] in ("left_knee", "left_ankle"))

CMU_LICENCE = ("CMU Graphics Lab Motion Capture Database, cgspeed BVH conversion (B. Hahne): \"free for use in "
               "research and commercial projects worldwide\"; no added restrictions (`01_nn.bvh.source.txt`)")
ASSIMP = "Debian `assimp-testmodels` 5.2.5 (package copyright BSD-3-clause)"


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _read_all(assimp: Path, holosoma_root: Path | None) -> list[tuple[MocapTake, str, Path]]:
    """(take, licence, source file) for every source present."""
    from pose3d_ros.data.bvh import read_bvh_take
    from pose3d_ros.data.csm import read_csm_take
    from pose3d_ros.data.walker import read_walker_takes

    cmu1, cmu3 = assimp / "BVH/01_01.bvh", assimp / "BVH/01_03.bvh"
    out = [
        (read_bvh_take(cmu1, "cmu_01_01", "cmu_01", "jump"), CMU_LICENCE, cmu1),
        (read_bvh_take(cmu3, "cmu_01_03", "cmu_01", "climb"), CMU_LICENCE, cmu3),
        (read_bvh_take(assimp / "BVH/Boxing_Toes.bvh", "boxing_toes", "boxer", "box"),
         f"{ASSIMP}; no per-file notes", assimp / "BVH/Boxing_Toes.bvh"),
        (read_csm_take(assimp / "CSM/ThomasFechten.csm"),
         "\"Recorded with vicon IQ, july 2008. Free for any purpose.\" (`ThomasFechten.source.txt`)",
         assimp / "CSM/ThomasFechten.csm"),
    ]
    try:
        from pose3d_ros.data.ase import read_ase_take

        ase = assimp / "ASE/MotionCaptureROM.ase"
        out.append((read_ase_take(ase), "\"Free for any purpose.\" (`MotionCaptureROM.source.txt`)", ase))
    except ImportError:
        print("no ASE reader: MotionCaptureROM.ase skipped")
    if holosoma_root is not None:
        from pose3d_ros.data.holosoma import climb_files, read_climb_takes

        files = climb_files(holosoma_root)
        for take, path in zip(read_climb_takes(holosoma_root), files, strict=True):
            out.append((take, "PyPI `holosoma-retargeting` 0.1.0, Apache-2.0 (wheel METADATA; Amazon FAR Team); "
                        "fps not stated: 120 Hz assumed", path))
    from pose3d_ros.data.walker import walker_files

    for take, path in zip(read_walker_takes(subject="deepmimic_humanoid"), walker_files().values(), strict=True):
        out.append((take, "PyPI `pybullet` 3.2.7 `pybullet_data/data/motions/walker` (zlib); the DeepMimic body",
                    path))
    return out


def write_real_mocap(out_dir: Path, assimp: Path, holosoma_wheel: Path | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = None
        if holosoma_wheel is not None:
            with zipfile.ZipFile(holosoma_wheel) as z:
                z.extractall(tmp, [n for n in z.namelist() if "/demo_data/climb/" in n])
            root = Path(tmp)
        read = _read_all(assimp, root)
        rows, kept = [], []
        for take, licence, path in read:
            res, repeated = tk.resample(take, tk.COMMON_FPS)
            kept.append(res)
            rows.append((take, res, repeated, licence, path.name, _sha(path)))
            print(f"{take.name:24s} {take.subject:20s} {take.label:16s} {len(take.joints):5d} @ {take.fps:g} Hz "
                  f"-> {len(res.joints):5d} @ 30 Hz ({repeated} repeated dropped)")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "real_mocap_pose3d16.npz"
    tk.save_takes(out, kept)
    role = {n: "test" for n in tk.TEST_TAKES} | {n: "validation" for n in tk.VALIDATION_TAKES}
    bones = {t.subject: np.median(bone_lengths(t.joints)[:, list(_LEFT_LEG)], 0)
             for t in kept}
    lines = [
        "# Real motion capture as pose3d16 takes", "",
        "`real_mocap_pose3d16.npz`: takes written by `pose3d_ros.data.takes.save_takes` (read with `read_takes` /",
        "`load_takes`): `joints` (N, 16, 3) float32 metres, package axes (x right, y down, z forward; ground at",
        "y = 0), the takes concatenated, `take_lengths`, `take_names`, `take_subjects`, `take_labels`,",
        "`take_sources`, `fps`",
        f"(all takes {tk.COMMON_FPS:g} Hz: linear resampling after dropping repeated source frames).", "",
        "Made by `scripts/prepare_mocap.py --real` (see its docstring for the exact commands). Joint centres per",
        "source: `pose3d_ros/data/bvh.py` (CMU, Boxing_Toes), `csm.py` (markers -> joint centres), `ase.py`,",
        "`holosoma.py`, `walker.py`. Held-out protocol: `pose3d_ros/data/takes.py` (role column).", "",
        f"npz sha256: `{_sha(out)}`", "",
        "| take | subject | label | role | frames @30 Hz | source frames @ Hz | source file | sha256 | licence |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for take, res, repeated, licence, name, sha in rows:
        lines.append(f"| {take.name} | {take.subject} | {take.label} | {role.get(take.name, 'train')} | "
                     f"{len(res.joints)} | {len(take.joints)} @ {take.fps:g} ({repeated} repeated) | `{name}` | "
                     f"`{sha[:16]}...` | {licence} |")
    lines += ["", f"Subjects: {len(bones)} bodies; left thigh / shin (cm): "
              + ", ".join(f"{s} {100 * b[0]:.0f} / {100 * b[1]:.0f}" for s, b in bones.items()), "",
              "CMU asks for this acknowledgement: \"The data used in this project was obtained from mocap.cs.cmu.edu.",
              "The database was created with funding from NSF EIA-0196217.\"", "",
              "Not used: the LAFAN1 clips of some BVH test folders (CC BY-NC-ND) and holosoma's OMOMO clips (terms",
              "unknown)."]
    (out_dir / "README_real.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB, {sum(len(t.joints) for t in kept)} frames)")
    return 0
