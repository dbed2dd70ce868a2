# -*- test-case-name: kvtwist.test.test_commands_hashes -*-
"""
Commands on hash values (Redis's C{hash} group).
"""

from kvtwist.commands.collections import pairs, scanOptions
from kvtwist.commands.registry import group, intArg
from kvtwist.replies import OK, SYNTAX, Error, wrongArity
from kvtwist.store.elements import parseCursor

command = group("hash")


@command("HSET", -4, "write denyoom fast",
         "Set fields of a hash; how many are new.",
         syntax="HSET key field value [field value ...]")
def hset(ctx, args):
    if len(args) % 2 == 0:
        return wrongArity("hset")
    return ctx.store.hset(args[0], args[1:])


@command("HMSET", -4, "write denyoom fast",
         "Set fields of a hash (as HSET, answering OK).",
         syntax="HMSET key field value [field value ...]")
def hmset(ctx, args):
    if len(args) % 2 == 0:
        return wrongArity("hmset")
    ctx.store.hset(args[0], args[1:])
    return OK


@command("HSETNX", 4, "write denyoom fast",
         "Set a field of a hash only if it does not exist.",
         syntax="HSETNX key field value")
def hsetnx(ctx, args):
    return int(ctx.store.hsetnx(args[0], args[1], args[2]))


@command("HGET", 3, "readonly fast", "The value of a field of a hash.",
         syntax="HGET key field")
def hget(ctx, args):
    return ctx.store.hget(args[0], args[1])


@command("HMGET", -3, "readonly fast",
         "The values of fields of a hash (text: 'field: value' lines).",
         syntax="HMGET key field [field ...]")
def hmget(ctx, args):
    return ctx.store.hmget(args[0], args[1:])


@command("HGETALL", 2, "readonly",
         "Every field and value of a hash (RESP3: a map; text: "
         "'field: value' lines).",
         syntax="HGETALL key")
def hgetall(ctx, args):
    return ctx.store.hgetall(args[0])


@command("HKEYS", 2, "readonly", "Every field of a hash.",
         syntax="HKEYS key")
def hkeys(ctx, args):
    return ctx.store.hkeys(args[0])


@command("HVALS", 2, "readonly", "Every value of a hash.",
         syntax="HVALS key")
def hvals(ctx, args):
    return ctx.store.hvals(args[0])


@command("HLEN", 2, "readonly fast", "The number of fields of a hash.",
         syntax="HLEN key")
def hlen(ctx, args):
    return ctx.store.hlen(args[0])


@command("HEXISTS", 3, "readonly fast", "Whether a field of a hash exists.",
         syntax="HEXISTS key field")
def hexists(ctx, args):
    return int(ctx.store.hexists(args[0], args[1]))


@command("HSTRLEN", 3, "readonly fast",
         "The length of the value of a field of a hash.",
         syntax="HSTRLEN key field")
def hstrlen(ctx, args):
    return ctx.store.hstrlen(args[0], args[1])


@command("HDEL", -3, "write fast",
         "Delete fields of a hash; how many existed.",
         syntax="HDEL key field [field ...]")
def hdel(ctx, args):
    return ctx.store.hdel(args[0], args[1:])


@command("HINCRBY", 4, "write denyoom fast",
         "Add an integer to the integer in a field of a hash.",
         syntax="HINCRBY key field increment")
def hincrby(ctx, args):
    return ctx.store.hincrby(args[0], args[1], intArg(args[2]))


@command("HINCRBYFLOAT", 4, "write denyoom fast",
         "Add a number to the number in a field of a hash.",
         syntax="HINCRBYFLOAT key field increment")
def hincrbyfloat(ctx, args):
    return ctx.store.hincrbyfloat(args[0], args[1], args[2])


@command("HRANDFIELD", -2, "readonly",
         "Fields of a hash at random (a negative count may repeat them).",
         syntax="HRANDFIELD key [count [WITHVALUES]]")
def hrandfield(ctx, args):
    store = ctx.store
    if len(args) == 1:
        picked = store.hrandfield(args[0])
        return None if picked is None else picked[0][0]
    if len(args) > 3 or (len(args) == 3 and args[2].upper() != b"WITHVALUES"):
        return SYNTAX
    count = intArg(args[1])
    withValues = len(args) == 3
    if withValues and count < -(2 ** 62):
        return Error("ERR value is out of range")
    picked = store.hrandfield(args[0], count)
    if withValues:
        return pairs(picked, ctx.client.protover)
    return [field for field, _ in picked]


@command("HSCAN", -3, "readonly", "Iterate over the fields of a hash.",
         syntax="HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]")
def hscan(ctx, args):
    store = ctx.store
    parseCursor(args[1])
    if not store.hlen(args[0]):
        return [b"0", []]
    cursor, pattern, count, novalues = scanOptions(args[1:], novalues=True)
    following, found = store.hscan(args[0], cursor, pattern, count)
    if novalues:
        return [b"%d" % (following,), [f for f, _ in found]]
    return [b"%d" % (following,), pairs(found, 2)]
