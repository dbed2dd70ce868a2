"""
Tests for Lua scripting (L{kvtwist.commands.scripting},
L{kvtwist.scripting}) on the memory backend: Redis 7's conversions
between Lua and replies, its errors, the sandbox, the script cache, the
time limit, and scripts journaled as one group.

They need C{lupa}; where it is missing (PyPy), L{MissingLuaTests} checks
the clear error instead.
"""

import hashlib

from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase

from kvtwist import scripting
from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import ClientState, Context
from kvtwist.persist import format
from kvtwist.replies import NULL_ARRAY, OK, Error, SetReply, Status, Verbatim
from kvtwist.scripting import convert
from kvtwist.store import Store
from kvtwist.test.test_transactions import JournaledService

NO_LUA = None if scripting.available() else (
    "lupa is not installed (pip install lupa)")


def sha(body: bytes) -> bytes:
    return hashlib.sha1(body).hexdigest().encode()


class FakeClock:
    """
    A clock that moves on by C{step} seconds each time it is read.
    """

    def __init__(self, step: float = 0.0):
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class ScriptTestsMixin:
    """
    A memory backend over a journaled store, and helpers to run scripts.
    """

    def setUp(self):
        self.store = Store()
        self.service = JournaledService()
        self.store.journal = self.service.journal.append
        self.backend = MemoryBackend(self.store, self.service)
        self.client = ClientState()
        self.ctx = Context(self.store, None, self.service, self.client)

    def call(self, *words):
        """
        Run a command given as words (L{str}, L{bytes} or L{int}).
        """
        words = [w if isinstance(w, bytes) else str(w).encode()
                 for w in words]
        return self.backend.execute(self.ctx, words[0], words[1:])

    def eval(self, body, *keysThenArgs, keys: int = 0):
        """
        C{EVAL body keys ...}.
        """
        return self.call("EVAL", body, keys, *keysThenArgs)


