"""
Tests for the commands about connections and settings: C{CLIENT}
(L{kvtwist.commands.connection}), C{CONFIG}
(L{kvtwist.commands.configuration}), C{WAIT} and the reply of C{SHUTDOWN}
(L{kvtwist.commands.server}), run by clients of a server on string
transports.
"""

from twisted.internet.defer import succeed
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.dialects.resp import encodeCommand
from kvtwist.test.test_protocol import connect, makeFactory


def fields(line: bytes):
    """
    The C{name=value} fields of a C{CLIENT LIST} line, in order.
    """
    return [tuple(f.split("=", 1)) for f in line.decode().split(" ")]


class ServerTestCase(SynchronousTestCase):
    """
    A server (a factory on a L{Clock}) and a way to send commands.
    """

    def setUp(self):
        self.factory, self.clock = makeFactory(port="tcp:6400")

    def connect(self, port=40000):
        """
        A new client from 127.0.0.1:C{port}: C{(protocol, transport)}.
        """
        return connect(self.factory, port=port)

    def send(self, client, *words):
        """
        Send one RESP command from C{client} (a C{(protocol, transport)});
        the bytes it got back.
        """
        proto, transport = client
        transport.clear()
        proto.dataReceived(encodeCommand(
            *[w.encode() if isinstance(w, str) else w for w in words]))
        self.clock.advance(0)
        return transport.value()


