"""Drawing: 2D skeleton overlay and a 3D plot of the skeletons (the seed's "Output in 3D Plot"), OpenCV only.

The 3D view is an orthographic projection of the camera-frame joints seen from an elevated, rotated viewpoint,
drawn with a floor grid and axes: fast enough for every frame of a video (no matplotlib).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .core.skeleton import POSE3D16

__all__ = ["person_color", "draw_skeletons_2d", "draw_skeletons_3d", "compose_frame"]

_PALETTE = np.array(
    [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230),
     (210, 245, 60), (250, 190, 212), (0, 128, 128)], dtype=np.int64,
)  # RGB, distinguishable
_LEFT = set(POSE3D16.left)


def person_color(person_id: int) -> tuple[int, int, int]:
    """RGB colour of a track id (stable across frames)."""
    return tuple(int(v) for v in _PALETTE[int(person_id) % len(_PALETTE)])


def _bone_color(base: tuple[int, int, int], child: int) -> tuple[int, int, int]:
    # Left limbs lighter so the person's own left/right can be told apart.
    if child in _LEFT:
        return tuple(int(min(255, 0.5 * v + 128)) for v in base)
    return base


def draw_skeletons_2d(image_rgb: np.ndarray, people: Sequence, min_conf: float = 0.05) -> np.ndarray:
    """Overlay every person's 2D joints on a copy of the image.

    Parameters
    ----------
    image_rgb : (H, W, 3) uint8
    people : sequence of PersonResult
        Needs ``id``, ``pixels (16, 2)``, ``confidence (16,)``, ``action``.
    min_conf : float
        Joints under this confidence (inferred by the prior) are drawn hollow, their bones dashed-thin.

    Returns
    -------
    (H, W, 3) uint8
    """
    img = np.ascontiguousarray(image_rgb).copy()
    thick = max(1, round(min(img.shape[:2]) / 240))
    for person in people:
        base = person_color(person.id)
        px = np.asarray(person.pixels, dtype=np.float64)
        conf = np.asarray(person.confidence, dtype=np.float64)
        ok = np.isfinite(px).all(axis=1)
        for parent, child in POSE3D16.bones:
            if ok[parent] and ok[child]:
                seen = conf[parent] >= min_conf and conf[child] >= min_conf
                p0 = tuple(int(round(v)) for v in px[parent])
                p1 = tuple(int(round(v)) for v in px[child])
                cv2.line(img, p0, p1, _bone_color(base, child), thick + (1 if seen else 0), cv2.LINE_AA)
        for j in np.nonzero(ok)[0]:
            centre = tuple(int(round(v)) for v in px[j])
            cv2.circle(img, centre, thick + 2, base, -1 if conf[j] >= min_conf else 1, cv2.LINE_AA)
        if ok[3]:
            label = f"#{person.id}" + (f" {person.action}" if getattr(person, "action", "") else "")
            org = (int(px[3, 0]) - 10, max(12, int(px[3, 1]) - 12))
            cv2.putText(img, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick + 0.1, base, thick, cv2.LINE_AA)
    return img


def _view_matrix(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Rotation from the camera optical frame (x right, y down, z forward) to a viewer frame (x right, y down)."""
    a, e = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    rot_y = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rot_x = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])
    return rot_x @ rot_y


