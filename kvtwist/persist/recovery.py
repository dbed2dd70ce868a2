# -*- test-case-name: kvtwist.test.test_persist_recovery -*-
"""
Recovery: from the files of a data directory to a store, plus a report.

L{recover} reads the manifest, the snapshot and the log generations,
checks that they form an unbroken chain, and loads them into a store; it
changes nothing on disk.  What the directory needs tidying afterwards
(leftover temporary files, logs a snapshot covers, a torn tail to cut off)
is listed in the report, and L{tidy} does it once the server has decided
to start.

The chain: the snapshot covers every generation before its C{nextGen} (1
without a snapshot); from there, every generation up to the last one the
manifest names (or the last file, if later) must be present, each file's
header naming its generation.  A missing, emptied, damaged or misplaced
file refuses to start with L{RecoveryError}, naming it; so does a damaged
record anywhere but at the very end of the last log (a torn tail).

With C{salvage} (C{--load-damaged}), problems are reported instead of
refused: what can be read is loaded, in order, skipping what can't (the
rest of a log after a damaged record, a damaged snapshot), and the
service then sets the old files aside.
"""

import os
from typing import List, NamedTuple, Optional, Tuple

from kvtwist.persist import format, snapfile
from kvtwist.persist.files import TMP_SUFFIX, FileSystem, listDataDir, logName
from kvtwist.persist.format import PersistenceError
from kvtwist.startup import StartupError
from kvtwist.persist.journal import describe

#: Said after every refusal.
HOW_TO_START_ANYWAY = (
    "Nothing was changed. To start anyway with what can be read, start "
    "with --load-damaged: the files are then moved to a damaged-* "
    "directory inside the data directory, not deleted.")


