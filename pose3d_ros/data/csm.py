"""Vicon IQ ``.csm`` marker files (assimp's ``CSM/ThomasFechten.csm``) -> pose3d16 :class:`~.mocap.MocapTake`.

Format: ``$Key value`` header lines (``$Rate`` frames per second, ``$FirstFrame``/``$LastFrame``), ``$Order``
followed by one line of marker names, then ``$Points`` and one line per frame: the frame number and x y z (mm,
z up) per marker. A marker the system lost is written ``DROPOUT`` (one token, as assimp's CSM loader reads it, or
one per coordinate); it becomes NaN.

The file's 43 markers are Vicon's basic "Golem"-style body set (Plug-in-Gait-like names):
head LFHD RFHD LBHD RBHD; thorax C7 T10 CLAV STRN, RBAC (asymmetry marker); arm LSHO (acromion), LUPA (upper-arm
wand), LELB (lateral epicondyle), LFRM (forearm wand), LWRA LWRB (radial / ulnar styloid), LFIN; pelvis LFWT RFWT
(front waist, ~ASIS), LBWT RBWT (back waist, ~PSIS), LPel RPel (lateral pelvis, unused); leg LTHI (thigh wand), LKNE
(lateral femoral epicondyle), LSHN (shank wand), LANK (lateral malleolus), LHEL LTOE LMT5 (foot: only to repair
LANK); same for R.

Joint-centre rules (all offsets in metres, :data:`OFFSETS`):

* hips: Bell et al. (1990) regression in the pelvis frame (origin mid-FWT; lateral axis RFWT->LFWT; anterior axis
  mid-BWT->mid-FWT made orthogonal to it; up = anterior x left): HJC = origin + W (-0.19 anterior - 0.30 up
  +-0.36 lateral), W = the inter-FWT distance;
* pelvis = midpoint of the hip joint centres; spine = midpoint of pelvis and neck (msg/Skeleton3D.msg);
* shoulders: the SHO marker moved :data:`OFFSETS` ``["shoulder"]`` along the thorax's down axis
  (mid(C7, CLAV) -> mid(T10, STRN)): the glenohumeral centre lies a few cm below the acromion;
* neck = midpoint of the shoulder joint centres; head = mean of the four head markers (head centre);
* elbows = the ELB marker itself (lateral epicondyle; the joint centre is ~3 cm medial, a bias across the bone);
* wrists = midpoint of WRA and WRB (as Plug-in-Gait);
* knees, ankles: Plug-in-Gait's chord rule: KJC lies at ``knee`` offset (half knee width + marker radius) from KNE,
  in the plane (HJC, KNE, THI), on the side away from the THI wand, with HJC-KJC perpendicular to KNE-KJC; the ankle
  likewise from (KJC, ANK, SHN) with the ``ankle`` offset.

Gaps: a required marker missing for up to :data:`MAX_GAP_S` is filled linearly between its neighbours; frames with
longer (or leading/trailing) gaps are dropped, and both counts go into ``MocapTake.notes``. Markers on rigid segments
(head, the four waist markers, ankle vs. the foot markers, :data:`RIGID_PARTNERS`) are checked against three partners
on the same segment: where two of the three distances leave their modal value by more than :data:`RIGID_TOL_M` (with
hysteresis down to half of it), or the marker is missing, it is rebuilt rigidly from the partners (its median
position in their frame); in the assimp file this replaces RANK in frames 0-1163, where it floats 10-27 cm off the
foot and then slides back. Positions go mm -> m and
z-up -> package axes with :data:`~.mocap.Z_UP_TO_PACKAGE`; the take is checked to be upright and not mirrored (the
hips' left-right axis crossed with the trunk's up axis must point where the front head markers do).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pose3d_ros.data.mocap import POSE3D16_NAMES, Z_UP_TO_PACKAGE, MocapFileError, MocapTake, ground_and_check

#: markers the joint-centre rules need, per side letter prefix (``L``/``R``) plus the unsided ones.
SIDED_MARKERS = ("FHD", "BHD", "SHO", "ELB", "WRA", "WRB", "FWT", "BWT", "THI", "KNE", "SHN", "ANK")
CENTRE_MARKERS = ("C7", "T10", "CLAV", "STRN")
REQUIRED_MARKERS = CENTRE_MARKERS + tuple(s + m for m in SIDED_MARKERS for s in "LR") + ("LHEL", "LTOE", "LMT5",
                                                                                          "RHEL", "RTOE", "RMT5")
#: joint-centre offsets from the skin markers, metres (shoulder: acromion -> glenohumeral centre, downwards;
#: knee/ankle: half joint width + 7 mm marker radius for an average adult, 95 mm knee and 70 mm ankle width).
OFFSETS = {"shoulder": 0.05, "knee": 0.055, "ankle": 0.042}
#: Bell et al. (1990) hip-centre regression, fractions of the inter-ASIS width: (anterior, up, lateral).
BELL_HJC = (-0.19, -0.30, 0.36)
#: markers on (near-)rigid segments, each with three partners on the same segment; used to catch mislabelled markers.
RIGID_PARTNERS = {
    **{k: tuple(o for o in ("LFHD", "RFHD", "LBHD", "RBHD") if o != k) for k in ("LFHD", "RFHD", "LBHD", "RBHD")},
    **{k: tuple(o for o in ("LFWT", "RFWT", "LBWT", "RBWT") if o != k) for k in ("LFWT", "RFWT", "LBWT", "RBWT")},
    "LANK": ("LHEL", "LTOE", "LMT5"), "RANK": ("RHEL", "RTOE", "RMT5"),
}  # fmt: skip
#: a rigid-cluster marker is an outlier when >= 2 of its 3 partner distances are this far off their modal value (m);
#: sound markers in the assimp file stay within 0.03 m (ankle flexion, soft tissue), a mislabelled one goes to 0.27 m.
RIGID_TOL_M = 0.04
#: longest marker gap (seconds) that is interpolated rather than dropped.
MAX_GAP_S = 0.1
MM = 1e-3


def _parse_float(path: Path, lineno: int, tok: str) -> float:
    if tok.upper() == "DROPOUT":
        return np.nan
    try:
        return float(tok)
    except ValueError:
        raise MocapFileError(path, f"line {lineno}: non-numeric value {tok!r}") from None


def _frame_values(path: Path, lineno: int, toks: list[str], n: int) -> np.ndarray:
    """One ``$Points`` line's marker coordinates, shape (n, 3), NaN for dropouts."""
    if len(toks) == 3 * n:  # every marker written as three tokens (numbers or per-coordinate DROPOUTs)
        vals = np.array([_parse_float(path, lineno, t) for t in toks]).reshape(n, 3)
        vals[np.isnan(vals).any(1)] = np.nan
        return vals
    bad = MocapFileError(path, f"line {lineno}: {len(toks)} values do not give x y z for {n} markers "
                               "(wrong number of columns or truncated line)")
    vals, k = np.full((n, 3), np.nan), 0
    for i in range(n):  # assimp style: a single DROPOUT token stands for a whole marker
        if k < len(toks) and toks[k].upper() == "DROPOUT":
            k += 1
            continue
        if k + 3 > len(toks):
            raise bad
        vals[i] = [_parse_float(path, lineno, t) for t in toks[k:k + 3]]
        k += 3
    if k != len(toks):
        raise bad
    return vals


