# -*- test-case-name: kvtwist.test.test_commands_zsets -*-
"""
Commands on sorted set values (Redis's C{sorted-set} group).

Scores are read as Redis reads them (L{kvtwist.doubles.parseDouble}:
C{inf}, C{-inf}, no NaN) and answered as doubles (RESP3 C{,}, RESP2 bulk
strings as Redis 7.2 writes them).  Score ranges take C{(} for an
exclusive end and C{-inf}/C{+inf}; lex ranges C{[a}, C{(a}, C{-} and
C{+}.  Members with their scores are a flat array in RESP2 and pairs in
RESP3, as Redis answers them.
"""

from typing import List, Optional

from kvtwist.commands.collections import pairs, scanOptions
from kvtwist.commands.lists import parseMpop
from kvtwist.commands.registry import group, intArg
from kvtwist.doubles import formatDouble, parseDouble
from kvtwist.replies import NULL_ARRAY, SYNTAX, Error
from kvtwist.store.elements import parseCursor
from kvtwist.store.errors import Refused
from kvtwist.store.zsets import LexRange, ScoreRange

command = group("sorted-set")

_NOT_FLOAT = "ERR value is not a valid float"
_NOT_POSITIVE = Error("ERR value is out of range, must be positive")


# -- arguments ---------------------------------------------------------------

def parseScore(text: bytes, error: str = _NOT_FLOAT) -> float:
    """
    A score argument.

    @raise Refused: with C{error} if it is not a number.
    """
    value = parseDouble(text)
    if value is None:
        raise Refused(error)
    return value


def _bound(text: bytes):
    if text[:1] == b"(":
        return parseDouble(text[1:]), True
    return parseDouble(text), False


def parseScoreRange(low: bytes, high: bytes) -> ScoreRange:
    """
    A score range from its two ends (C{1}, C{(1.5}, C{-inf}, C{+inf}).

    @raise Refused: with Redis's C{ERR min or max is not a float}.
    """
    lo, loExclusive = _bound(low)
    hi, hiExclusive = _bound(high)
    if lo is None or hi is None:
        raise Refused("ERR min or max is not a float")
    return ScoreRange(lo, hi, loExclusive, hiExclusive)


def _lexBound(text: bytes, isMin: bool):
    """
    C{(value, exclusive, nothing)} of one end of a lex range, or L{None}.
    """
    first = text[:1]
    if text == b"-":
        return None, False, not isMin
    if text == b"+":
        return None, False, isMin
    if first == b"[":
        return text[1:], False, False
    if first == b"(":
        return text[1:], True, False
    return None


def parseLexRange(low: bytes, high: bytes) -> LexRange:
    """
    A lex range from its two ends (C{[a}, C{(a}, C{-}, C{+}).

    @raise Refused: with Redis's C{ERR min or max not valid string range
        item}.
    """
    lo = _lexBound(low, True)
    hi = _lexBound(high, False)
    if lo is None or hi is None:
        raise Refused("ERR min or max not valid string range item")
    return LexRange(lo[0], hi[0], lo[1], hi[1], lo[2] or hi[2])


def withScores(found, protover: int) -> list:
    """
    C{(member, score)} pairs as Redis answers C{WITHSCORES}.
    """
    return pairs(found, protover)


# -- writes ------------------------------------------------------------------

_ZADD_FLAGS = (b"NX", b"XX", b"CH", b"INCR", b"GT", b"LT")


@command("ZADD", -4, "write denyoom fast",
         "Add members to a sorted set, or change their scores.",
         syntax="ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member "
         "[score member ...]")
def zadd(ctx, args):
    flags = set()
    i = 1
    while i < len(args) and args[i].upper() in _ZADD_FLAGS:
        flags.add(args[i].upper())
        i += 1
    rest = args[i:]
    if not rest or len(rest) % 2:
        return SYNTAX
    nx, xx = b"NX" in flags, b"XX" in flags
    gt, lt = b"GT" in flags, b"LT" in flags
    if nx and xx:
        return Error("ERR XX and NX options at the same time are not "
                     "compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        return Error("ERR GT, LT, and/or NX options at the same time are "
                     "not compatible")
    if b"INCR" in flags and len(rest) > 2:
        return Error("ERR INCR option supports a single increment-element "
                     "pair")
    scores = [parseScore(rest[j]) for j in range(0, len(rest), 2)]
    store = ctx.store
    if b"INCR" in flags:
        return store.zincrby(args[0], scores[0], rest[1], nx=nx, xx=xx,
                             gt=gt, lt=lt)
    return store.zadd(args[0], list(zip(scores, rest[1::2])), nx=nx, xx=xx,
                      gt=gt, lt=lt, ch=b"CH" in flags)


