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
from kvtwist.commands.registry import TABLE, group, intArg
from kvtwist.replies import OK, PONG, SYNTAX, Error, Status, Verbatim

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
         "Reset the connection: unsubscribe from everything, back to "
         "RESP2, database 0, no name, authenticated only if no password "
         "is required.", (0, 0, 0), syntax="RESET")
def reset(ctx, args):
    client = ctx.client
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


def clientFlags(state) -> str:
    """
    C{CLIENT LIST}'s C{flags} of a client: Redis's C{b} (blocked), C{P}
    (subscribed), or C{N} for none.
    """
    flags = ("b" if state.blocked else "") + ("P" if state.pubsub else "")
    return flags or "N"


def clientLine(state, now: float) -> str:
    """
    One line of C{CLIENT LIST} for a L{kvtwist.commands.ClientState}.
    """
    pubsub = state.pubsub
    return ("id=%d addr=%s name=%s age=%d idle=%d flags=%s db=%d sub=%d "
            "psub=%d cmd=%s dialect=%s resp=%d cmds=%d" % (
                state.id, state.addr, field(state.name),
                int(now - state.created), int(now - state.lastActive),
                clientFlags(state), state.db,
                len(pubsub.channels) if pubsub is not None else 0,
                len(pubsub.patterns) if pubsub is not None else 0,
                field(state.lastCommand).lower() or "NULL",
                state.dialect, state.protover, state.commands))


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


@command("CLIENT", -2, "", "About connections.", (0, 0, 0),
         syntax="CLIENT ID | GETNAME | SETNAME connection-name | "
         "SETINFO attr value | INFO | LIST | UNBLOCK client-id "
         "[TIMEOUT | ERROR]")
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
    if sub == b"UNBLOCK" and len(args) in (2, 3):
        return _unblock(ctx, args[1:])
    if sub == b"INFO" and len(args) == 1:
        return Verbatim((clientLine(state, time.time()) + "\n").encode())
    if sub == b"LIST":
        now = time.time()
        states = ctx.factory.clientStates() if ctx.factory else [state]
        return Verbatim("".join(clientLine(s, now) + "\n"
                                for s in states).encode())
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
