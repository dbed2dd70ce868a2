# -*- test-case-name: kvtwist.test.test_persist_format -*-
"""
The bytes of kvtwist's files: log records and snapshots.

Plain functions with no I/O: the journal encodes records with them on the
reactor thread, recovery decodes them, and the snapshot child encodes the
store.  Where the files live and how they are written is
L{kvtwist.persist.files}; the layout of the data directory is described in
L{kvtwist.persist}.

Log records
===========

A log file is a sequence of records::

    u32 length of the payload (little-endian)
    u32 crc32 of the payload
    payload: a pickle (protocol 4) of a list of ops (CPython), or b"K"
             then, per op, u32 count, u32 length per part, the parts (PyPy,
             where that encodes three times faster); either reads both

An op is a tuple of byte strings naming one store mutation (see
L{kvtwist.store.Store.apply}), e.g. C{(b"SET", key, value)}.  Ops are
encoded at most L{FRAME_OPS} to a record.

A record that is cut short, or whose CRC fails, at the end of the last log
that holds data is a I{torn tail}: a crash interrupted that flush, whose
writes were therefore never acknowledged as durable.  It is dropped (the
file is truncated) with a logged warning.  Damage anywhere else is
corruption: recovery refuses to start and names the file and offset,
rather than silently losing the writes after it.

The snapshot
============

::

    8 bytes  magic b"KVTWSNAP"
    u32      format version (1)
    u64      next log generation (the first one NOT in the snapshot)
    u64      time the snapshot was taken, ms since the epoch
    u64      payload length
    payload  pickle (protocol 4) of (data, expires) as Store.dumpState()
    u32      crc32 of everything before it

A snapshot that fails any check makes recovery refuse to start.  The
snapshot is a pickle: the data directory must be as trusted as the server
itself (as Redis's RDB file is).
"""

import pickle
import platform
import struct
import zlib
from typing import Callable, List, NamedTuple, Optional

SNAPSHOT_MAGIC = b"KVTWSNAP"
SNAPSHOT_VERSION = 1
PICKLE_PROTOCOL = 4

_RECORD_HEADER = struct.Struct("<II")
_U32 = struct.Struct("<I")
_SNAP_HEADER = struct.Struct("<IQQQ")
_MAX_RECORD = 0xFFFFFFFF

_crc32 = zlib.crc32
_packHeader = _RECORD_HEADER.pack


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


class CorruptSnapshot(PersistenceError):
    """
    The snapshot file fails a check.
    """


#: The most ops one log record (frame) holds.
FRAME_OPS = 1000


#: First byte of a payload in the plain format (a pickle starts with 0x80).
_PLAIN = b"K"
_plainStructs = {}
_packThree = struct.Struct("<4I").pack


def encodePlain(ops: List[tuple]) -> bytes:
    """
    The plain payload format: C{K}, then for each op a u32 count of its
    parts, a u32 length per part, and the parts.  On PyPy it encodes
    several times faster than pickle (whose PyPy implementation is written
    in Python); on CPython pickle (in C) is faster.

    Ops of three parts (C{SET key value}, by far the most common) take a
    path of their own: on PyPy it encodes them in a third of the time.
    """
    out = bytearray(_PLAIN)
    structs = _plainStructs
    for op in ops:
        n = len(op)
        if n == 3:
            a, b, c = op
            out += _packThree(3, len(a), len(b), len(c))
            out += a
            out += b
            out += c
            continue
        packer = structs.get(n)
        if packer is None:
            packer = structs[n] = struct.Struct("<%dI" % (n + 1,))
        out += packer.pack(n, *[len(part) for part in op])
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


def _encodePickle(ops: List[tuple]) -> bytes:
    return pickle.dumps(ops, PICKLE_PROTOCOL)


#: The payload encoder of this interpreter: both read either format.
encodePayload = (encodePlain if platform.python_implementation() == "PyPy"
                 else _encodePickle)


def encodeFrame(ops: List[tuple]) -> bytes:
    """
    One log record holding C{ops} (tuples of L{bytes}): header, CRC and the
    payload (a pickle, protocol 4, of the list on CPython; the plain format
    of L{encodePlain} on PyPy).
    """
    payload = encodePayload(ops)
    if len(payload) > _MAX_RECORD and len(ops) > 1:
        half = len(ops) // 2
        return encodeFrame(ops[:half]) + encodeFrame(ops[half:])
    return _packHeader(len(payload), _crc32(payload)) + payload


def encodeFrames(ops: List[tuple], frameOps: int = FRAME_OPS) -> bytes:
    """
    The log records for C{ops}, at most C{frameOps} ops per record, as one
    string ready to write.

    Pickling a bounded slice at a time keeps the pickler's memo small,
    which is several times faster than one pickle of a long list.
    """
    if len(ops) <= frameOps:
        return encodeFrame(ops)
    return b"".join([encodeFrame(ops[i:i + frameOps])
                     for i in range(0, len(ops), frameOps)])


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


