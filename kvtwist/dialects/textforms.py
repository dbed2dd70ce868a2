# -*- test-case-name: kvtwist.test.test_textforms -*-
"""
Readable text-protocol forms of the hash, set and sorted set replies: the
text dialect (L{kvtwist.dialects.text}) sends each of these commands' reply
as a block of lines (then a lone C{.}) built here:

    HGETALL h                 ->  field: value      (one line per field)
    HMGET h a b               ->  a: 1 / b: (nil)
    HRANDFIELD h 2 WITHVALUES ->  field: value
    HSCAN h 0                 ->  cursor, then "  field: value" lines
    SMEMBERS s, SINTER ...    ->  one member per line
    SMISMEMBER s a b          ->  a: yes / b: no
    ZRANGE z 0 -1 WITHSCORES  ->  member (score)
    ZPOPMIN z                 ->  member (score)
    ZMSCORE z a b             ->  a: 1.5 / b: (nil)
    ZSCAN z 0                 ->  cursor, then "  member (score)" lines

Every function here takes the request's arguments, the reply and the text
dialect's C{show} (one value on one line, escaped as the dialect escapes
values), and returns the block's lines.
"""

from typing import Callable, Dict, List

from kvtwist.doubles import formatDouble
from kvtwist.replies import SetReply

Show = Callable[[object], bytes]


def _score(value) -> bytes:
    if type(value) is float:
        return formatDouble(value)
    return value if type(value) is bytes else b"(nil)"


def _each(args, reply, show: Show) -> List[bytes]:
    if type(reply) is not list and type(reply) is not SetReply:
        return [show(reply)]
    return [show(x) for x in reply]


def _fieldValues(args, reply, show: Show) -> List[bytes]:
    if type(reply) is dict:
        return [show(k) + b": " + show(v) for k, v in reply.items()]
    if type(reply) is list and len(args) == 3 and \
            args[2].upper() == b"WITHVALUES":
        return [show(reply[i]) + b": " + show(reply[i + 1])
                for i in range(0, len(reply) - 1, 2)]
    return _each(args, reply, show)


def _named(args, reply, show: Show) -> List[bytes]:
    # HMGET and ZMSCORE: one line per argument after the key.
    if type(reply) is not list:
        return [show(reply)]
    return [show(name) + b": " + (b"(nil)" if v is None else
                                  _score(v) if type(v) is float else show(v))
            for name, v in zip(args[1:], reply)]


def _membership(args, reply, show: Show) -> List[bytes]:
    if type(reply) is not list:
        return [show(reply)]
    return [show(name) + b": " + (b"yes" if v else b"no")
            for name, v in zip(args[1:], reply)]


def _withScores(args, reply, show: Show) -> List[bytes]:
    if type(reply) is not list:
        return [show(reply)]
    if reply and type(reply[0]) is list:
        # RESP3-shaped pairs.
        return [show(m) + b" (" + _score(s) + b")" for m, s in reply]
    return [show(reply[i]) + b" (" + _score(reply[i + 1]) + b")"
            for i in range(0, len(reply) - 1, 2)]


def _range(args, reply, show: Show) -> List[bytes]:
    if any(a.upper() == b"WITHSCORES" for a in args[3:]):
        return _withScores(args, reply, show)
    return _each(args, reply, show)


def _scan(pair: Callable[[object, object, Show], bytes]):
    def lines(args, reply, show: Show) -> List[bytes]:
        if type(reply) is not list or len(reply) != 2:
            return [show(reply)]
        cursor, found = reply
        if any(a.upper() == b"NOVALUES" for a in args[2:]) or pair is None:
            return [show(cursor)] + [b"  " + show(x) for x in found]
        return [show(cursor)] + [
            b"  " + pair(found[i], found[i + 1], show)
            for i in range(0, len(found) - 1, 2)]
    return lines


def _fieldValue(field, value, show: Show) -> bytes:
    return show(field) + b": " + show(value)


def _memberScore(member, score, show: Show) -> bytes:
    return show(member) + b" (" + _score(score) + b")"


#: Command -> C{form(args, reply, show)}: the lines of its block.
FORMS: Dict[bytes, Callable[..., List[bytes]]] = {
    b"HGETALL": _fieldValues,
    b"HRANDFIELD": _fieldValues,
    b"HKEYS": _each,
    b"HVALS": _each,
    b"HMGET": _named,
    b"HSCAN": _scan(_fieldValue),
    b"SMEMBERS": _each,
    b"SINTER": _each,
    b"SUNION": _each,
    b"SDIFF": _each,
    b"SRANDMEMBER": _each,
    b"SPOP": _each,
    b"SMISMEMBER": _membership,
    b"SSCAN": _scan(None),
    b"ZRANGE": _range,
    b"ZREVRANGE": _range,
    b"ZRANGEBYSCORE": _range,
    b"ZREVRANGEBYSCORE": _range,
    b"ZRANGEBYLEX": _each,
    b"ZREVRANGEBYLEX": _each,
    b"ZPOPMIN": _withScores,
    b"ZPOPMAX": _withScores,
    b"ZMSCORE": _named,
    b"ZSCAN": _scan(_memberScore),
}

#: The commands whose text reply is a block built by L{FORMS}.
BLOCK_COMMANDS = frozenset(FORMS)


def printValue(value, show: Show) -> bytes:
    """
    A hash, set or sorted set as C{PRINT} shows it on one line: C{{field:
    value, ...}} for a hash, C{{member (score), ...}} for a sorted set (as
    L{kvtwist.store.Store.contents} gives them: dicts of bytes and of
    floats), C{[member, ...]} for a set or a list, C{[[id, [field, value,
    ...]], ...]} for a stream (lists in it shown the same way).
    """
    if type(value) is dict:
        return b"{" + b", ".join(
            show(k) + (b" (" + _score(v) + b")" if type(v) is float
                       else b": " + show(v))
            for k, v in value.items()) + b"}"
    return b"[" + b", ".join(
        printValue(x, show) if type(x) is list else show(x)
        for x in value) + b"]"