class ClientListTests(ServerTestCase):
    """
    C{CLIENT LIST} and C{CLIENT INFO}.
    """

    def test_fields(self):
        """
        Redis's fields in Redis's order, with kvtwist's figures where it has
        them: the addresses, the name, the database, the RESP version, the
        last command, the buffered input; kvtwist's own fields last.
        """
        me = self.connect()
        self.send(me, "CLIENT", "SETNAME", "worker")
        self.send(me, "SELECT", "3")
        self.send(me, "HELLO", "3")
        self.send(me, "CLIENT", "SETINFO", "LIB-NAME", "redis-py")
        self.clock.advance(5)
        reply = self.send(me, "CLIENT", "LIST")
        # A RESP3 verbatim string: =LENGTH, txt:, the text.
        line = reply.split(b"\r\n")[1]
        self.assertTrue(line.startswith(b"txt:"), reply)
        got = fields(line[4:])
        self.assertEqual([name for name, _ in got], [
            "id", "addr", "laddr", "fd", "name", "age", "idle", "flags",
            "db", "sub", "psub", "ssub", "multi", "watch", "qbuf",
            "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll",
            "omem", "tot-mem", "events", "cmd", "user", "redir", "resp",
            "lib-name", "lib-ver", "dialect", "cmds"])
        values = dict(got)
        self.assertEqual(values["addr"], "127.0.0.1:40000")
        self.assertEqual(values["laddr"], "10.0.0.1:12345")
        self.assertEqual(values["name"], "worker")
        self.assertEqual(values["age"], "5")
        self.assertEqual(values["idle"], "0")
        self.assertEqual(values["flags"], "N")
        self.assertEqual(values["db"], "3")
        self.assertEqual(values["resp"], "3")
        self.assertEqual(values["cmd"], "client")
        self.assertEqual(values["lib-name"], "redis-py")
        self.assertEqual(values["user"], "default")
        # The CLIENT LIST request itself is still in the input buffer.
        self.assertEqual(values["qbuf"],
                         str(len(encodeCommand(b"CLIENT", b"LIST"))))

    def test_everyClient(self):
        """
        One line per connected client; C{ID} and C{TYPE} filter them.
        """
        a, b = self.connect(40001), self.connect(40002)
        self.send(b, "PING")
        ids = [dict(fields(line))["id"] for line in
               self.send(a, "CLIENT", "LIST").split(b"\r\n")[1].split(
                   b"\n") if line]
        self.assertEqual(ids, ["1", "2"])
        self.assertEqual(
            self.send(a, "CLIENT", "LIST", "ID", "2").count(b"id="), 1)
        self.assertEqual(
            self.send(a, "CLIENT", "LIST", "TYPE", "normal").count(b"id="),
            2)
        self.assertEqual(self.send(a, "CLIENT", "LIST", "TYPE", "replica"),
                         b"$0\r\n\r\n")
        self.assertEqual(self.send(a, "CLIENT", "LIST", "TYPE", "x"),
                         b"-ERR Unknown client type 'x'\r\n")

    def test_subscriber(self):
        """
        A subscriber's line counts its channels and patterns and has the
        C{P} flag; C{TYPE pubsub} lists it.
        """
        sub, other = self.connect(40001), self.connect(40002)
        self.send(sub, "SUBSCRIBE", "a", "b")
        self.send(sub, "PSUBSCRIBE", "c*")
        listed = self.send(other, "CLIENT", "LIST", "TYPE", "pubsub")
        self.assertEqual(listed.count(b"id="), 1)
        values = dict(fields(listed.split(b"\r\n")[1].rstrip(b"\n")))
        self.assertEqual((values["id"], values["flags"], values["sub"],
                          values["psub"]), ("1", "P", "2", "1"))

    def test_info(self):
        """
        C{CLIENT INFO} is the caller's line.
        """
        self.connect(40001)
        me = self.connect(40002)
        reply = self.send(me, "CLIENT", "INFO")
        self.assertIn(b"id=2 addr=127.0.0.1:40002 ", reply)
        self.assertEqual(reply.count(b"id="), 1)

    def test_flags(self):
        """
        C{NO-EVICT} and C{NO-TOUCH} are flags C{e} and C{T} (kvtwist neither
        evicts clients nor keeps access times: nothing else changes).
        """
        me = self.connect()
        self.assertEqual(self.send(me, "CLIENT", "NO-EVICT", "on"),
                         b"+OK\r\n")
        self.assertEqual(self.send(me, "CLIENT", "NO-TOUCH", "ON"),
                         b"+OK\r\n")
        self.assertIn(b" flags=eT ", self.send(me, "CLIENT", "INFO"))
        self.send(me, "CLIENT", "NO-EVICT", "off")
        self.assertIn(b" flags=T ", self.send(me, "CLIENT", "INFO"))
        self.assertEqual(self.send(me, "CLIENT", "NO-TOUCH", "maybe"),
                         b"-ERR syntax error\r\n")

    def test_insideExec(self):
        """
        Inside C{EXEC}, as between C{MULTI} and C{EXEC}, a client has flag
        C{x} and C{multi} counts the commands queued (as Redis shows it);
        after C{EXEC}, neither.
        """
        me = self.connect()
        self.send(me, "MULTI")
        queued = self.send(me, "CLIENT", "INFO")
        self.assertEqual(queued, b"+QUEUED\r\n")
        reply = self.send(me, "EXEC")
        self.assertIn(b" flags=x ", reply)
        self.assertIn(b" multi=1 ", reply)
        after = self.send(me, "CLIENT", "INFO")
        self.assertIn(b" flags=N ", after)
        self.assertIn(b" multi=-1 ", after)

    def test_names(self):
        """
        Names and library information can't hold blanks or special
        characters; C{SETNAME} with nothing clears the name.
        """
        me = self.connect()
        self.assertEqual(self.send(me, "CLIENT", "SETNAME", "a b"),
                         b"-ERR Client names cannot contain spaces, "
                         b"newlines or special characters.\r\n")
        self.send(me, "CLIENT", "SETNAME", "x")
        self.assertEqual(self.send(me, "CLIENT", "GETNAME"), b"$1\r\nx\r\n")
        self.send(me, "CLIENT", "SETNAME", "")
        self.assertEqual(self.send(me, "CLIENT", "GETNAME"), b"$-1\r\n")
        self.assertEqual(
            self.send(me, "CLIENT", "SETINFO", "LIB-VER", "1 2"),
            b"-ERR lib-ver cannot contain spaces, newlines or special "
            b"characters.\r\n")
        self.assertEqual(self.send(me, "CLIENT", "SETINFO", "X", "1"),
                         b"-ERR Unrecognized option 'X'\r\n")

    def test_help(self):
        """
        C{CLIENT HELP} lists the subcommands, as status lines.
        """
        reply = self.send(self.connect(), "CLIENT", "HELP")
        self.assertTrue(reply.startswith(b"*"))
        for sub in (b"KILL", b"REPLY", b"NO-EVICT", b"SETINFO", b"LIST"):
            self.assertIn(b"+" + sub, reply)


