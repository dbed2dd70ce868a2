# -*- test-case-name: kvtwist.test.test_replyqueue -*-
"""
The ordered reply queue: a connection's replies leave in request order,
whatever order they become ready in.

A reply is ready when its bytes are known.  Most are ready at once and pass
straight through to the connection's writer.  Some are not: a Deferred (a
write waiting for its fsync under C{--fsync always}, C{KEYS} on a big store
computed in a thread), a L{kvtwist.replies.Later} (a cluster front end's
reply from a node) or a large reply rendered off the reactor thread.  From
the first reply that is not ready on, replies wait in the queue, and leave
as soon as every reply before them has.
"""

from collections import deque
from typing import Callable, Deque, Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from kvtwist.replies import Error, Later, SetReply

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
        oldest first: the bytes of a ready one, a L{_Later} for one that
        is not; empty when every reply so far has been passed on.  Its
        truth is the cheap test of whether a ready reply may go straight
        out.
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
        self.waiting: Deque = deque()
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
            self.waiting.append(data)
        else:
            self._send(data)

    def later(self, reply, render: Callable[[object], bytes],
              heavy: bool = False) -> None:
        """
        A reply that is not ready: a Deferred, a L{Later}, or a large reply
        (see L{isLarge}).  Its bytes take their place in the order once
        C{reply} fires and C{render} has made them of it, off the reactor
        thread if it is large.  A C{heavy} one counts in L{heavy} until
        rendered (the connection stops reading meanwhile).
        """
        entry = _Later(self, render, heavy)
        self.waiting.append(entry)
        if heavy:
            self.heavy += 1
        if isinstance(reply, Later):
            # A backend's reply that comes later (a cluster front end's,
            # each of them): the entry is its receiver, no Deferred.
            reply.then(entry.done)
        elif isinstance(reply, Deferred):
            # One pair of callbacks, bound methods of the entry.
            reply.addCallbacks(entry.done, entry.failed)
        else:
            entry.done(reply)

    def _drain(self) -> None:
        """
        Send the ready replies at the head of the queue.
        """
        waiting = self.waiting
        parts = []
        while waiting:
            head = waiting[0]
            if head.__class__ is _Later:
                head = head.data
                if head is None:
                    break
            parts.append(head)
            waiting.popleft()
        if parts:
            self._send(parts[0] if len(parts) == 1 else b"".join(parts))
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
    A reply of a L{ReplyQueue} that is not ready yet: its place in the
    queue, and how its bytes are made once its value comes.

    @ivar data: its bytes, or L{None} until they are known.
    """

    __slots__ = ("queue", "data", "render", "heavy")

    def __init__(self, queue: ReplyQueue, render, heavy: bool):
        self.queue = queue
        self.data = None
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
        self.data = data
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
