"""
Tests for L{kvtwist.persist.recovery}: from the files of a data directory to
a store and a report, without a service.
"""

import os

from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.persist import files, format, snapshots
from kvtwist.persist.files import FileSystem
from kvtwist.persist.recovery import RecoveryError, recover, tidy
from kvtwist.store import Store


class DataDir:
    """
    Writes the files of a data directory by hand.
    """

    def __init__(self, path: str):
        self.path = path
        os.makedirs(path)

    def log(self, gen: int, *ops: tuple, extra: bytes = b"") -> str:
        """
        Write log generation C{gen} holding C{ops}, one record each, then
        C{extra} bytes.
        """
        path = os.path.join(self.path, files.logName(gen))
        with open(path, "wb") as f:
            f.write(b"".join(format.encodeRecord(op) for op in ops) + extra)
        return path

    def snapshot(self, data: dict, nextGen: int, savedAtMs: int = 0) -> str:
        """
        Write and install a snapshot of C{data} covering the generations
        before C{nextGen}.
        """
        snapshots.writeSnapshot(FileSystem(), self.path, (data, {}),
                                nextGen, savedAtMs, "s.tmp")
        snapshots.installSnapshot(FileSystem(), self.path, "s.tmp", nextGen,
                                  [])
        return os.path.join(self.path, files.SNAPSHOT_NAME)

    def listing(self) -> dict:
        """
        Each file's name and content.
        """
        out = {}
        for name in sorted(os.listdir(self.path)):
            with open(os.path.join(self.path, name), "rb") as f:
                out[name] = f.read()
        return out


class RecoverTests(SynchronousTestCase):
    """
    L{recover} loads the snapshot and replays the logs; it changes nothing
    on disk.
    """

    def setUp(self):
        self.dir = DataDir(self.mktemp())
        self.store = Store()

    def test_empty(self):
        """
        An empty directory recovers to an empty store, at generation 1.
        """
        found = recover(self.store, self.dir.path, FileSystem())
        self.assertEqual(self.store.size(), 0)
        self.assertEqual((found.snapshot, found.nextGen, found.lastGen,
                          found.replayed, found.torn),
                         (None, 1, 0, 0, None))

    def test_snapshotThenLogs(self):
        """
        The snapshot is loaded, the logs after it replayed in order; the
        logs it covers are listed for removal, not replayed.
        """
        covered = self.dir.log(2, (b"SET", b"a", b"old"))
        self.dir.snapshot({b"a": b"1", b"b": b"2"}, nextGen=3,
                          savedAtMs=1700000000000)
        third = self.dir.log(3, (b"SET", b"a", b"3"), (b"DEL", b"b"))
        fourth = self.dir.log(4, (b"SET", b"c", b"4"))
        found = recover(self.store, self.dir.path, FileSystem())
        self.assertEqual(self.store.get(b"a"), b"3")
        self.assertIsNone(self.store.get(b"b"))
        self.assertEqual(self.store.get(b"c"), b"4")
        self.assertEqual(found.nextGen, 3)
        self.assertEqual(found.lastGen, 4)
        self.assertEqual(found.savedAtMs, 1700000000000)
        self.assertEqual(found.replayed, 3)
        self.assertEqual([(g, p) for g, p, _ in found.live],
                         [(3, third), (4, fourth)])
        self.assertEqual(found.remove, [covered])

    def test_refusalChangesNothing(self):
        """
        A corrupt record in the middle refuses, naming file and offset,
        and leaves every file as it was (temporary files included).
        """
        first = format.encodeRecord((b"SET", b"a", b"1"))
        bad = bytearray(format.encodeRecord((b"SET", b"b", b"2")))
        bad[-1] ^= 0xFF
        path = self.dir.log(1, extra=first + bytes(bad)
                            + format.encodeRecord((b"SET", b"c", b"3")))
        with open(os.path.join(self.dir.path, "kvtwist.x.tmp"), "wb") as f:
            f.write(b"half")
        before = self.dir.listing()
        e = self.assertRaises(RecoveryError, recover, self.store,
                              self.dir.path, FileSystem())
        self.assertIn(path, str(e))
        self.assertIn("at byte %d" % (len(first),), str(e))
        self.assertEqual(self.dir.listing(), before)

    def test_tornTailReportedThenTidied(self):
        """
        A torn last record is reported, not cut off, by L{recover};
        L{tidy} cuts it off and removes the temporary files.
        """
        good = format.encodeRecord((b"SET", b"a", b"1"))
        torn = format.encodeRecord((b"SET", b"b", b"2"))[:-2]
        path = self.dir.log(1, extra=good + torn)
        tmp = os.path.join(self.dir.path, "kvtwist.x.tmp")
        with open(tmp, "wb") as f:
            f.write(b"half")
        found = recover(self.store, self.dir.path, FileSystem())
        self.assertEqual(self.store.get(b"a"), b"1")
        self.assertEqual((found.torn.path, found.torn.offset, found.tornBytes),
                         (path, len(good), len(torn)))
        self.assertEqual(os.path.getsize(path), len(good) + len(torn))
        tidy(FileSystem(), found, Logger())
        self.assertEqual(os.path.getsize(path), len(good))
        self.assertFalse(os.path.exists(tmp))
