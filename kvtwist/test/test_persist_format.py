"""
Tests for L{kvtwist.persist.format} and L{kvtwist.persist.files}: the log
record and snapshot formats, the file names and the file layer.
"""

import os
import struct
from collections import deque

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.persist import files, format, snapshots
from kvtwist.persist.files import FileSystem
from kvtwist.persist.format import (
    CorruptLog, CorruptSnapshot, decodeFrame, decodeSnapshot, encodeFrame,
    encodeFrames, encodeRecord, scanLog)


#: Every kind of op a record must carry: binary data, empty strings, many
#: elements.
SAMPLE_OPS = [
    (b"SET", b"k", b"v"),
    (b"FLUSHALL",),
    (b"SET", b"\r\n\x00key", b"\xff" * 1000),
    (b"SET", b"", b""),
    (b"RPUSH", b"list") + tuple(b"%d" % i for i in range(500)),
    (b"DEL", b"k"),
    (b"PEXPIREAT", b"k", b"1700000000000"),
]


class RecordTests(SynchronousTestCase):
    """
    Log records encode ops and decode them back; damage is detected.
    """

    def test_roundTrip(self):
        """
        Every op, including binary data, empty strings and many elements,
        decodes to the op that was encoded.
        """
        ops = SAMPLE_OPS
        self.assertEqual(decodeFrame(encodeFrame(ops)[8:]), ops)
        data = b"".join(encodeRecord(op) for op in ops)
        scan = scanLog(data)
        self.assertEqual(scan.ops, ops)
        self.assertEqual(scan.goodBytes, len(data))
        self.assertEqual(scan.tornBytes, 0)

    def test_bothPayloadFormats(self):
        """
        Either interpreter reads a log written by the other: the pickle
        payload (CPython's) and the plain one (PyPy's) decode to the same
        ops.
        """
        ops = SAMPLE_OPS
        plain = format.encodePlain(ops)
        self.assertEqual(plain[:1], b"K")
        self.assertEqual(decodeFrame(plain), ops)
        self.assertEqual(decodeFrame(format._encodePickle(ops)), ops)

    def test_plainLayout(self):
        """
        Ops of three parts, which take a path of their own, and of other
        sizes are laid out alike: the count, each length, the parts.
        """
        for op in [(b"SET", b"k", b"vv"), (b"SET", b"", b""), (b"DEL", b"k"),
                   (b"RPUSH", b"l", b"a", b"bc")]:
            encoded = format.encodePlain([op, op])
            self.assertIs(type(encoded), bytes)
            self.assertEqual(
                encoded,
                b"K" + 2 * (struct.pack("<%dI" % (len(op) + 1,), len(op),
                                        *map(len, op)) + b"".join(op)))

    def test_malformedPlain(self):
        """
        A plain payload cut short or with lengths past its end is refused.
        """
        plain = format.encodePlain([(b"SET", b"key", b"value")])
        for bad in (plain[:-1], plain[:3], b"K" + struct.pack("<I", 0),
                    b"K" + struct.pack("<II", 1, 99) + b"x"):
            self.assertRaises(ValueError, decodeFrame, bad)

    def test_framesBounded(self):
        """
        L{encodeFrames} writes at most C{frameOps} ops per record, and the
        records read back as the whole list, in order.
        """
        ops = [(b"SET", b"k%d" % i, b"v") for i in range(25)]
        data = encodeFrames(ops, frameOps=10)
        records = 0
        pos = 0
        while pos < len(data):
            length, _ = struct.unpack_from("<II", data, pos)
            self.assertLessEqual(len(decodeFrame(data[pos + 8:pos + 8 +
                                                      length])), 10)
            pos += 8 + length
            records += 1
        self.assertEqual(records, 3)
        self.assertEqual(scanLog(data).ops, ops)

    def test_recordLayout(self):
        """
        A record is a little-endian length, the payload's CRC-32 and the
        payload (the list of ops).
        """
        record = encodeRecord((b"DEL", b"k"))
        length, crc = struct.unpack("<II", record[:8])
        payload = record[8:]
        self.assertEqual(length, len(payload))
        import zlib
        self.assertEqual(crc, zlib.crc32(payload))

    def test_tornTailCutShort(self):
        """
        A last record cut anywhere short is a torn tail: the records before
        it are kept and its bytes reported.
        """
        good = encodeRecord((b"SET", b"a", b"1"))
        last = encodeRecord((b"SET", b"b", b"2"))
        for cut in range(1, len(last)):
            scan = scanLog(good + last[:cut], "f.aof")
            self.assertEqual(scan.ops, [(b"SET", b"a", b"1")])
            self.assertEqual(scan.goodBytes, len(good))
            self.assertEqual(scan.tornBytes, cut)
            self.assertIsNotNone(scan.tornReason)

    def test_tornTailBadCRC(self):
        """
        A complete last record whose CRC fails is a torn tail too.
        """
        good = encodeRecord((b"SET", b"a", b"1"))
        last = bytearray(encodeRecord((b"SET", b"b", b"2")))
        last[-1] ^= 0xFF
        scan = scanLog(good + bytes(last))
        self.assertEqual(scan.ops, [(b"SET", b"a", b"1")])
        self.assertEqual(scan.tornReason, "CRC mismatch")

    def test_zeroFilledTail(self):
        """
        Zero bytes after the last good record (a file system that extended
        the file before a crash) are a torn tail.
        """
        good = encodeRecord((b"SET", b"a", b"1"))
        scan = scanLog(good + b"\x00" * 100)
        self.assertEqual(scan.ops, [(b"SET", b"a", b"1")])
        self.assertEqual(scan.tornBytes, 100)

    def test_corruptionInTheMiddle(self):
        """
        A damaged record followed by more records is corruption, reported
        with the file name and offset, never silently dropped.
        """
        first = encodeRecord((b"SET", b"a", b"1"))
        bad = bytearray(encodeRecord((b"SET", b"b", b"2")))
        bad[-1] ^= 0xFF
        data = first + bytes(bad) + encodeRecord((b"SET", b"c", b"3"))
        e = self.assertRaises(CorruptLog, scanLog, data, "/d/kvtwist-1.aof")
        self.assertEqual(e.offset, len(first))
        self.assertIn("/d/kvtwist-1.aof", str(e))
        self.assertIn("CRC", str(e))

    def test_tornNotAllowed(self):
        """
        With C{allowTorn=False} (a log that is not the last one) even a
        damaged tail is corruption.
        """
        data = encodeRecord((b"SET", b"a", b"1"))
        self.assertRaises(CorruptLog, scanLog, data[:-1], "x", False)

    def test_malformedPayload(self):
        """
        A payload with a good CRC but a bad structure is corruption.
        """
        import pickle
        import zlib
        payload = pickle.dumps({"not": "a list"}, 4)
        data = struct.pack("<II", len(payload), zlib.crc32(payload)) + payload
        self.assertRaises(CorruptLog, scanLog, data)