def draw_skeletons_3d(
    people: Sequence,
    size: tuple[int, int] = (480, 480),
    azimuth_deg: float = 35.0,
    elevation_deg: float = -20.0,
    extent_m: float = 5.0,
    center: np.ndarray | None = None,
) -> np.ndarray:
    """3D plot of the skeletons (camera optical frame, metres) with a floor grid.

    Parameters
    ----------
    people : sequence of PersonResult
        Needs ``id``, ``joints (16, 3)``, ``measured (16,)``.
    size : (int, int)
        Output ``(H, W)``.
    azimuth_deg, elevation_deg : float
        Viewpoint rotation about the vertical (y) axis, then about the viewer's x axis.
    extent_m : float
        Width of the shown volume, metres.
    center : (3,) array_like, optional
        Point of the camera frame at the centre of the view (default: below the people's mean pelvis, or 3 m in
        front of the camera when nobody is seen).

    Returns
    -------
    (H, W, 3) uint8 RGB
    """
    h, w = size
    img = np.full((h, w, 3), 250, dtype=np.uint8)
    view = _view_matrix(azimuth_deg, elevation_deg)
    if center is None:  # look at the people (their mean pelvis), else 3 m in front of the camera
        pelvis = np.array([np.asarray(p.joints)[0] for p in people if np.isfinite(np.asarray(p.joints)).all()])
        center = np.array([pelvis[:, 0].mean(), 0.3, pelvis[:, 2].mean()]) if len(pelvis) else (0.0, 0.3, 3.0)
    c = np.asarray(center, dtype=np.float64)
    scale = min(h, w) / extent_m

    def to_px(points: np.ndarray) -> np.ndarray:
        v = (np.asarray(points, dtype=np.float64) - c) @ view.T
        return np.stack([w / 2 + scale * v[..., 0], h / 2 + scale * v[..., 1]], axis=-1)

    # Floor grid every 0.5 m at the lowest ankle (or 1 m below the camera when nobody is seen).
    ankles = [np.asarray(p.joints)[[12, 15], 1].max() for p in people if np.isfinite(np.asarray(p.joints)).all()]
    floor_y = float(max(ankles)) if ankles else 1.0
    for v in np.arange(-2.5, 2.51, 0.5):
        a, b = to_px(np.array([[v, floor_y, c[2] - 2.5], [v, floor_y, c[2] + 2.5]]))
        cv2.line(img, tuple(a.astype(int)), tuple(b.astype(int)), (215, 215, 215), 1, cv2.LINE_AA)
        a, b = to_px(np.array([[-2.5, floor_y, c[2] + v], [2.5, floor_y, c[2] + v]]))
        cv2.line(img, tuple(a.astype(int)), tuple(b.astype(int)), (215, 215, 215), 1, cv2.LINE_AA)
    # Camera and its axes (x red, y green, z blue), 0.3 m long.
    origin = to_px(np.zeros(3))
    for axis, col in zip(np.eye(3) * 0.3, [(220, 0, 0), (0, 170, 0), (0, 0, 220)], strict=True):
        tip = to_px(axis)
        cv2.arrowedLine(img, tuple(origin.astype(int)), tuple(tip.astype(int)), col, 2, cv2.LINE_AA, tipLength=0.2)
    cv2.putText(img, "camera", tuple((origin + (4, -6)).astype(int)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 60, 60), 1,
                cv2.LINE_AA)
    # Far people first so near ones are drawn on top.
    order = sorted(people, key=lambda p: -float(np.nanmean(np.asarray(p.joints)[:, 2])))
    for person in order:
        joints = np.asarray(person.joints, dtype=np.float64)
        if not np.isfinite(joints).all():
            continue
        base = person_color(person.id)
        px = to_px(joints)
        shadow = to_px(np.column_stack([joints[:, 0], np.full(len(joints), floor_y), joints[:, 2]]))
        for parent, child in POSE3D16.bones:
            cv2.line(img, tuple(shadow[parent].astype(int)), tuple(shadow[child].astype(int)), (200, 200, 200), 2,
                     cv2.LINE_AA)
        for parent, child in POSE3D16.bones:
            cv2.line(img, tuple(px[parent].astype(int)), tuple(px[child].astype(int)), _bone_color(base, child), 3,
                     cv2.LINE_AA)
        measured = np.asarray(getattr(person, "measured", np.zeros(len(joints), bool)), dtype=bool)
        for j, p in enumerate(px):
            cv2.circle(img, tuple(p.astype(int)), 4, base, -1 if measured[j] else 1, cv2.LINE_AA)
        cv2.putText(img, f"#{person.id} z={joints[0, 2]:.1f}m", tuple((px[3] + (6, -8)).astype(int)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, base, 1, cv2.LINE_AA)
    cv2.putText(img, "3D (camera frame, m)", (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (60, 60, 60), 1, cv2.LINE_AA)
    return img


def compose_frame(image_rgb: np.ndarray, people: Sequence, text: str = "", min_conf: float = 0.05) -> np.ndarray:
    """2D overlay on the left, 3D plot on the right (same height). Returns (H, W + H, 3) uint8 RGB."""
    left = draw_skeletons_2d(image_rgb, people, min_conf)
    h = left.shape[0]
    right = draw_skeletons_3d(people, size=(h, h))
    if text:
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        cv2.rectangle(left, (0, h - th - 14), (tw + 16, h), (0, 0, 0), -1)
        cv2.putText(left, text, (8, h - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([left, right], axis=1)
