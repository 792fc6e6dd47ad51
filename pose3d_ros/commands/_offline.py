"""Plumbing shared by the offline commands (``estimate``, ``lift``): refusals, argparse types, the output file,
depth images and the JSONL output rule.

Refusals
    A problem with an input, an option or the output is a :class:`CommandError` naming the file (or ``file:line``,
    or the option) and the problem. The command prints it as one line, ``pose3d-ros <cmd>: <file>: <problem>``, on
    stderr and exits with status 2; no traceback. argparse refuses malformed option values itself (status 2) through
    the type functions below.

Output rule (every JSONL line either command writes)
    One JSON object per input frame, in input order, also for a frame that failed: that one has
    ``"skeletons": []`` and ``"error": "<problem>"``. Every written joint is finite, in front of the camera
    (``z > 0``, also after rounding to 0.1 mm) and within :data:`MAX_RANGE_M`, and every skeleton has human bones
    (none too long, a human total): the invariant of :class:`pose3d_ros.core.output_guard.OutputGuard`, the one the
    inference node publishes under (:func:`pose_problem`). A skeleton that breaks it is left out of its frame and
    counted in ``"dropped"``, never written with NaN or absurd values. Numbers are plain JSON (no NaN / Infinity
    literals).
"""

from __future__ import annotations

import argparse
import functools
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

if TYPE_CHECKING:
    from pose3d_ros.core.output_guard import OutputGuard

#: farthest joint (m) the commands write: offline footage sees people farther than a Kinect's range (the node's
#: ``OutputGuard`` default), but a person 100 m away is ~9 px tall at fx = 525 px, below what any 2D model here finds;
#: beyond it a lift has run away (degenerate 2D: all joints on one pixel gives z = 1e6 m)
MAX_RANGE_M = 100.0
#: decimals of the written joint coordinates (0.1 mm)
JOINT_DECIMALS = 4
#: failed frames reported one by one on stderr; later ones only in the closing count
MAX_WARNINGS = 10
DEPTH_SUFFIXES = (".png", ".npy", ".pgm", ".tif", ".tiff")


class CommandError(Exception):
    """A refusal: ``<source>: <problem>`` (source = a file, ``file:line`` or an option such as ``--fps``)."""

    def __init__(self, source: str | Path | None, problem: str) -> None:
        self.source = None if source is None else str(source)
        self.problem = one_line(problem)
        super().__init__(self.problem if self.source is None else f"{self.source}: {self.problem}")

    @classmethod
    def about(cls, source: str | Path, exc: BaseException) -> CommandError:
        """The refusal for ``exc`` raised while handling ``source``: the message without the path the exception
        may already start with, OSErrors as their plain reason (``No such file or directory``)."""
        return cls(source, describe(exc, source))


def one_line(text: str) -> str:
    """``text`` with its line breaks and runs of blanks collapsed into single spaces."""
    return re.sub(r"\s+", " ", str(text)).strip()


def describe(exc: BaseException, source: str | Path | None = None) -> str:
    """The problem ``exc`` reports, in one line, without a leading ``<source>: ``."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(source) else ""
        return f"{exc.strerror.lower()}{where}"
    text = one_line(str(exc) or type(exc).__name__)
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = one_line(exc.args[0])  # str(KeyError) adds quotes
    if source is not None:
        marker = f"{source}: "
        at = text.find(marker)
        if 0 <= at <= 40:  # "camera YAML <path>: ..." or "<path>: ..."
            text = text[at + len(marker):]
    return text


def fail(command: str, error: BaseException) -> int:
    """Print ``pose3d-ros <command>: <error>`` (one line) on stderr; the exit status of a refusal."""
    print(f"pose3d-ros {command}: {one_line(str(error))}", file=sys.stderr)
    return 2


class Warnings:
    """Failed frames on stderr, one line each, the first :data:`MAX_WARNINGS` only; :attr:`count` counts all."""

    def __init__(self, command: str) -> None:
        self.command, self.count = command, 0

    def __call__(self, text: str) -> None:
        self.count += 1
        if self.count <= MAX_WARNINGS:
            print(f"pose3d-ros {self.command}: warning: {one_line(text)}", file=sys.stderr)
        elif self.count == MAX_WARNINGS + 1:
            print(f"pose3d-ros {self.command}: warning: further warnings left out", file=sys.stderr)


# --- argparse types: argparse turns their ArgumentTypeError into "argument --x: <message>" and exit status 2


def positive_float(text: str) -> float:
    """A finite number > 0 (``--fps``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def unit_float(text: str) -> float:
    """A number in [0, 1] (``--min-confidence``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def non_negative_int(text: str) -> int:
    """An integer >= 0 (``--max-frames``: 0 = all)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (image sizes, counts)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


# --- files


def check_output(path: Path, *, make_parents: bool, inputs: tuple[Path | None, ...] = ()) -> None:
    """Refuse an output path that cannot be written, before any work is done.

    ``-`` (stdout) passes. A directory, a path under a missing directory (created when ``make_parents``) or
    under a file, and one of ``inputs`` (it would be overwritten) are refused with :class:`CommandError`.
    """
    if str(path) == "-":
        return
    if path.is_dir():
        raise CommandError(path, "is a directory; --output needs a file name (or '-' for stdout)")
    for other in inputs:
        if other is not None and other.is_file() and path.exists() and path.samefile(other):
            raise CommandError(path, "is also the input; it would be overwritten")
    parent = path.parent
    if parent.is_dir():
        return
    if parent.exists():
        raise CommandError(path, f"{parent} is not a directory")
    if not make_parents:
        raise CommandError(path, f"directory {parent} does not exist")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError.about(path, exc) from None


def open_output(path: Path) -> TextIO:
    """The output stream: stdout for ``-``, else ``path`` opened for writing (checked by :func:`check_output`)."""
    if str(path) == "-":
        return sys.stdout
    try:
        return path.open("w")
    except OSError as exc:
        raise CommandError.about(path, exc) from None


def depth_files(path: Path) -> list[Path]:
    """The depth images of a ``--depth`` directory in name order; :class:`CommandError` when there are none."""
    if not path.is_dir():
        raise CommandError(path, "not a directory" if path.exists() else "no such directory")
    try:
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in DEPTH_SUFFIXES)
    except OSError as exc:
        raise CommandError.about(path, exc) from None
    if not files:
        raise CommandError(path, f"no depth images ({', '.join(DEPTH_SUFFIXES)})")
    return files


