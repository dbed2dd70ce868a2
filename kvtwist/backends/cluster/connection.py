# -*- test-case-name: kvtwist.test.test_cluster_router -*-
"""
One connection to one cluster node: requests of a reactor turn leave in
one write at the end of the turn, replies are matched to requests in order.

What waits for a reply on a connection is an I{entry}: an object with
C{replied(connection, reply)}, called with its reply, and C{lost(connection,
sent)}, called if the connection ends first (C{sent}: whether its bytes had
been written, so that the node may have run it).  The router's requests
are entries; so are the connection's own handshake and the C{ASKING} and
C{WAIT} it sends for them.
"""

from collections import deque
from typing import Callable, List, Optional

from twisted.internet.protocol import ClientFactory, Protocol
from twisted.logger import Logger

from kvtwist import transport as _transport
from kvtwist.backends.cluster.reader import (
    Push, ReplyFormatError, ReplyReader, encode)
from kvtwist.replies import Error


class Handshake:
    """
    The entry of a connection's first request, C{HELLO 3} (with C{AUTH}
    when the cluster has a password): RESP3 replies from then on.
    """

    def replied(self, connection: "NodeConnection", reply) -> None:
        """
        Ready, or refused (a wrong password: the connection fails).
        """
        if reply.__class__ is Error:
            connection.handshakeFailed(str(reply))
        else:
            connection.version = _version(reply)
            connection.handshakeDone()

    def lost(self, connection: "NodeConnection", sent: bool) -> None:
        """
        Nothing to do: the connection reports its own loss.
        """


class Ignored:
    """
    The entry of a request whose reply nobody needs (C{ASKING}).
    """

    def replied(self, connection, reply) -> None:
        """
        Drop it.
        """

    def lost(self, connection, sent: bool) -> None:
        """
        Drop it.
        """


IGNORED = Ignored()


def _version(hello) -> Optional[tuple]:
    """
    The node's version, from its C{HELLO} reply, as a tuple of numbers.
    """
    if not isinstance(hello, dict):
        return None
    text = hello.get(b"version")
    if not isinstance(text, bytes):
        return None
    try:
        return tuple(int(p) for p in text.split(b".")[:3])
    except ValueError:
        return None


