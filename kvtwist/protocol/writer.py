# -*- test-case-name: kvtwist.test.test_writer -*-
"""
The end-of-turn writer: each connection's replies of a reactor turn leave
in one piece when the turn ends.

Replies pass through two stages on their way out of a connection:

    1. the L{kvtwist.protocol.replies.ReplyQueue} keeps them in request
       order while some wait (for a Deferred, or for rendering elsewhere);
    2. a L{TurnWriter} I{holds} the bytes that are ready to go until the
       end of the reactor turn, when the server's L{EndOfTurn} has every
       writer that holds something send it.

Holding replies to the end of the turn sends each client one write per
turn, after every ready client was read, instead of one per read
interleaved with the reads (as Redis writes its replies before it sleeps):
the other end is woken once, and a pipelining client gets its replies
together.  A writer with a direct sender (L{kvtwist.transport.directSender},
plain TCP and UNIX connections) sends them straight to the socket when the
transport holds nothing; one without (TLS, tests) has no use for holding
and writes to its transport at the end of each read instead.
"""

from typing import Callable, List, Optional

from twisted.logger import Logger


class EndOfTurn:
    """
    The server's end of each reactor turn: the writers that hold replies
    are sent once the turn's reads are all done, by one zero-delay call
    shared by all of them.

    @ivar clock: the L{IReactorTime} whose zero-delay call ends a turn.
    """

    _log = Logger()

    def __init__(self, clock):
        self.clock = clock
        self._writers: List["TurnWriter"] = []
        self._call = None

    def add(self, writer: "TurnWriter") -> None:
        """
        Have C{writer} send what it holds at the end of this turn.
        """
        self._writers.append(writer)
        if self._call is None:
            self._call = self.clock.callLater(0, self.run)

    def run(self) -> None:
        """
        The turn ended: every writer added since the last run sends what it
        holds.  A writer that fails is logged and does not stop the rest.
        """
        self._call = None
        writers, self._writers = self._writers, []
        for writer in writers:
            try:
                writer.flush()
            except Exception:
                self._log.failure("sending replies failed")


class TurnWriter:
    """
    One connection's bytes on their way to its transport.

    Replies are appended to L{held} (by L{write}, or directly by a caller
    that appends many at once and calls L{release} after them); what is
    held leaves in one piece at the end of the reactor turn, or at once
    when there is no direct sender.

    @ivar held: the bytes ready to send and not yet sent, in order.  A
        caller may append to it directly, then must call L{release}.
    """

    def __init__(self, transport, endOfTurn: EndOfTurn,
                 directSend: Optional[Callable[[bytes], None]] = None,
                 stats=None):
        """
        @param transport: the connection's transport.
        @param endOfTurn: the server's L{EndOfTurn}.
        @param directSend: a L{kvtwist.transport.directSender} for
            C{transport}, or L{None} to write through the transport at the
            end of each read.
        @param stats: what counts the bytes sent, in its C{netOutput}
            (the server's L{kvtwist.stats.Stats}), or L{None}.
        """
        self.held: List[bytes] = []
        self._stats = stats
        self._transport = transport
        self._endOfTurn = endOfTurn
        self._direct = directSend
        self._waiting = False
        self._discarded = False

    def write(self, data: bytes) -> None:
        """
        Send C{data} after everything written before it: hold it and
        L{release}.
        """
        self.held.append(data)
        self.release()

    def release(self) -> None:
        """
        What is held may go: with a direct sender, at the end of this turn;
        without one, now.
        """
        if not self.held:
            return
        if self._direct is None:
            self.flush()
        elif not self._waiting:
            self._waiting = True
            self._endOfTurn.add(self)

    def flush(self) -> None:
        """
        Send everything held now (at the end of the turn, or before the
        connection is closed).  Nothing is sent after L{discard}.
        """
        self._waiting = False
        held = self.held
        if not held:
            return
        if self._discarded:
            del held[:]
            return
        data = held[0] if len(held) == 1 else b"".join(held)
        # Emptied in place: a caller may hold a reference to the list.
        del held[:]
        stats = self._stats
        if stats is not None:
            # (Counted here, not through a callback: a call per write.)
            stats.netOutput += len(data)
        if self._direct is not None:
            self._direct(data)
        else:
            self._transport.write(data)

    def discard(self) -> None:
        """
        Drop what is held and send nothing more (the connection is being
        aborted).
        """
        self._discarded = True
        del self.held[:]
