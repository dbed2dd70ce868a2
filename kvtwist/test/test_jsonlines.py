"""
Tests for L{kvtwist.dialects.jsonlines}, the gevent seed's JSON lines.
"""

import json

from twisted.trial.unittest import SynchronousTestCase

from kvtwist import dialects
from kvtwist.dialects import jsonlines
from kvtwist.replies import OK, WRONGTYPE, Error, Status, Verbatim
from kvtwist.test.test_colon import connect, makeFactory


def parse(obj):
    """
    Parse C{obj} serialised as a JSON line.
    """
    return jsonlines.parse(json.dumps(obj).encode("utf-8"))


def command(obj):
    """
    The C{(name, args)} C{obj} parses into.
    """
    request = parse(obj)
    return request.name, request.args


class ParseTests(SynchronousTestCase):
    """
    Tests for L{jsonlines.parse}.
    """

    def test_detected(self):
        """
        A line starting with C{{} is JSON lines.
        """
        self.assertIs(dialects.detect(b'{"type": "GET"}'), jsonlines)

    def test_seedTypes(self):
        """
        The seed's types map to commands of the table.
        """
        self.assertEqual(command({"type": "SET", "key": "k", "value": "v"}),
                         (b"SET", [b"k", b"v"]))
        self.assertEqual(command({"type": "GET", "key": "k"}),
                         (b"GET", [b"k"]))
        self.assertEqual(command({"type": "DELETE", "key": "k"}),
                         (b"GETDEL", [b"k"]))
        self.assertEqual(command({"type": "FLUSH"}), (b"FLUSH", []))
        self.assertEqual(
            command({"type": "MSET", "value": {"a": "1", "b": "2"}}),
            (b"MSET", [b"a", b"1", b"b", b"2"]))
        self.assertEqual(command({"type": "MGET", "key": ["a", "b"]}),
                         (b"MGET", [b"a", b"b"]))

    def test_typeAnyCase(self):
        """
        The type is matched in any case.
        """
        self.assertEqual(command({"type": "get", "key": "k"}),
                         (b"GET", [b"k"]))

    def test_args(self):
        """
        Arguments are C{key}, then C{value}, then C{args}.
        """
        self.assertEqual(
            command({"type": "LPUSH", "key": "l", "args": ["a", "b"]}),
            (b"LPUSH", [b"l", b"a", b"b"]))
        self.assertEqual(
            command({"type": "SET", "key": "k", "value": "v",
                     "args": ["EX", 10]}),
            (b"SET", [b"k", b"v", b"EX", b"10"]))
        self.assertEqual(command({"type": "INCR", "key": "n"}),
                         (b"INCR", [b"n"]))
        self.assertEqual(command({"type": "RPUSH", "key": "l",
                                  "value": ["a", "b"]}),
                         (b"RPUSH", [b"l", b"a", b"b"]))

    def test_auth(self):
        """
        C{AUTH} takes the password as C{value}, or user and password in
        C{args}.
        """
        self.assertEqual(command({"type": "AUTH", "value": "pw"}),
                         (b"AUTH", [b"pw"]))
        self.assertEqual(command({"type": "AUTH", "args": ["default", "pw"]}),
                         (b"AUTH", [b"default", b"pw"]))

    def test_nonStringValuesAsJSONText(self):
        """
        Values that are not strings are stored as their JSON text.
        """
        self.assertEqual(command({"type": "SET", "key": "k", "value": 5}),
                         (b"SET", [b"k", b"5"]))
        self.assertEqual(
            command({"type": "SET", "key": "k", "value": {"a": [1, True]}}),
            (b"SET", [b"k", b'{"a": [1, true]}']))
        self.assertEqual(
            command({"type": "SET", "key": "k", "value": ["a", None]}),
            (b"SET", [b"k", b'["a", null]']))
        self.assertEqual(
            command({"type": "MSET", "value": {"a": 1, "b": None}}),
            (b"MSET", [b"a", b"1", b"b", b"null"]))

    def test_numberKey(self):
        """
        A number key is converted with C{str()}.
        """
        self.assertEqual(command({"type": "GET", "key": 12}),
                         (b"GET", [b"12"]))

    def test_unicode(self):
        """
        Strings are UTF-8 encoded.
        """
        self.assertEqual(command({"type": "SET", "key": "cl\u00e9",
                                  "value": "\u2603"}),
                         (b"SET", [b"cl\xc3\xa9", b"\xe2\x98\x83"]))

    def test_malformedJSON(self):
        """
        Malformed JSON, invalid UTF-8 and absurd nesting are errors.
        """
        for line in [b"{", b'{"type": "GET",}', b"{\xff}",
                     b"{" + b"[" * 100000]:
            result = jsonlines.parse(line)
            self.assertIsInstance(result, Error, line[:20])
            self.assertTrue(result.startswith("ERR invalid JSON"), result)

    def test_wrongShape(self):
        """
        JSON of the wrong shape is an error.
        """
        for obj in [[1], {"key": "k"}, {"type": 3}, {"type": "GET",
                    "key": {"a": 1}}, {"type": "GET", "key": True},
                    {"type": "GET", "key": None},
                    {"type": "LPUSH", "key": "l", "args": "a"},
                    {"type": "MGET", "key": ["a", []]}]:
            self.assertIsInstance(parse(obj), Error, obj)


