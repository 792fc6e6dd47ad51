"""``pose3d-ros lift``: bring your own 2D keypoints -> 3D skeletons (metres, camera optical frame) as JSONL.

Input, either

* a JSONL file, one line per frame: ``{"frame": i, "people": [{"pixels": {"<joint_name>": [u, v, conf], ...}}]}``
  with joint names of ``--layout`` (missing joints may be left out; NaN coordinates are missing joints); or
* a directory of OpenPose ``*_keypoints.json`` files (``people[].pose_keypoints_2d``, COCO-18 or BODY_25), one per
  frame in name order.

Output, one line per input frame (the ``estimate`` format): ``{"frame": i, "skeletons": [{"id": n, "confidence": c,
"joints": {"<joint_name>": [x, y, z]}, "pixels": {"<joint_name>": [u, v, conf]}, "measured": {...}}]}``.
People whose 2D is unusable (too few joints) are left out. Every written joint is finite and in front of the camera
(``z > 0``), within 100 m, with human bones; a lifted skeleton that breaks this rule (degenerate 2D: all joints on one
pixel, or scattered over a million pixels) is left out and counted in ``"dropped"``, and a frame that fails (an
unreadable depth image) is still written, as ``{"frame": i, "skeletons": [], "error": "..."}`` with a warning on
stderr (see :mod:`pose3d_ros.commands._offline`).

``--depth DIR``: registered depth images, one per frame in name order (16-bit PNG in millimetres, or ``.npy`` in
metres), each the size of the camera; joint depths are sampled robustly and every joint is fitted to its depth
(robust loss, bone lengths, prior); ``measured`` says which joints rest on their depth. ``--precise-2d``: for exact
2D (ground truth, mocap markers) the bone-length refinement runs without depth too.

Malformed input, a missing file, fewer depth images than frames, a depth image of another size than the camera or
an ``--output`` that cannot be written (a directory, a missing directory, the input itself) are refused: one line
``pose3d-ros lift: <file>: <problem>`` on stderr (``<file>:<line>`` for JSONL input) and exit status 2, before
anything is written (a later depth image of another size stops the run there). Exit status 2 also when every
frame failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pose3d_ros.commands._lift_input import Frames, read_jsonl, read_openpose_dir
from pose3d_ros.commands._offline import (
    JOINT_DECIMALS,
    CommandError,
    Warnings,
    check_depth_size,
    check_output,
    depth_files,
    fail,
    number,
    open_output,
    pose_problem,
    positive_int,
    read_depth,
    unit_float,
)

if TYPE_CHECKING:
    from pose3d_ros.core.camera import PinholeCamera
    from pose3d_ros.core.prior import PosePrior
    from pose3d_ros.core.skeleton import SkeletonLayout

COMMAND = "lift"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", type=Path, required=True, help="2D JSONL file or a directory of OpenPose JSON")
    parser.add_argument("--output", type=Path, required=True,
                        help="3D JSONL to write ('-' = stdout); its directory must exist")
    parser.add_argument("--layout", default=None,
                        help="2D joint layout: coco17, openpose18, blazepose33, pose3d16, ... (default: coco17 for "
                             "JSONL, openpose18 for an OpenPose directory)")
    parser.add_argument("--camera-info", type=Path, default=None,
                        help="ROS camera calibration YAML (its lens distortion is honoured)")
    parser.add_argument("--width", type=positive_int, default=640, help="image width for the default camera")
    parser.add_argument("--height", type=positive_int, default=480, help="image height for the default camera")
    parser.add_argument("--depth", type=Path, default=None,
                        help="directory of registered depth images, one per frame, the camera's size")
    parser.add_argument("--prior", type=Path, default=None, help="prior .npz (default: the shipped one)")
    parser.add_argument("--min-confidence", type=unit_float, default=0.05, help="2D joints below this are missing")
    parser.add_argument("--precise-2d", action="store_true",
                        help="the 2D is precise (ground truth, markers): bone-length refinement without depth too "
                             "(hurts with detector noise of 10 px)")


def _setup(
    args: argparse.Namespace,
) -> tuple[SkeletonLayout, Frames, PinholeCamera, PosePrior, list[Path] | None]:
    """Everything a run needs, or a :class:`CommandError`: (layout, frames, camera, prior, depth files)."""
    from pose3d_ros.core.camera import PinholeCamera, load_camera_yaml
    from pose3d_ros.core.prior import PosePrior, default_prior_path
    from pose3d_ros.core.skeleton import get_layout

    if not args.input.exists():
        raise CommandError(args.input, "no such file or directory")
    check_output(args.output, make_parents=False, inputs=(args.input,))
    try:
        layout = get_layout(args.layout or ("openpose18" if args.input.is_dir() else "coco17"))
    except KeyError as exc:
        raise CommandError.about("--layout", exc) from None
    if args.input.is_dir():
        if layout.name != "openpose18":
            raise CommandError("--layout", f"an OpenPose directory holds openpose18 joints, not {layout.name}")
        frames = read_openpose_dir(args.input)
    else:
        frames = read_jsonl(args.input, layout)
    if args.camera_info is not None:
        try:
            camera = load_camera_yaml(args.camera_info)
        except (OSError, ValueError) as exc:
            raise CommandError.about(args.camera_info, exc) from None
    else:
        camera = PinholeCamera.default(args.width, args.height)
    prior_path = args.prior or default_prior_path()
    try:
        prior = PosePrior.load(prior_path)
    except (OSError, ValueError) as exc:
        raise CommandError.about(prior_path, exc) from None
    depths = None
    if args.depth is not None:
        depths = depth_files(args.depth)
        if len(depths) < len(frames):
            raise CommandError(args.depth, f"{len(depths)} depth images for {len(frames)} frames of {args.input}")
        try:  # the usual mistake (another resolution) is refused before anything is written
            first = read_depth(depths[0])
        except ValueError:
            pass  # that frame's failure, recorded in its line
        else:
            check_depth_size(first, camera.width, camera.height, depths[0], "the camera")
    return layout, frames, camera, prior, depths


def _skeleton(p: int, pose: np.ndarray, uv: np.ndarray, c: np.ndarray, measured: np.ndarray) -> dict:
    from pose3d_ros.core.skeleton import JOINT_NAMES

    return {
        "id": int(p),
        "confidence": number(c.mean(), 4),
        "joints": {n: [round(float(v), JOINT_DECIMALS) for v in pose[j]] for j, n in enumerate(JOINT_NAMES)},
        "pixels": {n: [round(float(uv[j, 0]), 2), round(float(uv[j, 1]), 2), number(c[j], 4)]
                   for j, n in enumerate(JOINT_NAMES) if c[j] > 0 and np.isfinite(uv[j]).all()},
        "measured": {n: bool(measured[j]) for j, n in enumerate(JOINT_NAMES)},
    }  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Lift every frame; 0 when at least one frame (or none at all) was lifted, 2 on a refusal."""
    from pose3d_ros.core.depth import sample_joint_depth
    from pose3d_ros.core.lifting import PoseLifter
    from pose3d_ros.core.rgbd_lift import lift_with_depth
    from pose3d_ros.core.skeleton import convert

    try:
        layout, frames, camera, prior, depths = _setup(args)
        lifter = PoseLifter(prior, precise_2d=args.precise_2d)
        out = open_output(args.output)
    except CommandError as exc:
        return fail(COMMAND, exc)
    warn = Warnings(COMMAND)
    n_people = n_failed = n_dropped = 0
    try:
        for i, (frame, pix, conf) in enumerate(frames):
            skeletons: list[dict] = []
            record: dict = {"frame": frame, "skeletons": skeletons}
            try:
                if len(pix):
                    conf = np.where(np.isfinite(conf) & (conf >= args.min_confidence), conf, 0.0)
                    uv, c = convert(pix, conf, layout, "pose3d16")
                    zs = None
                    if depths is not None:
                        depth = read_depth(depths[i])
                        check_depth_size(depth, camera.width, camera.height, depths[i], "the camera")
                        zs = np.stack([sample_joint_depth(depth, np.nan_to_num(q, nan=-1.0)) for q in uv])
                    # raw-image pixels (depth sampled there) -> ideal pinhole pixels for the lift (lens distortion)
                    und = camera.undistort_pixels(uv)
                    c_und = np.where(np.isfinite(und).all(axis=-1), c, 0.0)
                    with np.errstate(all="ignore"):  # absurd 2D may overflow; pose_problem rejects the result
                        res, poses, measured = lift_with_depth(lifter, und, c_und, camera.without_distortion(), zs)
                    for p in np.flatnonzero(res.valid):
                        if (problem := pose_problem(poses[p])) is not None:
                            n_dropped += 1
                            record["dropped"] = record.get("dropped", 0) + 1
                            warn(f"frame {frame}: person {p} left out: {problem}")
                            continue
                        skeletons.append(_skeleton(int(p), poses[p], uv[p], c[p], measured[p]))
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:  # this frame only
                skeletons.clear()
                record.pop("dropped", None)
                record["error"] = str(exc)
                n_failed += 1
                warn(f"frame {frame}: {exc}")
            n_people += len(skeletons)
            out.write(json.dumps(record, allow_nan=False) + "\n")
    except CommandError as exc:
        return fail(COMMAND, exc)
    except OSError as exc:  # the output (disk full, closed pipe)
        return fail(COMMAND, CommandError.about(args.output, exc))
    finally:
        if out is not sys.stdout:
            out.close()
    notes = "".join([f", {n_failed} failed frames" if n_failed else "",
                     f", {n_dropped} skeletons left out (implausible 3D)" if n_dropped else ""])
    print(f"pose3d-ros {COMMAND}: lifted {n_people} skeletons in {len(frames)} frames{notes} -> {args.output}",
          file=sys.stderr)
    if frames and n_failed == len(frames):
        return fail(COMMAND, CommandError(args.input, "no frame could be lifted"))
    return 0
