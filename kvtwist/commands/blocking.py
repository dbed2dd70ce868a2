# -*- test-case-name: kvtwist.test.test_blocking -*-
"""
The blocking pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
BZPOPMAX, BZMPOP.

Each handler first does what the non-blocking command would (a pop from
the first of its keys that holds something, Redis's C{WRONGTYPE} for a key
of another kind met before one that does).  With nothing to pop it returns
a L{Block}: the backend then makes the client wait until one of the keys
is served to it or the timeout passes (the memory backend's
L{kvtwist.backends.blocking}).  Inside C{MULTI}/C{EXEC} or a script, where
nothing may wait, it answers at once as if the timeout had passed, as
Redis does.
"""

from typing import Callable, List, Optional, Union

from kvtwist.commands.registry import group
from kvtwist.commands.lists import (
    LMPOP_ENDS, _side, parseMpop, popFirst)
from kvtwist.commands.zsets import ZMPOP_ENDS, zpopFirst
from kvtwist.replies import NULL_ARRAY, SYNTAX, WRONGTYPE, Error
from kvtwist.store import WrongType
from kvtwist.store import longdouble

command = group("list")
zcommand = group("sorted-set")

#: Redis's errors for a timeout it can't read.
NOT_A_TIMEOUT = Error("ERR timeout is not a float or out of range")
NEGATIVE_TIMEOUT = Error("ERR timeout is negative")

#: The first integer C's C{long long} can't hold.
_LLONG = 2 ** 63


class Block:
    """
    What a blocking command's handler returns when it has nothing to serve
    now: the backend makes the client wait.

    @ivar keys: the keys to wait on, in the command's order.
    @ivar timeoutMs: how long to wait at most, in milliseconds (0: for
        ever).
    @ivar serve: C{serve(store, key)}, called when C{key} may hold
        something for the client: its reply, or L{None} to go on waiting
        (the key is empty, missing, or of another kind).  It changes the
        store as the command would (the pop is journaled like any pop).
    @ivar timedOut: the reply when the timeout passes.
    """

    __slots__ = ("keys", "timeoutMs", "serve", "timedOut")

    def __init__(self, keys: List[bytes], timeoutMs: int,
                 serve: Callable[[object, bytes], object],
                 timedOut=NULL_ARRAY):
        self.keys = keys
        self.timeoutMs = timeoutMs
        self.serve = serve
        self.timedOut = timedOut

    def __repr__(self) -> str:
        return "<Block on %r for %dms>" % (self.keys, self.timeoutMs)


def parseTimeout(text: bytes) -> Union[int, Error]:
    """
    A blocking command's timeout in seconds (a C{long double}, as Redis 7.0
    reads it) as whole milliseconds, or Redis's error: a word that isn't a
    number is not a float, and a number below zero, or too big for a
    C{long long} of milliseconds (C{inf}), is negative (Redis converts it
    to one, and it overflows to a negative number).  A timeout under a
    millisecond truncates to 0, waiting for ever, as in Redis 7.0.
    """
    if text.isdigit() and len(text) < 12:
        return int(text) * 1000
    value = longdouble.parse(text)
    if value is None:
        return NOT_A_TIMEOUT
    if isinstance(value, float):  # an infinity
        return NEGATIVE_TIMEOUT
    ms = longdouble.roundToLongDouble(value * 1000)
    if isinstance(ms, float) or not -_LLONG < ms < _LLONG:
        return NEGATIVE_TIMEOUT
    whole = int(ms)  # truncates towards zero, as C's conversion
    if whole < 0:
        return NEGATIVE_TIMEOUT
    return whole


def block(ctx, keys: List[bytes], timeoutMs: int,
          serve: Callable[[object, bytes], object], timedOut=NULL_ARRAY,
          atOnce=NULL_ARRAY):
    """
    The reply of a blocking command that found nothing: a L{Block}, or,
    where nothing may wait (inside C{EXEC} or a script), C{atOnce}.
    """
    if getattr(ctx.client, "atomic", None) is not None:
        return atOnce
    return Block(keys, timeoutMs, serve, timedOut)


def _popper(left: bool, count: Optional[int] = None):
    """
    The C{serve} of a blocking pop: C{[key, value]}, or with a C{count}
    (C{BLMPOP}) C{[key, [values...]]}, or L{None} while the key holds no
    list with elements.
    """
    def serve(store, key: bytes):
        try:
            values = store.pop(key, count or 1, left)
        except WrongType:
            return None
        if not values:
            return None
        return [key, values] if count is not None else [key, values[0]]
    return serve


def _blockingPop(ctx, args: List[bytes], left: bool):
    timeout = parseTimeout(args[-1])
    if timeout.__class__ is Error:
        return timeout
    keys = args[:-1]
    store = ctx.store
    for key in keys:
        # A key of another kind raises WRONGTYPE, as the first one met does
        # in Redis.
        values = store.pop(key, 1, left)
        if values:
            return [key, values[0]]
    return block(ctx, keys, timeout, _popper(left))


@command("BLPOP", -3, "write noscript blocking",
         "Pop the head of the first non-empty list, waiting for one for up "
         "to TIMEOUT seconds (0: for ever).", (1, -2, 1),
         syntax="BLPOP key [key ...] timeout")
def blpop(ctx, args):
    return _blockingPop(ctx, args, True)


@command("BRPOP", -3, "write noscript blocking",
         "Pop the tail of the first non-empty list, waiting for one for up "
         "to TIMEOUT seconds (0: for ever).", (1, -2, 1),
         syntax="BRPOP key [key ...] timeout")
def brpop(ctx, args):
    return _blockingPop(ctx, args, False)