class ConversionTests(ScriptTestsMixin, SynchronousTestCase):
    """
    Lua values become replies, and replies Lua values, as Redis converts
    them.
    """

    skip = NO_LUA

    def test_luaToReply(self):
        """
        Numbers are truncated to integers (out of range: the smallest),
        strings are bulks, C{true} is 1, C{false} and C{nil} are null,
        tables are arrays up to the first C{nil}, C{ok} and C{err} tables
        are statuses and errors.
        """
        cases = [
            ("return 1", 1), ("return 1.9", 1), ("return -1.9", -1),
            ("return 'x'", b"x"), ("return true", 1), ("return false", None),
            ("return nil", None), ("return 2^63", -(1 << 63)),
            ("return 0/0", -(1 << 63)), ("return math.huge", -(1 << 63)),
            ("return {1, 2, {3, 'x'}, nil, 5}", [1, 2, [3, b"x"]]),
            ("return {1, 'a', true, false, 3}", [1, b"a", 1, None, 3]),
            ("return {ok='fine'}", Status("fine")),
            ("return {err='My Error'}", Error("My Error")),
            ("return redis.status_reply('S')", Status("S")),
            ("return redis.error_reply('E')", Error("ERR E")),
            ("return redis.error_reply('ERR x')", Error("ERR x")),
            ("return redis.error_reply('-X y')", Error("X y")),
            ("return redis.error_reply('-XY')", Error("ERR XY")),
            ("return redis.status_reply()",
             Error("ERR wrong number or type of arguments")),
            ("return {double=3.5}", 3.5),
            ("return {map={a=1}}", {b"a": 1}),
            ("return {set={a=true}}", SetReply([b"a"])),
            ("return {big_number='123'}", b"123"),
            ("return {verbatim_string={format='txt', string='hi'}}",
             Verbatim(b"hi")),
            ("return print", None.__class__ and None),
        ]
        for body, expected in cases[:-1]:
            self.assertEqual(self.eval(body), expected, body)
            self.assertIs(type(self.eval(body)), type(expected), body)
        self.assertEqual(self.eval("return function() end"), None)

    def test_replyToLua(self):
        """
        A command's reply reaches the script as Redis hands it over in
        RESP2: a null is C{false}, a status a table with C{ok}, an integer
        a number, a bulk a string, an array a table, a null array
        C{false}.
        """
        self.call("SET", "k", "v")
        self.call("RPUSH", "l", "a", "b")
        self.assertEqual(self.eval(
            "return {type(redis.call('get', 'nokey')),"
            " redis.call('set', 'k', 'v')['ok'],"
            " type(redis.call('exists', 'k')),"
            " redis.call('get', 'k'),"
            " redis.call('lrange', 'l', 0, -1)[2],"
            " tostring(redis.call('lpop', 'nolist', 2))}"),
            [b"boolean", b"OK", b"number", b"v", b"b", b"false"])

    def test_resp2Shapes(self):
        """
        In RESP2, a map is a flat array and a boolean an integer, as a
        RESP2 client would read them.
        """
        self.call("HSET", "h", "f", "v")
        self.assertEqual(self.eval(
            "local r = redis.call('hgetall', 'h')"
            " return {type(r), #r, r[1], r[2]}"), [b"table", 2, b"f", b"v"])
        converted, failed = convert.toLua(
            {b"a": 1}, 2, lambda value: value)
        self.assertEqual((converted, failed), ([b"a", 1], False))
        converted, _ = convert.toLua(True, 2, lambda value: value)
        self.assertEqual(converted, 1)
        converted, _ = convert.toLua(2.5, 2, lambda value: value)
        self.assertEqual(converted, b"2.5")

    def test_resp3(self):
        """
        After C{redis.setresp(3)} a null is C{nil}, a boolean a boolean, a
        map C{{map=...}}, a double C{{double=...}}; the script's own
        C{true} is a boolean reply then.
        """
        self.assertEqual(self.eval(
            "redis.setresp(3)"
            " return {redis.call('get', 'nokey') == nil,"
            " redis.call('exists', 'nokey')}"), [1, 0])
        self.assertIs(self.eval("redis.setresp(3) return true"), True)
        table = lambda value: value  # noqa: E731
        self.assertEqual(convert.toLua({b"a": 1}, 3, table)[0],
                         {b"map": {b"a": 1}})
        self.assertEqual(convert.toLua(2.5, 3, table)[0], {b"double": 2.5})
        self.assertEqual(convert.toLua(None, 3, table)[0], None)
        self.assertEqual(convert.toLua(NULL_ARRAY, 3, table)[0], None)
        self.assertEqual(convert.toLua(False, 3, table)[0], False)
        self.assertEqual(convert.toLua(Verbatim(b"t"), 3, table)[0],
                         {b"verbatim_string": {b"format": b"txt",
                                               b"string": b"t"}})
        self.assertEqual(self.eval("return redis.setresp(4)"), Error(
            "ERR RESP version must be 2 or 3. script: %s, on "
            "@user_script:1." % (sha(b"return redis.setresp(4)").decode(),)))

    def test_keysAndArgv(self):
        """
        C{KEYS} and C{ARGV} hold the keys and the other arguments.
        """
        self.assertEqual(self.eval(
            "return {KEYS[1], ARGV[1], #KEYS, #ARGV}", "k", "a", "b",
            keys=1), [b"k", b"a", 1, 2])

    def test_numberArguments(self):
        """
        Numbers given to C{redis.call} are written C{%.17g}, as Redis
        writes them.
        """
        for number, text in [("0.1", b"0.10000000000000001"), ("3", b"3"),
                             ("1e20", b"1e+20"), ("-0.5", b"-0.5")]:
            self.eval("redis.call('set', 'n', %s)" % (number,))
            self.assertEqual(self.store.get(b"n"), text)

    def test_parseReply(self):
        """
        L{convert.parseReply} reads back every kind of reply.
        """
        data = (b"*8\r\n$1\r\na\r\n:5\r\n+OK\r\n-ERR x\r\n_\r\n#t\r\n"
                b",1.5\r\n%1\r\n$1\r\nk\r\n~1\r\n:1\r\n")
        value, end = convert.parseReply(data)
        self.assertEqual(end, len(data))
        self.assertEqual(value[:7], [b"a", 5, Status("OK"), Error("ERR x"),
                                     None, True, 1.5])
        self.assertEqual(list(value[7]), [(b"k", [1])])
        self.assertEqual(convert.parseReply(b"*-1\r\n")[0], NULL_ARRAY)
        self.assertRaises(ValueError, convert.parseReply, b"?\r\n")


