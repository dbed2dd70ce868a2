# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Commands on keys of any type: DEL, EXISTS, KEYS, SCAN, TYPE, RENAME,
expiry, FLUSH, DBSIZE, PRINT.
"""

from kvtwist import replies
from kvtwist.commands import command, intArg, then
from kvtwist.replies import OK, SYNTAX, Error, Status


@command("DEL", -2, "write", "Delete keys; how many existed.", (1, -1, 1))
def del_(ctx, args):
    store = ctx.store
    removed = 0
    for key in args:
        if store.delete(key):
            removed += 1
    return removed




@command("UNLINK", -2, "write", "Delete keys; how many existed.", (1, -1, 1))
def unlink(ctx, args):
    return del_(ctx, args)


@command("EXISTS", -2, "readonly", "How many of the keys exist.", (1, -1, 1))
def exists(ctx, args):
    store = ctx.store
    return sum(1 for key in args if store.exists(key))


@command("KEYS", 2, "readonly", "Every key matching a pattern; O(store).",
         (0, 0, 0))
def keys(ctx, args):
    return ctx.store.keys(args[0])


@command("SCAN", -2, "readonly", "Iterate keys incrementally.", (0, 0, 0))
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
    return then(ctx.store.scan(cursor, pattern, count),
                lambda r: [b"%d" % r[0], r[1]])


@command("TYPE", 2, "readonly", "The type of a key.")
def type_(ctx, args):
    return then(ctx.store.typeOf(args[0]), Status)


@command("RENAME", 3, "write", "Rename a key.", (1, 2, 1))
def rename(ctx, args):
    return then(ctx.store.rename(args[0], args[1]), lambda _: OK)


def _expire(ctx, key, whenMs):
    return then(ctx.store.expireAt(key, whenMs), int)


def _parseExpiry(ctx, args, scale):
    key, amount = args[0], intArg(args[1])
    if len(args) > 2:
        return None, Error("ERR EXPIRE options are not supported")
    return key, ctx.store.now() + amount * scale


@command("EXPIRE", -3, "write", "Expire a key in seconds.")
def expire(ctx, args):
    key, when = _parseExpiry(ctx, args, 1000)
    if key is None:
        return when
    return _expire(ctx, key, when)


@command("PEXPIRE", -3, "write", "Expire a key in milliseconds.")
def pexpire(ctx, args):
    key, when = _parseExpiry(ctx, args, 1)
    if key is None:
        return when
    return _expire(ctx, key, when)


@command("EXPIREAT", -3, "write", "Expire a key at a Unix time.")
def expireat(ctx, args):
    return _expire(ctx, args[0], intArg(args[1]) * 1000)


@command("PEXPIREAT", -3, "write", "Expire a key at a Unix time in ms.")
def pexpireat(ctx, args):
    return _expire(ctx, args[0], intArg(args[1]))


@command("TTL", 2, "readonly", "Seconds to live.")
def ttl(ctx, args):
    def seconds(ms):
        return ms if ms < 0 else (ms + 500) // 1000
    return then(ctx.store.ttlMs(args[0]), seconds)


@command("PTTL", 2, "readonly", "Milliseconds to live.")
def pttl(ctx, args):
    return ctx.store.ttlMs(args[0])


@command("PERSIST", 2, "write", "Remove a key's expiry.")
def persist(ctx, args):
    return then(ctx.store.persist(args[0]), int)


@command("FLUSHDB", -1, "write", "Remove every key.", (0, 0, 0))
def flushdb(ctx, args):
    if args and (len(args) > 1 or args[0].upper() not in (b"SYNC", b"ASYNC")):
        return SYNTAX
    return then(ctx.store.flush(), lambda _: OK)


@command("FLUSHALL", -1, "write", "Remove every key.", (0, 0, 0))
def flushall(ctx, args):
    return flushdb(ctx, args)


@command("FLUSH", 1, "write", "Remove every key (the gevent seeds' name).",
         (0, 0, 0))
def flush(ctx, args):
    return flushdb(ctx, args)


@command("DBSIZE", 1, "readonly", "The number of keys.", (0, 0, 0))
def dbsize(ctx, args):
    return ctx.store.size()


@command("PRINT", 1, "readonly",
         "Every key and value (lists as arrays); O(store).", (0, 0, 0))
def print_(ctx, args):
    return ctx.store.contents()


@command("SELECT", 2, "readonly", "Select database 0 (the only one).",
         (0, 0, 0))
def select(ctx, args):
    try:
        db = int(args[0])
    except ValueError:
        return replies.NOT_INTEGER
    if db != 0:
        return Error("ERR DB index is out of range")
    return OK
