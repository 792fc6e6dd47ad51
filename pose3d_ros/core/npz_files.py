"""Reading the package's own ``.npz`` files (prior, action model) with one set of clear errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np


def read_npz(path: str | Path, what: str, error: type[Exception]) -> dict[str, np.ndarray]:
    """Load every array of ``path`` (no pickles).

    Parameters
    ----------
    path : str or Path
        The ``.npz`` file.
    what : str
        What the file should be, for messages (e.g. ``"prior"``, ``"action model"``).
    error : type
        Exception raised for an unreadable file (the caller's format error).

    Raises
    ------
    FileNotFoundError
        ``path`` is not a file.
    error
        The file is truncated, corrupt or not an ``.npz`` archive.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise error(f"{path}: not a readable .npz {what} ({exc})") from exc
