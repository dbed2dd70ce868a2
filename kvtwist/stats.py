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

import binascii
import os
import platform
import sys
import time
from collections import deque
from typing import Deque, Dict, NamedTuple, Optional, Tuple

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
    @ivar failedCalls: commands that ran and answered an error, by name.
    @ivar rejectedCalls: commands refused before they ran, by name.
    @ivar sampledCalls: commands timed, by name: every one while they are
        few, one in about 64 under load (see L{nextSampleAfter});
        C{INFO commandstats} estimates each command's time from them.
    @ivar sampledNanoseconds: the time the timed commands took, by name.
    @ivar nextSample: the number (in L{commandsProcessed}) of the next
        command to time.
    @ivar errorReplies: error replies by code (C{ERR}, C{WRONGTYPE}...).
    @ivar resetTime: when the counters were last zeroed (start, or
        C{CONFIG RESETSTAT}).
    @ivar keyspaceBaseline: the backend's expired keys, hits and misses
        at the last C{CONFIG RESETSTAT}, subtracted from its figures.
    @ivar runId: a random identifier of this run of the server (Redis's
        C{run_id}).
    @ivar rates: the L{RateWindow} of the C{instantaneous_*} rates.
    @ivar blockedClients: clients waiting on a blocking command now (a
        gauge, kept by the connections).
    @ivar outputLimitDisconnects: subscribers dropped for holding too
        many unread messages (C{--pubsub-output-limit}).
    """

    def __init__(self, now: float):
        self.startTime = now
        self.perCommand: Dict[str, int] = {}
        self.dropped = 0
        self.closedByServer = 0
        self.idleReleases = 0
        self.blockedClients = 0
        self.outputLimitDisconnects = 0
        self.runId = binascii.hexlify(os.urandom(20)).decode("ascii")
        self.rates = RateWindow()
        self._resetCounters(now)

    def _resetCounters(self, now: float):
        """
        Zero what C{CONFIG RESETSTAT} zeroes.
        """
        self.resetTime = now
        self.commandsProcessed = 0
        self.perCommand = {}
        self.failedCalls: Dict[str, int] = {}
        self.rejectedCalls: Dict[str, int] = {}
        self.sampledCalls: Dict[str, int] = {}
        self.sampledNanoseconds: Dict[str, int] = {}
        self.nextSample = 1
        self._lastTimed = 0
        self._gapIndex = 0
        self.errorReplies: Dict[str, int] = {}
        self.unknown = 0
        self.rejected = 0
        self.connectionsReceived = 0
        self.netInput = 0
        self.netOutput = 0
        self.authFailures = 0
        self.stalledDisconnects = 0
        self.keyspaceBaseline = (0, 0, 0)

    def reset(self, now: float, keyspace: Optional["KeyspaceFigures"] = None):
        """
        C{CONFIG RESETSTAT}: zero the counters Redis zeroes (commands and
        their statistics, errors, connections received and rejected,
        traffic, and the keyspace's expired keys, hits and misses, which
        the backend keeps: their figures of now become the baseline).
        What describes the present (connected clients, keys) is kept, and
        so are C{dropped} and C{closedByServer}.

        @param keyspace: the backend's raw L{KeyspaceFigures} of now, if
            it has any.
        """
        self._resetCounters(now)
        self.rates = RateWindow()
        if keyspace is not None:
            self.keyspaceBaseline = (keyspace.expired, keyspace.hits,
                                     keyspace.misses)

    def sampleRates(self, now: float):
        """
        Take a sample for the C{instantaneous_*} rates (the factory does
        it every second).
        """
        self.rates.add(now, self.commandsProcessed, self.netInput,
                       self.netOutput)

    def countError(self, error: str):
        """
        Count an error reply by its code (its first word: C{ERR},
        C{WRONGTYPE}...), for C{INFO errorstats}.
        """
        code = error.split(" ", 1)[0][:128] or "ERR"
        errors = self.errorReplies
        if code not in errors and len(errors) >= 128:
            # Redis stops tracking new codes past 128 (an error flood with
            # made-up codes must not grow this without bound).
            return
        errors[code] = errors.get(code, 0) + 1

    def commandFailed(self, name: str, error: str):
        """
        A command ran and answered an error (C{failed_calls}).
        """
        failed = self.failedCalls
        failed[name] = failed.get(name, 0) + 1
        self.countError(error)

    def commandRejected(self, name: str, error: str):
        """
        A command was refused before it ran: wrong arity, not
        authenticated, writes refused while persistence fails
        (C{rejected_calls}).
        """
        rejected = self.rejectedCalls
        rejected[name] = rejected.get(name, 0) + 1
        self.countError(error)

    def nextSampleAfter(self, n: int, now: int):
        """
        Choose the next command to time, after the C{n}th, timed until
        C{now} (C{perf_counter_ns}): the next one if the last was timed
        more than a millisecond ago (a server running fewer than about a
        thousand commands a second times every one), else one of the next
        127, 64th on average, at random so that a pipeline repeating a
        pattern of commands doesn't time only one of them.  Timing costs
        two clock reads and two dict updates: under load, a 64th of that
        per command doesn't show in GET/SET throughput.
        """
        if now - self._lastTimed > 1000000:
            self.nextSample = n + 1
        else:
            index = self._gapIndex = (self._gapIndex + 1) & 255
            self.nextSample = n + _SAMPLE_GAPS[index]
        self._lastTimed = now


#: The gaps between timed commands under load (1 to 127, 64 on average),
#: in a fixed shuffled order.
_SAMPLE_GAPS = tuple(1 + (i * 37 + (i * i) // 3) % 127 for i in range(256))


class RateWindow:
    """
    The samples of a few counters, one a second, from which the
    C{instantaneous_*} rates of C{INFO} are computed (as Redis, from the
    last couple of seconds).

    @ivar samples: C{(time, commands, input, output)}, oldest first.
    """

    #: How many samples are kept.
    SIZE = 3

    def __init__(self):
        self.samples: Deque[Tuple[float, int, int, int]] = deque(
            maxlen=self.SIZE)

    def add(self, now: float, commands: int, input: int, output: int):
        """
        Keep one sample.
        """
        self.samples.append((now, commands, input, output))

    def rates(self, now: float, commands: int, input: int,
              output: int) -> Tuple[float, float, float]:
        """
        Commands, input bytes and output bytes per second, from the oldest
        sample kept to the figures of C{now} (zeros before the first
        sample).
        """
        if not self.samples:
            return (0.0, 0.0, 0.0)
        then, c, i, o = self.samples[0]
        elapsed = now - then
        if elapsed <= 0:
            return (0.0, 0.0, 0.0)
        return ((commands - c) / elapsed, (input - i) / elapsed,
                (output - o) / elapsed)


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
    @ivar runId: a random identifier of this run (L{Stats.runId}).
    @ivar cpu: its L{CpuFigures}, or L{None} where unknown.
    @ivar pollApi: how its reactor waits for events (C{epoll},
        C{poll}, C{select}, C{kqueue}...; Redis's C{multiplexing_api}).
    """

    version: str
    pid: int
    implementation: str
    pythonVersion: str
    reactor: str
    tcpPort: int
    startTime: float
    uptime: float
    runId: str = ""
    cpu: Optional["CpuFigures"] = None
    pollApi: str = ""


