# -*- test-case-name: kvtwist.test.test_store -*-
"""
String values (L{bytes}): get, set (with expiry), counters, append, ranges
and bits.

Values are immutable L{bytes}: C{SETRANGE}, C{SETBIT} and C{APPEND} make a
new value (O(length), where Redis writes in place), which keeps every
reader of a value (C{GET}'s reply, a snapshot task on another thread) safe.
They are journaled as themselves (C{APPEND k v}, C{SETRANGE k offset v},
C{SETBIT k offset bit}), not as the whole new value, so that growing a big
string doesn't write all of it to the log each time.
"""

from typing import Optional

from kvtwist.store.errors import NotAnInteger, WrongType
from kvtwist.store.keyspace import TOMBSTONE
from kvtwist.store.valuetype import ValueType

_INT64_MAX = 2 ** 63 - 1
_INT64_MIN = -(2 ** 63)


def parseInt(value: bytes) -> int:
    """
    Parse C{value} as a signed 64-bit decimal integer, as Redis does.

    @raise NotAnInteger: if it is not one.
    """
    # int() accepts spaces, underscores and a leading '+'; Redis does not.
    if not value or len(value) > 20 or not value.lstrip(b"-").isdigit():
        raise NotAnInteger(value)
    if value.startswith(b"-"):
        if value.count(b"-") != 1:
            raise NotAnInteger(value)
    if len(value) > 1 and (value.startswith(b"0") or value.startswith(b"-0")):
        raise NotAnInteger(value)
    n = int(value)
    if n > _INT64_MAX or n < _INT64_MIN:
        raise NotAnInteger(value)
    return n


def _replaySet(store, args):
    store.set(args[0], args[1])


def _replaySetKeepTTL(store, args):
    store.set(args[0], args[1], keepTTL=True)


def _replayAppend(store, args):
    store.append(args[0], args[1])


def _replaySetRange(store, args):
    store.setRange(args[0], int(args[1]), args[2])


def _replaySetBit(store, args):
    store.setBit(args[0], int(args[1]), int(args[2]))


def _same(value: bytes) -> bytes:
    return value


def encoding(value: bytes) -> str:
    """
    Redis's C{OBJECT ENCODING} of a string: C{int} if it is a 64-bit
    integer as Redis would write it, C{embstr} up to 44 bytes, else
    C{raw}.  (Redis also keeps a string it changed in place, C{APPEND} or
    C{SETRANGE}, as C{raw} however short; kvtwist knows values, not their
    history.)
    """
    if len(value) <= 20:
        try:
            parseInt(value)
            return "int"
        except NotAnInteger:
            pass
    return "embstr" if len(value) <= 44 else "raw"


#: Strings, for the keyspace.
TYPE = ValueType("string", bytes, plain=_same, restore=_same, copy=_same,
                 encoding=encoding,
                 ops={b"SET": _replaySet, b"SETKEEPTTL": _replaySetKeepTTL,
                      b"APPEND": _replayAppend, b"SETRANGE": _replaySetRange,
                      b"SETBIT": _replaySetBit})

#: Each byte's count of set bits.
_POPCOUNT = bytes(bin(i).count("1") for i in range(256))


def bitCount(data) -> int:
    """
    The number of set bits in C{data} (bytes, or a memoryview of them),
    in C loops: each byte becomes its count of bits, then each count is
    counted.
    """
    counts = bytes(data).translate(_POPCOUNT)
    return sum(k * counts.count(k) for k in range(1, 9))


