# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Commands on keys of any type (Redis's C{generic} group): DEL, EXISTS,
KEYS, SCAN, TYPE, RENAME, expiry; and kvtwist's PRINT.
"""

from kvtwist.commands.databases import databaseOf
from kvtwist.commands.expiry import expireTime, invalidExpire
from kvtwist.commands.registry import Offload, group, intArg
from kvtwist.replies import OK, SYNTAX, Error, Status

command = group("generic")

SAME_OBJECT = Error("ERR source and destination objects are the same")


@command("DEL", -2, "write", "Delete keys; how many existed.", (1, -1, 1),
         syntax="DEL key [key ...]")
def del_(ctx, args):
    delete = ctx.store.delete
    removed = 0
    for key in args:
        if delete(key):
            removed += 1
    return removed


@command("UNLINK", -2, "write fast", "Delete keys; how many existed.",
         (1, -1, 1), syntax="UNLINK key [key ...]")
def unlink(ctx, args):
    return del_(ctx, args)


@command("EXISTS", -2, "readonly fast", "How many of the keys exist.",
         (1, -1, 1), syntax="EXISTS key [key ...]")
def exists(ctx, args):
    exists = ctx.store.exists
    return sum(1 for key in args if exists(key))


@command("KEYS", 2, "readonly", "Every key matching a pattern; O(store).",
         (0, 0, 0), syntax="KEYS pattern", heavy=True)
def keys(ctx, args):
    store = ctx.store
    return Offload(store.size(), store.keysTask(args[0]))


@command("SCAN", -2, "readonly", "Iterate over the keys incrementally.",
         (0, 0, 0), syntax="SCAN cursor [MATCH pattern] [COUNT count] "
         "[TYPE type]")
def scan(ctx, args):
    try:
        cursor = int(args[0])
    except ValueError:
        return Error("ERR invalid cursor")
    if cursor < 0:
        return Error("ERR invalid cursor")
    pattern = b"*"
    count = 10
    typeName = None
    rest = args[1:]
    while rest:
        opt = rest[0].upper()
        if len(rest) < 2:
            return SYNTAX
        if opt == b"MATCH":
            pattern = rest[1]
        elif opt == b"COUNT":
            count = intArg(rest[1])
            if count < 1:
                return SYNTAX
        elif opt == b"TYPE":
            typeName = rest[1].decode("utf-8", "replace").lower()
        else:
            return SYNTAX
        rest = rest[2:]
    if typeName is None:
        following, found = ctx.store.scan(cursor, pattern, count)
    else:
        following, found = ctx.store.scan(cursor, pattern, count, typeName)
    return [b"%d" % following, found]


@command("TYPE", 2, "readonly fast", "The type of the value in a key.",
         syntax="TYPE key")
def type_(ctx, args):
    return Status(ctx.store.typeOf(args[0]))


@command("RENAME", 3, "write", "Rename a key.", (1, 2, 1),
         syntax="RENAME key newkey")
def rename(ctx, args):
    ctx.store.rename(args[0], args[1])
    return OK


@command("MOVE", 3, "write fast",
         "Move a key to another database, unless it exists there.",
         syntax="MOVE key db")
def move(ctx, args):
    target = databaseOf(ctx, args[1])
    if type(target) is Error:
        return target
    if target is ctx.store:
        return SAME_OBJECT
    return int(ctx.store.moveTo(args[0], target))


@command("RENAMENX", 3, "write fast",
         "Rename a key, only if the new name doesn't exist.", (1, 2, 1),
         syntax="RENAMENX key newkey")
def renamenx(ctx, args):
    return int(ctx.store.rename(args[0], args[1], onlyNew=True))


@command("COPY", -3, "write denyoom",
         "Copy a key's value and expiry to another key, maybe in another "
         "database.", (1, 2, 1),
         syntax="COPY source destination [DB destination-db] [REPLACE]")
def copy(ctx, args):
    target = ctx.store
    replace = False
    i = 2
    while i < len(args):
        opt = args[i].upper()
        if opt == b"REPLACE":
            replace = True
        elif opt == b"DB" and i + 1 < len(args):
            i += 1
            target = databaseOf(ctx, args[i])
            if type(target) is Error:
                return target
        else:
            return SYNTAX
        i += 1
    if target is ctx.store and args[0] == args[1]:
        return SAME_OBJECT
    return int(ctx.store.copyTo(args[0], target, args[1], replace))


@command("TOUCH", -2, "readonly fast",
         "How many of the keys exist (kvtwist keeps no access times to "
         "update).", (1, -1, 1), syntax="TOUCH key [key ...]")
def touch(ctx, args):
    return exists(ctx, args)


@command("RANDOMKEY", 1, "readonly", "A key picked at random.", (0, 0, 0),
         syntax="RANDOMKEY")
def randomkey(ctx, args):
    return ctx.store.randomKey()


#: EXPIRE's conditions: NX, XX, GT, LT.
_CONDITIONS = (b"NX", b"XX", b"GT", b"LT")


def _expire(ctx, args, name: str, unit: int, relative: bool):
    """
    EXPIRE and its siblings: set C{args[0]}'s expiry to C{args[1]}
    seconds or milliseconds (C{unit} 1000 or 1) from now (C{relative}) or
    from the epoch, if the conditions (C{NX}: it has none, C{XX}: it has
    one, C{GT}/C{LT}: the new one is later/earlier, no expiry counting
    as infinitely late) hold; a time in the past deletes the key; an
    expiry time that doesn't fit in milliseconds is refused and changes
    nothing.  Checked in Redis's order: options, then the time, then the
    key.
    """
    given = set()
    for word in args[2:]:
        opt = word.upper()
        if opt not in _CONDITIONS:
            return Error("ERR Unsupported option %s"
                         % (word.decode("utf-8", "replace"),))
        given.add(opt)
    if b"NX" in given and len(given) > 1:
        return Error("ERR NX and XX, GT or LT options at the same time are "
                     "not compatible")
    if b"GT" in given and b"LT" in given:
        return Error("ERR GT and LT options at the same time are not "
                     "compatible")
    store = ctx.store
    when = expireTime(int(store.now()) if relative else 0, intArg(args[1]),
                      unit)
    if when is None:
        return invalidExpire(name)
    key = args[0]
    if given:
        if not store.exists(key):
            return 0
        current = store.expiresAt(key)
        if (b"NX" in given and current is not None) or \
                (b"XX" in given and current is None) or \
                (b"GT" in given and (current is None or when <= current)) or \
                (b"LT" in given and current is not None and
                 when >= current):
            return 0
    return int(store.expireAt(key, when))


@command("EXPIRE", -3, "write fast", "Expire a key in a number of seconds.",
         syntax="EXPIRE key seconds [NX | XX | GT | LT]")
def expire(ctx, args):
    return _expire(ctx, args, "expire", 1000, True)


@command("PEXPIRE", -3, "write fast",
         "Expire a key in a number of milliseconds.",
         syntax="PEXPIRE key milliseconds [NX | XX | GT | LT]")
def pexpire(ctx, args):
    return _expire(ctx, args, "pexpire", 1, True)


@command("EXPIREAT", -3, "write fast", "Expire a key at a Unix time.",
         syntax="EXPIREAT key unix-time-seconds [NX | XX | GT | LT]")
def expireat(ctx, args):
    return _expire(ctx, args, "expireat", 1000, False)


@command("PEXPIREAT", -3, "write fast",
         "Expire a key at a Unix time in milliseconds.",
         syntax="PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]")
def pexpireat(ctx, args):
    return _expire(ctx, args, "pexpireat", 1, False)


@command("TTL", 2, "readonly fast", "The seconds a key has left to live.",
         syntax="TTL key")
def ttl(ctx, args):
    ms = ctx.store.ttlMs(args[0])
    return ms if ms < 0 else (ms + 500) // 1000


@command("PTTL", 2, "readonly fast",
         "The milliseconds a key has left to live.", syntax="PTTL key")
def pttl(ctx, args):
    return ctx.store.ttlMs(args[0])


@command("EXPIRETIME", 2, "readonly fast",
         "The Unix time, in seconds, at which a key expires.",
         syntax="EXPIRETIME key")
def expiretime(ctx, args):
    when = _expiryOf(ctx.store, args[0])
    return when if when < 0 else (when + 500) // 1000


@command("PEXPIRETIME", 2, "readonly fast",
         "The Unix time, in milliseconds, at which a key expires.",
         syntax="PEXPIRETIME key")
def pexpiretime(ctx, args):
    return _expiryOf(ctx.store, args[0])


def _expiryOf(store, key: bytes) -> int:
    """
    C{key}'s absolute expiry time in milliseconds; -1 if it has none, -2
    if it is missing.
    """
    if not store.exists(key):
        return -2
    when = store.expiresAt(key)
    return -1 if when is None else when


@command("PERSIST", 2, "write fast", "Remove the expiry of a key.",
         syntax="PERSIST key")
def persist(ctx, args):
    return int(ctx.store.persist(args[0]))


@command("PRINT", 1, "readonly",
         "Every key and its value (lists as arrays); O(store) (kvtwist).",
         (0, 0, 0), syntax="PRINT", heavy=True)
def print_(ctx, args):
    store = ctx.store
    return Offload(store.size(), store.contentsTask())


_OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store "
    "the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned "
    "integer is",
    "    proportional to the logarithm of the recent access frequency of "
    "the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number "
    "of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the "
    "specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]

#: What Redis answers OBJECT FREQ with without an LFU eviction policy;
#: kvtwist has no eviction, so it always answers it.
_NO_LFU = Error(
    "ERR An LFU maxmemory policy is not selected, access frequency not "
    "tracked. Please note that when switching between policies at runtime "
    "LRU and LFU data will take some time to adjust.")

#: Redis shares the string objects of the integers 0 to 9999 (without an
#: eviction policy), and OBJECT REFCOUNT tells so.
_SHARED_REFCOUNT = 2147483647


@command("OBJECT", -2, "",
         "About a key's value: ENCODING, REFCOUNT, IDLETIME (always 0: "
         "kvtwist keeps no access times), FREQ, HELP.", (0, 0, 0),
         syntax="OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT key | "
         "OBJECT HELP",
         subcommands={"ENCODING": (3, "readonly", (2, 2, 1)),
                       "FREQ": (3, "readonly", (2, 2, 1)),
                       "IDLETIME": (3, "readonly", (2, 2, 1)),
                       "REFCOUNT": (3, "readonly", (2, 2, 1)),
                       "HELP": (2, "loading stale")})
def object_(ctx, args):
    sub = args[0].upper()
    if sub == b"HELP" and len(args) == 1:
        return [Status(line) for line in _OBJECT_HELP]
    if sub not in (b"ENCODING", b"FREQ", b"IDLETIME", b"REFCOUNT", b"HELP"):
        return Error("ERR unknown subcommand '%s'. Try OBJECT HELP."
                     % (args[0][:128].decode("utf-8", "replace"),))
    if len(args) != 2 or sub == b"HELP":
        return Error("ERR wrong number of arguments for 'object|%s' command"
                     % (sub.decode().lower(),))
    store = ctx.store
    value = store.valueOf(args[1])
    if value is None:
        return None
    if sub == b"ENCODING":
        return store.encodingOf(value).encode()
    if sub == b"FREQ":
        return _NO_LFU
    if sub == b"IDLETIME":
        return 0
    if type(value) is bytes and len(value) <= 4 and value.isdigit() and \
            store.encodingOf(value) == "int":
        return _SHARED_REFCOUNT
    return 1
