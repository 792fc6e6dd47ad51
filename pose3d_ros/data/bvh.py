"""Biovision BVH motion files -> world joint positions, and -> pose3d16 :class:`~.mocap.MocapTake` objects.

A small parser plus vectorised forward kinematics (numpy + scipy). The PyPI readers were looked at first: ``bvh``
0.3 has no licence and no forward kinematics, ``bvhio`` pins ``pyglm`` and ``spatial-transform``, ``bvhtools`` pulls in
raylib and matplotlib, ``pybvh`` (MIT) is 14k lines with a matplotlib requirement and refuses ``Boxing_Toes.bvh``'s
extra frame line; none names the line of an error. (pybvh's forward kinematics agrees with this one to 1e-13.)

Forward kinematics: each joint's rotation channels are intrinsic Euler angles in degrees, applied in the listed order,
``R_local = R_c1 @ R_c2 @ R_c3`` for ``CHANNELS ... c1 c2 c3``; translation channels are added to the joint's
``OFFSET``. World transform ``R_j = R_parent @ R_local``, ``p_j = p_parent + R_parent @ (offset_j + t_j)``. An
``End Site`` is reported as ``"<parent>_End"``.

Joint centres for pose3d16 (:data:`SKELETONS`; a ``namespace:`` prefix such as Mixamo's ``mixamorig:`` is ignored):

* CMU (cgspeed's BVH conversion of the CMU database; Mixamo uses the same names): hip = ``LeftUpLeg``, knee =
  ``LeftLeg``, ankle = ``LeftFoot``, shoulder = ``LeftArm``, elbow = ``LeftForeArm``, wrist = ``LeftHand``;
* ``Ab``/``Chest`` style (e.g. assimp's ``Boxing_Toes.bvh``): ``LeftHip``, ``LeftKnee``, ``LeftAnkle``,
  ``LeftShoulder``, ``LeftElbow``, ``LeftWrist``; right side alike (CMU's ``LeftShoulder`` is the clavicle: the
  skeletons are told apart by the whole name set, CMU first);
* pelvis = the midpoint of the two hip joints (CMU's ``Hips`` root sits 10 cm above and 5 cm behind it; the
  ``Ab``/``Chest`` root coincides with it);
* neck = the midpoint of the two shoulder joints; spine = the midpoint of pelvis and neck (package definitions);
* head = the midpoint of the ``Head`` joint and its end site (or Mixamo's ``HeadTop_End``): the ``Head`` joint is
  the skull base, the end the crown, so the midpoint approximates the head centre (median distance above the neck:
  CMU subject 01 0.17 m, Boxing_Toes 0.21 m, the DeepMimic clips 0.16 m; ``Head`` alone is 5-9 cm lower).

Axes: BVH world is y up; :data:`~.mocap.Y_UP_TO_PACKAGE` (a proper rotation) keeps left as left. Units: ``unit_m``
or, by default, the factor in :data:`UNITS_M` that makes the median thigh closest to 0.43 m (cgspeed CMU files are in
ASF units, 1/0.45 inch = 0.05644 m). NaN values are an error, not dropped frames: the frame rate must stay exact;
frame lines beyond the declared ``Frames:`` count are kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from pose3d_ros.data.mocap import POSE3D16_NAMES, Y_UP_TO_PACKAGE, MocapFileError, MocapTake, ground_and_check

#: candidate file units (metres per unit) for auto-detection; CMU ASF/cgspeed unit = 1/0.45 inch.
UNITS_M = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu_asf": 0.0254 / 0.45}
_THIGH_M, _THIGH_RANGE_M = 0.43, (0.3, 0.6)

#: pose3d16 joint -> BVH joint (left/right side given once with ``{s}`` = Left/Right).
SKELETONS = {
    "cmu": {"hip": "{s}UpLeg", "knee": "{s}Leg", "ankle": "{s}Foot",
            "shoulder": "{s}Arm", "elbow": "{s}ForeArm", "wrist": "{s}Hand", "head": "Head"},
    "ab_chest": {"hip": "{s}Hip", "knee": "{s}Knee", "ankle": "{s}Ankle",
                 "shoulder": "{s}Shoulder", "elbow": "{s}Elbow", "wrist": "{s}Wrist", "head": "Head"},
}  # fmt: skip

_CHANNELS = {f"{a}{k}": (a.lower(), k) for a in "XYZ" for k in ("position", "rotation")}


class _Tokens:
    """Whitespace tokens of the HIERARCHY part with their 1-based line numbers."""

    def __init__(self, path: Path, lines: list[str]) -> None:
        self.path, self.items, self.i = path, [(t, n + 1) for n, ln in enumerate(lines) for t in ln.split()], 0

    def next(self, what: str) -> tuple[str, int]:
        if self.i >= len(self.items):
            raise MocapFileError(self.path, f"the HIERARCHY ends while expecting {what} (truncated?)")
        self.i += 1
        return self.items[self.i - 1]

    def floats(self, n: int, what: str) -> list[float]:
        out = []
        for _ in range(n):
            tok, line = self.next(what)
            try:
                out.append(float(tok))
            except ValueError:
                raise MocapFileError(self.path, f"line {line}: {what} value {tok!r} is not a number") from None
        if not np.isfinite(out).all():
            raise MocapFileError(self.path, f"line {line}: {what} is not finite")
        return out


def _parse_joint(tk: _Tokens, name: str, parent: int, sk: dict) -> None:
    """Append one joint block (after its name) and its children to ``sk``, depth first, parents first."""
    tok, line = tk.next("'{'")
    if tok != "{":
        raise MocapFileError(tk.path, f"line {line}: expected '{{' after joint {name!r}, got {tok!r}")
    if name in sk["names"]:
        raise MocapFileError(tk.path, f"line {line}: joint name {name!r} used twice")
    j = len(sk["names"])
    for key, value in (("names", name), ("parents", parent), ("offsets", None), ("channels", [])):
        sk[key].append(value)
    while True:
        tok, line = tk.next(f"'}}' closing joint {name!r}")
        if tok == "OFFSET":
            sk["offsets"][j] = tk.floats(3, f"OFFSET of {name!r}")
        elif tok == "CHANNELS":
            n, _ = tk.next("the channel count")
            if not n.isdigit():
                raise MocapFileError(tk.path, f"line {line}: CHANNELS count {n!r} of {name!r} is not an integer")
            for _ in range(int(n)):
                c, cl = tk.next(f"a channel name of {name!r}")
                if c.capitalize() not in _CHANNELS:
                    raise MocapFileError(tk.path, f"line {cl}: unknown channel {c!r} of joint {name!r}")
                sk["channels"][j].append(_CHANNELS[c.capitalize()])
        elif tok == "JOINT":
            _parse_joint(tk, tk.next("a joint name")[0], j, sk)
        elif tok == "End":
            if tk.next("'Site'")[0] != "Site":
                raise MocapFileError(tk.path, f"line {line}: expected 'End Site'")
            _parse_joint(tk, f"{name}_End", j, sk)
        elif tok == "}":
            break
        else:
            raise MocapFileError(tk.path, f"line {line}: unexpected {tok!r} in joint {name!r}")
    if sk["offsets"][j] is None:
        raise MocapFileError(tk.path, f"line {line}: joint {name!r} has no OFFSET")


def _parse(path: Path) -> tuple[dict, np.ndarray, float, int]:
    """Skeleton (names, parents, offsets, channels), motion (T, n_channels), frame time (s), declared frames."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise MocapFileError(path, f"cannot read: {e.strerror or e}") from None
    m = next((n for n, ln in enumerate(lines) if ln.strip().upper() == "MOTION"), None)
    tk = _Tokens(path, lines[:m] if m is not None else lines)
    if not tk.items or tk.next("HIERARCHY")[0] != "HIERARCHY":
        raise MocapFileError(path, "not a BVH file (does not start with HIERARCHY)")
    sk: dict = {"names": [], "parents": [], "offsets": [], "channels": []}
    while tk.i < len(tk.items):
        tok, line = tk.next("ROOT")
        if tok != "ROOT":
            raise MocapFileError(path, f"line {line}: expected ROOT or MOTION, got {tok!r}")
        _parse_joint(tk, tk.next("the root name")[0], -1, sk)
    if not sk["names"]:
        raise MocapFileError(path, "no ROOT joint in the HIERARCHY")
    if m is None:
        raise MocapFileError(path, "no MOTION section (truncated?)")

    body = [(n + 1, ln.strip()) for n, ln in enumerate(lines[m + 1 :], start=m + 1) if ln.strip()]
    frames = re.fullmatch(r"Frames:\s*(\d+)", body[0][1], re.IGNORECASE) if body else None
    frame_time = re.fullmatch(r"Frame\s+Time:\s*(\S+)", body[1][1], re.IGNORECASE) if len(body) > 1 else None
    if frames is None or frame_time is None:
        raise MocapFileError(path, f"line {m + 1}: MOTION must be followed by 'Frames: N' and 'Frame Time: S'")
    try:
        n_frames, dt = int(frames[1]), float(frame_time[1])
    except ValueError:
        raise MocapFileError(path, f"line {body[1][0]}: Frame Time {frame_time[1]!r} is not a number") from None
    if not (np.isfinite(dt) and dt > 0) or n_frames < 1:
        raise MocapFileError(path, f"line {body[1][0]}: need Frames >= 1 and Frame Time > 0, got {n_frames}, {dt}")
    rows, n_ch = body[2:], sum(len(c) for c in sk["channels"])
    for k, (line, text) in enumerate(rows):
        if (got := len(text.split())) != n_ch:
            hint = " (truncated?)" if k == len(rows) - 1 and got < n_ch else ""
            raise MocapFileError(path, f"line {line}: frame {k} has {got} values, the HIERARCHY has {n_ch}{hint}")
    if len(rows) < n_frames:
        raise MocapFileError(path, f"'Frames: {n_frames}' but only {len(rows)} frame lines (truncated?)")
    # more well-formed lines than declared (Boxing_Toes.bvh: 3070 for 3069, an exporter off-by-one): all are kept
    try:
        motion = np.array(" ".join(t for _, t in rows).split(), dtype=np.float64)
    except ValueError:  # slow path, only to name the offending line
        values = []
        for line, text in rows:
            for t in text.split():
                try:
                    values.append(float(t))
                except ValueError:
                    raise MocapFileError(path, f"line {line}: value {t!r} is not a number") from None
        motion = np.array(values)
    motion = motion.reshape(len(rows), n_ch)
    bad = ~np.isfinite(motion).all(1)
    if bad.any():
        raise MocapFileError(path, f"line {rows[int(np.argmax(bad))][0]}: NaN or inf in frame {int(np.argmax(bad))}"
                                   f" ({int(bad.sum())} such frames)")  # fmt: skip
    return sk, motion, dt, n_frames


