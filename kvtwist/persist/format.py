# -*- test-case-name: kvtwist.test.test_persist_format -*-
"""
The bytes of kvtwist's log files: their header and their records.
(The snapshot and the manifest are L{kvtwist.persist.snapfile}'s.)

Plain functions with no I/O: the journal encodes records with them on the
reactor thread, recovery decodes them, and the snapshot child encodes the
store.  Where the files live and how they are written is
L{kvtwist.persist.files}; the layout of the data directory is described in
L{kvtwist.persist}.

Log files (format 2)
====================

A log file starts with a header, then holds a sequence of records::

    header   8 bytes magic b"KVTWLOG\\0", u32 format version (2),
             u64 the generation it holds, u32 crc32 of those 20 bytes
    record   u32 length of the payload (little-endian)
             u32 crc32 of the payload
             u32 crc32 of the 8 bytes before (the length is protected)
             payload: a pickle (protocol 4) of a list of ops (CPython), or
             b"K" then, per op, u32 count, u32 length per part, the parts
             (PyPy, where that encodes three times faster); either reads
             both

An op is a tuple of byte strings naming one store mutation (see
L{kvtwist.store.Store.apply}), e.g. C{(b"SET", key, value)}.  Ops are
encoded at most L{FRAME_OPS} to a record.

A I{group} op, C{(b"MULTI", payload)}, holds the ops of one C{EXEC} or
one script, which were applied together: C{payload} is those ops in the
plain format (L{encodePlain}, whichever the interpreter).  Being one op,
a group is never split between records, so recovery replays all of it or,
if its record is a torn tail, none of it (L{groupOps}, L{ungroup}).
Files without group ops are what kvtwist wrote before them, and read the
same.

Only a record running past the end of the I{last} log file (or a header
cut short there, or nothing but zero bytes to its end) is a I{torn tail}:
a crash interrupted that flush, whose writes were therefore never
acknowledged as durable.  It is dropped with a logged warning.  Damage
anywhere else, a flipped bit in a length included, is corruption:
recovery refuses to start and names the file and offset.

Format 1 (kvtwist before the file header) had records of C{u32 length,
u32 CRC, payload} and no file header.  Such files are still read, with
format 1's weaker rule for a torn tail (L{scanLegacyLog}), and the first
start converts the directory (a snapshot replaces them).
"""

import pickle
import platform
import struct
import zlib
from itertools import chain
from typing import List, NamedTuple, Optional

PICKLE_PROTOCOL = 4

_RECORD_HEADER = struct.Struct("<II")
_U32 = struct.Struct("<I")
_MAX_RECORD = 0xFFFFFFFF

_crc32 = zlib.crc32
_packHeader = _RECORD_HEADER.pack
_packU32 = _U32.pack

#: The header every log file of format 2 starts with: magic, version,
#: the generation it holds, and the CRC of those.
LOG_MAGIC = b"KVTWLOG\x00"
LOG_VERSION = 2
_LOG_HEADER = struct.Struct("<8sIQ")
LOG_HEADER_SIZE = _LOG_HEADER.size + 4
#: A record's header in format 2: length, payload CRC, header CRC.
RECORD_HEADER_SIZE = 12



class PersistenceError(Exception):
    """
    The files in the data directory can't be used as they are.
    """


class CorruptLog(PersistenceError):
    """
    A log file is damaged somewhere other than a torn tail.

    @ivar path: the file.
    @ivar offset: where the bad record starts.
    """

    def __init__(self, path: str, offset: int, reason: str):
        PersistenceError.__init__(
            self, "log %s is corrupt at byte %d: %s" % (path, offset, reason))
        self.path = path
        self.offset = offset
        self.reason = reason


#: The most ops one log record (frame) holds.
FRAME_OPS = 1000


#: First byte of a payload in the plain format (a pickle starts with 0x80).
_PLAIN = b"K"
_plainStructs = {}
_packThree = struct.Struct("<4I").pack


