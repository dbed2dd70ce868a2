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
exceptions, but for accepted TCP and UNIX connections and outgoing TCP ones
it makes that context with one dict copy and pushes it with a list append:
about a sixth of the cost.  Every other selectable (listening ports, the
waker) goes through C{callWithLogger} as before.

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


def _acceptedKinds() -> tuple:
    """
    The selectable classes dispatched without C{callWithLogger}: accepted
    connections, the bulk of the events, and outgoing TCP connections (a
    cluster front end's connections to its nodes).
    """
    from twisted.internet import tcp
    kinds = [tcp.Server, tcp.Client]
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

        def __init__(self):
            EPollReactor.__init__(self)
            self._accepted = _acceptedKinds()

        def doPoll(self, timeout):
            """
            Poll for events and dispatch them.

            An accepted connection's event runs in the legacy log context
            C{callWithLogger} would give it: a copy of the context this
            poll runs in, with the connection's log prefix as C{system}.
            It is made with a dict copy and pushed with a list append on
            the context tracker's stack, instead of through the tracker's
            thread-local lookups; C{callWithLogger}'s last-resort logging
            of exceptions is kept.  The rest goes through
            C{callWithLogger}, and so does everything when another context
            tracker is installed (only it knows how to use that one).
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
            callWithLogger = log.callWithLogger
            ILogContext = log.ILogContext
            tracker = context.theContextTracker
            accepted = ()
            if type(tracker) is context.ThreadedContextTracker:
                stack = tracker.currentContext().contexts
                base = tracker.getContext(ILogContext)
                if type(base) is dict:
                    accepted = self._accepted
            for fd, event in events:
                selectable = selectables.get(fd)
                if selectable is None:
                    continue
                if selectable.__class__ not in accepted:
                    callWithLogger(selectable, dispatch, selectable, fd, event)
                    continue
                try:
                    system = selectable.logPrefix()
                except Exception:
                    # callWithLogger knows what to say about that.
                    callWithLogger(selectable, dispatch, selectable, fd, event)
                    continue
                logContext = base.copy()
                logContext["system"] = system
                stack.append({ILogContext: logContext})
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

    @return: the reactor installed.
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
