# -*- test-case-name: kvtwist.test.test_scripting -*-
"""
The Lua runtime of a server and its scripts (L{Scripts}).

One Lua 5.1 runtime per backend holds every script, compiled once and
kept by SHA1 of its body: those of C{SCRIPT LOAD} until C{SCRIPT FLUSH},
those C{EVAL} compiled among the last L{Scripts.EVAL_CACHE} (as Redis 7.4
evicts them), so that a client sending ever-new scripts doesn't fill the
memory.

A script runs on the reactor thread, start to end, like C{EXEC}: no other
client's command runs meanwhile.  A script that runs longer than
L{Scripts.timeLimit} (C{lua-time-limit}, 5 seconds as Redis) is stopped
with an error.  Redis instead lets it run on, answering other clients
C{BUSY} until C{SCRIPT KILL} (which can't stop a script that wrote) or
C{SHUTDOWN NOSAVE}; kvtwist can't answer anyone while a script runs, so
it stops it rather than stall the server for good.  A script stopped that
way after writing keeps the writes it made (they are journaled as one
group, so the files agree with memory), and its error says how many
write commands it ran.
"""

import hashlib
import time
from collections import OrderedDict
from typing import Callable, List, Optional

from twisted.logger import Logger

from kvtwist.commands.context import ClientState, Context
from kvtwist.commands.registry import lookup
from kvtwist.replies import Error
from kvtwist.scripting import convert
from kvtwist.scripting.prelude import COUNT, PRELUDE

#: Redis's shebang flags: all accepted, only C{no-writes} changes anything.
_FLAGS = frozenset([b"no-writes", b"allow-oom", b"allow-stale",
                    b"no-cluster", b"allow-cross-slot-keys"])

NOSCRIPT = Error("NOSCRIPT No matching script. Please use EVAL.")


def sha1hex(body: bytes) -> bytes:
    """
    The SHA1 of C{body} in lower-case hex, as scripts are named.
    """
    return hashlib.sha1(body).hexdigest().encode("ascii")


class ScriptError(Exception):
    """
    A script's body can't be used (a bad shebang, a compile error).

    @ivar reply: the error reply.
    """

    def __init__(self, reply: Error):
        Exception.__init__(self, reply)
        self.reply = reply


class _Script:
    """
    A compiled script.

    @ivar function: the Lua function.
    @ivar readOnly: whether its shebang says C{no-writes}.
    """

    __slots__ = ("function", "readOnly")

    def __init__(self, function, readOnly: bool):
        self.function = function
        self.readOnly = readOnly


def _shebang(body: bytes):
    """
    C{(flags, code)}: the flags of a C{#!lua} first line and the code to
    compile (the first line emptied, so line numbers stay).

    @raise ScriptError: for a shebang Redis refuses.
    """
    if not body.startswith(b"#!"):
        return frozenset(), body
    end = body.find(b"\n")
    line = body[2:] if end < 0 else body[2:end]
    words = line.split(b" ")
    if words[0] != b"lua":
        raise ScriptError(Error("ERR Unexpected engine in script shebang"))
    flags = set()
    for word in words[1:]:
        if not word:
            continue
        if not word.startswith(b"flags="):
            raise ScriptError(Error("ERR Unknown lua shebang option: %s"
                                    % (word.decode("utf-8", "replace"),)))
        for flag in word[len(b"flags="):].split(b","):
            if not flag:
                continue
            if flag not in _FLAGS:
                raise ScriptError(Error(
                    "ERR Unexpected flag in script shebang: %s"
                    % (flag.decode("utf-8", "replace"),)))
            flags.add(flag)
    return frozenset(flags), (b"" if end < 0 else body[end:])


