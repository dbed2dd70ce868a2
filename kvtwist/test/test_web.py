"""
Tests for L{kvtwist.web}: the pages, the JSON API, sessions and CSRF,
C{/metrics}, the sampler and the service, driven with
L{twisted.web.test.requesthelper.DummyRequest} on a factory with a
L{Clock} and a real L{Store}; no sockets.
"""

import base64
import json
import re
from urllib.parse import unquote_to_bytes

from prometheus_client import REGISTRY, generate_latest
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import getChildForRequest
from twisted.web.error import UnsupportedMethod
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import TABLE
from kvtwist.factory import Config, KVFactory
from kvtwist.store import Store
from kvtwist.tap import Options
from kvtwist.test.test_protocol import connect
from kvtwist.web import WebSite, makeRoot, makeWebService
from kvtwist.web import keydata as webdata
from kvtwist.web.sampler import Sampler, SamplerService
from kvtwist.web.session import (COOKIE, LoginThrottle, LoginThrottled,
                                 clientHost)


class FakeService:
    """
    Just enough of a store service: a failure flag and C{info()}.
    """

    failure = None
    flushCount = 3
    flushErrors = 1
    persistenceErrors = 1
    lastSave = 0

    def __init__(self):
        self.flushDurations = [0.002, 0.004]
        self.snapshotDurations = [0.5]

    def whenDurable(self):
        return None

    def sealBatch(self):
        pass

    def info(self):
        return {"aof_fsync": "interval", "aof_current_size": 2048,
                "aof_flushes": 3, "aof_last_flush_duration_ms": 4,
                "aof_flush_errors": 1, "persistence_errors": 1}


class WebRequest(DummyRequest):
    """
    A L{DummyRequest} with cookies, a body, a method and a URI, as a real
    request has.
    """

    def __init__(self, method, path, args=None, headers=None, cookies=None,
                 body=b"", host="127.0.0.1"):
        rawPath, _, _ = path.partition("?")
        segments = [unquote_to_bytes(s) for s in rawPath[1:].split("/")]
        DummyRequest.__init__(self, segments)
        if host is None:
            self.client = UNIXAddress(b"/run/kvtwist.sock")
        elif ":" in host:
            self.client = IPv6Address("TCP", host, 40000)
        else:
            self.client = IPv4Address("TCP", host, 40000)
        self.method = method
        self.uri = path.encode("utf-8")
        self.path = rawPath.encode("utf-8")
        self.args = {k: [v] for k, v in (args or {}).items()}
        self.requestHeaders.setRawHeaders(b"host", [b"localhost:8080"])
        for name, value in (headers or {}).items():
            self.requestHeaders.setRawHeaders(name, [value])
        self.received = dict(cookies or {})
        self.cookiesSet = {}
        from io import BytesIO
        self.content = BytesIO(body)

    def isSecure(self):
        """
        Plain HTTP.
        """
        return False

    def getCookie(self, key):
        """
        A cookie the browser sent.
        """
        return self.received.get(key)

    def addCookie(self, k, v, **attributes):
        """
        Record a cookie set by the response.
        """
        self.cookiesSet[k] = (v, attributes)

    @property
    def status(self) -> int:
        """
        The response code (200 when none was set).
        """
        return self.responseCode or 200

    @property
    def body(self) -> bytes:
        """
        Everything written.
        """
        return b"".join(self.written)

    def json(self):
        """
        The body as JSON.
        """
        return json.loads(self.body.decode("utf-8"))


class Browser:
    """
    Sends L{WebRequest}s through a resource tree, keeping cookies, from
    client host C{host}.
    """

    def __init__(self, root, host="127.0.0.1"):
        self.root = root
        self.host = host
        self.cookies = {}

    def request(self, method, path, args=None, headers=None, body=b""):
        """
        Render one request to the end and return it.
        """
        request = WebRequest(method, path, args, headers, self.cookies, body,
                             self.host)
        resource = getChildForRequest(self.root, request)
        try:
            result = resource.render(request)
        except UnsupportedMethod:
            request.setResponseCode(405)
            result = b""
        if result is not NOT_DONE_YET:
            request.write(result)
            request.finish()
        assert request.finished, "request %s %s not finished" % (method, path)
        for name, (value, _) in request.cookiesSet.items():
            self.cookies[name] = value
        return request

    def get(self, path, **kw):
        """
        A GET.
        """
        return self.request(b"GET", path, **kw)

    def csrf(self):
        """
        The session's CSRF token, from C{/api/session}.
        """
        return self.get("/api/session").json()["csrfToken"]

    def post(self, path, args=None, csrf=True, **kw):
        """
        A form POST, with the CSRF token unless C{csrf} is false.
        """
        args = dict(args or {})
        if csrf:
            args[b"csrf"] = self.csrf().encode("ascii")
        return self.request(b"POST", path, args=args, **kw)

    def postJSON(self, path, value, csrf=True):
        """
        A JSON POST to the API, the token in the header.
        """
        headers = {b"content-type": b"application/json"}
        if csrf:
            headers[b"x-csrf-token"] = self.csrf().encode("ascii")
        return self.request(b"POST", path, headers=headers,
                            body=json.dumps(value).encode("utf-8"))


def makeServer(password=None, store=None, backend=None):
    """
    A factory on a L{Clock} (with a store on the same clock), and a
    L{Browser} on its web root with a sampler.

    @param backend: the factory's backend (default: a memory backend over
        its store).
    """
    clock = Clock()
    clock.advance(1000)
    if store is None:
        store = Store(lambda: clock.seconds() * 1000)
    factory = KVFactory(store, FakeService(), Config(password=password),
                        clock=clock, backend=backend)
    sampler = Sampler(factory, size=10, interval=2.0)
    browser = Browser(makeRoot(factory, clock=clock, sampler=sampler))
    return factory, clock, sampler, browser


class StatusTests(SynchronousTestCase):
    """
    C{/api/status} and the status page.
    """

    def test_statusJSON(self):
        """
        The status tells uptime by the factory's clock, clients, commands,
        keys, memory and the service's persistence state.
        """
        factory, clock, sampler, browser = makeServer()
        factory.store.set(b"a", b"1")
        proto, _ = connect(factory)
        proto.dataReceived(b"SET b 2\r\n")
        clock.advance(65)
        status = browser.get("/api/status").json()
        self.assertEqual(status["uptime"], 65)
        self.assertEqual(status["clients"]["connected"], 1)
        self.assertEqual(status["clients"]["dropped"], 0)
        self.assertEqual(status["commands"]["total"], 1)
        self.assertEqual(status["keys"], 2)
        self.assertGreaterEqual(status["memory"]["rss"], 0)
        self.assertEqual(status["persistence"]["failure"], None)
        self.assertEqual(status["persistence"]["fields"]["aof_fsync"],
                         "interval")
        self.assertIn(["Log size", "2.0 KiB"],
                      status["persistence"]["summary"])
        self.assertIn(["Last snapshot", "never"],
                      status["persistence"]["summary"])

    def test_liveCounts(self):
        """
        Connecting and dropping clients shows in the next status and in
        the sampled history, with commands per second between samples.
        """
        factory, clock, sampler, browser = makeServer()
        sampler.sample()
        proto, _ = connect(factory)
        for _ in range(10):
            proto.dataReceived(b"PING\r\n")
        clock.advance(2)
        sampler.sample()
        proto.transport.loseConnection()
        clock.advance(2)
        sampler.sample()
        status = browser.get("/api/status").json()
        self.assertEqual(status["clients"]["connected"], 0)
        self.assertEqual(status["clients"]["dropped"], 1)
        history = status["history"]
        self.assertEqual([h["connected"] for h in history], [0, 1, 0])
        self.assertEqual([h["droppedDelta"] for h in history], [0, 0, 1])
        self.assertEqual([h["disconnectsPerSecond"] for h in history],
                         [0, 0, 0.5])
        self.assertEqual([h["closedByServerDelta"] for h in history],
                         [0, 0, 0])
        self.assertEqual(history[1]["commandsPerSecond"], 5.0)
        self.assertTrue(all(h["memory"] >= 0 for h in history))
        self.assertEqual(status["clients"]["disconnectsPerSecond"], 0.5)

    def test_closedByServerSampled(self):
        """
        A client the server closed shows in the history apart from the
        disconnects.
        """
        factory, clock, sampler, browser = makeServer()
        sampler.sample()
        proto, transport = connect(factory)
        proto.dataReceived(b"*1\r\n$x\r\n")
        clock.advance(2)
        sampler.sample()
        status = browser.get("/api/status").json()
        self.assertEqual(status["clients"]["closedByServer"], 1)
        self.assertEqual([h["closedByServerDelta"]
                          for h in status["history"]], [0, 1])

    def test_failureShown(self):
        """
        A persistence failure is in the status and shown in the banner.
        """
        factory, clock, sampler, browser = makeServer()
        factory.service.failure = "disk full <b>"
        self.assertEqual(
            browser.get("/api/status").json()["persistence"]["failure"],
            "disk full <b>")
        page = browser.get("/").body
        self.assertIn(b"disk full &lt;b&gt;", page)
        self.assertNotIn(b'id="failure" role="alert" hidden', page)

    def test_statusPage(self):
        """
        The status page is HTML with the figures, the live fields the
        script updates, and the security headers.
        """
        factory, clock, sampler, browser = makeServer()
        request = browser.get("/")
        self.assertEqual(request.status, 200)  # 200
        self.assertTrue(request.body.startswith(b"<!DOCTYPE html>"))
        self.assertIn(b'data-field="clients.connected"', request.body)
        self.assertIn(b'data-field="clients.disconnectsPerSecond"',
                      request.body)
        self.assertIn(b'data-field="clients.closedByServer"', request.body)
        self.assertNotIn(b"Dropped clients", request.body)
        for chart in (b'id="chart"', b'id="chart-commands"',
                      b'id="chart-memory"'):
            self.assertIn(chart, request.body)
        self.assertIn(b'<script src="/static/app.js"', request.body)
        self.assertIn(b"script-src 'self'", request.responseHeaders
                      .getRawHeaders(b"content-security-policy")[0])