def _forward_kinematics(path: Path, sk: dict, motion: np.ndarray) -> np.ndarray:
    """World positions (T, J, 3) of all joints and end sites, file units and axes."""
    t = len(motion)
    rot = np.empty((len(sk["names"]), t, 3, 3))
    pos = np.empty((len(sk["names"]), t, 3))
    col = 0
    for j, (parent, chans) in enumerate(zip(sk["parents"], sk["channels"], strict=True)):
        block, col = motion[:, col : col + len(chans)], col + len(chans)
        local_t = np.broadcast_to(np.asarray(sk["offsets"][j], float), (t, 3)).copy()
        axes = "".join(a for a, k in chans if k == "rotation").upper()  # upper case = intrinsic in scipy
        for c, (a, k) in enumerate(chans):
            if k == "position":
                local_t[:, "xyz".index(a)] += block[:, c]
        angles = block[:, [c for c, (_, k) in enumerate(chans) if k == "rotation"]]
        try:
            local_r = Rotation.from_euler(axes, angles, degrees=True).as_matrix() if axes else np.eye(3)
        except ValueError as e:  # e.g. "ZZ" or four rotation channels
            raise MocapFileError(path, f"joint {sk['names'][j]!r}: rotation channels {axes}: {e}") from None
        if parent < 0:
            rot[j], pos[j] = local_r, local_t
        else:
            rot[j] = rot[parent] @ local_r
            pos[j] = pos[parent] + np.einsum("tij,tj->ti", rot[parent], local_t)
    return pos.transpose(1, 0, 2)