def scanLog(data: bytes, path: str = "<log>", allowTorn: bool = True
            ) -> LogScan:
    """
    Parse the contents of one log file.

    A bad record whose declared end reaches the end of the data, or that is
    followed only by zero bytes, is a torn tail: if C{allowTorn}, it and
    everything after it are reported in C{tornBytes}.

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
            if length < 1 or length > _MAX_RECORD:
                reason = "bad record length %d" % (length,)
                end = size if length > _MAX_RECORD else end
            elif end > size:
                reason = "record cut short (%d of %d bytes)" % (
                    size - pos - 8, length)
            else:
                payload = view[pos + 8:end]
                if _crc32(payload) != crc:
                    reason = "CRC mismatch"
                else:
                    try:
                        ops.extend(decodeFrame(payload))
                    except ValueError as e:
                        raise CorruptLog(path, pos, str(e))
                    pos = end
                    continue
        torn = end >= size or not data[pos:].strip(b"\x00")
        if torn and allowTorn:
            return LogScan(ops, pos, size - pos, reason)
        raise CorruptLog(path, pos, reason)
    return LogScan(ops, pos, 0, None)


def snapshotHeader(nextGen: int, savedAtMs: int, payloadLength: int) -> bytes:
    """
    The bytes of a snapshot before its payload.
    """
    return SNAPSHOT_MAGIC + _SNAP_HEADER.pack(
        SNAPSHOT_VERSION, nextGen, int(savedAtMs), payloadLength)


def encodeSnapshotPayload(state) -> bytes:
    """
    Serialise C{state} (as L{kvtwist.store.Store.dumpState} returns it).
    """
    return pickle.dumps(state, PICKLE_PROTOCOL)


def snapshotTrailer(header: bytes, payload: bytes) -> bytes:
    """
    The bytes that end a snapshot: the CRC of its header and payload.
    """
    return _U32.pack(_crc32(payload, _crc32(header)))


class Snapshot(NamedTuple):
    """
    A decoded snapshot.

    @ivar nextGen: the first log generation not included.
    @ivar savedAtMs: when it was taken.
    @ivar data: the keys and values.
    @ivar expires: the expiry times.
    """

    nextGen: int
    savedAtMs: int
    data: dict
    expires: dict


def checkSnapshotStream(read: Callable[[int], bytes], size: int, path: str,
                        nextGen: int, chunk: int = 1 << 20):
    """
    Check a whole snapshot file read through C{read(n)} a chunk at a time
    (memory stays small, and in a thread the GIL is let go between
    chunks): its header, that it covers the generations before
    C{nextGen}, its length (C{size}) and its CRC.  The payload is not
    decoded.

    @raise CorruptSnapshot: naming C{path}, if any check fails.
    """
    fixed = len(SNAPSHOT_MAGIC) + _SNAP_HEADER.size
    header = read(fixed)
    if len(header) < fixed or not header.startswith(SNAPSHOT_MAGIC):
        raise CorruptSnapshot("%s is not a kvtwist snapshot (bad magic or "
                              "too short)" % (path,))
    version, gen, _, length = _SNAP_HEADER.unpack_from(
        header, len(SNAPSHOT_MAGIC))
    if version != SNAPSHOT_VERSION or gen != nextGen:
        raise CorruptSnapshot("%s is not the snapshot expected (version %d, "
                              "generation %d; expected %d, %d)"
                              % (path, version, gen, SNAPSHOT_VERSION,
                                 nextGen))
    if fixed + length + 4 != size:
        raise CorruptSnapshot("%s is truncated or has trailing garbage "
                              "(%d bytes, expected %d)"
                              % (path, size, fixed + length + 4))
    crc = _crc32(header)
    left = length
    while left:
        data = read(min(chunk, left))
        if not data:
            raise CorruptSnapshot("%s is truncated" % (path,))
        crc = _crc32(data, crc)
        left -= len(data)
    trailer = read(4)
    if len(trailer) != 4 or _U32.unpack(trailer)[0] != crc:
        raise CorruptSnapshot("%s fails its CRC check" % (path,))


def decodeSnapshot(content: bytes, path: str = "<snapshot>") -> Snapshot:
    """
    Check and decode a whole snapshot file.

    @raise CorruptSnapshot: naming C{path}, if any check fails.
    """
    fixed = len(SNAPSHOT_MAGIC) + _SNAP_HEADER.size
    if len(content) < fixed + 4 or not content.startswith(SNAPSHOT_MAGIC):
        raise CorruptSnapshot("%s is not a kvtwist snapshot (bad magic or "
                              "too short)" % (path,))
    version, nextGen, savedAt, length = _SNAP_HEADER.unpack_from(
        content, len(SNAPSHOT_MAGIC))
    if version != SNAPSHOT_VERSION:
        raise CorruptSnapshot("%s has snapshot format version %d; this "
                              "kvtwist reads version %d"
                              % (path, version, SNAPSHOT_VERSION))
    if fixed + length + 4 != len(content):
        raise CorruptSnapshot("%s is truncated or has trailing garbage "
                              "(%d bytes, expected %d)"
                              % (path, len(content), fixed + length + 4))
    view = memoryview(content)
    (crc,) = _U32.unpack_from(content, fixed + length)
    if _crc32(view[:fixed + length]) != crc:
        raise CorruptSnapshot("%s fails its CRC check" % (path,))
    try:
        data, expires = pickle.loads(view[fixed:fixed + length])
    except Exception as e:
        raise CorruptSnapshot("%s payload can't be decoded: %s" % (path, e))
    if not isinstance(data, dict) or not isinstance(expires, dict):
        raise CorruptSnapshot("%s payload has the wrong shape" % (path,))
    return Snapshot(nextGen, savedAt, data, expires)
