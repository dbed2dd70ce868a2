"""
Tests for L{kvtwist.persist.format} and L{kvtwist.persist.files}: the log
record and snapshot formats, the file names and the file layer.
"""

import os
import struct
from collections import deque

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.persist import files, format, snapfile, snapshots
from kvtwist.persist.files import FileSystem
from kvtwist.persist.format import (
    CorruptLog, decodeFrame, encodeFrame, encodeFrames, encodeRecord, scanLog)
from kvtwist.persist.snapfile import CorruptSnapshot, decodeSnapshot


class _Unpicklable:
    """
    Something C{pickle} refuses halfway through a batch.
    """

    def __reduce__(self):
        raise TypeError("not picklable")


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


def scanRecords(data, path="<log>", allowTorn=True):
    """
    L{scanLog} of records without a file header.
    """
    return scanLog(data, path, allowTorn, start=0)


def legacyRecord(op):
    """
    A record of log format 1 (no header checksum) holding C{op}.
    """
    import zlib
    payload = format.encodePayload([op])
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


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
        self.assertEqual(decodeFrame(encodeFrame(ops)[12:]), ops)
        data = b"".join(encodeRecord(op) for op in ops)
        scan = scanRecords(data)
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

    def test_plainStopsAtBig(self):
        """
        Asked to, L{format.encodePlain} gives up (L{None}) at a part of
        L{format.BIG_PART} bytes or more, in any place of an op of three
        parts or of another size; else it encodes it like any.
        """
        big = b"v" * format.BIG_PART
        small = [(b"SET", b"k", b"v"), (b"DEL", b"k")]
        self.assertEqual(format.encodePlain(small, True),
                         format.encodePlain(small))
        for op in [(b"SET", b"k", big), (b"SET", big, b"v"),
                   (big, b"k", b"v"), (b"RPUSH", b"l", b"x", big),
                   (b"DEL", big)]:
            self.assertIsNone(format.encodePlain(small + [op], True))
            encoded = format.encodePlain(small + [op])
            self.assertEqual(decodeFrame(encoded), small + [op])

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
            self.assertLessEqual(len(decodeFrame(data[pos + 12:pos + 12 +
                                                      length])), 10)
            pos += 12 + length
            records += 1
        self.assertEqual(records, 3)
        self.assertEqual(scanRecords(data).ops, ops)

    def test_recordLayout(self):
        """
        A record is a little-endian length, the payload's CRC-32, the CRC-32
        of those eight bytes, and the payload (the list of ops).
        """
        record = encodeRecord((b"DEL", b"k"))
        length, crc, headCrc = struct.unpack("<III", record[:12])
        payload = record[12:]
        self.assertEqual(length, len(payload))
        import zlib
        self.assertEqual(crc, zlib.crc32(payload))
        self.assertEqual(headCrc, zlib.crc32(record[:8]))

    def test_bigPartNotCopied(self):
        """
        A few ops holding a part of L{format.BIG_PART} bytes or more (a big
        value) are encoded as L{format.Pieces}: the big part is one of the
        pieces, the very object (not a copy), and the pieces read back as
        records of the ops.  A batch of more than L{format.SCAN_OPS} ops is
        encoded as before.
        """
        big = b"v" * format.BIG_PART
        ops = [(b"SET", b"a", b"1"), (b"SET", b"big", big),
               (b"RPUSH", b"l", b"x", big)]
        encoded = encodeFrames(ops)
        self.assertIsInstance(encoded, format.Pieces)
        self.assertEqual(
            [i for i, piece in enumerate(encoded.pieces) if piece is big],
            [4, 7])
        data = bytes(encoded)
        self.assertEqual(len(encoded), len(data))
        self.assertEqual(scanRecords(data).ops, ops)
        many = [(b"SET", b"k", b"v")] * format.SCAN_OPS + [ops[1]]
        self.assertIs(type(encodeFrames(many)), bytes)
        self.assertEqual(scanRecords(encodeFrames(many)).ops, many)

    def test_bigPartChecksumLater(self):
        """
        The checksum of a record holding a big part is not computed when
        the records are made (on the reactor's thread) but when they are
        resolved for writing (L{format.Pieces.resolve}, on the writer's),
        once; a record of small parts beside it is ready at once.
        """
        summed = []
        crc32 = format._crc32

        def counting(data, value=0):
            summed.append(len(data))
            return crc32(data, value)

        self.patch(format, "_crc32", counting)
        big = b"v" * format.BIG_PART
        ops = [(b"SET", b"a", b"1"), (b"SET", b"big", big)]
        encoded = encodeFrames(ops)
        self.assertNotIn(len(big), summed)
        self.assertTrue(summed)
        self.assertEqual(len(encoded), len(b"".join(encoded.resolve())))
        self.assertEqual(summed.count(len(big)), 1)
        self.assertEqual(scanRecords(bytes(encoded)).ops, ops)
        self.assertEqual(summed.count(len(big)), 1)

    def test_encoderSameAsEncodeFrames(self):
        """
        L{format.FrameEncoder} gives the bytes L{encodeFrames} gives, batch
        after batch (nothing of one batch is remembered in the next, even
        the same objects again), after a batch that can't be encoded, and
        for more ops than one record holds; a big part is not copied.
        """
        encoder = format.FrameEncoder(frameOps=10)
        batches = [SAMPLE_OPS, SAMPLE_OPS, SAMPLE_OPS[:1],
                   [(b"SET", b"k%d" % i, b"v") for i in range(25)]]
        for ops in batches:
            self.assertEqual(encoder.encode(ops), encodeFrames(ops, 10))
        self.assertRaises(Exception, encoder.encode,
                          [(b"SET", b"k", object.__new__(_Unpicklable))])
        for ops in batches:
            self.assertEqual(encoder.encode(ops), encodeFrames(ops, 10))
            self.assertEqual(scanRecords(encoder.encode(ops)).ops, ops)
        big = b"v" * format.BIG_PART
        encoded = encoder.encode([(b"SET", b"big", big)])
        self.assertIsInstance(encoded, format.Pieces)
        self.assertTrue(any(piece is big for piece in encoded.pieces))
        self.assertEqual(encoder.encode(SAMPLE_OPS), encodeFrames(SAMPLE_OPS))

    def test_tornTailCutShort(self):
        """
        A last record cut anywhere short is a torn tail: the records before
        it are kept and its bytes reported.
        """
        good = encodeRecord((b"SET", b"a", b"1"))
        last = encodeRecord((b"SET", b"b", b"2"))
        for cut in range(1, len(last)):
            scan = scanRecords(good + last[:cut], "f.aof")
            self.assertEqual(scan.ops, [(b"SET", b"a", b"1")])
            self.assertEqual(scan.goodBytes, len(good))
            self.assertEqual(scan.tornBytes, cut)
            self.assertIsNotNone(scan.tornReason)

    def test_completeLastRecordBadCRC(self):
        """
        A complete last record whose payload fails its CRC is corruption,
        not a torn tail: a torn write runs past the end of the file.
        """
        good = encodeRecord((b"SET", b"a", b"1"))
        last = bytearray(encodeRecord((b"SET", b"b", b"2")))
        last[-1] ^= 0xFF
        e = self.assertRaises(CorruptLog, scanRecords, good + bytes(last),
                              "f.aof")
        self.assertEqual((e.offset, e.reason), (len(good), "CRC mismatch"))

    def test_flippedLengthBit(self):
        """
        A flipped bit in the length of record 101 of 200, in the last log,
        is corruption at that record's offset (its header checksum fails),
        not a torn tail that would drop records 101 to 200.
        """
        records = [encodeRecord((b"SET", b"k%d" % i, b"v"))
                   for i in range(200)]
        offset = sum(len(r) for r in records[:100])
        for bit in (0, 7, 20, 31):
            data = bytearray(b"".join(records))
            data[offset + bit // 8] ^= 1 << (bit % 8)
            e = self.assertRaises(CorruptLog, scanRecords, bytes(data),
                                  "/d/kvtwist-1.aof", True)
            self.assertEqual(e.offset, offset)
            self.assertEqual(e.reason, "bad record header checksum")

    def test_zeroFilledTail(self):
        """
        Zero bytes after the last good record (a file system that extended
        the file before a crash) are a torn tail.
        """
        good = encodeRecord((b"SET", b"a", b"1"))
        scan = scanRecords(good + b"\x00" * 100)
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
        e = self.assertRaises(CorruptLog, scanRecords, data,
                              "/d/kvtwist-1.aof")
        self.assertEqual(e.offset, len(first))
        self.assertIn("/d/kvtwist-1.aof", str(e))
        self.assertIn("CRC", str(e))

    def test_tornNotAllowed(self):
        """
        With C{allowTorn=False} (a log that is not the last one) even a
        damaged tail is corruption.
        """
        data = encodeRecord((b"SET", b"a", b"1"))
        self.assertRaises(CorruptLog, scanRecords, data[:-1], "x", False)

    def test_malformedPayload(self):
        """
        A payload with a good CRC but a bad structure is corruption.
        """
        import pickle
        import zlib
        payload = pickle.dumps({"not": "a list"}, 4)
        head = struct.pack("<II", len(payload), zlib.crc32(payload))
        data = head + struct.pack("<I", zlib.crc32(head)) + payload
        self.assertRaises(CorruptLog, scanRecords, data)


class LogFileTests(SynchronousTestCase):
    """
    A log file's header names its generation; files of format 1 are read.
    """

    def test_header(self):
        """
        A file starting with the header of its generation passes; an empty
        file, a header cut short or damaged, or one naming another
        generation (files renamed or reordered) fails at offset 0, naming
        the file.
        """
        data = format.logHeader(7) + encodeRecord((b"SET", b"a", b"1"))
        format.checkLogHeader(data, "f", 7)
        self.assertEqual(scanLog(data, "f").ops, [(b"SET", b"a", b"1")])
        damaged = bytearray(data)
        damaged[12] ^= 1
        for content, words in [
                (b"", "empty"), (data[:10], "cut short"),
                (bytes(damaged), "damaged"),
                (format.logHeader(8) + data[24:], "holds generation 8")]:
            e = self.assertRaises(CorruptLog, format.checkLogHeader, content,
                                  "/d/kvtwist-00000007.aof", 7)
            self.assertEqual(e.offset, 0)
            self.assertIn(words, str(e))
            self.assertIn("/d/kvtwist-00000007.aof", str(e))

    def test_legacy(self):
        """
        A file of format 1 (no header, no record header checksum) is told
        apart and read with format 1's rule for a torn tail.
        """
        data = legacyRecord((b"SET", b"a", b"1")) + legacyRecord(
            (b"SET", b"b", b"2"))
        self.assertTrue(format.isLegacyLog(data))
        self.assertFalse(format.isLegacyLog(format.logHeader(1)))
        self.assertFalse(format.isLegacyLog(b""))
        scan = format.scanLegacyLog(data[:-1])
        self.assertEqual(scan.ops, [(b"SET", b"a", b"1")])
        self.assertEqual(format.scanLegacyLog(data).ops,
                         [(b"SET", b"a", b"1"), (b"SET", b"b", b"2")])


class ManifestTests(SynchronousTestCase):
    """
    The manifest round-trips and refuses damage.
    """

    def test_roundTrip(self):
        """
        A manifest decodes to what was encoded.
        """
        m = snapfile.Manifest(5, 9)
        self.assertEqual(snapfile.decodeManifest(snapfile.encodeManifest(m)), m)

    def test_damage(self):
        """
        A flipped bit, a truncation or another file is refused, naming the
        file.
        """
        content = snapfile.encodeManifest(snapfile.Manifest(5, 9))
        flipped = bytearray(content)
        flipped[20] ^= 4
        for damaged in (bytes(flipped), content[:-1], b"", b"x" * 32):
            e = self.assertRaises(snapfile.CorruptManifest,
                                  snapfile.decodeManifest, damaged, "/d/m")
            self.assertIn("/d/m", str(e))


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
        fs.writeNew(path, [b""])
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

    def test_writeAtPartialWrites(self):
        """
        L{FileSystem.writeAt} goes on after partial writes until all of
        the data is written, at the right offsets; a write that makes no
        progress is an error, not a loop.
        """
        path = os.path.join(self.mktemp())
        fs = FileSystem()
        fs.writeNew(path, [b""])
        realPwrite = os.pwrite
        self.patch(os, "pwrite",
                   lambda fd, data, offset: realPwrite(fd, data[:3], offset))
        fd = fs.openLog(path)
        try:
            fs.writeAt(fd, b"0123456789", 2)
        finally:
            fs.close(fd)
        self.assertEqual(fs.readFile(path), b"\0\x000123456789")
        self.patch(os, "pwrite", lambda fd, data, offset: 0)
        fd = fs.openLog(path)
        try:
            self.assertRaises(OSError, fs.writeAt, fd, b"abc", 0)
        finally:
            fs.close(fd)

    def test_createLog(self):
        """
        L{FileSystem.createLog} makes a log file holding only its header,
        records it in the manifest, and leaves no temporary file; the
        descriptor writes after the header.
        """
        d = self.mktemp()
        os.makedirs(d)
        fs = FileSystem()
        fd = fs.createLog(d, 3, snapfile.Manifest(2, 3))
        try:
            fs.writeAt(fd, encodeRecord((b"SET", b"a", b"1")),
                       format.LOG_HEADER_SIZE)
        finally:
            fs.close(fd)
        self.assertEqual(sorted(os.listdir(d)),
                         ["kvtwist-00000003.aof", "kvtwist.manifest"])
        data = fs.readFile(os.path.join(d, "kvtwist-00000003.aof"))
        format.checkLogHeader(data, "f", 3)
        self.assertEqual(scanLog(data).ops, [(b"SET", b"a", b"1")])
        self.assertEqual(snapfile.decodeManifest(fs.readFile(
            os.path.join(d, "kvtwist.manifest"))), snapfile.Manifest(2, 3))
