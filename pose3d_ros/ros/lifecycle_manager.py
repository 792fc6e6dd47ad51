"""A minimal lifecycle manager: configure then activate managed nodes through their ``change_state`` services.

What ``pose3d-ros launch`` does for the driver and the inference node (the launch files do the same with launch
events; nav2's lifecycle_manager is the full-size version of this).
"""

from __future__ import annotations

import time

import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState

__all__ = ["bring_up"]

_STEPS = ((Transition.TRANSITION_CONFIGURE, "configure"), (Transition.TRANSITION_ACTIVATE, "activate"))


def bring_up(node_names: list[str], timeout_s: float = 60.0, alive=lambda: True) -> tuple[bool, str]:
    """Configure then activate each fully qualified node name in order.

    Returns
    -------
    ok : bool
    message : str
        What failed (a node that refused, or whose service never appeared), or "" on success.
    """
    node = rclpy.create_node("pose3d_lifecycle_manager")
    try:
        for name in node_names:
            client = node.create_client(ChangeState, f"{name}/change_state")
            deadline = time.monotonic() + timeout_s
            while not client.wait_for_service(timeout_sec=0.2):
                if time.monotonic() > deadline or not alive():
                    return False, f"{name}: no lifecycle service (the process ended or never started)"
            for transition, label in _STEPS:
                future = client.call_async(ChangeState.Request(transition=Transition(id=transition)))
                while not future.done():
                    rclpy.spin_once(node, timeout_sec=0.1)
                    if time.monotonic() > deadline + timeout_s or not alive():
                        return False, f"{name}: no answer to {label}"
                if not future.result().success:
                    return False, f"{name} refused to {label} (its log says why)"
        return True, ""
    finally:
        node.destroy_node()
