"""With local discovery and the shipped Fast DDS profile, every DDS receive socket is bound to 127.0.0.1.

Read from /proc (the process's socket inodes matched against /proc/net/udp). The receive sockets are those on
the domain's well-known ports (7400 + 250 * domain + offsets, RTPS port mapping). Fast DDS also opens send-only
sockets on ephemeral ports; with ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` every destination is 127.0.0.1, but
the rmw's localhost mode opens two of them without the profile's interface whitelist (bound to 0.0.0.0 and to the
host's address) — the test records them and checks they are send-only (ephemeral port, never a well-known one).
"""

from __future__ import annotations

import os
import socket
import struct

import pytest
from conftest import wait_for

pytestmark = pytest.mark.ros


def udp_sockets(pid: int) -> list[tuple[str, int]]:
    """(address, port) of the UDP sockets of process ``pid``."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = []
    with open("/proc/net/udp") as fh:
        next(fh)
        for line in fh:
            cols = line.split()
            if cols[9] in inodes:
                addr_hex, port_hex = cols[1].split(":")
                addr = socket.inet_ntoa(struct.pack("<I", int(addr_hex, 16)))
                out.append((addr, int(port_hex, 16)))
    return out


def has_unicast_pair(socks: list[tuple[str, int]], base: int) -> bool:
    """True once a participant's unicast receive ports are bound: metatraffic ``base + 10 + 2 * id`` and user
    traffic one above it (RTPS port mapping, d1 = 10, d3 = 11)."""
    ports = {p for _, p in socks}
    return any(p + 1 in ports and (p - base - 10) % 2 == 0 for p in ports if base + 10 <= p < base + 250)


def test_dds_receive_sockets_are_bound_to_loopback(procs, ros_env):
    domain = int(ros_env["ROS_DOMAIN_ID"])
    assert ros_env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert ros_env["FASTDDS_DEFAULT_PROFILES_FILE"].endswith("config/fastdds.xml")
    node = procs.start(["-m", "pose3d_ros.ros.pose3d_node"], "node")
    wait_for(lambda: "active" in procs.output("node") or node.poll() is not None, 90, "the node to start")
    base = 7400 + 250 * domain
    wait_for(lambda: node.poll() is not None or has_unicast_pair(udp_sockets(node.pid), base), 30,
             "discovery to open its unicast receive sockets")
    assert node.poll() is None, procs.output("node")
    socks = udp_sockets(node.pid)
    well_known = [(a, p) for a, p in socks if base <= p < base + 250]
    assert well_known, socks
    assert all(a == "127.0.0.1" for a, _ in well_known), socks
    others = [(a, p) for a, p in socks if not (base <= p < base + 250) and a not in ("127.0.0.1",)]
    assert len(others) <= 2 and all(p >= 32768 for _, p in others), socks  # send-only, ephemeral ports