class FormatTests(SynchronousTestCase):
    """
    Figures for people (L{kvtwist.web.fmt}).
    """

    def test_rate(self):
        """
        A rate has one decimal below 10, else is whole and grouped by
        thousands (not C{37243.9}).
        """
        from kvtwist.web import fmt
        self.assertEqual([fmt.rate(v) for v in (0, 2.54, 9.94, 37243.9,
                                                1234567.2)],
                         ["0.0", "2.5", "9.9", "37,244", "1,234,567"])

    def test_count(self):
        """
        Counts are grouped by thousands.
        """
        from kvtwist.web import fmt
        self.assertEqual(fmt.count(1234567), "1,234,567")

    def test_rateOnThePage(self):
        """
        The status page shows commands per second in that format.
        """
        factory, clock, sampler, browser = makeServer()
        sampler.sample()
        factory.stats.commandsProcessed += 74488
        clock.advance(2)
        sampler.sample()
        self.assertIn(b">37,244<", browser.get("/").body)


class SamplerTests(SynchronousTestCase):
    """
    L{Sampler} and L{SamplerService}.
    """

    def test_ringBuffer(self):
        """
        Only the last C{size} samples are kept.
        """
        factory, clock, _, _ = makeServer()
        sampler = Sampler(factory, size=3)
        for _ in range(5):
            sampler.sample()
            clock.advance(1)
        self.assertEqual(len(sampler.samples), 3)
        self.assertEqual(sampler.samples[0].time, 1002)

    def test_serviceSamplesOnTheClock(self):
        """
        The service samples at once, then every interval, and stops.
        """
        factory, clock, _, _ = makeServer()
        sampler = Sampler(factory, interval=5)
        service = SamplerService(sampler, clock=clock)
        service.startService()
        self.assertEqual(len(sampler.samples), 1)
        clock.advance(5)
        clock.advance(5)
        self.assertEqual(len(sampler.samples), 3)
        service.stopService()
        clock.advance(50)
        self.assertEqual(len(sampler.samples), 3)

    def test_failingSampleKeepsLooping(self):
        """
        A sample that raises is logged and the loop goes on.
        """
        factory, clock, _, _ = makeServer()
        sampler = Sampler(factory, interval=1)
        calls = []

        def broken():
            calls.append(1)
            raise RuntimeError("boom")
        sampler.sample = broken
        service = SamplerService(sampler, clock=clock)
        service.startService()
        clock.advance(1)
        self.assertEqual(len(calls), 2)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 2)
        service.stopService()


class ClientsTests(SynchronousTestCase):
    """
    C{/api/clients} and C{/clients}.
    """

    def test_clients(self):
        """
        Each connected client with its address, dialect, name, idle time
        and commands run.
        """
        factory, clock, _, browser = makeServer()
        proto, _ = connect(factory, port=41000)
        proto.dataReceived(b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n"
                           b"$6\r\nworker\r\n")
        clock.advance(7)
        clients = browser.get("/api/clients").json()["clients"]
        self.assertEqual(len(clients), 1)
        c = clients[0]
        self.assertEqual((c["addr"], c["dialect"], c["name"], c["idle"],
                          c["commands"]),
                         ("127.0.0.1:41000", "resp", "worker", 7, 1))
        page = browser.get("/clients").body
        self.assertIn(b"127.0.0.1:41000", page)
        self.assertIn(b"worker", page)