def encodePlain(ops: List[tuple], stopAtBig: bool = False
                ) -> Optional[bytes]:
    """
    The plain payload format: C{K}, then for each op a u32 count of its
    parts, a u32 length per part, and the parts.  On PyPy it encodes
    several times faster than pickle (whose PyPy implementation is written
    in Python); on CPython pickle (in C) is faster.

    Ops of three parts (C{SET key value}, by far the most common) take a
    path of their own: on PyPy it encodes them in a third of the time.

    @param stopAtBig: give up, returning L{None}, at a part of L{BIG_PART}
        bytes or more (L{encodeFrames} then makes L{Pieces}): the lengths
        are at hand here, where looking through the ops first cost as much
        again as encoding them.
    """
    out = bytearray(_PLAIN)
    structs = _plainStructs
    for op in ops:
        n = len(op)
        if n == 3:
            a, b, c = op
            la, lb, lc = len(a), len(b), len(c)
            if stopAtBig and (lc >= BIG_PART or la >= BIG_PART or
                              lb >= BIG_PART):
                return None
            out += _packThree(3, la, lb, lc)
            out += a
            out += b
            out += c
            continue
        packer = structs.get(n)
        if packer is None:
            packer = structs[n] = struct.Struct("<%dI" % (n + 1,))
        lengths = [len(part) for part in op]
        if stopAtBig and max(lengths) >= BIG_PART:
            return None
        out += packer.pack(n, *lengths)
        for part in op:
            out += part
    return bytes(out)


def decodePlain(payload) -> List[tuple]:
    """
    The ops of a plain payload (see L{encodePlain}).

    @raise ValueError: if it is not well formed.
    """
    payload = bytes(payload)
    ops = []
    pos = 1
    end = len(payload)
    unpack = struct.unpack_from
    try:
        while pos < end:
            (count,) = unpack("<I", payload, pos)
            pos += 4
            if count == 0 or pos + 4 * count > end:
                raise ValueError("bad op header at %d" % (pos - 4,))
            lengths = unpack("<%dI" % (count,), payload, pos)
            pos += 4 * count
            op = []
            for length in lengths:
                if pos + length > end:
                    raise ValueError("op runs past the payload")
                op.append(payload[pos:pos + length])
                pos += length
            ops.append(tuple(op))
    except struct.error as e:
        raise ValueError("payload can't be decoded: %s" % (e,))
    return ops


#: The name of a group op (see the module's docstring).
GROUP = b"MULTI"


def groupOps(ops: List[tuple]) -> tuple:
    """
    One group op holding C{ops} (ops applied together: recovery replays
    all of them or none).
    """
    return (GROUP, encodePlain(ops))


def ungroup(op: tuple) -> List[tuple]:
    """
    The ops a group op holds, in order.

    @raise ValueError: if it is not a well-formed group op.
    """
    if len(op) != 2 or op[0] != GROUP:
        raise ValueError("malformed group op")
    return decodePlain(op[1])


def _encodePickle(ops: List[tuple]) -> bytes:
    return pickle.dumps(ops, PICKLE_PROTOCOL)


#: The payload encoder of this interpreter: both read either format.
encodePayload = (encodePlain if platform.python_implementation() == "PyPy"
                 else _encodePickle)


def encodeFrame(ops: List[tuple]) -> bytes:
    """
    One log record holding C{ops} (tuples of L{bytes}): header (length,
    payload CRC, the CRC of those two) and the payload (a pickle, protocol
    4, of the list on CPython; the plain format of L{encodePlain} on
    PyPy).
    """
    return _frame(ops, encodePayload(ops))


def _frame(ops: List[tuple], payload: bytes) -> bytes:
    """
    L{encodeFrame}, given the payload of C{ops}.
    """
    if len(payload) > _MAX_RECORD and len(ops) > 1:
        half = len(ops) // 2
        return encodeFrame(ops[:half]) + encodeFrame(ops[half:])
    head = _packHeader(len(payload), _crc32(payload))
    return head + _packU32(_crc32(head)) + payload


#: An op's part this long or longer (a big value) is not copied into its
#: log record: the record holds it as it is (L{Pieces}).
BIG_PART = 1 << 20

#: Batches of at most this many ops are looked through for big parts.
#: Bigger ones are not (a cost per op that pipelined writes would pay):
#: the connection seals after a read once 32 ops are pending, so a big
#: value, which takes many reads to arrive, is sealed in a small batch
#: unless the read that ends it holds many more writes.
SCAN_OPS = 64