@command("ZINCRBY", 4, "write denyoom fast",
         "Add to the score of a member of a sorted set; the new score.",
         syntax="ZINCRBY key increment member")
def zincrby(ctx, args):
    return ctx.store.zincrby(args[0], parseScore(args[1]), args[2])


@command("ZREM", -3, "write fast",
         "Remove members from a sorted set; how many were there.",
         syntax="ZREM key member [member ...]")
def zrem(ctx, args):
    return ctx.store.zrem(args[0], args[1:])


def _pop(ctx, args, highest: bool):
    if len(args) > 2:
        return SYNTAX
    if len(args) == 1:
        taken = ctx.store.zpop(args[0], 1, highest)
        return withScores(taken, 2)
    count = intArg(args[1])
    if count < 0:
        return _NOT_POSITIVE
    return withScores(ctx.store.zpop(args[0], count, highest),
                      ctx.client.protover)


@command("ZPOPMIN", -2, "write fast",
         "Remove and return the members with the lowest scores (text: "
         "'member (score)' lines).",
         syntax="ZPOPMIN key [count]")
def zpopmin(ctx, args):
    return _pop(ctx, args, False)


@command("ZPOPMAX", -2, "write fast",
         "Remove and return the members with the highest scores.",
         syntax="ZPOPMAX key [count]")
def zpopmax(ctx, args):
    return _pop(ctx, args, True)


#: The ends C{ZMPOP} and C{BZMPOP} pop from, the highest scores first
#: (see L{parseMpop}).
ZMPOP_ENDS = (b"MAX", b"MIN")


def zpopFirst(store, keys: List[bytes], highest: bool, count: int):
    """
    C{[key, [[member, score], ...]]} popped from the first of C{keys} that
    holds a non-empty sorted set (C{ZMPOP}, and C{BZMPOP} before it
    blocks), or L{None}.  A key of another kind met first is Redis's
    C{WRONGTYPE}, as it is for C{LMPOP}.
    """
    for key in keys:
        taken = store.zpop(key, count, highest)
        if taken:
            return [key, [[member, score] for member, score in taken]]
    return None


@command("ZMPOP", -4, "write movablekeys",
         "Pop members from the first non-empty sorted set of several.",
         (0, 0, 0), syntax="ZMPOP numkeys key [key ...] MIN | MAX "
         "[COUNT count]")
def zmpop(ctx, args):
    parsed = parseMpop(args, ZMPOP_ENDS)
    if parsed.__class__ is not tuple:
        return parsed
    keys, highest, count = parsed
    popped = zpopFirst(ctx.store, keys, highest, count)
    return NULL_ARRAY if popped is None else popped


@command("ZREMRANGEBYRANK", 4, "write",
         "Remove the members of a range of ranks; how many.",
         syntax="ZREMRANGEBYRANK key start stop")
def zremrangebyrank(ctx, args):
    return ctx.store.zremrangeByRank(args[0], intArg(args[1]),
                                     intArg(args[2]))


@command("ZREMRANGEBYSCORE", 4, "write",
         "Remove the members of a range of scores; how many.",
         syntax="ZREMRANGEBYSCORE key min max")
def zremrangebyscore(ctx, args):
    return ctx.store.zremrangeByScore(args[0],
                                      parseScoreRange(args[1], args[2]))


@command("ZREMRANGEBYLEX", 4, "write",
         "Remove the members of a lex range; how many.",
         syntax="ZREMRANGEBYLEX key min max")
def zremrangebylex(ctx, args):
    return ctx.store.zremrangeByLex(args[0], parseLexRange(args[1], args[2]))


# -- reads -------------------------------------------------------------------

@command("ZSCORE", 3, "readonly fast", "The score of a member.",
         syntax="ZSCORE key member")
def zscore(ctx, args):
    return ctx.store.zscore(args[0], args[1])


@command("ZMSCORE", -3, "readonly fast", "The scores of several members.",
         syntax="ZMSCORE key member [member ...]")
def zmscore(ctx, args):
    return ctx.store.zmscore(args[0], args[1:])


@command("ZCARD", 2, "readonly fast",
         "The number of members of a sorted set.", syntax="ZCARD key")
def zcard(ctx, args):
    return ctx.store.zcard(args[0])


@command("ZCOUNT", 4, "readonly fast",
         "How many members have a score in a range.",
         syntax="ZCOUNT key min max")
def zcount(ctx, args):
    return ctx.store.zcount(args[0], parseScoreRange(args[1], args[2]))


@command("ZLEXCOUNT", 4, "readonly fast",
         "How many members are in a lex range.",
         syntax="ZLEXCOUNT key min max")
def zlexcount(ctx, args):
    return ctx.store.zlexcount(args[0], parseLexRange(args[1], args[2]))


