"""
Tests for pub/sub: the hub (L{kvtwist.backends.pubsub}), the commands
(L{kvtwist.commands.pubsub}), RESP2's subscribed mode
(L{kvtwist.protocol.subscribed}), and a connection receiving messages
(L{kvtwist.protocol.connection}).
"""

from twisted.trial.unittest import SynchronousTestCase
from twisted.python import usage

from kvtwist.backends.pubsub import Hub
from kvtwist.commands import ClientState
from kvtwist.dialects.resp import encodeCommand as e
from kvtwist.replies import Push
from kvtwist.tap import parseOutputLimit
from kvtwist.test.test_protocol import connect, lose, makeFactory


class Listener(ClientState):
    """
    A client state that keeps what is pushed to it.
    """

    def __init__(self, id):
        ClientState.__init__(self, id)
        self.received = []
        self.push = self.received.append


class HubTests(SynchronousTestCase):
    """
    L{Hub}: subscriptions, their acknowledgements, deliveries.
    """

    def setUp(self):
        self.hub = Hub()
        self.a, self.b = Listener(1), Listener(2)

    def test_subscribe(self):
        """
        A frame per channel, with the client's count after it; a channel
        given twice counts once.
        """
        frames = self.hub.subscribe(self.a, [b"x", b"y", b"x"])
        self.assertEqual(frames, [[b"subscribe", b"x", 1],
                                  [b"subscribe", b"y", 2],
                                  [b"subscribe", b"x", 2]])
        self.assertEqual([type(f) for f in frames], [Push] * 3)
        self.assertEqual(self.hub.psubscribe(self.a, [b"x*"]),
                         [[b"psubscribe", b"x*", 3]])
        self.assertEqual(len(self.a.pubsub), 3)
        self.assertEqual(self.hub.clients, 1)

    def test_unsubscribe(self):
        """
        Unsubscribing from nothing says so with a null channel; without
        channels, from every one, in the order subscribed.
        """
        self.assertEqual(self.hub.unsubscribe(self.a, []),
                         [[b"unsubscribe", None, 0]])
        self.assertEqual(self.hub.punsubscribe(self.a, []),
                         [[b"punsubscribe", None, 0]])
        self.hub.subscribe(self.a, [b"x", b"y"])
        self.hub.psubscribe(self.a, [b"p*"])
        self.assertEqual(self.hub.unsubscribe(self.a, [b"nope"]),
                         [[b"unsubscribe", b"nope", 3]])
        self.assertEqual(self.hub.unsubscribe(self.a, []),
                         [[b"unsubscribe", b"x", 2],
                          [b"unsubscribe", b"y", 1]])
        self.assertEqual(self.hub.punsubscribe(self.a, []),
                         [[b"punsubscribe", b"p*", 0]])
        self.assertEqual((self.hub.channels(), self.hub.numpat(),
                          self.hub.clients), ([], 0, 0))

    def test_publish(self):
        """
        Channel subscribers get a C{message}, then pattern subscribers a
        C{pmessage}; a client subscribed both ways gets both; the count
        says how many deliveries.
        """
        self.hub.subscribe(self.a, [b"news"])
        self.hub.psubscribe(self.a, [b"n*"])
        self.hub.psubscribe(self.b, [b"ne?s", b"x*"])
        self.assertEqual(self.hub.publish(b"news", b"hi"), 3)
        self.assertEqual(self.a.received, [[b"message", b"news", b"hi"],
                                           [b"pmessage", b"n*", b"news",
                                            b"hi"]])
        self.assertEqual(self.b.received, [[b"pmessage", b"ne?s", b"news",
                                            b"hi"]])
        self.assertEqual(self.hub.publish(b"other", b"hi"), 0)

    def test_emptyChannel(self):
        """
        As in Redis, only stars match the empty channel.
        """
        self.hub.psubscribe(self.a, [b"*"])
        self.hub.psubscribe(self.b, [b"?*"])
        self.assertEqual(self.hub.publish(b"", b"m"), 1)
        self.assertEqual(self.a.received, [[b"pmessage", b"*", b"", b"m"]])

    def test_pubsubQueries(self):
        """
        The active channels (matching a pattern), subscribers per channel
        (patterns not counted), patterns.
        """
        self.hub.subscribe(self.a, [b"news", b"sport"])
        self.hub.subscribe(self.b, [b"news"])
        self.hub.psubscribe(self.b, [b"n*", b"s*"])
        self.hub.psubscribe(self.a, [b"n*"])
        self.assertEqual(sorted(self.hub.channels()), [b"news", b"sport"])
        self.assertEqual(self.hub.channels(b"n*"), [b"news"])
        self.assertEqual(self.hub.numsub([b"news", b"sport", b"x"]),
                         [(b"news", 2), (b"sport", 1), (b"x", 0)])
        self.assertEqual(self.hub.numpat(), 2)

    def test_forget(self):
        """
        A client that is gone subscribes to nothing: it gets nothing, and
        the channels it alone had are inactive.
        """
        self.hub.subscribe(self.a, [b"x"])
        self.hub.psubscribe(self.a, [b"*"])
        self.hub.forget(self.a)
        self.hub.forget(self.b)
        self.assertEqual(self.hub.publish(b"x", b"m"), 0)
        self.assertEqual((self.hub.channels(), self.hub.numpat(),
                          self.hub.clients), ([], 0, 0))


