# -*- test-case-name: kvtwist.test.test_persist_service -*-
"""
The store service's figures: the persistence fields of C{INFO} and the
counters C{/metrics} and the status page read.
"""

import collections


class StoreServiceFigures:
    """
    The figures of a L{kvtwist.persist.service.StoreService}, read from its
    journal, writer and snapshots (what L{kvtwist.stats.IPersistenceStats}
    asks for, and the counters by name).
    """

    @property
    def persistenceErrors(self) -> int:
        """
        Every persistence error since start: flushes, encodings, snapshots.
        """
        return (self.writer.flushErrors + self.journal.sealErrors
                + self.snapshots.snapshotErrors)

    @property
    def flushCount(self) -> int:
        """
        Flushes that succeeded.
        """
        return self.writer.flushCount

    @property
    def flushErrors(self) -> int:
        """
        Flushes that failed.
        """
        return self.writer.flushErrors

    @property
    def flushDurations(self) -> "collections.deque[float]":
        """
        The last 128 flush durations, in seconds.
        """
        return self.writer.flushDurations

    @property
    def lastFlushTime(self) -> float:
        """
        Unix time of the last successful flush (0: none).
        """
        return self.writer.lastFlushTime

    @property
    def snapshotCount(self) -> int:
        """
        Snapshots installed.
        """
        return self.snapshots.snapshotCount

    @property
    def snapshotErrors(self) -> int:
        """
        Snapshots that failed.
        """
        return self.snapshots.snapshotErrors

    @property
    def snapshotDurations(self) -> "collections.deque[float]":
        """
        The last 128 snapshot durations, in seconds.
        """
        return self.snapshots.snapshotDurations

    @property
    def snapshotSize(self) -> int:
        """
        The size of the last snapshot, in bytes.
        """
        return self.snapshots.snapshotSize

    def info(self) -> "collections.OrderedDict[str, object]":
        """
        The persistence fields of C{INFO}, with Redis's names where Redis
        has one.
        """
        journal = self.journal
        writer = self.writer
        snaps = self.snapshots
        durations = writer.flushDurations
        saves = snaps.snapshotDurations
        return collections.OrderedDict([
            ("loading", 0),
            ("aof_enabled", 1),
            ("aof_fsync", self.fsyncMode),
            ("aof_flush_interval", "%g" % (self.flushInterval,)),
            ("aof_current_size", writer.liveBytes()),
            ("aof_current_generation",
             writer.current.gen if writer.current else 0),
            ("aof_pending_ops", journal.pendingOps()),
            ("aof_pending_bytes", journal.pendingBytes()),
            ("aof_flush_in_progress", int(writer.inFlight)),
            ("aof_last_flush_time", int(writer.lastFlushTime)),
            ("aof_last_flush_duration_ms",
             int(round(durations[-1] * 1000)) if durations else 0),
            ("aof_flushes", writer.flushCount),
            ("aof_fsyncs", writer.fsyncCount),
            ("aof_last_write_status",
             "ok" if self.failure is None else "err"),
            ("aof_last_error", self.failure or ""),
            ("aof_flush_errors", writer.flushErrors),
            ("aof_backpressure", int(journal.throttled)),
            ("aof_backpressure_writes", journal.throttledWrites),
            ("rdb_changes_since_last_save", journal.seq() - snaps.seqAtSave),
            ("rdb_bgsave_in_progress", int(snaps.inProgress)),
            ("rdb_last_save_time", snaps.lastSave),
            ("rdb_last_bgsave_status", snaps.lastBgsaveStatus),
            ("rdb_last_save_duration_ms",
             int(round(saves[-1] * 1000)) if saves else -1),
            ("rdb_current_bgsave_time_sec", snaps.childSeconds()),
            ("rdb_snapshot_size", snaps.snapshotSize),
            ("latest_fork_usec", int(snaps.lastForkDuration * 1e6)),
            ("rdb_saves", snaps.snapshotCount),
            ("rdb_save_errors", snaps.snapshotErrors),
            ("persistence_errors", self.persistenceErrors),
            ("loading_recovered_keys", self.recoveredKeys),
            ("loading_recovery_time_ms", int(round(self.recoveryTime * 1000))),
            ("loading_torn_bytes", self.tornBytes),
        ])