class RecoveryError(PersistenceError, StartupError):
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
    @ivar live: C{(generation, path, good bytes)} of every log replayed,
        in order.
    @ivar lastGen: the last generation of the chain (C{nextGen - 1} if
        there is no log).
    @ivar lastIsEmpty: whether the last log holds no record (it can go on
        being written).
    @ivar replayed: how many ops the logs gave.
    @ivar torn: the torn tail dropped, or L{None}.
    @ivar temps: leftover temporary files, to remove.
    @ivar remove: log files the snapshot covers, to remove.
    @ivar legacy: whether the directory holds files of format 1 (written
        before format 2): the service converts it.
    @ivar problems: what could not be loaded (only with C{salvage}).
    @ivar files: every kvtwist file found (snapshot, manifest, logs).
    """

    snapshot: Optional[str]
    snapshotSize: int
    savedAtMs: Optional[int]
    nextGen: int
    live: List[Tuple[int, str, int]]
    lastGen: int
    lastIsEmpty: bool
    replayed: int
    torn: Optional[TornTail]
    temps: List[str]
    remove: List[str]
    legacy: bool
    problems: List[str]
    files: List[str]

    @property
    def tornBytes(self) -> int:
        """
        The bytes dropped from a torn tail (0: none).
        """
        return self.torn.size if self.torn is not None else 0


class _Problems:
    """
    Refuses at the first problem, or with C{salvage} collects them.
    """

    def __init__(self, salvage: bool):
        self.salvage = salvage
        self.found: List[str] = []

    def __call__(self, message: str):
        if not self.salvage:
            raise RecoveryError(message + ". " + HOW_TO_START_ANYWAY)
        self.found.append(message)


def recover(store, dataDir: str, fs: FileSystem,
            salvage: bool = False) -> Recovery:
    """
    Load the snapshot of C{dataDir} and replay its logs into C{store},
    after checking the chain of files.  Nothing on disk changes.

    @param store: an empty L{kvtwist.store.Store}; its C{journal} must be
        L{None} (nothing replayed is journaled again).
    @param salvage: load what can be loaded and report the problems
        instead of refusing.
    @raise RecoveryError: naming the file, if the files can't be recovered
        (never with C{salvage}, but for a directory that can't be listed).
    """
    try:
        listing = listDataDir(dataDir)
    except OSError as e:
        raise RecoveryError("can't list the data directory %s: %s"
                            % (dataDir, describe(e)))
    problem = _Problems(salvage)
    files = [p for p in [listing.snapshot, listing.manifest] if p] + [
        p for _, p in listing.logs]

    manifest = None
    if listing.manifest is not None:
        try:
            manifest = snapfile.decodeManifest(fs.readFile(listing.manifest),
                                             listing.manifest)
        except (snapfile.CorruptManifest, OSError) as e:
            problem(str(e))

    nextGen = 1
    snapshotSize = 0
    savedAtMs = None
    snapshotVersion = None
    if listing.snapshot is not None:
        try:
            content = fs.readFile(listing.snapshot)
            snap = snapfile.decodeSnapshot(content, listing.snapshot)
        except snapfile.CorruptSnapshot as e:
            problem(str(e))
        except OSError as e:
            problem("can't read %s: %s" % (listing.snapshot, describe(e)))
        else:
            try:
                store.loadState(snap.data, snap.expires)
            except ValueError as e:
                # Data in a database beyond --databases.
                problem("%s can't be loaded: %s" % (listing.snapshot, e))
            nextGen = snap.nextGen
            snapshotSize = len(content)
            savedAtMs = snap.savedAtMs
            snapshotVersion = snap.version
            del content, snap

    remove = [path for gen, path in listing.logs if gen < nextGen]
    logs = []
    for gen, path in listing.logs:
        if gen < nextGen:
            continue
        try:
            logs.append((gen, path, fs.readFile(path)))
        except OSError as e:
            problem("can't read %s: %s" % (path, describe(e)))

    legacy = any(format.isLegacyLog(data) for _, _, data in logs) or (
        listing.manifest is None and snapshotVersion == 1)
    if legacy:
        # Format 1 left empty logs behind (and removed them, leaving gaps).
        remove += [path for _, path, data in logs if not data]
        logs = [log for log in logs if log[2]]
    elif listing.manifest is None and logs:
        problem("the manifest %s/kvtwist.manifest is missing" % (dataDir,))

    lastGen = max([nextGen - 1] + [gen for gen, _, _ in logs])
    if manifest is not None:
        if listing.snapshot is None and manifest.base > 1:
            problem("the snapshot %s/kvtwist.snapshot is missing (the "
                    "manifest says one covers the generations before %d)"
                    % (dataDir, manifest.base))
        elif listing.snapshot is not None and nextGen < manifest.base:
            problem("the snapshot %s covers the generations before %d, "
                    "older than the one the manifest names (before %d)"
                    % (listing.snapshot, nextGen, manifest.base))
        lastGen = max(lastGen, manifest.last)
    if not legacy:
        present = {gen for gen, _, _ in logs}
        temps = {os.path.basename(p) for p in listing.temps}
        if (manifest is not None and lastGen == manifest.last
                and lastGen not in present
                and logName(lastGen) + TMP_SUFFIX in temps):
            # Created but not yet renamed into place when the server
            # stopped: it held nothing.
            lastGen -= 1
        for gen in range(nextGen, lastGen + 1):
            if gen not in present:
                problem("the log generation %d (%s/%s) is missing"
                        % (gen, dataDir, logName(gen)))

    live = []
    replayed = 0
    torn = None
    lastIsEmpty = False
    for gen, path, data in logs:
        last = gen == lastGen
        if legacy and format.isLegacyLog(data):
            start = 0
            scan = format.scanLegacyLog
        else:
            start = format.LOG_HEADER_SIZE
            scan = format.scanLog
            try:
                format.checkLogHeader(data, path, gen)
            except format.CorruptLog as e:
                problem(str(e))
                if len(data) < start:
                    continue
        try:
            if start:
                found = scan(data, path, allowTorn=last, start=start)
            else:
                found = scan(data, path, allowTorn=last)
        except format.CorruptLog as e:
            problem("%s; every record after it would be lost" % (e,))
            found = _prefix(scan, data, path, e.offset, start)
        del data
        for i, op in enumerate(found.ops):
            try:
                if op[0] == format.GROUP:
                    for one in format.ungroup(op):
                        store.apply(one)
                else:
                    store.apply(op)
            except ValueError as e:
                problem("log %s record %d can't be replayed: %s"
                        % (path, i, e))
        replayed += len(found.ops)
        if found.tornBytes:
            torn = TornTail(path, found.goodBytes, found.tornBytes,
                            found.tornReason)
        live.append((gen, path, found.goodBytes))
        lastIsEmpty = last and not found.ops
    return Recovery(listing.snapshot, snapshotSize, savedAtMs, nextGen,
                    live, lastGen, lastIsEmpty, replayed, torn,
                    listing.temps, remove, legacy, problem.found, files)


def _prefix(scan, data: bytes, path: str, offset: int, start: int):
    """
    The records of C{data} before the damaged one at C{offset}.
    """
    if start:
        return scan(data[:offset], path, allowTorn=False, start=start)
    return scan(data[:offset], path, allowTorn=False)


def tidy(fs: FileSystem, recovery: Recovery, log):
    """
    Do what C{recovery} found the directory needs: remove leftover
    temporary files and the logs the snapshot covers, cut off a torn tail.

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
        log.info("Removing {path}: the snapshot covers it", path=path)
        fs.remove(path)
