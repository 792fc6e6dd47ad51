"""``pose3d-ros lift``: bring your own 2D keypoints -> 3D skeletons (metres, camera optical frame) as JSONL.

Input, either

* a JSONL file, one line per frame: ``{"frame": i, "people": [{"pixels": {"<joint_name>": [u, v, conf], ...}}]}``
  with joint names of ``--layout`` (missing joints may be left out); or
* a directory of OpenPose ``*_keypoints.json`` files (``people[].pose_keypoints_2d``, COCO-18 or BODY_25), one per
  frame in name order.

Output, one line per input frame (the ``estimate`` format): ``{"frame": i, "skeletons": [{"id": n, "confidence": c,
"joints": {"<joint_name>": [x, y, z]}, "pixels": {"<joint_name>": [u, v, conf]}, "measured": {...}}]}``.
People whose 2D is unusable (too few joints) are left out, never written with NaN.

``--depth DIR``: registered depth images, one per frame in name order (16-bit PNG in millimetres, or ``.npy`` in
metres); joint depths are sampled robustly and every joint is fitted to its depth (robust loss, bone lengths,
prior); ``measured`` says which joints rest on their depth. ``--precise-2d``: for exact 2D (ground truth, mocap
markers) the bone-length refinement runs without depth too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

# OpenPose BODY_25 index of each COCO-18 (openpose18) joint.
_BODY25_TO_OPENPOSE18 = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", type=Path, required=True, help="2D JSONL file or a directory of OpenPose JSON")
    parser.add_argument("--output", type=Path, required=True, help="3D JSONL to write ('-' = stdout)")
    parser.add_argument("--layout", default=None,
                        help="2D joint layout: coco17, openpose18, blazepose33, pose3d16, ... (default: coco17 for "
                             "JSONL, openpose18 for an OpenPose directory)")
    parser.add_argument("--camera-info", type=Path, default=None,
                        help="ROS camera calibration YAML (its lens distortion is honoured)")
    parser.add_argument("--width", type=int, default=640, help="image width for the default camera")
    parser.add_argument("--height", type=int, default=480, help="image height for the default camera")
    parser.add_argument("--depth", type=Path, default=None, help="directory of registered depth images")
    parser.add_argument("--prior", type=Path, default=None, help="prior .npz (default: the shipped one)")
    parser.add_argument("--min-confidence", type=float, default=0.05, help="2D joints below this are missing")
    parser.add_argument("--precise-2d", action="store_true",
                        help="the 2D is precise (ground truth, markers): bone-length refinement without depth too "
                             "(hurts with detector noise of 10 px)")


def _read_jsonl(path: Path, layout) -> list[tuple[int, np.ndarray, np.ndarray]]:
    frames = []
    index = {name: i for i, name in enumerate(layout.names)}
    with path.open() as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                people = doc.get("people", [])
                frame = int(doc.get("frame", len(frames)))
            except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{line_no}: not a frame object ({exc})") from exc
            pix = np.full((len(people), len(layout.names), 2), np.nan)
            conf = np.zeros((len(people), len(layout.names)))
            for p, person in enumerate(people):
                for name, value in (person.get("pixels") or {}).items():
                    if name not in index:
                        raise ValueError(f"{path}:{line_no}: joint {name!r} is not in layout {layout.name!r}")
                    if not isinstance(value, list | tuple) or len(value) < 2:
                        raise ValueError(f"{path}:{line_no}: joint {name!r} needs [u, v(, conf)], got {value!r}")
                    try:
                        pix[p, index[name]] = [float(value[0]), float(value[1])]
                        conf[p, index[name]] = float(value[2]) if len(value) > 2 else 1.0
                    except (TypeError, ValueError) as exc:
                        raise ValueError(f"{path}:{line_no}: joint {name!r} is not numeric: {value!r}") from exc
            frames.append((frame, pix, conf))
    return frames


def _read_openpose_dir(path: Path) -> list[tuple[int, np.ndarray, np.ndarray]]:
    files = sorted(path.glob("*.json"))
    if not files:
        raise ValueError(f"{path}: no OpenPose *.json files")
    frames = []
    for i, f in enumerate(files):
        try:
            people = json.loads(f.read_text()).get("people", [])
        except (json.JSONDecodeError, OSError, AttributeError) as exc:
            raise ValueError(f"{f}: not an OpenPose JSON file ({exc})") from exc
        pix = np.full((len(people), 18, 2), np.nan)
        conf = np.zeros((len(people), 18))
        for p, person in enumerate(people):
            kp = np.asarray(person.get("pose_keypoints_2d", []), dtype=np.float64).reshape(-1, 3)
            if len(kp) == 25:
                kp = kp[_BODY25_TO_OPENPOSE18]
            elif len(kp) != 18:
                raise ValueError(f"{f}: pose_keypoints_2d has {len(kp)} joints; expected 18 (COCO) or 25 (BODY_25)")
            seen = kp[:, 2] > 0  # OpenPose writes (0, 0, 0) for undetected joints
            pix[p, seen] = kp[seen, :2]
            conf[p] = np.where(seen, kp[:, 2], 0.0)
        frames.append((i, pix, conf))
    return frames


def _depth_files(path: Path) -> list[Path]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".png", ".npy", ".pgm", ".tif", ".tiff"))
    if not files:
        raise ValueError(f"{path}: no depth images (.png / .npy)")
    return files


def _read_depth(path: Path) -> np.ndarray:
    from pose3d_ros.core.camera import depth_to_metres

    if path.suffix.lower() == ".npy":
        return depth_to_metres(np.load(path).astype(np.float32), "32FC1")
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"{path}: unreadable depth image")
    if img.dtype == np.uint16:
        return depth_to_metres(img, "16UC1")
    return depth_to_metres(img.astype(np.float32), "32FC1")


def run(args: argparse.Namespace) -> int:
    from pose3d_ros.core.camera import PinholeCamera, load_camera_yaml
    from pose3d_ros.core.depth import sample_joint_depth
    from pose3d_ros.core.lifting import PoseLifter
    from pose3d_ros.core.prior import PosePrior, default_prior_path
    from pose3d_ros.core.rgbd_lift import lift_with_depth
    from pose3d_ros.core.skeleton import JOINT_NAMES, convert, get_layout

    try:
        if args.input.is_dir():
            layout = get_layout(args.layout or "openpose18")
            frames = _read_openpose_dir(args.input)
        else:
            layout = get_layout(args.layout or "coco17")
            frames = _read_jsonl(args.input, layout)
        camera = load_camera_yaml(args.camera_info) if args.camera_info else PinholeCamera.default(args.width,
                                                                                                  args.height)
        prior = PosePrior.load(args.prior or default_prior_path())
        depth_files = _depth_files(args.depth) if args.depth else None
    except (OSError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lifter = PoseLifter(prior, precise_2d=args.precise_2d)
    out = sys.stdout if str(args.output) == "-" else args.output.open("w")
    n_people = 0
    try:
        for i, (frame, pix, conf) in enumerate(frames):
            skeletons = []
            if len(pix):
                conf = np.where(np.isfinite(conf) & (conf >= args.min_confidence), conf, 0.0)
                uv, c = convert(pix, conf, layout, "pose3d16")
                zs = None
                if depth_files is not None and i < len(depth_files):
                    depth = _read_depth(depth_files[i])
                    zs = np.stack([sample_joint_depth(depth, np.nan_to_num(q, nan=-1.0)) for q in uv])
                # raw-image pixels (depth sampled there) -> ideal pinhole pixels for the lift (lens distortion)
                und = camera.undistort_pixels(uv)
                c_und = np.where(np.isfinite(und).all(axis=-1), c, 0.0)
                res, poses, measured_all = lift_with_depth(lifter, und, c_und, camera.without_distortion(), zs)
                for p in np.flatnonzero(res.valid):
                    pose, measured = poses[p], measured_all[p]
                    skeletons.append({
                        "id": int(p),
                        "confidence": round(float(c[p].mean()), 4),
                        "joints": {n: [round(float(v), 4) for v in pose[j]] for j, n in enumerate(JOINT_NAMES)},
                        "pixels": {n: [round(float(uv[p, j, 0]), 2), round(float(uv[p, j, 1]), 2),
                                       round(float(c[p, j]), 4)]
                                   for j, n in enumerate(JOINT_NAMES) if c[p, j] > 0},
                        "measured": {n: bool(measured[j]) for j, n in enumerate(JOINT_NAMES)},
                    })  # fmt: skip
            n_people += len(skeletons)
            out.write(json.dumps({"frame": frame, "skeletons": skeletons}) + "\n")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"lifted {n_people} skeletons in {len(frames)} frames", file=sys.stderr)
    return 0
