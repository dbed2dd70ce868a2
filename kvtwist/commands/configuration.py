# -*- test-case-name: kvtwist.test.test_configuration -*-
"""
C{CONFIG}: the server's settings as Redis names them.

C{CONFIG GET} shows every setting kvtwist has with Redis's name where one
exists (L{kvtwist.factory.Config.view}), and a few that Redis tools ask for
and whose answer is fixed here (no memory limit, no eviction).  C{CONFIG
SET} changes the ones that can change while the server runs
(L{SETTABLE}); the others are the command-line options of C{twistd
kvstore}, and setting them answers Redis's error for an immutable
setting, naming the option.  C{CONFIG RESETSTAT} zeroes the statistics.
"""

from typing import Callable, Dict

from kvtwist.commands.registry import group
from kvtwist.glob import Glob
from kvtwist.replies import OK, Error, Status
from kvtwist.stats import backendFiguresOf

command = group("server")


#: Settings whose value is fixed in kvtwist: Redis's name -> the value.
FIXED = {
    "maxmemory": "0",
    "maxmemory-policy": "noeviction",
    "hz": "10",
    "notify-keyspace-events": "",
    "cluster-enabled": "no",
    "replica-read-only": "yes",
    "slave-read-only": "yes",
}

#: Why a fixed setting can't be set to another value.
_FIXED_WHY = {
    "maxmemory": "kvtwist has no memory limit",
    "maxmemory-policy": "kvtwist never evicts keys",
    "hz": "kvtwist's timers are its own",
    "notify-keyspace-events": "kvtwist has no keyspace notifications",
    "cluster-enabled": "kvtwist is not a Redis Cluster node",
    "replica-read-only": "kvtwist has no replicas",
    "slave-read-only": "kvtwist has no replicas",
}

#: The command-line option of each setting that only an option sets.
OPTIONS = {
    "port": "--port", "bind": "--port", "dir": "--data-dir",
    "protected-mode": "--no-protected-mode",
    "proto-max-bulk-len": "--max-bulk",
    "client-output-buffer-limit": "--max-output-buffer",
    "appendonly": "(always on)", "appendfsync": "--fsync",
    "flush-interval": "--flush-interval", "save": "(none: see SAVE)",
    "databases": "--databases", "unterminated-ms": "--unterminated-ms",
}


def _integer(low: int) -> Callable[[bytes], object]:
    """
    A parser of integers from C{low} up, as Redis's numeric settings.
    """
    def parse(value: bytes):
        try:
            number = int(value)
        except ValueError:
            return Error("argument couldn't be parsed into an integer")
        if number < low:
            return Error("argument must be between %d and %d inclusive"
                         % (low, 2 ** 63 - 1))
        return number
    return parse


def _password(value: bytes):
    return value or None


def _setMaxClients(config, value):
    config.maxClients = value


def _setTimeout(config, value):
    config.timeout = value


def _setPassword(config, value):
    config.password = value


#: The settings C{CONFIG SET} changes: name -> (parse, apply).  C{parse}
#: returns the value or an L{Error} saying why not; C{apply(config,
#: value)} changes the L{kvtwist.factory.Config}, read from then on:
#: C{maxclients} by the next connection, C{timeout} by the reaper's next
#: round, C{requirepass} by the next connection and C{AUTH} (the clients
#: already authenticated stay so, as with Redis).
SETTABLE: Dict[str, tuple] = {
    "maxclients": (_integer(1), _setMaxClients),
    "timeout": (_integer(0), _setTimeout),
    "requirepass": (_password, _setPassword),
}


def view(factory) -> Dict[str, str]:
    """
    Every setting C{CONFIG GET} shows, by Redis's name, as text.
    """
    out = {}
    if factory is not None:
        for name, value in factory.config.view().items():
            out[name] = str(value)
    out.update(FIXED)
    return out


def _configGet(ctx, patterns):
    settings = view(ctx.factory)
    out = {}
    for pattern in patterns:
        glob = Glob(pattern, nocase=True)
        for name, value in settings.items():
            if glob.match(name.encode()):
                out[name.encode()] = value.encode()
    return out


def _failed(name: str, why: str) -> Error:
    return Error("ERR CONFIG SET failed (possibly related to argument "
                 "'%s') - %s" % (name, why))


def _configSet(ctx, args) -> Error:
    if not args or len(args) % 2:
        return Error("ERR wrong number of arguments for 'config|set' "
                     "command")
    config = ctx.factory.config if ctx.factory is not None else None
    current = view(ctx.factory)
    changes = []
    seen = set()
    for i in range(0, len(args), 2):
        name = args[i].decode("utf-8", "replace").lower()
        value = args[i + 1]
        if name in seen:
            return _failed(name, "duplicate parameter")
        seen.add(name)
        if name in SETTABLE and config is not None:
            parse, apply = SETTABLE[name]
            parsed = parse(value)
            if isinstance(parsed, Error):
                return _failed(name, parsed)
            changes.append((apply, parsed))
        elif name in current:
            if value.decode("utf-8", "replace") == current[name]:
                # Set to what it is: nothing to change.
                continue
            why = _FIXED_WHY.get(name)
            if why is None:
                why = "can't set immutable config (kvtwist: %s)" % (
                    "the command-line option %s" % (OPTIONS[name],)
                    if name in OPTIONS else "fixed",)
            else:
                why = "can't set immutable config (%s)" % (why,)
            return _failed(name, why)
        else:
            return Error("ERR Unknown option or number of arguments for "
                         "CONFIG SET - '%s'" % (name,))
    # Every value was good: apply them all (as Redis, all or none).
    for apply, value in changes:
        apply(config, value)
    return OK


def resetStats(factory) -> None:
    """
    C{CONFIG RESETSTAT}: zero the server's statistics
    (L{kvtwist.stats.Stats.reset}), the backend's keyspace counters among
    them.
    """
    keyspace = backendFiguresOf(factory.backend).keyspace
    factory.stats.reset(factory.now(), keyspace)


#: C{CONFIG HELP}'s lines.
_HELP = [
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their "
    "values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value> (kvtwist: %s; the "
    "others are command-line options)." % (", ".join(sorted(SETTABLE)),),
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Not supported: kvtwist has no configuration file.",
    "HELP",
    "    Print this help.",
]


#: Redis's flags of CONFIG's subcommands (CONFIG itself has none).
_ADMIN = "admin noscript loading stale"


@command("CONFIG", -2, "",
         "The server's settings: GET them, SET those that can change while "
         "it runs (maxclients, timeout, requirepass), RESETSTAT.", (0, 0, 0),
         syntax="CONFIG GET parameter [parameter ...] | "
         "SET parameter value [parameter value ...] | RESETSTAT | HELP",
         subcommands={"GET": (-3, _ADMIN), "SET": (-4, _ADMIN),
                      "RESETSTAT": (2, _ADMIN), "REWRITE": (2, _ADMIN),
                      "HELP": (2, "loading stale")})
def config(ctx, args):
    sub = args[0].upper()
    rest = args[1:]
    if sub == b"GET" and rest:
        return _configGet(ctx, rest)
    if sub == b"SET":
        return _configSet(ctx, rest)
    if sub == b"RESETSTAT" and not rest:
        if ctx.factory is not None:
            resetStats(ctx.factory)
        return OK
    if sub == b"REWRITE" and not rest:
        return Error("ERR The server is running without a config file")
    if sub == b"HELP" and not rest:
        return [Status(line) for line in _HELP]
    return Error("ERR unknown subcommand or wrong number of arguments for "
                 "'%s'. Try CONFIG HELP."
                 % (args[0].decode("utf-8", "replace"),))