class ClientKillTests(ServerTestCase):
    """
    C{CLIENT KILL}, old and new forms.
    """

    def test_oldForm(self):
        """
        C{CLIENT KILL addr:port} closes that client and answers C{OK}, or
        an error if none has that address.
        """
        me, other = self.connect(40001), self.connect(40002)
        self.assertEqual(self.send(me, "CLIENT", "KILL", "127.0.0.1:40002"),
                         b"+OK\r\n")
        self.assertFalse(other[1].connected)
        self.assertEqual(self.send(me, "CLIENT", "KILL", "127.0.0.1:9"),
                         b"-ERR No such client\r\n")
        self.assertTrue(me[1].connected)
        self.assertEqual(self.factory.stats.closedByServer, 1)

    def test_filters(self):
        """
        The filters (C{ID}, C{ADDR}, C{LADDR}, C{TYPE}, C{SKIPME}) must all
        match; the caller is skipped unless C{SKIPME no}; the reply is the
        number of clients killed.
        """
        me = self.connect(40001)
        others = [self.connect(40002), self.connect(40003)]
        self.assertEqual(self.send(me, "CLIENT", "KILL", "ID", "2",
                                   "ADDR", "127.0.0.1:40003"), b":0\r\n")
        self.assertEqual(self.send(me, "CLIENT", "KILL", "ID", "2"),
                         b":1\r\n")
        self.assertFalse(others[0][1].connected)
        self.assertTrue(others[1][1].connected)
        self.assertEqual(self.send(me, "CLIENT", "KILL", "LADDR",
                                   "10.0.0.1:12345", "TYPE", "normal"),
                         b":1\r\n")
        self.assertFalse(others[1][1].connected)
        self.assertTrue(me[1].connected)
        self.assertEqual(self.send(me, "CLIENT", "KILL", "ID", "1",
                                   "SKIPME", "no"), b":1\r\n")
        self.assertFalse(me[1].connected)

    def test_errors(self):
        """
        Redis's errors for a bad ID, type or option.
        """
        me = self.connect()
        self.assertEqual(self.send(me, "CLIENT", "KILL", "ID", "x"),
                         b"-ERR client-id should be greater than 0\r\n")
        self.assertEqual(self.send(me, "CLIENT", "KILL", "TYPE", "y"),
                         b"-ERR Unknown client type 'y'\r\n")
        self.assertEqual(self.send(me, "CLIENT", "KILL", "NOPE", "1"),
                         b"-ERR syntax error\r\n")


class ClientReplyTests(ServerTestCase):
    """
    C{CLIENT REPLY ON|OFF|SKIP}: which replies a RESP client gets.
    """

    def test_offAndOn(self):
        """
        After C{OFF} (not answered) no reply is sent, the commands still
        run; C{ON} is answered, and so is everything after it; within one
        read as across reads.
        """
        me = self.connect()
        proto, transport = me
        proto.dataReceived(
            encodeCommand(b"CLIENT", b"REPLY", b"OFF") +
            encodeCommand(b"SET", b"k", b"v") +
            encodeCommand(b"GET", b"k"))
        self.clock.advance(0)
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.send(me, "INCR", "n"), b"")
        proto.dataReceived(
            encodeCommand(b"CLIENT", b"REPLY", b"ON") +
            encodeCommand(b"GET", b"k") + encodeCommand(b"GET", b"n"))
        self.clock.advance(0)
        self.assertEqual(transport.value(),
                         b"+OK\r\n$1\r\nv\r\n$1\r\n1\r\n")

    def test_skip(self):
        """
        After C{SKIP} (not answered), the next command's reply is not
        sent; the one after it is.
        """
        me = self.connect()
        proto, transport = me
        proto.dataReceived(
            encodeCommand(b"PING", b"a") +
            encodeCommand(b"CLIENT", b"REPLY", b"SKIP") +
            encodeCommand(b"PING", b"b") + encodeCommand(b"PING", b"c"))
        self.clock.advance(0)
        self.assertEqual(transport.value(), b"$1\r\na\r\n$1\r\nc\r\n")

    def test_laterRepliesKeepTheirTurn(self):
        """
        A reply that comes later (a write waiting for its fsync) while
        replies are off is dropped when it comes; the replies after C{ON}
        still wait their turn behind it.
        """
        self.factory.service.durable = True
        proto, transport = self.connect()
        proto.dataReceived(
            encodeCommand(b"CLIENT", b"REPLY", b"OFF") +
            encodeCommand(b"SET", b"k", b"v") +
            encodeCommand(b"CLIENT", b"REPLY", b"ON") +
            encodeCommand(b"PING"))
        self.clock.advance(0)
        self.assertEqual(transport.value(), b"")
        self.factory.service.fire()
        self.clock.advance(0)
        self.assertEqual(transport.value(), b"+OK\r\n+PONG\r\n")

    def test_badMode(self):
        """
        Another mode is a syntax error.
        """
        self.assertEqual(self.send(self.connect(), "CLIENT", "REPLY", "NO"),
                         b"-ERR syntax error\r\n")


