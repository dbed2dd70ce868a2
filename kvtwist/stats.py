# -*- test-case-name: kvtwist.test.test_stats -*-
"""
The server's figures: the live counters (L{Stats}) and one snapshot of
everything at one moment (L{IStatsSnapshot}, taken by L{takeSnapshot}),
which C{INFO} (L{kvtwist.commands.server}), C{/metrics}
(L{kvtwist.web.metrics}) and the web status page (L{kvtwist.web.data})
each render in their own format.

The snapshot's figures about the data (how many keys, persistence) are the
backend's part (L{BackendFigures}): a backend that provides
L{IBackendStats} gives them (the memory backend: L{memoryFigures}), and
one that doesn't, or can't know a figure (a front end over Redis Cluster),
leaves it out.  A new counter goes into L{Stats} (bumped where it
happens), then into the part of the snapshot it belongs to, and each
renderer shows it.
"""

import os
import platform
import time
from typing import Dict, NamedTuple, Optional, Tuple

from zope.interface import Attribute, Interface, implementer

from kvtwist import __version__
from kvtwist.nursery import nurserySize


class Stats:
    """
    The live counters of one server, bumped as things happen (by the
    factory, the connections, the backend); read through L{takeSnapshot}.

    @ivar startTime: when the server started (its clock's seconds).
    @ivar commandsProcessed: commands run.
    @ivar perCommand: commands run, by command name.
    @ivar unknown: unknown commands received.
    @ivar rejected: connections refused (client limit, protected mode).
    @ivar connectionsReceived: connections accepted.
    @ivar dropped: client connections ended, whatever the cause.
    @ivar closedByServer: client connections the server closed (refused at
        the client limit or by protected mode, a protocol error, idle past
        C{--timeout}, stalled past the output bound, shutdown): those
        of L{dropped} that the client did not end itself.
    @ivar netInput: bytes received from clients.
    @ivar netOutput: bytes sent to clients.
    @ivar authFailures: failed C{AUTH}s.
    @ivar stalledDisconnects: clients closed for not reading their replies.
    @ivar idleReleases: memory given back after a burst of traffic
        (L{kvtwist.idlegc}).
    @ivar blockedClients: clients waiting on a blocking command now (a
        gauge, kept by the connections).
    @ivar outputLimitDisconnects: subscribers dropped for holding too
        many unread messages (C{--pubsub-output-limit}).
    """

    def __init__(self, now: float):
        self.startTime = now
        self.commandsProcessed = 0
        self.perCommand: Dict[str, int] = {}
        self.unknown = 0
        self.rejected = 0
        self.connectionsReceived = 0
        self.dropped = 0
        self.closedByServer = 0
        self.netInput = 0
        self.netOutput = 0
        self.authFailures = 0
        self.stalledDisconnects = 0
        self.idleReleases = 0
        self.blockedClients = 0
        self.outputLimitDisconnects = 0


def rss() -> int:
    """
    This process's resident memory in bytes (0 where unknown).
    """
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        import resource
        return pages * resource.getpagesize()
    except (OSError, ValueError, ImportError, IndexError):
        return 0


class ProcessFigures(NamedTuple):
    """
    The server process.

    @ivar version: kvtwist's version.
    @ivar pid: the process id.
    @ivar implementation: C{"CPython"} or C{"PyPy"}.
    @ivar pythonVersion: the interpreter's Python version.
    @ivar reactor: the reactor's class, dotted.
    @ivar tcpPort: the main TCP port (0 if none).
    @ivar startTime: when it started (clock seconds).
    @ivar uptime: seconds since then.
    """

    version: str
    pid: int
    implementation: str
    pythonVersion: str
    reactor: str
    tcpPort: int
    startTime: float
    uptime: float