class Strings:
    """
    The string part of L{kvtwist.store.Store}.
    """

    #: Lookups by L{get} that found a value (C{keyspace_hits}).
    _hits = 0
    #: Lookups by L{get} that found none (C{keyspace_misses}).
    _misses = 0

    def _string(self, key: bytes) -> Optional[bytes]:
        return self._typed(key, bytes)

    def get(self, key: bytes) -> Optional[bytes]:
        """
        The string value of C{key}, or L{None}.

        @raise WrongType: if it holds another kind of value.
        """
        value = self._data.get(key)
        if value is None or value is TOMBSTONE:
            self._misses += 1
            return None
        if self._expires and key in self._expires:
            value = self._lookup(key)
            if value is None:
                self._misses += 1
                return None
        if type(value) is not bytes:
            raise WrongType(key)
        self._hits += 1
        return value

    def set(self, key: bytes, value: bytes, expireAtMs: Optional[float] = None,
            keepTTL: bool = False):
        """
        Set C{key} to the string C{value}, replacing any value of any type.

        @param expireAtMs: an absolute expiry time, or L{None}.
        @param keepTTL: keep the key's current expiry (if no new one given).
        """
        expires = self._expires
        if expires and key in expires:
            if keepTTL and expireAtMs is None:
                if expires[key] <= self._now():
                    self._expire(key)
                else:
                    self._data[key] = value
                    self._emit(b"SETKEEPTTL", key, value)
                    return
            else:
                del expires[key]
        data = self._data
        old = data.get(key)
        if old is None:
            if self._order is not None:
                self._order.append(key)
        elif old is TOMBSTONE:
            self._tombs -= 1
        data[key] = value
        journal = self._journal
        if expireAtMs is not None:
            self._setExpiry(key, int(expireAtMs))
            if journal is not None:
                journal((b"SET", key, value))
                journal((b"PEXPIREAT", key, b"%d" % int(expireAtMs)))
        elif journal is not None:
            journal((b"SET", key, value))

    def incrBy(self, key: bytes, delta: int) -> int:
        """
        Add C{delta} to the integer in C{key} (0 if missing); keep its TTL.

        @raise NotAnInteger: if the value is not an integer or overflows.
        """
        current = self._string(key)
        n = 0 if current is None else parseInt(current)
        n += delta
        if n > _INT64_MAX or n < _INT64_MIN:
            raise NotAnInteger(key)
        value = b"%d" % n
        self._put(key, value)
        self._emit(b"SETKEEPTTL", key, value)
        return n

    def append(self, key: bytes, value: bytes) -> int:
        """
        Append C{value} to the string in C{key}; return the new length.
        """
        current = self._string(key)
        new = value if current is None else current + value
        self._put(key, new)
        self._emit(b"APPEND", key, value)
        return len(new)

    def setKeepTTL(self, key: bytes, value: bytes):
        """
        Set C{key} to the string C{value}, keeping its expiry (a computed
        result: C{INCRBYFLOAT}).
        """
        self._put(key, value)
        self._emit(b"SETKEEPTTL", key, value)

    def setRange(self, key: bytes, offset: int, value: bytes) -> int:
        """
        Overwrite the string in C{key} from C{offset} with C{value},
        padding it with zero bytes to reach there (a missing key is an
        empty string); return the new length.  Nothing is written for an
        empty C{value}.
        """
        current = self._string(key)
        if current is None:
            current = b""
        if not value:
            return len(current)
        end = offset + len(value)
        if offset > len(current):
            current += bytes(offset - len(current))
        new = current[:offset] + value + current[end:]
        self._put(key, new)
        self._emit(b"SETRANGE", key, b"%d" % (offset,), value)
        return len(new)

    def setBit(self, key: bytes, offset: int, bit: int) -> int:
        """
        Set or clear the bit at C{offset} (the most significant bit of the
        first byte is 0) of the string in C{key}, growing it with zero
        bytes as needed; return the bit's old value.
        """
        current = self._string(key)
        if current is None:
            current = b""
        index = offset >> 3
        mask = 0x80 >> (offset & 7)
        if index >= len(current):
            new = bytearray(current)
            new.extend(bytes(index + 1 - len(current)))
            old = 0
        else:
            old = 1 if current[index] & mask else 0
            if old == bit:
                # Unchanged (Redis still counts it a write).
                self._emit(b"SETBIT", key, b"%d" % (offset,), b"%d" % (bit,))
                return old
            new = bytearray(current)
        if bit:
            new[index] |= mask
        else:
            new[index] &= ~mask & 0xFF
        self._put(key, bytes(new))
        self._emit(b"SETBIT", key, b"%d" % (offset,), b"%d" % (bit,))
        return old