class ConfigTests(ServerTestCase):
    """
    C{CONFIG GET}, C{SET}, C{RESETSTAT}, C{REWRITE}, C{HELP}.
    """

    def config(self, *words):
        return self.send(self.client, "CONFIG", *words)

    def setUp(self):
        ServerTestCase.setUp(self)
        self.client = self.connect()

    def test_get(self):
        """
        C{CONFIG GET} matches Redis's glob patterns, several at once; the
        settings kvtwist fixes (no memory limit, no eviction) are shown;
        an unknown one gives nothing, as Redis.
        """
        self.assertEqual(self.config("GET", "maxclients", "maxmemory*"),
                         b"*6\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"
                         b"$9\r\nmaxmemory\r\n$1\r\n0\r\n"
                         b"$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n")
        self.assertEqual(self.config("GET", "nosuch"), b"*0\r\n")
        self.assertEqual(self.config("GET", "appendfsync"),
                         b"*2\r\n$11\r\nappendfsync\r\n$8\r\neverysec\r\n")

    def test_set(self):
        """
        C{CONFIG SET} changes C{maxclients}, C{timeout} and C{requirepass}
        (several at once), which the server reads from then on.
        """
        self.assertEqual(self.config("SET", "maxclients", "2",
                                     "timeout", "30"), b"+OK\r\n")
        self.assertEqual((self.factory.config.maxClients,
                          self.factory.config.timeout), (2, 30))
        self.assertEqual(self.config("GET", "timeout"),
                         b"*2\r\n$7\r\ntimeout\r\n$2\r\n30\r\n")
        self.connect(40001)
        refused = self.connect(40002)
        self.assertIn(b"max number of clients reached", refused[1].value())

    def test_requirepass(self):
        """
        A password set with C{CONFIG SET requirepass} is asked of the
        clients that connect after; the ones connected stay in; it is
        never shown; the empty string takes it away.
        """
        self.assertEqual(self.config("SET", "requirepass", "s3cret"),
                         b"+OK\r\n")
        late = self.connect(40001)
        self.assertEqual(self.send(late, "GET", "k"),
                         b"-NOAUTH Authentication required.\r\n")
        self.assertEqual(self.send(late, "AUTH", "s3cret"), b"+OK\r\n")
        self.assertEqual(self.send(self.client, "GET", "k"), b"$-1\r\n")
        self.assertEqual(self.config("GET", "requirepass"),
                         b"*2\r\n$11\r\nrequirepass\r\n$0\r\n\r\n")
        self.config("SET", "requirepass", "")
        self.assertEqual(self.send(self.connect(40002), "GET", "k"),
                         b"$-1\r\n")

    def test_allOrNothing(self):
        """
        A bad value, an immutable setting or a duplicate fails the whole
        C{CONFIG SET}, with Redis's error naming the setting (and, here,
        the option that sets it).
        """
        self.assertEqual(
            self.config("SET", "timeout", "9", "maxclients", "many"),
            b"-ERR CONFIG SET failed (possibly related to argument "
            b"'maxclients') - argument couldn't be parsed into an "
            b"integer\r\n")
        self.assertEqual(self.factory.config.timeout, 0)
        self.assertEqual(
            self.config("SET", "databases", "4"),
            b"-ERR CONFIG SET failed (possibly related to argument "
            b"'databases') - can't set immutable config (kvtwist: the "
            b"command-line option --databases)\r\n")
        self.assertEqual(
            self.config("SET", "maxmemory", "100mb"),
            b"-ERR CONFIG SET failed (possibly related to argument "
            b"'maxmemory') - can't set immutable config (kvtwist has no "
            b"memory limit)\r\n")
        self.assertEqual(self.config("SET", "maxmemory", "0"), b"+OK\r\n")
        self.assertEqual(
            self.config("SET", "timeout", "1", "timeout", "2"),
            b"-ERR CONFIG SET failed (possibly related to argument "
            b"'timeout') - duplicate parameter\r\n")
        self.assertEqual(
            self.config("SET", "nosuch", "1"),
            b"-ERR Unknown option or number of arguments for CONFIG SET - "
            b"'nosuch'\r\n")
        self.assertEqual(self.config("SET", "timeout"),
                         b"-ERR wrong number of arguments for 'config|set' "
                         b"command\r\n")

    def test_others(self):
        """
        C{REWRITE} says there is no file; C{HELP} lists the subcommands;
        anything else is Redis's unknown subcommand error.
        """
        self.assertEqual(self.config("REWRITE"),
                         b"-ERR The server is running without a config "
                         b"file\r\n")
        self.assertIn(b"+RESETSTAT", self.config("HELP"))
        self.assertEqual(self.config("NOPE"),
                         b"-ERR unknown subcommand or wrong number of "
                         b"arguments for 'NOPE'. Try CONFIG HELP.\r\n")


