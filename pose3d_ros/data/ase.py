"""3ds Max ASCII scene exports (``.ase``) of a Character Studio Biped -> pose3d16 :class:`~.mocap.MocapTake`.

Reads assimp's ``ASE/MotionCaptureROM.ase`` (a mocap-driven Biped, range of motion, German bone names). Each
``*GEOMOBJECT`` / ``*HELPEROBJECT`` gives ``*NODE_NAME``, ``*NODE_PARENT``, ``*NODE_TM`` (the node's *world* matrix
at the first frame, rows ``TM_ROW0..3``, row-vector convention ``p_world = p_local @ M``) and a ``*TM_ANIMATION`` with
sampled tracks:

* ``*CONTROL_POS_SAMPLE tick x y z``: the node's position in its *parent's* frame (checked: the thigh samples are
  the NODE_TM offsets from the spine, not world points);
* ``*CONTROL_ROT_SAMPLE tick ax ay az angle``: rotation in the parent's frame *relative to the previous sample* (the
  first is absolute; 3ds Max's exporter writes ``q / q_prev`` and skips identity deltas), so the local rotation is
  ``L_k = L_(k-1) @ R(axis, angle)`` with ``R`` the usual right-handed axis-angle matrix used as a row-vector matrix
  (this is what assimp's ASE importer does; the other order floats the feet 0.5 m above the floor).

A key missing at a sample time means "unchanged". The ``INHERIT_*`` flags are ignored: the exporter samples
``node_tm(t) * inverse(parent_tm(t))``, so composing with the parent always gives the world pose back. Nodes without
a track keep their NODE_TM offset from the parent, so bone lengths are constant by construction. The take's rate is
that of the samples, ``SCENE_FRAMESPEED * SCENE_TICKSPERFRAME / step`` (the assimp file: a 30 fps scene sampled every
5th frame, 6 Hz; nothing is interpolated). Units: the thigh length decides between metres, inches, cm and mm (it must
come out at 0.30-0.60 m; the assimp file is in inches). Axes: 3ds Max is z up -> :data:`~.mocap.Z_UP_TO_PACKAGE`;
the take must be upright and unmirrored (hips' left-right x trunk-up points where the toes do, Toe0/Zeh0 - Foot).

Biped bones (English or German names, ``Bip01`` prefix) -> pose3d16: hips = Thigh/Oberschenkel origins, knees =
Calf/Unterschenkel, ankles = Foot/Fuss, shoulders = UpperArm/Oberarm, elbows = Forearm/Unterarm, wrists = Hand;
pelvis = midpoint of the hips, neck = midpoint of the shoulders, spine = midpoint of pelvis and neck (the package's
definitions), head = midpoint of Head/Kopf (skull base) and HeadNub/KopfNub (crown), i.e. the head centre.

Bad samples (the recording errors the assimp note mentions, mid-clip: the Biped's spine folds, the pelvis rolls
over, the root flips by up to 166 deg in 1/6 s): a sample is implausible when the pelvis is tilted sideways by more
than :data:`MAX_PELVIS_ROLL_DEG` from the horizontal (the take is standing; its sound parts stay within 20 deg), the
shoulder line is twisted against the hip line, about the trunk axis, by more than :data:`MAX_TWIST_DEG` (the ROM's
own trunk rotations reach ~100 deg), or the pelvis-neck distance is more than :data:`MAX_TRUNK_SHRINK` below its
median (a curled spine shortens that chord by ~10%). Each criterion is scaled by its limit; runs above half a limit
that contain a sample above it are dropped whole (hysteresis), and so are good stretches shorter than
:data:`MIN_GOOD_S` between dropped runs. In the assimp file this drops samples 122-125 and 147-234 (20.3-21.0 s,
24.5-39.2 s) of 272.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pose3d_ros.data.csm import check_orientation
from pose3d_ros.data.mocap import POSE3D16_NAMES, Z_UP_TO_PACKAGE, MocapFileError, MocapTake, ground_and_check

#: pose3d16 joint -> Biped bone name suffixes (after ``Bip01 ``), English first; German exports write ß/ü as ``_``.
BIPED_BONES = {
    "left_hip": ("L Thigh", "L Oberschenkel"), "left_knee": ("L Calf", "L Unterschenkel"),
    "left_ankle": ("L Foot", "L Fu_", "L Fuss"), "right_hip": ("R Thigh", "R Oberschenkel"),
    "right_knee": ("R Calf", "R Unterschenkel"), "right_ankle": ("R Foot", "R Fu_", "R Fuss"),
    "left_shoulder": ("L UpperArm", "L Oberarm"), "left_elbow": ("L Forearm", "L Unterarm"),
    "left_wrist": ("L Hand",), "right_shoulder": ("R UpperArm", "R Oberarm"),
    "right_elbow": ("R Forearm", "R Unterarm"), "right_wrist": ("R Hand",),
    "head_base": ("Head", "Kopf"), "head_top": ("HeadNub", "KopfNub"),
    "left_toe": ("L Toe0", "L Zeh0"), "right_toe": ("R Toe0", "R Zeh0"),
}  # fmt: skip
#: length units tried, metres per unit, and the thigh length range (m) that must result.
UNITS = {"m": 1.0, "inch": 0.0254, "cm": 0.01, "mm": 0.001}
THIGH_RANGE_M = (0.30, 0.60)
MAX_PELVIS_ROLL_DEG = 30.0
MAX_TWIST_DEG = 110.0
MAX_TRUNK_SHRINK = 0.2
MIN_GOOD_S = 1.0


@dataclass
class AseNode:
    """One scene node: world matrix at the first frame (4, 4; row-vector convention) and its sampled tracks."""

    name: str
    parent: str = ""
    tm: np.ndarray = field(default_factory=lambda: np.eye(4))
    pos: dict[int, np.ndarray] = field(default_factory=dict)
    rot: dict[int, np.ndarray] = field(default_factory=dict)  # tick -> (ax, ay, az, angle)
    unsupported: set[str] = field(default_factory=set)


def _floats(path: Path, lineno: int, toks: list[str], n: int) -> np.ndarray:
    if len(toks) < n:
        raise MocapFileError(path, f"line {lineno}: expected {n} numbers, got {len(toks)}")
    try:
        return np.array([float(t) for t in toks[:n]])
    except ValueError:
        raise MocapFileError(path, f"line {lineno}: non-numeric value in {' '.join(toks[:n])!r}") from None


def parse_ase(path: str | Path) -> tuple[dict[str, AseNode], dict[str, float]]:
    """Parse the nodes and the ``*SCENE`` block (``SCENE_FRAMESPEED``, ``SCENE_TICKSPERFRAME``...) of an ASE file."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="latin-1").splitlines()
    except OSError as e:
        raise MocapFileError(path, f"cannot read file ({e})") from None
    if not lines or not lines[0].startswith("*3DSMAX_ASCIIEXPORT"):
        raise MocapFileError(path, "not a 3ds Max ASCII export (no *3DSMAX_ASCIIEXPORT header)")
    nodes: dict[str, AseNode] = {}
    scene: dict[str, float] = {}
    stack: list[tuple[str, int]] = []
    node: AseNode | None = None
    for lineno, line in enumerate(lines, 1):
        toks = line.split()
        if not toks:
            continue
        if toks[0] == "}":
            if not stack:
                raise MocapFileError(path, f"line {lineno}: unmatched '}}'")
            if stack.pop()[0].endswith("OBJECT") and not stack:
                node = None
            continue
        key, args = toks[0].lstrip("*"), toks[1:]
        ctx = stack[-1][0] if stack else ""
        if toks[-1] == "{":
            stack.append((key, lineno))
            if len(stack) == 1 and key.endswith("OBJECT"):
                node = AseNode(name="")
            elif node is not None and key.startswith("CONTROL_") and key not in ("CONTROL_POS_TRACK",
                                                                                   "CONTROL_ROT_TRACK"):
                node.unsupported.add(key)  # TCB / Bezier keys, scale tracks
            continue
        if ctx == "SCENE" and key.startswith("SCENE_") and args and re.fullmatch(r"-?[\d.]+", args[0]):
            scene[key] = float(args[0])
        if node is None:
            continue
        if key in ("NODE_NAME", "NODE_PARENT") and len(stack) == 1:
            m = re.search(r'"(.*)"', line)
            if m is None:
                raise MocapFileError(path, f"line {lineno}: {key} without a quoted name")
            setattr(node, "name" if key == "NODE_NAME" else "parent", m.group(1))
            if key == "NODE_NAME":
                if m.group(1) in nodes:
                    raise MocapFileError(path, f"line {lineno}: duplicate node {m.group(1)!r}")
                nodes[m.group(1)] = node
        elif ctx == "NODE_TM" and key in ("TM_ROW0", "TM_ROW1", "TM_ROW2", "TM_ROW3"):
            node.tm[int(key[-1]), :3] = _floats(path, lineno, args, 3)
        elif key == "CONTROL_POS_SAMPLE" and ctx == "CONTROL_POS_TRACK":
            v = _floats(path, lineno, args, 4)
            node.pos[int(v[0])] = v[1:]
        elif key == "CONTROL_ROT_SAMPLE" and ctx == "CONTROL_ROT_TRACK":
            v = _floats(path, lineno, args, 5)
            node.rot[int(v[0])] = v[1:]
    if stack:
        raise MocapFileError(path, f"truncated: the *{stack[-1][0]} block opened on line {stack[-1][1]} is not closed")
    for k in ("SCENE_FRAMESPEED", "SCENE_TICKSPERFRAME"):
        if not scene.get(k, 0) > 0:
            raise MocapFileError(path, f"no positive *{k} in the *SCENE block")
    for n in nodes.values():
        if n.parent and n.parent not in nodes:
            raise MocapFileError(path, f"node {n.name!r} has unknown parent {n.parent!r}")
    return nodes, scene