class Pieces:
    """
    Log records as pieces written one after the other (the same bytes as
    their join): the records of ops holding a big part, which is one of
    the pieces as it is rather than copied into a joined string.

    The header of a record holding a big part (its checksum, over the big
    part) is computed by L{resolve}, on the log writer's thread, not when
    the record is made on the reactor's: the checksum of a 400 MB value
    takes about a tenth of a second.

    @ivar pieces: the pieces: L{bytes}, and before L{resolve}, the headers
        still to compute.
    """

    __slots__ = ("pieces", "_size")

    def __init__(self, pieces: List[object]):
        self.pieces = pieces
        self._size = sum(len(piece) for piece in pieces)

    def __len__(self) -> int:
        return self._size

    def resolve(self) -> List[bytes]:
        """
        Compute the headers still to compute (once).

        @return: L{pieces}, all L{bytes}.
        """
        pieces = self.pieces
        for i, piece in enumerate(pieces):
            if piece.__class__ is _LaterHead:
                pieces[i] = piece.compute()
        return pieces

    def __bytes__(self) -> bytes:
        return b"".join(self.resolve())


class _LaterHead:
    """
    The header of a record whose payload is C{body}, the pieces that
    follow it in L{Pieces}: computed by L{compute}.
    """

    __slots__ = ("body", "size")

    def __init__(self, body: List[bytes], size: int):
        self.body = body
        self.size = size

    def __len__(self) -> int:
        return RECORD_HEADER_SIZE

    def compute(self) -> bytes:
        crc = 0
        for piece in self.body:
            crc = _crc32(piece, crc)
        head = _packHeader(self.size, crc)
        return head + _packU32(_crc32(head))


class _Chunks(list):
    """
    The file C{pickle} writes to: the pieces it writes.  The C pickler
    writes a long L{bytes} (64 KiB or more) as it is, a piece of its own,
    and the rest in frames of about 64 KiB.
    """

    __slots__ = ()
    write = list.append


def _pickleChunks(ops: List[tuple]) -> List[bytes]:
    """
    The pickle of C{ops} (as L{_encodePickle} makes it), in the pieces
    the pickler wrote.
    """
    chunks = _Chunks()
    pickle.Pickler(chunks, PICKLE_PROTOCOL).dump(ops)
    return chunks


def _hasBigPart(ops: List[tuple]) -> bool:
    # The longest part, found without a Python loop over the parts: this
    # runs for every batch a pipelining writer seals.
    return max(map(len, chain.from_iterable(ops)), default=0) >= BIG_PART


def _encodePieces(ops: List[tuple]) -> Pieces:
    """
    The records of C{ops}, one per op, in the plain format, each big part
    a piece of its own; the header of a record that holds one is computed
    later (see L{Pieces}).
    """
    pieces: List[object] = []
    for op in ops:
        prefix = _PLAIN + struct.pack("<%dI" % (len(op) + 1,), len(op),
                                      *[len(part) for part in op])
        size = len(prefix)
        body = [prefix]
        big = False
        for part in op:
            size += len(part)
            if len(part) >= BIG_PART:
                body.append(part)
                big = True
            elif len(body[-1]) < BIG_PART:
                body[-1] += part
            else:
                body.append(part)
        if size > _MAX_RECORD:
            raise ValueError("an op of %d bytes doesn't fit in a record"
                             % (size,))
        head = _LaterHead(body, size)
        pieces.append(head if big else head.compute())
        pieces.extend(body)
    return Pieces(pieces)


def encodeFrames(ops: List[tuple], frameOps: int = FRAME_OPS):
    """
    The log records for C{ops}, at most C{frameOps} ops per record, as one
    string ready to write; or, for a few ops holding a big part (see
    L{SCAN_OPS}), as L{Pieces} in which each big part is not copied.

    Pickling a bounded slice at a time keeps the pickler's memo small,
    which is several times faster than one pickle of a long list.
    """
    if len(ops) <= frameOps and encodePayload is _encodePickle:
        # The pickle comes in pieces, and a big part as a piece of its own
        # (not copied): only a payload of several pieces can hold one, so
        # the usual small batch costs no look at its parts.
        chunks = _pickleChunks(ops)
        if len(chunks) == 1:
            return _frame(ops, chunks[0])
        if len(ops) <= SCAN_OPS and max(map(len, chunks)) >= BIG_PART and \
                _hasBigPart(ops):
            return _encodePieces(ops)
        return _frame(ops, b"".join(chunks))
    if len(ops) <= frameOps and encodePayload is encodePlain:
        # (PyPy's.)  Looked through for big parts as it is encoded.
        payload = encodePlain(ops, len(ops) <= SCAN_OPS)
        if payload is None:
            return _encodePieces(ops)
        return _frame(ops, payload)
    if len(ops) <= SCAN_OPS and _hasBigPart(ops):
        return _encodePieces(ops)
    return b"".join([encodeFrame(ops[i:i + frameOps])
                     for i in range(0, len(ops), frameOps)])