class WaitTests(ServerTestCase):
    """
    C{WAIT}: kvtwist has no replicas.
    """

    def test_zeroAtOnce(self):
        """
        C{WAIT} answers 0 at once, whatever it asks for.
        """
        me = self.connect()
        self.assertEqual(self.send(me, "WAIT", "1", "0"), b":0\r\n")
        self.assertEqual(self.send(me, "WAIT", "0", "100"), b":0\r\n")

    def test_errors(self):
        """
        Redis's errors for arguments that are not integers, and a
        negative timeout.
        """
        me = self.connect()
        self.assertEqual(self.send(me, "WAIT", "x", "0"),
                         b"-ERR value is not an integer or out of range\r\n")
        self.assertEqual(self.send(me, "WAIT", "1", "x"),
                         b"-ERR timeout is not an integer or out of "
                         b"range\r\n")
        self.assertEqual(self.send(me, "WAIT", "1", "-1"),
                         b"-ERR timeout is negative\r\n")


class ShutdownReplyTests(ServerTestCase):
    """
    C{SHUTDOWN}'s reply on the wire.
    """

    def shutdownAnswers(self, reply):
        self.factory.service.shutdown = lambda mode: succeed(reply)

    def test_successCloses(self):
        """
        A C{SHUTDOWN} that succeeds sends nothing and closes the
        connection (as Redis; redis-py's C{shutdown()} takes a reply for a
        failure), after the replies before it.
        """
        self.shutdownAnswers("OK")
        proto, transport = self.connect()
        proto.dataReceived(encodeCommand(b"PING") +
                           encodeCommand(b"SHUTDOWN") +
                           encodeCommand(b"PING"))
        self.clock.advance(0)
        self.assertEqual(transport.value(), b"+PONG\r\n")
        self.assertFalse(transport.connected)

    def test_failureAnswers(self):
        """
        A C{SHUTDOWN} that fails answers its error and the connection
        stays.
        """
        self.shutdownAnswers(
            __import__("kvtwist.replies").replies.Error(
                "ERR Errors trying to SHUTDOWN. Check logs."))
        me = self.connect()
        self.assertEqual(self.send(me, "SHUTDOWN"),
                         b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n")
        self.assertTrue(me[1].connected)

    def test_textSuccessCloses(self):
        """
        On a text connection too, nothing is sent and it closes.
        """
        self.shutdownAnswers("OK")
        proto, transport = self.connect()
        proto.dataReceived(b"SHUTDOWN\r\n")
        self.clock.advance(0)
        self.assertEqual(transport.value(), b"")
        self.assertFalse(transport.connected)
