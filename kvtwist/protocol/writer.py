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

A big reply (L{LARGE} bytes or more: a C{GET} of a 400 MB value) is not
joined to the rest nor written to the transport at once, which would copy
it twice (the transport joins what is written to it) and hold everyone
for as long as the kernel takes to hand over the memory of the copies:
it is I{streamed}, a slice of L{SLICE} bytes at a time while the
transport holds less than that, the next when it drains (the connection
calls L{TurnWriter.drained}).  What is sent meanwhile waits behind it.
"""

from collections import deque
from typing import Callable, Deque, List, Optional

from twisted.logger import Logger


#: A reply this long or longer is streamed (see the module's docstring).
LARGE = 1 << 20

#: How much of a streamed reply is given to the transport at a time.
SLICE = 256 << 10


class EndOfTurn:
    """
    The server's end of each reactor turn: the writers that hold replies
    are sent once the turn's reads are all done, by one zero-delay call
    shared by all of them.

    @ivar clock: the L{IReactorTime} whose zero-delay call ends a turn.
    @ivar due: the writers added this turn, in order (the same list for
        the life of this instance).  While it is not empty, the call that
        ends the turn is set, and appending a writer to it is the same as
        L{add}ing it.
    """

    _log = Logger()

    def __init__(self, clock):
        self.clock = clock
        self.due: List["TurnWriter"] = []
        self._call = None

    def add(self, writer: "TurnWriter") -> None:
        """
        Have C{writer} send what it holds at the end of this turn.
        """
        self.due.append(writer)
        if self._call is None:
            self._call = self.clock.callLater(0, self.run)

    def run(self) -> None:
        """
        The turn ended: every writer added since the last run sends what it
        holds.  A writer that fails is logged and does not stop the rest.
        """
        self._call = None
        due = self.due
        writers = due[:]
        due.clear()
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
    @ivar heldLarge: whether L{held} may hold a piece of L{LARGE} bytes or
        more.  A caller that appends one sets it, so that the piece is
        streamed as it is rather than copied into one joined write first
        (what is held is streamed anyway once joined if it is that big).
    """

    def __init__(self, transport, endOfTurn: EndOfTurn,
                 directSend: Optional[Callable[[bytes], None]] = None,
                 stats=None, pending: Optional[Callable[[], int]] = None):
        """
        @param transport: the connection's transport.
        @param endOfTurn: the server's L{EndOfTurn}.
        @param directSend: a L{kvtwist.transport.directSender} for
            C{transport}, or L{None} to write through the transport at the
            end of each read.
        @param stats: what counts the bytes sent, in its C{netOutput}
            (the server's L{kvtwist.stats.Stats}), or L{None}.
        @param pending: how many bytes the transport holds unsent
            (L{kvtwist.transport.pendingOutput}); L{None}: a streamed reply
            is given to the transport at once, in slices.
        """
        self.held: List[bytes] = []
        self.heldLarge = False
        self._stats = stats
        self._transport = transport
        self._endOfTurn = endOfTurn
        self._due = endOfTurn.due
        self._direct = directSend
        self._waiting = False
        self._discarded = False
        self._pending = pending
        # A streamed reply and what waits behind it, and how much of the
        # first piece was sent; empty when nothing is streamed.
        self._stream: Deque[bytes] = deque()
        self._streamed = 0

    def write(self, data: bytes) -> None:
        """
        Send C{data} after everything written before it: hold it and
        L{release}.
        """
        self.held.append(data)
        if len(data) >= LARGE:
            self.heldLarge = True
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
            due = self._due
            if due:
                # (Added, without the call: the turn's end is set.)
                due.append(self)
            else:
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
            held.clear()
            return
        if self._stream or self.heldLarge:
            pieces = list(held)
            held.clear()
            self.heldLarge = False
            self._streamOut(pieces)
            return
        data = held[0] if len(held) == 1 else b"".join(held)
        # Emptied in place: a caller may hold a reference to the list.
        held.clear()
        if len(data) >= LARGE:
            # Many replies that add up to a big one go a slice at a time
            # too.
            self._streamOut([data])
            return
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
        self.held.clear()
        self.heldLarge = False
        self._stream.clear()

    # -- big replies ---------------------------------------------------------

    def streaming(self) -> bool:
        """
        Whether a big reply is still on its way (L{drained} sends more).
        """
        return bool(self._stream)

    def _streamOut(self, pieces: List[bytes]) -> None:
        """
        Send C{pieces} after what is streaming, a slice at a time.
        """
        self._stream.extend(pieces)
        self.drained()

    def drained(self) -> None:
        """
        The transport sent what it held: give it the next slices of what
        is streaming, until it holds L{SLICE} bytes (it pauses the
        connection, and this is called again once it drained) or all is
        given.
        """
        stream = self._stream
        pending = self._pending
        direct = self._direct
        send = direct if direct is not None else self._transport.write
        stats = self._stats
        while stream and not self._discarded:
            if pending is not None and pending() >= SLICE:
                return
            piece = stream[0]
            start = self._streamed
            if start == 0 and len(piece) <= SLICE:
                data = stream.popleft()
            else:
                # A direct sender takes a view (the kernel copies it);
                # the transport wants bytes.
                data = memoryview(piece)[start:start + SLICE] \
                    if direct is not None else piece[start:start + SLICE]
                if start + SLICE >= len(piece):
                    stream.popleft()
                    self._streamed = 0
                else:
                    self._streamed = start + SLICE
            if stats is not None:
                stats.netOutput += len(data)
            send(data)

    def finish(self) -> None:
        """
        Give the transport everything held and streaming now (the
        connection is closing: the transport sends it all before it
        closes).
        """
        self.flush()
        stream = self._stream
        if stream and not self._discarded:
            first = stream.popleft()
            pieces = [first[self._streamed:]] + list(stream)
            stream.clear()
            self._streamed = 0
            if self._stats is not None:
                self._stats.netOutput += sum(map(len, pieces))
            self._transport.writeSequence(pieces)