class ClientFigures(NamedTuple):
    """
    The clients.

    @ivar connected: connected now.
    @ivar maxClients: the limit (C{--max-clients}).
    @ivar received: connections accepted since start.
    @ivar dropped: connections ended since start, whatever the cause.
    @ivar rejected: connections refused since start.
    @ivar stalledDisconnects: clients closed for not reading replies.
    @ivar authFailures: failed C{AUTH}s.
    @ivar closedByServer: connections the server closed since start (of
        C{dropped}; see L{Stats.closedByServer}).
    @ivar blocked: clients waiting on a blocking command now.
    @ivar outputLimitDisconnects: subscribers dropped for holding too
        many unread messages since start (of C{closedByServer}).
    """

    connected: int
    maxClients: int
    received: int
    dropped: int
    rejected: int
    stalledDisconnects: int
    authFailures: int
    closedByServer: int = 0
    blocked: int = 0
    outputLimitDisconnects: int = 0


class CommandFigures(NamedTuple):
    """
    The commands run.

    @ivar processed: commands run since start.
    @ivar unknown: unknown commands received.
    @ivar perCommand: C{(name, count)} pairs, sorted by name.
    """

    processed: int
    unknown: int
    perCommand: Tuple[Tuple[str, int], ...]


class TrafficFigures(NamedTuple):
    """
    Bytes to and from clients since start.
    """

    input: int
    output: int


class MemoryFigures(NamedTuple):
    """
    The process's memory.

    @ivar rss: resident bytes.
    @ivar gcNursery: PyPy's GC nursery in bytes, or L{None} (CPython).
    @ivar idleReleases: memory given back after bursts, since start.
    """

    rss: int
    gcNursery: Optional[int]
    idleReleases: int


class DatabaseFigures(NamedTuple):
    """
    One non-empty database (a line of C{INFO keyspace}).

    @ivar index: its number.
    @ivar keys: keys now.
    @ivar expiring: keys with an expiry time now.
    @ivar avgTtl: the average time to live of those, in milliseconds
        (estimated, as Redis does).
    """

    index: int
    keys: int
    expiring: int
    avgTtl: int


class KeyspaceFigures(NamedTuple):
    """
    The data a backend holds.

    @ivar keys: keys now, in every database.
    @ivar expiring: keys with an expiry time now, in every database.
    @ivar expired: keys expired since start.
    @ivar databases: a L{DatabaseFigures} for each non-empty database.
    """

    keys: int
    expiring: int
    expired: int
    databases: Tuple[DatabaseFigures, ...] = ()


class PersistenceFigures(NamedTuple):
    """
    How a backend's data reaches the disk: C{INFO persistence}'s fields
    as the store service gives them, and the figures other renderers read
    from them by name (each L{None} if the service doesn't give it).

    @ivar fields: C{INFO persistence}'s fields, C{(name, value)} in order
        (Redis's names where one exists).
    @ivar failure: why persistence fails now (writes are refused), or
        L{None} while it works.
    @ivar flushDurations: seconds the last flushes took, oldest first.
    @ivar snapshotDurations: seconds the last snapshots took.
    """

    fields: Tuple[Tuple[str, object], ...]
    failure: Optional[str]
    flushDurations: Tuple[float, ...] = ()
    snapshotDurations: Tuple[float, ...] = ()

    def field(self, name: str, default=None):
        """
        The value of the C{INFO persistence} field C{name}, or C{default}.
        """
        for key, value in self.fields:
            if key == name:
                return value
        return default

    @property
    def fsync(self) -> Optional[str]:
        """
        The C{--fsync} mode (C{aof_fsync}).
        """
        return self.field("aof_fsync")

    @property
    def flushes(self) -> Optional[int]:
        """
        Log flushes since start (C{aof_flushes}).
        """
        return self.field("aof_flushes")

    @property
    def flushErrors(self) -> Optional[int]:
        """
        Failed log writes or fsyncs (C{aof_flush_errors}).
        """
        return self.field("aof_flush_errors")

    @property
    def snapshots(self) -> Optional[int]:
        """
        Snapshots written since start (C{rdb_saves}).
        """
        return self.field("rdb_saves")

    @property
    def snapshotErrors(self) -> Optional[int]:
        """
        Failed snapshots (C{rdb_save_errors}).
        """
        return self.field("rdb_save_errors")

    @property
    def errors(self) -> Optional[int]:
        """
        Persistence errors of any kind (C{persistence_errors}).
        """
        return self.field("persistence_errors")

    @property
    def logSize(self) -> Optional[int]:
        """
        Bytes in the live log (C{aof_current_size}).
        """
        return self.field("aof_current_size")

    @property
    def pendingBytes(self) -> Optional[int]:
        """
        Bytes written to memory, not yet to the log (C{aof_pending_bytes}).
        """
        return self.field("aof_pending_bytes")

    @property
    def snapshotSize(self) -> Optional[int]:
        """
        Bytes of the last snapshot (C{rdb_snapshot_size}).
        """
        return self.field("rdb_snapshot_size")

    @property
    def lastFlushTime(self) -> Optional[int]:
        """
        Unix time of the last flush, 0 for never (C{aof_last_flush_time}).
        """
        return self.field("aof_last_flush_time")

    @property
    def lastSave(self) -> Optional[int]:
        """
        Unix time of the last snapshot, as C{LASTSAVE} (C{rdb_last_save_time}).
        """
        return self.field("rdb_last_save_time")


