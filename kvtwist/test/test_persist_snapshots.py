"""
Tests for L{kvtwist.persist.snapshots} and L{kvtwist.persist.fork}: a
snapshot child never shares its file with another, never outlives its
server, and what it wrote is checked before any log is deleted.
"""

import os
import signal
import sys

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.persist import fork
from kvtwist.persist.fork import ParentGone, ProcessForker, dieWithParent
from kvtwist.test.test_persist_service import (
    ServiceTestMixin, SlowForker, capturedEvents, formatted)


def temps(names):
    """
    The temporary files among C{names}.
    """
    return [n for n in names if n.endswith(".tmp")]


class ChildFileTests(ServiceTestMixin, SynchronousTestCase):
    """
    Each snapshot writes a file of its own, checked before it is installed.
    """

    def test_uniqueTemporaryNames(self):
        """
        Two snapshots write two different temporary files, neither of them
        the name an older kvtwist used for every snapshot.
        """
        self.forker = SlowForker()
        store, svc = self.start()
        store.set(b"k", b"v")
        svc.bgsave()
        [first] = temps(self.files())
        self.forker.finished = True
        self.clock.advance(0.05)
        self.forker.finished = False
        svc.bgsave()
        [second] = temps(self.files())
        self.assertNotEqual(first, second)
        self.assertNotIn("kvtwist.snapshot.tmp", (first, second))

    def test_damagedChildFileNotInstalled(self):
        """
        A temporary snapshot that something else wrote over while the child
        ran (say, a child of a server killed with C{kill -9}) fails its
        check: it is not installed, no log is deleted, the error is logged,
        and a restart has every write.
        """
        self.forker = SlowForker()
        store, svc = self.start()
        for i in range(20):
            store.set(b"k%d" % (i,), b"v%d" % (i,))
        self.clock.advance(1)
        logs = self.logPaths()
        svc.bgsave()
        for name in temps(self.files()):
            with open(os.path.join(self.dir, name), "r+b") as f:
                f.seek(-12, os.SEEK_END)
                f.write(b"someone!")
        self.forker.finished = True
        with capturedEvents() as events:
            self.clock.advance(0.05)
        self.assertIn("fails its CRC check", formatted(events))
        self.assertEqual(svc.info()["rdb_last_bgsave_status"], "err")
        self.assertNotIn("kvtwist.snapshot", self.files())
        self.assertEqual(temps(self.files()), [])
        for path in logs:
            self.assertTrue(os.path.exists(path), path)
        store.set(b"after", b"x")
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(store2.size(), 21)
        self.assertEqual(store2.get(b"k19"), b"v19")

    def test_staleFileOfOldNameNeverInstalled(self):
        """
        A C{kvtwist.snapshot.tmp} appearing while a snapshot runs (an
        older server's child still writing) is not what gets installed.
        """
        self.forker = SlowForker()
        store, svc = self.start()
        store.set(b"k", b"new")
        svc.bgsave()
        with open(os.path.join(self.dir, "kvtwist.snapshot.tmp"), "wb") as f:
            f.write(b"KVTWSNAP stale garbage")
        self.forker.finished = True
        self.clock.advance(0.05)
        self.assertEqual(svc.info()["rdb_last_bgsave_status"], "ok")
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(store2.get(b"k"), b"new")


class DieWithParentTests(SynchronousTestCase):
    """
    A snapshot child dies with the server that forked it.
    """

    def test_parentCheck(self):
        """
        L{dieWithParent} raises L{ParentGone} when the parent is not the
        process that forked the child, and asks C{prctl} for C{SIGKILL}
        on the parent's death.
        """
        calls = []

        def prctl(*args):
            calls.append(args)
            return 0

        dieWithParent(os.getppid(), prctl)
        self.assertEqual(calls, [(fork.PR_SET_PDEATHSIG, signal.SIGKILL,
                                  0, 0, 0)])
        self.assertRaises(ParentGone, dieWithParent, os.getpid(), None)

    def test_childKilledWithParent(self):
        """
        On Linux, a child still writing when its server dies is killed
        by the kernel at once, not left running.
        """
        if not sys.platform.startswith("linux"):
            raise self.skipTest("PR_SET_PDEATHSIG is Linux's")
        report, tell = os.pipe()
        middle = os.fork()
        if middle == 0:  # pragma: no cover (the server that dies)
            try:
                os.close(report)
                blocker, _ = os.pipe()
                pid = ProcessForker().start(lambda: os.read(blocker, 1))
                os.write(tell, b"%d\n" % (pid,))
            finally:
                os._exit(0)
        os.close(tell)
        with os.fdopen(report, "rb") as f:
            child = int(f.readline())
        os.waitpid(middle, 0)

        def alive():
            try:
                with open("/proc/%d/stat" % (child,)) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                return False
            return state not in ("Z", "X")

        for _ in range(100000):
            if not alive():
                break
            os.sched_yield()
        self.assertFalse(alive())
