# -*- test-case-name: kvtwist.test.test_commands -*-
"""
The command table: one entry per command, shared by every dialect.

A handler is called as C{handler(ctx, args)} with a L{Context} and the
arguments (L{bytes}, without the command name) and returns a neutral reply
(L{kvtwist.replies}) or a Deferred of one.  Dialects parse their requests
into C{(name, args)} and call L{execute}; they never call a handler
directly.
"""

from typing import Callable, Dict, List, Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from kvtwist import replies
from kvtwist.replies import Error
from kvtwist.store import NoSuchKey, NotAnInteger, OutOfRange, WrongType

_log = Logger(namespace="kvtwist.commands")


class Command:
    """
    One entry of the command table.

    @ivar name: the upper-case name, as L{str}.
    @ivar arity: Redis's arity: the exact number of words including the
        name when positive, the minimum when negative.
    @ivar write: whether it may change the store (journaled, refused while
        persistence is failing).
    @ivar noauth: whether it may run before authentication.
    @ivar handler: C{handler(ctx, args) -> reply}.
    """

    __slots__ = ("name", "arity", "write", "noauth", "handler", "flags",
                 "summary", "firstKey", "lastKey", "step")

    def __init__(self, name: str, arity: int, handler: Callable,
                 flags: str = "", summary: str = "", keys=(1, 1, 1)):
        self.name = name
        self.arity = arity
        self.handler = handler
        self.flags = tuple(flags.split())
        self.write = "write" in self.flags
        self.noauth = "noauth" in self.flags
        self.summary = summary
        self.firstKey, self.lastKey, self.step = keys


TABLE: Dict[bytes, Command] = {}


def command(name: str, arity: int, flags: str = "readonly",
            summary: str = "", keys=(1, 1, 1)):
    """
    Register the decorated function as the handler of command C{name}.
    """
    def register(handler):
        TABLE[name.upper().encode("ascii")] = Command(
            name.upper(), arity, handler, flags, summary, keys)
        return handler
    return register


def lookup(name: bytes) -> Optional[Command]:
    """
    The command called C{name} in any case, or L{None}.
    """
    cmd = TABLE.get(name)
    if cmd is None:
        cmd = TABLE.get(name.upper())
    return cmd


def then(result, fn):
    """
    Apply C{fn} to C{result}, now or when it fires if it is a Deferred:
    the one idiom handlers use on store results, so that an asynchronous
    store fits behind L{kvtwist.interfaces.IStore}.
    """
    if isinstance(result, Deferred):
        return result.addCallback(fn)
    return fn(result)


class ClientState:
    """
    What the server knows of one connection.

    @ivar id: a unique number.
    @ivar name: set by C{CLIENT SETNAME}.
    @ivar protover: 2 or 3 (RESP version, after C{HELLO}).
    @ivar authenticated: whether it may run commands.
    @ivar dialect: the name of the dialect it last used.
    @ivar commands: how many commands it ran.
    """

    def __init__(self, id: int = 0, addr: str = "", now: float = 0.0,
                 authenticated: bool = True):
        self.id = id
        self.addr = addr
        self.name = b""
        self.protover = 2
        self.authenticated = authenticated
        self.dialect = "text"
        self.commands = 0
        self.created = now
        self.lastActive = now
        self.lastCommand = b""
        self.closeAfterReply = False


class Context:
    """
    Everything a handler may use.

    @ivar store: the L{kvtwist.interfaces.IStore}.
    @ivar server: the server (L{kvtwist.server.KVFactory}), or L{None} in
        tests of bare commands.
    @ivar service: the L{kvtwist.persist.StoreService}, or L{None}.
    @ivar client: this connection's L{ClientState}.
    """

    __slots__ = ("store", "server", "service", "client")

    def __init__(self, store, server=None, service=None, client=None):
        self.store = store
        self.server = server
        self.service = service
        self.client = client if client is not None else ClientState()


def _misconf(service) -> Error:
    return Error("MISCONF Errors writing to the append-only log: %s. "
                 "Writes are refused until the data directory is "
                 "writable again; reads go on." % (service.failure,))


#: Reply types that are never Deferreds: checked before C{isinstance},
#: which goes through the (slow) abstract-class machinery for Deferred.
PLAIN_REPLIES = frozenset([bytes, int, type(None), list, dict, bool, float,
                           replies.Status, replies.Error, replies.Verbatim])

_ERRORS = {
    WrongType: replies.WRONGTYPE,
    NotAnInteger: replies.NOT_INTEGER,
    NoSuchKey: replies.NO_SUCH_KEY,
    OutOfRange: replies.OUT_OF_RANGE,
}


def _errorReply(cmd: Command, exc: BaseException) -> Error:
    known = _ERRORS.get(type(exc))
    if known is not None:
        return known
    _log.failure("command {name} failed", name=cmd.name,
                 failure=Failure(exc, type(exc), exc.__traceback__))
    return Error("ERR internal error running '%s'" % (cmd.name.lower(),))


def execute(ctx: Context, name: bytes, args: List[bytes]):
    """
    Run one command and return its neutral reply (or a Deferred of it).

    Unknown commands, wrong arity, missing authentication and failing
    persistence give Redis's error replies; store exceptions become
    C{WRONGTYPE} and friends.  Nothing a client sends raises.
    """
    cmd = TABLE.get(name)
    if cmd is None:
        cmd = TABLE.get(name.upper())
        if cmd is None:
            server = ctx.server
            if server is not None:
                server.stats.unknown += 1
            if not ctx.client.authenticated:
                return replies.NOAUTH
            return replies.unknownCommand(name, args)
    client = ctx.client
    client.commands += 1
    server = ctx.server
    if server is not None:
        # Counted here, inline: this runs for every command.
        stats = server.stats
        stats.commandsProcessed += 1
        per = stats.perCommand
        per[cmd.name] = per.get(cmd.name, 0) + 1
    if not client.authenticated and not cmd.noauth:
        return replies.NOAUTH
    arity = cmd.arity
    n = len(args) + 1
    if (n != arity) if arity > 0 else (n < -arity):
        return replies.wrongArity(cmd.name)
    service = ctx.service
    if cmd.write and service is not None and service.failure is not None:
        return _misconf(service)
    try:
        reply = cmd.handler(ctx, args)
    except Exception as e:
        return _errorReply(cmd, e)
    if reply.__class__ not in PLAIN_REPLIES and isinstance(reply, Deferred):
        reply.addErrback(lambda f: _errorReply(cmd, f.value))
    if cmd.write and service is not None:
        durable = service.whenDurable()
        if durable is not None:
            return durable.addCallback(lambda _: reply)
    return reply


def intArg(value: bytes) -> int:
    """
    Parse an integer argument.

    @raise NotAnInteger: if it is not one (rendered as Redis's error).
    """
    from kvtwist.store import parseInt
    return parseInt(value)


# Register every command module's handlers.
from kvtwist.commands import keys, strings, lists, server  # noqa: E402,F401