class NameTests(SynchronousTestCase):
    """
    Log file names carry their generation.
    """

    def test_names(self):
        """
        L{logName} and L{parseLogName} are inverses; other names are not
        logs.
        """
        self.assertEqual(files.logName(7), "kvtwist-00000007.aof")
        self.assertEqual(files.parseLogName("kvtwist-00000007.aof"), 7)
        self.assertEqual(files.parseLogName("kvtwist-123456789.aof"),
                         123456789)
        self.assertIsNone(files.parseLogName("kvtwist-7.aof.tmp"))
        self.assertIsNone(files.parseLogName("other.aof"))

    def test_listDataDir(self):
        """
        L{listDataDir} finds the snapshot, the logs in generation order and
        the temporary files, and ignores everything else.
        """
        d = self.mktemp()
        os.makedirs(d)
        for name in ["kvtwist-00000010.aof", "kvtwist-00000002.aof",
                     "kvtwist.snapshot", "kvtwist.snapshot.tmp", "README"]:
            with open(os.path.join(d, name), "wb"):
                pass
        listing = files.listDataDir(d)
        self.assertEqual(listing.snapshot, os.path.join(d, "kvtwist.snapshot"))
        self.assertEqual([g for g, _ in listing.logs], [2, 10])
        self.assertEqual(listing.temps,
                         [os.path.join(d, "kvtwist.snapshot.tmp")])