class PubSubFigures(NamedTuple):
    """
    Pub/sub.

    @ivar channels: channels with subscribers now.
    @ivar patterns: patterns with subscribers now.
    @ivar clients: clients subscribed to anything now.
    """

    channels: int
    patterns: int
    clients: int


class BackendFigures(NamedTuple):
    """
    The backend's part of a snapshot.

    @ivar kind: which backend (C{"memory"}).
    @ivar keyspace: its L{KeyspaceFigures}, or L{None} if it can't tell.
    @ivar persistence: its L{PersistenceFigures}, or L{None} if it keeps
        nothing on disk itself.
    @ivar fields: figures of its own, C{(name, value)} in order (a front
        end over a cluster: its state, nodes, redirections): C{INFO}'s
        C{# Backend} section, numbers among them also in C{/metrics}.
    @ivar pubsub: its L{PubSubFigures}, or L{None} if it can't tell.
    """

    kind: str
    keyspace: Optional[KeyspaceFigures] = None
    persistence: Optional[PersistenceFigures] = None
    fields: Tuple[Tuple[str, object], ...] = ()
    pubsub: Optional[PubSubFigures] = None


class IBackendStats(Interface):
    """
    A backend that tells its part of the stats snapshot.
    """

    def backendFigures():
        """
        @return: the L{BackendFigures} of now.
        """


class IStatsSnapshot(Interface):
    """
    The server's figures at one moment, each part a L{NamedTuple}.  Render
    it; don't gather figures anywhere else.
    """

    time = Attribute("When it was taken (the server clock's seconds).")
    process = Attribute("L{ProcessFigures}.")
    clients = Attribute("L{ClientFigures}, or L{None} without a server.")
    commands = Attribute("L{CommandFigures}, or L{None} without a server.")
    traffic = Attribute("L{TrafficFigures}, or L{None} without a server.")
    memory = Attribute("L{MemoryFigures}.")
    backend = Attribute("L{BackendFigures}.")


@implementer(IStatsSnapshot)
class StatsSnapshot:
    """
    The one implementation of L{IStatsSnapshot}: see there.
    """

    def __init__(self, time: float, process: ProcessFigures,
                 clients: Optional[ClientFigures],
                 commands: Optional[CommandFigures],
                 traffic: Optional[TrafficFigures], memory: MemoryFigures,
                 backend: BackendFigures):
        self.time = time
        self.process = process
        self.clients = clients
        self.commands = commands
        self.traffic = traffic
        self.memory = memory
        self.backend = backend


def keyspaceFigures(store) -> KeyspaceFigures:
    """
    The keyspace figures of an L{kvtwist.interfaces.IStore}.
    """
    databases = tuple(DatabaseFigures(*db) for db in store.figures())
    return KeyspaceFigures(sum(db.keys for db in databases),
                           sum(db.expiring for db in databases),
                           store.expiredCount, databases)


