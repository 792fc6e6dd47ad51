"""The frame id the node publishes in, made a valid TF frame name whatever the camera's header says.

The output header (and so every ``body_<id>`` TF parent) copies the image's ``header.frame_id``. A driver that leaves
it empty would put ``''`` parents into ``/tf`` (tf2 rejects them and every listener logs an error per message); one
with spaces, a leading ``/`` (tf2: "frame id should not start with /") or 10,000 characters makes names nothing can
look up. So the id is cleaned once per distinct value and the reason is reported: empty -> the ``default``; any
character outside ``[A-Za-z0-9_./-]`` -> ``_``; leading ``/`` dropped; longer than ``max_len`` -> cut, with a short
hash of the whole id so two long ids stay apart.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = ["DEFAULT_FRAME_ID", "MAX_FRAME_ID_LEN", "FrameIdDecision", "FrameIdPolicy", "clean_frame_id"]

#: frame used when an image carries none (the driver's default optical frame)
DEFAULT_FRAME_ID = "camera_color_optical_frame"
#: longest frame id published, characters
MAX_FRAME_ID_LEN = 128
_ILLEGAL = re.compile(r"[^A-Za-z0-9_./-]")
_SHOWN = 40  # characters of a bad id quoted in a message


@dataclass(frozen=True)
class FrameIdDecision:
    """The frame id to publish in, and why it differs from the input ('' = it does not)."""

    frame_id: str
    problem: str = ""


def _quoted(text: str) -> str:
    """``repr`` of ``text``, shortened to _SHOWN characters (with its length) when longer."""
    if len(text) <= _SHOWN:
        return repr(text)
    return f"{text[:_SHOWN] + '...'!r} ({len(text)} chars)"


def clean_frame_id(raw: str, default: str = DEFAULT_FRAME_ID, max_len: int = MAX_FRAME_ID_LEN) -> FrameIdDecision:
    """A valid frame id for ``raw`` (see module docstring); ``problem`` says what was changed.

    Raises
    ------
    ValueError
        If ``default`` is itself not a valid frame id, or ``max_len < 16``.
    """
    if max_len < 16:
        raise ValueError(f"max_len must be >= 16 characters, got {max_len}")
    if not default or _ILLEGAL.search(default) or default.startswith("/") or len(default) > max_len:
        raise ValueError(f"default frame id {default!r} is not a valid frame name ([A-Za-z0-9_./-], no leading /, "
                         f"<= {max_len} chars)")
    text = str(raw) if raw is not None else ""
    if not text.strip():
        return FrameIdDecision(default, f"image frame_id is empty: publishing in {default!r}")
    fixed = _ILLEGAL.sub("_", text).lstrip("/")
    changes = []
    if fixed != text:
        changes.append("illegal characters replaced")
    if not fixed.strip("_"):
        return FrameIdDecision(default, f"image frame_id {_quoted(text)} has no valid characters: publishing in "
                               f"{default!r}")
    if len(fixed) > max_len:
        digest = hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:8]  # noqa: S324 - a name, not security
        fixed = f"{fixed[:max_len - 9]}_{digest}"
        changes.append(f"cut to {max_len} chars")
    if not changes:
        return FrameIdDecision(text)
    return FrameIdDecision(fixed, f"image frame_id {_quoted(text)} is not a valid TF frame ({', '.join(changes)}): "
                           f"publishing in {_quoted(fixed)}")


class FrameIdPolicy:
    """:func:`clean_frame_id` with a memory: each distinct bad id is reported once, and the last answer is cached.

    Parameters
    ----------
    default : str
        Frame used for images without a frame id.
    max_len : int
        Longest frame id published.
    """

    def __init__(self, default: str = DEFAULT_FRAME_ID, max_len: int = MAX_FRAME_ID_LEN) -> None:
        clean_frame_id("x", default, max_len)  # validates default and max_len
        self.default, self.max_len = default, int(max_len)
        self._last: tuple[str, FrameIdDecision] | None = None
        self._reported: set[str] = set()

    def decide(self, raw: str) -> FrameIdDecision:
        """The frame to publish in for an image whose header says ``raw``; ``problem`` only the first time."""
        last = self._last
        if last is not None and last[0] == raw:
            return FrameIdDecision(last[1].frame_id)
        decision = clean_frame_id(raw, self.default, self.max_len)
        self._last = (raw, decision)
        if decision.problem and raw in self._reported:
            return FrameIdDecision(decision.frame_id)
        if decision.problem:
            if len(self._reported) >= 64:  # a driver cycling through bad ids must not grow memory
                self._reported.clear()
            self._reported.add(raw)
        return decision