class KeyBrowserTests(SynchronousTestCase):
    """
    C{/api/keys} and C{/keys}: paging with SCAN.
    """

    def test_pagesCoverEveryKeyOnce(self):
        """
        Following C{next} from cursor 0 visits every key exactly once, a
        page at a time, and ends with C{next} 0.
        """
        factory, clock, _, browser = makeServer()
        for i in range(120):
            factory.store.set(b"k%03d" % (i,), b"v")
        seen = []
        cursor = 0
        pages = 0
        while True:
            page = browser.get("/api/keys?count=50&cursor=%d" % (cursor,),
                               args={b"count": b"50",
                                     b"cursor": b"%d" % (cursor,)}).json()
            self.assertLessEqual(len(page["keys"]), 50)
            seen.extend(k["key"] for k in page["keys"])
            pages += 1
            cursor = page["next"]
            if not cursor:
                break
        self.assertEqual(pages, 3)
        self.assertEqual(sorted(seen), ["k%03d" % (i,) for i in range(120)])

    def test_pattern(self):
        """
        Only keys matching the pattern, with their type and TTL.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"user:1", b"a", expireAtMs=clock.seconds() * 1000
                          + 30000)
        factory.store.push(b"user:2", [b"x"])
        factory.store.set(b"other", b"b")
        page = browser.get("/api/keys", args={b"pattern": b"user:*"}).json()
        self.assertEqual(page["keys"], [
            {"key": "user:1", "type": "string", "ttl": 30000,
             "binary": False},
            {"key": "user:2", "type": "list", "ttl": -1, "binary": False}])
        self.assertEqual(page["next"], 0)

    def test_boundedWork(self):
        """
        A pattern that matches nothing in a big store returns an empty page
        after visiting at most L{webdata.SCAN_BUDGET} slots, with a cursor
        to go on: the whole store is never walked in one request.
        """
        factory, clock, _, browser = makeServer()
        for i in range(webdata.SCAN_BUDGET + 1000):
            factory.store.set(b"k%d" % (i,), b"v")
        visited = []
        scan = factory.store.scan

        def countingScan(cursor, pattern, count):
            visited.append(count)
            return scan(cursor, pattern, count)
        factory.store.scan = countingScan
        page = browser.get("/api/keys", args={b"pattern": b"nomatch*"}).json()
        self.assertEqual(page["keys"], [])
        self.assertEqual(page["next"], webdata.SCAN_BUDGET)
        self.assertEqual(sum(visited), webdata.SCAN_BUDGET)

    def test_pageLinks(self):
        """
        The HTML browser links each key by its percent-encoded name and
        offers the next page, keeping the pattern.
        """
        factory, clock, _, browser = makeServer()
        for i in range(60):
            factory.store.set(b"a/b %d" % (i,), b"v")
        body = browser.get("/keys", args={b"pattern": b"a/*"}).body
        self.assertIn(b'href="/keys/a%2Fb%200"', body)
        self.assertIn(b'href="/keys?pattern=a%2F%2A&amp;cursor=50&amp;back=0"',
                      body)

    def test_deferredBackend(self):
        """
        Over a backend that answers through Deferreds (as one over a remote
        engine does), the key browser, a key and a change work the same.
        """
        store = Store()
        store.set(b"k", b"v")
        store.push(b"l", [b"1", b"2"])
        factory, clock, _, browser = makeServer(
            store=store, backend=DeferredBackend(MemoryBackend(store)))
        page = browser.get("/api/keys").json()
        self.assertEqual(sorted(k["key"] for k in page["keys"]), ["k", "l"])
        self.assertEqual(browser.get("/api/keys/l").json()["items"],
                         ["1", "2"])
        self.assertIn(b"2 keys", browser.get("/keys").body)
        browser.postJSON("/api/keys/k", {"value": "w"})
        self.assertEqual(store.get(b"k"), b"w")

    def test_onlyThroughTheBackend(self):
        """
        The web interface reads and writes keys only by running commands
        through the factory's backend, never through the factory's store
        (a front end over Redis Cluster has none).
        """
        store = Store()
        store.set(b"k", b"v", expireAtMs=10 ** 15)
        store.push(b"l", [b"1"])
        guarded = GuardedStore(store)
        factory, clock, _, browser = makeServer(
            store=guarded, backend=GuardingBackend(MemoryBackend(guarded),
                                                   guarded))
        self.assertEqual(
            sorted(k["key"] for k in browser.get("/api/keys").json()["keys"]),
            ["k", "l"])
        self.assertIn(b"2 keys", browser.get("/keys").body)
        self.assertIn(b"1 matching",
                      browser.get("/keys", args={b"pattern": b"k*"}).body)
        self.assertEqual(browser.get("/keys/k").status, 200)
        self.assertEqual(browser.get("/keys/l").status, 200)
        self.assertEqual(browser.post("/keys/k", {b"action": b"set",
                                                  b"value": b"w"}).status, 303)
        self.assertEqual(store.get(b"k"), b"w")
        self.assertGreater(store.ttlMs(b"k"), 0)


class GuardedStore:
    """
    A store that only commands may use: outside L{GuardingBackend}'s
    C{execute}, any use fails the test.
    """

    def __init__(self, inner):
        self._inner = inner
        self.inCommand = False

    def __getattr__(self, name):
        if not self.inCommand:
            raise AssertionError("the web interface used the store's %s"
                                 % (name,))
        return getattr(self._inner, name)


class GuardingBackend:
    """
    Lets the commands it runs use a L{GuardedStore}.
    """

    def __init__(self, inner, guarded):
        self.inner = inner
        self.guarded = guarded

    def execute(self, ctx, name, args):
        self.guarded.inCommand = True
        try:
            return self.inner.execute(ctx, name, args)
        finally:
            self.guarded.inCommand = False

    def endTurn(self):
        self.inner.endTurn()


class DeferredBackend:
    """
    A backend whose every reply is a Deferred (already fired).
    """

    def __init__(self, inner):
        self.inner = inner

    def execute(self, ctx, name, args):
        return maybeDeferred(self.inner.execute, ctx, name, args)

    def endTurn(self):
        self.inner.endTurn()


class KeyTests(SynchronousTestCase):
    """
    One key: C{/api/keys/KEY} and C{/keys/KEY}.
    """

    def test_string(self):
        """
        A string's type, value, length and TTL.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"greeting", b"hello",
                          expireAtMs=clock.seconds() * 1000 + 90000)
        self.assertEqual(browser.get("/api/keys/greeting").json(), {
            "key": "greeting", "type": "string", "ttl": 90000,
            "value": "hello", "length": 5, "binary": False,
            "truncated": False})
        body = browser.get("/keys/greeting").body
        self.assertIn(b"hello", body)
        self.assertIn(b"1 min 30 s", body)

    def test_list(self):
        """
        A list's items, in order.
        """
        factory, clock, _, browser = makeServer()
        factory.store.push(b"q", [b"a", b"b", b"c"])
        info = browser.get("/api/keys/q").json()
        self.assertEqual((info["type"], info["items"], info["length"]),
                         ("list", ["a", "b", "c"], 3))
        self.assertIn(b"<li>b</li>", browser.get("/keys/q").body)

    def test_missing(self):
        """
        A missing key is a 404, in the API and on the page.
        """
        factory, clock, _, browser = makeServer()
        self.assertEqual(browser.get("/api/keys/nope").status, 404)
        self.assertEqual(browser.get("/keys/nope").status, 404)

    def test_binaryKeyAndValue(self):
        """
        A key that is not UTF-8 is reached by its percent-encoded bytes;
        it and its value are shown escaped (C{\\xff}), not with
        replacement characters, and the value is flagged as binary; so
        are list items.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"\xff\x00k", b"\xfe\x00a\\b")
        info = browser.get("/api/keys/%FF%00k").json()
        self.assertTrue(info["binary"])
        self.assertEqual(info["key"], "\\xff\\x00k")
        self.assertEqual(info["value"], "\\xfe\\x00a\\\\b")
        body = browser.get("/keys/%FF%00k").body
        self.assertIn(b"\\xfe\\x00a\\\\b</pre>", body)
        self.assertNotIn("\ufffd".encode("utf-8"), body)
        self.assertIn(b'name="encoding" value="escaped"', body)
        page = browser.get("/api/keys").json()
        self.assertEqual(page["keys"][0]["key"], "\\xff\\x00k")
        self.assertTrue(page["keys"][0]["binary"])
        factory.store.push(b"l", [b"ok", b"\xff"])
        info = browser.get("/api/keys/l").json()
        self.assertEqual((info["items"], info["binaryItems"]),
                         (["ok", "\\xff"], [1]))

    def test_textShownAsIs(self):
        """
        Text, line breaks, tabs and backslashes included, is shown as it is
        and not flagged.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"t", "caf\u00e9\n\ta\\b".encode("utf-8"))
        info = browser.get("/api/keys/t").json()
        self.assertEqual((info["value"], info["binary"]),
                         ("caf\u00e9\n\ta\\b", False))


