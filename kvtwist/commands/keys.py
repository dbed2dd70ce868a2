# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Commands on keys of any type (Redis's C{generic} group): DEL, EXISTS,
KEYS, SCAN, TYPE, RENAME, expiry; and kvtwist's PRINT.
"""

from kvtwist.commands.databases import databaseOf
from kvtwist.commands.expiry import expireTime, invalidExpire
from kvtwist.commands.registry import Offload, group, intArg
from kvtwist.replies import OK, SYNTAX, Error, Status

command = group("generic")

SAME_OBJECT = Error("ERR source and destination objects are the same")


@command("DEL", -2, "write", "Delete keys; how many existed.", (1, -1, 1),
         syntax="DEL key [key ...]")
def del_(ctx, args):
    delete = ctx.store.delete
    removed = 0
    for key in args:
        if delete(key):
            removed += 1
    return removed


@command("UNLINK", -2, "write fast", "Delete keys; how many existed.",
         (1, -1, 1), syntax="UNLINK key [key ...]")
def unlink(ctx, args):
    return del_(ctx, args)


@command("EXISTS", -2, "readonly fast", "How many of the keys exist.",
         (1, -1, 1), syntax="EXISTS key [key ...]")
def exists(ctx, args):
    exists = ctx.store.exists
    return sum(1 for key in args if exists(key))


@command("KEYS", 2, "readonly", "Every key matching a pattern; O(store).",
         (0, 0, 0), syntax="KEYS pattern", heavy=True)
def keys(ctx, args):
    store = ctx.store
    return Offload(store.size(), store.keysTask(args[0]))


@command("SCAN", -2, "readonly", "Iterate over the keys incrementally.",
         (0, 0, 0), syntax="SCAN cursor [MATCH pattern] [COUNT count]")
def scan(ctx, args):
    try:
        cursor = int(args[0])
    except ValueError:
        return Error("ERR invalid cursor")
    if cursor < 0:
        return Error("ERR invalid cursor")
    pattern = b"*"
    count = 10
    rest = args[1:]
    while rest:
        opt = rest[0].upper()
        if len(rest) < 2:
            return SYNTAX
        if opt == b"MATCH":
            pattern = rest[1]
        elif opt == b"COUNT":
            count = intArg(rest[1])
            if count < 1:
                return SYNTAX
        elif opt == b"TYPE":
            return Error("ERR SCAN TYPE is not supported")
        else:
            return SYNTAX
        rest = rest[2:]
    following, found = ctx.store.scan(cursor, pattern, count)
    return [b"%d" % following, found]


@command("TYPE", 2, "readonly fast", "The type of the value in a key.",
         syntax="TYPE key")
def type_(ctx, args):
    return Status(ctx.store.typeOf(args[0]))


@command("RENAME", 3, "write", "Rename a key.", (1, 2, 1),
         syntax="RENAME key newkey")
def rename(ctx, args):
    ctx.store.rename(args[0], args[1])
    return OK


@command("MOVE", 3, "write fast",
         "Move a key to another database, unless it exists there.",
         syntax="MOVE key db")
def move(ctx, args):
    target = databaseOf(ctx, args[1])
    if type(target) is Error:
        return target
    if target is ctx.store:
        return SAME_OBJECT
    return int(ctx.store.moveTo(args[0], target))


def _expire(ctx, args, name: str, unit: int, relative: bool):
    """
    EXPIRE and its siblings: set C{args[0]}'s expiry to C{args[1]}
    seconds or milliseconds (C{unit} 1000 or 1) from now (C{relative}) or
    from the epoch; an expiry time that doesn't fit in milliseconds is
    refused and changes nothing.
    """
    if len(args) > 2:
        return Error("ERR EXPIRE options are not supported")
    store = ctx.store
    when = expireTime(int(store.now()) if relative else 0, intArg(args[1]),
                      unit)
    if when is None:
        return invalidExpire(name)
    return int(store.expireAt(args[0], when))


@command("EXPIRE", -3, "write fast", "Expire a key in a number of seconds.",
         syntax="EXPIRE key seconds")
def expire(ctx, args):
    return _expire(ctx, args, "expire", 1000, True)


@command("PEXPIRE", -3, "write fast",
         "Expire a key in a number of milliseconds.",
         syntax="PEXPIRE key milliseconds")
def pexpire(ctx, args):
    return _expire(ctx, args, "pexpire", 1, True)


@command("EXPIREAT", -3, "write fast", "Expire a key at a Unix time.",
         syntax="EXPIREAT key unix-time-seconds")
def expireat(ctx, args):
    return _expire(ctx, args, "expireat", 1000, False)


@command("PEXPIREAT", -3, "write fast",
         "Expire a key at a Unix time in milliseconds.",
         syntax="PEXPIREAT key unix-time-milliseconds")
def pexpireat(ctx, args):
    return _expire(ctx, args, "pexpireat", 1, False)


@command("TTL", 2, "readonly fast", "The seconds a key has left to live.",
         syntax="TTL key")
def ttl(ctx, args):
    ms = ctx.store.ttlMs(args[0])
    return ms if ms < 0 else (ms + 500) // 1000


@command("PTTL", 2, "readonly fast",
         "The milliseconds a key has left to live.", syntax="PTTL key")
def pttl(ctx, args):
    return ctx.store.ttlMs(args[0])


@command("EXPIRETIME", 2, "readonly fast",
         "The Unix time, in seconds, at which a key expires.",
         syntax="EXPIRETIME key")
def expiretime(ctx, args):
    when = _expiryOf(ctx.store, args[0])
    return when if when < 0 else (when + 500) // 1000


@command("PEXPIRETIME", 2, "readonly fast",
         "The Unix time, in milliseconds, at which a key expires.",
         syntax="PEXPIRETIME key")
def pexpiretime(ctx, args):
    return _expiryOf(ctx.store, args[0])


def _expiryOf(store, key: bytes) -> int:
    """
    C{key}'s absolute expiry time in milliseconds; -1 if it has none, -2
    if it is missing.
    """
    if not store.exists(key):
        return -2
    when = store.expiresAt(key)
    return -1 if when is None else when


@command("PERSIST", 2, "write fast", "Remove the expiry of a key.",
         syntax="PERSIST key")
def persist(ctx, args):
    return int(ctx.store.persist(args[0]))


@command("PRINT", 1, "readonly",
         "Every key and its value (lists as arrays); O(store) (kvtwist).",
         (0, 0, 0), syntax="PRINT", heavy=True)
def print_(ctx, args):
    store = ctx.store
    return Offload(store.size(), store.contentsTask())
