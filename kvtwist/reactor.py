# -*- test-case-name: kvtwist.test.test_reactor -*-
"""
Twisted's epoll reactor with a cheaper dispatch of each readiness event.

For every event it reports, Twisted's epoll reactor calls
L{twisted.python.log.callWithLogger}: it asks the selectable for its log
prefix, copies the legacy log context, pushes a new one through the
thread-local context tracker, and catches whatever escapes.  On CPython
that costs about 1.3 microseconds per event, and an unpipelined client
causes one event per request: a tenth of what kvtwist spends on a request.

L{KVReactor} keeps what that wrapper provides, the legacy log context
(C{system} is the connection's log prefix) and the last-resort logging of
exceptions, but for accepted TCP and UNIX connections, whose log prefix is
fixed when they are made, it builds that context once per connection and
pushes it with a list append.  Every other selectable (listening ports, the
waker, outgoing connections) goes through C{callWithLogger} as before.

C{twistd kvstore} installs it unless a reactor is already installed (any
C{twistd --reactor} choice) or C{--stock-reactor} is given; it is also
C{twistd --reactor kvepoll} for other applications.  Only where C{epoll}
exists (Linux).
"""

import errno
import sys

from twisted.python import context, log

try:
    from twisted.internet.epollreactor import EPollReactor
except ImportError:  # pragma: no cover - platforms without epoll
    EPollReactor = None


def _fixedPrefixKinds() -> tuple:
    """
    The selectable classes whose log prefix never changes once made.
    """
    from twisted.internet import tcp
    kinds = [tcp.Server]
    try:
        from twisted.internet import unix
    except ImportError:  # pragma: no cover - platforms without UNIX sockets
        pass
    else:
        kinds.append(unix.Server)
    return tuple(kinds)


def available() -> bool:
    """
    Whether L{KVReactor} can run here.
    """
    return EPollReactor is not None


if EPollReactor is not None:

    class KVReactor(EPollReactor):
        """
        An epoll reactor that dispatches events of accepted connections
        without L{log.callWithLogger}'s per-event cost (see the module).
        """

        #: The attribute of a connection holding its log context.
        _CONTEXT = "_kvtwistLogContext"

        def __init__(self):
            EPollReactor.__init__(self)
            self._fixedPrefix = _fixedPrefixKinds()

        def _logContext(self, selectable) -> dict:
            """
            The context C{callWithLogger} would push for C{selectable},
            made once and kept on it.
            """
            ctx = selectable.__dict__.get(self._CONTEXT)
            if ctx is None:
                logContext = context.get(log.ILogContext).copy()
                logContext["system"] = selectable.logPrefix()
                ctx = {log.ILogContext: logContext}
                setattr(selectable, self._CONTEXT, ctx)
            return ctx

        def doPoll(self, timeout):
            """
            Poll for events and dispatch them.
            """
            if timeout is None:
                timeout = -1
            try:
                events = self._poller.poll(timeout, len(self._selectables))
            except OSError as e:
                if e.errno == errno.EINTR:
                    return
                raise
            dispatch = self._doReadOrWrite
            selectables = self._selectables
            tracker = context.theContextTracker
            if type(tracker) is context.ThreadedContextTracker:
                stack = tracker.currentContext().contexts
                fixed = self._fixedPrefix
            else:
                # Someone installed another context tracker: only
                # callWithLogger knows how to use it.
                stack = None
                fixed = ()
            for fd, event in events:
                selectable = selectables.get(fd)
                if selectable is None:
                    continue
                if selectable.__class__ not in fixed:
                    log.callWithLogger(selectable, dispatch,
                                       selectable, fd, event)
                    continue
                ctx = self._logContext(selectable)
                stack.append(ctx)
                try:
                    dispatch(selectable, fd, event)
                except KeyboardInterrupt:
                    raise
                except BaseException:
                    # Logged in the connection's context, still pushed.
                    log.err()
                finally:
                    del stack[-1]

        doIteration = doPoll


def install():
    """
    Install L{KVReactor} as the global reactor.

    @raise ImportError: where epoll isn't available.
    """
    if EPollReactor is None:
        raise ImportError("kvtwist's reactor needs epoll")
    from twisted.internet.main import installReactor
    reactor = KVReactor()
    installReactor(reactor)
    return reactor


def installIfNone():
    """
    Install L{KVReactor} unless a reactor is already installed or epoll is
    missing.

    @return: the reactor installed, or L{None}.
    """
    if "twisted.internet.reactor" in sys.modules or not available():
        return None
    return install()