def axis_angle_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    """(3, 3) right-handed rotation by ``angle`` (rad) about ``axis``; as an ASE row-vector matrix."""
    a = np.asarray(axis, float)
    norm = np.linalg.norm(a)
    if norm < 1e-12 or angle == 0:
        return np.eye(3)
    a = a / norm
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def world_positions(path: Path, nodes: dict[str, AseNode], names: list[str]) -> tuple[dict[str, np.ndarray], int]:
    """World positions (T, 3) of ``names`` at every sample time, by forward kinematics; and the sample step (ticks)."""
    chain: list[str] = []
    for n in names:  # the nodes and all their ancestors, parents first
        path_up = []
        while n and n not in chain and n not in path_up:
            path_up.append(n)
            n = nodes[n].parent
        chain += path_up[::-1]
    for n in chain:
        if nodes[n].unsupported:  # keyed (TCB/Bezier) controllers would need their interpolation
            raise MocapFileError(path, f"node {n!r}: unsupported controllers {sorted(nodes[n].unsupported)}")
    ticks = sorted({t for n in chain for t in (*nodes[n].pos, *nodes[n].rot)})
    if len(ticks) < 2:
        raise MocapFileError(path, "no animation samples on the skeleton")
    step = int(np.gcd.reduce(np.diff(ticks)))
    grid = np.arange(ticks[0], ticks[-1] + 1, step)
    rot: dict[str, np.ndarray] = {}
    pos: dict[str, np.ndarray] = {}
    for n in chain:
        d = nodes[n]
        parent_tm = nodes[d.parent].tm if d.parent else np.eye(4)
        local0 = d.tm @ np.linalg.inv(parent_tm)
        r = np.empty((len(grid), 3, 3))
        cur = np.eye(3) if d.rot else local0[:3, :3]
        p = np.empty((len(grid), 3))
        last = local0[3, :3]
        for k, t in enumerate(grid):
            if t in d.rot:  # relative to the previous sample
                cur = cur @ axis_angle_matrix(d.rot[t][:3], d.rot[t][3])
            last = d.pos.get(t, last)
            r[k], p[k] = cur, last
        if d.parent:
            p = np.einsum("ti,tij->tj", p, rot[d.parent]) + pos[d.parent]
            r = r @ rot[d.parent]
        rot[n], pos[n] = r, p
    return {n: pos[n] for n in names}, step


