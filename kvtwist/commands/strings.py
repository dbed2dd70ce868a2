# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Commands on string values (Redis's C{string} and C{bitmap} groups).
"""

from kvtwist import lcs as _lcs
from kvtwist.commands.expiry import invalidExpire, setExpiry
from kvtwist.commands.registry import Offload, group, intArg
from kvtwist.dialects.resp import DEFAULT_MAX_BULK
from kvtwist.replies import NOT_FLOAT, OK, SYNTAX, Error
from kvtwist.store import WrongType, longdouble
from kvtwist.store.strings import bitCount

command = group("string")
bitmap = group("bitmap")


@command("GET", 2, "readonly fast", "The value of a key.", syntax="GET key")
def get(ctx, args):
    return ctx.store.get(args[0])


#: The expiry options of SET and GETEX: C{(unit, relative)}.
_EXPIRE_OPTIONS = {b"EX": (1000, True), b"PX": (1, True),
                   b"EXAT": (1000, False), b"PXAT": (1, False)}


class _Options:
    """
    The options of C{SET} or C{GETEX}, parsed as Redis parses them: each
    may be given again (the last expiry wins), but not beside one it
    excludes.

    @ivar error: L{SYNTAX} if they don't parse, else L{None}.
    @ivar expire: the expiry option given (C{b"EX"}...) or L{None}.
    @ivar amount: its argument.
    """

    nx = xx = get = keepTTL = persist = False
    expire = amount = error = None

    def __init__(self, args, start: int, forSet: bool):
        i = start
        n = len(args)
        while i < n:
            opt = args[i].upper()
            if forSet and opt == b"NX" and not self.xx:
                self.nx = True
            elif forSet and opt == b"XX" and not self.nx:
                self.xx = True
            elif forSet and opt == b"GET":
                self.get = True
            elif forSet and opt == b"KEEPTTL" and self.expire is None:
                self.keepTTL = True
            elif not forSet and opt == b"PERSIST" and self.expire is None:
                self.persist = True
            elif (opt in _EXPIRE_OPTIONS and i + 1 < n and
                  self.expire in (None, opt) and not self.keepTTL and
                  not self.persist):
                self.expire = opt
                i += 1
                self.amount = args[i]
            else:
                self.error = SYNTAX
                return
            i += 1

    def expireAt(self, store, name: str):
        """
        The absolute expiry time the options give, in milliseconds, or
        L{None} if they give none.

        @return: that, or the L{Error} Redis answers for a time out of
            range.
        @raise kvtwist.store.NotAnInteger: if the amount isn't an integer.
        """
        if self.expire is None:
            return None
        unit, relative = _EXPIRE_OPTIONS[self.expire]
        when = setExpiry(int(store.now()), intArg(self.amount), unit,
                         relative)
        return invalidExpire(name) if when is None else when


@command("SET", -3, "write denyoom", "Set the string value of a key.",
         syntax="SET key value [NX | XX] [GET] [EX seconds | PX milliseconds"
         " | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]")
def set_(ctx, args):
    store = ctx.store
    key, value = args[0], args[1]
    if len(args) == 2:
        store.set(key, value)
        return OK
    options = _Options(args, 2, True)
    if options.error is not None:
        return options.error
    expireAt = options.expireAt(store, "set")
    if type(expireAt) is Error:
        return expireAt
    old = store.get(key) if options.get else None
    if options.nx or options.xx:
        present = store.exists(key)
        if (options.nx and present) or (options.xx and not present):
            return old if options.get else None
    store.set(key, value, expireAt, options.keepTTL)
    return old if options.get else OK


@command("GETEX", -2, "write fast",
         "The value of a key, setting or removing its expiry.",
         syntax="GETEX key [EX seconds | PX milliseconds | "
         "EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]")
def getex(ctx, args):
    options = _Options(args, 1, False)
    if options.error is not None:
        return options.error
    store = ctx.store
    key = args[0]
    value = store.get(key)
    if value is None:
        return None
    expireAt = options.expireAt(store, "getex")
    if type(expireAt) is Error:
        return expireAt
    if expireAt is not None:
        store.expireAt(key, expireAt)
    elif options.persist:
        store.persist(key)
    return value


@command("SETNX", 3, "write denyoom fast",
         "Set the value of a key only if it does not exist.",
         syntax="SETNX key value")
def setnx(ctx, args):
    store = ctx.store
    if store.exists(args[0]):
        return 0
    store.set(args[0], args[1])
    return 1


@command("SETEX", 4, "write denyoom",
         "Set the value and the time to live (seconds) of a key.",
         syntax="SETEX key seconds value")
def setex(ctx, args):
    return _setex(ctx, args, 1000, "setex")


@command("PSETEX", 4, "write denyoom",
         "Set the value and the time to live (milliseconds) of a key.",
         syntax="PSETEX key milliseconds value")
def psetex(ctx, args):
    return _setex(ctx, args, 1, "psetex")


def _setex(ctx, args, unit: int, name: str):
    store = ctx.store
    expireAt = setExpiry(int(store.now()), intArg(args[1]), unit, True)
    if expireAt is None:
        return invalidExpire(name)
    store.set(args[0], args[2], expireAt)
    return OK


@command("GETSET", 3, "write denyoom fast",
         "Set the value of a key and return its old value.",
         syntax="GETSET key value")
def getset(ctx, args):
    store = ctx.store
    old = store.get(args[0])
    store.set(args[0], args[1])
    return old


@command("GETDEL", 2, "write fast", "Return the value of a key and delete it.",
         syntax="GETDEL key")
def getdel(ctx, args):
    store = ctx.store
    old = store.get(args[0])
    if old is not None:
        store.delete(args[0])
    return old


@command("MGET", -2, "readonly fast", "The values of several keys.",
         (1, -1, 1), syntax="MGET key [key ...]")
def mget(ctx, args):
    get = ctx.store.get
    out = []
    for key in args:
        try:
            out.append(get(key))
        except Exception:
            out.append(None)
    return out


@command("MSET", -3, "write denyoom", "Set several keys.", (1, -1, 2),
         syntax="MSET key value [key value ...]")
def mset(ctx, args):
    if len(args) % 2:
        return Error("ERR wrong number of arguments for 'mset' command")
    store = ctx.store
    for i in range(0, len(args), 2):
        store.set(args[i], args[i + 1])
    return OK


@command("MSETNX", -3, "write denyoom",
         "Set several keys only if none of them exists.", (1, -1, 2),
         syntax="MSETNX key value [key value ...]")
def msetnx(ctx, args):
    if len(args) % 2:
        return Error("ERR wrong number of arguments for 'msetnx' command")
    store = ctx.store
    if any(store.exists(args[i]) for i in range(0, len(args), 2)):
        return 0
    for i in range(0, len(args), 2):
        store.set(args[i], args[i + 1])
    return 1


@command("INCR", 2, "write denyoom fast", "Add 1 to the integer in a key.",
         syntax="INCR key")
def incr(ctx, args):
    return ctx.store.incrBy(args[0], 1)


@command("DECR", 2, "write denyoom fast",
         "Subtract 1 from the integer in a key.", syntax="DECR key")
def decr(ctx, args):
    return ctx.store.incrBy(args[0], -1)


@command("INCRBY", 3, "write denyoom fast",
         "Add a number to the integer in a key.",
         syntax="INCRBY key increment")
def incrby(ctx, args):
    return ctx.store.incrBy(args[0], intArg(args[1]))


@command("DECRBY", 3, "write denyoom fast",
         "Subtract a number from the integer in a key.",
         syntax="DECRBY key decrement")
def decrby(ctx, args):
    delta = intArg(args[1])
    if delta == -(2 ** 63):
        return Error("ERR decrement would overflow")
    return ctx.store.incrBy(args[0], -delta)


@command("INCRBYFLOAT", 3, "write denyoom fast",
         "Add a floating-point number to the number in a key.",
         syntax="INCRBYFLOAT key increment")
def incrbyfloat(ctx, args):
    store = ctx.store
    current = store.get(args[0])
    value = longdouble.parse(current) if current is not None else 0
    increment = longdouble.parse(args[1])
    if value is None or increment is None:
        return NOT_FLOAT
    try:
        result = longdouble.format(longdouble.add(value, increment))
    except longdouble.Infinite:
        return Error("ERR increment would produce NaN or Infinity")
    store.setKeepTTL(args[0], result)
    return result


def maxLength(ctx) -> int:
    """
    The longest string a command may build: the server's
    C{proto-max-bulk-len} (C{--max-bulk}), 512 MB as Redis's by default.
    """
    factory = ctx.factory
    return factory.config.maxBulk if factory is not None else DEFAULT_MAX_BULK


#: Redis's error for a string that would grow past C{proto-max-bulk-len}.
TOO_LONG = Error("ERR string exceeds maximum allowed size "
                 "(proto-max-bulk-len)")


@command("APPEND", 3, "write denyoom fast",
         "Append to the string in a key; its new length.",
         syntax="APPEND key value")
def append(ctx, args):
    store = ctx.store
    current = store.get(args[0])
    if current is not None and len(current) + len(args[1]) > \
            maxLength(ctx):
        return TOO_LONG
    return store.append(args[0], args[1])


@command("GETRANGE", 4, "readonly",
         "A substring of the string in a key, both ends included.",
         syntax="GETRANGE key start end")
def getrange(ctx, args):
    start, end = intArg(args[1]), intArg(args[2])
    value = ctx.store.get(args[0])
    if value is None:
        return b""
    n = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(0, n + start)
    if end < 0:
        end = max(0, n + end)
    end = min(end, n - 1)
    if start > end or n == 0:
        return b""
    return value[start:end + 1]


@command("SETRANGE", 4, "write denyoom",
         "Overwrite part of the string in a key from an offset; its new "
         "length.", syntax="SETRANGE key offset value")
def setrange(ctx, args):
    offset = intArg(args[1])
    if offset < 0:
        return Error("ERR offset is out of range")
    store = ctx.store
    value = args[2]
    current = store.get(args[0])
    if not value:
        return 0 if current is None else len(current)
    if offset + len(value) > maxLength(ctx):
        return TOO_LONG
    return store.setRange(args[0], offset, value)


@command("STRLEN", 2, "readonly fast", "The length of the string in a key.",
         syntax="STRLEN key")
def strlen(ctx, args):
    value = ctx.store.get(args[0])
    return 0 if value is None else len(value)


_BIT_OFFSET = Error("ERR bit offset is not an integer or out of range")


def _bitOffset(ctx, arg: bytes):
    """
    A bit offset as Redis checks one: an integer from 0 to the bits of
    the longest string (C{proto-max-bulk-len}), or L{None}.
    """
    try:
        offset = intArg(arg)
    except Exception:
        return None
    if offset < 0 or (offset >> 3) >= maxLength(ctx):
        return None
    return offset


@bitmap("SETBIT", 4, "write denyoom",
        "Set or clear one bit of the string in a key; the bit's old value.",
        syntax="SETBIT key offset value")
def setbit(ctx, args):
    offset = _bitOffset(ctx, args[1])
    if offset is None:
        return _BIT_OFFSET
    if args[2] not in (b"0", b"1"):
        return Error("ERR bit is not an integer or out of range")
    return ctx.store.setBit(args[0], offset, int(args[2]))


@bitmap("GETBIT", 3, "readonly fast",
        "One bit of the string in a key.", syntax="GETBIT key offset")
def getbit(ctx, args):
    offset = _bitOffset(ctx, args[1])
    if offset is None:
        return _BIT_OFFSET
    value = ctx.store.get(args[0])
    index = offset >> 3
    if value is None or index >= len(value):
        return 0
    return 1 if value[index] & (0x80 >> (offset & 7)) else 0


@bitmap("BITCOUNT", -2, "readonly",
        "The number of set bits in a string, or in a range of it.",
        syntax="BITCOUNT key [start end [BYTE | BIT]]")
def bitcount(ctx, args):
    n = len(args)
    if n == 1:
        value = ctx.store.get(args[0])
        return 0 if value is None else bitCount(value)
    if n not in (3, 4):
        return SYNTAX
    start, end = intArg(args[1]), intArg(args[2])
    bits = False
    if n == 4:
        unit = args[3].upper()
        if unit not in (b"BIT", b"BYTE"):
            return SYNTAX
        bits = unit == b"BIT"
    value = ctx.store.get(args[0])
    if value is None:
        return 0
    if start < 0 and end < 0 and start > end:
        return 0
    total = len(value) * 8 if bits else len(value)
    if start < 0:
        start = max(0, total + start)
    if end < 0:
        end = max(0, total + end)
    end = min(end, total - 1)
    if start > end:
        return 0
    if not bits:
        return bitCount(memoryview(value)[start:end + 1])
    first, last = start >> 3, end >> 3
    count = bitCount(memoryview(value)[first:last + 1])
    # Take off the bits of the first and last bytes outside the range.
    count -= bitCount(bytes([value[first] & ~(0xFF >> (start & 7)) & 0xFF,
                             value[last] & (0xFF >> ((end & 7) + 1))]))
    return count


#: Above this many cells of Redis's table (C{len(a) * len(b)}), C{LCS}'s
#: subsequence and ranges are found off the reactor thread.
LCS_OFFLOAD_CELLS = 4 * 1000 * 1000


@command("LCS", -3, "readonly",
         "The longest common subsequence of two strings, its length or "
         "its matching ranges.",
         (1, 2, 1), syntax="LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] "
         "[WITHMATCHLEN]")
def lcs(ctx, args):
    store = ctx.store
    try:
        a, b = store.get(args[0]), store.get(args[1])
    except WrongType:
        return Error("ERR The specified keys must contain string values")
    a, b = a or b"", b or b""
    length = idx = withLength = False
    minimum = 0
    i = 2
    while i < len(args):
        opt = args[i].upper()
        if opt == b"IDX":
            idx = True
        elif opt == b"LEN":
            length = True
        elif opt == b"WITHMATCHLEN":
            withLength = True
        elif opt == b"MINMATCHLEN" and i + 1 < len(args):
            i += 1
            minimum = max(0, intArg(args[i]))
        else:
            return SYNTAX
        i += 1
    if length and idx:
        return Error("ERR If you want both the length and indexes, please "
                     "just use IDX.")
    if length:
        return _lcs.lcsLength(a, b)

    def work():
        sequence, matches = _lcs.lcs(a, b)
        if not idx:
            return sequence
        found = []
        for m in matches:
            if m.length >= minimum:
                found.append([[m.aStart, m.aEnd], [m.bStart, m.bEnd]] +
                             ([m.length] if withLength else []))
        return {b"matches": found, b"len": len(sequence)}
    if len(a) * len(b) > LCS_OFFLOAD_CELLS:
        return Offload(len(a) * len(b) // 100, work)
    return work()