class IPersistenceStats(Interface):
    """
    What a store service tells of its persistence, for the snapshot.
    """

    failure = Attribute("Why persistence fails now (writes are refused), "
                        "or L{None} while it works.")
    flushDurations = Attribute("Seconds the last flushes took, oldest "
                               "first.")
    snapshotDurations = Attribute("Seconds the last snapshots took, "
                                  "oldest first.")

    def info():
        """
        @return: the C{INFO persistence} fields, an ordered mapping of
            names (Redis's where Redis has one) to values.
        """


def persistenceFigures(service) -> PersistenceFigures:
    """
    The figures of a store service (L{IPersistenceStats}: the
    L{kvtwist.persist.StoreService}).
    """
    return PersistenceFigures(
        tuple(service.info().items()), service.failure,
        tuple(service.flushDurations), tuple(service.snapshotDurations))


def memoryFigures(store, service=None, hub=None) -> BackendFigures:
    """
    The memory backend's part: its store's keyspace and, if it has one,
    its store service's persistence and its pub/sub hub's figures
    (L{kvtwist.backends.pubsub.Hub}).
    """
    return BackendFigures(
        "memory", keyspaceFigures(store),
        persistenceFigures(service) if service is not None else None,
        pubsub=PubSubFigures(len(hub.channels()), hub.numpat(), hub.clients)
        if hub is not None else None)


def reactorName(clock) -> str:
    """
    The dotted class name of the reactor a server runs on (its clock, in
    production), or C{"none"}.
    """
    if clock is None:
        return "none"
    kind = type(clock)
    return "%s.%s" % (kind.__module__, kind.__qualname__)


def takeSnapshot(factory=None,
                 backend: Optional[BackendFigures] = None) -> StatsSnapshot:
    """
    The figures of now.

    @param factory: the server's L{kvtwist.factory.KVFactory}, or L{None}
        (a command run without a server: the server parts are L{None}).
    @param backend: the backend's part; asked of C{factory.backend}
        (L{IBackendStats}) if not given.
    """
    now = factory.now() if factory is not None else time.time()
    started = factory.stats.startTime if factory is not None else now
    process = ProcessFigures(
        __version__, os.getpid(), platform.python_implementation(),
        platform.python_version(),
        reactorName(factory.clock if factory is not None else None),
        factory.config.portNumber() if factory is not None else 0,
        started, max(0.0, now - started))
    clients = commands = traffic = None
    idleReleases = 0
    if factory is not None:
        stats = factory.stats
        clients = ClientFigures(
            factory.countActive(), factory.config.maxClients,
            stats.connectionsReceived, stats.dropped, stats.rejected,
            stats.stalledDisconnects, stats.authFailures,
            stats.closedByServer, stats.blockedClients,
            stats.outputLimitDisconnects)
        commands = CommandFigures(
            stats.commandsProcessed, stats.unknown,
            tuple(sorted(stats.perCommand.items())))
        traffic = TrafficFigures(stats.netInput, stats.netOutput)
        idleReleases = stats.idleReleases
    memory = MemoryFigures(rss(), nurserySize(), idleReleases)
    if backend is None:
        backend = backendFiguresOf(
            factory.backend if factory is not None else None)
    return StatsSnapshot(now, process, clients, commands, traffic, memory,
                         backend)


def backendFiguresOf(backend) -> BackendFigures:
    """
    What C{backend} tells of itself, if it provides L{IBackendStats};
    else only its kind.
    """
    teller = IBackendStats(backend, None)
    if teller is not None:
        return teller.backendFigures()
    return BackendFigures(type(backend).__name__ if backend is not None
                          else "none")


__all__ = ["Stats", "rss", "IStatsSnapshot", "StatsSnapshot",
           "IBackendStats", "BackendFigures", "ProcessFigures",
           "ClientFigures", "CommandFigures", "TrafficFigures",
           "MemoryFigures", "KeyspaceFigures", "DatabaseFigures",
           "PersistenceFigures", "PubSubFigures",
           "IPersistenceStats",
           "takeSnapshot", "memoryFigures", "keyspaceFigures",
           "persistenceFigures", "backendFiguresOf", "reactorName"]
