"""
Tests for L{kvtwist.persist.recovery}: from the files of a data directory to
a store and a report, without a service.
"""

import os

from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.persist import files, format, snapfile, snapshots
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

    def log(self, gen: int, *ops: tuple, extra: bytes = b"",
            header: bool = True) -> str:
        """
        Write log generation C{gen}: its header (unless not C{header}),
        C{ops}, one record each, then C{extra} bytes.
        """
        path = os.path.join(self.path, files.logName(gen))
        with open(path, "wb") as f:
            f.write((format.logHeader(gen) if header else b"")
                    + b"".join(format.encodeRecord(op) for op in ops) + extra)
        return path

    def manifest(self, base: int, last: int) -> str:
        """
        Write the manifest.
        """
        files.writeManifest(FileSystem(), self.path,
                            snapfile.Manifest(base, last))
        return os.path.join(self.path, files.MANIFEST_NAME)

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
        self.dir.manifest(3, 4)
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
        self.dir.manifest(1, 1)
        with open(os.path.join(self.dir.path, "kvtwist.x.tmp"), "wb") as f:
            f.write(b"half")
        before = self.dir.listing()
        e = self.assertRaises(RecoveryError, recover, self.store,
                              self.dir.path, FileSystem())
        self.assertIn(path, str(e))
        self.assertIn("at byte %d" % (format.LOG_HEADER_SIZE + len(first),),
                      str(e))
        self.assertEqual(self.dir.listing(), before)

    def test_tornTailReportedThenTidied(self):
        """
        A torn last record is reported, not cut off, by L{recover};
        L{tidy} cuts it off and removes the temporary files.
        """
        good = format.encodeRecord((b"SET", b"a", b"1"))
        torn = format.encodeRecord((b"SET", b"b", b"2"))[:-2]
        path = self.dir.log(1, extra=good + torn)
        self.dir.manifest(1, 1)
        tmp = os.path.join(self.dir.path, "kvtwist.x.tmp")
        with open(tmp, "wb") as f:
            f.write(b"half")
        found = recover(self.store, self.dir.path, FileSystem())
        self.assertEqual(self.store.get(b"a"), b"1")
        head = format.LOG_HEADER_SIZE
        self.assertEqual((found.torn.path, found.torn.offset, found.tornBytes),
                         (path, head + len(good), len(torn)))
        self.assertEqual(os.path.getsize(path), head + len(good) + len(torn))
        tidy(FileSystem(), found, Logger())
        self.assertEqual(os.path.getsize(path), head + len(good))
        self.assertFalse(os.path.exists(tmp))


