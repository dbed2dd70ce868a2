"""
Tests for L{kvtwist.services}: the listeners, and the top of the tree.
"""

import errno
import os

from twisted.application.service import Service
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import Factory
from twisted.internet.testing import MemoryReactor, MemoryReactorClock
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from kvtwist import idlegc
from kvtwist.services import (NOT_STARTED, KVService, ListenerService,
                              StartupError)
from kvtwist.startup import Reporter


class RefusingReactor(MemoryReactor):
    """
    A L{MemoryReactor} whose TCP listens fail with C{errno}.
    """

    def __init__(self, code):
        MemoryReactor.__init__(self)
        self.code = code

    def listenTCP(self, port, factory, backlog=50, interface=""):
        raise CannotListenError(interface, port,
                                OSError(self.code, "refused"))


class ListenerServiceTests(SynchronousTestCase):
    """
    L{ListenerService}.
    """

    def observe(self):
        """
        Collect the log events published from now on.
        """
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        return events

    def test_logsWhere(self):
        """
        Once listening, it logs the address it got: for port 0, the port
        the kernel chose.
        """
        events = self.observe()
        reactor = MemoryReactor()
        svc = ListenerService("tcp:0:interface=127.0.0.1",
                              Factory(), reactor)
        svc.privilegedStartService()
        self.assertEqual(reactor.tcpServers[0][0], 0)
        said = [e for e in events if e.get("label") == "Server"]
        self.assertEqual(len(said), 1)
        self.assertEqual(said[0]["log_format"],
                         "{label} listening on {where}")
        self.assertTrue(said[0]["where"].startswith("0.0.0.0:"))

    def test_cannotListen(self):
        """
        A port that can't be had is a L{StartupError} for people, short
        enough for twistd to report whole from a daemon.
        """
        svc = ListenerService("tcp:3490:interface=127.0.0.1", Factory(),
                              RefusingReactor(errno.EADDRINUSE),
                              label="Web interface")
        e = self.assertRaises(StartupError, svc.privilegedStartService)
        self.assertEqual(str(e), "Web interface: port 3490 on 127.0.0.1 is "
                         "already in use (another kvtwist or Redis?): stop "
                         "it, or choose another port")


class Failing(Service):
    """
    A service whose start fails with a L{StartupError}.
    """

    def __init__(self, privileged):
        self.privileged = privileged

    def privilegedStartService(self):
        if self.privileged:
            raise StartupError("the data directory is locked")

    def startService(self):
        if not self.privileged:
            raise StartupError("the data directory is locked")


class KVServiceStartTests(SynchronousTestCase):
    """
    L{KVService} logs a L{StartupError} of a child as it starts.
    """

    def check(self, privileged):
        """
        A child failing to start, in either step, is logged as critical
        and the error reaches twistd.
        """
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        top = KVService()
        Failing(privileged).setServiceParent(top)
        start = (top.privilegedStartService if privileged
                 else top.startService)
        self.assertRaises(StartupError, start)
        critical = [e for e in events
                    if e.get("log_level") == LogLevel.critical]
        self.assertEqual([str(e["error"]) for e in critical],
                         ["the data directory is locked"])

    def test_privileged(self):
        """
        In C{privilegedStartService}.
        """
        self.check(True)

    def test_start(self):
        """
        In C{startService}.
        """
        self.check(False)


class FreezeHeapTests(SynchronousTestCase):
    """
    A server's tree freezes its heap once the reactor runs; others don't.
    """

    def start(self, freeze):
        reactor = MemoryReactor()
        top = KVService()
        top.reactor = reactor
        top.freezeHeap = freeze
        Service().setServiceParent(top)
        top.startService()
        return reactor

    def test_freezes(self):
        """
        With C{freezeHeap}, L{idlegc.freezeHeap} is called when the reactor
        runs (not before: the reactor's own start makes objects too).
        """
        reactor = self.start(True)
        self.assertEqual([f for f, _, _ in reactor.whenRunningHooks],
                         [idlegc.freezeHeap])

    def test_notByDefault(self):
        """
        Without it (a test's tree), nothing is frozen.
        """
        self.assertEqual(self.start(False).whenRunningHooks, [])

    def test_makeServiceFreezes(self):
        """
        The plugin's tree is a server's.
        """
        from kvtwist import tap
        self.assertTrue(tap.KVService().freezeHeap is False)
        options = tap.Options()
        options.parseOptions(["--port", "tcp:0", "--data-dir",
                              self.mktemp()])
        top = tap.makeService(options, MemoryReactorClock())
        self.assertTrue(top.freezeHeap)


