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
"""

from kvtwist.persist.lock import DataDirInUse
from kvtwist.persist.recovery import RecoveryError
from kvtwist.persist.service import FSYNC_MODES, StoreService
from kvtwist.persist.threads import threadPoolRunner

__all__ = ["DataDirInUse", "FSYNC_MODES", "RecoveryError", "StoreService",
           "threadPoolRunner"]
