# -*- test-case-name: kvtwist.test.test_databases -*-
"""
Commands on the numbered databases: SELECT (Redis's C{connection}
group), SWAPDB, DBSIZE, FLUSHDB, FLUSHALL (its C{server} group) and
kvtwist's FLUSH.  MOVE and COPY's C{DB} are with the other commands on
keys (L{kvtwist.commands.keys}).

A client's database is C{ctx.store}: L{select} points it at another one
(and records the number in the client's state for C{CLIENT LIST}).  Only
RESP and the text protocol select: the colon and JSON-lines dialects use
database 0.
"""

from typing import Optional

from kvtwist.commands.registry import group
from kvtwist.replies import NOT_INTEGER, OK, SYNTAX, Error
from kvtwist.store import NotAnInteger, parseInt

connectionCommand = group("connection")
serverCommand = group("server")

OUT_OF_RANGE = Error("ERR DB index is out of range")

#: Dialects whose requests always run in database 0.
_DATABASE_0_DIALECTS = frozenset(["colon", "jsonlines"])

_INT_MAX = 2 ** 31 - 1


def intArg32(value: bytes) -> Optional[int]:
    """
    C{value} as a C int (Redis's C{getIntFromObjectOrReply}), or L{None}.
    """
    try:
        n = parseInt(value)
    except NotAnInteger:
        return None
    if not -_INT_MAX - 1 <= n <= _INT_MAX:
        return None
    return n


def databaseOf(ctx, number: bytes):
    """
    The database a command argument names, or the L{Error} Redis answers:
    not an integer, or out of range.
    """
    index = intArg32(number)
    if index is None:
        return NOT_INTEGER
    try:
        return ctx.store.database(index)
    except IndexError:
        return OUT_OF_RANGE


@connectionCommand("SELECT", 2, "loading stale fast",
                   "Change the selected database of the connection.",
                   (0, 0, 0), syntax="SELECT index")
def select(ctx, args):
    db = databaseOf(ctx, args[0])
    if type(db) is Error:
        return db
    state = ctx.client
    if db.index and state.dialect in _DATABASE_0_DIALECTS:
        return Error("ERR SELECT is for RESP and the text protocol: %s "
                     "requests use database 0" % (state.dialect,))
    ctx.store = db
    state.db = db.index
    return OK


@serverCommand("SWAPDB", 3, "write fast",
               "Swap two databases: the clients of each see the other's "
               "keys.", (0, 0, 0), syntax="SWAPDB index1 index2")
def swapdb(ctx, args):
    first = intArg32(args[0])
    if first is None:
        return Error("ERR invalid first DB index")
    second = intArg32(args[1])
    if second is None:
        return Error("ERR invalid second DB index")
    count = len(ctx.store.databases)
    if not (0 <= first < count and 0 <= second < count):
        return OUT_OF_RANGE
    ctx.store.swapDatabases(first, second)
    return OK


@serverCommand("DBSIZE", 1, "readonly fast",
               "The number of keys in the selected database.", (0, 0, 0),
               syntax="DBSIZE")
def dbsize(ctx, args):
    return ctx.store.size()


def _flushMode(args) -> bool:
    """
    Whether C{FLUSHDB}'s or C{FLUSHALL}'s arguments are valid: nothing,
    C{ASYNC} or C{SYNC} (a big database is freed off the reactor thread
    either way).
    """
    return not args or (len(args) == 1 and
                        args[0].upper() in (b"SYNC", b"ASYNC"))


@serverCommand("FLUSHDB", -1, "write",
               "Remove every key of the selected database.", (0, 0, 0),
               syntax="FLUSHDB [ASYNC | SYNC]")
def flushdb(ctx, args):
    if not _flushMode(args):
        return SYNTAX
    ctx.store.flush()
    return OK


@serverCommand("FLUSHALL", -1, "write",
               "Remove every key of every database.", (0, 0, 0),
               syntax="FLUSHALL [ASYNC | SYNC]")
def flushall(ctx, args):
    if not _flushMode(args):
        return SYNTAX
    ctx.store.flushAll()
    return OK


@serverCommand("FLUSH", 1, "write",
               "Remove every key of the selected database (FLUSHDB, as "
               "JSON-lines clients name it; kvtwist).", (0, 0, 0), syntax="FLUSH")
def flush(ctx, args):
    ctx.store.flush()
    return OK