class NodeConnection(Protocol):
    """
    A connection to a node: requests queued during a reactor turn are
    written together when it ends (or once connected and greeted), and
    replies go to their entries in order.

    @ivar node: the router's node it goes to.
    @ivar index: its place in the node's pool (-1 for a connection
        dedicated to one client).
    @ivar ready: connected, greeted, and not lost.
    @ivar lostReason: why it ended, once it has.
    @ivar pending: the entries written and waiting for a reply, in order.
    @ivar unsent: the entries queued and not written yet, in order.
    @ivar writes: the write requests among C{unsent}.
    """

    _log = Logger()

    def __init__(self, owner, node, index: int, hello: bytes,
                 endOfTurn):
        """
        @param owner: told of the connection's life: C{connectionReady(c)},
            C{connectionEnded(c, reason, unsent, pending)},
            C{beforeFlush(c)} (to add a C{WAIT}), C{push(c, message)}.
        @param node: the node.
        @param index: see above.
        @param hello: the handshake request's bytes.
        @param endOfTurn: a L{kvtwist.protocol.writer.EndOfTurn}.
        """
        self.owner = owner
        self.node = node
        self.index = index
        self._hello = hello
        self._endOfTurn = endOfTurn
        self.pending = deque()
        self.unsent: List[object] = []
        self.out: List[bytes] = []
        self.writes: List[object] = []
        self.reader = ReplyReader()
        self.ready = False
        self.ended = False
        self.lostReason: Optional[str] = None
        self._queued = False
        self._send: Optional[Callable[[bytes], None]] = None
        self.connector = None
        self.version: Optional[tuple] = None

    # -- queueing --------------------------------------------------------------

    def enqueue(self, entry, data: bytes, write: bool = False) -> None:
        """
        Queue one request: its bytes leave at the end of this turn.

        @param write: whether it is a write (a C{WAIT} may follow the
            turn's writes).
        """
        self.out.append(data)
        self.unsent.append(entry)
        if write:
            self.writes.append(entry)
        if not self._queued:
            self._queued = True
            if self.ready:
                self._endOfTurn.add(self)

    def enqueueMany(self, entries, data: bytes, write: bool = False) -> None:
        """
        Queue requests that must follow each other on the connection with
        nothing between them (C{MULTI} ... C{EXEC}; C{ASKING} and its
        command): one piece of bytes, one entry per reply.
        """
        self.out.append(data)
        self.unsent.extend(entries)
        if write:
            self.writes.append(entries[-1])
        if not self._queued:
            self._queued = True
            if self.ready:
                self._endOfTurn.add(self)

    def flush(self) -> None:
        """
        Write what is queued (the end of the turn, or the handshake's
        reply): the owner may add a C{WAIT} for the writes first.
        """
        self._queued = False
        if not self.ready or not self.out:
            return
        if self.writes:
            self.owner.beforeFlush(self)
            del self.writes[:]
        out = self.out
        data = out[0] if len(out) == 1 else b"".join(out)
        del out[:]
        self.pending.extend(self.unsent)
        del self.unsent[:]
        self._send(data)

    @property
    def inFlight(self) -> int:
        """
        How many entries wait for their reply or their turn.
        """
        return len(self.pending) + len(self.unsent)

    # -- the connection ----------------------------------------------------------

    def connectionMade(self) -> None:
        """
        Greet the node (C{HELLO 3}, maybe with C{AUTH}); requests wait for
        its answer.
        """
        transport = self.transport
        _transport.tuneTCP(transport, keepalive=15)
        self._send = _transport.directSender(transport) or transport.write
        self.pending.append(Handshake())
        transport.write(self._hello)

    def handshakeDone(self) -> None:
        """
        The node accepted the handshake: send what waited.
        """
        if self.ended:
            return
        self.ready = True
        self.owner.connectionReady(self)
        self.flush()

    def handshakeFailed(self, why: str) -> None:
        """
        The node refused the handshake (a wrong password): end the
        connection, saying why.
        """
        self.lostReason = why
        self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        """
        Give each reply to its entry, in order.
        """
        try:
            replies = self.reader.feed(data)
        except ReplyFormatError as e:
            self._log.error("node {node} sent what is not RESP: {error}",
                            node=str(self.node), error=str(e))
            self.lostReason = "the node sent what is not RESP"
            self.transport.abortConnection()
            return
        pending = self.pending
        for reply in replies:
            if reply.__class__ is Push:
                self.owner.push(self, reply)
                continue
            if not pending:
                self._log.error("node {node} sent a reply nobody asked for",
                                node=str(self.node))
                self.lostReason = "the node sent a reply nobody asked for"
                self.transport.abortConnection()
                return
            pending.popleft().replied(self, reply)

    def abort(self, why: str) -> None:
        """
        Drop the connection now (a request waited past the timeout on it,
        or the node left the cluster).
        """
        if self.lostReason is None:
            self.lostReason = why
        if self.ended:
            return
        if self.transport is not None:
            self.transport.abortConnection()
            return
        if self.connector is not None:
            try:
                self.connector.stopConnecting()
            except Exception:
                pass
        self.connectFailed(why)

    def connectionLost(self, reason) -> None:
        """
        Tell the owner, with the entries written (the node may have run
        them) and those that were not.
        """
        self._ended(self.lostReason or reason.getErrorMessage())

    def connectFailed(self, why: str) -> None:
        """
        The connection could not be made: nothing was written.
        """
        self._ended(why)

    def _ended(self, why: str) -> None:
        if self.ended:
            return
        self.ended = True
        self.ready = False
        self.lostReason = why
        pending, unsent = list(self.pending), list(self.unsent)
        self.pending.clear()
        del self.unsent[:]
        del self.out[:]
        del self.writes[:]
        self.owner.connectionEnded(self, why, unsent, pending)


class NodeConnector(ClientFactory):
    """
    The factory of one L{NodeConnection}, for C{connectTCP}/C{connectSSL}.
    """

    noisy = False

    def __init__(self, connection: NodeConnection):
        self.connection = connection

    def buildProtocol(self, addr) -> NodeConnection:
        """
        The connection, made once.
        """
        self.connection.factory = self
        return self.connection

    def clientConnectionFailed(self, connector, reason) -> None:
        """
        Tell the connection it never was.
        """
        self.connection.connectFailed(reason.getErrorMessage())


def helloRequest(password: Optional[bytes], name: bytes = b"kvtwist"
                 ) -> bytes:
    """
    The handshake: C{HELLO 3 [AUTH default PASSWORD] SETNAME NAME}.
    """
    args = [b"HELLO", b"3"]
    if password is not None:
        args += [b"AUTH", b"default", password]
    args += [b"SETNAME", name]
    return encode(args)