class EscapingTests(SynchronousTestCase):
    """
    Every value is escaped: markup in keys or values shows as text.
    """

    XSS = b"<script>alert(1)</script>"

    def test_valueOnKeyPage(self):
        """
        A string value with markup is escaped in the page, and in the form
        that edits it.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"x", self.XSS)
        body = browser.get("/keys/x").body
        self.assertNotIn(self.XSS, body)
        self.assertIn(b"&lt;script&gt;alert(1)&lt;/script&gt;", body)

    def test_listItemsAndKeyNames(self):
        """
        List items and key names with markup are escaped in the key page
        and the browser.
        """
        factory, clock, _, browser = makeServer()
        factory.store.push(self.XSS, [self.XSS, b'"><img src=x>'])
        listing = browser.get("/keys").body
        page = browser.get("/keys/%3Cscript%3Ealert(1)%3C%2Fscript%3E").body
        for body in (listing, page):
            self.assertNotIn(self.XSS, body)
            self.assertNotIn(b"<img", body)
            self.assertIn(b"&lt;script&gt;", body)

    def test_patternEchoedEscaped(self):
        """
        The pattern typed in the search box comes back escaped.
        """
        factory, clock, _, browser = makeServer()
        body = browser.get("/keys", args={b"pattern": b'"><script>'}).body
        self.assertNotIn(b'"><script>', body)
        self.assertIn(b"&quot;&gt;&lt;script&gt;", body)

    def test_clientNameEscaped(self):
        """
        A client's name is escaped on the clients page.
        """
        factory, clock, _, browser = makeServer()
        proto, _ = connect(factory)
        proto.state.name = self.XSS
        body = browser.get("/clients").body
        self.assertNotIn(self.XSS, body)
        self.assertIn(b"&lt;script&gt;", body)

    def test_scriptUsesTextContent(self):
        """
        The page script never writes HTML: no innerHTML, outerHTML,
        insertAdjacentHTML or document.write.
        """
        from kvtwist.web.root import STATIC
        import os
        with open(os.path.join(STATIC, "app.js")) as f:
            script = f.read()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML",
                     "document.write"):
            self.assertNotIn(sink, script)
        self.assertIn("textContent", script)


class ChangeTests(SynchronousTestCase):
    """
    Setting, expiring and deleting keys: POST (or DELETE) with the CSRF
    token, through the command table.
    """

    def test_setWithForm(self):
        """
        A form POST sets the value, counts a SET, and redirects (303) to
        the key.
        """
        factory, clock, _, browser = makeServer()
        request = browser.post("/keys/k", {b"action": b"set",
                                           b"value": b"new", b"ttl": b"60"})
        self.assertEqual(request.status, 303)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"location"),
                         [b"/keys/k?done=saved"])
        self.assertEqual(factory.store.get(b"k"), b"new")
        self.assertEqual(factory.store.ttlMs(b"k"), 60000)
        self.assertEqual(factory.stats.perCommand.get("SET"), 1)

    def test_createWithForm(self):
        """
        The new-key form on C{/keys} creates a key.
        """
        factory, clock, _, browser = makeServer()
        request = browser.post("/keys", {b"key": b"a b", b"value": b"v"})
        self.assertEqual(request.status, 303)
        self.assertEqual(factory.store.get(b"a b"), b"v")

    def test_expirePersistDelete(self):
        """
        The expire, persist and delete actions do what they say.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"k", b"v")
        browser.post("/keys/k", {b"action": b"expire", b"seconds": b"30"})
        self.assertEqual(factory.store.ttlMs(b"k"), 30000)
        browser.post("/keys/k", {b"action": b"persist"})
        self.assertEqual(factory.store.ttlMs(b"k"), -1)
        request = browser.post("/keys/k", {b"action": b"delete"})
        self.assertEqual(request.responseHeaders.getRawHeaders(b"location"),
                         [b"/keys?done=deleted"])
        self.assertFalse(factory.store.exists(b"k"))

    def test_api(self):
        """
        The JSON API sets (with a TTL), expires and deletes.
        """
        factory, clock, _, browser = makeServer()
        self.assertEqual(browser.postJSON("/api/keys/k",
                                          {"value": "v", "ttl": 10}).json(),
                         {"ok": True})
        self.assertEqual(factory.store.ttlMs(b"k"), 10000)
        browser.postJSON("/api/keys/k/expire", {"seconds": 99})
        self.assertEqual(factory.store.ttlMs(b"k"), 99000)
        browser.postJSON("/api/keys/k/expire", {})
        self.assertEqual(factory.store.ttlMs(b"k"), -1)
        request = browser.request(
            b"DELETE", "/api/keys/k",
            headers={b"x-csrf-token": browser.csrf().encode()})
        self.assertEqual(request.json(), {"deleted": True})
        self.assertFalse(factory.store.exists(b"k"))
        request = browser.request(
            b"DELETE", "/api/keys/k",
            headers={b"x-csrf-token": browser.csrf().encode()})
        self.assertEqual(request.status, 404)

    def test_pushAndPopWithForm(self):
        """
        The push action makes or grows a list at either end (RPUSH or
        LPUSH), the pop action takes from either end; each redirects to
        the key, and they are counted as those commands.
        """
        factory, clock, _, browser = makeServer()
        request = browser.post("/keys/l", {b"action": b"push",
                                           b"value": b"b"})
        self.assertEqual(request.status, 303)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"location"),
                         [b"/keys/l?done=pushed"])
        browser.post("/keys/l", {b"action": b"push", b"value": b"c",
                                 b"end": b"right"})
        browser.post("/keys/l", {b"action": b"push", b"value": b"a",
                                 b"end": b"left"})
        self.assertEqual(factory.store.lrange(b"l", 0, -1),
                         [b"a", b"b", b"c"])
        request = browser.post("/keys/l", {b"action": b"pop",
                                           b"end": b"left"})
        self.assertEqual(request.responseHeaders.getRawHeaders(b"location"),
                         [b"/keys/l?done=popped"])
        browser.post("/keys/l", {b"action": b"pop", b"end": b"right"})
        self.assertEqual(factory.store.lrange(b"l", 0, -1), [b"b"])
        self.assertEqual(
            [factory.stats.perCommand.get(n)
             for n in ("RPUSH", "LPUSH", "LPOP", "RPOP")], [2, 1, 1, 1])
        self.assertIn(b"Popped.", browser.get(
            "/keys/l", args={b"done": b"popped"}).body)

    def test_listForms(self):
        """
        A list's page offers push and pop; a string's doesn't; a missing
        key's offers to start a list.
        """
        factory, clock, _, browser = makeServer()
        factory.store.push(b"l", [b"x"])
        factory.store.set(b"s", b"v")
        page = browser.get("/keys/l").body
        for marker in (b'id="push"', b'id="pop-left"', b'id="pop-right"'):
            self.assertIn(marker, page)
        self.assertNotIn(b'id="push"', browser.get("/keys/s").body)
        missing = browser.get("/keys/new")
        self.assertEqual(missing.status, 404)
        self.assertIn(b'id="push"', missing.body)

    def test_listMistakes(self):
        """
        Pushing to a string is refused (400, WRONGTYPE) and changes
        nothing; an end that is neither left nor right is a 400.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"s", b"v")
        request = browser.post("/keys/s", {b"action": b"push",
                                           b"value": b"x"})
        self.assertEqual(request.status, 400)
        self.assertIn(b"WRONGTYPE", request.body)
        self.assertEqual(factory.store.get(b"s"), b"v")
        request = browser.post("/keys/l", {b"action": b"push",
                                           b"value": b"x",
                                           b"end": b"middle"})
        self.assertEqual(request.status, 400)
        self.assertFalse(factory.store.exists(b"l"))
        request = browser.postJSON("/api/keys/l/pop", {"end": "middle"})
        self.assertEqual(request.status, 400)
        self.assertIn("left or right", request.json()["error"])

    def test_listAPI(self):
        """
        C{/api/keys/KEY/push} answers the new length, C{/pop} the value
        taken, or 404 once there is no list.
        """
        factory, clock, _, browser = makeServer()
        self.assertEqual(browser.postJSON("/api/keys/l/push",
                                          {"value": "b"}).json(),
                         {"length": 1})
        self.assertEqual(browser.postJSON("/api/keys/l/push",
                                          {"value": "a", "end": "left"})
                         .json(), {"length": 2})
        self.assertEqual(browser.postJSON("/api/keys/l/push", {}).status,
                         400)
        self.assertEqual(browser.postJSON("/api/keys/l/pop",
                                          {"end": "left"}).json(),
                         {"value": "a", "binary": False})
        self.assertEqual(browser.postJSON("/api/keys/l/pop", {}).json(),
                         {"value": "b", "binary": False})
        self.assertEqual(browser.postJSON("/api/keys/l/pop", {}).status,
                         404)
        self.assertFalse(factory.store.exists(b"l"))

    def test_popBinaryAndEmpty(self):
        """
        A value popped through the API is shown escaped when it is not
        text (C{binary}); the form says when there was nothing to pop.
        """
        factory, clock, _, browser = makeServer()
        factory.store.push(b"l", [b"\xff\xfe", b"ok"])
        self.assertEqual(browser.postJSON("/api/keys/l/pop", {}).json(),
                         {"value": "ok", "binary": False})
        self.assertEqual(browser.postJSON("/api/keys/l/pop", {}).json(),
                         {"value": "\\xff\\xfe", "binary": True})
        request = browser.post("/keys/l", {b"action": b"pop"})
        self.assertEqual(request.responseHeaders.getRawHeaders(b"location"),
                         [b"/keys/l?done=empty"])
        self.assertIn(b"nothing to pop", browser.get(
            "/keys/l", args={b"done": b"empty"}).body)

    def test_misconf(self):
        """
        While persistence fails, a change is refused with 503 and the
        store is unchanged.
        """
        factory, clock, _, browser = makeServer()
        factory.service.failure = "disk full"
        request = browser.postJSON("/api/keys/k", {"value": "v"})
        self.assertEqual(request.status, 503)
        self.assertIn("MISCONF", request.json()["error"])
        self.assertFalse(factory.store.exists(b"k"))
        page = browser.post("/keys/k", {b"action": b"set", b"value": b"v"})
        self.assertEqual(page.status, 503)
        self.assertIn(b"MISCONF", page.body)

    def test_listMisconf(self):
        """
        While persistence fails, pushes and pops are refused with 503 and
        the list is unchanged.
        """
        factory, clock, _, browser = makeServer()
        factory.store.push(b"l", [b"a"])
        factory.service.failure = "disk full"
        for action in ("push", "pop"):
            request = browser.postJSON("/api/keys/l/" + action,
                                       {"value": "v"})
            self.assertEqual(request.status, 503, action)
            page = browser.post("/keys/l", {b"action": action.encode(),
                                            b"value": b"v"})
            self.assertEqual(page.status, 503, action)
        self.assertEqual(factory.store.lrange(b"l", 0, -1), [b"a"])

    def test_badInput(self):
        """
        A TTL that is not a positive integer is a 400 and changes nothing.
        """
        factory, clock, _, browser = makeServer()
        request = browser.postJSON("/api/keys/k", {"value": "v",
                                                   "ttl": "soon"})
        self.assertEqual(request.status, 400)
        request = browser.post("/keys/k", {b"action": b"set", b"value": b"v",
                                           b"ttl": b"-5"})
        self.assertEqual(request.status, 400)
        self.assertFalse(factory.store.exists(b"k"))


class TTLKeptTests(SynchronousTestCase):
    """
    Saving a value keeps the key's time to live unless asked otherwise,
    on the page and through the API.
    """

    def setUp(self):
        """
        A key with a minute to live.
        """
        self.factory, self.clock, _, self.browser = makeServer()
        self.factory.store.set(b"k", b"v", expireAtMs=self.clock.seconds()
                               * 1000 + 60000)

    def ttl(self):
        """
        The key's time to live, in ms.
        """
        return self.factory.store.ttlMs(b"k")

    def test_formKeeps(self):
        """
        The form with an empty TTL field (the default choice, "keep")
        saves the value and keeps the TTL.
        """
        for args in ({}, {b"ttl": b""}, {b"ttlmode": b"keep"},
                     {b"ttlmode": b"keep", b"ttl": b""}):
            args = dict(args, action=b"set", value=b"new")
            args = {k.encode() if isinstance(k, str) else k: v
                    for k, v in args.items()}
            request = self.browser.post("/keys/k", args)
            self.assertEqual(request.status, 303, args)
            self.assertEqual(self.factory.store.get(b"k"), b"new")
            self.assertEqual(self.ttl(), 60000, args)

    def test_formRemovesOrSets(self):
        """
        The "remove" choice removes the TTL; a number sets it (with the
        "set" choice, or typed without choosing).
        """
        self.browser.post("/keys/k", {b"action": b"set", b"value": b"a",
                                      b"ttlmode": b"set", b"ttl": b"90"})
        self.assertEqual(self.ttl(), 90000)
        self.browser.post("/keys/k", {b"action": b"set", b"value": b"a",
                                      b"ttlmode": b"keep", b"ttl": b"30"})
        self.assertEqual(self.ttl(), 30000)
        self.browser.post("/keys/k", {b"action": b"set", b"value": b"b",
                                      b"ttlmode": b"remove"})
        self.assertEqual((self.factory.store.get(b"k"), self.ttl()),
                         (b"b", -1))

    def test_formMistakes(self):
        """
        "Set" without a number, a number with "remove", or a TTL that is
        not a positive number are refused (400) and change nothing.
        """
        for args in ({b"ttlmode": b"set"},
                     {b"ttlmode": b"remove", b"ttl": b"5"},
                     {b"ttl": b"0"}, {b"ttl": b"x"},
                     {b"ttlmode": b"forever"}):
            args = dict(args, action=b"set", value=b"changed")
            args = {k.encode() if isinstance(k, str) else k: v
                    for k, v in args.items()}
            self.assertEqual(self.browser.post("/keys/k", args).status, 400,
                             args)
        self.assertEqual((self.factory.store.get(b"k"), self.ttl()),
                         (b"v", 60000))

    def test_formOffersTheChoice(self):
        """
        The key page's form shows the current TTL in its "keep" choice,
        checked, and offers to remove or set it.
        """
        body = self.browser.get("/keys/k").body
        self.assertIn(b'id="ttlmode-keep" checked="checked"', body)
        self.assertIn(b"Keep it (expires in 1 min)", body)
        self.assertIn(b'id="ttlmode-remove"', body)
        self.assertIn(b'id="ttlmode-set"', body)
        self.factory.store.set(b"p", b"v")
        body = self.browser.get("/keys/p").body
        self.assertIn(b"Keep it (no expiry)", body)
        self.assertNotIn(b'id="ttlmode-remove"', body)

    def test_api(self):
        """
        C{POST /api/keys/KEY} keeps the TTL without C{ttl} (or with
        C{null} or C{"keep"}), removes it with C{"remove"}, sets it with a
        number, and refuses anything else.
        """
        for body in ({"value": "a"}, {"value": "a", "ttl": None},
                     {"value": "a", "ttl": "keep"}, {"value": "a",
                                                     "ttl": ""}):
            self.assertEqual(self.browser.postJSON("/api/keys/k",
                                                   body).status, 200, body)
            self.assertEqual(self.ttl(), 60000, body)
        self.browser.postJSON("/api/keys/k", {"value": "b", "ttl": 5})
        self.assertEqual(self.ttl(), 5000)
        for bad in (0, -1, "x", "1.5"):
            self.assertEqual(self.browser.postJSON(
                "/api/keys/k", {"value": "c", "ttl": bad}).status, 400, bad)
        self.browser.postJSON("/api/keys/k", {"value": "d", "ttl": "remove"})
        self.assertEqual((self.factory.store.get(b"k"), self.ttl()),
                         (b"d", -1))

    def test_newKeyForm(self):
        """
        The new-key form without a TTL makes a key without one; with one,
        it sets it.
        """
        self.browser.post("/keys", {b"key": b"n", b"value": b"v"})
        self.assertEqual(self.factory.store.ttlMs(b"n"), -1)
        self.browser.post("/keys", {b"key": b"m", b"value": b"v",
                                    b"ttl": b"20"})
        self.assertEqual(self.factory.store.ttlMs(b"m"), 20000)

    def test_binaryEditKeepsBytes(self):
        """
        A binary value's form carries its escaped text and says so; saving
        it unchanged stores the same bytes.
        """
        self.factory.store.set(b"b", b"\xff\x00\\n\n")
        info = self.browser.get("/api/keys/b").json()
        request = self.browser.post("/keys/b", {
            b"action": b"set", b"encoding": b"escaped",
            b"value": info["value"].encode("utf-8")})
        self.assertEqual(request.status, 303)
        self.assertEqual(self.factory.store.get(b"b"), b"\xff\x00\\n\n")
        self.browser.postJSON("/api/keys/b", {"value": "\\x01", "encoding":
                                              "escaped"})
        self.assertEqual(self.factory.store.get(b"b"), b"\x01")
        self.assertEqual(self.browser.postJSON(
            "/api/keys/b", {"value": "x", "encoding": "rot13"}).status, 400)


class CountAndPagingTests(SynchronousTestCase):
    """
    The key browser: how many keys match, and previous/next pages.
    """

    def test_counts(self):
        """
        C{*} counts every key; a pattern counts its matches; a plain key
        name counts 0 or 1.
        """
        factory, clock, _, browser = makeServer()
        for i in range(12):
            factory.store.set(b"user:%d" % (i,), b"v")
        factory.store.set(b"other", b"v")
        self.assertIn(b">13 keys<", browser.get("/keys").body)
        self.assertIn(b">12 matching<", browser.get(
            "/keys", args={b"pattern": b"user:*"}).body)
        self.assertIn(b">1 matching<", browser.get(
            "/keys", args={b"pattern": b"other"}).body)
        self.assertIn(b">0 matching<", browser.get(
            "/keys", args={b"pattern": b"nothing"}).body)
        page = browser.get("/api/keys", args={b"pattern": b"user:1*",
                                              b"matching": b"1"}).json()
        self.assertEqual(page["matching"], {"count": 3, "exact": True})
        self.assertNotIn("matching", browser.get("/api/keys").json())

    def test_boundedCount(self):
        """
        Counting a pattern visits at most L{webdata.COUNT_BUDGET} slots;
        past it the count is shown as a lower bound, C{N+ matching}.
        """
        self.patch(webdata, "COUNT_BUDGET", 100)
        factory, clock, _, browser = makeServer()
        for i in range(250):
            factory.store.set(b"k%03d" % (i,), b"v")
        self.assertIn(b">10+ matching<", browser.get(
            "/keys", args={b"pattern": b"k00*"}).body)
        # What the page shows counts too.
        self.assertIn(b">50+ matching<", browser.get(
            "/keys", args={b"pattern": b"k1*"}).body)
        page = browser.get("/api/keys", args={b"pattern": b"k*",
                                              b"matching": b"1"}).json()
        self.assertEqual(page["matching"], {"count": 100, "exact": False})
        self.assertIn(b">250 keys<", browser.get("/keys").body)

    def test_previousAndNext(self):
        """
        Following "Next page" to the end and "Previous page" back visits
        the same pages, numbered, each key once.
        """
        factory, clock, _, browser = makeServer()
        for i in range(120):
            factory.store.set(b"k%03d" % (i,), b"v")

        def keysOf(body):
            return re.findall(rb'class="key">(k\d+)<', body)

        def link(body, rel):
            found = re.search(rb'<a href="([^"]+)" rel="%s"' % (rel,), body)
            return found and found.group(1).replace(b"&amp;", b"&").decode()

        def get(url):
            path, _, query = url.partition("?")
            args = {k.encode(): v.encode() for k, v in
                    (part.split("=", 1) for part in query.split("&")
                     if part)}
            args = {k: unquote_to_bytes(v) for k, v in args.items()}
            return browser.get(path, args=args).body

        pages = []
        body = get("/keys")
        self.assertIsNone(link(body, b"prev"))
        while True:
            pages.append(keysOf(body))
            self.assertIn(b"Page %d" % (len(pages),), body)
            url = link(body, b"next")
            if url is None:
                break
            body = get(url)
        self.assertEqual(len(pages), 3)
        self.assertEqual(sorted(sum(pages, [])),
                         [b"k%03d" % (i,) for i in range(120)])
        back = []
        while True:
            url = link(body, b"prev")
            if url is None:
                break
            body = get(url)
            back.append(keysOf(body))
        self.assertEqual(back, [pages[1], pages[0]])


class NotFoundTests(SynchronousTestCase):
    """
    URLs that name nothing get the site's own 404 page.
    """

    def test_styled404(self):
        """
        An unknown page, a path under a key, and a missing static file are
        404s in the site's layout, naming the path (escaped); any method.
        """
        factory, clock, _, browser = makeServer()
        for method, path in [(b"GET", "/nowhere"), (b"GET", "/a/b/c"),
                             (b"POST", "/nowhere"), (b"GET", "/keys/a/b"),
                             (b"GET", "/static/missing.css"),
                             (b"GET", "/static/"),
                             (b"GET", "/%3Cscript%3E")]:
            request = browser.request(method, path)
            self.assertEqual(request.status, 404, path)
            body = request.body
            self.assertIn(b"<title>Not found", body, path)
            self.assertIn(b'href="/static/style.css"', body, path)
            self.assertIn(b'id="missing-path"', body, path)
            self.assertNotIn(b"<script>", body, path)
        self.assertIn(b"/nowhere</code>", browser.get("/nowhere").body)

    def test_apiStaysJSON(self):
        """
        Under C{/api/}, a 404 is still JSON.
        """
        factory, clock, _, browser = makeServer()
        request = browser.get("/api/nowhere")
        self.assertEqual(request.status, 404)
        self.assertEqual(request.json(), {"error": "no such resource"})


class CSRFTests(SynchronousTestCase):
    """
    A change without the session's CSRF token is refused.
    """

    def assertRefused(self, request, factory):
        """
        403 and the store still holds C{k = v} with no TTL.
        """
        self.assertEqual(request.status, 403)
        self.assertEqual(factory.store.get(b"k"), b"v")
        self.assertEqual(factory.store.ttlMs(b"k"), -1)

    def test_formWithoutToken(self):
        """
        A form POST without a token is refused, for every action.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"k", b"v")
        browser.get("/keys/k")
        for action in (b"set", b"delete", b"expire"):
            request = browser.post("/keys/k", {b"action": action,
                                               b"value": b"x",
                                               b"seconds": b"1"},
                                   csrf=False)
            self.assertRefused(request, factory)

    def test_listChangesNeedToken(self):
        """
        Pushing and popping, by form or API, without the token (or the
        header) are refused and leave the list as it was.
        """
        factory, clock, _, browser = makeServer()
        factory.store.push(b"l", [b"a"])
        browser.get("/keys/l")
        for action in (b"push", b"pop"):
            request = browser.post("/keys/l", {b"action": action,
                                               b"value": b"x"}, csrf=False)
            self.assertEqual(request.status, 403)
            request = browser.postJSON("/api/keys/l/" + action.decode(),
                                       {"value": "x"}, csrf=False)
            self.assertEqual(request.status, 403)
        self.assertEqual(factory.store.lrange(b"l", 0, -1), [b"a"])

    def test_wrongToken(self):
        """
        Another session's token does not do.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"k", b"v")
        other = Browser(browser.root)
        token = other.csrf().encode()
        browser.csrf()
        request = browser.request(b"POST", "/keys/k", args={
            b"action": b"delete", b"csrf": token})
        self.assertRefused(request, factory)

    def test_noSession(self):
        """
        A request with no session cookie at all is refused, even with a
        token.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"k", b"v")
        token = browser.csrf().encode()
        stranger = Browser(browser.root)
        request = stranger.request(b"DELETE", "/api/keys/k",
                                   headers={b"x-csrf-token": token})
        self.assertRefused(request, factory)

    def test_apiWithoutHeader(self):
        """
        The JSON API refuses a change without the header.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"k", b"v")
        browser.csrf()
        self.assertRefused(browser.postJSON("/api/keys/k", {"value": "x"},
                                            csrf=False), factory)
        self.assertRefused(browser.request(b"DELETE", "/api/keys/k"),
                           factory)

    def test_foreignOrigin(self):
        """
        A change whose C{Origin} is another site is refused even with the
        right token.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"k", b"v")
        token = browser.csrf().encode()
        request = browser.request(b"POST", "/keys/k", args={
            b"action": b"delete", b"csrf": token},
            headers={b"origin": b"http://evil.example"})
        self.assertRefused(request, factory)
        request = browser.request(b"POST", "/keys/k", args={
            b"action": b"delete", b"csrf": token},
            headers={b"origin": b"http://localhost:8080"})
        self.assertEqual(request.status, 303)

    def test_cookieAttributes(self):
        """
        The session cookie is HttpOnly and SameSite=Strict, for the whole
        site (and Secure only over TLS).
        """
        factory, clock, _, browser = makeServer()
        request = browser.get("/")
        value, attributes = request.cookiesSet[COOKIE]
        self.assertEqual(attributes, {"path": b"/", "httpOnly": True,
                                      "sameSite": "strict", "secure": False})


