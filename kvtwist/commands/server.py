# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Commands about the server as a whole (Redis's C{server} group): INFO,
COMMAND, TIME, SAVE, BGSAVE, LASTSAVE, SHUTDOWN, WAIT (CONFIG is
L{kvtwist.commands.configuration}'s).  Those on the databases
(DBSIZE, FLUSHDB, FLUSHALL, SWAPDB) are L{kvtwist.commands.databases}'.
"""

import binascii
import os
import platform
import sys
import time

from kvtwist.commands.connection import REDIS_COMPAT_VERSION, field
from kvtwist.commands.registry import TABLE, group, lookupFull
from kvtwist.replies import NO_REPLY, SYNTAX, Error, Status, Verbatim
from kvtwist.stats import IStatsSnapshot, memoryFigures, takeSnapshot

command = group("server")


def infoSections(ctx):
    """
    The sections of C{INFO}, a list of C{(title, [(field, value)])},
    rendered from one stats snapshot (L{kvtwist.stats.takeSnapshot}) of
    C{ctx}'s server, or of its store and service for a command run
    without a server.
    """
    if ctx.factory is not None:
        snap = takeSnapshot(ctx.factory)
    else:
        snap = takeSnapshot(None, memoryFigures(ctx.store, ctx.service))
    return renderInfo(snap)


def human(size: int) -> str:
    """
    A number of bytes as Redis writes it for people: C{512B},
    C{1.50K}, C{12.25M}...
    """
    if size < 1024:
        return "%dB" % (size,)
    for unit in "KMGTP":
        size /= 1024.0
        if size < 1024 or unit == "P":
            return "%.2f%s" % (size, unit)


#: What C{INFO}'s server section says of the machine.
_OS = "%s %s %s" % (platform.system(), platform.release(), platform.machine())
_ARCH_BITS = 64 if sys.maxsize > 2 ** 32 else 32

#: The replication id kvtwist answers with: it has no replicas (Redis's
#: C{master_replid}, random per start).
_REPLID = binascii.hexlify(os.urandom(20)).decode("ascii")


def renderInfo(snap: IStatsSnapshot):
    """
    C{INFO}'s sections for a stats snapshot, with Redis's field names
    where Redis has one, in Redis's order; the parts the snapshot lacks (a
    server's counters, a backend's keyspace or persistence) are left out.
    Fields of kvtwist's own follow Redis's in their section.
    """
    process = snap.process
    sections = [("Server", [
        ("redis_version", REDIS_COMPAT_VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_mode", "standalone"),
        ("os", _OS),
        ("arch_bits", _ARCH_BITS),
        ("multiplexing_api", process.pollApi),
        ("process_id", process.pid),
        ("process_supervised", "no"),
        ("run_id", process.runId),
        ("tcp_port", process.tcpPort),
        ("server_time_usec", int(snap.time * 1000000)),
        ("uptime_in_seconds", int(process.uptime)),
        ("uptime_in_days", int(process.uptime // 86400)),
        ("hz", 10),
        ("configured_hz", 10),
        ("executable", sys.executable),
        ("config_file", ""),
        ("io_threads_active", 0),
        ("kvtwist_version", process.version),
        ("implementation", process.implementation),
        ("python_version", process.pythonVersion),
        ("reactor", process.reactor),
    ])]
    clients = snap.clients
    if clients is not None:
        sections.append(("Clients", [
            ("connected_clients", clients.connected),
            ("cluster_connections", 0),
            ("maxclients", clients.maxClients),
            ("blocked_clients", clients.blocked),
            ("tracking_clients", 0),
            ("dropped_clients", clients.dropped),
            ("closed_by_server", clients.closedByServer),
        ]))
        if snap.backend.pubsub is not None:
            sections[-1][1].append(("pubsub_clients",
                                    snap.backend.pubsub.clients))
    memory = snap.memory
    # kvtwist can't tell its heap from its resident memory cheaply on
    # either interpreter: used_memory is the resident memory.
    used = memory.rss
    fields = [
        ("used_memory", used),
        ("used_memory_human", human(used)),
        ("used_memory_rss", memory.rss),
        ("used_memory_rss_human", human(memory.rss)),
        ("used_memory_peak", memory.peak),
        ("used_memory_peak_human", human(memory.peak)),
        ("maxmemory", 0),
        ("maxmemory_human", "0B"),
        ("maxmemory_policy", "noeviction"),
        ("mem_fragmentation_ratio", "%.2f" % (memory.rss / used if used
                                              else 1.0,)),
        ("mem_allocator", memory.allocator),
    ]
    if memory.gcNursery is not None:
        fields.append(("gc_nursery_bytes", memory.gcNursery))
    if clients is not None:
        fields.append(("idle_memory_releases", memory.idleReleases))
    sections.append(("Memory", fields))
    persistence = snap.backend.persistence
    if persistence is not None:
        fields = list(persistence.fields)
        names = {name for name, _ in fields}
        # What tools (redis-cli --stat) read and kvtwist never does.
        fields += [(name, 0) for name in (
            "async_loading", "aof_rewrite_in_progress",
            "aof_rewrite_scheduled") if name not in names]
        sections.append(("Persistence", fields))
    keyspace = snap.backend.keyspace
    commands = snap.commands
    if commands is not None:
        traffic = snap.traffic
        fields = [
            ("total_connections_received", clients.received),
            ("total_commands_processed", commands.processed),
            ("instantaneous_ops_per_sec", int(round(commands.opsPerSecond))),
            ("total_net_input_bytes", traffic.input),
            ("total_net_output_bytes", traffic.output),
            ("total_net_repl_input_bytes", 0),
            ("total_net_repl_output_bytes", 0),
            ("instantaneous_input_kbps",
             "%.2f" % (traffic.inputPerSecond / 1024,)),
            ("instantaneous_output_kbps",
             "%.2f" % (traffic.outputPerSecond / 1024,)),
            ("rejected_connections", clients.rejected),
            ("sync_full", 0),
            ("sync_partial_ok", 0),
            ("sync_partial_err", 0),
        ]
        if keyspace is not None:
            fields.append(("expired_keys", keyspace.expired))
        fields += [
            ("evicted_keys", 0),
            ("evicted_clients", 0),
        ]
        if keyspace is not None:
            fields += [("keyspace_hits", keyspace.hits),
                       ("keyspace_misses", keyspace.misses)]
        pubsub = snap.backend.pubsub
        if pubsub is not None:
            fields += [("pubsub_channels", pubsub.channels),
                       ("pubsub_patterns", pubsub.patterns)]
        fields += [
            ("total_error_replies", sum(n for _, n in commands.errors)),
            ("unexpected_error_replies", 0),
            ("client_output_buffer_limit_disconnections",
             clients.stalledDisconnects + clients.outputLimitDisconnects),
            ("acl_access_denied_auth", clients.authFailures),
            ("unknown_commands", commands.unknown),
            ("auth_failures", clients.authFailures),
        ]
        sections.append(("Stats", fields))
    sections.append(("Replication", [
        ("role", "master"),
        ("connected_slaves", 0),
        ("master_failover_state", "no-failover"),
        ("master_replid", _REPLID),
        ("master_replid2", "0" * 40),
        ("master_repl_offset", 0),
        ("second_repl_offset", -1),
        ("repl_backlog_active", 0),
        ("repl_backlog_size", 1048576),
        ("repl_backlog_first_byte_offset", 0),
        ("repl_backlog_histlen", 0),
    ]))
    cpu = process.cpu
    if cpu is not None:
        sections.append(("CPU", [
            ("used_cpu_sys", cpu.system),
            ("used_cpu_user", cpu.user),
            ("used_cpu_sys_children", cpu.childrenSystem),
            ("used_cpu_user_children", cpu.childrenUser),
        ]))
    sections.append(("Modules", []))
    if commands is not None:
        sections.append(("Commandstats", [
            ("cmdstat_" + c.name.lower(),
             "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,"
             "failed_calls=%d" % (c.calls, c.usec, c.usecPerCall,
                                  c.rejected, c.failed))
            for c in commands.stats]))
        sections.append(("Errorstats", [
            ("errorstat_" + code, "count=%d" % (count,))
            for code, count in commands.errors]))
    sections.append(("Cluster", [("cluster_enabled", 0)]))
    if snap.backend.fields:
        sections.append(("Backend", list(snap.backend.fields)))
    if keyspace is not None:
        # keys: every database's (kvtwist's); then Redis's line for each
        # non-empty database.
        sections.append(("Keyspace", [("keys", keyspace.keys)] + [
            ("db%d" % (db.index,), "keys=%d,expires=%d,avg_ttl=%d"
             % (db.keys, db.expiring, db.avgTtl))
            for db in keyspace.databases]))
    return sections


#: The sections of C{INFO} with no argument (or C{default}), as Redis 7.
DEFAULT_SECTIONS = frozenset([
    "server", "clients", "memory", "persistence", "stats", "replication",
    "cpu", "errorstats", "cluster", "keyspace", "backend"])

#: The sections C{INFO all} leaves out (C{everything} has them).
_NOT_IN_ALL = frozenset(["modules"])


def formatInfo(sections, args) -> Verbatim:
    """
    C{INFO args}'s reply: the sections asked for, as C{# Title} and
    C{name:value} lines.  As Redis 7: none (or C{default}) asks for the
    default ones (L{DEFAULT_SECTIONS}: not C{commandstats}), C{all} for
    every one but C{modules}, C{everything} for every one; names are
    read in any case and may be combined (C{INFO default
    commandstats}); an unknown name adds nothing.
    """
    wanted = {a.decode("utf-8", "replace").lower() for a in args}
    if not wanted:
        wanted = {"default"}
    lines = []
    for title, fields in sections:
        name = title.lower()
        if not (name in wanted or "everything" in wanted
                or ("all" in wanted and name not in _NOT_IN_ALL)
                or ("default" in wanted and name in DEFAULT_SECTIONS)):
            continue
        if lines:
            lines.append("")
        lines.append("# " + title)
        for key, value in fields:
            lines.append("%s:%s" % (key, field(value)))
    if not lines:
        return Verbatim(b"")
    return Verbatim(("\r\n".join(lines) + "\r\n").encode("utf-8"))


@command("INFO", -1, "loading stale", "Information about the server.",
         (0, 0, 0), syntax="INFO [section [section ...]]")
def info(ctx, args):
    return formatInfo(infoSections(ctx), args)


def _commandInfo(cmd):
    return [cmd.name.lower().encode(), cmd.arity,
            [Status(f) for f in cmd.flags], cmd.firstKey, cmd.lastKey,
            cmd.step]


@command("COMMAND", -1, "loading stale", "About the commands.", (0, 0, 0),
         syntax="COMMAND [COUNT | LIST | INFO [command-name ...] | "
         "DOCS [command-name ...]]",
         subcommands={"COUNT": (2, "loading stale"),
                       "LIST": (-2, "loading stale"),
                       "INFO": (-2, "loading stale"),
                       "DOCS": (-2, "loading stale")})
def command_(ctx, args):
    if not args:
        return [_commandInfo(c) for c in TABLE.values()]
    sub = args[0].upper()
    if sub == b"COUNT":
        return len(TABLE)
    if sub == b"LIST":
        return [c.name.lower().encode() for c in TABLE.values()]
    if sub == b"INFO":
        found = [lookupFull(n) for n in args[1:]]
        return [None if c is None else _commandInfo(c) for c in found]
    if sub == b"DOCS":
        names = [n.upper() for n in args[1:]] or list(TABLE)
        return {TABLE[n].name.lower().encode(): {
                    b"summary": TABLE[n].summary.encode(),
                    b"since": b"1.0.0", b"group": TABLE[n].group.encode()}
                for n in names if n in TABLE}
    return Error("ERR unknown subcommand '%s'. Try COMMAND HELP."
                 % (args[0].decode("utf-8", "replace"),))


@command("TIME", 1, "loading stale fast", "The server's time.", (0, 0, 0),
         syntax="TIME")
def time_(ctx, args):
    now = time.time()
    return [b"%d" % int(now), b"%d" % int((now % 1) * 1000000)]


@command("SAVE", 1, "admin noscript no_async_loading no_multi",
         "Write a snapshot now (blocks the server).", (0, 0, 0),
         syntax="SAVE")
def save(ctx, args):
    if ctx.service is None:
        return Error("ERR persistence is not configured")
    return ctx.service.save()


@command("BGSAVE", -1, "admin noscript no_async_loading",
         "Write a snapshot in the background.", (0, 0, 0),
         syntax="BGSAVE")
def bgsave(ctx, args):
    if ctx.service is None:
        return Error("ERR persistence is not configured")
    atomic = ctx.client.atomic
    if atomic is not None:
        # Inside EXEC: started once the whole EXEC ran (as Redis does), so
        # that the snapshot never holds half of it.
        atomic.later(ctx.service.bgsave)
        return Status("Background saving scheduled")
    return ctx.service.bgsave()


@command("SHUTDOWN", -1, "admin noscript loading stale no_multi allow_busy",
         "Write the log (and with SAVE a snapshot) and stop the server; "
         "NOSAVE stops even if writing fails, losing what isn't written.",
         (0, 0, 0), syntax="SHUTDOWN [NOSAVE | SAVE]")
def shutdown(ctx, args):
    if len(args) > 1:
        return SYNTAX
    mode = args[0].lower().decode("ascii", "replace") if args else None
    if mode not in (None, "save", "nosave"):
        return SYNTAX
    if ctx.service is None:
        return Error("ERR persistence is not configured")

    def answered(reply):
        if reply == "OK":
            # As Redis: the connection closes without a reply (redis-py's
            # shutdown() takes a reply for a failure).
            ctx.client.closeAfterReply = True
            return NO_REPLY
        return reply

    return ctx.service.shutdown(mode).addCallback(answered)


@command("LASTSAVE", 1, "loading stale fast",
         "The Unix time of the last snapshot.", (0, 0, 0), syntax="LASTSAVE")
def lastsave(ctx, args):
    if ctx.service is None:
        return 0
    return int(ctx.service.lastSave)


@command("WAIT", 3, "noscript", "Wait for replicas to acknowledge the "
         "writes so far: kvtwist has none, so it answers 0 at once.",
         (0, 0, 0), syntax="WAIT numreplicas timeout")
def wait(ctx, args):
    try:
        int(args[0])
    except ValueError:
        return Error("ERR value is not an integer or out of range")
    try:
        timeout = int(args[1])
    except ValueError:
        return Error("ERR timeout is not an integer or out of range")
    if timeout < 0:
        return Error("ERR timeout is negative")
    # Redis would wait the timeout out (forever for 0) for replicas that
    # can never answer; no client is helped by that.
    return 0