class ChainTests(SynchronousTestCase):
    """
    The snapshot, the manifest and the logs must form an unbroken chain:
    anything missing, emptied, damaged or out of place refuses to start,
    naming the file, and changes nothing; with C{salvage}, what can be read
    is loaded and the problems are reported.
    """

    def setUp(self):
        self.dir = DataDir(self.mktemp())
        self.dir.snapshot({b"snap": b"1"}, nextGen=3)
        self.dir.manifest(3, 5)
        self.paths = [self.dir.log(3, (b"SET", b"a", b"3")),
                      self.dir.log(4, (b"SET", b"b", b"4")),
                      self.dir.log(5, (b"SET", b"c", b"5"))]

    def refused(self, *words):
        """
        Recovery refuses, saying C{words} and how to start anyway; no file
        changed.
        """
        before = self.dir.listing()
        e = self.assertRaises(RecoveryError, recover, Store(), self.dir.path,
                              FileSystem())
        for word in words:
            self.assertIn(word, str(e))
        self.assertIn("--load-damaged", str(e))
        self.assertEqual(self.dir.listing(), before)
        return e

    def salvaged(self):
        """
        With C{salvage}, the store loaded and the report.
        """
        store = Store()
        found = recover(store, self.dir.path, FileSystem(), salvage=True)
        self.assertNotEqual(found.problems, [])
        return store, found

    def test_intact(self):
        """
        The chain as written recovers every key.
        """
        store = Store()
        found = recover(store, self.dir.path, FileSystem())
        self.assertEqual(sorted(store.keys()), [b"a", b"b", b"c", b"snap"])
        self.assertEqual((found.lastGen, found.problems), (5, []))

    def test_middleMissing(self):
        """
        A generation missing between others refuses, naming it.
        """
        os.remove(self.paths[1])
        self.refused("generation 4", self.paths[1], "missing")
        store, found = self.salvaged()
        self.assertEqual(sorted(store.keys()), [b"a", b"c", b"snap"])

    def test_newestMissing(self):
        """
        The newest generation missing is noticed too (the manifest names
        it).
        """
        os.remove(self.paths[2])
        self.refused("generation 5", "missing")

    def test_firstAfterSnapshotMissing(self):
        """
        The first generation after the snapshot missing refuses.
        """
        os.remove(self.paths[0])
        self.refused("generation 3", "missing")

    def test_snapshotDeleted(self):
        """
        A deleted snapshot refuses, naming it; salvage loads the logs.
        """
        os.remove(os.path.join(self.dir.path, "kvtwist.snapshot"))
        self.refused("kvtwist.snapshot is missing")
        store, found = self.salvaged()
        self.assertEqual(sorted(store.keys()), [b"a", b"b", b"c"])

    def test_logEmptied(self):
        """
        An emptied log refuses: its header is missing.
        """
        open(self.paths[1], "wb").close()
        self.refused(self.paths[1], "empty")

    def test_newestEmptied(self):
        """
        Even the newest log emptied refuses: no crash leaves a log without
        its header (it is created under a temporary name).
        """
        open(self.paths[2], "wb").close()
        self.refused(self.paths[2], "empty")

    def test_reordered(self):
        """
        Two logs that swapped names refuse: each header names its own
        generation.
        """
        tmp = self.paths[0] + ".x"
        os.rename(self.paths[0], tmp)
        os.rename(self.paths[1], self.paths[0])
        os.rename(tmp, self.paths[1])
        self.refused(self.paths[0], "holds generation 4, not 3")

    def test_manifestDeleted(self):
        """
        Logs of format 2 without the manifest refuse.
        """
        os.remove(os.path.join(self.dir.path, "kvtwist.manifest"))
        self.refused("kvtwist.manifest is missing")

    def test_manifestDamaged(self):
        """
        A damaged manifest refuses, naming it.
        """
        path = os.path.join(self.dir.path, "kvtwist.manifest")
        with open(path, "r+b") as f:
            f.seek(9)
            f.write(b"\xff")
        self.refused(path, "damaged")

    def test_olderSnapshot(self):
        """
        A snapshot older than the manifest says (an old copy put back)
        refuses.
        """
        self.dir.snapshot({b"old": b"1"}, nextGen=2)
        self.refused("older than the one the manifest names")

    def test_newestCreatedNotRenamed(self):
        """
        The newest generation named by the manifest, still under its
        temporary name (the server stopped while creating it), held
        nothing: it is not missing.
        """
        os.rename(self.paths[2], self.paths[2] + ".tmp")
        with open(self.paths[2] + ".tmp", "wb") as f:
            f.write(format.logHeader(5))
        found = recover(Store(), self.dir.path, FileSystem())
        self.assertEqual(found.lastGen, 4)

    def test_flippedLengthInLastLog(self):
        """
        A flipped bit in a record's length in the last log refuses to
        start, naming the file and the offset, and truncates nothing.
        """
        records = b"".join(format.encodeRecord((b"SET", b"k%d" % i, b"v"))
                           for i in range(200))
        path = self.dir.log(5, extra=records)
        offset = format.LOG_HEADER_SIZE + sum(
            len(format.encodeRecord((b"SET", b"k%d" % i, b"v")))
            for i in range(100))
        with open(path, "r+b") as f:
            f.seek(offset + 1)
            byte = f.read(1)
            f.seek(offset + 1)
            f.write(bytes([byte[0] ^ 0x10]))
        self.refused(path, "at byte %d" % (offset,))
        store, found = self.salvaged()
        self.assertEqual(store.get(b"k99"), b"v")
        self.assertIsNone(store.get(b"k100"))

    def test_tornTailOnlyInLastLog(self):
        """
        A record running past the end of a log that is not the last one is
        corruption.
        """
        with open(self.paths[1], "ab") as f:
            f.write(format.encodeRecord((b"SET", b"x", b"y"))[:-2])
        self.refused(self.paths[1], "runs past the end")


class LegacyTests(SynchronousTestCase):
    """
    Directories of format 1 (no manifest, no headers) are still read.
    """

    def test_formatOneLogs(self):
        """
        Logs of format 1 are replayed (gaps and empty files as format 1
        left them), a torn tail dropped from the last one with data, and
        the report asks for the directory to be converted.
        """
        from kvtwist.test.test_persist_format import legacyRecord
        d = DataDir(self.mktemp())
        d.log(1, header=False, extra=legacyRecord((b"SET", b"a", b"1")))
        d.log(3, header=False, extra=legacyRecord((b"SET", b"b", b"2"))
              + legacyRecord((b"SET", b"c", b"3"))[:-1])
        empty = d.log(4, header=False)
        store = Store()
        found = recover(store, d.path, FileSystem())
        self.assertTrue(found.legacy)
        self.assertEqual(sorted(store.keys()), [b"a", b"b"])
        self.assertGreater(found.tornBytes, 0)
        self.assertIn(empty, found.remove)