def _snap_fps(dt: float) -> float:
    """``1 / dt``, snapped to an integer when the Frame Time is a printed rounding of one (.0083333 -> 120)."""
    fps = 1.0 / dt
    return float(round(fps)) if round(fps) > 0 and abs(fps - round(fps)) < 1e-4 * fps else fps


def read_bvh(path: str | Path) -> tuple[dict[str, np.ndarray], float]:
    """World positions of every joint of a BVH file.

    Parameters
    ----------
    path : str or Path
        The ``.bvh`` file.

    Returns
    -------
    positions : dict of str -> (T, 3) float64 ndarray
        Per joint name (end sites as ``"<parent>_End"``), file units, file axes (y up), in file order.
    fps : float
        ``1 / Frame Time`` (snapped to an integer when within 1e-4 of one).

    Raises
    ------
    MocapFileError
        Unreadable or malformed file (truncated, no MOTION, wrong value count, non-numeric or NaN values).
    """
    sk, motion, dt, _ = _parse(Path(path))
    xyz = _forward_kinematics(Path(path), sk, motion)
    return {n: xyz[:, j] for j, n in enumerate(sk["names"])}, _snap_fps(dt)


def _match_skeleton(path: Path, pos: dict[str, np.ndarray]) -> tuple[str, dict[str, str]]:
    """Name of the known skeleton in :data:`SKELETONS` the file matches, and pose3d16-part -> file-name map."""
    bare = {n.rsplit(":", 1)[-1]: n for n in pos}  # drop "mixamorig:"-style namespaces
    missing = {}
    for skel, table in SKELETONS.items():
        want = {f"{side}_{part}": p.format(s=side.capitalize()) for part, p in table.items() if "{s}" in p
                for side in ("left", "right")} | {"head": table["head"]}  # fmt: skip
        missing[skel] = [w for w in want.values() if w not in bare]
        if not missing[skel]:
            return skel, {k: bare[v] for k, v in want.items()}
    lacks = "; ".join(f"{s} lacks {', '.join(m)}" for s, m in missing.items())
    raise MocapFileError(path, f"joint names match no known skeleton ({lacks})")