def read_csm(path: str | Path) -> tuple[dict[str, np.ndarray], float]:
    """Read a Vicon ``.csm`` file.

    Returns
    -------
    markers : dict of str -> (T, 3) float64 ndarray
        Marker positions in file units (mm, z up), NaN where the marker dropped out. Frames the file skips are NaN.
    fps : float
        ``$Rate``.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise MocapFileError(path, f"cannot read file ({e})") from None
    header: dict[str, tuple[int, str]] = {}
    order: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    section = None
    for lineno, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("$"):
            key, _, value = s[1:].partition(" ")
            section = key.lower()
            header[section] = (lineno, value.strip())
        elif section == "order":
            order = (order or []) + s.split()
        elif section == "points":
            rows.append((lineno, s.split()))
    if order is None:
        raise MocapFileError(path, "no $Order line with marker names")
    if len(set(order)) != len(order):
        raise MocapFileError(path, f"line {header['order'][0] + 1}: duplicate marker names in $Order")
    if "rate" not in header:
        raise MocapFileError(path, "no $Rate (frame rate)")
    fps = _parse_float(path, *header["rate"])
    if not (np.isfinite(fps) and fps > 0):
        raise MocapFileError(path, f"line {header['rate'][0]}: frame rate {fps} is not positive")
    if not rows:
        raise MocapFileError(path, "no $Points frames")
    n = len(order)
    numbers, frames = [], []
    for lineno, toks in rows:
        num = _parse_float(path, lineno, toks[0])
        if not num.is_integer() or (frames and num <= frames[-1]):
            raise MocapFileError(path, f"line {lineno}: frame number {toks[0]} is not an increasing integer")
        frames.append(int(num))
        numbers.append(_frame_values(path, lineno, toks[1:], n))
    first = frames[0]
    if "lastframe" in header:
        lineno, value = header["lastframe"]
        last = _parse_float(path, lineno, value)
        if frames[-1] < last:
            raise MocapFileError(path, f"truncated: $LastFrame is {value} (line {lineno}) but the last frame read is "
                                       f"{frames[-1]} (line {rows[-1][0]})")
    xyz = np.full((frames[-1] - first + 1, n, 3), np.nan)
    xyz[np.asarray(frames) - first] = numbers
    return {name: xyz[:, i] for i, name in enumerate(order)}, float(fps)


def fill_gaps(x: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Linearly fill the interior NaN runs of at most ``max_gap`` frames of one (T, 3) marker trajectory.

    Returns the filled (T, 3) copy (longer and leading/trailing gaps stay NaN) and a (T,) bool mask of filled frames.
    """
    x = x.copy()
    bad = np.isnan(x).any(1)
    x[bad] = np.nan
    good = np.flatnonzero(~bad)
    was_filled = np.zeros(len(x), bool)
    for a, b in zip(good[:-1], good[1:], strict=True):
        if 1 < b - a <= max_gap + 1:
            w = (np.arange(a + 1, b) - a)[:, None] / (b - a)
            x[a + 1:b] = (1 - w) * x[a] + w * x[b]
            was_filled[a + 1:b] = True
    return x, was_filled


