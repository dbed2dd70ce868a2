# -*- test-case-name: kvtwist.test.test_persistence -*-
"""
The files kvtwist keeps on disk, and how to read and write them.

Nothing here knows about the reactor: these are plain functions and a thin
file layer, used by L{kvtwist.service.StoreService} on the reactor thread,
in its flush thread and in the forked snapshot child.

The data directory
==================

The data directory (C{--data-dir}) holds::

    kvtwist.snapshot        the last snapshot (may be absent)
    kvtwist-00000007.aof    append-only log, generation 7
    kvtwist-00000008.aof    ... generation 8 (the live one)
    *.tmp                   a snapshot being written; removed at startup

Every write is journaled as one record in the live log generation.  A
snapshot holds the whole store as of the end of some generation C{G} and
records C{G + 1}, the first generation it does I{not} include.  When a
snapshot starts (C{SAVE}, C{BGSAVE} or automatic compaction) the server
first opens generation C{G + 1} for every later write, then serialises the
store; once the snapshot is safely renamed into place, the generations it
covers are deleted.

Recovery at startup: remove leftover C{*.tmp} files; load the snapshot (if
any); delete the generations it covers; replay every remaining generation
in order; then begin a fresh generation (never append after a tail that a
crash may have torn).  To start fresh, stop the server and delete the
C{kvtwist.snapshot} and C{kvtwist-*.aof} files (or the whole directory).

Log records
===========

A log file is a sequence of records::

    u32 length of the payload (little-endian)
    u32 crc32 of the payload
    payload: a pickle (protocol 4) of a list of ops (CPython), or b"K"
             then, per op, u32 count, u32 length per part, the parts (PyPy,
             where that encodes three times faster); either reads both

An op is a tuple of byte strings naming one store mutation (see
L{kvtwist.store.Store.apply}), e.g. C{(b"SET", key, value)}.  Each flush
writes its ops as records of at most L{FRAME_OPS} ops: the hot path only
appends the op tuple to a list, and the flush thread encodes the batch.

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

import errno
import os
import pickle
import platform
import re
import struct
import zlib
from typing import List, NamedTuple, Optional, Tuple

SNAPSHOT_NAME = "kvtwist.snapshot"
SNAPSHOT_TMP_NAME = "kvtwist.snapshot.tmp"
TMP_SUFFIX = ".tmp"
SNAPSHOT_MAGIC = b"KVTWSNAP"
SNAPSHOT_VERSION = 1
PICKLE_PROTOCOL = 4

_LOG_RE = re.compile(r"\Akvtwist-(\d+)\.aof\Z")

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


# -- log records -----------------------------------------------------------

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


# -- file names ------------------------------------------------------------

def logName(gen: int) -> str:
    """
    The file name of log generation C{gen}.
    """
    return "kvtwist-%08d.aof" % (gen,)


def parseLogName(name: str) -> Optional[int]:
    """
    The generation a log file name holds, or L{None} if it is not one.
    """
    m = _LOG_RE.match(name)
    return int(m.group(1)) if m else None


class DirListing(NamedTuple):
    """
    What a data directory holds.

    @ivar snapshot: the snapshot's path, or L{None}.
    @ivar logs: C{(generation, path)} for every log, in order.
    @ivar temps: leftover temporary files.
    """

    snapshot: Optional[str]
    logs: List[Tuple[int, str]]
    temps: List[str]


def listDataDir(dataDir: str) -> DirListing:
    """
    List the kvtwist files in C{dataDir}.
    """
    snapshot = None
    logs = []
    temps = []
    for name in sorted(os.listdir(dataDir)):
        path = os.path.join(dataDir, name)
        if name == SNAPSHOT_NAME:
            snapshot = path
        elif name.endswith(TMP_SUFFIX) and name.startswith("kvtwist"):
            temps.append(path)
        else:
            gen = parseLogName(name)
            if gen is not None:
                logs.append((gen, path))
    logs.sort()
    return DirListing(snapshot, logs, temps)


# -- snapshots -------------------------------------------------------------

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


def readSnapshotInfo(path: str) -> Tuple[int, int]:
    """
    C{(nextGen, savedAtMs)} from a snapshot's header, without checking or
    decoding the payload.
    """
    with open(path, "rb") as f:
        head = f.read(len(SNAPSHOT_MAGIC) + _SNAP_HEADER.size)
    if not head.startswith(SNAPSHOT_MAGIC) or len(head) < (
            len(SNAPSHOT_MAGIC) + _SNAP_HEADER.size):
        raise CorruptSnapshot("%s is not a kvtwist snapshot" % (path,))
    _, nextGen, savedAt, _ = _SNAP_HEADER.unpack_from(head,
                                                      len(SNAPSHOT_MAGIC))
    return nextGen, savedAt


# -- the file layer --------------------------------------------------------

class FileSystem:
    """
    The few file operations persistence needs, on the real file system.
    Tests substitute a subclass that fails on demand.
    """

    def openLog(self, path: str) -> int:
        """
        Open (creating if needed) a log file for writing; return its fd.
        """
        return os.open(path, os.O_WRONLY | os.O_CREAT | getattr(
            os, "O_CLOEXEC", 0), 0o644)

    def writeAt(self, fd: int, data: bytes, offset: int):
        """
        Write all of C{data} at C{offset}.  Writing at a known offset (not
        appending) means a retry after a partial failure overwrites the
        partial bytes instead of leaving them in the middle of the log.
        """
        view = memoryview(data)
        while view:
            n = os.pwrite(fd, view, offset)
            if n <= 0:
                raise OSError(errno.EIO, "short write")
            view = view[n:]
            offset += n

    def fsync(self, fd: int):
        """
        Flush C{fd}'s data to stable storage.
        """
        os.fsync(fd)

    def fsyncDir(self, path: str):
        """
        Make the directory C{path}'s entries (creations, renames, unlinks)
        durable.
        """
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self, fd: int):
        """
        Close C{fd}.
        """
        os.close(fd)

    def truncate(self, path: str, length: int):
        """
        Cut the file at C{path} to C{length} bytes, durably.
        """
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, length)
            os.fsync(fd)
        finally:
            os.close(fd)

    def readFile(self, path: str) -> bytes:
        """
        The whole content of C{path}.
        """
        with open(path, "rb") as f:
            return f.read()

    def rename(self, src: str, dst: str):
        """
        Atomically replace C{dst} by C{src}.
        """
        os.replace(src, dst)

    def remove(self, path: str):
        """
        Delete C{path}; a missing file is not an error.
        """
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def writeNew(self, path: str, chunks: List[bytes]):
        """
        Create (or replace) C{path} with C{chunks}, then fsync it.
        """
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(
            os, "O_CLOEXEC", 0), 0o644)
        try:
            offset = 0
            for chunk in chunks:
                self.writeAt(fd, chunk, offset)
                offset += len(chunk)
            os.fsync(fd)
        finally:
            os.close(fd)


def writeSnapshot(fs: FileSystem, dataDir: str, state, nextGen: int,
                  savedAtMs: int, tmpName: str = SNAPSHOT_TMP_NAME) -> int:
    """
    Write a snapshot of C{state} to a temporary file in C{dataDir} and fsync
    it; do not install it.  Return its size in bytes.

    Run this where blocking is fine: a forked child, or C{SAVE}.
    """
    payload = encodeSnapshotPayload(state)
    header = snapshotHeader(nextGen, savedAtMs, len(payload))
    crc = _crc32(payload, _crc32(header))
    trailer = _U32.pack(crc)
    fs.writeNew(os.path.join(dataDir, tmpName), [header, payload, trailer])
    return len(header) + len(payload) + len(trailer)


def installSnapshot(fs: FileSystem, dataDir: str, obsoleteLogs: List[str],
                    tmpName: str = SNAPSHOT_TMP_NAME):
    """
    Rename a written temporary snapshot into place, fsync the directory,
    then delete the log files it covers.
    """
    fs.rename(os.path.join(dataDir, tmpName),
              os.path.join(dataDir, SNAPSHOT_NAME))
    fs.fsyncDir(dataDir)
    for path in obsoleteLogs:
        fs.remove(path)
    if obsoleteLogs:
        fs.fsyncDir(dataDir)

