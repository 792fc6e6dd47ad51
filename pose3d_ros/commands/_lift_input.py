"""Readers of ``pose3d-ros lift``'s 2D input: a JSONL file or a directory of OpenPose JSON files.

Each reader returns ``[(frame, pixels (P, J, 2), confidence (P, J))]`` with NaN pixels and zero confidence for the
joints a person lacks. Malformed input is refused with a :class:`~pose3d_ros.commands._offline.CommandError`
naming ``file:line`` (JSONL) or the file (OpenPose) and the offending field; non-finite coordinates are missing
joints, not errors (some tools write NaN for an unseen joint).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from pose3d_ros.commands._offline import CommandError

# OpenPose BODY_25 index of each COCO-18 (openpose18) joint.
BODY25_TO_OPENPOSE18 = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
OPENPOSE18_JOINTS = 18

Frames = list[tuple[int, np.ndarray, np.ndarray]]


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _frame_number(doc: dict, default: int) -> int:
    value = doc.get("frame", default)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"'frame' must be an integer >= 0, got {value!r}")
    return value


def _person_pixels(person: Any, p: int, index: dict[str, int], layout_name: str,
                   pix: np.ndarray, conf: np.ndarray) -> None:
    """Fill row ``p`` of ``pix`` / ``conf`` from one JSONL person; ValueError names the field."""
    if not isinstance(person, dict):
        raise ValueError(f"people[{p}] must be an object {{\"pixels\": {{...}}}}, got {_kind(person)} {person!r}")
    pixels = person.get("pixels")
    if pixels is None:
        return
    if not isinstance(pixels, dict):
        raise ValueError(f"people[{p}].pixels must be an object {{\"<joint_name>\": [u, v, conf]}}, "
                         f"got {_kind(pixels)}")
    for name, value in pixels.items():
        if name not in index:
            raise ValueError(f"people[{p}]: joint {name!r} is not in layout {layout_name!r}")
        if not isinstance(value, list) or len(value) not in (2, 3) or not all(_is_number(v) for v in value):
            raise ValueError(f"people[{p}]: joint {name!r} needs [u, v(, conf)] numbers, got {value!r}")
        u, v = float(value[0]), float(value[1])
        c = float(value[2]) if len(value) > 2 else 1.0
        if math.isfinite(u) and math.isfinite(v) and math.isfinite(c) and c > 0:
            pix[p, index[name]] = (u, v)
            conf[p, index[name]] = c


def read_jsonl(path: Path, layout) -> Frames:
    """Frames of a JSONL file ``{"frame": i, "people": [{"pixels": {"<joint_name>": [u, v, conf]}}]}``."""
    frames: Frames = []
    index = {name: i for i, name in enumerate(layout.names)}
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise CommandError.about(path, exc) from None
    with fh:
        line_no = 0
        try:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CommandError(f"{path}:{line_no}", f"not a frame object (invalid JSON: {exc})") from None
                try:
                    if not isinstance(doc, dict):
                        raise ValueError(f"not a frame object: expected a JSON object, got {_kind(doc)}")
                    frame = _frame_number(doc, len(frames))
                    people = doc.get("people", [])
                    people = [] if people is None else people
                    if not isinstance(people, list):
                        raise ValueError(f"'people' must be a list of people, got {_kind(people)} {people!r}")
                    pix = np.full((len(people), len(layout.names), 2), np.nan)
                    conf = np.zeros((len(people), len(layout.names)))
                    for p, person in enumerate(people):
                        _person_pixels(person, p, index, layout.name, pix, conf)
                except ValueError as exc:
                    raise CommandError(f"{path}:{line_no}", str(exc)) from None
                frames.append((frame, pix, conf))
        except UnicodeDecodeError:
            raise CommandError(f"{path}:{line_no + 1}", "not UTF-8 text") from None
        except OSError as exc:
            raise CommandError.about(path, exc) from None
    return frames


def _openpose_person(person: Any, p: int) -> np.ndarray:
    """(18, 3) u, v, conf of one OpenPose person; ValueError names the field."""
    if not isinstance(person, dict):
        raise ValueError(f"people[{p}] must be an object with pose_keypoints_2d, got {_kind(person)} {person!r}")
    values = person.get("pose_keypoints_2d", [])
    if not isinstance(values, list) or not all(_is_number(v) or v is None for v in values):
        raise ValueError(f"people[{p}].pose_keypoints_2d must be a list of numbers, got {str(values)[:60]}")
    n = len(values)
    if n not in (3 * OPENPOSE18_JOINTS, 3 * 25):
        raise ValueError(f"people[{p}].pose_keypoints_2d has {n} numbers; expected {3 * OPENPOSE18_JOINTS} "
                         "(COCO-18) or 75 (BODY_25): u, v, confidence per joint")
    kp = np.array([np.nan if v is None else v for v in values], dtype=np.float64).reshape(-1, 3)
    return kp[BODY25_TO_OPENPOSE18] if len(kp) == 25 else kp


def read_openpose_dir(path: Path) -> Frames:
    """Frames of a directory of OpenPose ``*.json`` files (``people[].pose_keypoints_2d``), one per frame."""
    try:
        files = sorted(path.glob("*.json"))
    except OSError as exc:
        raise CommandError.about(path, exc) from None
    if not files:
        raise CommandError(path, "no OpenPose *.json files")
    frames: Frames = []
    for i, f in enumerate(files):
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError.about(f, exc) from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise CommandError(f, f"not an OpenPose JSON file ({exc})") from None
        try:
            if not isinstance(doc, dict):
                raise ValueError(f"not an OpenPose JSON file: expected an object, got {_kind(doc)}")
            people = doc.get("people", [])
            people = [] if people is None else people
            if not isinstance(people, list):
                raise ValueError(f"'people' must be a list, got {_kind(people)} {people!r}")
            kps = [_openpose_person(person, p) for p, person in enumerate(people)]
        except ValueError as exc:
            raise CommandError(f, str(exc)) from None
        pix = np.full((len(kps), OPENPOSE18_JOINTS, 2), np.nan)
        conf = np.zeros((len(kps), OPENPOSE18_JOINTS))
        for p, kp in enumerate(kps):
            seen = np.isfinite(kp).all(axis=1) & (kp[:, 2] > 0)  # OpenPose writes (0, 0, 0) for undetected joints
            pix[p, seen] = kp[seen, :2]
            conf[p, seen] = kp[seen, 2]
        frames.append((i, pix, conf))
    return frames
