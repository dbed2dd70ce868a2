# -*- test-case-name: kvtwist.test.test_commands_sets -*-
"""
Commands on set values (Redis's C{set} group).  Whole sets are answered
as RESP3 sets (L{SetReply}); random picks with repetition as arrays.
"""

from kvtwist.commands.collections import scanOptions
from kvtwist.commands.registry import group, intArg
from kvtwist.replies import SYNTAX, Error, SetReply
from kvtwist.store.elements import parseCursor

command = group("set")

_NOT_POSITIVE = Error("ERR value is out of range, must be positive")


@command("SADD", -3, "write denyoom fast",
         "Add members to a set; how many are new.",
         syntax="SADD key member [member ...]")
def sadd(ctx, args):
    return ctx.store.sadd(args[0], args[1:])


@command("SREM", -3, "write fast",
         "Remove members from a set; how many were there.",
         syntax="SREM key member [member ...]")
def srem(ctx, args):
    return ctx.store.srem(args[0], args[1:])


@command("SMEMBERS", 2, "readonly", "Every member of a set.",
         syntax="SMEMBERS key")
def smembers(ctx, args):
    return SetReply(ctx.store.smembers(args[0]))


@command("SISMEMBER", 3, "readonly fast", "Whether a member is in a set.",
         syntax="SISMEMBER key member")
def sismember(ctx, args):
    return int(ctx.store.sismember(args[0], args[1]))


@command("SMISMEMBER", -3, "readonly fast",
         "Whether each of several members is in a set (text: 'member: "
         "yes' lines).",
         syntax="SMISMEMBER key member [member ...]")
def smismember(ctx, args):
    return [int(b) for b in ctx.store.smismember(args[0], args[1:])]


@command("SCARD", 2, "readonly fast", "The number of members of a set.",
         syntax="SCARD key")
def scard(ctx, args):
    return ctx.store.scard(args[0])


@command("SPOP", -2, "write fast",
         "Remove and return members of a set at random.",
         syntax="SPOP key [count]")
def spop(ctx, args):
    store = ctx.store
    if len(args) > 2:
        return SYNTAX
    if len(args) == 1:
        popped = store.spop(args[0], 1)
        return popped[0] if popped else None
    count = intArg(args[1])
    if count < 0:
        return _NOT_POSITIVE
    if count == 0:
        return SetReply()
    return SetReply(store.spop(args[0], count))


@command("SRANDMEMBER", -2, "readonly",
         "Members of a set at random (a negative count may repeat them).",
         syntax="SRANDMEMBER key [count]")
def srandmember(ctx, args):
    store = ctx.store
    if len(args) > 2:
        return SYNTAX
    if len(args) == 1:
        picked = store.srandmember(args[0])
        return picked[0] if picked else None
    count = intArg(args[1])
    if count < -(2 ** 62):
        return Error("ERR value is out of range")
    return store.srandmember(args[0], count)


@command("SMOVE", 4, "write fast",
         "Move a member from one set to another.", (1, 2, 1),
         syntax="SMOVE source destination member")
def smove(ctx, args):
    return int(ctx.store.smove(args[0], args[1], args[2]))


@command("SINTER", -2, "readonly", "The members common to every set.",
         (1, -1, 1), syntax="SINTER key [key ...]")
def sinter(ctx, args):
    return SetReply(ctx.store.sinter(args))


@command("SUNION", -2, "readonly", "The members of any of the sets.",
         (1, -1, 1), syntax="SUNION key [key ...]")
def sunion(ctx, args):
    return SetReply(ctx.store.sunion(args))


@command("SDIFF", -2, "readonly",
         "The members of the first set that are in none of the others.",
         (1, -1, 1), syntax="SDIFF key [key ...]")
def sdiff(ctx, args):
    return SetReply(ctx.store.sdiff(args))


def _store(ctx, args, operation):
    store = ctx.store
    return store.sstore(args[0], operation(args[1:]))


@command("SINTERSTORE", -3, "write denyoom",
         "Store the members common to every set; how many.", (1, -1, 1),
         syntax="SINTERSTORE destination key [key ...]")
def sinterstore(ctx, args):
    return _store(ctx, args, ctx.store.sinter)


@command("SUNIONSTORE", -3, "write denyoom",
         "Store the members of any of the sets; how many.", (1, -1, 1),
         syntax="SUNIONSTORE destination key [key ...]")
def sunionstore(ctx, args):
    return _store(ctx, args, ctx.store.sunion)


@command("SDIFFSTORE", -3, "write denyoom",
         "Store the members of the first set that are in none of the "
         "others; how many.", (1, -1, 1),
         syntax="SDIFFSTORE destination key [key ...]")
def sdiffstore(ctx, args):
    return _store(ctx, args, ctx.store.sdiff)


@command("SINTERCARD", -3, "readonly movablekeys",
         "How many members are common to every set (up to a limit).",
         (0, 0, 0), syntax="SINTERCARD numkeys key [key ...] [LIMIT limit]")
def sintercard(ctx, args):
    numkeys = intArg(args[0])
    if numkeys <= 0:
        return Error("ERR numkeys should be greater than 0")
    if numkeys > len(args) - 1:
        return Error("ERR Number of keys can't be greater than number of "
                     "args")
    keys = args[1:1 + numkeys]
    rest = args[1 + numkeys:]
    limit = 0
    while rest:
        if rest[0].upper() == b"LIMIT" and len(rest) >= 2:
            limit = intArg(rest[1])
            if limit < 0:
                return Error("ERR LIMIT can't be negative")
            rest = rest[2:]
        else:
            return SYNTAX
    return ctx.store.sintercard(keys, limit)


@command("SSCAN", -3, "readonly", "Iterate over the members of a set.",
         syntax="SSCAN key cursor [MATCH pattern] [COUNT count]")
def sscan(ctx, args):
    store = ctx.store
    parseCursor(args[1])
    if not store.scard(args[0]):
        return [b"0", []]
    cursor, pattern, count, _ = scanOptions(args[1:])
    following, found = store.sscan(args[0], cursor, pattern, count)
    return [b"%d" % (following,), found]