class RenderTests(SynchronousTestCase):
    """
    Tests for L{jsonlines.render}.
    """

    def render(self, obj, reply):
        """
        Render C{reply} to the request C{obj}, check it is one line, and
        return it decoded.
        """
        data = jsonlines.render(parse(obj), reply)
        self.assertTrue(data.endswith(b"\n"))
        self.assertNotIn(b"\n", data[:-1])
        return json.loads(data)

    def test_generic(self):
        """
        Neutral replies are rendered as the matching JSON values.
        """
        get = {"type": "X"}
        cases = [
            (b"v", "v"), (5, 5), (None, None), (True, True), (1.5, 1.5),
            (OK, "OK"), (Status("PONG"), "PONG"), ([b"a", 1, None],
                                                   ["a", 1, None]),
            ({b"a": 1, b"b": [b"x"]}, {"a": 1, "b": ["x"]}),
            ({1: b"x"}, {"1": "x"}),
            (Verbatim(b"a\r\nb"), "a\r\nb"),
            ([WRONGTYPE], [{"error": WRONGTYPE}]),
            (float("inf"), "inf"),
        ]
        for reply, expected in cases:
            self.assertEqual(self.render(get, reply), expected, reply)

    def test_error(self):
        """
        An error reply is an object with an C{error} member.
        """
        self.assertEqual(self.render({"type": "GET", "key": "k"}, WRONGTYPE),
                         {"error": WRONGTYPE})

    def test_aliasArity(self):
        """
        C{DELETE} without a key names C{delete} in the arity error, not
        C{getdel}, the command it runs.
        """
        from kvtwist.replies import wrongArity
        self.assertEqual(self.render({"type": "DELETE"},
                                     wrongArity("GETDEL")),
                         {"error": "ERR wrong number of arguments for "
                                   "'delete' command"})
        self.assertEqual(self.render({"type": "GETDEL"},
                                     wrongArity("GETDEL")),
                         {"error": "ERR wrong number of arguments for "
                                   "'getdel' command"})

    def test_parseError(self):
        """
        A parse error is rendered as an C{error} object.
        """
        error = jsonlines.parse(b"{")
        self.assertEqual(json.loads(jsonlines.render(None, error)),
                         {"error": error})

    def test_nonUTF8(self):
        """
        Bytes that are not UTF-8 are rendered with U+FFFD replacing them.
        """
        self.assertEqual(self.render({"type": "GET", "key": "k"},
                                     b"a\xffb"), "a\ufffdb")

    def test_mgetObject(self):
        """
        C{MGET}'s array reply is rendered as an object keyed by the keys.
        """
        self.assertEqual(
            self.render({"type": "MGET", "key": ["a", "b"]}, [b"1", None]),
            {"a": "1", "b": None})

    def test_emptyMgetAndMset(self):
        """
        An empty C{MGET} answers C{{}} and an empty C{MSET} C{"OK"}, as the
        seed does.
        """
        request = parse({"type": "MGET", "key": []})
        self.assertEqual(json.loads(jsonlines.render(request, Status("PONG"))),
                         {})
        request = parse({"type": "MSET", "value": {}})
        self.assertEqual(json.loads(jsonlines.render(request, Status("PONG"))),
                         "OK")

    def test_unknownCommand(self):
        """
        An unknown type answers C{"UNKNOWN COMMAND"}.
        """
        request = parse({"type": "NOPE"})
        error = Error("ERR unknown command 'NOPE', with args beginning with: ")
        self.assertEqual(jsonlines.render(request, error),
                         b'"UNKNOWN COMMAND"\n')


