# -*- test-case-name: kvtwist.test.test_store_hashes -*-
"""
Hash values: a L{dict} of fields to values, both L{bytes}.

Journal ops: C{HSET key field value [field value ...]} (computed results,
as C{HINCRBY}'s, are journaled as the value they produced) and C{HDEL key
field [field ...]}.  A hash left without fields is deleted, as in Redis.
"""

from typing import Dict, List, Optional, Tuple

from kvtwist.glob import compileGlob
from kvtwist.store.elements import SMALL, pickOne, sample, scanElements
from kvtwist.store import longdouble
from kvtwist.store.errors import NotAnInteger, Refused
from kvtwist.store.strings import parseInt
from kvtwist.store.valuetype import ValueType

_INT64_MAX = 2 ** 63 - 1
_INT64_MIN = -(2 ** 63)

#: Redis keeps a hash as a listpack up to 128 fields of at most 64 bytes.
_LISTPACK_ENTRIES = SMALL
_LISTPACK_VALUE = 64


def _replayHset(store, args):
    store.hset(args[0], args[1:])


def _replayHdel(store, args):
    store.hdel(args[0], args[1:])


def encoding(value: Dict[bytes, bytes]) -> str:
    """
    C{OBJECT ENCODING} of a hash: C{listpack} while Redis would keep it
    as one (at most 128 fields, none and no value over 64 bytes), else
    C{hashtable}.
    """
    if len(value) > _LISTPACK_ENTRIES:
        return "hashtable"
    limit = _LISTPACK_VALUE
    for field, v in value.items():
        if len(field) > limit or len(v) > limit:
            return "hashtable"
    return "listpack"


#: Hashes, for the keyspace: plain and copied as a new dict.
TYPE = ValueType("hash", dict, plain=dict, restore=dict,
                 ops={b"HSET": _replayHset, b"HDEL": _replayHdel},
                 copy=dict, encoding=encoding)


class Hashes:
    """
    The hash part of L{kvtwist.store.Store}.
    """

    def _hash(self, key: bytes) -> Optional[Dict[bytes, bytes]]:
        return self._typed(key, dict)

    def hset(self, key: bytes, pairs: List[bytes]) -> int:
        """
        Set fields: C{pairs} is C{[field, value, field, value...]}; return
        how many fields are new.
        """
        h = self._hash(key)
        if h is None:
            h = {}
            self._put(key, h)
        before = len(h)
        for i in range(0, len(pairs) - 1, 2):
            h[pairs[i]] = pairs[i + 1]
        self._emit(b"HSET", key, *pairs)
        return len(h) - before

    def hsetnx(self, key: bytes, field: bytes, value: bytes) -> bool:
        """
        Set C{field} only if it does not exist; whether it was set.
        """
        h = self._hash(key)
        if h is not None and field in h:
            return False
        self.hset(key, [field, value])
        return True

    def hget(self, key: bytes, field: bytes) -> Optional[bytes]:
        """
        The value of C{field}, or L{None}.
        """
        h = self._hash(key)
        return None if h is None else h.get(field)

    def hmget(self, key: bytes, fields: List[bytes]) -> List[Optional[bytes]]:
        """
        The values of C{fields} (L{None} for a missing one).
        """
        h = self._hash(key)
        if h is None:
            return [None] * len(fields)
        get = h.get
        return [get(f) for f in fields]

    def hgetall(self, key: bytes) -> Dict[bytes, bytes]:
        """
        Every field and value, as a new dict (empty if the key is missing).
        """
        h = self._hash(key)
        return {} if h is None else dict(h)

    def hkeys(self, key: bytes) -> List[bytes]:
        """
        Every field.
        """
        h = self._hash(key)
        return [] if h is None else list(h)

    def hvals(self, key: bytes) -> List[bytes]:
        """
        Every value.
        """
        h = self._hash(key)
        return [] if h is None else list(h.values())

    def hlen(self, key: bytes) -> int:
        """
        The number of fields, 0 if the key is missing.
        """
        h = self._hash(key)
        return 0 if h is None else len(h)

    def hexists(self, key: bytes, field: bytes) -> bool:
        """
        Whether C{field} exists.
        """
        h = self._hash(key)
        return h is not None and field in h

    def hstrlen(self, key: bytes, field: bytes) -> int:
        """
        The length of C{field}'s value, 0 if missing.
        """
        h = self._hash(key)
        if h is None:
            return 0
        return len(h.get(field, b""))

    def hdel(self, key: bytes, fields: List[bytes]) -> int:
        """
        Remove C{fields}; return how many existed.  A hash left empty is
        deleted.
        """
        h = self._hash(key)
        if h is None:
            return 0
        removed = []
        for f in fields:
            if h.pop(f, None) is not None:
                removed.append(f)
        if removed:
            if not h:
                self._drop(key)
            self._emit(b"HDEL", key, *removed)
        return len(removed)

    def hincrby(self, key: bytes, field: bytes, delta: int) -> int:
        """
        Add C{delta} to the integer in C{field} (0 if missing).

        @raise Refused: if the value is not an integer, or the sum
            overflows a signed 64-bit integer.
        """
        h = self._hash(key)
        current = None if h is None else h.get(field)
        if current is None:
            n = 0
        else:
            try:
                n = parseInt(current)
            except NotAnInteger:
                raise Refused("ERR hash value is not an integer")
        n += delta
        if n > _INT64_MAX or n < _INT64_MIN:
            raise Refused("ERR increment or decrement would overflow")
        self.hset(key, [field, b"%d" % (n,)])
        return n

    def hincrbyfloat(self, key: bytes, field: bytes, increment: bytes
                     ) -> bytes:
        """
        Add C{increment} to the number in C{field} (0 if missing), in long
        double as Redis does (L{kvtwist.store.longdouble}); return the new
        value as stored.

        @raise Refused: if C{increment} is not a finite number, the value
            is not a number, or the sum is not finite.
        """
        incr = longdouble.parse(increment)
        if incr is None:
            raise Refused("ERR value is not a valid float")
        if isinstance(incr, float):
            raise Refused("ERR value is NaN or Infinity")
        h = self._hash(key)
        current = None if h is None else h.get(field)
        value = 0 if current is None else longdouble.parse(current)
        if value is None:
            raise Refused("ERR hash value is not a float")
        try:
            new = longdouble.format(longdouble.add(value, incr))
        except longdouble.Infinite:
            raise Refused("ERR increment would produce NaN or Infinity")
        self.hset(key, [field, new])
        return new

    def hrandfield(self, key: bytes, count: Optional[int] = None
                   ) -> Optional[List[Tuple[bytes, bytes]]]:
        """
        Fields picked at random with their values: one (or L{None} for a
        missing key) without C{count}; else as
        L{kvtwist.store.elements.sample} picks them (an empty list for a
        missing key).
        """
        h = self._hash(key)
        if count is None:
            if not h:
                return None
            field = pickOne(list(h))
            return [(field, h[field])]
        if not h or count == 0:
            return []
        return sample(list(h.items()), count)

    def hscan(self, key: bytes, cursor: int, pattern: bytes = b"*",
              count: int = 10) -> Tuple[int, List[Tuple[bytes, bytes]]]:
        """
        One step of an iteration over a hash's fields (see
        L{kvtwist.store.elements.scanElements}): C{(nextCursor, [(field,
        value), ...])}, the fields matching the glob C{pattern}.
        """
        h = self._hash(key)
        if h is None:
            return 0, []
        following, fields = scanElements(h, cursor, count)
        glob = compileGlob(pattern)
        return following, [(f, h[f]) for f in fields
                           if glob is None or glob.match(f)]
