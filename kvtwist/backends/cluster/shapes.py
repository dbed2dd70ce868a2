# -*- test-case-name: kvtwist.test.test_cluster_shapes -*-
"""
The shape of a node's reply for the client that asked.

The front end speaks RESP3 to the nodes, whose types are the richest
(maps, doubles, sets), so that one connection serves every client; kvtwist
renders them to each client in its own protocol (a map as a flat array in
RESP2, a double as a bulk string...).  A few commands are shaped
differently by Redis in RESP2 beyond what that rendering does, and are
reshaped here:

    - a null that is an array in RESP2 (C{*-1}): C{LPOP key count},
      blocking pops that time out, an aborted C{EXEC}, C{XREAD} with
      nothing (L{NULL_ARRAY}, which every dialect renders as its own
      null);
    - pairs that RESP3 nests and RESP2 keeps flat: C{ZRANGE ...
      WITHSCORES} and its kin, C{ZPOPMIN}/C{ZPOPMAX} with a count,
      C{HRANDFIELD ... WITHVALUES} (but not C{ZMPOP}/C{BZMPOP}, whose
      pairs Redis nests in RESP2 too);
    - doubles (sorted sets' scores, geo distances), which RESP2 sends as
      bulk strings written as the node writes them (C{1}, not C{1.0}):
      Redis before 7.2 with C{%.17g}, later ones as the shortest text that
      reads back the same.
"""

from typing import Callable, Dict, List

from kvtwist.replies import NULL_ARRAY, Error

Shaper = Callable[[object, List[bytes], int], object]


def redis70Double(value: float) -> bytes:
    """
    A double as Redis 7.0 writes it (C{%.17g}).
    """
    return b"%.17g" % (value,)


def shortestDouble(value: float) -> bytes:
    """
    A double as Redis 7.2 and later write it: the shortest text that
    reads back the same, without a trailing C{.0}.
    """
    text = repr(value).encode()
    return text[:-2] if text.endswith(b".0") else text


def doublesAsText(reply, write: Callable[[float], bytes]):
    """
    C{reply} with every double in it written as text (RESP2).
    """
    kind = reply.__class__
    if kind is float:
        return write(reply)
    if kind is list:
        return [doublesAsText(r, write) for r in reply]
    if kind is dict:
        return {k: doublesAsText(v, write) for k, v in reply.items()}
    return reply


def _nullArray(reply, args, protover):
    return NULL_ARRAY if reply is None else reply


def _nullArrayWithCount(reply, args, protover):
    return NULL_ARRAY if reply is None and len(args) > 1 else reply


def _flat(pairs):
    if isinstance(pairs, list) and pairs and all(
            isinstance(p, list) and len(p) == 2 for p in pairs):
        return [x for p in pairs for x in p]
    return pairs


def _flatPairs(reply, args, protover):
    if protover == 2:
        return _flat(reply)
    return reply


#: The commands reshaped, by upper-case name.
SHAPERS: Dict[str, Shaper] = {
    "LPOP": _nullArrayWithCount,
    "RPOP": _nullArrayWithCount,
    "BLPOP": _nullArray,
    "BRPOP": _nullArray,
    "BLMPOP": _nullArray,
    "LMPOP": _nullArray,
    "BZPOPMIN": _nullArray,
    "BZPOPMAX": _nullArray,
    "XREAD": _nullArray,
    "XREADGROUP": _nullArray,
    "ZMPOP": _nullArray,
    "BZMPOP": _nullArray,
    "ZRANGE": _flatPairs,
    "ZRANGEBYSCORE": _flatPairs,
    "ZREVRANGE": _flatPairs,
    "ZREVRANGEBYSCORE": _flatPairs,
    "ZUNION": _flatPairs,
    "ZINTER": _flatPairs,
    "ZDIFF": _flatPairs,
    "ZRANDMEMBER": _flatPairs,
    "ZPOPMIN": _flatPairs,
    "ZPOPMAX": _flatPairs,
    "HRANDFIELD": _flatPairs,
}


def hasDoubles(name: str) -> bool:
    """
    Whether C{name}'s replies may hold doubles (sorted sets, geo).
    """
    return name[:1] == "Z" or name[:2] == "BZ" or name[:3] == "GEO"


def shape(name: str, reply, args: List[bytes], protover: int,
          double: Callable[[float], bytes] = redis70Double):
    """
    C{reply} (to C{name args}) as a client speaking C{protover} gets it
    from Redis; errors as they are.

    @param double: how the node writes a double (L{redis70Double} or
        L{shortestDouble}).
    """
    if reply.__class__ is Error:
        return reply
    shaper = SHAPERS.get(name)
    if shaper is not None:
        reply = shaper(reply, args, protover)
    if protover == 2 and hasDoubles(name):
        reply = doublesAsText(reply, double)
    return reply


def shapeExec(reply, queued: List[List[bytes]], protover: int,
              double: Callable[[float], bytes] = redis70Double):
    """
    C{EXEC}'s reply: a null array if aborted, else each command's reply
    shaped as if it ran alone.
    """
    if reply is None:
        return NULL_ARRAY
    if not isinstance(reply, list) or len(reply) != len(queued):
        return reply
    return [shape(argv[0].upper().decode("ascii", "replace"), r, argv[1:],
                  protover, double) for r, argv in zip(reply, queued)]
