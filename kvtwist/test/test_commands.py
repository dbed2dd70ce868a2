"""
Tests for the command table (L{kvtwist.commands}): Redis semantics and
error texts, independent of any dialect.
"""

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from kvtwist import commands
from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import Context, execute
from kvtwist.replies import NULL_ARRAY, OK, Error, Status, Verbatim
from kvtwist.store import Store


class Clock:
    """
    A settable millisecond clock for the store.
    """

    def __init__(self):
        self.now = 1700000000000.0

    def __call__(self):
        return self.now


class CommandTests(SynchronousTestCase):
    """
    Commands run through a backend: Redis's semantics and error texts.
    Subclasses run them through other backends (L{makeBackend}, L{reply}).
    """

    def setUp(self):
        self.clock = Clock()
        self.store = Store(self.clock)
        self.ctx = Context(self.store)
        self.backend = self.makeBackend(self.store)

    def makeBackend(self, store):
        """
        The backend the commands run through: the memory backend.
        """
        return MemoryBackend(store)

    def reply(self, result):
        """
        The reply of a command, given what the backend returned.
        """
        return result

    def call(self, *words):
        """
        Run a command given as strings; its reply.
        """
        words = [w.encode() if isinstance(w, str) else w for w in words]
        return self.reply(self.backend.execute(self.ctx, words[0],
                                               words[1:]))

    def test_errors(self):
        """
        Unknown commands, wrong arity, wrong type and bad integers give
        Redis's exact texts.
        """
        self.assertEqual(self.call("nosuch", "a", "b"),
                         "ERR unknown command 'nosuch', with args beginning "
                         "with: 'a' 'b'")
        self.assertEqual(self.call("GET"),
                         "ERR wrong number of arguments for 'get' command")
        self.call("RPUSH", "l", "x")
        self.assertEqual(self.call("GET", "l"),
                         "WRONGTYPE Operation against a key holding the "
                         "wrong kind of value")
        self.call("SET", "s", "abc")
        self.assertEqual(self.call("INCR", "s"),
                         "ERR value is not an integer or out of range")
        self.assertEqual(self.call("SET", "a", "b", "BOGUS"),
                         "ERR syntax error")
        self.assertIsInstance(self.call("GET"), Error)

    def test_caseInsensitive(self):
        """
        Command names are case-insensitive.
        """
        self.assertEqual(self.call("set", "a", "1"), OK)
        self.assertEqual(self.call("GeT", "a"), b"1")

    def test_setOptions(self):
        """
        SET with EX/PX, NX/XX and GET.
        """
        self.assertEqual(self.call("SET", "k", "v", "NX"), OK)
        self.assertIsNone(self.call("SET", "k", "w", "NX"))
        self.assertEqual(self.call("SET", "k", "w", "XX", "GET"), b"v")
        self.assertIsNone(self.call("SET", "new", "x", "XX"))
        self.assertEqual(self.call("SET", "k", "v", "EX", "10"), OK)
        self.assertEqual(self.call("TTL", "k"), 10)
        self.assertEqual(self.call("SET", "k", "v", "PX", "1500"), OK)
        self.assertEqual(self.call("PTTL", "k"), 1500)
        self.assertEqual(self.call("SET", "k", "v", "EX", "0"),
                         "ERR invalid expire time in 'set' command")
        self.assertEqual(self.call("SET", "k", "v", "NX", "XX"),
                         "ERR syntax error")
        self.clock.now += 1500
        self.assertIsNone(self.call("GET", "k"))

    def test_counters(self):
        """
        INCR, DECR, INCRBY, DECRBY.
        """
        self.assertEqual(self.call("INCR", "n"), 1)
        self.assertEqual(self.call("INCRBY", "n", "10"), 11)
        self.assertEqual(self.call("DECRBY", "n", "20"), -9)
        self.assertEqual(self.call("DECR", "n"), -10)
        self.assertEqual(self.call("INCRBY", "n", "x"),
                         "ERR value is not an integer or out of range")

    def test_strings(self):
        """
        SETNX, GETSET, GETDEL, MSET/MGET, APPEND, STRLEN.
        """
        self.assertEqual(self.call("SETNX", "a", "1"), 1)
        self.assertEqual(self.call("SETNX", "a", "2"), 0)
        self.assertEqual(self.call("GETSET", "a", "3"), b"1")
        self.assertEqual(self.call("GETDEL", "a"), b"3")
        self.assertIsNone(self.call("GETDEL", "a"))
        self.assertEqual(self.call("MSET", "x", "1", "y", "2"), OK)
        self.assertEqual(self.call("MSET", "x", "1", "y"),
                         "ERR wrong number of arguments for 'mset' command")
        self.assertEqual(self.call("MGET", "x", "nope", "y"),
                         [b"1", None, b"2"])
        self.assertEqual(self.call("APPEND", "x", "23"), 3)
        self.assertEqual(self.call("STRLEN", "x"), 3)
        self.assertEqual(self.call("STRLEN", "nope"), 0)

    def test_keys(self):
        """
        DEL, EXISTS, KEYS, TYPE, RENAME, DBSIZE, FLUSHDB, SCAN.
        """
        self.call("MSET", "a", "1", "b", "2", "c", "3")
        self.call("LPUSH", "l", "x")
        self.assertEqual(self.call("EXISTS", "a", "a", "zz"), 2)
        self.assertEqual(self.call("DEL", "a", "zz"), 1)
        self.assertEqual(sorted(self.call("KEYS", "*")), [b"b", b"c", b"l"])
        self.assertEqual(self.call("TYPE", "l"), Status("list"))
        self.assertEqual(self.call("TYPE", "b"), Status("string"))
        self.assertEqual(self.call("TYPE", "zz"), Status("none"))
        self.assertEqual(self.call("RENAME", "b", "bb"), OK)
        self.assertEqual(self.call("RENAME", "zz", "y"), "ERR no such key")
        self.assertEqual(self.call("DBSIZE"), 3)
        cursor, keys = self.call("SCAN", "0", "MATCH", "b*", "COUNT", "100")
        self.assertEqual((cursor, keys), (b"0", [b"bb"]))
        self.assertEqual(self.call("SCAN", "x"), "ERR invalid cursor")
        self.assertEqual(self.call("FLUSHDB"), OK)
        self.assertEqual(self.call("DBSIZE"), 0)

    def test_expiry(self):
        """
        EXPIRE, PEXPIRE, TTL, PTTL, PERSIST.
        """
        self.call("SET", "k", "v")
        self.assertEqual(self.call("TTL", "k"), -1)
        self.assertEqual(self.call("TTL", "nope"), -2)
        self.assertEqual(self.call("EXPIRE", "k", "100"), 1)
        self.assertEqual(self.call("EXPIRE", "nope", "100"), 0)
        self.assertEqual(self.call("TTL", "k"), 100)
        self.assertEqual(self.call("PEXPIRE", "k", "2500"), 1)
        self.assertEqual(self.call("PTTL", "k"), 2500)
        self.assertEqual(self.call("PERSIST", "k"), 1)
        self.assertEqual(self.call("PERSIST", "k"), 0)
        self.call("EXPIRE", "k", "1")
        self.clock.now += 1000
        self.assertEqual(self.call("EXISTS", "k"), 0)

    def test_expiryRanges(self):
        """
        An expiry time that doesn't fit a signed 64-bit count of
        milliseconds (after adding now, for relative ones) is refused with
        Redis's error naming the command, and changes nothing: SET's EX,
        PX and EXAT, SETEX, EXPIRE, PEXPIRE, EXPIREAT.  EXPIRE takes
        negative times (the key goes) down to the least that fits.
        """
        def invalid(name):
            return "ERR invalid expire time in '%s' command" % (name,)

        self.assertEqual(self.call("SET", "k", "old"), OK)
        for words, name in [
                (["SET", "k", "v", "EX", "9223372036854775807"], "set"),
                (["SET", "k", "v", "EX", "9223372036854775"], "set"),
                (["SET", "k", "v", "PX", "9223372036854775807"], "set"),
                (["SET", "k", "v", "EXAT", "9223372036854776"], "set"),
                (["SET", "k", "v", "PX", "-5"], "set"),
                (["SETEX", "k", "9223372036854775", "v"], "setex"),
                (["EXPIRE", "k", "9223370399119966"], "expire"),
                (["EXPIRE", "k", "-9223372036854776"], "expire"),
                (["PEXPIRE", "k", "9223372036854770000"], "pexpire"),
                (["EXPIREAT", "k", "9223372036854776"], "expireat")]:
            self.assertEqual(self.call(*words), invalid(name), words)
        self.assertEqual(self.call("GET", "k"), b"old")
        self.assertEqual(self.call("TTL", "k"), -1)
        self.assertEqual(self.call("SET", "k", "v", "PXAT",
                                   "9223372036854775807"), OK)
        self.assertEqual(self.call("PTTL", "k"),
                         9223372036854775807 - int(self.clock.now))
        self.assertEqual(self.call("PEXPIREAT", "k", "9223372036854775807"),
                         1)
        self.assertEqual(self.call("EXPIRE", "k", "-9223372036854775"), 1)
        self.assertEqual(self.call("EXISTS", "k"), 0)

    def test_lists(self):
        """
        LPUSH, RPUSH, LPOP, RPOP (with count), LRANGE, LLEN, LINDEX, LSET,
        LREM.
        """
        self.assertEqual(self.call("RPUSH", "l", "a", "b", "c"), 3)
        self.assertEqual(self.call("LPUSH", "l", "z"), 4)
        self.assertEqual(self.call("LRANGE", "l", "0", "-1"),
                         [b"z", b"a", b"b", b"c"])
        self.assertEqual(self.call("LLEN", "l"), 4)
        self.assertEqual(self.call("LINDEX", "l", "-1"), b"c")
        self.assertIsNone(self.call("LINDEX", "l", "10"))
        self.assertEqual(self.call("LSET", "l", "0", "Z"), OK)
        self.assertEqual(self.call("LSET", "l", "10", "Z"),
                         "ERR index out of range")
        self.assertEqual(self.call("LSET", "nope", "0", "Z"), "ERR no such key")
        self.assertEqual(self.call("LPOP", "l"), b"Z")
        self.assertEqual(self.call("RPOP", "l", "2"), [b"c", b"b"])
        self.assertIsNone(self.call("RPOP", "nope"))
        self.call("RPUSH", "r", "x", "y", "x")
        self.assertEqual(self.call("LREM", "r", "0", "x"), 2)
        self.assertEqual(self.call("LRANGE", "r", "0", "-1"), [b"y"])

    def test_popCountNullArray(self):
        """
        LPOP and RPOP with a count answer a null array for a missing key
        (RESP2 tells it from a null), an empty array for a count of 0.
        """
        self.assertIs(self.call("LPOP", "nope", "1"), NULL_ARRAY)
        self.assertIs(self.call("LPOP", "nope", "0"), NULL_ARRAY)
        self.assertIs(self.call("RPOP", "nope", "2"), NULL_ARRAY)
        self.assertIsNone(self.call("LPOP", "nope"))
        self.call("RPUSH", "l", "a")
        self.assertEqual(self.call("LPOP", "l", "0"), [])
        self.assertEqual(self.call("RPOP", "l", "5"), [b"a"])

    def test_hello(self):
        """
        HELLO switches the protocol version and answers Redis's map.
        """
        reply = self.call("HELLO", "3", "SETNAME", "me")
        self.assertEqual(reply[b"proto"], 3)
        self.assertEqual(reply[b"server"], b"redis")
        self.assertEqual(self.ctx.client.protover, 3)
        self.assertEqual(self.ctx.client.name, b"me")
        self.assertEqual(self.call("HELLO", "4"),
                         "NOPROTO unsupported protocol version")

    def test_clientAndCommand(self):
        """
        CLIENT SETNAME/GETNAME/ID, COMMAND COUNT and DOCS, PING, ECHO.
        """
        self.ctx.client.id = 7
        self.assertEqual(self.call("CLIENT", "ID"), 7)
        self.assertIsNone(self.call("CLIENT", "GETNAME"))
        self.assertEqual(self.call("CLIENT", "SETNAME", "conn"), OK)
        self.assertEqual(self.call("CLIENT", "GETNAME"), b"conn")
        self.assertIsInstance(self.call("CLIENT", "LIST"), Verbatim)
        self.assertEqual(self.call("COMMAND", "COUNT"), len(commands.TABLE))
        self.assertIn(b"get", self.call("COMMAND", "DOCS", "GET"))
        self.assertEqual(self.call("PING"), Status("PONG"))
        self.assertEqual(self.call("PING", "hi"), b"hi")
        self.assertEqual(self.call("ECHO", "x"), b"x")

    def test_configGetGlobs(self):
        """
        CONFIG GET matches Redis's glob patterns without case: C{[^x]}
        negates a class; C{[!x]} is a class of C{!} and C{x}, as in Redis
        (not a negation as in shell globs).
        """
        from kvtwist.factory import Config, KVFactory
        from twisted.internet.task import Clock
        self.ctx.factory = KVFactory(self.store, config=Config(maxClients=7),
                                     clock=Clock())
        self.assertEqual(self.call("CONFIG", "GET", "MAXCLIENTS"),
                         {b"maxclients": b"7"})
        self.assertEqual(self.call("CONFIG", "GET", "[^x]axclient?"),
                         {b"maxclients": b"7"})
        self.assertEqual(self.call("CONFIG", "GET", "[!x]axclients"), {})

    def test_noPersistence(self):
        """
        SAVE without a store service is a clear error.
        """
        self.assertEqual(self.call("SAVE"), "ERR persistence is not configured")

    def test_quitMarksClose(self):
        """
        QUIT asks the connection to close after its reply.
        """
        self.assertEqual(self.call("QUIT"), OK)
        self.assertTrue(self.ctx.client.closeAfterReply)


