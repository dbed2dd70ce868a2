# -*- test-case-name: kvtwist.test.test_scripting -*-
"""
Replies to Lua values and Lua values to replies, as Redis 7 converts them.

A command's reply reaches a script (L{toLua}) as it would reach a client
of the script's RESP version (2 unless it called C{redis.setresp(3)}):

    RESP2: integer -> number, bulk -> string, null bulk and null array ->
    C{false}, array -> table, status -> C{{ok=...}}, error -> C{{err=...}}
    (a map is a flat array, a double a string, a boolean 1 or 0)

    RESP3 adds: null -> C{nil}, boolean -> boolean, double ->
    C{{double=n}}, map -> C{{map={...}}}, set -> C{{set={m=true}}},
    verbatim -> C{{verbatim_string={format=..., string=...}}}

A script's result becomes a reply (L{fromLua}): number -> integer
(truncated), string -> bulk, C{true} -> 1 (or a boolean after
C{redis.setresp(3)}), C{false} and C{nil} -> null, a table with C{err}
or C{ok} -> an error or a status, with C{double}, C{map}, C{set},
C{big_number} or C{verbatim_string} -> those, any other table -> an
array of its elements from 1 up to the first C{nil}.

Replies of kinds not listed (whatever a command may answer) are rendered
by the RESP dialect and read back (L{parseReply}), so that a script sees
exactly what a client would.
"""

import math
from typing import Callable, List, Tuple

from kvtwist.dialects.resp import render
from kvtwist.replies import (
    NULL_ARRAY, Error, NullArray, SetReply, Status, Verbatim)

_LLONG_MIN = -(1 << 63)
_LLONG_MAX = (1 << 63) - 1


class _Map(list):
    """
    A RESP3 map read back by L{parseReply}: its C{(key, value)} pairs
    (keys may be arrays, so not a dict).
    """


class _Set(list):
    """
    A RESP3 set read back by L{parseReply}: its members.
    """


class _Double(float):
    """
    A RESP3 double read back by L{parseReply}.
    """


class _BigNumber(bytes):
    """
    A RESP3 big number read back by L{parseReply}.
    """


def parseReply(data: bytes, pos: int = 0) -> Tuple[object, int]:
    """
    Read one RESP2 or RESP3 reply from C{data} at C{pos}: C{(value,
    end)}, the value as a neutral reply (bulk L{bytes}, L{int},
    L{Status}, L{Error}, L{list}, L{None}, L{NULL_ARRAY}, L{bool},
    L{Verbatim}) or, for RESP3's other types, L{_Map}, L{_Set},
    L{_Double}, L{_BigNumber}.

    @raise ValueError: if it is not one whole reply.
    """
    end = data.index(b"\r\n", pos)
    kind, line = data[pos:pos + 1], data[pos + 1:end]
    pos = end + 2
    if kind in (b"$", b"=", b"!"):
        n = int(line)
        if n < 0:
            return None, pos
        body = data[pos:pos + n]
        if len(body) != n:
            raise ValueError("a bulk string cut short")
        pos += n + 2
        if kind == b"=":
            return Verbatim(body[4:]), pos
        if kind == b"!":
            return Error(body.decode("utf-8", "replace")), pos
        return body, pos
    if kind == b":":
        return int(line), pos
    if kind == b"+":
        return Status(line.decode("utf-8", "replace")), pos
    if kind == b"-":
        return Error(line.decode("utf-8", "replace")), pos
    if kind == b"_":
        return None, pos
    if kind == b"#":
        return line == b"t", pos
    if kind == b",":
        return _Double(float(line)), pos
    if kind == b"(":
        return _BigNumber(line), pos
    if kind in (b"*", b"~", b">", b"%"):
        n = int(line)
        if n < 0:
            return NULL_ARRAY, pos
        items = []
        for _ in range(2 * n if kind == b"%" else n):
            item, pos = parseReply(data, pos)
            items.append(item)
        if kind == b"%":
            return _Map(zip(items[::2], items[1::2])), pos
        if kind == b"~":
            return _Set(items), pos
        return items, pos
    raise ValueError("not a RESP reply: %r" % (kind,))