def implausible_samples(joints: np.ndarray, fps: float) -> np.ndarray:
    """(T,) bool: samples to drop, by the pelvis-roll / trunk-twist / trunk-shrink rule of the module docstring.

    ``joints`` is (T, 16, 3) pose3d16 in package axes (y down).
    """
    i = POSE3D16_NAMES.index
    hips = joints[:, i("left_hip")] - joints[:, i("right_hip")]
    shoulders = joints[:, i("left_shoulder")] - joints[:, i("right_shoulder")]
    roll = np.degrees(np.arcsin(np.abs(hips[:, 1]) / np.linalg.norm(hips, axis=-1)))
    axis = joints[:, i("neck")] - joints[:, i("pelvis")]
    trunk = np.linalg.norm(axis, axis=-1, keepdims=True)
    axis = axis / trunk
    h, s = (v - (v * axis).sum(-1, keepdims=True) * axis for v in (hips, shoulders))
    twist = np.degrees(np.abs(np.arctan2((np.cross(h, s) * axis).sum(-1), (h * s).sum(-1))))
    shrink = 1 - trunk[:, 0] / np.median(trunk)
    score = np.maximum.reduce([roll / MAX_PELVIS_ROLL_DEG, twist / MAX_TWIST_DEG, shrink / MAX_TRUNK_SHRINK])
    bad = np.zeros(len(score), bool)
    for run in _runs(score > 0.5):  # hysteresis: the whole excursion goes
        bad[run] = (score[run] > 1).any()
    if bad.any():
        first, last = np.flatnonzero(bad)[[0, -1]]
        for run in _runs(~bad[first:last + 1]):
            if run.stop - run.start < MIN_GOOD_S * fps:
                bad[first + run.start:first + run.stop] = True
    return bad


