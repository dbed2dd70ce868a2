"""
A fake Redis Cluster for the router's and the backend's unit tests: nodes
that answer RESP requests written to their (fake) transports, on a
L{Clock}, with no sockets.

    clock = Clock()
    cluster = FakeCluster(clock, primaries=3)
    router = Router(cluster.seeds(), clock, cluster.connect)
    router.start(); cluster.settle()
    d = router.send([b"SET", b"k", b"v"], keySlot(b"k"), True)
    cluster.settle()          # requests written, answered, read

A node answers a few commands the way Redis does (strings, C{DEL},
C{MGET}, C{KEYS}, C{SCAN}, C{DBSIZE}, C{MULTI}/C{EXEC}, C{WAIT}...), says
C{MOVED} for a slot it doesn't serve, C{ASK} for a key of a slot it is
migrating that it no longer holds; tests make it fail in other ways
(L{FakeNode.errors}, L{FakeNode.hung}, L{FakeNode.down}, dropped
connections).
"""

from collections import deque
from typing import Dict, List, Optional

from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from kvtwist.backends.cluster.slots import SLOTS, Address, keySlot
from kvtwist.dialects import resp
from kvtwist.replies import OK, PONG, QUEUED, Error, Status

#: Commands the fake nodes know, and their keys' first, last and step.
KEYS = {
    b"GET": (1, 1, 1), b"SET": (1, 1, 1), b"INCR": (1, 1, 1),
    b"DEL": (1, -1, 1), b"EXISTS": (1, -1, 1), b"MGET": (1, -1, 1),
    b"MSET": (1, -1, 2), b"UNLINK": (1, -1, 1), b"TOUCH": (1, -1, 1),
    b"RPUSH": (1, 1, 1), b"LRANGE": (1, 1, 1), b"BLPOP": (1, -2, 1),
    b"TYPE": (1, 1, 1), b"WATCH": (1, -1, 1), b"RENAME": (1, 2, 1),
    b"EVAL": (3, 3, 1),
}


def _commandEntry(name, arity, flags, first, last, step):
    return [name, arity, [Status(f) for f in flags], first, last, step,
            [], [], [{b"flags": [Status("RW")],
                      b"begin_search": {b"type": b"index",
                                        b"spec": {b"index": first}},
                      b"find_keys": {b"type": b"range",
                                     b"spec": {b"lastkey": last - first
                                               if last > 0 else last,
                                               b"keystep": step,
                                               b"limit": 0}}}]
            if first else [], []]


#: What the fake nodes' C{COMMAND} says: a few commands kvtwist's table
#: may not have.
COMMAND_REPLY = [
    _commandEntry(b"blpop", -3, ["write", "blocking"], 1, -2, 1),
    _commandEntry(b"hset", -4, ["write", "denyoom", "fast"], 1, 1, 1),
    _commandEntry(b"watch", -2, ["noscript", "fast"], 1, -1, 1),
    _commandEntry(b"shutdown", -1, ["admin", "noscript"], 0, 0, 0),
    _commandEntry(b"get", 2, ["readonly", "fast"], 1, 1, 1),
    _commandEntry(b"pfadd", -2, ["write", "denyoom", "fast"], 1, 1, 1),
    # As a node older than Redis 7 describes a command whose keys move.
    [b"sort", -2, [Status("write"), Status("movablekeys")], 1, 1, 1],
]


class FakeTransport(StringTransport):
    """
    The transport of one connection to a L{FakeNode}: what the router
    writes is run by the node, whose replies arrive on a later turn.

    @ivar writes: how many times the router wrote.
    """

    def __init__(self, node: "FakeNode", protocol):
        StringTransport.__init__(self)
        self.node = node
        self.protocol = protocol
        self.writes = 0
        self.buffer = b""
        self.asking = False
        self.multi: Optional[list] = None
        self.closed = False
        self.hostAddress = node.address

    def write(self, data: bytes) -> None:
        """
        Run every whole request in C{data}; queue the replies.
        """
        if self.closed:
            return
        self.writes += 1
        StringTransport.write(self, data)
        self.node.cluster.written.append((self.node, data))
        self.buffer += data
        out = []
        while self.buffer:
            args, end = resp.parseCommand(self.buffer, 0)
            if args is None:
                break
            self.buffer = self.buffer[end:]
            self.node.received.append(args)
            reply = self.node.handle(self, args)
            if reply is not NO_REPLY:
                out.append(resp.render(reply, 3))
        if out and not self.node.hung:
            self.node.cluster.clock.callLater(
                0, self._deliver, b"".join(out))

    def _deliver(self, data: bytes) -> None:
        if not self.closed:
            self.protocol.dataReceived(data)

    def loseConnection(self) -> None:
        """
        Close (the router asked).
        """
        self.drop()

    def abortConnection(self) -> None:
        """
        Close at once (the router asked).
        """
        self.drop()

    def drop(self, reason=None) -> None:
        """
        End the connection: the router hears of it on the next turn.
        """
        if self.closed:
            return
        self.closed = True
        self.node.connections.remove(self)
        self.node.cluster.clock.callLater(
            0, self.protocol.connectionLost,
            Failure(reason or ConnectionDone("closed")))