class ErrorTests(ScriptTestsMixin, SynchronousTestCase):
    """
    A script's errors read as Redis 7 writes them.
    """

    skip = NO_LUA

    def assertScriptError(self, body: str, message: str, line: int = 1):
        """
        C{body} fails with C{message}, then Redis's " script: <sha>, on
        @user_script:<line>.".
        """
        self.assertEqual(self.eval(body), Error(
            "%s script: %s, on @user_script:%d." % (
                message, sha(body.encode()).decode(), line)))

    def test_callErrors(self):
        """
        C{redis.call} raises the command's error, and its own errors for
        an unknown command, the wrong arity, no arguments, a command
        scripts can't call, arguments that are not strings or numbers;
        C{redis.pcall} returns the error as a table instead.
        """
        self.call("SET", "k", "v")
        self.assertScriptError("return redis.call('incr', 'k')",
                               "ERR value is not an integer or out of range")
        self.assertScriptError("return redis.call('nosuch')",
                               "ERR Unknown Redis command called from script")
        self.assertScriptError(
            "return redis.call('get')",
            "ERR Wrong number of args calling Redis command from script")
        self.assertScriptError(
            "return redis.call()",
            "ERR Please specify at least one argument for this redis lib "
            "call")
        for name in ["multi", "exec", "eval', 'return 1', '0", "save",
                     "script', 'flush", "watch', 'x", "config', 'get', 'x",
                     "client', 'id"]:
            self.assertScriptError(
                "return redis.call('%s')" % (name,),
                "ERR This Redis command is not allowed from script")
        self.assertScriptError(
            "return redis.call('set', 'a', {})",
            "ERR Lua redis lib command arguments must be strings or "
            "integers")
        self.assertScriptError(
            "\nlocal x = 1\nreturn redis.call('set', 'a', true)",
            "ERR Lua redis lib command arguments must be strings or "
            "integers", line=3)
        self.assertEqual(self.eval("return redis.pcall('incr', 'k')"),
                         Error("ERR value is not an integer or out of range"))
        self.assertEqual(self.eval(
            "local ok, e = pcall(redis.call, 'incr', 'k')"
            " return {tostring(ok), e.err}"),
            [b"false", b"ERR value is not an integer or out of range"])

    def test_scriptErrors(self):
        """
        Errors of the script itself: C{error()} with a string or a table,
        a missing global, assigning one, a compile error.
        """
        self.assertScriptError("error('boom')",
                               "ERR user_script:1: boom")
        self.assertScriptError("error({err='CUSTOM boom'})", "CUSTOM boom")
        self.assertScriptError(
            "return x", "ERR user_script:1: Script attempted to access "
            "nonexistent global variable 'x'")
        self.assertScriptError(
            "x = 1", "ERR user_script:1: Attempt to modify a readonly table")
        self.assertEqual(self.eval("return +"), Error(
            "ERR Error compiling script (new function): user_script:1: "
            "unexpected symbol near '+'"))

    def test_numkeys(self):
        """
        A negative, too large or non-numeric number of keys answers
        Redis's errors.
        """
        self.assertEqual(self.call("EVAL", "return 1", "-1"),
                         Error("ERR Number of keys can't be negative"))
        self.assertEqual(self.call("EVAL", "return 1", "2", "a"), Error(
            "ERR Number of keys can't be greater than number of args"))
        self.assertEqual(self.call("EVAL", "return 1", "x"),
                         Error("ERR value is not an integer or out of range"))

    def test_libraryErrors(self):
        """
        C{redis.sha1hex}, C{redis.log}, C{redis.acl_check_cmd} check their
        arguments.
        """
        self.assertScriptError("return redis.sha1hex()",
                               "ERR wrong number of arguments")
        self.assertScriptError(
            "return redis.log()",
            "ERR redis.log() requires two arguments or more.")
        self.assertScriptError(
            "return redis.log('a', 'b')",
            "ERR First argument must be a number (log level).")
        self.assertScriptError("return redis.log(99, 'b')",
                               "ERR Invalid debug level.")
        self.assertScriptError(
            "return redis.acl_check_cmd('nosuch')",
            "ERR Invalid command passed to redis.acl_check_cmd()")
        self.assertEqual(self.eval("return redis.acl_check_cmd('get')"), 1)


