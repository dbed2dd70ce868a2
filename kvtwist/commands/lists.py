# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Commands on list values (the Go seed's multi-value keys are lists too).
"""

from kvtwist.commands import command, intArg, then
from kvtwist.replies import OK, Error


@command("LPUSH", -3, "write", "Push values to the head of a list.")
def lpush(ctx, args):
    return ctx.store.push(args[0], args[1:], left=True)


@command("RPUSH", -3, "write", "Push values to the tail of a list.")
def rpush(ctx, args):
    return ctx.store.push(args[0], args[1:], left=False)


@command("LPUSHX", -3, "write", "Push to the head of an existing list.")
def lpushx(ctx, args):
    return ctx.store.push(args[0], args[1:], left=True, onlyIfExists=True)


@command("RPUSHX", -3, "write", "Push to the tail of an existing list.")
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
        return ctx.store.pop(args[0], count, left)
    return then(ctx.store.pop(args[0], 1, left),
                lambda out: out[0] if out else None)


@command("LPOP", -2, "write", "Pop from the head: LPOP key [count].")
def lpop(ctx, args):
    return _pop(ctx, args, True)


@command("RPOP", -2, "write", "Pop from the tail: RPOP key [count].")
def rpop(ctx, args):
    return _pop(ctx, args, False)


@command("LRANGE", 4, "readonly", "A range of a list, inclusive.")
def lrange(ctx, args):
    return ctx.store.lrange(args[0], intArg(args[1]), intArg(args[2]))


@command("LLEN", 2, "readonly", "The length of a list.")
def llen(ctx, args):
    return ctx.store.llen(args[0])


@command("LINDEX", 3, "readonly", "One element of a list.")
def lindex(ctx, args):
    return ctx.store.lindex(args[0], intArg(args[1]))


@command("LSET", 4, "write", "Set one element of a list.")
def lset(ctx, args):
    return then(ctx.store.lset(args[0], intArg(args[1]), args[2]),
                lambda _: OK)


@command("LREM", 4, "write", "Remove elements equal to a value.")
def lrem(ctx, args):
    return ctx.store.lrem(args[0], intArg(args[1]), args[2])


@command("LREPLACE", 4, "write",
         "Replace every element equal to OLD with NEW (kvtwist; the colon "
         "protocol's Update).")
def lreplace(ctx, args):
    return ctx.store.lreplace(args[0], args[1], args[2])