class Scripts:
    """
    A Lua runtime and the scripts compiled in it.

    @ivar timeLimit: the most seconds a script may run (C{lua-time-limit}).
    @ivar clock: returns the time in seconds (L{time.monotonic}).
    @ivar version: the Redis version scripts see (C{redis.REDIS_VERSION}).
    """

    #: How many scripts compiled by C{EVAL} are kept (Redis 7.4's 500).
    EVAL_CACHE = 500

    _log = Logger(namespace="kvtwist.scripting")

    def __init__(self, lua, timeLimit: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 version: str = "7.4.0"):
        """
        @param lua: lupa's Lua 5.1 module (C{lupa.lua51}).
        """
        self.timeLimit = timeLimit
        self.clock = clock
        self.version = version
        self._lua = lua
        self._runtime = lua.LuaRuntime(
            encoding=None, register_eval=False, register_builtins=False,
            unpack_returned_tuples=True, attribute_filter=_noAttributes)
        self._table = self._runtime.table_from
        major, minor, patch = (int(x) for x in version.split("."))
        callbacks = self._table({
            b"call": self._raising, b"pcall": self._catching,
            b"sha1hex": self._sha1hex, b"log": self._logged,
            b"setresp": self._setresp, b"acl_check_cmd": self._aclCheck,
            b"pending": self._takePending, b"expired": self._expired})
        self._api = self._runtime.compile(PRELUDE)(
            callbacks, COUNT, version.encode("ascii"),
            (major << 16) | (minor << 8) | patch)
        self._loaded = {}
        self._evaluated: "OrderedDict[bytes, _Script]" = OrderedDict()
        self._client = ClientState(0, "lua", authenticated=True)
        # The script running now: its AtomicRun, context, whether it may
        # write, its RESP version, its deadline, whether it ran out of
        # time, how many writes it made; the error a Python function
        # raised last.
        self._run = None
        self._ctx: Optional[Context] = None
        self._readOnly = False
        self._resp = 2
        self._deadline = 0.0
        self._timedOut = False
        self._writes = 0
        self._pending = None

    # -- the cache ---------------------------------------------------------

    def _compile(self, body: bytes) -> _Script:
        flags, code = _shebang(body)
        function, error = self._api.compile(code)
        if function is None:
            raise ScriptError(Error(
                "ERR Error compiling script (new function): %s"
                % (_text(error),)))
        return _Script(function, b"no-writes" in flags)

    def load(self, body: bytes):
        """
        C{SCRIPT LOAD}: compile C{body} and keep it until L{flush}; its
        SHA1, or the error if it can't be compiled.
        """
        sha = sha1hex(body)
        if sha not in self._loaded:
            script = self._evaluated.pop(sha, None)
            if script is None:
                try:
                    script = self._compile(body)
                except ScriptError as e:
                    return e.reply
            self._loaded[sha] = script
        return sha

    def _forEval(self, body: bytes) -> bytes:
        sha = sha1hex(body)
        if sha in self._loaded:
            return sha
        evaluated = self._evaluated
        if sha in evaluated:
            evaluated.move_to_end(sha)
            return sha
        evaluated[sha] = self._compile(body)
        while len(evaluated) > self.EVAL_CACHE:
            evaluated.popitem(last=False)
        return sha

    def _find(self, sha: bytes) -> Optional[_Script]:
        sha = sha.lower()
        script = self._loaded.get(sha)
        if script is None:
            script = self._evaluated.get(sha)
            if script is not None:
                self._evaluated.move_to_end(sha)
        return script

    def exists(self, sha: bytes) -> bool:
        """
        C{SCRIPT EXISTS}: whether a script of this SHA1 is kept.
        """
        sha = sha.lower()
        return sha in self._loaded or sha in self._evaluated

    def flush(self):
        """
        C{SCRIPT FLUSH}: forget every script.
        """
        self._loaded.clear()
        self._evaluated.clear()

    def __len__(self) -> int:
        return len(self._loaded) + len(self._evaluated)

    # -- running -----------------------------------------------------------

    def eval(self, run, ctx: Context, body: bytes, keys: List[bytes],
             argv: List[bytes], readOnly: bool = False):
        """
        C{EVAL}: compile C{body} if new, run it; its reply.
        """
        try:
            sha = self._forEval(body)
        except ScriptError as e:
            return e.reply
        return self._execute(run, ctx, sha, self._find(sha), keys, argv,
                             readOnly)

    def evalsha(self, run, ctx: Context, sha: bytes, keys: List[bytes],
                argv: List[bytes], readOnly: bool = False):
        """
        C{EVALSHA}: run the script of SHA1 C{sha}; its reply, or
        C{NOSCRIPT}.
        """
        script = self._find(sha)
        if script is None:
            return NOSCRIPT
        return self._execute(run, ctx, sha.lower(), script, keys, argv,
                             readOnly)

    def _execute(self, run, ctx: Context, sha: bytes, script: _Script,
                 keys: List[bytes], argv: List[bytes], readOnly: bool):
        client = self._client
        client.protover = 2
        client.db = ctx.client.db
        client.atomic = run
        self._ctx = Context(ctx.store, ctx.factory, ctx.service, client)
        self._run = run
        self._readOnly = readOnly or script.readOnly
        self._resp = 2
        self._deadline = self.clock() + self.timeLimit
        self._timedOut = False
        self._writes = 0
        table = self._table
        api = self._api
        try:
            ok, result = api.run(script.function, table(keys), table(argv))
        except self._lua.LuaError as e:
            ok, result = False, e
        finally:
            api.sethook()
            api.reset()
            self._run = self._ctx = self._pending = None
            client.atomic = None
        if self._timedOut:
            return self._killed(sha)
        if ok:
            return convert.fromLua(result, self._resp, self._lua.lua_type)
        return _failed(result, sha, self._lua.lua_type)

    def _killed(self, sha: bytes) -> Error:
        writes = self._writes
        limit = int(self.timeLimit * 1000)
        self._log.warn(
            "A script ran longer than lua-time-limit ({limit} ms) and was "
            "stopped (script {sha}, {writes} writes kept)", limit=limit,
            sha=sha.decode("ascii"), writes=writes)
        if writes:
            what = ("the effects of the %d write commands it ran are kept "
                    "(kvtwist can't undo them)" % (writes,))
        else:
            what = "it had written nothing"
        return Error("ERR Script killed: it ran longer than lua-time-limit "
                     "(%d ms); %s. script: %s" % (limit, what,
                                                  sha.decode("ascii")))

    # -- the callbacks the prelude calls -----------------------------------

    def _raise(self, message: str):
        """
        Raise the error C{message} in the script (as a table C{{err=...}}
        that its C{pcall} catches).
        """
        self._pending = self._table({b"err": message.encode("utf-8")})
        raise _Raised()

    def _takePending(self):
        """
        The error table standing for the exception a Python function
        raised last (an internal error if there is none).
        """
        pending, self._pending = self._pending, None
        if pending is None:
            pending = self._table({b"err": b"ERR internal error in a "
                                           b"scripting function"})
        return pending

    def _command(self, words):
        """
        Run a command for the script: its reply, or the error that stops
        it from running.
        """
        if not words:
            return Error("ERR Please specify at least one argument for "
                         "this redis lib call")
        args = []
        for word in words:
            kind = type(word)
            if kind is bytes:
                args.append(word)
            elif kind is int or kind is float:
                args.append(b"%.17g" % (word,))
            else:
                return Error("ERR Lua redis lib command arguments must be "
                             "strings or integers")
        ctx = self._ctx
        ctx.client.protover = self._resp
        try:
            reply = self._run.call(ctx, args[0], args[1:], self._readOnly)
        except Exception:
            self._log.failure("redis.call failed")
            return Error("ERR internal error running a command from a "
                         "script")
        if reply.__class__ is not Error:
            cmd = lookup(args[0])
            if cmd.write:
                self._writes += 1
        return reply

    def _raising(self, *words):
        """
        C{redis.call}: the reply as a Lua value; an error is raised.
        """
        value, failed = convert.toLua(self._command(words), self._resp,
                                      self._table)
        if failed:
            self._pending = value
            raise _Raised()
        return value

    def _catching(self, *words):
        """
        C{redis.pcall}: the reply as a Lua value, an error as a table.
        """
        return convert.toLua(self._command(words), self._resp,
                             self._table)[0]

    def _sha1hex(self, *args):
        if len(args) != 1:
            self._raise("ERR wrong number of arguments")
        text = args[0]
        if type(text) in (int, float):
            text = _luaNumber(text)
        elif type(text) is not bytes:
            text = b""
        return sha1hex(text)

    def _logged(self, *args):
        if len(args) < 2:
            self._raise("ERR redis.log() requires two arguments or more.")
        level = args[0]
        if type(level) not in (int, float):
            self._raise("ERR First argument must be a number (log level).")
        if not 0 <= level <= 3:
            self._raise("ERR Invalid debug level.")
        text = " ".join(
            (_luaNumber(part) if type(part) in (int, float) else part
             ).decode("utf-8", "replace")
            for part in args[1:] if type(part) in (bytes, int, float))
        if level >= 3:
            self._log.warn("script: {message}", message=text)
        elif level == 2:
            self._log.info("script: {message}", message=text)
        else:
            self._log.debug("script: {message}", message=text)

    def _setresp(self, *args):
        if len(args) != 1:
            self._raise("ERR redis.setresp() requires one argument.")
        if args[0] not in (2, 3) or type(args[0]) is bool:
            self._raise("ERR RESP version must be 2 or 3.")
        self._resp = int(args[0])

    def _aclCheck(self, *args):
        if not args or type(args[0]) is not bytes or lookup(args[0]) is None:
            self._raise("ERR Invalid command passed to "
                        "redis.acl_check_cmd()")
        return True

    def _expired(self) -> bool:
        if not self._timedOut and self.clock() > self._deadline:
            self._timedOut = True
        return self._timedOut


class _Raised(Exception):
    """
    A Python function raised an error in a script (the error table is
    the engine's pending one).
    """


def _noAttributes(obj, name, setting):
    """
    lupa's attribute filter: a script reaches no attribute of a Python
    object (the C{redis} functions are Python callables).
    """
    raise AttributeError("scripts can't reach Python attributes")


def _luaNumber(number) -> bytes:
    """
    A Lua number as Lua's C{tostring} writes it (C{%.14g}).
    """
    return b"%.14g" % (number,)


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _failed(error, sha: bytes, luaType) -> Error:
    """
    Redis's reply for a script that raised: its error, then " script:
    <sha>, on @user_script:<line>." where known.
    """
    name = sha.decode("ascii")
    if luaType(error) != "table":
        # A Lua error that escaped the handler (it should not).
        return Error("ERR Error running script %s: %s" % (name, _text(error)))
    message = _text(error[b"err"])
    source, line = error[b"source"], error[b"line"]
    if source is not None and line is not None:
        return Error("%s script: %s, on %s:%s." % (message, name,
                                                   _text(source), line))
    if source is not None:
        return Error("%s script: %s, on %s." % (message, name,
                                                _text(source)))
    return Error("%s script: %s." % (message, name))
