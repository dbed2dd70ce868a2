# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Commands on list values (Redis's C{list} group; the Go seed's multi-value
keys are lists too).
"""

from typing import List

from kvtwist.commands.registry import group, intArg
from kvtwist.replies import NULL_ARRAY, OK, SYNTAX, Error
from kvtwist.store import NotAnInteger

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


def _side(word: bytes):
    """
    C{True} for C{LEFT}, C{False} for C{RIGHT} (any case), else L{None}.
    """
    word = word.upper()
    if word == b"LEFT":
        return True
    if word == b"RIGHT":
        return False
    return None


@command("LMOVE", 5, "write denyoom",
         "Pop an element from one end of a list and push it to an end of "
         "another (or the same) list.", (1, 2, 1),
         syntax="LMOVE source destination LEFT | RIGHT LEFT | RIGHT")
def lmove(ctx, args):
    fromLeft, toLeft = _side(args[2]), _side(args[3])
    if fromLeft is None or toLeft is None:
        return SYNTAX
    return ctx.store.lmove(args[0], args[1], fromLeft, toLeft)


@command("RPOPLPUSH", 3, "write denyoom",
         "Pop the tail of a list and push it to the head of another (or "
         "the same) list.", (1, 2, 1), syntax="RPOPLPUSH source destination")
def rpoplpush(ctx, args):
    return ctx.store.lmove(args[0], args[1], False, True)


def _positive(value: bytes, message: str):
    """
    C{value} as an integer of at least 1, or the L{Error} C{message}
    (Redis's C{getRangeLongFromObjectOrReply}, which gives the message for
    a word that isn't an integer too).
    """
    try:
        n = intArg(value)
    except NotAnInteger:
        return Error(message)
    return n if n >= 1 else Error(message)


@command("LMPOP", -4, "write movablekeys",
         "Pop elements from the first non-empty list of several.",
         (0, 0, 0), syntax="LMPOP numkeys key [key ...] LEFT | RIGHT "
         "[COUNT count]")
def lmpop(ctx, args):
    parsed = parseMpop(args)
    if parsed.__class__ is not tuple:
        return parsed
    keys, left, count = parsed
    popped = popFirst(ctx.store, keys, left, count)
    return NULL_ARRAY if popped is None else popped


def popFirst(store, keys: List[bytes], left: bool, count: int):
    """
    C{[key, elements]} popped from the first of C{keys} that holds a
    non-empty list (LMPOP, and BLMPOP before it blocks), or L{None}.
    """
    for key in keys:
        if store.llen(key):
            return [key, store.pop(key, count, left)]
    return None


#: The ends C{LMPOP} and C{BLMPOP} pop from, the left first (see
#: L{parseMpop}).
LMPOP_ENDS = (b"LEFT", b"RIGHT")


def parseMpop(args: List[bytes], ends=LMPOP_ENDS):
    """
    The arguments of C{LMPOP} (and of C{BLMPOP} after its timeout):
    C{numkeys key [key ...] LEFT | RIGHT [COUNT count]}; with other
    C{ends}, those of C{ZMPOP} (C{(b"MAX", b"MIN")}).

    @param ends: the words of the two ends, the one C{True} stands for
        first (any case).
    @return: C{(keys, end, count)}, C{end} being whether the first end
        was named; or the error reply.
    """
    numkeys = _positive(args[0], "ERR numkeys should be greater than 0")
    if type(numkeys) is Error:
        return numkeys
    where = numkeys + 1
    if where >= len(args):
        return SYNTAX
    word = args[where].upper()
    if word not in ends:
        return SYNTAX
    left = word == ends[0]
    count = None
    rest = args[where + 1:]
    while rest:
        if count is None and rest[0].upper() == b"COUNT" and len(rest) > 1:
            count = _positive(rest[1], "ERR count should be greater than 0")
            if type(count) is Error:
                return count
            rest = rest[2:]
        else:
            return SYNTAX
    return args[1:where], left, count or 1


#: LPOS's RANK, COUNT and MAXLEN: what they accept, and the error.
_NOT_ZERO_RANK = Error(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from "
    "the second ... or use negative to start from the end of the list")


@command("LPOS", -3, "readonly",
         "The index of matching elements of a list.",
         syntax="LPOS key element [RANK rank] [COUNT num-matches] "
         "[MAXLEN len]")
def lpos(ctx, args):
    rank, count, maxlen = 1, None, 0
    rest = args[2:]
    while rest:
        opt = rest[0].upper()
        if len(rest) < 2 or opt not in (b"RANK", b"COUNT", b"MAXLEN"):
            return SYNTAX
        if opt == b"RANK":
            rank = intArg(rest[1])
            if rank == 0:
                return _NOT_ZERO_RANK
            if rank == -2 ** 63:
                return Error("ERR value is out of range, must be between "
                             "-9223372036854775807 and 9223372036854775807")
        else:
            message = "ERR %s can't be negative" % (opt.decode(),)
            try:
                value = intArg(rest[1])
            except NotAnInteger:
                return Error(message)
            if value < 0:
                return Error(message)
            if opt == b"COUNT":
                count = value
            else:
                maxlen = value
        rest = rest[2:]
    found = ctx.store.lpos(args[0], args[1], rank, count, maxlen)
    if found is None and count is not None:
        return []
    return found


@command("LINSERT", 5, "write denyoom",
         "Insert an element before or after another in a list.",
         syntax="LINSERT key BEFORE | AFTER pivot element")
def linsert(ctx, args):
    where = args[1].upper()
    if where not in (b"BEFORE", b"AFTER"):
        return SYNTAX
    return ctx.store.linsert(args[0], where == b"BEFORE", args[2], args[3])


@command("LTRIM", 4, "write",
         "Keep only a range of a list, both ends included.",
         syntax="LTRIM key start stop")
def ltrim(ctx, args):
    ctx.store.ltrim(args[0], intArg(args[1]), intArg(args[2]))
    return OK
