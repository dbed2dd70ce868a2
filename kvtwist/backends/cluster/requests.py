# -*- test-case-name: kvtwist.test.test_cluster_router -*-
"""
What waits for a node's reply on a connection (see
L{kvtwist.backends.cluster.connection}): a client's L{Request}, a
L{Transaction} (C{MULTI} ... C{EXEC} in one piece, a L{Part} per reply),
and the L{WaitMarker} of the C{WAIT} that confirms a turn's writes.  What
to do with a reply that is not the answer (a redirection, a lost
connection) is the router's, their connection's owner.
"""

from typing import TYPE_CHECKING, List, Optional

from twisted.internet.defer import Deferred

from kvtwist.backends.cluster.connection import NodeConnection
from kvtwist.backends.cluster.reader import encode
from kvtwist.replies import Error, Later

if TYPE_CHECKING:
    from kvtwist.backends.cluster.router import Node

#: Errors meaning the node did not run the request: send it again.
RETRY_CODES = frozenset(["TRYAGAIN", "CLUSTERDOWN", "LOADING", "READONLY",
                         "MASTERDOWN"])
#: Those and the redirections.
REDIRECT_CODES = RETRY_CODES | frozenset(["MOVED", "ASK"])
#: What L{Request.reply} holds until a reply is kept there.
NOTHING = object()


class Request(Later):
    """
    A request on its way to the cluster: an entry of a connection's queue
    (see L{kvtwist.backends.cluster.connection}), and the L{Later} reply
    of the command it carries (L{Router.sendLater}), or, for code that
    chains Deferreds, L{deferred}'s.

    @ivar data: the command and its arguments as RESP (C{argv}, not kept).
    @ivar slot: its hash slot, or L{None} for a request to L{node}.
    @ivar node: the node it must go to (when C{slot} is L{None}).
    @ivar write: whether it may change data.
    @ivar raw: whether its reply is wanted as it is (no redirection
        followed: the router's own requests).
    @ivar born: when it was made (the clock's seconds).
    @ivar done: whether it was answered (its reply or an error reply).
    @ivar connection: the connection it was last queued on.
    @ivar marker: the C{WAIT} that will confirm it, if any.
    @ivar reply: its reply, kept while the C{WAIT} is awaited.
    @ivar redirects: redirections followed so far.
    @ivar tries: times it waited to be sent again.
    """

    # The fields every request uses are slots; the others are class
    # attributes, defaults that an instance overrides in its own
    # __dict__ (made only then): a request is made for every command, and
    # each field set in __init__ costs.
    __slots__ = ("data", "slot", "write", "born", "connection", "marker",
                 "__dict__")

    node: Optional["Node"] = None
    raw = False
    reply = NOTHING
    redirects = 0
    tries = 0
    dedicated = False
    pinned = None
    keep = False
    timer = None
    _deferred = None

    def __init__(self, argv: List[bytes], slot: Optional[int], write: bool,
                 born: float, node: Optional["Node"] = None, raw: bool = False,
                 data: Optional[bytes] = None):
        self.data = encode(argv) if data is None else data
        self.slot = slot
        self.write = write
        self.born = born
        self.done = False
        self._receiver = None
        self.connection = None
        self.marker = None
        if node is not None:
            self.node = node
        if raw:
            self.raw = raw

    @property
    def deferred(self) -> Deferred:
        """
        A Deferred firing with the reply (made on first use, then the
        same one).
        """
        d = self._deferred
        if d is None:
            d = self._deferred = self.asDeferred()
        return d

    def enqueueOn(self, connection: NodeConnection) -> None:
        """
        Queue this request on C{connection}.
        """
        self.connection = connection
        connection.enqueue(self, self.data, self.write)

    def finish(self, reply) -> None:
        """
        Answer (once).
        """
        if not self.done:
            self.fire(reply)

    def replied(self, connection: NodeConnection, reply) -> None:
        """
        The node answered: a redirection is followed, a write waiting for
        its C{WAIT} keeps its reply, anything else is the answer.
        """
        if self.done:
            return
        if reply.__class__ is Error and not self.raw:
            connection.owner.errorReplied(self, connection, reply)
            return
        if self.marker is not None:
            self.reply = reply
            return
        self.fire(reply)

    def __repr__(self) -> str:
        return "<Request %r slot=%s>" % (self.data[:60], self.slot)

    def lost(self, connection: NodeConnection, sent: bool) -> None:
        """
        The connection ended before the reply came.
        """
        if not self.done:
            connection.owner.requestLost(self, connection, sent)


class WaitMarker:
    """
    The entry of a C{WAIT} that confirms the writes written before it on
    its connection in one turn.
    """

    __slots__ = ("writes",)

    def __init__(self, writes: List[Request]):
        self.writes = writes

    def replied(self, connection: NodeConnection, reply) -> None:
        """
        The C{WAIT} answered: confirm or refuse each write still waiting.
        """
        connection.owner.waitReplied(self, connection, reply)

    def lost(self, connection: NodeConnection, sent: bool) -> None:
        """
        The connection ended before C{WAIT} answered.
        """
        connection.owner.waitReplied(
            self, connection, Error("connection lost: %s"
                                    % (connection.lostReason,)))


class Part:
    """
    The entry of one reply of a L{Transaction}.
    """

    __slots__ = ("transaction",)

    def __init__(self, transaction: "Transaction"):
        self.transaction = transaction

    def replied(self, connection: NodeConnection, reply) -> None:
        """
        Give the reply to the transaction.
        """
        self.transaction.partReplied(connection, reply)

    def lost(self, connection: NodeConnection, sent: bool) -> None:
        """
        Tell the transaction, once.
        """
        transaction = self.transaction
        if transaction.parts and transaction.parts[0] is self:
            transaction.lost(connection, sent)


class Transaction(Request):
    """
    C{MULTI}, the queued commands and C{EXEC}, written together on one
    connection (nothing of another client's can come between them): the
    node runs them atomically.  Its reply is C{EXEC}'s.  If the node
    refused to queue a command because the slot is elsewhere or moving
    (C{EXECABORT} after a C{MOVED}, C{ASK}, C{TRYAGAIN}...), nothing ran,
    and the whole transaction is sent again.

    @ivar parts: one entry per reply expected.
    @ivar replies: the replies so far.
    """

    __slots__ = ("parts", "replies")

    def __init__(self, argvs: List[List[bytes]], slot: int, write: bool,
                 born: float):
        whole = [[b"MULTI"]] + list(argvs) + [[b"EXEC"]]
        Request.__init__(self, [b"EXEC"], slot, write, born,
                         data=b"".join(encode(a) for a in whole))
        self.parts = [Part(self) for _ in whole]
        self.replies: list = []

    def enqueueOn(self, connection: NodeConnection) -> None:
        """
        Queue the whole transaction on C{connection}, in one piece.
        """
        self.connection = connection
        self.replies = []
        connection.enqueueMany(self.parts, self.data, self.write)

    def partReplied(self, connection: NodeConnection, reply) -> None:
        """
        One more reply; with the last (C{EXEC}'s), answer.
        """
        replies = self.replies
        replies.append(reply)
        if len(replies) < len(self.parts) or self.done:
            return
        execReply = replies[-1]
        if execReply.__class__ is Error and execReply.startswith(
                "EXECABORT"):
            for queued in replies[1:-1]:
                if queued.__class__ is Error and queued.split(" ", 1)[0] in \
                        REDIRECT_CODES:
                    connection.owner.errorReplied(self, connection, queued)
                    return
        Request.replied(self, connection, execReply)
