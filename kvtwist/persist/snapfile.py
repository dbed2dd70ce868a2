# -*- test-case-name: kvtwist.test.test_persist_format -*-
"""
The bytes of the snapshot and of the manifest (the log files are
L{kvtwist.persist.format}'s).  Plain functions, no I/O.

The manifest
============

::

    8 bytes  magic b"KVTWMANI"
    u32      version (1)
    u64      the first generation the snapshot does not cover (1: none)
    u64      the last generation created
    u32      crc32 of everything before it

It says which files the directory must hold, so that a missing snapshot
or log generation (even the newest) is noticed.

The snapshot
============

::

    8 bytes  magic b"KVTWSNAP"
    u32      format version (2; 1 is read too)
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
import struct
import zlib
from typing import Callable, NamedTuple

from kvtwist.persist.format import PICKLE_PROTOCOL, PersistenceError

SNAPSHOT_MAGIC = b"KVTWSNAP"
SNAPSHOT_VERSION = 2
#: Snapshot versions this kvtwist reads (1 and 2 differ only in what the
#: directory around them holds: 2 comes with a manifest).
SNAPSHOT_VERSIONS = (1, 2)
_SNAP_HEADER = struct.Struct("<IQQQ")
_U32 = struct.Struct("<I")
_crc32 = zlib.crc32
_packU32 = _U32.pack

#: The manifest: magic, version, the first generation the snapshot does
#: not cover (1: no snapshot), the last generation created, CRC.
MANIFEST_MAGIC = b"KVTWMANI"
MANIFEST_VERSION = 1
_MANIFEST = struct.Struct("<8sIQQ")


class CorruptSnapshot(PersistenceError):
    """
    The snapshot file fails a check.
    """


class Manifest(NamedTuple):
    """
    What the data directory must hold, as last recorded.

    @ivar base: the first generation the snapshot does not cover (1 when
        there is no snapshot).
    @ivar last: the last generation created.
    """

    base: int
    last: int


class CorruptManifest(PersistenceError):
    """
    The manifest fails a check.
    """


def encodeManifest(manifest: Manifest) -> bytes:
    """
    The bytes of the manifest file.
    """
    body = _MANIFEST.pack(MANIFEST_MAGIC, MANIFEST_VERSION, manifest.base,
                          manifest.last)
    return body + _packU32(_crc32(body))


def decodeManifest(content: bytes, path: str = "<manifest>") -> Manifest:
    """
    Check and decode the manifest file.

    @raise CorruptManifest: naming C{path}, if a check fails.
    """
    if len(content) != _MANIFEST.size + 4:
        raise CorruptManifest("%s is damaged (%d bytes, expected %d)"
                              % (path, len(content), _MANIFEST.size + 4))
    magic, version, base, last = _MANIFEST.unpack_from(content)
    (crc,) = _U32.unpack_from(content, _MANIFEST.size)
    if magic != MANIFEST_MAGIC or crc != _crc32(content[:_MANIFEST.size]):
        raise CorruptManifest("%s is damaged (bad magic or CRC)" % (path,))
    if version != MANIFEST_VERSION:
        raise CorruptManifest("%s has version %d; this kvtwist reads %d"
                              % (path, version, MANIFEST_VERSION))
    return Manifest(base, last)


# -- snapshots --------------------------------------------------------------

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
    @ivar version: its format version.
    """

    nextGen: int
    savedAtMs: int
    data: dict
    expires: dict
    version: int = SNAPSHOT_VERSION


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
    if version not in SNAPSHOT_VERSIONS:
        raise CorruptSnapshot("%s has snapshot format version %d; this "
                              "kvtwist reads versions %s"
                              % (path, version, ", ".join(
                                  str(v) for v in SNAPSHOT_VERSIONS)))
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
    return Snapshot(nextGen, savedAt, data, expires, version)