def _modal(d: np.ndarray, window: float = 0.02) -> float:
    """Median of the ``window``-wide interval holding most finite samples (robust to a half-wrong trajectory)."""
    v = np.sort(d[np.isfinite(d)])
    if not len(v):
        return np.nan
    count = np.searchsorted(v, v + window, side="right") - np.arange(len(v))
    k = int(count.argmax())
    return float(np.median(v[k:k + count[k]]))


def rigid_repair(m: dict[str, np.ndarray], target: str, partners: tuple[str, str, str],
                 tol: float = RIGID_TOL_M) -> tuple[np.ndarray, np.ndarray]:
    """Rebuild marker ``target`` where it left its rigid cluster (mislabelled, slipped) or is missing.

    ``m`` maps names to (T, 3) trajectories in metres; ``partners`` are three markers on the same segment. Returns the
    fixed (T, 3) trajectory (bad frames = the partners' frame applied to the target's median position in it over the
    sound frames; NaN where a partner is missing too) and the (T,) bool mask of repaired frames.
    """
    x = m[target]
    dev = np.stack([np.abs(d - _modal(d)) for d in (np.linalg.norm(x - m[p], axis=-1) for p in partners)])
    shared = np.sort(np.nan_to_num(dev, nan=np.inf), 0)[1]  # deviation shared by >= 2 partners
    # hysteresis: a run over tol/2 that somewhere exceeds tol is bad as a whole (a slipping marker drifts back)
    weak = np.concatenate([[False], shared > tol / 2, [False]]).astype(int)
    starts, ends = np.flatnonzero(np.diff(weak) == 1), np.flatnonzero(np.diff(weak) == -1)
    bad = np.zeros(len(x), bool)
    for a, b in zip(starts, ends, strict=True):
        bad[a:b] = (shared[a:b] > tol).any()
    if not bad.any() or bad.all():
        return x, np.zeros(len(x), bool)
    p, q, r = (m[k] for k in partners)
    e1 = _unit(q - p)
    e3 = _unit(np.cross(e1, r - p))
    frames = np.stack([e1, np.cross(e3, e1), e3], axis=-1)  # (T, 3, 3), columns = axes
    local = np.einsum("tji,tj->ti", frames, x - p)
    template = np.nanmedian(local[~bad], 0)
    fixed = x.copy()
    fixed[bad] = p[bad] + frames[bad] @ template
    return fixed, bad & np.isfinite(fixed).all(1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def chord(parent: np.ndarray, marker: np.ndarray, wand: np.ndarray, offset: float) -> np.ndarray:
    """Plug-in-Gait chord rule: the (T, 3) joint centre ``offset`` m from ``marker``, at a right angle from ``parent``.

    ``parent``, ``marker``, ``wand`` are (T, 3): proximal joint centre, lateral joint marker, the segment's wand marker.
    The result lies in their plane, on the far side of the line parent-marker from the wand.
    """
    down = marker - parent
    length = np.linalg.norm(down, axis=-1, keepdims=True)
    e1 = down / length
    side = wand - parent
    e2 = _unit(side - (side * e1).sum(-1, keepdims=True) * e1)
    cos = offset / length
    return marker - offset * cos * e1 - offset * np.sqrt(1 - cos**2) * e2


def markers_to_joints(m: dict[str, np.ndarray]) -> np.ndarray:
    """(T, 16, 3) pose3d16 joints from the (T, 3) :data:`REQUIRED_MARKERS` in metres, the file's z-up axes.

    The rules are those of the module docstring.
    """
    front, back = (m["LFWT"] + m["RFWT"]) / 2, (m["LBWT"] + m["RBWT"]) / 2
    across = m["LFWT"] - m["RFWT"]
    width = np.linalg.norm(across, axis=-1, keepdims=True)
    left = across / width
    anterior = _unit(front - back - ((front - back) * left).sum(-1, keepdims=True) * left)
    up = np.cross(anterior, left)
    a, u, lat = BELL_HJC
    hip = {s: front + width * (a * anterior + u * up + sign * lat * left) for s, sign in (("L", 1), ("R", -1))}
    thorax_down = _unit((m["T10"] + m["STRN"]) / 2 - (m["C7"] + m["CLAV"]) / 2)
    j: dict[str, np.ndarray] = {}
    for s, side in (("L", "left"), ("R", "right")):
        j[f"{side}_shoulder"] = m[s + "SHO"] + OFFSETS["shoulder"] * thorax_down
        j[f"{side}_elbow"] = m[s + "ELB"]
        j[f"{side}_wrist"] = (m[s + "WRA"] + m[s + "WRB"]) / 2
        j[f"{side}_hip"] = hip[s]
        j[f"{side}_knee"] = chord(hip[s], m[s + "KNE"], m[s + "THI"], OFFSETS["knee"])
        j[f"{side}_ankle"] = chord(j[f"{side}_knee"], m[s + "ANK"], m[s + "SHN"], OFFSETS["ankle"])
    j["pelvis"] = (hip["L"] + hip["R"]) / 2
    j["neck"] = (j["left_shoulder"] + j["right_shoulder"]) / 2
    j["spine"] = (j["pelvis"] + j["neck"]) / 2
    j["head"] = (m["LFHD"] + m["RFHD"] + m["LBHD"] + m["RBHD"]) / 4
    return np.stack([j[name] for name in POSE3D16_NAMES], axis=1)


def check_orientation(path: str | Path, joints: np.ndarray, head_forward: np.ndarray,
                      reference: str = "the head's front") -> float:
    """Refuse a take that is not upright or is mirrored; return the fraction of frames facing the reference's way.

    Parameters
    ----------
    joints : (T, 16, 3) ndarray
        Package axes (y down).
    head_forward : (T, 3) ndarray
        A forward direction that does not depend on the L/R labels (back-to-front head markers), package axes.
    reference : str
        What ``head_forward`` is, for the error message.
    """
    i = POSE3D16_NAMES.index
    y = np.median(joints[..., 1], 0)
    if not y[i("head")] < y[i("pelvis")] < min(y[i("left_ankle")], y[i("right_ankle")]):
        raise MocapFileError(path, "the person is not upright (head, pelvis, ankles not top to bottom)")
    # (left hip - right hip) x (neck - pelvis) points forward for a proper, unmirrored skeleton (as deepmimic's walk)
    across, up = joints[:, i("left_hip")] - joints[:, i("right_hip")], joints[:, i("neck")] - joints[:, i("pelvis")]
    facing = np.cross(across, up)
    agree = float(np.mean((facing * head_forward).sum(-1) > 0))
    if agree < 0.9:
        raise MocapFileError(path, f"left/right look mirrored: hips face {reference} in only {agree:.0%} frames")
    return agree


def read_csm_take(path: str | Path, name: str = "vicon_fencing", subject: str = "vicon_thomas",
                  label: str = "fence") -> MocapTake:
    """Read a ``.csm`` file of this marker set into a pose3d16 take (metres, package axes, ground at y = 0).

    Raises
    ------
    MocapFileError
        Unreadable or malformed file, a marker set without :data:`REQUIRED_MARKERS`, or an implausible skeleton.
    """
    path = Path(path)
    raw, fps = read_csm(path)
    missing = [k for k in REQUIRED_MARKERS if k not in raw]
    if missing:
        raise MocapFileError(path, f"unknown marker set: no marker(s) {', '.join(missing)}")
    max_gap = max(1, int(round(MAX_GAP_S * fps)))
    m, filled, repaired = {}, np.zeros(len(raw["C7"]), bool), {}
    for k in REQUIRED_MARKERS:
        m[k], f = fill_gaps(raw[k] * MM, max_gap)
        filled |= f
    for k, partners in RIGID_PARTNERS.items():
        m[k], r = rigid_repair(m, k, partners)
        if r.any():
            repaired[k] = int(r.sum())
    keep = np.all([np.isfinite(v).all(1) for v in m.values()], axis=0)
    if not keep.any():
        raise MocapFileError(path, "no frame has all the markers the joint centres need")
    m = {k: v[keep] for k, v in m.items()}
    with np.errstate(invalid="ignore"):
        joints = markers_to_joints(m) @ Z_UP_TO_PACKAGE.T
    head_forward = ((m["LFHD"] + m["RFHD"]) - (m["LBHD"] + m["RBHD"])) @ Z_UP_TO_PACKAGE.T
    agree = check_orientation(path, joints, head_forward)
    joints = ground_and_check(path, joints)
    licence = path.with_name(path.stem + ".source.txt")
    notes = {
        "format": "Vicon IQ csm markers, mm, z up", "markers": list(raw),
        "joint_centres": "Bell 1990 hips from FWT/BWT; shoulder = SHO + 5 cm down thorax; elbow = ELB marker; "
                         "wrist = mid WRA/WRB; knee/ankle = Plug-in-Gait chord; head = mean of 4 head markers",
        "offsets_m": dict(OFFSETS), "frames_in_file": int(len(keep)), "frames_interpolated": int(filled[keep].sum()),
        "frames_dropped": int((~keep).sum()), "rigid_repaired": repaired, "facing_agreement": agree,
        "licence": licence.read_text(errors="replace").strip() if licence.is_file() else "",
    }
    return MocapTake(name=name, subject=subject, label=label, fps=fps, joints=joints, source=str(path), notes=notes)