class GetNeverChangesTests(SynchronousTestCase):
    """
    No GET changes the store, whatever its arguments.
    """

    def test_getsChangeNothing(self):
        """
        GETs of every page and API resource, with arguments that a POST
        would act on and a valid token, leave the store as it was and run
        only read-only commands.
        """
        factory, clock, _, browser = makeServer()
        factory.store.set(b"k", b"v")
        factory.store.push(b"l", [b"1"])
        before = factory.store.dumpState()
        token = browser.csrf().encode()
        for action in (b"delete", b"push", b"pop"):
            self.getEverything(browser, token, action)
        self.assertEqual(factory.store.dumpState(), before)
        self.assertTrue(factory.stats.perCommand)
        for name in factory.stats.perCommand:
            self.assertFalse(TABLE[name.encode("ascii")].write, name)

    def getEverything(self, browser, token, action):
        """
        GET every page and API resource with C{action} and what it takes.
        """
        args = {b"action": action, b"value": b"x", b"seconds": b"0",
                b"key": b"k", b"csrf": token, b"ttl": b"1", b"end": b"left"}
        for path in ("/", "/clients", "/keys", "/keys/k", "/keys/l",
                     "/api/status", "/api/clients", "/api/keys",
                     "/api/keys/k", "/api/keys/k/expire", "/metrics",
                     "/api/keys/l/push", "/api/keys/l/pop",
                     "/login", "/logout", "/api/logout", "/api/login"):
            request = browser.get(path, args=args,
                                  headers={b"x-csrf-token": token})
            self.assertNotEqual(request.status, 500, path)

    def test_getOnChangeOnlyResources(self):
        """
        Resources that only change things answer a GET with 405.
        """
        factory, clock, _, browser = makeServer()
        self.assertEqual(browser.get("/api/keys/k/expire").status, 405)
        self.assertEqual(browser.get("/api/keys/k/push").status, 405)
        self.assertEqual(browser.get("/api/keys/k/pop").status, 405)
        self.assertEqual(browser.get("/api/login").status, 405)


