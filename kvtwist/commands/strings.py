# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Commands on string values (Redis's C{string} group).
"""

from kvtwist.commands.expiry import invalidExpire, setExpiry
from kvtwist.commands.registry import group, intArg
from kvtwist.replies import OK, SYNTAX, Error

command = group("string")


@command("GET", 2, "readonly fast", "The value of a key.", syntax="GET key")
def get(ctx, args):
    return ctx.store.get(args[0])


#: SET's expiry options: C{(unit, relative)}.
_EXPIRE_OPTIONS = {b"EX": (1000, True), b"PX": (1, True),
                   b"EXAT": (1000, False), b"PXAT": (1, False)}


@command("SET", -3, "write denyoom", "Set the string value of a key.",
         syntax="SET key value [NX | XX] [GET] [EX seconds | PX milliseconds"
         " | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]")
def set_(ctx, args):
    store = ctx.store
    key, value = args[0], args[1]
    if len(args) == 2:
        store.set(key, value)
        return OK
    nx = xx = getOld = keepTTL = False
    expireAt = None
    i = 2
    n = len(args)
    while i < n:
        opt = args[i].upper()
        if opt == b"NX" and not xx:
            nx = True
        elif opt == b"XX" and not nx:
            xx = True
        elif opt == b"GET":
            getOld = True
        elif opt == b"KEEPTTL" and expireAt is None:
            keepTTL = True
        elif opt in _EXPIRE_OPTIONS and expireAt is None and not keepTTL:
            if i + 1 >= n:
                return SYNTAX
            unit, relative = _EXPIRE_OPTIONS[opt]
            expireAt = setExpiry(int(store.now()), intArg(args[i + 1]),
                                 unit, relative)
            if expireAt is None:
                return invalidExpire("set")
            i += 1
        else:
            return SYNTAX
        i += 1
    old = store.get(key) if getOld else None
    if nx or xx:
        present = store.exists(key)
        if (nx and present) or (xx and not present):
            return old if getOld else None
    store.set(key, value, expireAt, keepTTL)
    return old if getOld else OK


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
    store = ctx.store
    expireAt = setExpiry(int(store.now()), intArg(args[1]), 1000, True)
    if expireAt is None:
        return invalidExpire("setex")
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


@command("APPEND", 3, "write denyoom fast",
         "Append to the string in a key; its new length.",
         syntax="APPEND key value")
def append(ctx, args):
    return ctx.store.append(args[0], args[1])


@command("STRLEN", 2, "readonly fast", "The length of the string in a key.",
         syntax="STRLEN key")
def strlen(ctx, args):
    value = ctx.store.get(args[0])
    return 0 if value is None else len(value)