class ProtocolTests(SynchronousTestCase):
    """
    JSON lines through L{kvtwist.protocol.KVProtocol}.
    """

    def setUp(self):
        """
        A connected protocol on a fresh store.
        """
        self.factory = makeFactory()
        self.proto, self.transport = connect(self.factory)

    def send(self, *objs, proto=None, transport=None):
        """
        Send each of C{objs} as a JSON line; return the decoded reply lines.
        """
        proto = proto or self.proto
        transport = transport or self.transport
        transport.clear()
        proto.dataReceived(b"".join(
            obj if type(obj) is bytes else json.dumps(obj).encode("utf-8")
            + b"\n" for obj in objs))
        data = transport.value()
        self.assertTrue(data.endswith(b"\n") or not data)
        return [json.loads(line) for line in data.splitlines()]

    def test_seedSession(self):
        """
        The seed's commands answer as the seed does.
        """
        self.assertEqual(
            self.send({"type": "SET", "key": "foo", "value": "bar"},
                      {"type": "GET", "key": "foo"},
                      {"type": "GET", "key": "nope"},
                      {"type": "MSET", "value": {"a": "1", "b": "2"}},
                      {"type": "MGET", "key": ["a", "b", "c"]},
                      {"type": "DELETE", "key": "a"},
                      {"type": "DELETE", "key": "a"},
                      {"type": "FLUSH"},
                      {"type": "GET", "key": "foo"},
                      {"type": "BOGUS", "key": "foo"}),
            ["OK", "bar", None, "OK", {"a": "1", "b": "2", "c": None},
             "1", None, "OK", None, "UNKNOWN COMMAND"])

    def test_errorsAndGoOn(self):
        """
        Malformed JSON and wrong shapes get an error line; the connection
        goes on.
        """
        replies = self.send(b"{nope\n", b'{"key": "k"}\n',
                            {"type": "GET", "key": "k"})
        self.assertEqual(len(replies), 3)
        self.assertIn("error", replies[0])
        self.assertIn("error", replies[1])
        self.assertIsNone(replies[2])
        self.assertFalse(self.transport.disconnecting)

    def test_otherCommands(self):
        """
        Every command of the table is reachable, errors included.
        """
        self.assertEqual(
            self.send({"type": "INCR", "key": "n"},
                      {"type": "INCRBY", "key": "n", "value": 5},
                      {"type": "LPUSH", "key": "l", "args": ["a", "b"]},
                      {"type": "LRANGE", "key": "l", "args": [0, -1]},
                      {"type": "GET", "key": "l"},
                      {"type": "EXISTS", "args": ["n", "l", "x"]},
                      {"type": "GET", "key": "n"}),
            [1, 6, 2, ["b", "a"], {"error": WRONGTYPE}, 2, "6"])

    def test_nonStringRoundTrip(self):
        """
        A non-string value comes back as its JSON text.
        """
        self.assertEqual(
            self.send({"type": "SET", "key": "k", "value": {"a": 1}},
                      {"type": "GET", "key": "k"}),
            ["OK", '{"a": 1}'])

    def test_sharedStore(self):
        """
        JSON lines see what the text and colon dialects wrote.
        """
        self.proto.dataReceived(b"SET t hello world\nPut:c:x\n")
        self.assertEqual(
            self.send({"type": "GET", "key": "t"},
                      {"type": "LRANGE", "key": "c", "args": [0, -1]}),
            ["hello world", ["x"]])

    def test_auth(self):
        """
        With a password set, commands are refused until AUTH succeeds; a
        wrong password is refused.
        """
        factory = makeFactory(password=b"pw")
        proto, transport = connect(factory)
        replies = self.send({"type": "SET", "key": "k", "value": "v"},
                            {"type": "AUTH", "value": "wrong"},
                            {"type": "NOPE"},
                            {"type": "AUTH", "value": "pw"},
                            {"type": "SET", "key": "k", "value": "v"},
                            {"type": "AUTH", "args": ["default", "pw"]},
                            {"type": "NOPE"},
                            proto=proto, transport=transport)
        self.assertEqual(replies[0]["error"][:6], "NOAUTH")
        self.assertEqual(replies[1]["error"][:9], "WRONGPASS")
        self.assertEqual(replies[2]["error"][:6], "NOAUTH")
        self.assertEqual(replies[3:], ["OK", "OK", "OK", "UNKNOWN COMMAND"])
        self.assertEqual(factory.store.get(b"k"), b"v")

    def test_quit(self):
        """
        C{QUIT} answers C{"OK"} and closes the connection.
        """
        self.assertEqual(self.send({"type": "QUIT"}), ["OK"])
        self.assertTrue(self.transport.disconnecting)
