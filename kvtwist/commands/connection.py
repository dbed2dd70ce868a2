# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Commands about the client's own connection (Redis's C{connection} group):
PING, ECHO, QUIT, AUTH, HELLO, CLIENT (SELECT is with the databases'
commands, L{kvtwist.commands.databases}); and kvtwist's EXIT and
HELP.
"""

import hmac
import time

from kvtwist import __version__, replies
from kvtwist.commands.context import ConnectionFigures
from kvtwist.commands.registry import TABLE, group, intArg
from kvtwist.commands.transactions import discard
from kvtwist.replies import (
    NO_REPLY, NOT_INTEGER, OK, PONG, SYNTAX, Error, Status, Verbatim)

command = group("connection")

#: The Redis version kvtwist answers as, for clients that check it.
REDIS_COMPAT_VERSION = "7.4.0"

#: The flags of the commands that may run before authentication.
_NO_AUTH = "noscript loading stale fast no_auth allow_busy"


@command("PING", -1, "fast", "PONG, or the message.", (0, 0, 0),
         syntax="PING [message]")
def ping(ctx, args):
    if len(args) > 1:
        return replies.wrongArity("ping")
    return args[0] if args else PONG


@command("ECHO", 2, "loading stale fast", "The message.", (0, 0, 0),
         syntax="ECHO message")
def echo(ctx, args):
    return args[0]


@command("QUIT", -1, _NO_AUTH, "Close the connection.", (0, 0, 0),
         syntax="QUIT")
def quit(ctx, args):
    ctx.client.closeAfterReply = True
    return OK


@command("EXIT", -1, _NO_AUTH, "Close the connection (kvtwist).", (0, 0, 0),
         syntax="EXIT")
def exit_(ctx, args):
    return quit(ctx, args)


@command("RESET", 1, "noscript loading stale fast no_auth allow_busy",
         "Reset the connection: no transaction, no watched keys, "
         "unsubscribe from everything, back to RESP2, database 0, no name, "
         "authenticated only if no password is required.", (0, 0, 0),
         syntax="RESET")
def reset(ctx, args):
    client = ctx.client
    discard(client)
    hub = getattr(getattr(ctx.factory, "backend", None), "hub", None)
    if hub is not None:
        hub.forget(client)
    client.protover = 2
    client.name = b""
    client.db = 0
    if ctx.store is not None:
        ctx.store = ctx.store.owner
    factory = ctx.factory
    client.authenticated = getattr(factory, "password", None) is None
    return Status("RESET")


def _checkPassword(ctx, user, password):
    factory = ctx.factory
    secret = getattr(factory, "password", None) if factory else None
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
    factory.stats.authFailures += 1
    return replies.WRONGPASS


@command("AUTH", -2, _NO_AUTH, "Authenticate the connection.", (0, 0, 0),
         syntax="AUTH [username] password")
def auth(ctx, args):
    if len(args) == 1:
        return _checkPassword(ctx, b"default", args[0])
    if len(args) == 2:
        return _checkPassword(ctx, args[0], args[1])
    return SYNTAX


@command("HELLO", -1, _NO_AUTH,
         "Handshake: choose the protocol version, authenticate, name the "
         "connection.", (0, 0, 0),
         syntax="HELLO [protover [AUTH username password] "
         "[SETNAME clientname]]")
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


def field(value) -> str:
    """
    A value of C{INFO} or C{CLIENT LIST} as text.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float):
        return "%.6f" % (value,)
    return str(value)


#: C{CLIENT LIST}'s figures of a connection that has none (a command run
#: without a server).
_NO_CONNECTION = ConnectionFigures("", -1, 0, 0, 0, 0)


def _flags(state) -> str:
    """
    C{CLIENT LIST}'s C{flags} of a client, as Redis writes them: C{b}
    (blocked), C{P} (subscribed), C{x} (in C{MULTI}), C{d} (a key it
    watches changed: its C{EXEC} will fail), C{c} (closing after this
    reply), C{e} (no-evict), C{T} (no-touch), or C{N} for none.
    """
    flags = ("b" if state.blocked else "") + ("P" if state.pubsub else "")
    if state.transaction is not None or state.executing is not None:
        flags += "x"
    watching = state.watching
    if watching is not None and watching.touched:
        flags += "d"
    if state.closeAfterReply:
        flags += "c"
    if state.noEvict:
        flags += "e"
    if state.noTouch:
        flags += "T"
    return flags or "N"


