"""
Tests for L{kvtwist.persist.lock}: one server per data directory.
"""

import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.persist.fork import InlineForker
from kvtwist.persist.lock import LOCK_NAME, DataDirInUse, DataDirLock
from kvtwist.persist.service import StoreService
from kvtwist.store import Store
from kvtwist.test.test_persist_service import Runner


class DataDirLockTests(SynchronousTestCase):
    """
    L{DataDirLock} is an exclusive lock naming its holder's PID.
    """

    def setUp(self):
        self.dir = self.mktemp()
        os.makedirs(self.dir)

    def test_secondHolderRefused(self):
        """
        While one lock holds the directory, another is refused with an
        error naming the directory and the holder's PID; once released,
        it can be taken again.
        """
        first = DataDirLock(self.dir)
        first.acquire()
        self.addCleanup(first.release)
        with open(os.path.join(self.dir, LOCK_NAME)) as f:
            self.assertEqual(f.read(), "%d\n" % (os.getpid(),))
        second = DataDirLock(self.dir)
        e = self.assertRaises(DataDirInUse, second.acquire)
        self.assertEqual(e.pid, os.getpid())
        self.assertEqual(
            str(e), "data directory %s is in use by another kvtwist server "
            "(PID %d)" % (self.dir, os.getpid()))
        self.assertFalse(second.held)
        self.assertRaises(DataDirInUse, second.check)
        first.release()
        second.acquire()
        self.assertTrue(second.held)
        second.release()

    def test_checkDoesNotHold(self):
        """
        L{DataDirLock.check} passes on a free directory and leaves it free.
        """
        DataDirLock(self.dir).check()
        lock = DataDirLock(self.dir)
        lock.acquire()
        lock.release()

    def test_unknownPid(self):
        """
        A lock file that names no PID gives "PID unknown".
        """
        first = DataDirLock(self.dir)
        first.acquire()
        self.addCleanup(first.release)
        with open(os.path.join(self.dir, LOCK_NAME), "w") as f:
            f.write("")
        e = self.assertRaises(DataDirInUse, DataDirLock(self.dir).acquire)
        self.assertIsNone(e.pid)
        self.assertIn("PID unknown", str(e))


class ServiceLockTests(SynchronousTestCase):
    """
    The store service holds its directory's lock while it runs.
    """

    def makeService(self, path):
        clock = Clock()
        return StoreService(Store(), path, clock=clock, runInThread=Runner(),
                            forker=InlineForker())

    def test_secondServiceRefused(self):
        """
        A second service on the same directory refuses to start, and
        touches no file: the first one's writes survive its restart.
        """
        path = self.mktemp()
        os.makedirs(path)
        first = self.makeService(path)
        first.startService()
        first.store.set(b"k", b"v")
        second = self.makeService(path)
        before = sorted(os.listdir(path))
        e = self.assertRaises(DataDirInUse, second.startService)
        self.assertIn(path, str(e))
        self.assertFalse(second.running)
        self.assertEqual(sorted(os.listdir(path)), before)
        self.successResultOf(first.stopService())
        third = self.makeService(path)
        third.startService()
        self.assertEqual(third.store.get(b"k"), b"v")
        self.successResultOf(third.stopService())

    def test_makeServiceRefusesInOneLine(self):
        """
        C{twistd kvstore} on a directory another server holds stops before
        daemonizing, with one line naming the directory and the PID.
        """
        from kvtwist.tap import Options, makeTwistdService
        path = os.path.abspath(self.mktemp())
        os.makedirs(path)
        holder = DataDirLock(path)
        holder.acquire()
        self.addCleanup(holder.release)
        options = Options()
        options.parseOptions(["--data-dir", path, "--port",
                              "tcp:0:interface=127.0.0.1"])
        e = self.assertRaises(SystemExit, makeTwistdService, options)
        self.assertEqual(
            str(e), "twistd kvstore: data directory %s is in use by another "
            "kvtwist server (PID %d)" % (path, os.getpid()))
