# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Connection and server commands: PING, ECHO, QUIT, AUTH, HELLO, INFO,
CLIENT, CONFIG, COMMAND, TIME, SAVE, BGSAVE, LASTSAVE.
"""

import fnmatch
import hmac
import time

from kvtwist import __version__, replies
from kvtwist.commands import TABLE, command
from kvtwist.nursery import nurserySize
from kvtwist.replies import OK, PONG, SYNTAX, Error, Status, Verbatim

#: The Redis version kvtwist answers as, for clients that check it.
REDIS_COMPAT_VERSION = "7.4.0"


@command("PING", -1, "readonly", "PONG, or the message.", (0, 0, 0))
def ping(ctx, args):
    if len(args) > 1:
        return replies.wrongArity("ping")
    return args[0] if args else PONG


@command("ECHO", 2, "readonly", "The message.", (0, 0, 0))
def echo(ctx, args):
    return args[0]


@command("QUIT", -1, "noauth readonly", "Close the connection.", (0, 0, 0))
def quit(ctx, args):
    ctx.client.closeAfterReply = True
    return OK


@command("EXIT", -1, "noauth readonly", "Close the connection.", (0, 0, 0))
def exit_(ctx, args):
    return quit(ctx, args)


def _checkPassword(ctx, user, password):
    server = ctx.server
    secret = getattr(server, "password", None) if server else None
    if secret is None:
        return Error(
            "ERR AUTH <password> called without any password configured "
            "for the default user. Are you sure your configuration is "
            "correct?")
    okUser = hmac.compare_digest(user, b"default")
    okPass = hmac.compare_digest(password, secret)
    if okUser and okPass:
        ctx.client.authenticated = True
        return OK
    server.stats.authFailures += 1
    return replies.WRONGPASS


@command("AUTH", -2, "noauth readonly", "AUTH [user] password", (0, 0, 0))
def auth(ctx, args):
    if len(args) == 1:
        return _checkPassword(ctx, b"default", args[0])
    if len(args) == 2:
        return _checkPassword(ctx, args[0], args[1])
    return SYNTAX


@command("HELLO", -1, "noauth readonly",
         "HELLO [2|3] [AUTH user pass] [SETNAME name]", (0, 0, 0))
def hello(ctx, args):
    client = ctx.client
    proto = client.protover
    if args:
        try:
            proto = int(args[0])
        except ValueError:
            return Error("ERR Protocol version is not an integer or out of "
                         "range")
        if proto not in (2, 3):
            return Error("NOPROTO unsupported protocol version")
    rest = args[1:]
    name = None
    while rest:
        opt = rest[0].upper()
        if opt == b"AUTH" and len(rest) >= 3:
            result = _checkPassword(ctx, rest[1], rest[2])
            if result is not OK:
                return result
            rest = rest[3:]
        elif opt == b"SETNAME" and len(rest) >= 2:
            name = rest[1]
            rest = rest[2:]
        else:
            return Error("ERR Syntax error in HELLO option '%s'"
                         % (rest[0].decode("utf-8", "replace"),))
    if not client.authenticated:
        return replies.NOAUTH
    client.protover = proto
    if name is not None:
        client.name = name
    return {
        b"server": b"redis",
        b"version": REDIS_COMPAT_VERSION.encode(),
        b"kvtwist_version": __version__.encode(),
        b"proto": proto,
        b"id": client.id,
        b"mode": b"standalone",
        b"role": b"master",
        b"modules": [],
    }


def _field(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float):
        return "%.6f" % (value,)
    return str(value)


def _reactorName(server) -> str:
    """
    The class of the reactor C{server} runs on (its clock, in production).
    """
    if server is None:
        return "none"
    kind = type(server.clock)
    return "%s.%s" % (kind.__module__, kind.__qualname__)


def infoSections(ctx):
    """
    The sections of C{INFO}: a list of C{(title, [(field, value)])}.
    """
    server = ctx.server
    service = ctx.service
    store = ctx.store
    now = time.time()
    sections = []
    started = server.stats.startTime if server else now
    sections.append(("Server", [
        ("redis_version", REDIS_COMPAT_VERSION),
        ("kvtwist_version", __version__),
        ("redis_mode", "standalone"),
        ("process_id", __import__("os").getpid()),
        ("tcp_port", server.config.portNumber() if server else 0),
        ("uptime_in_seconds", int(now - started)),
        ("uptime_in_days", int((now - started) // 86400)),
        ("implementation", __import__("platform").python_implementation()),
        ("reactor", _reactorName(server)),
    ]))
    if server is not None:
        stats = server.stats
        sections.append(("Clients", [
            ("connected_clients", server.countActive()),
            ("dropped_clients", server.countDropped()),
            ("maxclients", server.config.maxClients),
            ("rejected_connections", stats.rejected),
            ("blocked_clients", 0),
        ]))
    memory = [("used_memory_rss", _rss())]
    nursery = nurserySize()
    if nursery is not None:
        memory.append(("gc_nursery_bytes", nursery))
    if server is not None:
        memory.append(("idle_memory_releases", server.stats.idleReleases))
    sections.append(("Memory", memory))
    if service is not None:
        sections.append(("Persistence", list(service.info().items())))
    if server is not None:
        stats = server.stats
        sections.append(("Stats", [
            ("total_connections_received", stats.connectionsReceived),
            ("total_commands_processed", stats.commandsProcessed),
            ("unknown_commands", stats.unknown),
            ("rejected_connections", stats.rejected),
            ("expired_keys", store.expiredCount),
            ("total_net_input_bytes", stats.netInput),
            ("total_net_output_bytes", stats.netOutput),
            ("auth_failures", stats.authFailures),
        ]))
    sections.append(("Keyspace", [
        ("keys", store.size()),
        ("db0", "keys=%d,expires=%d,avg_ttl=0"
         % (store.size(), store.expiringCount())),
    ]))
    return sections


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        import resource
        return pages * resource.getpagesize()
    except (OSError, ValueError, ImportError):
        return 0


@command("INFO", -1, "readonly", "Server information: INFO [section].",
         (0, 0, 0))
def info(ctx, args):
    wanted = {a.decode("utf-8", "replace").lower() for a in args}
    everything = not wanted or wanted & {"all", "everything", "default"}
    lines = []
    for title, fields in infoSections(ctx):
        if not everything and title.lower() not in wanted:
            continue
        if lines:
            lines.append("")
        lines.append("# " + title)
        for name, value in fields:
            lines.append("%s:%s" % (name, _field(value)))
    return Verbatim(("\r\n".join(lines) + "\r\n").encode("utf-8"))


def clientLine(state, now: float) -> str:
    """
    One line of C{CLIENT LIST} for a L{kvtwist.commands.ClientState}.
    """
    return ("id=%d addr=%s name=%s age=%d idle=%d cmd=%s dialect=%s "
            "resp=%d cmds=%d" % (
                state.id, state.addr, _field(state.name),
                int(now - state.created), int(now - state.lastActive),
                _field(state.lastCommand).lower() or "NULL",
                state.dialect, state.protover, state.commands))


@command("CLIENT", -2, "readonly",
         "CLIENT ID|GETNAME|SETNAME|LIST|INFO|SETINFO", (0, 0, 0))
def client(ctx, args):
    sub = args[0].upper()
    state = ctx.client
    if sub == b"ID" and len(args) == 1:
        return state.id
    if sub == b"GETNAME" and len(args) == 1:
        return state.name or None
    if sub == b"SETNAME" and len(args) == 2:
        if b" " in args[1] or b"\n" in args[1]:
            return Error("ERR Client names cannot contain spaces, newlines "
                         "or special characters.")
        state.name = args[1]
        return OK
    if sub == b"SETINFO" and len(args) == 3:
        return OK
    if sub == b"INFO" and len(args) == 1:
        return Verbatim((clientLine(state, time.time()) + "\n").encode())
    if sub == b"LIST":
        now = time.time()
        states = ctx.server.clientStates() if ctx.server else [state]
        return Verbatim("".join(clientLine(s, now) + "\n"
                                for s in states).encode())
    return Error("ERR unknown subcommand or wrong number of arguments for "
                 "'%s'. Try CLIENT HELP." % (args[0].decode("utf-8",
                                                             "replace"),))


@command("CONFIG", -2, "readonly", "CONFIG GET pattern (read-only view).",
         (0, 0, 0))
def config(ctx, args):
    sub = args[0].upper()
    if sub == b"GET" and len(args) >= 2:
        view = ctx.server.config.view() if ctx.server else {}
        out = {}
        for pattern in args[1:]:
            pat = pattern.decode("utf-8", "replace").lower()
            for name, value in view.items():
                if fnmatch.fnmatchcase(name, pat):
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


@command("COMMAND", -1, "readonly", "COMMAND [COUNT|INFO|DOCS|LIST]",
         (0, 0, 0))
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
                    b"since": b"1.0.0", b"group": b"generic"}
                for n in names if n in TABLE}
    return Error("ERR unknown subcommand '%s'. Try COMMAND HELP."
                 % (args[0].decode("utf-8", "replace"),))


@command("TIME", 1, "readonly", "The server time.", (0, 0, 0))
def time_(ctx, args):
    now = time.time()
    return [b"%d" % int(now), b"%d" % int((now % 1) * 1000000)]


@command("SAVE", 1, "readonly", "Write a snapshot now (blocks).", (0, 0, 0))
def save(ctx, args):
    if ctx.service is None:
        return Error("ERR persistence is not configured")
    return ctx.service.save()


@command("BGSAVE", -1, "readonly", "Write a snapshot in the background.",
         (0, 0, 0))
def bgsave(ctx, args):
    if ctx.service is None:
        return Error("ERR persistence is not configured")
    return ctx.service.bgsave()


@command("LASTSAVE", 1, "readonly", "Unix time of the last snapshot.",
         (0, 0, 0))
def lastsave(ctx, args):
    if ctx.service is None:
        return 0
    return int(ctx.service.lastSave)


_HELP = [
    "Commands are case-insensitive; the README lists them all.",
    "  SET key value        store a value (text: the rest of the line)",
    "  GET key              show a value",
    "  REMOVE key           delete a key (also DEL, DELETE)",
    "  PRINT                every key and value (O(store): prefer SCAN)",
    "  MSET k1 v1 k2 v2     set several keys",
    "  MGET k1 k2           several values",
    "  EXISTS k | KEYS [p] | SCAN c | INCR k | EXPIRE k s | TTL k | FLUSH",
    "  LPUSH RPUSH LPOP RPOP LRANGE LLEN LINDEX LSET LREM  lists",
    "  INFO [section] | CLIENT LIST | SAVE | BGSAVE",
    "  quit                 leave (also EXIT)",
]


@command("HELP", -1, "readonly", "A short list of commands.", (0, 0, 0))
def help_(ctx, args):
    return [Status(line) for line in _HELP]
