"""
Tests for L{kvtwist.reactor}: its dispatch gives every event the legacy log
context and the exception logging Twisted's epoll reactor gives it.

The reactors made here are never run: a fake poller hands them events.
"""

from typing import Optional

from twisted.internet import tcp
from twisted.python import context, log
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from kvtwist import reactor as kvreactor

PREFIX = "KVProtocol,7,127.0.0.1"


class FakePoller:
    """
    Hands out the events it is given, once.
    """

    def __init__(self):
        self.events = []
        self.timeouts = []

    def poll(self, timeout, maxEvents):
        self.timeouts.append(timeout)
        events, self.events = self.events, []
        return events

    def close(self):
        pass


def fakeServer(doRead, fileno: int = 7, kind=tcp.Server):
    """
    An accepted connection (a C{tcp.Server} or C{unix.Server}), as the
    reactor sees one, without a socket: the class is what decides the
    dispatch, so it is the real one.
    """
    server = kind.__new__(kind)
    server.logstr = PREFIX
    server.fileno = lambda: fileno
    server.doRead = doRead
    return server


class Other:
    """
    A selectable of some other kind (a listening port, say).
    """

    def __init__(self, doRead):
        self.doRead = doRead

    def logPrefix(self):
        return "Other"

    def fileno(self):
        return 8