class LibraryTests(ScriptTestsMixin, SynchronousTestCase):
    """
    The C{redis} table and what scripts see of Lua.
    """

    skip = NO_LUA

    def test_sha1hex(self):
        """
        C{redis.sha1hex} is the SHA1 of a string (or a number) in hex.
        """
        self.assertEqual(self.eval("return redis.sha1hex('')"),
                         b"da39a3ee5e6b4b0d3255bfef95601890afd80709")
        self.assertEqual(self.eval("return redis.sha1hex(1)"), sha(b"1"))

    def test_log(self):
        """
        C{redis.log} logs its arguments, joined by spaces, at its level.
        """
        events = []
        scripts = self.backend.scriptEngine()
        scripts._log = Logger(observer=events.append)
        self.assertIsNone(self.eval(
            "redis.log(redis.LOG_WARNING, 'hello', 5)"
            " redis.log(redis.LOG_DEBUG, 'quiet')"))
        self.assertEqual([(e["message"], e["log_level"].name)
                          for e in events],
                         [("hello 5", "warn"), ("quiet", "debug")])

    def test_constants(self):
        """
        The C{LOG_*} and C{REPL_*} constants and the version are Redis's.
        """
        self.assertEqual(self.eval(
            "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE,"
            " redis.LOG_WARNING, redis.REPL_NONE, redis.REPL_ALL,"
            " redis.REDIS_VERSION, redis.REDIS_VERSION_NUM,"
            " redis.replicate_commands()}"),
            [0, 1, 2, 3, 0, 3, b"7.4.0", 0x070400, 1])

    def test_sandbox(self):
        """
        What Redis leaves out is not there: the OS, files, modules,
        C{debug}, C{print}, lupa's C{python}; Python objects show no
        attributes.
        """
        for name in ["os", "io", "debug", "require", "dofile", "loadfile",
                     "print", "python", "getfenv", "setfenv", "module",
                     "newproxy", "package"]:
            reply = self.eval("return type(%s)" % (name,))
            self.assertIsInstance(reply, Error, name)
            self.assertIn("nonexistent global variable '%s'" % (name,),
                          reply)
        for name in ["string", "table", "math", "coroutine", "loadstring",
                     "pcall", "rawset", "unpack", "select"]:
            self.assertEqual(self.eval("return type(%s)" % (name,)).__class__,
                             bytes, name)
        self.assertIsInstance(self.eval("return redis.call.__class__"),
                              Error)
        self.assertEqual(self.eval("return ('x'):upper()"), b"X")
        self.assertEqual(self.eval("return getmetatable('')"), [])

    def test_nothingLeftBehind(self):
        """
        Library tables and globals are read-only, and what C{rawset} puts
        in them is gone by the next script: no script changes another.
        """
        for body in ["redis.call = nil", "string.x = 1", "KEYS = 1"]:
            self.assertIn("Attempt to modify a readonly table",
                          self.eval(body))
        self.assertEqual(self.eval(
            "rawset(_G, 'leak', 1) rawset(string, 'leak', 2)"
            " return {leak, string.leak}"), [1, 2])
        self.assertIn("nonexistent global variable 'leak'",
                      self.eval("return leak"))
        self.assertIsNone(self.eval("return string.leak"))
        self.assertIn("Attempt to modify a readonly table",
                      self.eval("loadstring('x = 1')()"))

    def test_noBytecode(self):
        """
        Precompiled Lua can't be loaded: not by C{loadstring}, not as a
        script.
        """
        self.assertIsNone(self.eval(
            "return loadstring(string.dump(function() return 1 end))"))
        reply = self.call("EVAL", b"\x1bLua\x51\x00", "0")
        self.assertTrue(reply.startswith(
            "ERR Error compiling script (new function): "), reply)

    def test_coroutines(self):
        """
        Coroutines work, and their errors are tables as elsewhere.
        """
        self.assertEqual(self.eval(
            "local f = coroutine.wrap(function() coroutine.yield(1)"
            " return 2 end) return {f(), f()}"), [1, 2])
        self.assertEqual(self.eval(
            "local ok, e = coroutine.resume(coroutine.create(function()"
            " redis.call('nosuch') end)) return e.err"),
            b"ERR Unknown Redis command called from script")