NO_REPLY = object()


class FakeNode:
    """
    One node: its keys, and how it misbehaves.

    @ivar data: its keys.
    @ivar received: every request it got, in order.
    @ivar connections: its open L{FakeTransport}s.
    @ivar errors: replies it gives instead of running the next keyed
        commands (C{TRYAGAIN}, C{CLUSTERDOWN}...).
    @ivar hung: it reads but never answers.
    @ivar down: it refuses connections.
    @ivar acks: what its C{WAIT} answers (L{None}: as many as asked).
    @ivar password: what its C{HELLO} must carry, if anything.
    """

    def __init__(self, cluster: "FakeCluster", address: Address):
        self.cluster = cluster
        self.address = address
        self.data: Dict[bytes, object] = {}
        self.received: List[List[bytes]] = []
        self.connections: List[FakeTransport] = []
        self.errors = deque()
        self.hung = False
        self.down = False
        self.acks: Optional[int] = None
        self.password: Optional[bytes] = None

    def __repr__(self) -> str:
        return "<FakeNode %s>" % (self.address,)

    def commands(self, name: bytes) -> List[List[bytes]]:
        """
        The requests named C{name} it received.
        """
        return [a for a in self.received if a[0].upper() == name]

    def handle(self, conn: FakeTransport, args: List[bytes]):
        name = args[0].upper()
        if name == b"HELLO":
            if self.password is not None and (
                    len(args) < 5 or args[4] != self.password):
                return Error("WRONGPASS invalid username-password pair or "
                             "user is disabled.")
            return {b"server": b"redis", b"proto": 3}
        if name == b"CLUSTER" and args[1].upper() == b"SLOTS":
            return self.cluster.slotsReply()
        if name == b"ASKING":
            conn.asking = True
            return OK
        if name == b"WAIT":
            return int(args[1]) if self.acks is None else self.acks
        if name == b"MULTI":
            conn.multi = []
            return OK
        if name == b"EXEC":
            queued, conn.multi = conn.multi, None
            if any(q.__class__ is Error for q in queued):
                return Error("EXECABORT Transaction discarded because of "
                             "previous errors.")
            return [self._run(q) for q in queued]
        if name == b"PING":
            return PONG
        if name == b"COMMAND":
            return COMMAND_REPLY
        keys = _keys(args)
        if keys:
            asking, conn.asking = conn.asking, False
            slot = keySlot(keys[0])
            owner = self.cluster.owners[slot]
            importing = self.cluster.importing.get(slot)
            if owner is not self and not (asking and importing is self):
                reply = Error("MOVED %d %s" % (slot, owner.address))
                return self._queued(conn, reply)
            migrating = self.cluster.migrating.get(slot)
            if migrating is not None and owner is self and \
                    keys[0] not in self.data:
                reply = Error("ASK %d %s" % (slot, migrating.address))
                return self._queued(conn, reply)
            if self.errors:
                return self._queued(conn, self.errors.popleft())
        if conn.multi is not None:
            conn.multi.append(args)
            return QUEUED
        return self._run(args)

    def _queued(self, conn, reply):
        if conn.multi is not None:
            conn.multi.append(reply)
        return reply

    def _run(self, args: List[bytes]):
        name = args[0].upper()
        data = self.data
        if name == b"GET":
            return data.get(args[1])
        if name == b"SET":
            data[args[1]] = args[2]
            return OK
        if name == b"INCR":
            data[args[1]] = b"%d" % (int(data.get(args[1], b"0")) + 1,)
            return int(data[args[1]])
        if name in (b"DEL", b"UNLINK"):
            return sum(1 for k in args[1:] if data.pop(k, None) is not None)
        if name in (b"EXISTS", b"TOUCH"):
            return sum(1 for k in args[1:] if k in data)
        if name == b"MGET":
            return [data.get(k) for k in args[1:]]
        if name == b"MSET":
            for i in range(1, len(args), 2):
                data[args[i]] = args[i + 1]
            return OK
        if name == b"RPUSH":
            data.setdefault(args[1], []).extend(args[2:])
            return len(data[args[1]])
        if name == b"LRANGE":
            return list(data.get(args[1], []))
        if name == b"TYPE":
            value = data.get(args[1])
            return Status("none" if value is None else
                          "list" if isinstance(value, list) else "string")
        if name == b"KEYS":
            return sorted(data)
        if name == b"DBSIZE":
            return len(data)
        if name == b"RANDOMKEY":
            return min(data) if data else None
        if name in (b"FLUSHALL", b"FLUSHDB"):
            data.clear()
            return OK
        if name == b"SCAN":
            # Two keys per step, the cursor an index into the sorted keys.
            keys = sorted(data)
            start = int(args[1])
            following = start + 2 if start + 2 < len(keys) else 0
            return [b"%d" % (following,), keys[start:start + 2]]
        if name == b"WATCH":
            return OK
        if name == b"UNWATCH":
            return OK
        if name == b"BLPOP":
            for key in args[1:-1]:
                if data.get(key):
                    return [key, data[key].pop(0)]
            return NO_REPLY  # blocks (the fake never wakes it)
        if name == b"INFO":
            return b"# Keyspace\r\ndb0:keys=%d,expires=0,avg_ttl=0\r\n" % (
                len(data),)
        if name == b"EVAL":
            return 1
        return Error("ERR unknown command '%s'" % (name.decode(),))


