# -*- test-case-name: kvtwist.test.test_replyqueue -*-
"""
The ordered reply queue: a connection's replies leave in request order,
whatever order they become ready in.

A reply is ready when its bytes are known.  Most are ready at once and pass
straight through to the connection's writer.  Some are not: a Deferred (a
write waiting for its fsync under C{--fsync always}, C{KEYS} on a big store
computed in a thread) or a large reply rendered off the reactor thread.  From
the first reply that is not ready on, replies wait in the queue, and leave
as soon as every reply before them has.
"""

from collections import deque
from typing import Callable, Deque, List, Optional

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from kvtwist.replies import Error, SetReply

#: Replies with more elements than this (a list or dict) are rendered off
#: the reactor thread when there is a C{runInThread}: C{KEYS *} or C{PRINT}
#: on a big store would otherwise stall every client.
LARGE_REPLY = 10000

#: What a reply that failed to render is answered with.
RENDER_FAILED = Error("ERR internal error")


def isLarge(reply) -> bool:
    """
    Whether C{reply} is a list, set or dict of more than L{LARGE_REPLY} elements
    (rendered off the reactor thread).
    """
    t = reply.__class__
    return (t is list or t is dict or t is SetReply) and \
        len(reply) > LARGE_REPLY


class ReplyQueue:
    """
    One connection's replies, in request order.

    @ivar waiting: the replies waiting behind one that is not ready yet,
        oldest first, as C{[ready, data]} entries; empty when every reply
        so far has been passed on.  Its truth is the cheap test of whether
        a ready reply may go straight out.
    @ivar heavy: how many heavy replies (see L{later}) are not rendered
        yet.
    """

    _log = Logger()

    def __init__(self, send: Callable[[bytes], None],
                 runInThread: Optional[Callable[..., Deferred]] = None,
                 renderError: Callable[[Error], bytes] = None,
                 heavyDone: Optional[Callable[[], None]] = None,
                 emptied: Optional[Callable[[], None]] = None):
        """
        @param send: called with the bytes of each reply whose turn came,
            in request order (the connection's writer).
        @param runInThread: C{runInThread(f, *args) -> Deferred}, to render
            large replies off the reactor thread; L{None} renders them
            inline.
        @param renderError: renders L{RENDER_FAILED} for the connection.
        @param heavyDone: called when the last heavy reply is rendered.
        @param emptied: called when replies that waited have all left.
        """
        self.waiting: Deque[List] = deque()
        self.heavy = 0
        self._send = send
        self._runInThread = runInThread
        self._renderError = renderError
        self._heavyDone = heavyDone
        self._emptied = emptied

    def add(self, data: bytes) -> None:
        """
        A ready reply: send it now if nothing waits, else queue it.
        """
        if self.waiting:
            self.waiting.append([True, data])
        else:
            self._send(data)

    def later(self, reply, render: Callable[[object], bytes],
              heavy: bool = False) -> None:
        """
        A reply that is not ready: a Deferred, or a large reply (see
        L{isLarge}).  Its bytes take their place in the order once C{reply}
        fires and C{render} has made them of it, off the reactor thread if
        it is large.  A C{heavy} one counts in L{heavy} until rendered (the
        connection stops reading meanwhile).
        """
        entry = [False, b""]
        self.waiting.append(entry)
        if heavy:
            self.heavy += 1
        runInThread = self._runInThread

        def rendered(data: bytes) -> None:
            entry[1] = data
            entry[0] = True
            self._drain()
            if heavy:
                self.heavy -= 1
                if not self.heavy and self._heavyDone is not None:
                    self._heavyDone()

        def failed(f) -> None:
            self._log.failure("rendering a reply failed", f)
            rendered(self._renderError(RENDER_FAILED))

        def done(value) -> None:
            if runInThread is not None and isLarge(value):
                runInThread(render, value).addCallbacks(rendered, failed)
                return
            try:
                data = render(value)
            except Exception:
                failed(None)
                return
            rendered(data)

        if not isinstance(reply, Deferred):
            reply = succeed(reply)
        reply.addCallback(done)
        reply.addErrback(lambda f: self._log.failure("reply failed", f))

    def _drain(self) -> None:
        """
        Send the ready replies at the head of the queue.
        """
        waiting = self.waiting
        parts = []
        while waiting and waiting[0][0]:
            parts.append(waiting.popleft()[1])
        if parts:
            self._send(b"".join(parts))
        if not waiting and self._emptied is not None:
            self._emptied()

    def clear(self) -> None:
        """
        Forget every waiting reply (the connection is gone); those still
        to come are dropped when they arrive.
        """
        self.waiting.clear()
        self._send = _dropped
        self._emptied = None


def _dropped(data: bytes) -> None:
    """
    Where the replies of a cleared queue go.
    """