def toLua(reply, resp: int, table: Callable[[object], object]):
    """
    C{reply} as the Lua value a script gets from C{redis.call}, and whether
    it is an error (which C{redis.call} raises).

    @param resp: the script's RESP version (2 or 3).
    @param table: makes a Lua table from a Python list or dict (lupa's
        C{table_from}).
    @return: C{(value, isError)}.
    """
    kind = reply.__class__
    if kind is Error:
        return table({b"err": reply.encode("utf-8", "replace")}), True
    return _value(reply, resp, table), False


def _value(reply, resp: int, table):
    kind = reply.__class__
    if kind is bytes or kind is int:
        return reply
    if reply is None or kind is NullArray:
        return None if resp == 3 else False
    if kind is list:
        return table([_value(item, resp, table) for item in reply])
    if kind is Status:
        return table({b"ok": reply.encode("utf-8", "replace")})
    if kind is Error:
        return table({b"err": reply.encode("utf-8", "replace")})
    if kind is bool and resp == 3:
        return reply
    if resp == 3:
        if kind is _Map:
            return table({b"map": table(
                {_key(k, resp, table): _value(v, resp, table)
                 for k, v in reply})})
        if kind is _Set:
            return table({b"set": table(
                {_key(m, resp, table): True for m in reply})})
        if kind is _Double:
            return table({b"double": float(reply)})
        if kind is _BigNumber:
            return table({b"big_number": bytes(reply)})
        if kind is Verbatim:
            return table({b"verbatim_string": table(
                {b"format": b"txt", b"string": bytes(reply)})})
    if kind in (_Map, _Set, _Double, _BigNumber):
        # Only a RESP3 rendering gives these.
        raise ValueError("a RESP3 reply for a RESP2 script")
    # Anything else (maps, doubles, sets, booleans in RESP2...): what a
    # client of this RESP version would read.
    return _value(parseReply(render(reply, resp))[0], resp, table)


def _key(item, resp: int, table):
    value = _value(item, resp, table)
    return value if value is not None else False


def toInteger(number) -> int:
    """
    A Lua number as Redis makes it an integer reply: truncated toward
    zero; out of range, infinite or NaN gives the smallest 64-bit integer
    (what the C cast does on x86).
    """
    if isinstance(number, float):
        if math.isnan(number) or math.isinf(number):
            return _LLONG_MIN
        number = int(number)
    if _LLONG_MIN <= number <= _LLONG_MAX:
        return number
    return _LLONG_MIN


def fromLua(value, resp: int, luaType: Callable[[object], str]):
    """
    A script's result (or part of it) as a reply.

    @param resp: the script's RESP version when it ended.
    @param luaType: lupa's C{lua_type}: C{"table"} for a Lua table.
    """
    kind = type(value)
    if kind is bytes:
        return value
    if kind is bool:
        if resp == 3:
            return value
        return 1 if value else None
    if kind is int or kind is float:
        return toInteger(value)
    if value is None:
        return None
    if luaType(value) != "table":
        # A function, a coroutine, userdata: Redis answers a null.
        return None
    err = value[b"err"]
    if type(err) is bytes:
        return Error(err.decode("utf-8", "replace"))
    ok = value[b"ok"]
    if type(ok) is bytes:
        return Status(ok.decode("utf-8", "replace"))
    double = value[b"double"]
    if type(double) in (int, float):
        return float(double)
    big = value[b"big_number"]
    if type(big) is bytes:
        return big
    inner = value[b"map"]
    if inner is not None and luaType(inner) == "table":
        return {_hashable(fromLua(k, resp, luaType)):
                fromLua(v, resp, luaType) for k, v in inner.items()}
    inner = value[b"set"]
    if inner is not None and luaType(inner) == "table":
        return SetReply(fromLua(k, resp, luaType) for k in inner.keys())
    inner = value[b"verbatim_string"]
    if inner is not None and luaType(inner) == "table":
        text = inner[b"string"]
        if type(text) is bytes:
            return Verbatim(text)
    out: List[object] = []
    i = 1
    while True:
        item = value[i]
        if item is None:
            return out
        out.append(fromLua(item, resp, luaType))
        i += 1


def _hashable(reply):
    if isinstance(reply, list):
        return tuple(_hashable(r) for r in reply)
    return reply