class OptionTests(SynchronousTestCase):
    """
    C{--pubsub-output-limit}.
    """

    def test_parse(self):
        """
        HARD SOFT SECONDS, with Redis's units.
        """
        self.assertEqual(parseOutputLimit("32mb 8mb 60"),
                         (32 * 1024 ** 2, 8 * 1024 ** 2, 60))
        self.assertEqual(parseOutputLimit("1000 1k 0"), (1000, 1000, 0))
        for bad in ["32mb 8mb", "x 1 1", "1 1 1.5", "1mib 1 1", ""]:
            self.assertRaises(usage.UsageError, parseOutputLimit, bad)


class SubscribedConnectionTests(SynchronousTestCase):
    """
    Connections that subscribe, in RESP2, RESP3 and the text protocol.
    """

    def setUp(self):
        self.factory, self.clock = makeFactory()
        self.sub, self.tsub = connect(self.factory)
        self.pub, self.tpub = connect(self.factory, port=40001)

    def publish(self, channel, message):
        self.tpub.clear()
        self.pub.dataReceived(e("PUBLISH", channel, message))
        return self.tpub.value()

    def test_resp2(self):
        """
        RESP2: the acknowledgements and messages are arrays; only
        (un)subscribing, PING (a C{pong} array), QUIT and RESET run, other
        commands get Redis's error; once subscribed to nothing, every
        command runs again.
        """
        self.sub.dataReceived(e("SUBSCRIBE", "a", "b"))
        self.assertEqual(self.tsub.value(),
                         b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
                         b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n")
        self.assertEqual(self.publish("a", "hi"), b":1\r\n")
        self.tsub.clear()
        self.sub.dataReceived(e("GET", "k") + e("PING") + e("PING", "x") +
                              e("PUBSUB", "NUMPAT") + e("NOSUCH") +
                              e("GET"))
        self.assertEqual(
            self.tsub.value(),
            b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / "
            b"(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
            b"context\r\n"
            b"*2\r\n$4\r\npong\r\n$0\r\n\r\n*2\r\n$4\r\npong\r\n$1\r\nx\r\n"
            b"-ERR Can't execute 'pubsub|numpat': only (P|S)SUBSCRIBE / "
            b"(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
            b"context\r\n"
            b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n"
            b"-ERR wrong number of arguments for 'get' command\r\n")
        self.tsub.clear()
        self.sub.dataReceived(e("UNSUBSCRIBE") + e("GET", "k") + e("PING"))
        self.assertEqual(self.tsub.value(),
                         b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n"
                         b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n"
                         b"$-1\r\n+PONG\r\n")

    def test_message(self):
        """
        A message reaches the subscriber as an array in RESP2, a push in
        RESP3; pattern subscribers get a C{pmessage}.
        """
        self.sub.dataReceived(e("PSUBSCRIBE", "n*"))
        other, tother = connect(self.factory, port=40002)
        other.dataReceived(e("HELLO", "3") + e("SUBSCRIBE", "news"))
        self.tsub.clear()
        tother.clear()
        self.assertEqual(self.publish("news", "hi"), b":2\r\n")
        self.assertEqual(self.tsub.value(),
                         b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n"
                         b"$2\r\nhi\r\n")
        self.assertEqual(tother.value(),
                         b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n")

    def test_resp3(self):
        """
        RESP3: acknowledgements are pushes, every command still runs, and
        a message to the publisher itself comes before its PUBLISH's
        reply.
        """
        self.sub.dataReceived(e("HELLO", "3"))
        self.tsub.clear()
        self.sub.dataReceived(e("SUBSCRIBE", "c") + e("SET", "k", "v") +
                              e("PUBLISH", "c", "m") + e("UNSUBSCRIBE") +
                              e("UNSUBSCRIBE"))
        self.assertEqual(self.tsub.value(),
                         b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"
                         b"+OK\r\n"
                         b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"
                         b":1\r\n"
                         b">3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:0\r\n"
                         b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n")

    def test_helloInSubscribedMode(self):
        """
        A RESP3 subscriber that goes back to RESP2 is in subscribed mode.
        """
        self.sub.dataReceived(e("HELLO", "3") + e("SUBSCRIBE", "c") +
                              e("HELLO", "2"))
        self.tsub.clear()
        self.sub.dataReceived(e("GET", "k"))
        self.assertIn(b"Can't execute 'get'", self.tsub.value())

    def test_orderWithReplies(self):
        """
        A message comes after the replies owed before it was published:
        here one waiting for its fsync.
        """
        self.factory.service.durable = True
        self.sub.dataReceived(e("HELLO", "3") + e("SET", "k", "v") +
                              e("SUBSCRIBE", "c"))
        self.tsub.clear()
        self.publish("c", "m")
        self.assertEqual(self.tsub.value(), b"")
        self.factory.service.fire()
        self.assertEqual(self.tsub.value(),
                         b"+OK\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"
                         b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n")

    def test_whileBlocked(self):
        """
        A RESP3 client blocked on BLPOP gets its messages meanwhile, and
        the pop when it comes.
        """
        self.sub.dataReceived(e("HELLO", "3") + e("SUBSCRIBE", "c") +
                              e("BLPOP", "q", "0"))
        self.tsub.clear()
        self.publish("c", "m")
        self.assertEqual(self.tsub.value(),
                         b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n")
        self.pub.dataReceived(e("RPUSH", "q", "x"))
        self.assertTrue(self.tsub.value().endswith(
            b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"))

    def test_text(self):
        """
        The text protocol subscribes too: messages are readable lines, and
        other commands still run.
        """
        self.sub.dataReceived(b"SUBSCRIBE news sport\r\n")
        self.assertEqual(
            self.tsub.value(),
            b"Subscribed to channel 'news' (1 subscription).\r\n"
            b"Subscribed to channel 'sport' (2 subscriptions).\r\n")
        self.sub.dataReceived(b"PSUBSCRIBE s*\r\n")
        self.tsub.clear()
        self.publish("sport", "goal\n!")
        self.sub.dataReceived(b"GET k\r\nUNSUBSCRIBE\r\n")
        self.assertEqual(
            self.tsub.value(),
            b"Message on 'sport': goal\\n!\r\n"
            b"Message on 'sport' (pattern 's*'): goal\\n!\r\n"
            b"Key 'k' not found.\r\n"
            b"Unsubscribed from channel 'news' (2 subscriptions).\r\n"
            b"Unsubscribed from channel 'sport' (1 subscription).\r\n")

    def test_jsonLinesRefused(self):
        """
        A JSON-lines request can't subscribe: its dialect has no way to
        show messages.
        """
        self.sub.dataReceived(b'{"type": "SUBSCRIBE", "key": "c"}\n')
        self.assertIn(b"SUBSCRIBE needs a connection that can receive "
                      b"messages", self.tsub.value())
        self.assertEqual(self.publish("c", "m"), b":0\r\n")

    def test_disconnect(self):
        """
        A subscriber that goes away is unsubscribed.
        """
        self.sub.dataReceived(e("SUBSCRIBE", "c") + e("PSUBSCRIBE", "*"))
        lose(self.sub)
        self.assertEqual(self.publish("c", "m"), b":0\r\n")
        self.tpub.clear()
        self.pub.dataReceived(e("PUBSUB", "NUMSUB", "c") +
                              e("PUBSUB", "NUMPAT"))
        self.assertEqual(self.tpub.value(),
                         b"*2\r\n$1\r\nc\r\n:0\r\n:0\r\n")

    def test_reset(self):
        """
        RESET unsubscribes, and the connection runs every command again.
        """
        self.sub.dataReceived(e("SUBSCRIBE", "c") + e("RESET"))
        self.tsub.clear()
        self.sub.dataReceived(e("GET", "k"))
        self.assertEqual(self.tsub.value(), b"$-1\r\n")
        self.assertEqual(self.publish("c", "m"), b":0\r\n")

    def test_notIdle(self):
        """
        A subscriber is not closed for being idle (C{--timeout}).
        """
        factory, clock = makeFactory(timeout=10)
        factory.startFactory()
        self.addCleanup(factory.stopFactory)
        sub, tsub = connect(factory)
        idle, tidle = connect(factory, port=40002)
        sub.dataReceived(e("SUBSCRIBE", "c"))
        for _ in range(30):
            clock.advance(1)
        self.assertTrue(tsub.connected)
        self.assertFalse(tidle.connected)

    def test_info(self):
        """
        INFO counts the subscribed clients, channels and patterns.
        """
        self.sub.dataReceived(e("SUBSCRIBE", "a", "b") +
                              e("PSUBSCRIBE", "x*"))
        self.pub.dataReceived(e("INFO"))
        info = self.tpub.value()
        for line in [b"pubsub_clients:1\r\n", b"pubsub_channels:2\r\n",
                     b"pubsub_patterns:1\r\n",
                     b"client_output_buffer_limit_disconnections:0\r\n"]:
            self.assertIn(line, info)

    def test_metrics(self):
        """
        C{/metrics} has the same figures, and the blocked clients.
        """
        from kvtwist.stats import takeSnapshot
        from kvtwist.web.metrics import render
        self.sub.dataReceived(e("SUBSCRIBE", "a", "b"))
        self.pub.dataReceived(e("BLPOP", "q", "0"))
        values = {family.name: family.samples[0].value
                  for family in render(takeSnapshot(self.factory))
                  if family.samples}
        self.assertEqual((values["kvtwist_pubsub_channels"],
                          values["kvtwist_pubsub_clients"],
                          values["kvtwist_blocked_clients"]), (2, 1, 1))


class SlowSubscriberTests(SynchronousTestCase):
    """
    A subscriber that doesn't read its messages is dropped past the
    pub/sub output limits; the publisher goes on.
    """

    def setUp(self):
        self.factory, self.clock = makeFactory(
            pubsubOutputLimit=(10000, 4000, 60))
        self.sub, self.tsub = connect(self.factory)
        self.pub, self.tpub = connect(self.factory, port=40001)
        self.sub.dataReceived(e("SUBSCRIBE", "c"))
        # Its transport's buffer is full: the transport pauses it.
        self.sub.pauseProducing()

    def publish(self, size=1000):
        self.tpub.clear()
        self.pub.dataReceived(e("PUBLISH", "c", "x" * size))
        return self.tpub.value()

    def test_hardLimit(self):
        """
        Past the hard limit, the subscriber is dropped at once, counted as
        closed by the server; the publisher's next message reaches no one.
        """
        for _ in range(9):
            self.assertEqual(self.publish(), b":1\r\n")
        self.assertTrue(self.tsub.connected)
        self.assertEqual(self.publish(), b":1\r\n")
        self.assertFalse(self.tsub.connected)
        self.assertEqual(self.factory.stats.closedByServer, 1)
        self.assertEqual(self.factory.stats.outputLimitDisconnects, 1)
        self.assertEqual(self.publish(), b":0\r\n")

    def test_softLimit(self):
        """
        Over the soft limit for its seconds, the subscriber is dropped;
        under it again before that, the time starts anew.
        """
        for _ in range(5):
            self.publish()
        self.clock.advance(59)
        self.publish()
        self.assertTrue(self.tsub.connected)
        self.clock.advance(1)
        self.publish()
        self.assertFalse(self.tsub.connected)

    def test_drained(self):
        """
        A subscriber that drains its transport starts counting anew.
        """
        for _ in range(9):
            self.publish()
        self.sub.resumeProducing()
        self.sub.pauseProducing()
        for _ in range(9):
            self.publish()
        self.assertTrue(self.tsub.connected)


class ClientListTests(SynchronousTestCase):
    """
    CLIENT LIST tells who is blocked and who subscribes to what.
    """

    def test_fields(self):
        """
        C{flags} (C{b} blocked, C{P} subscribed, C{N} neither), C{sub} and
        C{psub}.
        """
        factory, clock = makeFactory()
        sub, _ = connect(factory)
        blocked, _ = connect(factory, port=40001)
        asker, tasker = connect(factory, port=40002)
        sub.dataReceived(e("SUBSCRIBE", "a", "b") + e("PSUBSCRIBE", "c*"))
        blocked.dataReceived(e("BLPOP", "q", "0"))
        asker.dataReceived(e("CLIENT", "LIST"))
        lines = tasker.value().split(b"\n")[1:]
        self.assertIn(b" flags=P db=0 sub=2 psub=1 ", lines[0])
        self.assertIn(b" flags=b db=0 sub=0 psub=0 ", lines[1])
        self.assertIn(b" flags=N db=0 sub=0 psub=0 ", lines[2])
