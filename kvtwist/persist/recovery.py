# -*- test-case-name: kvtwist.test.test_persist_recovery -*-
"""
Recovery: from the files of a data directory to a store, plus a report.

L{recover} reads the snapshot and the log generations and loads them into
a store; it changes nothing on disk.  What the directory needs tidying
afterwards (leftover temporary files, logs a snapshot covers, a torn tail
to cut off) is listed in the report, and L{tidy} does it once the server
has decided to start.  A directory that can't be recovered raises
L{RecoveryError}, with a message that names the file.
"""

from typing import List, NamedTuple, Optional, Tuple

from kvtwist.persist import format
from kvtwist.persist.files import FileSystem, listDataDir
from kvtwist.persist.format import PersistenceError
from kvtwist.persist.journal import describe


class RecoveryError(PersistenceError):
    """
    The data directory can't be recovered; the server must not start.
    """


class TornTail(NamedTuple):
    """
    A torn last record dropped from a log.

    @ivar path: the log file.
    @ivar offset: where the torn record starts (the good length).
    @ivar size: the bytes dropped.
    @ivar reason: what was wrong with it.
    """

    path: str
    offset: int
    size: int
    reason: Optional[str]


class Recovery(NamedTuple):
    """
    What L{recover} found and loaded.

    @ivar snapshot: the snapshot's path, or L{None}.
    @ivar snapshotSize: its size in bytes (0: none).
    @ivar savedAtMs: when it was taken, or L{None} without one.
    @ivar nextGen: the first log generation it does not cover (1 without).
    @ivar live: C{(generation, path, good bytes)} of every log replayed
        that holds records, in order.
    @ivar lastGen: the highest log generation found (or C{nextGen - 1}).
    @ivar replayed: how many ops the logs gave.
    @ivar torn: the torn tail dropped, or L{None}.
    @ivar temps: leftover temporary files, to remove.
    @ivar remove: log files to remove: covered by the snapshot, or empty.
    """

    snapshot: Optional[str]
    snapshotSize: int
    savedAtMs: Optional[int]
    nextGen: int
    live: List[Tuple[int, str, int]]
    lastGen: int
    replayed: int
    torn: Optional[TornTail]
    temps: List[str]
    remove: List[str]

    @property
    def tornBytes(self) -> int:
        """
        The bytes dropped from a torn tail (0: none).
        """
        return self.torn.size if self.torn is not None else 0


def recover(store, dataDir: str, fs: FileSystem) -> Recovery:
    """
    Load the snapshot of C{dataDir} and replay its logs into C{store}.
    Nothing on disk changes.

    @param store: an empty L{kvtwist.store.Store}; its C{journal} must be
        L{None} (nothing replayed is journaled again).
    @raise RecoveryError: if the files can't be recovered.
    """
    try:
        listing = listDataDir(dataDir)
    except OSError as e:
        raise RecoveryError("can't list the data directory %s: %s"
                            % (dataDir, describe(e)))

    nextGen = 1
    snapshotSize = 0
    savedAtMs = None
    if listing.snapshot is not None:
        try:
            content = fs.readFile(listing.snapshot)
            snap = format.decodeSnapshot(content, listing.snapshot)
        except format.CorruptSnapshot as e:
            raise RecoveryError(
                "%s. Refusing to start rather than lose data: move the "
                "file away to start from the logs alone." % (e,))
        except OSError as e:
            raise RecoveryError("can't read %s: %s"
                                % (listing.snapshot, describe(e)))
        store.loadState(snap.data, snap.expires)
        nextGen = snap.nextGen
        snapshotSize = len(content)
        savedAtMs = snap.savedAtMs
        del content, snap

    lastGen = nextGen - 1
    remove = []
    logs = []
    for gen, path in listing.logs:
        lastGen = max(lastGen, gen)
        if gen < nextGen:
            remove.append(path)
            continue
        try:
            data = fs.readFile(path)
        except OSError as e:
            raise RecoveryError("can't read %s: %s" % (path, describe(e)))
        if not data:
            remove.append(path)
            continue
        logs.append((gen, path, data))
    lastWithData = logs[-1][0] if logs else None

    live = []
    replayed = 0
    torn = None
    for gen, path, data in logs:
        try:
            scan = format.scanLog(data, path,
                                  allowTorn=(gen == lastWithData))
        except format.CorruptLog as e:
            raise RecoveryError(
                "%s. Refusing to start rather than silently lose the "
                "writes after it; truncate the file at that offset to "
                "accept losing them." % (e,))
        del data
        for i, op in enumerate(scan.ops):
            try:
                store.apply(op)
            except ValueError as e:
                raise RecoveryError("log %s record %d can't be replayed: "
                                    "%s" % (path, i, e))
        replayed += len(scan.ops)
        if scan.tornBytes:
            torn = TornTail(path, scan.goodBytes, scan.tornBytes,
                            scan.tornReason)
        if scan.goodBytes == 0:
            remove.append(path)
        else:
            live.append((gen, path, scan.goodBytes))
    return Recovery(listing.snapshot, snapshotSize, savedAtMs, nextGen,
                    live, lastGen, replayed, torn, listing.temps, remove)


def tidy(fs: FileSystem, recovery: Recovery, log):
    """
    Do what C{recovery} found the directory needs: remove leftover
    temporary files and the logs listed, cut off a torn tail.

    @param log: a L{twisted.logger.Logger} to report on.
    @raise RecoveryError: if a torn tail can't be cut off.
    """
    for path in recovery.temps:
        log.info("Removing leftover temporary file {path}", path=path)
        try:
            fs.remove(path)
        except OSError as e:
            log.warn("Can't remove {path}: {error}", path=path,
                     error=describe(e))
    torn = recovery.torn
    if torn is not None:
        log.warn(
            "Dropping a torn last record in {path}: {bytes} bytes at offset "
            "{offset} ({reason}); the server crashed while writing it",
            path=torn.path, bytes=torn.size, offset=torn.offset,
            reason=torn.reason)
        try:
            fs.truncate(torn.path, torn.offset)
        except OSError as e:
            raise RecoveryError("can't truncate the torn tail of %s: %s"
                                % (torn.path, describe(e)))
    for path in recovery.remove:
        log.info("Removing {path}: the snapshot covers it or it is empty",
                 path=path)
        fs.remove(path)