def _mover(dst: bytes, fromLeft: bool, toLeft: bool):
    """
    The C{serve} of C{BLMOVE}: the element moved; Redis's C{WRONGTYPE}
    (which ends the wait) if the destination holds another kind of value;
    L{None} while the source holds no list with elements.
    """
    def serve(store, src: bytes):
        try:
            if not store.llen(src):
                return None
        except WrongType:
            return None
        try:
            return store.lmove(src, dst, fromLeft, toLeft)
        except WrongType:
            return WRONGTYPE
    return serve


def _blockingMove(ctx, src: bytes, dst: bytes, fromLeft: bool,
                  toLeft: bool, timeoutText: bytes):
    timeout = parseTimeout(timeoutText)
    if timeout.__class__ is Error:
        return timeout
    store = ctx.store
    if store.llen(src):
        return store.lmove(src, dst, fromLeft, toLeft)
    # Inside EXEC, a null bulk string (BLPOP's is a null array).
    return block(ctx, [src], timeout, _mover(dst, fromLeft, toLeft),
                 atOnce=None)


@command("BLMOVE", 6, "write denyoom noscript blocking",
         "LMOVE, waiting for up to TIMEOUT seconds (0: for ever) for the "
         "source list to hold something.", (1, 2, 1),
         syntax="BLMOVE source destination LEFT | RIGHT LEFT | RIGHT "
         "timeout")
def blmove(ctx, args):
    fromLeft, toLeft = _side(args[2]), _side(args[3])
    if fromLeft is None or toLeft is None:
        return SYNTAX
    return _blockingMove(ctx, args[0], args[1], fromLeft, toLeft, args[4])


@command("BRPOPLPUSH", 4, "write denyoom noscript blocking",
         "RPOPLPUSH, waiting for up to TIMEOUT seconds (0: for ever) for "
         "the source list to hold something.", (1, 2, 1),
         syntax="BRPOPLPUSH source destination timeout")
def brpoplpush(ctx, args):
    return _blockingMove(ctx, args[0], args[1], False, True, args[2])


@command("BLMPOP", -5, "write blocking movablekeys",
         "LMPOP, waiting for up to TIMEOUT seconds (0: for ever) for one "
         "of the lists to hold something.", (0, 0, 0),
         syntax="BLMPOP timeout numkeys key [key ...] LEFT | RIGHT "
         "[COUNT count]")
def blmpop(ctx, args):
    return _blockingMpop(ctx, args, LMPOP_ENDS, popFirst, _popper)


def _blockingMpop(ctx, args: List[bytes], ends, first: Callable,
                  popper: Callable):
    """
    C{BLMPOP} and C{BZMPOP}: C{timeout numkeys key [key ...] END [COUNT
    count]}.  What C{first(store, keys, end, count)} pops now, else a
    wait served by C{popper(end, count)}.
    """
    timeout = parseTimeout(args[0])
    if timeout.__class__ is Error:
        return timeout
    parsed = parseMpop(args[1:], ends)
    if parsed.__class__ is not tuple:
        return parsed
    keys, end, count = parsed
    popped = first(ctx.store, keys, end, count)
    if popped is not None:
        return popped
    return block(ctx, keys, timeout, popper(end, count))


def _zpopper(highest: bool):
    """
    The C{serve} of C{BZPOPMIN} and C{BZPOPMAX}: C{[key, member, score]},
    or L{None} while the key holds no sorted set.
    """
    def serve(store, key: bytes):
        try:
            taken = store.zpop(key, 1, highest)
        except WrongType:
            return None
        if not taken:
            return None
        member, score = taken[0]
        return [key, member, score]
    return serve


def _blockingZpop(ctx, args: List[bytes], highest: bool):
    timeout = parseTimeout(args[-1])
    if timeout.__class__ is Error:
        return timeout
    keys = args[:-1]
    store = ctx.store
    for key in keys:
        taken = store.zpop(key, 1, highest)
        if taken:
            member, score = taken[0]
            return [key, member, score]
    return block(ctx, keys, timeout, _zpopper(highest))


@zcommand("BZPOPMIN", -3, "write noscript blocking fast",
          "Pop the member with the lowest score from the first non-empty "
          "sorted set, waiting for one for up to TIMEOUT seconds (0: for "
          "ever).", (1, -2, 1), syntax="BZPOPMIN key [key ...] timeout")
def bzpopmin(ctx, args):
    return _blockingZpop(ctx, args, False)


@zcommand("BZPOPMAX", -3, "write noscript blocking fast",
          "Pop the member with the highest score from the first non-empty "
          "sorted set, waiting for one for up to TIMEOUT seconds (0: for "
          "ever).", (1, -2, 1), syntax="BZPOPMAX key [key ...] timeout")
def bzpopmax(ctx, args):
    return _blockingZpop(ctx, args, True)


def _zmpopper(highest: bool, count: int):
    """
    The C{serve} of C{BZMPOP}: C{[key, [[member, score], ...]]}, or
    L{None} while the key holds no sorted set.
    """
    def serve(store, key: bytes):
        try:
            return zpopFirst(store, [key], highest, count)
        except WrongType:
            return None
    return serve


@zcommand("BZMPOP", -5, "write blocking movablekeys",
          "ZMPOP, waiting for up to TIMEOUT seconds (0: for ever) for one "
          "of the sorted sets to hold something.", (0, 0, 0),
          syntax="BZMPOP timeout numkeys key [key ...] MIN | MAX "
          "[COUNT count]")
def bzmpop(ctx, args):
    return _blockingMpop(ctx, args, ZMPOP_ENDS, zpopFirst, _zmpopper)