def _keys(args: List[bytes]) -> List[bytes]:
    where = KEYS.get(args[0].upper())
    if where is None:
        return []
    first, last, step = where
    if last < 0:
        last += len(args)
    return args[first:last + 1:step]


class FakeCluster:
    """
    Fake nodes sharing the slots evenly, on one clock.

    @ivar nodes: the primaries, then the replicas.
    @ivar owners: the node serving each slot (what nodes answer by).
    @ivar advertised: the node C{CLUSTER SLOTS} says serves each slot
        (L{owners} unless a test makes it lag).
    @ivar migrating: C{{slot: target}}: a slot being moved away.
    @ivar importing: C{{slot: node}}: a slot a node is receiving.
    @ivar written: C{(node, bytes)} of every write, in order.
    """

    def __init__(self, clock, primaries: int = 3, replicas: int = 0):
        self.clock = clock
        self.nodes = [FakeNode(self, Address("10.0.0.%d" % (i + 1,), 7000))
                      for i in range(primaries + replicas)]
        self.primaries = self.nodes[:primaries]
        self.replicas = self.nodes[primaries:]
        per = SLOTS // primaries
        self.owners: List[FakeNode] = [
            self.primaries[min(s // per, primaries - 1)]
            for s in range(SLOTS)]
        self.advertised: Optional[List[FakeNode]] = None
        self.migrating: Dict[int, FakeNode] = {}
        self.importing: Dict[int, FakeNode] = {}
        self.written: List[tuple] = []
        self.connects: List[Address] = []

    def seeds(self) -> List[Address]:
        """
        Every primary's address.
        """
        return [n.address for n in self.primaries]

    def byAddress(self, host: str, port: int) -> FakeNode:
        for node in self.nodes:
            if node.address == Address(host, port):
                return node
        raise KeyError((host, port))

    def connect(self, host: str, port: int, factory, timeout: float):
        """
        The router's C{connect}: on the next turn, the connection is made
        (or refused, if the node is down).
        """
        node = self.byAddress(host, port)
        self.connects.append(node.address)
        connector = _Connector(self, node, factory)
        self.clock.callLater(0, connector.attempt)
        return connector

    def slotsReply(self) -> list:
        owners = self.advertised or self.owners
        out = []
        start = 0
        for slot in range(1, SLOTS + 1):
            if slot == SLOTS or owners[slot] is not owners[start]:
                node = owners[start]
                if node is not None:
                    out.append([start, slot - 1,
                                [node.address.host.encode(),
                                 node.address.port, b"id"]])
                start = slot
        return out

    def move(self, slots, target: FakeNode) -> None:
        """
        Move C{slots} to C{target} at once (keys included), as a
        finished resharding leaves them.
        """
        for slot in slots:
            source = self.owners[slot]
            for key in [k for k in source.data if keySlot(k) == slot]:
                target.data[key] = source.data.pop(key)
            self.owners[slot] = target

    def settle(self, turns: int = 50) -> None:
        """
        Run the calls due now, turn after turn, until none is left (at
        most C{turns} turns).
        """
        for _ in range(turns):
            now = self.clock.seconds()
            if not any(c.getTime() <= now for c in self.clock.getDelayedCalls()):
                return
            self.clock.advance(0)


class _Connector:
    """
    One connection attempt of the router's, to a fake node.
    """

    def __init__(self, cluster: FakeCluster, node: FakeNode, factory):
        self.cluster = cluster
        self.node = node
        self.factory = factory
        self.stopped = False
        self.transport = None

    def attempt(self) -> None:
        if self.stopped:
            return
        if self.node.down:
            self.factory.clientConnectionFailed(
                self, Failure(ConnectionRefusedError("Connection refused")))
            return
        protocol = self.factory.buildProtocol(self.node.address)
        transport = FakeTransport(self.node, protocol)
        self.transport = transport
        self.node.connections.append(transport)
        protocol.makeConnection(transport)

    def stopConnecting(self) -> None:
        if self.transport is None and not self.stopped:
            self.stopped = True
            self.factory.clientConnectionFailed(
                self, Failure(ConnectionRefusedError("stopped")))