class DispatchTests(SynchronousTestCase):
    """
    L{kvreactor.KVReactor}'s dispatch of events, from a fake poller.
    """

    def setUp(self):
        if not kvreactor.available():
            raise SkipTest("no epoll here")
        self.reactor = kvreactor.KVReactor()
        self.addCleanup(self._closeReactor)
        self.poller = FakePoller()
        self.realPoller, self.reactor._poller = self.reactor._poller, \
            self.poller
        self.disconnected = []
        self.reactor._disconnectSelectable = \
            lambda selectable, why, isRead: self.disconnected.append(
                (selectable, why, isRead))
        self.logged = []
        log.addObserver(self.logged.append)
        self.addCleanup(log.removeObserver, self.logged.append)

    def _closeReactor(self):
        waker = self.reactor.waker
        if waker is not None:
            waker.connectionLost(None)
        self.realPoller.close()

    def dispatch(self, selectable, fd: int = 7, event: Optional[int] = None):
        """
        Register C{selectable} on C{fd} and run one iteration of the
        reactor (C{doIteration}, as its main loop does) that reports
        C{event} (a read by default) for it.
        """
        if event is None:
            event = self.reactor._POLL_IN
        self.reactor._selectables[fd] = selectable
        self.poller.events.append((fd, event))
        self.reactor.doIteration(0)

    def contextDepth(self) -> int:
        """
        How many contexts this thread's context tracker holds.
        """
        return len(context.theContextTracker.currentContext().contexts)

    def test_systemIsTheConnection(self):
        """
        While a connection reads, the legacy log context's C{system} is its
        log prefix, as under C{callWithLogger}; afterwards the context is
        as it was.
        """
        seen = []
        depth = self.contextDepth()
        server = fakeServer(
            lambda: seen.append(context.get(log.ILogContext)["system"]))
        self.dispatch(server)
        self.dispatch(server)
        self.assertEqual(seen, [PREFIX, PREFIX])
        self.assertEqual(self.contextDepth(), depth)
        self.assertEqual(context.get(log.ILogContext)["system"], "-")

    def test_unixConnections(self):
        """
        Accepted UNIX connections get the same treatment.
        """
        try:
            from twisted.internet import unix
        except ImportError:
            raise SkipTest("no UNIX sockets here")
        seen = []
        self.patch(log, "callWithLogger", None)
        self.dispatch(fakeServer(
            lambda: seen.append(context.get(log.ILogContext)["system"]),
            kind=unix.Server))
        self.assertEqual(seen, [PREFIX])

    def test_outgoingConnections(self):
        """
        Outgoing TCP connections (a cluster front end's, to its nodes) get
        the same treatment.
        """
        seen = []
        self.patch(log, "callWithLogger", None)
        self.dispatch(fakeServer(
            lambda: seen.append(context.get(log.ILogContext)["system"]),
            kind=tcp.Client))
        self.assertEqual(seen, [PREFIX])

    def test_outerContextKept(self):
        """
        The context of an event is the one the poll runs in, plus the
        connection's C{system}, made afresh for every event: what one
        event does to it is gone by the next.
        """
        seen = []

        def doRead():
            ctx = context.get(log.ILogContext)
            seen.append(dict(ctx))
            ctx["scribbled"] = True
        server = fakeServer(doRead)
        self.reactor._selectables[7] = server
        for _ in range(2):
            self.poller.events.append((7, self.reactor._POLL_IN))
            context.call({log.ILogContext: {"system": "outer", "extra": 1}},
                         self.reactor.doIteration, 0)
        expected = {"system": PREFIX, "extra": 1}
        self.assertEqual(seen, [expected, expected])

    def test_buggyLogPrefix(self):
        """
        A connection whose C{logPrefix} fails is still dispatched, the way
        C{callWithLogger} does it (it logs the failure).
        """
        reads = []
        server = fakeServer(lambda: reads.append(1))
        server.logPrefix = lambda: 1 / 0
        self.dispatch(server)
        self.assertEqual(reads, [1])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_legacyMessagesCarryTheSystem(self):
        """
        A legacy C{log.msg} while reading is logged with the connection's
        prefix as C{system}.
        """
        self.dispatch(fakeServer(lambda: log.msg("hello")))
        [event] = [e for e in self.logged if e.get("message") == ("hello",)]
        self.assertEqual(event["system"], PREFIX)

    def test_readErrorLoggedAndDisconnects(self):
        """
        An exception from C{doRead} is logged with the connection's prefix
        and disconnects it; the next event is still dispatched.
        """
        def boom():
            raise ZeroDivisionError("read")
        server = fakeServer(boom)
        reads = []
        other = fakeServer(lambda: reads.append(1), fileno=9)
        self.reactor._selectables[9] = other
        self.poller.events.append((9, self.reactor._POLL_IN))
        self.dispatch(server)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        [event] = [e for e in self.logged if e.get("isError")]
        self.assertEqual(event["system"], PREFIX)
        [(selectable, why, isRead)] = self.disconnected
        self.assertIs(selectable, server)
        self.assertIsInstance(why, ZeroDivisionError)
        self.assertEqual(reads, [1])

    def test_escapingErrorLogged(self):
        """
        An exception escaping the dispatch itself (here, from the
        disconnection) is logged with the connection's prefix, as
        C{callWithLogger} does, and doesn't stop the reactor's loop.
        """
        def failingDisconnect(selectable, why, isRead):
            raise ValueError("disconnect")
        self.reactor._disconnectSelectable = failingDisconnect
        depth = self.contextDepth()

        def boom():
            raise ZeroDivisionError("read")
        self.dispatch(fakeServer(boom))
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
        systems = [e["system"] for e in self.logged if e.get("isError")]
        self.assertEqual(systems, [PREFIX, PREFIX])
        self.assertEqual(self.contextDepth(), depth)

    def test_systemExitLogged(self):
        """
        C{SystemExit} from a dispatch is logged and swallowed, as
        C{callWithLogger} does.
        """
        def exit(selectable, fd, event):
            raise SystemExit(3)
        self.reactor._doReadOrWrite = exit
        self.dispatch(fakeServer(lambda: None))
        self.assertEqual(len(self.flushLoggedErrors(SystemExit)), 1)

    def test_keyboardInterruptPropagates(self):
        """
        C{KeyboardInterrupt} isn't swallowed, and the context is restored.
        """
        def interrupt():
            raise KeyboardInterrupt()
        self.reactor._doReadOrWrite = lambda s, fd, event: interrupt()
        depth = self.contextDepth()
        self.assertRaises(KeyboardInterrupt, self.dispatch,
                          fakeServer(lambda: None))
        self.assertEqual(self.contextDepth(), depth)

    def test_otherSelectablesUseCallWithLogger(self):
        """
        Selectables other than accepted connections get the usual
        C{callWithLogger} treatment, and nothing is kept on them.
        """
        calls = []
        self.patch(log, "callWithLogger",
                   lambda logger, f, *a: calls.append(logger) or f(*a))
        seen = []
        other = Other(lambda: seen.append(1))
        self.dispatch(other, fd=8)
        self.assertEqual((calls, seen), ([other], [1]))
        self.dispatch(fakeServer(lambda: None))
        self.assertEqual(calls, [other])

    def test_otherContextTracker(self):
        """
        With another context tracker installed, every event goes through
        C{callWithLogger}, which knows how to use it.
        """
        class Tracker(context.ThreadedContextTracker):
            pass
        self.patch(context, "theContextTracker", Tracker())
        calls = []
        self.patch(log, "callWithLogger",
                   lambda logger, f, *a: calls.append(logger) or f(*a))
        server = fakeServer(lambda: None)
        self.dispatch(server)
        self.assertEqual(calls, [server])

    def test_unknownDescriptorSkipped(self):
        """
        An event for a descriptor no longer registered is ignored.
        """
        reads = []
        self.reactor._selectables[7] = fakeServer(lambda: reads.append(1))
        self.poller.events[:] = [(99, self.reactor._POLL_IN),
                                 (7, self.reactor._POLL_IN)]
        self.reactor.doIteration(0)
        self.assertEqual(reads, [1])

    def test_timeout(self):
        """
        No timeout means wait for ever (C{-1}); a timeout is passed on.
        """
        self.reactor.doIteration(None)
        self.reactor.doIteration(0.5)
        self.assertEqual(self.poller.timeouts, [-1, 0.5])


class InstallTests(SynchronousTestCase):
    """
    Installing L{kvreactor.KVReactor}.
    """

    def test_notOverAnInstalledReactor(self):
        """
        L{kvreactor.installIfNone} leaves an installed reactor alone (here,
        trial's).
        """
        from twisted.internet import reactor
        self.assertIsNone(kvreactor.installIfNone())
        from twisted.internet import reactor as after
        self.assertIs(after, reactor)