class MetricsTests(SynchronousTestCase):
    """
    C{/metrics}.
    """

    def test_names(self):
        """
        The Prometheus text has the C{kvtwist_} metrics with live values.
        """
        factory, clock, _, browser = makeServer()
        proto, _ = connect(factory)
        proto.dataReceived(b"SET a 1\r\nSET b 2\r\nGET a\r\n")
        other, _ = connect(factory, port=40001)
        other.transport.loseConnection()
        factory.store.set(b"gone", b"x", expireAtMs=clock.seconds() * 1000)
        clock.advance(1)
        factory.store.get(b"gone")
        request = browser.get("/metrics")
        self.assertTrue(request.responseHeaders.getRawHeaders(
            b"content-type")[0].startswith(b"text/plain; version="))
        text = request.body.decode()
        lines = set(text.splitlines())
        for line in ("kvtwist_connected_clients 1.0",
                     "kvtwist_dropped_clients_total 1.0",
                     'kvtwist_commands_total{command="set"} 2.0',
                     'kvtwist_commands_total{command="get"} 1.0',
                     "kvtwist_keys 2.0",
                     "kvtwist_expired_keys_total 1.0",
                     "kvtwist_flush_errors_total 1.0",
                     "kvtwist_persistence_errors_total 1.0",
                     "kvtwist_persistence_failing 0.0",
                     "kvtwist_last_flush_duration_seconds 0.004",
                     "kvtwist_last_snapshot_duration_seconds 0.5"):
            self.assertIn(line, lines)
        for name in ("kvtwist_net_input_bytes_total",
                     "kvtwist_net_output_bytes_total",
                     "kvtwist_uptime_seconds"):
            self.assertIn("\n" + name + " ", text)
        self.assertNotIn("python_gc", text)

    def test_ownRegistry(self):
        """
        Nothing is registered in the process-wide default registry.
        """
        makeServer()
        self.assertNotIn(b"kvtwist_", generate_latest(REGISTRY))


