# -*- test-case-name: kvtwist.test.test_persist_service -*-
"""
What the server does to its data directory as it starts, once recovery
(L{kvtwist.persist.recovery}) has loaded the store: tidy it, and open the
log generation every new write goes to.

Most starts go on with the chain as it is: a new generation after the
last one (or the last one itself, if it holds no record yet).  Two kinds
of start begin a new chain instead, with a snapshot of what was loaded:

    - a directory of format 1 (written before format 2): its old logs are
      deleted once the snapshot is in place, so every file has format 2's
      checks from then on;
    - a start with C{--load-damaged} that found problems: the old files
      are moved into a C{damaged-*} directory (nothing is deleted), and
      the server goes on from what could be loaded.
"""

import os
from typing import List, NamedTuple, Optional

from kvtwist.persist import snapfile
from kvtwist.persist.files import (
    FileSystem, logName, moveAside, snapshotTempName)
from kvtwist.persist.journal import describe
from kvtwist.persist.recovery import Recovery, RecoveryError, tidy
from kvtwist.persist.snapshots import installSnapshot, writeSnapshot
from kvtwist.persist.writer import Generation


class Chain(NamedTuple):
    """
    The log generations to go on with.

    @ivar live: the generations recovered that stay live.
    @ivar current: the generation new writes go to, its file open.
    @ivar base: the first generation the snapshot does not cover.
    @ivar snapshotSize: the snapshot's size, if a new one was written.
    @ivar movedTo: where damaged files were moved, or L{None}.
    """

    live: List[Generation]
    current: Generation
    base: int
    snapshotSize: Optional[int]
    movedTo: Optional[str]


def openChain(fs: FileSystem, dataDir: str, store, found: Recovery,
              nowMs: int, log) -> Chain:
    """
    Tidy C{dataDir} as C{found} says, then open the generation new writes
    go to; begin a new chain (see the module's docstring) if C{found} is of
    format 1 or reports problems.

    @param store: the store recovery loaded.
    @param nowMs: the time, for a new snapshot.
    @param log: a L{twisted.logger.Logger}.
    @raise RecoveryError: if the directory can't be written.
    """
    tidy(fs, found, log)
    try:
        if found.problems or found.legacy:
            return _newChain(fs, dataDir, store, found, nowMs, log)
        live = [Generation(gen, path, size) for gen, path, size in found.live]
        if found.lastIsEmpty and live and live[-1].gen == found.lastGen:
            current = live.pop()
            current.fd = fs.openLog(current.path)
        else:
            gen = found.lastGen + 1
            current = Generation(gen, os.path.join(dataDir, logName(gen)))
            current.fd = fs.createLog(dataDir, gen,
                                      snapfile.Manifest(found.nextGen, gen))
    except OSError as e:
        raise RecoveryError("can't write the data directory %s: %s"
                            % (dataDir, describe(e)))
    return Chain(live, current, found.nextGen, None, None)


def _newChain(fs: FileSystem, dataDir: str, store, found: Recovery,
              nowMs: int, log) -> Chain:
    gen = found.lastGen + 1
    tmpName = snapshotTempName(gen)
    writeSnapshot(fs, dataDir, store.dumpState(), gen, nowMs, tmpName)
    movedTo = None
    obsolete: List[str] = []
    if found.problems:
        old = [p for p in found.files if os.path.exists(p)]
        movedTo = moveAside(dataDir, old, nowMs / 1000.0)
        log.critical(
            "Started with --load-damaged: the files that could not all be "
            "loaded are in {movedTo}; starting from the {keys} keys loaded",
            movedTo=movedTo, keys=store.keyCount())
    else:
        obsolete = [path for _, path, _ in found.live]
        log.info("Converting {dataDir} to log format 2: a snapshot "
                 "replaces the old logs", dataDir=dataDir)
    size = installSnapshot(fs, dataDir, tmpName, gen, obsolete)
    current = Generation(gen, os.path.join(dataDir, logName(gen)))
    current.fd = fs.createLog(dataDir, gen, snapfile.Manifest(gen, gen))
    return Chain([], current, gen, size, movedTo)
