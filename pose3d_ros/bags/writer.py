"""Write rosbag2 bags (MCAP storage, zstd-compressed chunks) with ``rosbags``; no ROS installation needed.

:class:`BagWriter` writes any message on any topic: a rosbags message, a ``dict`` of its fields, raw CDR ``bytes``,
or an rclpy message (serialised with ``rclpy.serialization``, imported only then). Our own types
(``pose3d_ros/msg/Skeleton3DArray``, ...) come from ``msg/*.msg`` (:mod:`pose3d_ros.bags.typestore`).

Compression: rosbags' MCAP writer compresses each chunk (about 1 MiB of messages) with zstd when asked for
``CompressionMode.STORAGE``; that is what ``ros2 bag record --storage mcap`` does by default with its
``zstd_fast`` preset, and every MCAP reader (``ros2 bag``, Foxglove, ``mcap``) reads it. rosbags offers zstd at
its default level only (no lz4, no level choice); ``compression="none"`` writes plain chunks.
"""

from __future__ import annotations

import shutil
import threading
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.interfaces import Connection, Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer, WriterError
from rosbags.typesys.base import Nodetype
from rosbags.typesys.store import Typestore

from . import is_bag_path
from .typestore import normalize_msgtype, typestore

__all__ = ["BagWriter", "QOS_SENSOR_DATA", "QOS_DEFAULT", "QOS_STATIC", "build_message", "qos_from_profile"]


def _qos(reliability: QosReliability, durability: QosDurability, depth: int) -> Qos:
    zero = QosTime(0, 0)  # RMW "unspecified" = infinite deadline / lifespan / lease
    return Qos(QosHistory.KEEP_LAST, depth, reliability, durability, zero, zero, QosLiveliness.AUTOMATIC, zero, False)


#: rclpy's qos_profile_sensor_data (what the driver publishes images with)
QOS_SENSOR_DATA = _qos(QosReliability.BEST_EFFORT, QosDurability.VOLATILE, 5)
#: rclpy's default publisher profile (skeletons, markers, actions)
QOS_DEFAULT = _qos(QosReliability.RELIABLE, QosDurability.VOLATILE, 10)
#: /tf_static: latched, so ``ros2 bag play`` hands it to late subscribers
QOS_STATIC = _qos(QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, 1)

_NUMPY: dict[str, str] = {
    "bool": "bool",
    "byte": "uint8",
    "char": "uint8",
    "octet": "uint8",
    "int8": "int8",
    "uint8": "uint8",
    "int16": "int16",
    "uint16": "uint16",
    "int32": "int32",
    "uint32": "uint32",
    "int64": "int64",
    "uint64": "uint64",
    "float32": "float32",
    "float64": "float64",
}


def qos_from_profile(profile: Any) -> Qos:
    """rosbags ``Qos`` of an rclpy ``QoSProfile`` (history, depth, reliability, durability; the rest unspecified).

    Raises
    ------
    ValueError
        When a policy has no rosbags counterpart.
    """
    zero = QosTime(0, 0)
    try:
        return Qos(
            QosHistory[profile.history.name],
            int(profile.depth),
            QosReliability[profile.reliability.name],
            QosDurability[profile.durability.name],
            zero,
            zero,
            QosLiveliness[getattr(getattr(profile, "liveliness", None), "name", "AUTOMATIC")],
            zero,
            False,
        )
    except (KeyError, AttributeError) as exc:
        raise ValueError(f"cannot record QoS {profile!r}: {exc}") from None


def _field_value(store: Typestore, node: int, desc: Any, value: Any) -> Any:
    if node == Nodetype.BASE:
        return value
    if node == Nodetype.NAME:
        return build_message(store, desc, value) if isinstance(value, dict) else value
    sub_node, sub_desc = desc[0]
    if sub_node == Nodetype.BASE and sub_desc[0] in _NUMPY:
        return np.asarray(value, dtype=_NUMPY[sub_desc[0]]).reshape(-1)
    return [_field_value(store, sub_node, sub_desc, v) for v in value]


def _default(store: Typestore, node: int, desc: Any) -> Any:
    if node == Nodetype.BASE:
        name = desc[0]
        if name in ("string", "wstring"):
            return ""
        return False if name == "bool" else (0.0 if name.startswith("float") else 0)
    if node == Nodetype.NAME:
        return build_message(store, desc, {})
    sub_node, sub_desc = desc[0]
    length = desc[1] if node == Nodetype.ARRAY else 0
    if sub_node == Nodetype.BASE and sub_desc[0] in _NUMPY:
        return np.zeros(length, dtype=_NUMPY[sub_desc[0]])
    return [_default(store, sub_node, sub_desc) for _ in range(length)]


def build_message(store: Typestore, msgtype: str, fields: dict[str, Any]) -> Any:
    """A rosbags message of ``msgtype`` from a (nested) dict of its fields; missing fields get zero values.

    Raises
    ------
    ValueError
        Unknown message type or field name.
    """
    msgtype = normalize_msgtype(msgtype)
    if msgtype not in store.types:
        raise ValueError(f"unknown message type {msgtype!r} (not in the type store; custom types come from msg/)")
    _, defs = store.fielddefs[msgtype]
    names = {n for n, _ in defs}
    if unknown := set(fields) - names:
        raise ValueError(f"{msgtype} has no field(s) {sorted(unknown)} (fields: {', '.join(n for n, _ in defs)})")
    kwargs = {
        name: _field_value(store, node, desc, fields[name]) if name in fields else _default(store, node, desc)
        for name, (node, desc) in defs
    }
    return store.types[msgtype](**kwargs)


