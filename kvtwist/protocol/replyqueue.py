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

from twisted.internet.defer import Deferred
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
        later = _Later(self, entry, render, heavy)
        if isinstance(reply, Deferred):
            # One pair of callbacks, bound methods of one small object: this
            # runs for every reply a backend gives later (a cluster front
            # end's, each of them), and three closures and two callback
            # entries cost as much as the Deferred itself.
            reply.addCallbacks(later.done, later.failed)
        else:
            later.done(reply)

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


class _Later:
    """
    A reply of a L{ReplyQueue} that is not ready yet: its entry in the
    queue, and how its bytes are made once its value comes.
    """

    __slots__ = ("queue", "entry", "render", "heavy")

    def __init__(self, queue: ReplyQueue, entry: List, render, heavy: bool):
        self.queue = queue
        self.entry = entry
        self.render = render
        self.heavy = heavy

    def done(self, value) -> None:
        """
        The value came: render it (off the reactor thread if it is large
        and the queue may), then let it take its place.
        """
        runInThread = self.queue._runInThread
        if runInThread is not None and isLarge(value):
            runInThread(self.render, value).addCallbacks(
                self.rendered, self.renderFailed)
            return
        try:
            data = self.render(value)
        except Exception:
            self.renderFailed(None)
            return
        self.rendered(data)

    def rendered(self, data: bytes) -> None:
        """
        Its bytes are known: send what is ready at the head of the queue.
        """
        entry = self.entry
        entry[1] = data
        entry[0] = True
        queue = self.queue
        try:
            queue._drain()
        except Exception:
            queue._log.failure("sending a reply failed")
        if self.heavy:
            queue.heavy -= 1
            if not queue.heavy and queue._heavyDone is not None:
                try:
                    queue._heavyDone()
                except Exception:
                    queue._log.failure("resuming after heavy replies failed")

    def renderFailed(self, f) -> None:
        """
        Rendering failed: log it, answer the error instead.
        """
        queue = self.queue
        queue._log.failure("rendering a reply failed", f)
        self.rendered(queue._renderError(RENDER_FAILED))

    def failed(self, f) -> None:
        """
        The reply's Deferred failed (a backend must not let it): log it and
        answer an error in its place, so the replies behind it still leave.
        """
        queue = self.queue
        queue._log.failure("reply failed", f)
        self.rendered(queue._renderError(RENDER_FAILED))


def _dropped(data: bytes) -> None:
    """
    Where the replies of a cleared queue go.
    """