def read_depth(path: Path) -> np.ndarray:
    """One depth image as (H, W) metres: 16-bit PNG in mm, ``.npy`` in m.

    Raises
    ------
    ValueError
        ``<path>: <problem>`` when the file is unreadable or not a single-channel image (a frame's failure).
    """
    from pose3d_ros.core.camera import depth_to_metres

    try:
        if path.suffix.lower() == ".npy":
            img = np.load(path, allow_pickle=False)
        else:
            import cv2

            img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path}: unreadable depth image ({describe(exc, path)})") from None
    if img is None or not isinstance(img, np.ndarray):
        raise ValueError(f"{path}: unreadable depth image")
    if img.ndim != 2 or not (np.issubdtype(img.dtype, np.integer) or np.issubdtype(img.dtype, np.floating)):
        raise ValueError(f"{path}: depth must be one channel of numbers, got {img.dtype} {img.shape}")
    if img.dtype == np.uint16:
        return depth_to_metres(img, "16UC1")
    return depth_to_metres(img.astype(np.float32), "32FC1")


def check_depth_size(depth: np.ndarray, width: int, height: int, source: Path, what: str) -> None:
    """Refuse (:class:`CommandError` naming ``source``) a depth image whose size is not ``width`` x ``height``."""
    h, w = depth.shape[:2]
    if (w, h) != (width, height):
        raise CommandError(source, f"depth is {w}x{h} but {what} is {width}x{height} (depth must be registered "
                                   "to the colour image)")


# --- the output rule


@functools.cache
def _guard() -> OutputGuard:
    from pose3d_ros.core.output_guard import MAX_BONE_M, OutputGuard

    # No lower bound per bone: the pipeline's own skeletons of real people have short bones at times (pelvis-hip
    # 19.8 mm on the man on the box, sports2d clip frame 9, against MIN_BONE_M = 20 mm); too long bones and the
    # body size are still checked.
    return OutputGuard(max_range_m=MAX_RANGE_M, bone_m=(0.0, MAX_BONE_M))


def pose_problem(joints: np.ndarray) -> str | None:
    """Why a (16, 3) pose3d16 camera-frame pose (metres) may not be written, or None when it may.

    :meth:`pose3d_ros.core.output_guard.OutputGuard.problem` (finite, ``z > 0``, within :data:`MAX_RANGE_M`, no bone
    too long, a human total), and ``z`` still > 0 once rounded to :data:`JOINT_DECIMALS` for the JSON.
    """
    kind, reason = _guard().problem(joints)
    if kind:
        return reason
    z = np.asarray(joints, dtype=np.float64)[:, 2]
    if (np.round(z, JOINT_DECIMALS) <= 0).any():
        return f"joint z = {float(z.min()):.2g} m rounds to 0 m (behind the camera in the output)"
    return None


def number(value: float, decimals: int, default: float = 0.0) -> float:
    """``value`` rounded for JSON; ``default`` when it is not finite."""
    v = float(value)
    return round(v, decimals) if math.isfinite(v) else default