def _runs(mask: np.ndarray) -> list[slice]:
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
    return [slice(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _find(nodes: dict[str, AseNode], suffixes: tuple[str, ...]) -> str | None:
    for s in suffixes:
        for n in nodes:
            if re.fullmatch(r"Bip\d+ " + re.escape(s), n):
                return n
    return None


def read_ase_take(path: str | Path, name: str = "max_rom", subject: str = "max_biped_rom",
                  label: str = "range_of_motion") -> MocapTake:
    """Read a Biped ``.ase`` export into a pose3d16 take at its sample rate (metres, package axes, ground y = 0).

    Raises
    ------
    MocapFileError
        Unreadable or malformed file, no Biped skeleton, unsupported controllers, or an implausible skeleton.
    """
    path = Path(path)
    nodes, scene = parse_ase(path)
    bones = {}
    for joint, suffixes in BIPED_BONES.items():
        bones[joint] = _find(nodes, suffixes)
        if bones[joint] is None:
            raise MocapFileError(path, f"no Biped bone for {joint} (looked for Bip01 {' / '.join(suffixes)})")
    world, step = world_positions(path, nodes, list(bones.values()))
    fps = scene["SCENE_FRAMESPEED"] * scene["SCENE_TICKSPERFRAME"] / step
    j = {k: world[v] for k, v in bones.items()}
    thigh = float(np.median(np.linalg.norm(j["left_knee"] - j["left_hip"], axis=-1)))
    unit = next((u for u, s in UNITS.items() if THIGH_RANGE_M[0] <= thigh * s <= THIGH_RANGE_M[1]), None)
    if unit is None:
        raise MocapFileError(path, f"thigh length {thigh:.3g} file units fits no unit in {sorted(UNITS)}")
    j["pelvis"] = (j["left_hip"] + j["right_hip"]) / 2
    j["neck"] = (j["left_shoulder"] + j["right_shoulder"]) / 2
    j["spine"] = (j["pelvis"] + j["neck"]) / 2
    j["head"] = (j["head_base"] + j["head_top"]) / 2
    joints = np.stack([j[n] for n in POSE3D16_NAMES], 1) * UNITS[unit] @ Z_UP_TO_PACKAGE.T
    toes = (j["left_toe"] - j["left_ankle"] + j["right_toe"] - j["right_ankle"]) * UNITS[unit] @ Z_UP_TO_PACKAGE.T
    bad = implausible_samples(joints, fps)
    agree = check_orientation(path, joints[~bad], toes[~bad], reference="the toes' direction")
    joints = ground_and_check(path, joints[~bad])
    licence = path.with_name(path.stem + ".source.txt")
    notes = {
        "format": "3ds Max ASE, Character Studio Biped, sampled local tracks", "unit": unit,
        "bones": bones, "samples_in_file": int(len(bad)), "samples_dropped": int(bad.sum()),
        "dropped_sample_ranges_s": [(float(r.start / fps), float(r.stop / fps)) for r in _runs(bad)],
        "facing_agreement": agree,
        "licence": licence.read_text(errors="replace").strip() if licence.is_file() else "",
    }
    return MocapTake(name=name, subject=subject, label=label, fps=fps, joints=joints, source=str(path), notes=notes)
