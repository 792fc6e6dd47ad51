"""What both nodes share as managed (lifecycle) nodes: QoS by name, the start-up path and a clean exit.

Each node declares its parameters in ``__init__`` and does the real work in the lifecycle callbacks
(configure: check parameters, load; activate: subscribe, publish; deactivate; cleanup). Run plainly
(``autostart`` true, the default) the node configures and activates itself; under a lifecycle manager
(``pose3d-ros launch``, the launch files) it waits for the transitions. A refused configuration prints one
``cannot start: ...`` line per problem and, when autostarted, exits with code 2. Ctrl-C exits 0.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.qos import QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data

from .dds import apply_dds_defaults

__all__ = ["QOS_CHOICES", "qos_profile", "ManagedNode", "run_managed", "EXIT_CONFIG"]

QOS_CHOICES = ("sensor_data", "reliable")
#: exit code of a node that refused its configuration
EXIT_CONFIG = 2


def qos_profile(name: str, depth: int = 5) -> QoSProfile:
    """``sensor_data`` (best effort, as camera drivers publish) or ``reliable`` (keep last ``depth``)."""
    if name == "sensor_data":
        return qos_profile_sensor_data
    if name == "reliable":
        return QoSProfile(depth=depth, reliability=QoSReliabilityPolicy.RELIABLE,
                          history=QoSHistoryPolicy.KEEP_LAST)
    raise ValueError(f"qos must be one of {', '.join(QOS_CHOICES)}, got {name!r}")


class ManagedNode(LifecycleNode):
    """A lifecycle node that records why a transition was refused (``problems``) and logs each once."""

    problems: list[str]

    def refuse(self, problems: list[str]) -> TransitionCallbackReturn:
        """Log ``cannot start: <problem>`` per problem; the transition fails (the node stays unconfigured)."""
        self.problems = list(problems)
        for p in problems:
            self.get_logger().fatal(f"cannot start: {p}")
        return TransitionCallbackReturn.FAILURE

    def start(self) -> bool:
        """Configure then activate (the plain, unmanaged way to run); False when either is refused."""
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            return False
        return self.trigger_activate() == TransitionCallbackReturn.SUCCESS


def run_managed(make_node: Callable[[], ManagedNode], args: list[str] | None = None) -> int:
    """The nodes' ``main``: create, autostart if asked, spin until Ctrl-C. Returns the process exit code."""
    apply_dds_defaults()
    rclpy.init(args=args if args is not None else sys.argv)
    node: Any = None
    rc = 0
    try:
        node = make_node()
        if getattr(node, "autostart", True) and not node.start():
            rc = EXIT_CONFIG
        else:
            rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except rclpy.exceptions.ParameterException as exc:  # a parameter rclpy itself refused before our table
        rclpy.logging.get_logger("pose3d_ros").fatal(f"cannot start: {exc}")
        rc = EXIT_CONFIG
    except Exception as exc:  # noqa: BLE001 - Ctrl-C during spin can surface as RCLError once the context is gone
        if rclpy.ok():
            raise
        del exc
    finally:
        if node is not None:
            try:
                node.destroy_node()
            except Exception:  # noqa: BLE001, S110 - shutting down: the context may already be invalid
                pass
        if rclpy.ok():
            rclpy.shutdown()
    return rc
