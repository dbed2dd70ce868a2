# -*- test-case-name: kvtwist.test.test_commands_hashes -*-
"""
What the commands of hashes, sets and sorted sets share: the options of
their SCAN commands, and element-and-value pairs shaped for the client's
protocol.
"""

from typing import List, Tuple

from kvtwist.commands.registry import intArg
from kvtwist.store.elements import parseCursor
from kvtwist.store.errors import Refused


def scanOptions(args: List[bytes], novalues: bool = False
                ) -> Tuple[int, bytes, int, bool]:
    """
    The arguments of C{HSCAN}, C{SSCAN} or C{ZSCAN} after the key: C{cursor
    [MATCH pattern] [COUNT count]} (and C{NOVALUES} where C{novalues}).

    @return: C{(cursor, pattern, count, novalues)}.
    @raise Refused: with Redis's error for a bad cursor, option or count.
    """
    cursor = parseCursor(args[0])
    pattern = b"*"
    count = 10
    withoutValues = False
    i = 1
    n = len(args)
    while i < n:
        opt = args[i].upper()
        if opt == b"NOVALUES" and novalues:
            withoutValues = True
            i += 1
            continue
        if i + 1 >= n:
            raise Refused("ERR syntax error")
        if opt == b"MATCH":
            pattern = args[i + 1]
        elif opt == b"COUNT":
            count = intArg(args[i + 1])
            if count < 1:
                raise Refused("ERR syntax error")
        else:
            raise Refused("ERR syntax error")
        i += 2
    return cursor, pattern, count, withoutValues


def pairs(items, protover: int) -> list:
    """
    C{(element, value)} pairs as Redis answers them: one flat array in
    RESP2 (C{[e1, v1, e2, v2...]}), an array of two-element arrays in
    RESP3.
    """
    if protover == 3:
        return [[e, v] for e, v in items]
    out = []
    for e, v in items:
        out.append(e)
        out.append(v)
    return out