class CpuFigures(NamedTuple):
    """
    The CPU time the process used, in seconds (C{getrusage}).

    @ivar system: in the kernel.
    @ivar user: in the process.
    @ivar childrenSystem: in the kernel, for its ended children (the
        snapshot writers).
    @ivar childrenUser: in its ended children.
    """

    system: float
    user: float
    childrenSystem: float
    childrenUser: float


def cpuFigures() -> Optional[CpuFigures]:
    """
    The process's CPU time now, or L{None} where C{resource} is missing.
    """
    try:
        import resource
    except ImportError:
        return None
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuFigures(me.ru_stime, me.ru_utime, children.ru_stime,
                      children.ru_utime)


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
    stats: Tuple["CommandStat", ...] = ()
    errors: Tuple[Tuple[str, int], ...] = ()
    opsPerSecond: float = 0.0


class CommandStat(NamedTuple):
    """
    One command's figures (a line of C{INFO commandstats}).

    @ivar name: the command's name, upper case.
    @ivar calls: how many times it ran (not counting the refused ones).
    @ivar usec: the microseconds it took in all, estimated from the calls
        that were timed (every one while they are few, one in about 64
        under load).
    @ivar rejected: calls refused before running (arity,
        authentication, C{MISCONF}).
    @ivar failed: calls that ran and answered an error.
    """

    name: str
    calls: int
    usec: int
    rejected: int
    failed: int

    @property
    def usecPerCall(self) -> float:
        """
        The average microseconds of a call.
        """
        return self.usec / self.calls if self.calls else 0.0


class TrafficFigures(NamedTuple):
    """
    Bytes to and from clients since start.
    """

    input: int
    output: int
    inputPerSecond: float = 0.0
    outputPerSecond: float = 0.0