class FrameEncoder:
    """
    L{encodeFrames} for a caller that encodes batch after batch (the
    journal): its pickler is made once and reused, where making one per
    batch cost about a third of a small batch's encoding.  The same bytes
    as L{encodeFrames}.  One thread at a time.
    """

    def __init__(self, frameOps: int = FRAME_OPS):
        self._frameOps = frameOps
        self._chunks = _Chunks()
        self._pickler = pickle.Pickler(self._chunks, PICKLE_PROTOCOL)

    def encode(self, ops: List[tuple]):
        """
        The log records for C{ops}, as L{encodeFrames} gives them.
        """
        if len(ops) > self._frameOps or encodePayload is not _encodePickle:
            return encodeFrames(ops, self._frameOps)
        chunks = self._chunks
        pickler = self._pickler
        try:
            pickler.dump(ops)
            if len(chunks) == 1:
                return _frame(ops, chunks[0])
            if len(ops) <= SCAN_OPS and \
                    max(map(len, chunks)) >= BIG_PART and _hasBigPart(ops):
                return _encodePieces(ops)
            return _frame(ops, b"".join(chunks))
        finally:
            # Nothing of this batch is remembered by the next.
            del chunks[:]
            pickler.clear_memo()


def encodeRecord(op: tuple) -> bytes:
    """
    A log record holding the single op C{op}.
    """
    return encodeFrame([op])


def decodeFrame(payload) -> List[tuple]:
    """
    The ops a record's payload holds.

    @raise ValueError: if the payload is not well formed.
    """
    if payload[:1] == _PLAIN:
        return decodePlain(payload)
    try:
        ops = pickle.loads(payload)
    except Exception as e:
        raise ValueError("payload can't be decoded: %s" % (e,))
    if type(ops) is not list:
        raise ValueError("payload is not a list of ops")
    return ops


class LogScan(NamedTuple):
    """
    The result of reading one log file.

    @ivar ops: the ops of every good record, in order.
    @ivar goodBytes: the length of the file's good prefix.
    @ivar tornBytes: how many bytes after it were dropped as a torn tail.
    @ivar tornReason: why, or L{None}.
    """

    ops: List[tuple]
    goodBytes: int
    tornBytes: int
    tornReason: Optional[str]


def logHeader(gen: int) -> bytes:
    """
    The header of log file C{gen} (format 2).
    """
    head = _LOG_HEADER.pack(LOG_MAGIC, LOG_VERSION, gen)
    return head + _packU32(_crc32(head))


def isLegacyLog(data: bytes) -> bool:
    """
    Whether C{data} is a log file of format 1 (records only, no header),
    as kvtwist wrote before format 2: anything not starting with
    L{LOG_MAGIC} and not empty.
    """
    return bool(data) and not data.startswith(LOG_MAGIC[:len(data)])


def checkLogHeader(data: bytes, path: str, gen: int):
    """
    Check that C{data} starts with a good header naming generation C{gen}.

    @raise CorruptLog: at offset 0 if not.
    """
    if not data:
        raise CorruptLog(path, 0, "the file is empty (its header is "
                                  "missing)")
    if len(data) < LOG_HEADER_SIZE:
        raise CorruptLog(path, 0, "the file header is cut short")
    magic, version, found = _LOG_HEADER.unpack_from(data)
    (crc,) = _U32.unpack_from(data, _LOG_HEADER.size)
    if magic != LOG_MAGIC or crc != _crc32(data[:_LOG_HEADER.size]):
        raise CorruptLog(path, 0, "the file header is damaged")
    if version != LOG_VERSION:
        raise CorruptLog(path, 0, "log format version %d; this kvtwist "
                                  "reads %d" % (version, LOG_VERSION))
    if found != gen:
        raise CorruptLog(path, 0, "the file holds generation %d, not %d "
                                  "(renamed or reordered files?)"
                                  % (found, gen))