class LoginTests(SynchronousTestCase):
    """
    With a server password: a login page, a session cookie, CSRF on the
    login itself.
    """

    def login(self, browser, password):
        """
        Fetch the login page and post C{password} with its token.
        """
        browser.get("/login")
        return browser.post("/login", {b"password": password,
                                       b"next": b"/keys"})

    def test_redirectsToLogin(self):
        """
        Pages redirect to the login page; the API and metrics answer 401;
        the login page and static files are public.
        """
        factory, clock, _, browser = makeServer(password=b"s3cret")
        request = browser.get("/keys/k")
        self.assertEqual(request.status, 303)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"location"),
                         [b"/login?next=%2Fkeys%2Fk"])
        self.assertEqual(browser.get("/api/status").status, 401)
        self.assertEqual(browser.get("/api/keys/k").status, 401)
        self.assertEqual(browser.get("/metrics").status, 401)
        self.assertIn(b'type="password"', browser.get("/login").body)
        self.assertIn(b"textContent",
                      browser.get("/static/app.js").body)

    def test_wrongPassword(self):
        """
        A wrong password is refused (403), counted as an auth failure, and
        gives no access.
        """
        factory, clock, _, browser = makeServer(password=b"s3cret")
        request = self.login(browser, b"guess")
        self.assertEqual(request.status, 403)
        self.assertIn(b"Wrong password", request.body)
        self.assertEqual(factory.stats.authFailures, 1)
        self.assertEqual(browser.get("/api/status").status, 401)

    def test_login(self):
        """
        The right password starts a new session (a new cookie) and
        redirects to C{next}; the pages and API then answer, and the old
        cookie is worth nothing.
        """
        factory, clock, _, browser = makeServer(password=b"s3cret")
        browser.get("/login")
        before = browser.cookies[COOKIE]
        request = self.login(browser, b"s3cret")
        self.assertEqual(request.status, 303)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"location"),
                         [b"/keys"])
        self.assertNotEqual(browser.cookies[COOKIE], before)
        self.assertEqual(browser.get("/api/status").status, 200)
        self.assertEqual(browser.get("/keys").status, 200)
        planted = Browser(browser.root)
        planted.cookies[COOKIE] = before
        self.assertEqual(planted.get("/api/status").status, 401)

    def test_loginNeedsToken(self):
        """
        Even the login form needs the CSRF token.
        """
        factory, clock, _, browser = makeServer(password=b"s3cret")
        browser.get("/login")
        request = browser.post("/login", {b"password": b"s3cret"},
                               csrf=False)
        self.assertEqual(request.status, 403)
        self.assertEqual(browser.get("/api/status").status, 401)

    def test_nextStaysOnSite(self):
        """
        C{next} can't send the browser to another site.
        """
        factory, clock, _, browser = makeServer(password=b"s3cret")
        browser.get("/login")
        request = browser.post("/login", {b"password": b"s3cret",
                                          b"next": b"//evil.example/"})
        self.assertEqual(request.responseHeaders.getRawHeaders(b"location"),
                         [b"/"])

    def test_apiLoginAndLogout(self):
        """
        C{/api/login} and C{/api/logout} work with the session's token.
        """
        factory, clock, _, browser = makeServer(password=b"s3cret")
        session = browser.get("/api/session").json()
        self.assertEqual((session["authRequired"], session["authenticated"]),
                         (True, False))
        self.assertEqual(browser.postJSON("/api/login",
                                          {"password": "nope"}).status,
                         403)
        self.assertTrue(browser.postJSON("/api/login",
                                         {"password": "s3cret"}).json()
                        ["authenticated"])
        self.assertEqual(browser.get("/api/status").status, 200)
        browser.postJSON("/api/logout", {})
        self.assertEqual(browser.get("/api/status").status, 401)

    def test_guessingSlowedDown(self):
        """
        After L{LoginThrottle.FREE} wrong passwords in a row from one host,
        its logins are refused unchecked (429, C{Retry-After}), even with
        the right password, until the lock's time is up; other hosts are
        not affected.
        """
        factory, clock, _, browser = makeServer(password=b"s3cret")
        for _ in range(LoginThrottle.FREE + 1):
            self.assertEqual(self.login(browser, b"guess").status, 403)
        self.assertEqual(factory.stats.authFailures, LoginThrottle.FREE + 1)
        request = self.login(browser, b"s3cret")
        self.assertEqual(request.status, 429)
        self.assertEqual(request.responseHeaders.getRawHeaders(
            b"retry-after"), [b"1"])
        self.assertIn(b"Too many wrong passwords", request.body)
        self.assertEqual(browser.get("/api/status").status, 401)
        other = Browser(browser.root, host="10.1.2.3")
        self.assertEqual(self.login(other, b"s3cret").status, 303)
        clock.advance(1)
        self.assertEqual(self.login(browser, b"s3cret").status, 303)
        self.assertEqual(browser.get("/api/status").status, 200)

    def test_apiGuessingSlowedDown(self):
        """
        C{/api/login} counts against the same host: 429 with
        C{Retry-After} and a JSON error while it is locked out; attempts
        refused unchecked don't lengthen the lock.
        """
        factory, clock, _, browser = makeServer(password=b"s3cret")
        for _ in range(LoginThrottle.FREE + 1):
            self.assertEqual(browser.postJSON(
                "/api/login", {"password": "nope"}).status, 403)
        for password in ("nope", "s3cret"):
            request = browser.postJSON("/api/login", {"password": password})
            self.assertEqual(request.status, 429)
            self.assertEqual(request.responseHeaders.getRawHeaders(
                b"retry-after"), [b"1"])
            self.assertIn("too many wrong passwords",
                          request.json()["error"])
        clock.advance(1)
        self.assertTrue(browser.postJSON("/api/login", {"password": "s3cret"})
                        .json()["authenticated"])

    def test_sessionExpires(self):
        """
        A session unused for its lifetime ends.
        """
        factory, clock, _, browser = makeServer(password=b"s3cret")
        self.login(browser, b"s3cret")
        clock.advance(12 * 3600 + 1)
        self.assertEqual(browser.get("/api/status").status, 401)

    def test_metricsBasicAuth(self):
        """
        A scraper may use HTTP Basic authentication with the password.
        """
        factory, clock, _, browser = makeServer(password=b"s3cret")

        def scrape(password):
            auth = b"Basic " + base64.b64encode(b"prometheus:" + password)
            return browser.get("/metrics", headers={b"authorization": auth})
        self.assertEqual(scrape(b"wrong").status, 401)
        request = scrape(b"s3cret")
        self.assertEqual(request.status, 200)
        self.assertIn(b"kvtwist_keys", request.body)

    def test_basicAuthGuessingSlowedDown(self):
        """
        Wrong Basic passwords count like wrong logins: a host locked out
        is refused even with the right one until its time is up.
        """
        factory, clock, _, browser = makeServer(password=b"s3cret")

        def scrape(password):
            auth = b"Basic " + base64.b64encode(b"prometheus:" + password)
            return browser.get("/metrics", headers={b"authorization": auth})
        for _ in range(LoginThrottle.FREE + 1):
            self.assertEqual(scrape(b"wrong").status, 401)
        self.assertEqual(scrape(b"s3cret").status, 401)
        clock.advance(1)
        self.assertEqual(scrape(b"s3cret").status, 200)

    def test_oneCountForEveryWay(self):
        """
        Wrong passwords count together whichever way they come (the login
        form, C{/api/login}, Basic authentication), and an IPv6 client
        can't escape its count by changing address within its /64.
        """
        factory, clock, _, browser = makeServer(password=b"s3cret")
        first = Browser(browser.root, host="2001:db8::1")
        second = Browser(browser.root, host="2001:db8::2")
        auth = b"Basic " + base64.b64encode(b"x:wrong")
        for _ in range(2):
            first.get("/metrics", headers={b"authorization": auth})
        for _ in range(2):
            second.postJSON("/api/login", {"password": "nope"})
        self.login(first, b"nope")
        self.assertEqual(self.login(second, b"nope").status, 403)
        self.assertEqual(self.login(first, b"s3cret").status, 429)