def clientLine(state, now: float, conn: ConnectionFigures = _NO_CONNECTION
               ) -> str:
    """
    One line of C{CLIENT LIST} for a L{kvtwist.commands.ClientState} and
    its connection's figures: Redis 7.2's fields (those kvtwist has no
    figure for answer what Redis answers for a client that doesn't use
    them), then kvtwist's own (C{dialect}, C{cmds}).
    """
    pubsub = state.pubsub
    transaction = state.transaction
    if transaction is None:
        transaction = state.executing
    watching = state.watching
    return (
        "id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d "
        "sub=%d psub=%d ssub=0 multi=%d watch=%d qbuf=%d qbuf-free=0 "
        "argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=%d oll=%d omem=%d "
        "tot-mem=%d events=r cmd=%s user=default redir=-1 resp=%d "
        "lib-name=%s lib-ver=%s dialect=%s cmds=%d" % (
            state.id, state.addr, conn.laddr, conn.fd, field(state.name),
            int(now - state.created), int(now - state.lastActive),
            _flags(state), state.db, len(pubsub.channels) if pubsub else 0,
            len(pubsub.patterns) if pubsub else 0,
            -1 if transaction is None else len(transaction.queued),
            0 if watching is None else len(watching.keys), conn.qbuf, conn.obl,
            conn.oll,
            conn.omem, conn.qbuf + conn.obl + conn.omem,
            field(state.lastCommand).lower() or "NULL", state.protover,
            field(state.libName), field(state.libVersion), state.dialect,
            state.commands))


def _connections(ctx):
    """
    C{(state, connection)} of every client of C{ctx}'s server (only
    C{ctx}'s client, without a connection, in tests of bare commands).
    """
    if ctx.factory is None:
        return [(ctx.client, None)]
    return [(p.state, p) for p in ctx.factory.connections()]


def _figures(connection) -> ConnectionFigures:
    if connection is None:
        return _NO_CONNECTION
    return connection.connectionFigures()


def _now(ctx) -> float:
    return ctx.factory.now() if ctx.factory is not None else time.time()


#: The client types of C{CLIENT LIST TYPE} and C{CLIENT KILL TYPE}.
_CLIENT_TYPES = (b"NORMAL", b"MASTER", b"REPLICA", b"SLAVE", b"PUBSUB")


def _typeOf(state) -> bytes:
    """
    Redis's type of a client: C{pubsub} while it subscribes to anything,
    else C{normal} (kvtwist has no replicas).
    """
    return b"PUBSUB" if state.pubsub else b"NORMAL"


def _clientList(ctx, args):
    clients = _connections(ctx)
    if args:
        option = args[0].upper()
        if option == b"TYPE" and len(args) == 2:
            kind = args[1].upper()
            if kind not in _CLIENT_TYPES:
                return Error("ERR Unknown client type '%s'"
                             % (args[1].decode("utf-8", "replace"),))
            if kind == b"SLAVE":
                kind = b"REPLICA"
            clients = [c for c in clients if _typeOf(c[0]) == kind]
        elif option == b"ID" and len(args) >= 2:
            ids = set()
            for arg in args[1:]:
                try:
                    ids.add(int(arg))
                except ValueError:
                    return Error("ERR Invalid client ID")
            clients = [c for c in clients if c[0].id in ids]
        else:
            return SYNTAX
    now = _now(ctx)
    return Verbatim("".join(clientLine(s, now, _figures(c)) + "\n"
                            for s, c in clients).encode())


def _yes(value: bytes):
    """
    C{True} for C{yes}, C{False} for C{no}, else L{None}.
    """
    value = value.lower()
    return True if value == b"yes" else False if value == b"no" else None