def _payloadOps(view, start: int, end: int, crc: int, path: str,
                pos: int) -> Optional[List[tuple]]:
    """
    The ops of the record at C{pos} whose payload is C{view[start:end]},
    or L{None} if the payload fails its CRC.

    @raise CorruptLog: if it passes but doesn't decode.
    """
    payload = view[start:end]
    if _crc32(payload) != crc:
        return None
    try:
        return decodeFrame(payload)
    except ValueError as e:
        raise CorruptLog(path, pos, str(e))


def scanLog(data: bytes, path: str = "<log>", allowTorn: bool = True,
            start: int = LOG_HEADER_SIZE) -> LogScan:
    """
    Parse the records of one log file (format 2), from offset C{start}
    (after the file header, which L{checkLogHeader} checks).

    Only the last file can have a torn tail, and only in one of these ways:
    fewer bytes left than a record header; a record whose header is good
    (its CRC protects its length) but runs past the end of the file; or
    nothing but zero bytes from a record's start to the end.  If
    C{allowTorn}, that record and everything after it are reported in
    C{tornBytes}.

    @raise CorruptLog: for any other damage (a record header or payload
        failing its CRC with data after it, a payload that doesn't
        decode), or any damage when not C{allowTorn}: naming the file and
        the record's offset.
    """
    view = memoryview(data)
    size = len(data)
    pos = start
    ops = []
    unpack = _RECORD_HEADER.unpack_from
    unpackU32 = _U32.unpack_from
    while pos < size:
        torn = False
        if size - pos < RECORD_HEADER_SIZE:
            reason = "short record header"
            torn = True
        else:
            length, crc = unpack(view, pos)
            (headCrc,) = unpackU32(view, pos + 8)
            end = pos + RECORD_HEADER_SIZE + length
            if _crc32(view[pos:pos + 8]) != headCrc:
                reason = "bad record header checksum"
            elif length < 1:
                reason = "bad record length %d" % (length,)
            elif end > size:
                reason = "record runs past the end of the file (%d of %d " \
                         "bytes)" % (size - pos - RECORD_HEADER_SIZE, length)
                torn = True
            else:
                found = _payloadOps(view, pos + RECORD_HEADER_SIZE, end, crc,
                                    path, pos)
                if found is None:
                    reason = "CRC mismatch"
                else:
                    ops.extend(found)
                    pos = end
                    continue
        if not torn and not data[pos:].strip(b"\x00"):
            torn = True
        if torn and allowTorn:
            return LogScan(ops, pos, size - pos, reason)
        raise CorruptLog(path, pos, reason)
    return LogScan(ops, pos, 0, None)


def scanLegacyLog(data: bytes, path: str = "<log>", allowTorn: bool = True
                  ) -> LogScan:
    """
    Parse a log file of format 1 (what kvtwist wrote before format 2: no
    file header, no record header checksum): records of C{u32 length,
    u32 CRC, payload}.

    A bad record whose declared end reaches the end of the data, or that is
    followed only by zero bytes, is taken for a torn tail (format 1 can't
    tell a flipped length bit from a torn write: format 2 can).

    @raise CorruptLog: for any other damage, or any damage when not
        C{allowTorn}.
    """
    view = memoryview(data)
    size = len(data)
    pos = 0
    ops = []
    unpack = _RECORD_HEADER.unpack_from
    while pos < size:
        reason = None
        end = size
        if size - pos < 8:
            reason = "short record header"
        else:
            length, crc = unpack(view, pos)
            end = pos + 8 + length
            if length < 1:
                reason = "bad record length %d" % (length,)
            elif end > size:
                reason = "record cut short (%d of %d bytes)" % (
                    size - pos - 8, length)
            else:
                found = _payloadOps(view, pos + 8, end, crc, path, pos)
                if found is None:
                    reason = "CRC mismatch"
                else:
                    ops.extend(found)
                    pos = end
                    continue
        torn = end >= size or not data[pos:].strip(b"\x00")
        if torn and allowTorn:
            return LogScan(ops, pos, size - pos, reason)
        raise CorruptLog(path, pos, reason)
    return LogScan(ops, pos, 0, None)
