# -*- test-case-name: kvtwist.test.test_persist_service -*-
"""
Durability: where the store's writes become files, and files become a
store again.

    - L{kvtwist.persist.journal}: the writes on their way to the log
      (pending ops, sealed records, sequence numbers, C{whenDurable});
    - L{kvtwist.persist.writer}: the log generations, written and fsynced
      on a thread of their own;
    - L{kvtwist.persist.snapshots}: C{SAVE}, C{BGSAVE} (in a forked child,
      L{kvtwist.persist.fork}) and compaction;
    - L{kvtwist.persist.recovery}: from the files to a store, plus a report;
    - L{kvtwist.persist.format} and L{kvtwist.persist.files}: the bytes of
      the files, their names, the file operations;
    - L{kvtwist.persist.service}: L{StoreService}, the twistd service that
      wires them together.

The data directory
==================

The data directory (C{--data-dir}) holds::

    kvtwist.snapshot        the last snapshot (may be absent)
    kvtwist.manifest        which generations the directory must hold
    kvtwist-00000007.aof    append-only log, generation 7
    kvtwist-00000008.aof    ... generation 8 (the newest)
    kvtwist.lock            locked by the running server (L{lock})
    *.tmp                   a file being written; removed at startup
    damaged-*/              files set aside by C{--load-damaged}

Every write is journaled as one record in the live log generation.  A
snapshot holds the whole store as of the end of some generation C{G} and
records C{G + 1}, the first generation it does I{not} include.  When a
snapshot starts (C{SAVE}, C{BGSAVE} or automatic compaction) the server
first opens generation C{G + 1} for every later write (unless C{G} holds
nothing yet), then serialises the store; once the snapshot is checked and
renamed into place and the manifest says so, the generations it covers are
deleted.

Recovery at startup (L{recovery}): check the chain (the snapshot, then
every generation up to the newest the manifest names, each file's header
naming its generation), load the snapshot, replay the generations in
order; then remove leftover C{*.tmp} files and the generations the
snapshot covers, cut off a torn tail, and go on in a fresh generation
(L{startup}).  What kvtwist promises for each fault is in
C{docs/operations.md}.
"""

from kvtwist.persist.lock import DataDirInUse
from kvtwist.persist.recovery import RecoveryError
from kvtwist.persist.service import FSYNC_MODES, StoreService
from kvtwist.persist.threads import threadPoolRunner

__all__ = ["DataDirInUse", "FSYNC_MODES", "RecoveryError", "StoreService",
           "threadPoolRunner"]