class TableTests(SynchronousTestCase):
    """
    The command table and the modules that fill it.
    """

    def test_groups(self):
        """
        Each command belongs to its Redis command group, by the module its
        handler is in; C{COMMAND DOCS} says which.
        """
        ctx = Context(Store())
        docs = execute(ctx, b"COMMAND", [b"DOCS", b"GET", b"DEL", b"LPUSH",
                                          b"PING", b"INFO"])
        self.assertEqual({name: doc[b"group"] for name, doc in docs.items()},
                         {b"get": b"string", b"del": b"generic",
                          b"lpush": b"list", b"ping": b"connection",
                          b"info": b"server"})

    def test_noImportCycle(self):
        """
        The handler modules and the registry import the registry (or
        other submodules), never the C{kvtwist.commands} package itself,
        which imports them.
        """
        import ast
        import os
        folder = os.path.dirname(commands.__file__)
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".py") or name == "__init__.py":
                continue
            with open(os.path.join(folder, name)) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    self.assertNotEqual(node.module, "kvtwist.commands",
                                        name)
                    if node.module == "kvtwist":
                        self.assertNotIn(
                            "commands", [a.name for a in node.names], name)
                elif isinstance(node, ast.Import):
                    self.assertNotIn(
                        "kvtwist.commands", [a.name for a in node.names],
                        name)

    def test_keysOf(self):
        """
        L{commands.Command.keysOf} picks the key arguments of a call by
        the table's key positions.
        """
        table = commands.TABLE
        self.assertEqual(table[b"GET"].keysOf([b"k"]), [b"k"])
        self.assertEqual(table[b"MSET"].keysOf([b"a", b"1", b"b", b"2"]),
                         [b"a", b"b"])
        self.assertEqual(table[b"DEL"].keysOf([b"a", b"b", b"c"]),
                         [b"a", b"b", b"c"])
        self.assertEqual(table[b"RENAME"].keysOf([b"a", b"b"]), [b"a", b"b"])
        self.assertEqual(table[b"KEYS"].keysOf([b"*"]), [])

    def test_containerFlags(self):
        """
        As in Redis 7, a container command (C{CONFIG}, C{CLIENT},
        C{OBJECT}, C{PUBSUB}) has no flags of its own in C{COMMAND INFO};
        its subcommands have theirs (C{config|set}: C{admin},
        C{noscript}...), and L{commands.Command.subcommand} gives the
        entry that describes a call.
        """
        ctx = Context(Store())
        info = execute(ctx, b"COMMAND", [b"INFO", b"config", b"client",
                                         b"object", b"pubsub",
                                         b"config|set", b"CLIENT|KILL",
                                         b"object|encoding", b"config|nosuch",
                                         b"get|x"])
        self.assertEqual([entry and entry[2] for entry in info],
                         [[], [], [], [],
                          [Status("admin"), Status("noscript"),
                           Status("loading"), Status("stale")],
                          [Status("admin"), Status("noscript"),
                           Status("loading"), Status("stale")],
                          [Status("readonly")], None, None])
        self.assertEqual(info[4][:2], [b"config|set", -4])
        self.assertEqual(info[6][3:], [2, 2, 1])
        config = commands.TABLE[b"CONFIG"]
        self.assertIn("noscript", config.subcommand([b"Get", b"x"]).flags)
        self.assertIs(config.subcommand([b"nosuch"]), config)
        self.assertIs(commands.TABLE[b"GET"].subcommand([b"k"]),
                      commands.TABLE[b"GET"])
        for cmd in commands.TABLE.values():
            if cmd.subcommands and cmd.name != "COMMAND":
                self.assertEqual(cmd.flags, (), cmd.name)

    def test_reference(self):
        """
        C{docs/commands.md} is the reference written from the table as it
        is (C{python -m kvtwist.commands > docs/commands.md} after a
        change), with every command in it.
        """
        import os
        from kvtwist.commands.reference import markdown
        path = os.path.join(os.path.dirname(commands.__file__), os.pardir,
                            os.pardir, "docs", "commands.md")
        text = markdown(commands.TABLE)
        for cmd in commands.TABLE.values():
            self.assertIn("\n### %s\n\n    %s\n" % (cmd.name, cmd.syntax),
                          text)
        if not os.path.exists(path):
            raise SkipTest("no docs/commands.md beside the package (an "
                           "installed copy)")
        with open(path, encoding="utf-8") as f:
            self.assertEqual(f.read(), text, "docs/commands.md is out of "
                             "date: python -m kvtwist.commands > "
                             "docs/commands.md")

    def test_serverIsTheFactory(self):
        """
        L{Context.factory} is also readable under its former name,
        C{server}.
        """
        factory = object()
        self.assertIs(Context(Store(), factory).server, factory)
