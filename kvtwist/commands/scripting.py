# -*- test-case-name: kvtwist.test.test_scripting -*-
"""
Scripting (Redis's C{scripting} group): C{EVAL}, C{EVALSHA}, C{EVAL_RO},
C{EVALSHA_RO}, C{SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP}.

A script runs as one, like C{EXEC}: each handler returns an
L{kvtwist.commands.atomic.Atomic} that the backend runs with its scripts
(L{kvtwist.scripting.engine.Scripts}); C{redis.call} goes through the
same command table.  Where the Lua runtime (C{lupa}) is not installed,
every one of these answers L{kvtwist.scripting.MISSING}, which says how
to install it.
"""

from kvtwist.commands.atomic import Atomic
from kvtwist.commands.registry import group, intArg
from kvtwist.replies import OK, Error, Status
from kvtwist.scripting import missingReason

command = group("scripting")

_EVAL_FLAGS = "noscript stale skip_monitor no_mandatory_keys movablekeys"
#: EVAL's keys: C{numkeys} keys after the script (Redis's movable keys;
#: the table's positions can't say it: C{(0, 0, 0)}, as Redis's C{COMMAND
#: INFO}).
_NO_FIXED_KEYS = (0, 0, 0)


def _split(args):
    """
    C{(keys, argv)} of an C{EVAL}-like call, or the error Redis gives.
    """
    count = intArg(args[1])
    if count < 0:
        return Error("ERR Number of keys can't be negative")
    if count > len(args) - 2:
        return Error("ERR Number of keys can't be greater than number of "
                     "args")
    return args[2:2 + count], args[2 + count:]


def _eval(ctx, args, bySha: bool, readOnly: bool):
    missing = missingReason()
    if missing is not None:
        return missing
    split = _split(args)
    if split.__class__ is Error:
        return split
    keys, argv = split
    script = args[0]

    def work(run):
        scripts = run.scripts
        if bySha:
            return scripts.evalsha(run, ctx, script, keys, argv, readOnly)
        return scripts.eval(run, ctx, script, keys, argv, readOnly)
    return Atomic(work)


@command("EVAL", -3, _EVAL_FLAGS,
         "Run a Lua script (its keys: the numkeys arguments after numkeys).",
         _NO_FIXED_KEYS,
         syntax="EVAL script numkeys [key [key ...]] [arg [arg ...]]")
def eval_(ctx, args):
    return _eval(ctx, args, bySha=False, readOnly=False)


@command("EVALSHA", -3, _EVAL_FLAGS,
         "Run a Lua script kept by the server, by its SHA1 (keys as "
         "EVAL's).", _NO_FIXED_KEYS,
         syntax="EVALSHA sha1 numkeys [key [key ...]] [arg [arg ...]]")
def evalsha(ctx, args):
    return _eval(ctx, args, bySha=True, readOnly=False)


@command("EVAL_RO", -3, "readonly " + _EVAL_FLAGS,
         "Run a Lua script that may not write (keys as EVAL's).",
         _NO_FIXED_KEYS,
         syntax="EVAL_RO script numkeys [key [key ...]] [arg [arg ...]]")
def evalRo(ctx, args):
    return _eval(ctx, args, bySha=False, readOnly=True)


@command("EVALSHA_RO", -3, "readonly " + _EVAL_FLAGS,
         "Run a Lua script kept by the server, by its SHA1, that may not "
         "write (keys as EVAL's).", _NO_FIXED_KEYS,
         syntax="EVALSHA_RO sha1 numkeys [key [key ...]] [arg [arg ...]]")
def evalshaRo(ctx, args):
    return _eval(ctx, args, bySha=True, readOnly=True)


_HELP = [
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the "
    "script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script (kvtwist runs a script to "
    "its end, or to lua-time-limit, before anything else: there is never "
    "one to kill).",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
]

#: SCRIPT's subcommands: name -> (arity as Redis counts it, with SCRIPT).
_SUBCOMMANDS = {b"LOAD": 3, b"EXISTS": -3, b"FLUSH": -2, b"KILL": 2,
                b"HELP": 2, b"DEBUG": 3}


@command("SCRIPT", -2, "", "Manage the scripts the server keeps.",
         (0, 0, 0), syntax="SCRIPT LOAD script | EXISTS sha1 [sha1 ...] | "
         "FLUSH [ASYNC | SYNC] | KILL | HELP",
         subcommands={"LOAD": (3, "noscript stale"),
                      "EXISTS": (-3, "noscript"), "FLUSH": (-2, "noscript"),
                      "KILL": (2, "noscript allow_busy"),
                      "DEBUG": (3, "noscript"), "HELP": (2, "loading stale")})
def script(ctx, args):
    sub = args[0].upper()
    arity = _SUBCOMMANDS.get(sub)
    if arity is None:
        return Error("ERR unknown subcommand '%s'. Try SCRIPT HELP."
                     % (args[0].decode("utf-8", "replace"),))
    n = len(args) + 1
    if (n != arity) if arity > 0 else (n < -arity):
        return Error("ERR wrong number of arguments for 'script|%s' command"
                     % (sub.decode().lower(),))
    if sub == b"HELP":
        return [Status(line) for line in _HELP]
    if sub == b"FLUSH" and len(args) > 1 and (
            len(args) > 2 or args[1].upper() not in (b"ASYNC", b"SYNC")):
        return Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    if sub == b"KILL":
        return Error("NOTBUSY No scripts in execution right now.")
    if sub == b"DEBUG":
        return Error("ERR SCRIPT DEBUG is not supported by kvtwist")
    missing = missingReason()
    if missing is not None:
        if sub == b"EXISTS":
            return [0] * (len(args) - 1)
        if sub == b"FLUSH":
            return OK
        return missing

    def work(run):
        scripts = run.scripts
        if sub == b"LOAD":
            return scripts.load(args[1])
        if sub == b"EXISTS":
            return [int(scripts.exists(sha)) for sha in args[1:]]
        scripts.flush()
        return OK
    return Atomic(work)
