# -*- test-case-name: kvtwist.test.test_cluster_slots -*-
"""
Redis Cluster's key space: 16,384 hash slots, a key's slot, and the table
of which node serves each slot (from C{CLUSTER SLOTS}).
"""

from binascii import crc_hqx
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

#: How many hash slots a Redis Cluster has.
SLOTS = 16384


def keySlot(key: bytes) -> int:
    """
    The hash slot of C{key}: CRC16 (XMODEM, which L{binascii.crc_hqx} is
    with a start value of 0) of the key, or of its hash tag (what is
    between the first C{{} and the first C{}} after it, if not empty),
    modulo 16,384, as Redis Cluster computes it.
    """
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return crc_hqx(key, 0) & 16383


class Address(NamedTuple):
    """
    Where a node listens.
    """

    host: str
    port: int

    def __str__(self) -> str:
        return "%s:%d" % (self.host, self.port)


def parseAddress(text: str, defaultHost: str = "") -> Address:
    """
    C{HOST:PORT} (C{[V6]:PORT} too) as an L{Address}; an empty host (as in
    C{MOVED 12 :7001}) is C{defaultHost}.

    @raise ValueError: if it is not one.
    """
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("not HOST:PORT: %r" % (text,))
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return Address(host or defaultHost, int(port))


class SlotRange(NamedTuple):
    """
    One entry of C{CLUSTER SLOTS}: slots C{start} to C{end} (both
    included), served by C{primary}, replicated to C{replicas}.
    """

    start: int
    end: int
    primary: Address
    primaryId: str
    replicas: Tuple[Address, ...]


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def parseClusterSlots(reply, queried: Address) -> List[SlotRange]:
    """
    The ranges of a C{CLUSTER SLOTS} reply.  A node's host may be empty or
    C{?} when the node doesn't know its own address (a cluster of one
    host): it is then the host the reply came from.

    @param queried: the node asked.
    @raise ValueError: if the reply is not C{CLUSTER SLOTS}'s shape.
    """
    if not isinstance(reply, list):
        raise ValueError("CLUSTER SLOTS answered %r" % (reply,))
    ranges = []
    for entry in reply:
        if not isinstance(entry, list) or len(entry) < 3:
            raise ValueError("bad CLUSTER SLOTS entry %r" % (entry,))
        start, end = int(entry[0]), int(entry[1])
        if not 0 <= start <= end < SLOTS:
            raise ValueError("bad slot range %d-%d" % (start, end))
        nodes = []
        ids = []
        for node in entry[2:]:
            host = _text(node[0])
            if host in ("", "?"):
                host = queried.host
            nodes.append(Address(host, int(node[1])))
            ids.append(_text(node[2]) if len(node) > 2 else "")
        ranges.append(SlotRange(start, end, nodes[0], ids[0],
                                tuple(nodes[1:])))
    return ranges


class SlotTable:
    """
    Which node serves each slot: C{primaries[slot]} is an L{Address} or
    L{None} for a slot no node serves.

    @ivar ranges: the L{SlotRange}s it was made of.
    """

    def __init__(self, ranges: Iterable[SlotRange] = ()):
        self.ranges: List[SlotRange] = sorted(ranges)
        self.primaries: List[Optional[Address]] = [None] * SLOTS
        for r in self.ranges:
            self.primaries[r.start:r.end + 1] = [r.primary] * (
                r.end - r.start + 1)

    def covered(self) -> int:
        """
        How many slots some node serves.
        """
        return sum(r.end - r.start + 1 for r in self.ranges)

    def primaryAddresses(self) -> List[Address]:
        """
        Every node serving slots, in the order of the lowest slot each
        serves.
        """
        lowest: Dict[Address, int] = {}
        for r in self.ranges:
            if r.primary not in lowest or r.start < lowest[r.primary]:
                lowest[r.primary] = r.start
        return sorted(lowest, key=lowest.__getitem__)

    def lowestSlot(self, address: Address) -> Optional[int]:
        """
        The lowest slot C{address} serves, or L{None}.
        """
        starts = [r.start for r in self.ranges if r.primary == address]
        return min(starts) if starts else None

    def allAddresses(self) -> List[Address]:
        """
        Every node the table names, primaries first.
        """
        seen: Dict[Address, None] = {}
        for r in self.ranges:
            seen.setdefault(r.primary)
        for r in self.ranges:
            for replica in r.replicas:
                seen.setdefault(replica)
        return list(seen)

    def replicaCount(self) -> int:
        """
        How many distinct replicas the table names.
        """
        primaries = set(self.primaryAddresses())
        return len({a for r in self.ranges for a in r.replicas
                    if a not in primaries})