class MemoryFigures(NamedTuple):
    """
    The process's memory.

    @ivar rss: resident bytes.
    @ivar gcNursery: PyPy's GC nursery in bytes, or L{None} (CPython).
    @ivar idleReleases: memory given back after bursts, since start.
    @ivar peak: the most resident bytes the process has had.
    @ivar allocator: the interpreter's memory allocator (C{pymalloc},
        C{libc}, PyPy's C{incminimark}...).
    """

    rss: int
    gcNursery: Optional[int]
    idleReleases: int
    peak: int = 0
    allocator: str = ""


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
    @ivar hits: lookups of string values that found one (C{GET} and its
        kin, C{keyspace_hits}).
    @ivar misses: lookups of string values that found none.
    """

    keys: int
    expiring: int
    expired: int
    databases: Tuple[DatabaseFigures, ...] = ()
    hits: int = 0
    misses: int = 0


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
    hits, misses = store.lookupCounts()
    return KeyspaceFigures(sum(db.keys for db in databases),
                           sum(db.expiring for db in databases),
                           store.expiredCount, databases, hits, misses)


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


#: The reactor classes' names, and the system call each waits with.
_POLL_APIS = {"EPollReactor": "epoll", "PollReactor": "poll",
              "SelectReactor": "select", "KQueueReactor": "kqueue",
              "AsyncioSelectorReactor": "asyncio", "IOCPReactor": "iocp"}


def pollApi(clock) -> str:
    """
    How the reactor C{clock} waits for events (L{ProcessFigures.pollApi}),
    from its classes; its class's name if none is known.
    """
    if clock is None:
        return "none"
    for kind in type(clock).__mro__:
        api = _POLL_APIS.get(kind.__name__)
        if api is not None:
            return api
    return type(clock).__name__


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
        started, max(0.0, now - started),
        factory.stats.runId if factory is not None else "", cpuFigures(),
        pollApi(factory.clock if factory is not None else None))
    clients = commands = traffic = None
    idleReleases = 0
    if backend is None:
        backend = backendFiguresOf(
            factory.backend if factory is not None else None)
    if factory is not None:
        stats = factory.stats
        clients = ClientFigures(
            factory.countActive(), factory.config.maxClients,
            stats.connectionsReceived, stats.dropped, stats.rejected,
            stats.stalledDisconnects, stats.authFailures,
            stats.closedByServer, stats.blockedClients,
            stats.outputLimitDisconnects)
        ops, inputRate, outputRate = stats.rates.rates(
            now, stats.commandsProcessed, stats.netInput, stats.netOutput)
        commands = CommandFigures(
            stats.commandsProcessed, stats.unknown,
            tuple(sorted(stats.perCommand.items())),
            commandStats(stats), tuple(sorted(stats.errorReplies.items())),
            ops)
        traffic = TrafficFigures(stats.netInput, stats.netOutput,
                                 inputRate, outputRate)
        idleReleases = stats.idleReleases
        keyspace = backend.keyspace
        if keyspace is not None and stats.keyspaceBaseline != (0, 0, 0):
            expired, hits, misses = stats.keyspaceBaseline
            backend = backend._replace(keyspace=keyspace._replace(
                expired=max(0, keyspace.expired - expired),
                hits=max(0, keyspace.hits - hits),
                misses=max(0, keyspace.misses - misses)))
    current = rss()
    memory = MemoryFigures(current, nurserySize(), idleReleases,
                           max(current, peakRss()), ALLOCATOR)
    return StatsSnapshot(now, process, clients, commands, traffic, memory,
                         backend)


def commandStats(stats: Stats) -> Tuple[CommandStat, ...]:
    """
    The figures of every command that ran or was refused since the
    counters were zeroed, by name.  A command's time is estimated from its
    timed calls: their average times its calls.
    """
    out = []
    per = stats.perCommand
    timed = stats.sampledCalls
    spent = stats.sampledNanoseconds
    for name in sorted(per):
        # Redis counts a refused call as rejected, not as a call.
        calls = per[name] - stats.rejectedCalls.get(name, 0)
        sampled = timed.get(name, 0)
        usec = (spent.get(name, 0) * calls // sampled // 1000) if sampled \
            else 0
        out.append(CommandStat(name, calls, usec,
                               stats.rejectedCalls.get(name, 0),
                               stats.failedCalls.get(name, 0)))
    return tuple(out)


def peakRss() -> int:
    """
    The most resident memory this process has had, in bytes (0 where
    unknown).
    """
    try:
        import resource
    except ImportError:
        return 0
    # Linux gives kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _allocator() -> str:
    """
    The name of the interpreter's memory allocator, for C{INFO}'s
    C{mem_allocator}.
    """
    info = getattr(sys, "pypy_translation_info", None)
    if info is not None:
        return "pypy-%s" % (info.get("translation.gc", "gc"),)
    import sysconfig
    return "pymalloc" if sysconfig.get_config_var("WITH_PYMALLOC") \
        else "libc"


#: The interpreter's memory allocator (L{_allocator}).
ALLOCATOR = _allocator()


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
           "ClientFigures", "CommandFigures", "CommandStat", "CpuFigures",
           "RateWindow", "TrafficFigures", "commandStats", "cpuFigures",
           "peakRss", "pollApi", "ALLOCATOR",
           "MemoryFigures", "KeyspaceFigures", "DatabaseFigures", "PersistenceFigures", "PubSubFigures",
           "IPersistenceStats",
           "takeSnapshot", "memoryFigures", "keyspaceFigures",
           "persistenceFigures", "backendFiguresOf", "reactorName"]