class SnapshotTests(SynchronousTestCase):
    """
    Snapshots hold the whole state and refuse to load when damaged.
    """

    def setUp(self):
        self.dir = self.mktemp()
        os.makedirs(self.dir)
        self.state = ({b"s": b"v", b"l": deque([b"a", b"b"]), b"\x00": b""},
                      {b"s": 1234567890123})

    def _write(self) -> bytes:
        size = snapshots.writeSnapshot(FileSystem(), self.dir, self.state,
                                       5, 1700000000000, "s.tmp")
        snapshots.installSnapshot(FileSystem(), self.dir, "s.tmp", 5, [])
        with open(os.path.join(self.dir, "kvtwist.snapshot"), "rb") as f:
            content = f.read()
        self.assertEqual(size, len(content))
        return content

    def test_roundTrip(self):
        """
        A written snapshot decodes to the same state and header fields.
        """
        snap = decodeSnapshot(self._write())
        self.assertEqual(snap.nextGen, 5)
        self.assertEqual(snap.savedAtMs, 1700000000000)
        self.assertEqual(snap.data[b"s"], b"v")
        self.assertEqual(list(snap.data[b"l"]), [b"a", b"b"])
        self.assertEqual(snap.expires, {b"s": 1234567890123})

    def test_installDeletesCoveredLogs(self):
        """
        L{installSnapshot} renames the temporary file into place and removes
        the logs it is given.
        """
        log = os.path.join(self.dir, files.logName(4))
        with open(log, "wb") as f:
            f.write(b"x")
        snapshots.writeSnapshot(FileSystem(), self.dir, self.state, 5, 0,
                                "s.tmp")
        snapshots.installSnapshot(FileSystem(), self.dir, "s.tmp", 5, [log])
        self.assertEqual(sorted(os.listdir(self.dir)), ["kvtwist.snapshot"])

    def test_damage(self):
        """
        A flipped byte, a truncation, trailing garbage, a bad magic or an
        unknown version are each refused with a message naming the file.
        """
        content = self._write()
        flipped = bytearray(content)
        flipped[len(content) // 2] ^= 0x01
        badVersion = bytearray(content)
        badVersion[8] = 99
        for damaged in [bytes(flipped), content[:-1], content + b"x",
                        b"NOTSNAP!" + content[8:], bytes(badVersion), b""]:
            e = self.assertRaises(CorruptSnapshot, decodeSnapshot, damaged,
                                  "/data/kvtwist.snapshot")
            self.assertIn("/data/kvtwist.snapshot", str(e))


class FileSystemTests(SynchronousTestCase):
    """
    The real file layer.
    """

    def test_writeAtOverwrites(self):
        """
        L{FileSystem.writeAt} writes at the given offset, so a retry after
        a partial write replaces the partial bytes.
        """
        path = os.path.join(self.mktemp())
        fs = FileSystem()
        fd = fs.openLog(path)
        try:
            fs.writeAt(fd, b"hello", 0)
            fs.writeAt(fd, b"XXXXXXXX", 5)
            fs.writeAt(fd, b"world", 5)
            fs.fsync(fd)
        finally:
            fs.close(fd)
        self.assertEqual(fs.readFile(path), b"helloworldXXX")
        fs.truncate(path, 10)
        self.assertEqual(fs.readFile(path), b"helloworld")