def _clientKill(ctx, args):
    """
    C{CLIENT KILL addr:port} (the old form: OK, or an error if no client
    has that address) or C{CLIENT KILL filter value ...} (the number of
    clients killed).  Others are closed at once; the caller itself (with
    C{SKIPME no}) once its reply is sent.
    """
    me = ctx.client
    if len(args) == 1:
        matches = [c for c in _connections(ctx) if c[0].addr ==
                   args[0].decode("utf-8", "replace")]
        if not matches:
            return Error("ERR No such client")
        _kill(ctx, matches[:1])
        return OK
    if len(args) % 2:
        return SYNTAX
    tests = []
    skipMe = True
    for i in range(0, len(args), 2):
        option, value = args[i].upper(), args[i + 1]
        text = value.decode("utf-8", "replace")
        if option == b"ID":
            try:
                wanted = int(value)
            except ValueError:
                return Error("ERR client-id should be greater than 0")
            if wanted <= 0:
                return Error("ERR client-id should be greater than 0")
            tests.append(lambda s, c, w=wanted: s.id == w)
        elif option == b"ADDR":
            tests.append(lambda s, c, w=text: s.addr == w)
        elif option == b"LADDR":
            tests.append(lambda s, c, w=text: _figures(c).laddr == w)
        elif option == b"TYPE":
            kind = value.upper()
            if kind not in _CLIENT_TYPES:
                return Error("ERR Unknown client type '%s'" % (text,))
            if kind == b"SLAVE":
                kind = b"REPLICA"
            tests.append(lambda s, c, w=kind: _typeOf(s) == w)
        elif option == b"USER":
            tests.append(lambda s, c, w=value: w == b"default")
        elif option == b"SKIPME":
            skip = _yes(value)
            if skip is None:
                return SYNTAX
            skipMe = skip
        elif option == b"MAXAGE":
            try:
                age = int(value)
            except ValueError:
                return NOT_INTEGER
            now = _now(ctx)
            tests.append(lambda s, c, w=age, n=now: n - s.created >= w)
        else:
            return SYNTAX
    matches = [(s, c) for s, c in _connections(ctx)
               if all(t(s, c) for t in tests)
               and not (skipMe and s is me)]
    _kill(ctx, matches)
    return len(matches)


def _kill(ctx, clients):
    """
    Close C{clients}: at once, or the caller's own once its reply is
    sent.
    """
    for state, connection in clients:
        if state is ctx.client or connection is None:
            state.closeAfterReply = True
        else:
            connection.abort("killed by CLIENT KILL from client %d"
                             % (ctx.client.id,))


def _onOff(value: bytes):
    value = value.upper()
    return True if value == b"ON" else False if value == b"OFF" else None


def _badName(name: bytes) -> bool:
    """
    Whether C{name} has characters Redis refuses in a client's name or
    library info (blanks, controls, anything outside C{!} to C{~}).
    """
    return any(c < 33 or c > 126 for c in name)


def _unblock(ctx, args):
    """
    C{CLIENT UNBLOCK id [TIMEOUT | ERROR]}: through the backend's
    C{unblockClient(id, error)}, if it has one.
    """
    error = False
    if len(args) == 2:
        reason = args[1].upper()
        if reason not in (b"TIMEOUT", b"ERROR"):
            return Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or "
                         "ERROR")
        error = reason == b"ERROR"
    clientId = intArg(args[0])
    backend = getattr(ctx.factory, "backend", None)
    unblock = getattr(backend, "unblockClient", None)
    if unblock is None:
        return 0
    return int(unblock(clientId, error))


#: C{CLIENT HELP}'s lines.
_CLIENT_HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME", "    Return the name of the current connection.",
    "ID", "    Return the ID of the current connection.",
    "INFO", "    Return information about the current client connection.",
    "KILL <ip:port>", "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "    * MAXAGE <maxage>",
    "      Kill connections older than the specified age.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Return clients of specified IDs only.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction (kvtwist never "
    "evicts clients).",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on (kvtwist keeps "
    "none).",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>", "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "HELP", "    Print this help.",
]


#: Redis's flags of CLIENT's subcommands (CLIENT itself has none).
_CLIENT_OWN = "noscript loading stale"
_CLIENT_ADMIN = "admin noscript loading stale"


@command("CLIENT", -2, "", "About connections.", (0, 0, 0),
         subcommands={
             "ID": (2, _CLIENT_OWN), "GETNAME": (2, _CLIENT_OWN),
             "SETNAME": (3, _CLIENT_OWN), "SETINFO": (4, _CLIENT_OWN),
             "INFO": (2, _CLIENT_OWN), "LIST": (-2, _CLIENT_ADMIN),
             "KILL": (-3, _CLIENT_ADMIN), "UNBLOCK": (-3, _CLIENT_ADMIN),
             "NO-EVICT": (3, _CLIENT_ADMIN), "NO-TOUCH": (3, _CLIENT_OWN),
             "REPLY": (3, _CLIENT_OWN), "HELP": (2, "loading stale")},
         syntax="CLIENT ID | INFO | LIST [TYPE type | ID id ...] | "
         "KILL [addr | filter value ...] | GETNAME | SETNAME name | "
         "SETINFO LIB-NAME|LIB-VER value | REPLY ON|OFF|SKIP | "
         "NO-EVICT ON|OFF | NO-TOUCH ON|OFF | "
         "UNBLOCK client-id [TIMEOUT | ERROR] | HELP")