def _rank(ctx, args, reverse: bool):
    if len(args) > 3 or (len(args) == 3 and args[2].upper() != b"WITHSCORE"):
        return SYNTAX
    found = ctx.store.zrank(args[0], args[1], reverse)
    if len(args) == 3:
        return NULL_ARRAY if found is None else [found[0], found[1]]
    return None if found is None else found[0]


@command("ZRANK", -3, "readonly fast",
         "The rank of a member, lowest score first.",
         syntax="ZRANK key member [WITHSCORE]")
def zrank(ctx, args):
    return _rank(ctx, args, False)


@command("ZREVRANK", -3, "readonly fast",
         "The rank of a member, highest score first.",
         syntax="ZREVRANK key member [WITHSCORE]")
def zrevrank(ctx, args):
    return _rank(ctx, args, True)


# -- ranges ------------------------------------------------------------------

_BY_RANK, _BY_SCORE, _BY_LEX = "rank", "score", "lex"


def _range(ctx, key: bytes, args: List[bytes], by: Optional[str],
           reverse: bool, destination: Optional[bytes] = None):
    """
    The ZRANGE family as Redis's C{zrangeGenericCommand}: C{args} are the
    two ends and the options; C{by} is L{None} where options may say
    (C{ZRANGE}, C{ZRANGESTORE}); with a C{destination} the result is
    stored there and counted.
    """
    low, high = args[0], args[1]
    options = args[2:]
    withscores = False
    offset, count = 0, -1
    limited = False
    chosen = None
    i = 0
    while i < len(options):
        opt = options[i].upper()
        if opt == b"WITHSCORES" and destination is None:
            withscores = True
        elif opt == b"LIMIT" and i + 2 < len(options):
            offset = intArg(options[i + 1])
            count = intArg(options[i + 2])
            limited = True
            i += 2
        elif by is None and chosen is None and opt == b"BYSCORE":
            chosen = _BY_SCORE
        elif by is None and chosen is None and opt == b"BYLEX":
            chosen = _BY_LEX
        elif by is None and opt == b"REV":
            reverse = True
        else:
            return SYNTAX
        i += 1
    if by is None:
        by = chosen or _BY_RANK
    if limited and by == _BY_RANK:
        return Error("ERR syntax error, LIMIT is only supported in "
                     "combination with either BYSCORE or BYLEX")
    if withscores and by == _BY_LEX:
        return Error("ERR syntax error, WITHSCORES not supported in "
                     "combination with BYLEX")
    store = ctx.store
    if by == _BY_RANK:
        found = store.zrangeByRank(key, intArg(low), intArg(high), reverse)
    else:
        if reverse:
            low, high = high, low
        if by == _BY_SCORE:
            span = parseScoreRange(low, high)
            found = store.zrangeByScore(key, span, reverse, offset, count)
        else:
            span = parseLexRange(low, high)
            found = store.zrangeByLex(key, span, reverse, offset, count)
    if destination is not None:
        return store.zstore(destination, found)
    if withscores:
        return withScores(found, ctx.client.protover)
    return [m for m, _ in found]


@command("ZRANGE", -4, "readonly",
         "Members of a sorted set by rank, score or lex range (text: "
         "'member (score)' lines WITHSCORES).",
         syntax="ZRANGE key start stop [BYSCORE | BYLEX] [REV] "
         "[LIMIT offset count] [WITHSCORES]")
def zrange(ctx, args):
    return _range(ctx, args[0], args[1:], None, False)


@command("ZREVRANGE", -4, "readonly",
         "Members of a sorted set by rank, highest score first.",
         syntax="ZREVRANGE key start stop [WITHSCORES]")
def zrevrange(ctx, args):
    return _range(ctx, args[0], args[1:], _BY_RANK, True)


@command("ZRANGEBYSCORE", -4, "readonly",
         "Members of a sorted set in a range of scores.",
         syntax="ZRANGEBYSCORE key min max [WITHSCORES] "
         "[LIMIT offset count]")
def zrangebyscore(ctx, args):
    return _range(ctx, args[0], args[1:], _BY_SCORE, False)


@command("ZREVRANGEBYSCORE", -4, "readonly",
         "Members of a sorted set in a range of scores, highest first.",
         syntax="ZREVRANGEBYSCORE key max min [WITHSCORES] "
         "[LIMIT offset count]")
def zrevrangebyscore(ctx, args):
    return _range(ctx, args[0], args[1:], _BY_SCORE, True)


@command("ZRANGEBYLEX", -4, "readonly",
         "Members of a sorted set in a lex range.",
         syntax="ZRANGEBYLEX key min max [LIMIT offset count]")
def zrangebylex(ctx, args):
    return _range(ctx, args[0], args[1:], _BY_LEX, False)