def read_bvh_take(path: str | Path, name: str, subject: str, label: str, unit_m: float | None = None) -> MocapTake:
    """Read a BVH file as one pose3d16 take (metres, package axes, ground at y = 0).

    Parameters
    ----------
    path : str or Path
        The ``.bvh`` file; its skeleton must be one of :data:`SKELETONS`.
    name, subject, label : str
        Take name, subject id and action label (see :class:`~.mocap.MocapTake`).
    unit_m : float, optional
        Metres per file unit; by default the :data:`UNITS_M` entry that makes the median thigh closest to 0.43 m.

    Returns
    -------
    MocapTake
        ``joints`` (T, 16, 3) float32; ``notes`` records the skeleton, unit and joint-centre definitions.

    Raises
    ------
    MocapFileError
        Malformed file, unknown skeleton, no plausible unit, a person not upright in y-up axes, or a skeleton
        that :func:`~.mocap.ground_and_check` refuses.
    """
    path = Path(path)
    sk, motion, dt, declared = _parse(path)
    xyz, fps = _forward_kinematics(path, sk, motion), _snap_fps(dt)
    pos = {n: xyz[:, j] for j, n in enumerate(sk["names"])}
    skel, names = _match_skeleton(path, pos)
    head_j = sk["names"].index(names["head"])
    kids = [n for n, p in zip(sk["names"], sk["parents"], strict=True) if p == head_j]
    head_top = next((n for n in kids if n == f"{names['head']}_End" or "top" in n.lower()), None)  # not an eye
    thigh = float(np.median([np.linalg.norm(pos[names[f"{s}_hip"]] - pos[names[f"{s}_knee"]], axis=1)
                             for s in ("left", "right")]))  # fmt: skip
    unit_name = "given"
    if unit_m is not None and not (np.isfinite(unit_m) and unit_m > 0):
        raise ValueError(f"unit_m must be a positive number of metres, got {unit_m}")
    if unit_m is None:
        unit_name = min(UNITS_M, key=lambda u: abs(np.log(max(thigh, 1e-12) * UNITS_M[u] / _THIGH_M)))
        unit_m = UNITS_M[unit_name]
        if not _THIGH_RANGE_M[0] <= thigh * unit_m <= _THIGH_RANGE_M[1]:
            raise MocapFileError(path, f"median thigh is {thigh:.4g} file units: no known unit makes it human; "
                                       "pass unit_m")  # fmt: skip
    j = {k: pos[v] for k, v in names.items()}
    j["pelvis"] = 0.5 * (j["left_hip"] + j["right_hip"])
    j["neck"] = 0.5 * (j["left_shoulder"] + j["right_shoulder"])
    j["spine"] = 0.5 * (j["pelvis"] + j["neck"])
    if head_top is not None:  # skull base -> crown midpoint ~ head centre
        j["head"] = 0.5 * (j["head"] + pos[head_top])
    joints = np.stack([j[n] for n in POSE3D16_NAMES], 1) * unit_m @ Y_UP_TO_PACKAGE.T
    i = POSE3D16_NAMES.index
    if np.median(joints[:, i("pelvis"), 1] - joints[:, i("head"), 1]) <= 0:
        raise MocapFileError(path, "the head is not above the pelvis on the median frame (file not y up?)")
    joints = ground_and_check(path, joints)
    notes = {"skeleton": skel, "unit_m": unit_m, "unit": unit_name, "frames": len(joints),
             "frames_declared": declared, "frames_dropped": len(motion) - len(joints),
             "joint_map": names, "head": f"midpoint of {names['head']} and {head_top}" if head_top else names["head"],
             "pelvis": "midpoint of the hip joints", "neck": "midpoint of the shoulder joints",
             "spine": "midpoint of pelvis and neck"}  # fmt: skip
    return MocapTake(name=name, subject=subject, label=label, fps=fps, joints=joints, source=str(path), notes=notes)