class ExitStatusTests(SynchronousTestCase):
    """
    L{KVService} turns a clean signal shutdown into exit status 0.
    """

    def stop(self, cleanly):
        """
        Stop a L{KVService} whose store service stopped C{cleanly}, with a
        reactor that was stopped by SIGTERM.
        """
        class FakeReactor:
            _exitSignal = 15

        class FakeStore:
            stoppedCleanly = cleanly

        top = KVService()
        top.reactor = FakeReactor()
        top.storeService = FakeStore()
        top.startService()
        self.successResultOf(top.stopService())
        return top.reactor._exitSignal

    def test_cleanExitsZero(self):
        """
        After a clean final flush, the signal is forgotten: exit 0.
        """
        self.assertIsNone(self.stop(True))

    def test_uncleanKeepsSignal(self):
        """
        If the flush did not finish, twistd exits with the signal status.
        """
        self.assertEqual(self.stop(False), 15)



class BrokenReactor(MemoryReactor):
    """
    A L{MemoryReactor} whose UNIX listens fail as a missing directory
    makes them fail.
    """

    def listenUNIX(self, address, factory, backlog=50, mode=0o666,
                   wantPID=0):
        raise FileNotFoundError(2, "No such file or directory")


class ListenerOSErrorTests(SynchronousTestCase):
    """
    L{ListenerService} and listens that fail with other errors.
    """

    def test_unixDirectoryMissing(self):
        """
        An L{OSError} while listening is a L{StartupError} naming the
        endpoint.
        """
        svc = ListenerService("unix:/nonexistent/kv.sock", Factory(),
                              BrokenReactor())
        e = self.assertRaises(StartupError, svc.privilegedStartService)
        self.assertEqual(str(e), "Server: can't listen on "
                         "unix:/nonexistent/kv.sock: No such file or "
                         "directory")


class FakeSys:
    """
    A stand-in for L{sys} whose C{excepthook} records what it would
    print.
    """

    def __init__(self, printed):
        self.excepthook = lambda kind, value, tb: printed.append(value)


class ReporterTests(SynchronousTestCase):
    """
    A L{StartupError} raised as the tree starts is told whole on the
    standard error kept from before twistd daemonized (L{Reporter}).
    """

    def setUp(self):
        self.read, write = os.pipe()
        self.addCleanup(os.close, self.read)
        self.printed = []
        self.hooks = FakeSys(self.printed)
        self.reporter = Reporter(write, hooks=self.hooks)

    def told(self) -> bytes:
        """
        What the reporter wrote, once it closed.
        """
        self.assertIsNone(self.reporter.fd)
        return os.read(self.read, 4096)

    def test_startFails(self):
        """
        The whole message goes to the reporter, which closes; twistd gets
        a short error (it reports only 100 bytes of it from a daemon).
        """
        top = KVService()
        top.reporter = self.reporter
        Failing(privileged=False).setServiceParent(top)
        e = self.assertRaises(StartupError, top.startService)
        self.assertEqual(str(e), NOT_STARTED)
        self.assertLess(len("kvtwist.startup.StartupError: " + str(e)), 98)
        self.assertEqual(self.told(), b"twistd kvstore: the data directory "
                         b"is locked\n")
        # twistd lets it go up to the interpreter: no traceback after the
        # message; any other exception is still printed.
        self.hooks.excepthook(StartupError, e, None)
        self.assertEqual(self.printed, [])
        other = StartupError(NOT_STARTED)
        self.hooks.excepthook(StartupError, other, None)
        self.assertEqual(self.printed, [other])

    def test_startSucceeds(self):
        """
        Once the tree has started, the reporter is let go: a daemon holds
        no copy of the terminal.
        """
        top = KVService()
        top.reporter = self.reporter
        Service().setServiceParent(top)
        top.privilegedStartService()
        self.assertIsNotNone(self.reporter.fd)
        top.startService()
        self.assertEqual(self.told(), b"")
        top.stopService()

    def test_persistenceRefusals(self):
        """
        The store's refusals to start are startup errors.
        """
        from kvtwist.persist import DataDirInUse, RecoveryError
        self.assertTrue(issubclass(RecoveryError, StartupError))
        self.assertTrue(issubclass(DataDirInUse, StartupError))
        self.reporter.close()
