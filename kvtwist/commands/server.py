# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Commands about the server as a whole (Redis's C{server} group): INFO,
CONFIG, COMMAND, TIME, SAVE, BGSAVE, LASTSAVE.  Those on the databases
(DBSIZE, FLUSHDB, FLUSHALL, SWAPDB) are L{kvtwist.commands.databases}'.
"""

import time

from kvtwist.commands.connection import REDIS_COMPAT_VERSION, field
from kvtwist.commands.registry import TABLE, group
from kvtwist.glob import Glob
from kvtwist.replies import SYNTAX, Error, Status, Verbatim
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


def renderInfo(snap: IStatsSnapshot):
    """
    C{INFO}'s sections for a stats snapshot, with Redis's field names
    where Redis has one; the parts the snapshot lacks (a server's
    counters, a backend's keyspace or persistence) are left out.
    """
    process = snap.process
    sections = [("Server", [
        ("redis_version", REDIS_COMPAT_VERSION),
        ("kvtwist_version", process.version),
        ("redis_mode", "standalone"),
        ("process_id", process.pid),
        ("tcp_port", process.tcpPort),
        ("uptime_in_seconds", int(process.uptime)),
        ("uptime_in_days", int(process.uptime // 86400)),
        ("implementation", process.implementation),
        ("reactor", process.reactor),
    ])]
    clients = snap.clients
    if clients is not None:
        sections.append(("Clients", [
            ("connected_clients", clients.connected),
            ("dropped_clients", clients.dropped),
            ("closed_by_server", clients.closedByServer),
            ("maxclients", clients.maxClients),
            ("rejected_connections", clients.rejected),
            ("blocked_clients", clients.blocked),
        ]))
        if snap.backend.pubsub is not None:
            sections[-1][1].append(("pubsub_clients",
                                    snap.backend.pubsub.clients))
    memory = [("used_memory_rss", snap.memory.rss)]
    if snap.memory.gcNursery is not None:
        memory.append(("gc_nursery_bytes", snap.memory.gcNursery))
    if clients is not None:
        memory.append(("idle_memory_releases", snap.memory.idleReleases))
    sections.append(("Memory", memory))
    persistence = snap.backend.persistence
    if persistence is not None:
        sections.append(("Persistence", list(persistence.fields)))
    keyspace = snap.backend.keyspace
    commands = snap.commands
    if commands is not None:
        stats = [
            ("total_connections_received", clients.received),
            ("total_commands_processed", commands.processed),
            ("unknown_commands", commands.unknown),
            ("rejected_connections", clients.rejected),
        ]
        if keyspace is not None:
            stats.append(("expired_keys", keyspace.expired))
        stats += [
            ("total_net_input_bytes", snap.traffic.input),
            ("total_net_output_bytes", snap.traffic.output),
            ("auth_failures", clients.authFailures),
            ("client_output_buffer_limit_disconnections",
             clients.outputLimitDisconnects),
        ]
        pubsub = snap.backend.pubsub
        if pubsub is not None:
            stats += [("pubsub_channels", pubsub.channels),
                      ("pubsub_patterns", pubsub.patterns)]
        sections.append(("Stats", stats))
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


def formatInfo(sections, args) -> Verbatim:
    """
    C{INFO args}'s reply: the sections asked for (every one for none,
    C{all}, C{everything} or C{default}), as C{# Title} and C{name:value}
    lines.
    """
    wanted = {a.decode("utf-8", "replace").lower() for a in args}
    everything = not wanted or wanted & {"all", "everything", "default"}
    lines = []
    for title, fields in sections:
        if not everything and title.lower() not in wanted:
            continue
        if lines:
            lines.append("")
        lines.append("# " + title)
        for name, value in fields:
            lines.append("%s:%s" % (name, field(value)))
    return Verbatim(("\r\n".join(lines) + "\r\n").encode("utf-8"))


@command("INFO", -1, "loading stale", "Information about the server.",
         (0, 0, 0), syntax="INFO [section [section ...]]")
def info(ctx, args):
    return formatInfo(infoSections(ctx), args)


@command("CONFIG", -2, "", "The server's settings (read-only).", (0, 0, 0),
         syntax="CONFIG GET parameter [parameter ...]")
def config(ctx, args):
    sub = args[0].upper()
    if sub == b"GET" and len(args) >= 2:
        view = ctx.factory.config.view() if ctx.factory else {}
        out = {}
        for pattern in args[1:]:
            glob = Glob(pattern, nocase=True)
            for name, value in view.items():
                if glob.match(name.encode()):
                    out[name.encode()] = str(value).encode()
        return out
    if sub in (b"SET", b"RESETSTAT", b"REWRITE"):
        return Error("ERR CONFIG %s is not supported: kvtwist is configured "
                     "by its command-line options" % (sub.decode(),))
    return Error("ERR unknown subcommand '%s'. Try CONFIG HELP."
                 % (args[0].decode("utf-8", "replace"),))


def _commandInfo(cmd):
    return [cmd.name.lower().encode(), cmd.arity,
            [Status(f) for f in cmd.flags], cmd.firstKey, cmd.lastKey,
            cmd.step]


@command("COMMAND", -1, "loading stale", "About the commands.", (0, 0, 0),
         syntax="COMMAND [COUNT | LIST | INFO [command-name ...] | "
         "DOCS [command-name ...]]")
def command_(ctx, args):
    if not args:
        return [_commandInfo(c) for c in TABLE.values()]
    sub = args[0].upper()
    if sub == b"COUNT":
        return len(TABLE)
    if sub == b"LIST":
        return [c.name.lower().encode() for c in TABLE.values()]
    if sub == b"INFO":
        return [_commandInfo(TABLE[n.upper()]) if n.upper() in TABLE
                else None for n in args[1:]]
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
            # Redis closes the connection; kvtwist says OK first.
            ctx.client.closeAfterReply = True
        return reply

    return ctx.service.shutdown(mode).addCallback(answered)


@command("LASTSAVE", 1, "loading stale fast",
         "The Unix time of the last snapshot.", (0, 0, 0), syntax="LASTSAVE")
def lastsave(ctx, args):
    if ctx.service is None:
        return 0
    return int(ctx.service.lastSave)