class LoginThrottleTests(SynchronousTestCase):
    """
    L{LoginThrottle}: wrong passwords counted per host.
    """

    def setUp(self):
        self.clock = Clock()
        self.clock.advance(1000)
        self.throttle = LoginThrottle(self.clock, maxHosts=3)

    def retryAfter(self, host):
        """
        The seconds C{host} must wait, or L{None} if it may try now.
        """
        try:
            self.throttle.check(host)
        except LoginThrottled as e:
            return e.retryAfter
        return None

    def test_freeThenDoubling(self):
        """
        The first L{LoginThrottle.FREE} wrong passwords cost nothing; then
        each locks the host out twice as long as the one before, up to
        L{LoginThrottle.LONGEST}; the lock ends when its time is up.
        """
        for _ in range(LoginThrottle.FREE):
            self.throttle.failed("10.0.0.1")
            self.assertIsNone(self.retryAfter("10.0.0.1"))
        waits = []
        for _ in range(11):
            self.throttle.failed("10.0.0.1")
            waits.append(self.retryAfter("10.0.0.1"))
        self.assertEqual(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300])
        self.clock.advance(299.5)
        self.assertEqual(self.retryAfter("10.0.0.1"), 1)
        self.clock.advance(0.5)
        self.assertIsNone(self.retryAfter("10.0.0.1"))
        self.assertIsNone(self.retryAfter("10.0.0.2"))

    def test_rightPasswordStartsAgain(self):
        """
        A right password clears the host's count.
        """
        for _ in range(LoginThrottle.FREE):
            self.throttle.failed("10.0.0.1")
        self.throttle.succeeded("10.0.0.1")
        for _ in range(LoginThrottle.FREE):
            self.throttle.failed("10.0.0.1")
        self.assertIsNone(self.retryAfter("10.0.0.1"))

    def test_forgotten(self):
        """
        After L{LoginThrottle.FORGET} seconds without a wrong password a
        host starts again from nothing.
        """
        for _ in range(LoginThrottle.FREE + 3):
            self.throttle.failed("10.0.0.1")
        self.clock.advance(LoginThrottle.FORGET)
        self.assertIsNone(self.retryAfter("10.0.0.1"))
        for _ in range(LoginThrottle.FREE):
            self.throttle.failed("10.0.0.1")
        self.assertIsNone(self.retryAfter("10.0.0.1"))

    def test_wholeSeconds(self):
        """
        C{retryAfter} is rounded up to whole seconds: waiting that long is
        always enough.
        """
        for _ in range(LoginThrottle.FREE + 2):
            self.throttle.failed("10.0.0.1")
        self.clock.advance(0.9995)
        self.assertEqual(self.retryAfter("10.0.0.1"), 2)
        self.clock.advance(1)
        self.assertEqual(self.retryAfter("10.0.0.1"), 1)

    def test_clockSetBack(self):
        """
        A lock never lasts more than L{LoginThrottle.LONGEST} from now,
        even if the clock goes back.
        """
        for _ in range(LoginThrottle.FREE + 1):
            self.throttle.failed("10.0.0.1")
        self.clock.advance(-3600)
        self.assertEqual(self.retryAfter("10.0.0.1"), LoginThrottle.LONGEST)
        self.clock.advance(LoginThrottle.LONGEST)
        self.assertIsNone(self.retryAfter("10.0.0.1"))

    def test_firstLockOutLogged(self):
        """
        The first lock-out of a run of wrong passwords is logged (a
        warning naming the host), not every one after it.
        """
        with capturedLogs() as events:
            for _ in range(LoginThrottle.FREE + 3):
                self.throttle.failed("10.0.0.1")
        [event] = events
        self.assertEqual(event["log_level"], LogLevel.warn)
        self.assertEqual(event["host"], "10.0.0.1")

    def test_boundedHosts(self):
        """
        At most C{maxHosts} hosts are remembered; the least recent goes.
        """
        for host in ("a", "b", "c", "d"):
            for _ in range(LoginThrottle.FREE + 1):
                self.throttle.failed(host)
        self.assertIsNone(self.retryAfter("a"))
        self.assertEqual([self.retryAfter(h) for h in "bcd"], [1, 1, 1])


class ClientHostTests(SynchronousTestCase):
    """
    L{clientHost}: what L{LoginThrottle} counts wrong passwords against.
    """

    def host(self, host):
        return clientHost(WebRequest(b"GET", "/", host=host))

    def test_ipv4(self):
        """
        An IPv4 address, also when mapped into IPv6.
        """
        self.assertEqual(self.host("10.1.2.3"), "10.1.2.3")
        self.assertEqual(self.host("::ffff:10.1.2.3"), "10.1.2.3")

    def test_ipv6Network(self):
        """
        IPv6 addresses count by their /64 network: a machine can't get
        fresh tries by picking another address of its own network.
        """
        self.assertEqual(self.host("2001:db8:1:2:3:4:5:6"),
                         "2001:db8:1:2::/64")
        self.assertEqual(self.host("2001:db8:1:2:ffff::9"),
                         "2001:db8:1:2::/64")
        self.assertEqual(self.host("fe80::1%eth0"), "fe80::/64")

    def test_noHost(self):
        """
        A request with no IP address (a UNIX socket) counts as C{""}.
        """
        self.assertEqual(self.host(None), "")


class ServiceTests(SynchronousTestCase):
    """
    L{makeWebService} and the C{--web} option.
    """

    def test_listensAndSamples(self):
        """
        The service listens on the endpoint with a L{WebSite} and samples
        on the reactor's clock while running.
        """
        reactor = MemoryReactorClock()
        factory, clock, _, _ = makeServer()
        service = makeWebService(factory, "tcp:8080:interface=127.0.0.1",
                                 reactor=reactor, sampleInterval=3)
        service.privilegedStartService()
        service.startService()
        port, site, _, interface = reactor.tcpServers[0]
        self.assertEqual((port, interface), (8080, "127.0.0.1"))
        self.assertIsInstance(site, WebSite)
        sampler = site.resource.data.sampler
        self.assertEqual(len(sampler.samples), 1)
        reactor.advance(3)
        self.assertEqual(len(sampler.samples), 2)
        service.stopService()

    def test_option(self):
        """
        C{--web} takes an endpoint; it is off by default.
        """
        options = Options()
        options.parseOptions(["--data-dir", self.mktemp()])
        self.assertIsNone(options["web"])
        options = Options()
        options.parseOptions(["--data-dir", self.mktemp(),
                              "--web", "tcp:8080:interface=127.0.0.1"])
        self.assertEqual(options["web"], "tcp:8080:interface=127.0.0.1")