def client(ctx, args):
    sub = args[0].upper()
    rest = args[1:]
    state = ctx.client
    if sub == b"ID" and not rest:
        return state.id
    if sub == b"GETNAME" and not rest:
        return state.name or None
    if sub == b"SETNAME" and len(rest) == 1:
        if _badName(rest[0]):
            return Error("ERR Client names cannot contain spaces, newlines "
                         "or special characters.")
        state.name = rest[0]
        return OK
    if sub == b"SETINFO" and len(rest) == 2:
        attr, value = rest[0].upper(), rest[1]
        if attr not in (b"LIB-NAME", b"LIB-VER"):
            return Error("ERR Unrecognized option '%s'"
                         % (rest[0].decode("utf-8", "replace"),))
        if _badName(value):
            return Error("ERR %s cannot contain spaces, newlines or special "
                         "characters." % (attr.decode().lower(),))
        if attr == b"LIB-NAME":
            state.libName = value
        else:
            state.libVersion = value
        return OK
    if sub == b"UNBLOCK" and len(rest) in (1, 2):
        return _unblock(ctx, rest)
    if sub == b"INFO" and not rest:
        connection = None
        if ctx.factory is not None:
            connection = next((c for s, c in _connections(ctx)
                               if s is state), None)
        return Verbatim((clientLine(state, _now(ctx), _figures(connection))
                         + "\n").encode())
    if sub == b"LIST":
        return _clientList(ctx, rest)
    if sub == b"KILL" and rest:
        return _clientKill(ctx, rest)
    if sub in (b"NO-EVICT", b"NO-TOUCH") and len(rest) == 1:
        on = _onOff(rest[0])
        if on is None:
            return SYNTAX
        if sub == b"NO-EVICT":
            state.noEvict = on
        else:
            state.noTouch = on
        return OK
    if sub == b"REPLY" and len(rest) == 1:
        mode = rest[0].upper()
        if mode == b"ON":
            state.setReplyMode(None)
            return OK
        if mode in (b"OFF", b"SKIP"):
            state.setReplyMode(mode.decode().lower())
            return NO_REPLY
        return SYNTAX
    if sub == b"HELP" and not rest:
        return [Status(line) for line in _CLIENT_HELP]
    return Error("ERR unknown subcommand or wrong number of arguments for "
                 "'%s'. Try CLIENT HELP." % (args[0].decode("utf-8",
                                                             "replace"),))


#: The groups of HELP's list, in order, with their headings.
_HELP_GROUPS = [
    ("generic", "Keys"), ("string", "Strings"), ("list", "Lists"),
    ("server", "Server"), ("connection", "Connection"),
]

#: Where the summary starts in HELP's list (after a longer syntax, two
#: spaces).
_HELP_COLUMN = 30


def _helpLine(cmd) -> str:
    return "  %-*s  %s" % (_HELP_COLUMN - 4, cmd.syntax or cmd.name,
                           cmd.summary)


def helpLines(names=()):
    """
    HELP's lines, from the command table: with no names, every command's
    syntax and summary, by group; else each named command's syntax,
    summary and group.

    @return: the lines, or an L{Error} naming an unknown command.
    """
    if not names:
        lines = ["Commands, in any case (HELP command for one):"]
        known = {name for name, _ in _HELP_GROUPS}
        groups = _HELP_GROUPS + sorted(
            {(c.group, c.group.capitalize()) for c in TABLE.values()
             if c.group not in known})
        for name, heading in groups:
            commands = sorted((c for c in TABLE.values() if c.group == name),
                              key=lambda c: c.name)
            if commands:
                lines.append(heading + ":")
                lines.extend(_helpLine(c) for c in commands)
        return lines
    lines = []
    for name in names:
        cmd = TABLE.get(name.upper())
        if cmd is None:
            return Error("ERR unknown command '%s'. Try HELP."
                         % (name[:128].decode("utf-8", "replace"),))
        lines += [cmd.syntax or cmd.name, "  " + cmd.summary,
                  "  Group: %s." % (cmd.group,)]
    return lines


@command("HELP", -1, "loading stale fast", "The commands: the syntax and "
         "summary of each, or of the ones named (kvtwist).", (0, 0, 0),
         syntax="HELP [command ...]")
def help_(ctx, args):
    lines = helpLines(args)
    if isinstance(lines, Error):
        return lines
    return [Status(line) for line in lines]