class CacheTests(ScriptTestsMixin, SynchronousTestCase):
    """
    Scripts are kept by SHA1: C{EVALSHA}, C{SCRIPT LOAD|EXISTS|FLUSH}.
    """

    skip = NO_LUA

    def test_evalKeeps(self):
        """
        A script run by C{EVAL} can be run by C{EVALSHA}, in any case of
        hex digits.
        """
        self.assertEqual(self.eval("return ARGV[1]", "x"), b"x")
        digest = sha(b"return ARGV[1]")
        self.assertEqual(self.call("EVALSHA", digest, 0, "y"), b"y")
        self.assertEqual(self.call("EVALSHA", digest.upper(), 0, "z"), b"z")
        self.assertEqual(self.call("SCRIPT", "EXISTS", digest, "nope"),
                         [1, 0])

    def test_noscript(self):
        """
        C{EVALSHA} of an unknown SHA1 answers C{NOSCRIPT}.
        """
        self.assertEqual(self.call("EVALSHA", "nope", 0), Error(
            "NOSCRIPT No matching script. Please use EVAL."))

    def test_loadAndFlush(self):
        """
        C{SCRIPT LOAD} compiles and keeps a script (or answers its compile
        error); C{SCRIPT FLUSH} forgets every one.
        """
        digest = self.call("SCRIPT", "LOAD", "return 'loaded'")
        self.assertEqual(digest, sha(b"return 'loaded'"))
        self.assertEqual(self.call("EVALSHA", digest, 0), b"loaded")
        self.assertTrue(self.call("SCRIPT", "LOAD", "return +").startswith(
            "ERR Error compiling script"))
        self.assertEqual(self.call("SCRIPT", "FLUSH"), OK)
        self.assertEqual(self.call("SCRIPT", "EXISTS", digest), [0])
        self.assertEqual(self.call("SCRIPT", "FLUSH", "ASYNC"), OK)
        self.assertEqual(self.call("SCRIPT", "FLUSH", "x"), Error(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option"))

    def test_evalEvicted(self):
        """
        Beyond C{EVAL_CACHE} scripts compiled by C{EVAL}, the least
        recently used is forgotten; those of C{SCRIPT LOAD} stay.
        """
        scripts = self.backend.scriptEngine()
        scripts.EVAL_CACHE = 2
        loaded = self.call("SCRIPT", "LOAD", "return 0")
        for i in range(1, 4):
            self.eval("return %d" % (i,))
        self.assertEqual(self.call("SCRIPT", "EXISTS", loaded,
                                   sha(b"return 1"), sha(b"return 2"),
                                   sha(b"return 3")), [1, 0, 1, 1])

    def test_subcommands(self):
        """
        C{SCRIPT KILL} finds nothing to kill; unknown subcommands and
        wrong arities answer Redis's errors; C{SCRIPT HELP} lists them.
        """
        self.assertEqual(self.call("SCRIPT", "KILL"), Error(
            "NOTBUSY No scripts in execution right now."))
        self.assertEqual(self.call("SCRIPT", "nope"), Error(
            "ERR unknown subcommand 'nope'. Try SCRIPT HELP."))
        self.assertEqual(self.call("SCRIPT", "LOAD"), Error(
            "ERR wrong number of arguments for 'script|load' command"))
        self.assertTrue(self.call("SCRIPT", "HELP")[0].startswith("SCRIPT"))


class AtomicScriptTests(ScriptTestsMixin, SynchronousTestCase):
    """
    A script runs as one, journaled as one group; read-only scripts can't
    write; a failing persistence refuses its writes.
    """

    skip = NO_LUA

    def test_journaledAsOneGroup(self):
        """
        A script's writes are one group op in the journal.
        """
        self.eval("redis.call('set', 'a', '1') redis.call('incr', 'a')"
                  " redis.call('get', 'a') redis.call('del', 'a')")
        [op] = self.service.journal.pending
        self.assertEqual(format.ungroup(op), [
            (b"SET", b"a", b"1"), (b"SETKEEPTTL", b"a", b"2"),
            (b"DEL", b"a")])

    def test_readOnly(self):
        """
        C{EVAL_RO}, C{EVALSHA_RO} and a C{no-writes} shebang refuse writes
        and allow reads.
        """
        self.call("SET", "k", "v")
        body = "return redis.call('set', 'k', 'w')"
        message = "ERR Write commands are not allowed from read-only scripts."
        self.assertEqual(self.call("EVAL_RO", body, 0), Error(
            "%s script: %s, on @user_script:1." % (
                message, sha(body.encode()).decode())))
        self.assertEqual(self.call("EVALSHA_RO", sha(body.encode()), 0),
                         self.call("EVAL_RO", body, 0))
        self.assertEqual(self.call("EVAL_RO", "return redis.call('get','k')",
                                   0), b"v")
        shebang = "#!lua flags=no-writes\nreturn redis.call('set','k','w')"
        self.assertTrue(self.eval(shebang).startswith(message))
        self.assertEqual(self.store.get(b"k"), b"v")
        self.assertEqual(self.eval("#!lua\nreturn 1"), 1)

    def test_shebangErrors(self):
        """
        A shebang for another engine, an unknown option or flag answer
        Redis's errors.
        """
        self.assertEqual(self.eval("#!python\nreturn 1"),
                         Error("ERR Unexpected engine in script shebang"))
        self.assertEqual(self.eval("#!lua x=1\nreturn 1"),
                         Error("ERR Unknown lua shebang option: x=1"))
        self.assertEqual(self.eval("#!lua flags=bogus\nreturn 1"),
                         Error("ERR Unexpected flag in script shebang: bogus"))

    def test_misconf(self):
        """
        While persistence fails, a script's writes answer C{MISCONF}; its
        reads go on.
        """
        self.call("SET", "k", "v")
        self.service.failure = "disk full"
        self.assertTrue(self.eval(
            "return redis.pcall('set', 'k', 'w')").startswith("MISCONF "))
        self.assertEqual(self.eval("return redis.call('get', 'k')"), b"v")

    def test_ownProtocol(self):
        """
        A script's commands answer as to a client of RESP2 (a map is a
        flat array), whatever the caller speaks.
        """
        from kvtwist import commands
        commands.TABLE[b"AMAP"] = commands.Command(
            "AMAP", 1, lambda ctx, args: {b"a": ctx.client.protover},
            "readonly")
        self.addCleanup(commands.TABLE.pop, b"AMAP")
        self.client.protover = 3
        self.assertEqual(self.eval("return redis.call('amap')"), [b"a", 2])
        self.assertEqual(self.client.protover, 3)

    def test_inTransaction(self):
        """
        C{EVAL} queued in C{MULTI} runs in C{EXEC}, its writes in the
        C{EXEC}'s group.
        """
        self.call("MULTI")
        self.call("SET", "a", "1")
        self.eval("return redis.call('incr', 'a')")
        self.assertEqual(self.call("EXEC"), [OK, 2])
        [op] = self.service.journal.pending
        self.assertEqual(format.ungroup(op), [
            (b"SET", b"a", b"1"), (b"SETKEEPTTL", b"a", b"2")])


class TimeLimitTests(ScriptTestsMixin, SynchronousTestCase):
    """
    A script that runs longer than the time limit is stopped.
    """

    skip = NO_LUA

    def setUp(self):
        ScriptTestsMixin.setUp(self)
        self.clock = FakeClock()
        scripts = self.backend.scriptEngine()
        scripts.clock = self.clock
        scripts.timeLimit = 5.0
        self.events = []
        scripts._log = Logger(observer=self.events.append)

    def runaway(self, body: str):
        """
        Run C{body} with a clock that runs out at its first check.
        """
        self.clock.step = 10.0
        return self.eval(body)

    def test_stopped(self):
        """
        An endless loop is stopped with an error that says it wrote
        nothing; the next script runs.
        """
        body = "while true do end"
        self.assertEqual(self.runaway(body), Error(
            "ERR Script killed: it ran longer than lua-time-limit (5000 ms);"
            " it had written nothing. script: %s" % (
                sha(body.encode()).decode(),)))
        self.assertEqual(len(self.events), 1)
        self.clock.step = 0.0
        self.assertEqual(self.eval("return 1"), 1)

    def test_writesKept(self):
        """
        A script stopped after writing keeps its writes, journaled as one
        group, and says so.
        """
        reply = self.runaway("redis.call('set', 'a', '1')"
                             " redis.call('set', 'b', '2') while true do end")
        self.assertIn("the effects of the 2 write commands it ran are kept",
                      reply)
        self.assertEqual(self.store.get(b"b"), b"2")
        [op] = self.service.journal.pending
        self.assertEqual(len(format.ungroup(op)), 2)

    def test_notCaught(self):
        """
        Neither C{pcall} nor a coroutine keeps a runaway script going.
        """
        for body in [
                "while true do pcall(function() while true do end end) end",
                "while true do pcall(error) end",
                "local co = coroutine.create(function() while true do end"
                " end) return coroutine.resume(co)",
                "local f = coroutine.wrap(function() while true do end end)"
                " return f()"]:
            reply = self.runaway(body)
            self.assertTrue(reply.startswith("ERR Script killed"), body)

    def test_notBusy(self):
        """
        A script within its time runs to its end.
        """
        self.clock.step = 0.001
        self.assertEqual(self.eval(
            "local n = 0 for i = 1, 300000 do n = n + 1 end return n"),
            300000)


class MissingLuaTests(SynchronousTestCase):
    """
    Without lupa, the scripting commands say so, and how to install it.
    """

    def setUp(self):
        self.patch(scripting, "_looked", True)
        self.patch(scripting, "_lua", None)
        store = Store()
        self.backend = MemoryBackend(store)
        self.ctx = Context(store, None, None, ClientState())

    def call(self, *words):
        return self.backend.execute(self.ctx, words[0], list(words[1:]))

    def test_missing(self):
        """
        C{EVAL}, C{EVALSHA}, their C{_RO} forms and C{SCRIPT LOAD} answer
        L{scripting.MISSING}; C{SCRIPT EXISTS} knows no script and
        C{SCRIPT FLUSH} has nothing to do.
        """
        self.assertIn("pip install lupa", scripting.MISSING)
        for words in [(b"EVAL", b"return 1", b"0"),
                      (b"EVALSHA", b"x", b"0"),
                      (b"EVAL_RO", b"return 1", b"0"),
                      (b"EVALSHA_RO", b"x", b"0"),
                      (b"SCRIPT", b"LOAD", b"return 1")]:
            self.assertEqual(self.call(*words), scripting.MISSING)
        self.assertEqual(self.call(b"SCRIPT", b"EXISTS", b"a", b"b"), [0, 0])
        self.assertEqual(self.call(b"SCRIPT", b"FLUSH"), OK)
        self.assertIsNone(self.backend.scriptEngine())


class CommandTableTests(SynchronousTestCase):
    """
    The scripting commands in the table: Redis's arity, flags and key
    positions (C{COMMAND INFO} of Redis 7), a syntax and a summary.
    """

    def test_table(self):
        """
        C{EVAL} and friends have movable keys (no fixed positions), as in
        Redis; C{SCRIPT} is a container.
        """
        from kvtwist.commands import TABLE
        flags = "noscript stale skip_monitor no_mandatory_keys movablekeys"
        expected = {"EVAL": (-3, flags), "EVALSHA": (-3, flags),
                    "EVAL_RO": (-3, "readonly " + flags),
                    "EVALSHA_RO": (-3, "readonly " + flags),
                    "SCRIPT": (-2, "")}
        for name, (arity, names) in expected.items():
            cmd = TABLE[name.encode()]
            self.assertEqual(
                (cmd.arity, sorted(cmd.flags),
                 (cmd.firstKey, cmd.lastKey, cmd.step), cmd.group),
                (arity, sorted(names.split()), (0, 0, 0), "scripting"))
            self.assertTrue(cmd.syntax.startswith(name))
            self.assertTrue(cmd.summary)