@command("ZREVRANGEBYLEX", -4, "readonly",
         "Members of a sorted set in a lex range, last first.",
         syntax="ZREVRANGEBYLEX key max min [LIMIT offset count]")
def zrevrangebylex(ctx, args):
    return _range(ctx, args[0], args[1:], _BY_LEX, True)


@command("ZRANGESTORE", -5, "write denyoom",
         "Store a range of a sorted set; how many members.", (1, 2, 1),
         syntax="ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] "
         "[LIMIT offset count]")
def zrangestore(ctx, args):
    return _range(ctx, args[1], args[2:], None, False, destination=args[0])


# -- several sorted sets -----------------------------------------------------

def _aggregate(name: str, args: List[bytes]):
    """
    The arguments of ZUNIONSTORE and ZINTERSTORE after the destination:
    C{(keys, weights, aggregate)}, or Redis's error.
    """
    numkeys = intArg(args[0])
    if numkeys < 1:
        return Error("ERR at least 1 input key is needed for '%s' command"
                     % (name,))
    if numkeys > len(args) - 1:
        return SYNTAX
    keys = args[1:1 + numkeys]
    weights = [1.0] * numkeys
    how = b"SUM"
    rest = args[1 + numkeys:]
    i = 0
    while i < len(rest):
        opt = rest[i].upper()
        if opt == b"WEIGHTS" and len(rest) - i - 1 >= numkeys:
            weights = [parseScore(w, "ERR weight value is not a float")
                       for w in rest[i + 1:i + 1 + numkeys]]
            i += 1 + numkeys
        elif opt == b"AGGREGATE" and i + 1 < len(rest) and \
                rest[i + 1].upper() in (b"SUM", b"MIN", b"MAX"):
            how = rest[i + 1].upper()
            i += 2
        else:
            return SYNTAX
    return keys, weights, how


def _combine(store, keys, weights, how: bytes, union: bool):
    """
    The members and scores of the union or intersection of the sorted
    sets (or sets) in C{keys}, as Redis computes them: inputs taken from
    the smallest, each score times its weight (NaN counts as 0), scores of
    a member aggregated by C{how} (a NaN sum counts as 0).
    """
    inputs = [(store.zscoresOf(k) or {}, w) for k, w in zip(keys, weights)]
    inputs.sort(key=lambda pair: len(pair[0]))

    def weighted(score, weight):
        value = score * weight
        return 0.0 if value != value else value

    def combine(a, b):
        if how == b"SUM":
            total = a + b
            return 0.0 if total != total else total
        return min(a, b) if how == b"MIN" else max(a, b)

    if union:
        result = {}
        for scores, weight in inputs:
            for member, score in scores.items():
                value = weighted(score, weight)
                old = result.get(member)
                result[member] = value if old is None else combine(old,
                                                                   value)
        return result
    first, weight = inputs[0]
    result = {}
    for member, score in first.items():
        value = weighted(score, weight)
        for scores, w in inputs[1:]:
            other = scores.get(member)
            if other is None:
                break
            value = combine(value, weighted(other, w))
        else:
            result[member] = value
    return result


def _storeCombined(ctx, args, name: str, union: bool):
    parsed = _aggregate(name, args[1:])
    if type(parsed) is Error:
        return parsed
    keys, weights, how = parsed
    store = ctx.store
    result = _combine(store, keys, weights, how, union)
    return store.zstore(args[0], list(result.items()))


@command("ZUNIONSTORE", -4, "write denyoom movablekeys",
         "Store the union of sorted sets (or sets); how many members.",
         (1, 1, 1), syntax="ZUNIONSTORE destination numkeys key [key ...] "
         "[WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]")
def zunionstore(ctx, args):
    return _storeCombined(ctx, args, "zunionstore", True)


@command("ZINTERSTORE", -4, "write denyoom movablekeys",
         "Store the intersection of sorted sets (or sets); how many "
         "members.", (1, 1, 1),
         syntax="ZINTERSTORE destination numkeys key [key ...] "
         "[WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]")
def zinterstore(ctx, args):
    return _storeCombined(ctx, args, "zinterstore", False)


@command("ZSCAN", -3, "readonly",
         "Iterate over the members of a sorted set and their scores.",
         syntax="ZSCAN key cursor [MATCH pattern] [COUNT count]")
def zscan(ctx, args):
    store = ctx.store
    parseCursor(args[1])
    if not store.zcard(args[0]):
        return [b"0", []]
    cursor, pattern, count, _ = scanOptions(args[1:])
    following, found = store.zscan(args[0], cursor, pattern, count)
    flat = []
    for member, score in found:
        flat.append(member)
        flat.append(formatDouble(score))
    return [b"%d" % (following,), flat]
