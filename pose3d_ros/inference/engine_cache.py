"""On-disk cache of serialised TensorRT engines.

An engine is only valid for the exact model, TensorRT version, GPU (name + compute capability), precision and
optimisation profile it was built with, so those make the cache key. Each engine ``<stem>-<digest>.engine`` has a
JSON sidecar holding the full key and the engine's sha256: a sidecar whose key differs is *stale*, an engine whose
bytes do not match is *corrupt*; both are reported as such and rebuilt by the caller, never loaded. Storing an
engine deletes the entries it supersedes (same model name, GPU, precision and profile; older model or TensorRT).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "CACHE_FORMAT_VERSION",
    "EngineKey",
    "CacheLookup",
    "EngineCache",
    "file_sha256",
    "default_cache_dir",
]

#: Bump when the sidecar layout or the key's meaning changes: older entries then read as stale.
CACHE_FORMAT_VERSION = 1

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """Engine cache directory: ``$POSE3D_ROS_CACHE/engines``, else ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    root = os.environ.get("POSE3D_ROS_CACHE")
    if root:
        return Path(root) / "engines"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "pose3d_ros" / "engines"


@dataclass(frozen=True)
class EngineKey:
    """Everything a serialised engine depends on.

    Attributes
    ----------
    model_sha256 : str
        sha256 of the ONNX file's bytes (not its path: a retrained model at the same path is a new key).
    tensorrt_version : str
        ``tensorrt.__version__``; engines are not portable across TensorRT versions.
    gpu_name : str
        CUDA device name, e.g. ``"NVIDIA H100 80GB HBM3"``.
    compute_capability : tuple of int
        ``(major, minor)``; engines are not portable across architectures.
    fp16 : bool
        Whether FP16 kernels were allowed.
    profile : str
        Canonical text of the optimisation-profile request (``""`` when the model is static).
    """

    model_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    fp16: bool
    profile: str = ""
    format_version: int = field(default=CACHE_FORMAT_VERSION)

    def __post_init__(self) -> None:
        if len(self.model_sha256) != 64 or any(c not in "0123456789abcdef" for c in self.model_sha256):
            raise ValueError(f"model_sha256 must be 64 lowercase hex digits, got {self.model_sha256!r}")
        if len(self.compute_capability) != 2:
            raise ValueError(f"compute_capability must be (major, minor), got {self.compute_capability!r}")
        # Normalise so a key read back from JSON (lists) equals the one built in memory (tuples).
        object.__setattr__(self, "compute_capability", tuple(int(v) for v in self.compute_capability))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict of the key."""
        data = asdict(self)
        data["compute_capability"] = list(self.compute_capability)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> EngineKey:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            Missing or malformed fields.
        """
        try:
            return cls(
                model_sha256=str(data["model_sha256"]),
                tensorrt_version=str(data["tensorrt_version"]),
                gpu_name=str(data["gpu_name"]),
                compute_capability=tuple(data["compute_capability"]),  # type: ignore[arg-type]
                fp16=bool(data["fp16"]),
                profile=str(data.get("profile", "")),
                format_version=int(data.get("format_version", 0)),  # type: ignore[arg-type]
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed engine cache key {data!r}: {exc}") from exc

    def digest(self) -> str:
        """Hex sha256 of the canonical JSON of the key (stable across runs and machines)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheLookup:
    """Result of :meth:`EngineCache.load`.

    ``status`` is ``"hit"`` (``data`` holds the engine), ``"miss"`` (no entry), ``"stale"`` (an entry built for a
    different key) or ``"corrupt"`` (unreadable sidecar, or engine bytes that do not match their checksum);
    ``reason`` explains the last two.
    """

    status: Literal["hit", "miss", "stale", "corrupt"]
    engine_path: Path
    data: bytes | None = None
    reason: str = ""


class EngineCache:
    """A directory of serialised engines with JSON sidecars.

    Parameters
    ----------
    cache_dir : path-like, optional
        Directory (created on first store); :func:`default_cache_dir` when None.
    """

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    def engine_path(self, key: EngineKey, model_name: str) -> Path:
        """Path of the engine for ``key``; ``model_name`` (the ONNX file's stem) only makes it readable."""
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_name) or "model"
        return self.cache_dir / f"{stem}-{key.digest()[:20]}.engine"

    @staticmethod
    def meta_path(engine_path: Path) -> Path:
        """Sidecar JSON path of an engine file."""
        return engine_path.with_suffix(".json")

    def load(self, key: EngineKey, model_name: str) -> CacheLookup:
        """Look ``key`` up; never raises for a bad entry (the status says what is wrong)."""
        path = self.engine_path(key, model_name)
        meta_path = self.meta_path(path)
        if not path.exists():
            return CacheLookup("miss", path)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            stored_key = EngineKey.from_dict(meta["key"])
            expected_sha = str(meta["engine_sha256"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return CacheLookup("corrupt", path, reason=f"unreadable sidecar {meta_path}: {exc}")
        if stored_key != key:
            return CacheLookup("stale", path, reason=f"{path} was built for a different key ({stored_key})")
        try:
            data = path.read_bytes()
        except OSError as exc:
            return CacheLookup("corrupt", path, reason=f"cannot read {path}: {exc}")
        actual_sha = hashlib.sha256(data).hexdigest()
        if actual_sha != expected_sha:
            return CacheLookup(
                "corrupt", path, reason=f"{path} checksum {actual_sha[:12]}... != recorded {expected_sha[:12]}..."
            )
        return CacheLookup("hit", path, data=data)

    def store(self, key: EngineKey, model_name: str, data: bytes, extra: dict[str, object] | None = None) -> Path:
        """Write an engine and its sidecar atomically (a crash never leaves a half-written entry).

        Parameters
        ----------
        key : EngineKey
            The key the engine was built for.
        model_name : str
            The ONNX file's stem.
        data : bytes
            The serialised engine.
        extra : dict, optional
            Informational fields for the sidecar (build time, workspace...); not part of the key.

        Returns
        -------
        pathlib.Path
            The engine file.

        Raises
        ------
        ValueError
            ``data`` is empty.
        """
        if not data:
            raise ValueError("refusing to cache an empty engine")
        path = self.engine_path(key, model_name)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        meta = {"key": key.to_dict(), "engine_sha256": hashlib.sha256(data).hexdigest(), "engine_bytes": len(data)}
        meta.update(extra or {})
        # Engine first, sidecar last: a sidecar only ever describes a complete engine.
        _atomic_write(path, bytes(data))
        _atomic_write(self.meta_path(path), json.dumps(meta, indent=2, sort_keys=True).encode("utf-8"))
        self.prune_superseded(key, model_name)
        return path

    def prune_superseded(self, key: EngineKey, model_name: str) -> list[Path]:
        """Delete entries of the same model name built for the same GPU, precision and profile but another model
        hash or TensorRT version: the model was retrained or TensorRT upgraded, so they can never be hit again.
        Entries for other GPUs or settings are kept (a cache directory may be shared).

        Returns
        -------
        list of pathlib.Path
            The engine files removed.
        """
        keep = self.engine_path(key, model_name)
        prefix = keep.name[: -len(keep.name.rsplit("-", 1)[1])]  # "<stem>-"
        removed = []
        for engine in self.cache_dir.glob(f"{prefix}*.engine"):
            digest = engine.stem[len(prefix):]
            if engine == keep or len(digest) != 20 or any(c not in "0123456789abcdef" for c in digest):
                continue  # "net-v2-<digest>" also matches "net-*" but is another model
            try:
                other = EngineKey.from_dict(json.loads(self.meta_path(engine).read_text(encoding="utf-8"))["key"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not ours to judge; load() reports it as corrupt if it is ever looked up
            same_target = (other.gpu_name, other.compute_capability, other.fp16, other.profile) == (
                key.gpu_name, key.compute_capability, key.fp16, key.profile)
            if same_target and other != key:
                for p in (self.meta_path(engine), engine):
                    p.unlink(missing_ok=True)
                removed.append(engine)
        return removed

    def invalidate(self, key: EngineKey, model_name: str) -> None:
        """Delete the entry for ``key`` (missing files are fine)."""
        path = self.engine_path(key, model_name)
        for p in (self.meta_path(path), path):
            p.unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same directory, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
