# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Commands on list values (Redis's C{list} group; the Go seed's multi-value
keys are lists too).
"""

from kvtwist.commands.registry import group, intArg
from kvtwist.replies import NULL_ARRAY, OK, Error

command = group("list")


@command("LPUSH", -3, "write denyoom fast",
         "Push elements to the head of a list.",
         syntax="LPUSH key element [element ...]")
def lpush(ctx, args):
    return ctx.store.push(args[0], args[1:], left=True)


@command("RPUSH", -3, "write denyoom fast",
         "Push elements to the tail of a list.",
         syntax="RPUSH key element [element ...]")
def rpush(ctx, args):
    return ctx.store.push(args[0], args[1:], left=False)


@command("LPUSHX", -3, "write denyoom fast",
         "Push elements to the head of a list, only if it exists.",
         syntax="LPUSHX key element [element ...]")
def lpushx(ctx, args):
    return ctx.store.push(args[0], args[1:], left=True, onlyIfExists=True)


@command("RPUSHX", -3, "write denyoom fast",
         "Push elements to the tail of a list, only if it exists.",
         syntax="RPUSHX key element [element ...]")
def rpushx(ctx, args):
    return ctx.store.push(args[0], args[1:], left=False, onlyIfExists=True)


def _pop(ctx, args, left):
    if len(args) > 2:
        return Error("ERR wrong number of arguments for '%s' command"
                     % ("lpop" if left else "rpop",))
    if len(args) == 2:
        count = intArg(args[1])
        if count < 0:
            return Error("ERR value is out of range, must be positive")
        out = ctx.store.pop(args[0], count, left)
        return NULL_ARRAY if out is None else out
    out = ctx.store.pop(args[0], 1, left)
    return out[0] if out else None


@command("LPOP", -2, "write fast", "Remove elements from the head of a list.",
         syntax="LPOP key [count]")
def lpop(ctx, args):
    return _pop(ctx, args, True)


@command("RPOP", -2, "write fast", "Remove elements from the tail of a list.",
         syntax="RPOP key [count]")
def rpop(ctx, args):
    return _pop(ctx, args, False)


@command("LRANGE", 4, "readonly", "A range of a list, both ends included.",
         syntax="LRANGE key start stop")
def lrange(ctx, args):
    return ctx.store.lrange(args[0], intArg(args[1]), intArg(args[2]))


@command("LLEN", 2, "readonly fast", "The length of a list.",
         syntax="LLEN key")
def llen(ctx, args):
    return ctx.store.llen(args[0])


@command("LINDEX", 3, "readonly", "One element of a list, by its index.",
         syntax="LINDEX key index")
def lindex(ctx, args):
    return ctx.store.lindex(args[0], intArg(args[1]))


@command("LSET", 4, "write denyoom", "Set one element of a list.",
         syntax="LSET key index element")
def lset(ctx, args):
    ctx.store.lset(args[0], intArg(args[1]), args[2])
    return OK


@command("LREM", 4, "write", "Remove elements equal to a value.",
         syntax="LREM key count element")
def lrem(ctx, args):
    return ctx.store.lrem(args[0], intArg(args[1]), args[2])


@command("LREPLACE", 4, "write",
         "Replace every element equal to OLD with NEW (kvtwist; the colon "
         "protocol's Update).", syntax="LREPLACE key old new")
def lreplace(ctx, args):
    return ctx.store.lreplace(args[0], args[1], args[2])