def _rclpy_msgtype(msg: Any) -> str:
    # rclpy message classes live in <pkg>.msg._<snake_name>; the class name is the type name
    pkg, kind = type(msg).__module__.split(".")[:2]
    return f"{pkg}/{kind}/{type(msg).__name__}"


class BagWriter:
    """A rosbag2 bag (MCAP) being written; topics are added on their first message. Thread-safe.

    Parameters
    ----------
    path : path-like
        Bag directory to create (``ros2 bag record -o`` style: it gets ``metadata.yaml`` and ``<name>.mcap``).
    overwrite : bool
        Replace an existing bag at ``path`` (only a bag: any other directory is left alone and refused).
    compression : {"zstd", "none"}
        Chunk compression.
    store : Typestore, optional
        Type store (default :func:`pose3d_ros.bags.typestore.typestore`).

    Raises
    ------
    FileExistsError
        ``path`` exists (and is not a bag to overwrite).
    ValueError
        Unknown compression.

    Examples
    --------
    >>> with BagWriter("out/run1") as bag:                                           # doctest: +SKIP
    ...     bag.write("skeletons", "pose3d_ros/msg/Skeleton3DArray", msg, stamp_ns)  # rclpy msg, dict or bytes
    """

    def __init__(
        self,
        path: str | PathLike,
        *,
        overwrite: bool = False,
        compression: str = "zstd",
        store: Typestore | None = None,
    ) -> None:
        if compression not in ("zstd", "none"):
            raise ValueError(f"bag compression must be 'zstd' or 'none', got {compression!r}")
        self.path = Path(path)
        self.compression = compression
        self.store = store or typestore()
        if self.path.exists():
            empty_dir = self.path.is_dir() and not any(self.path.iterdir())
            if not empty_dir and not (overwrite and self.path.is_dir() and is_bag_path(self.path)):
                hint = "pass overwrite=True / --overwrite" if is_bag_path(self.path) else "not a bag: remove it"
                raise FileExistsError(f"{self.path} already exists ({hint})")
            shutil.rmtree(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = Writer(self.path, version=Writer.VERSION_LATEST, storage_plugin=StoragePlugin.MCAP)
        if compression == "zstd":
            self._writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        self._writer.open()
        self._connections: dict[tuple[str, str], Connection] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.count = 0

    def connection(self, topic: str, msgtype: str, qos: Qos | None = None) -> Connection:
        """The connection of ``topic`` (created with ``qos``, default :data:`QOS_DEFAULT`, on first use)."""
        key = (topic, normalize_msgtype(msgtype))
        conn = self._connections.get(key)
        if conn is None:
            if key[1] not in self.store.types:
                raise ValueError(f"unknown message type {key[1]!r} for {topic!r} (not in the type store)")
            conn = self._writer.add_connection(
                topic, key[1], typestore=self.store, offered_qos_profiles=[qos or QOS_DEFAULT]
            )
            self._connections[key] = conn
        return conn

    def write(self, topic: str, msgtype: str | None, msg: Any, stamp_ns: int, qos: Any = None) -> None:
        """Write one message at ``stamp_ns`` (ns since the epoch; the image acquisition time for our topics).

        Parameters
        ----------
        topic, msgtype : str
            ``msgtype`` as ``pkg/msg/Name`` (or ``pkg/Name``); None infers it from an rclpy message.
        msg : rosbags message, dict, bytes or rclpy message
            ``bytes`` must be CDR with its encapsulation header (what ``rclpy.serialization.serialize_message``
            returns).
        stamp_ns : int
        qos : rosbags Qos or rclpy QoSProfile, optional
            Offered QoS recorded for the topic when it is created (default :data:`QOS_DEFAULT`); what
            ``ros2 bag play`` offers again.

        Raises
        ------
        ValueError
            Closed writer, negative stamp, unknown type or fields.
        """
        if isinstance(stamp_ns, float) or int(stamp_ns) < 0:
            raise ValueError(f"stamp_ns must be a non-negative integer (ns since the epoch), got {stamp_ns!r}")
        if msgtype is None:
            if not hasattr(type(msg), "get_fields_and_field_types"):
                raise ValueError("msgtype is needed unless msg is an rclpy message")
            msgtype = _rclpy_msgtype(msg)
        msgtype = normalize_msgtype(msgtype)
        if qos is not None and not isinstance(qos, Qos):
            qos = qos_from_profile(qos)
        data = self._serialize(msgtype, msg)
        with self._lock:
            if self._closed:
                raise ValueError(f"bag {self.path} is closed")
            self._writer.write(self.connection(topic, msgtype, qos), int(stamp_ns), data)
            self.count += 1

    def _serialize(self, msgtype: str, msg: Any) -> bytes | memoryview:
        if isinstance(msg, (bytes, bytearray, memoryview)):
            return msg
        if isinstance(msg, dict):
            msg = build_message(self.store, msgtype, msg)
        elif not hasattr(msg, "__msgtype__") and hasattr(type(msg), "get_fields_and_field_types"):
            from rclpy.serialization import serialize_message  # only a node hands us rclpy messages

            return serialize_message(msg)
        if getattr(msg, "__msgtype__", msgtype) != msgtype:
            raise ValueError(f"message is a {msg.__msgtype__}, not a {msgtype}")
        try:
            return self.store.serialize_cdr(msg, msgtype)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise ValueError(f"cannot serialise a {msgtype}: {exc}") from exc

    def close(self) -> None:
        """Finish the bag (index, summary, ``metadata.yaml``). Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._writer.close()
            except (WriterError, OSError):
                self._writer.abort()
                raise

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        # finish the bag even on an exception (Ctrl-C while recording): what was written stays readable
        self.close()
