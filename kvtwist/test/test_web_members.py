"""
Tests for hashes, sets and sorted sets in the web interface
(L{kvtwist.web.members}, L{kvtwist.web.values}, L{kvtwist.web.memberapi}):
their key pages and forms, the JSON API, paging through big ones, escaped
bytes going back exactly; driven with L{DummyRequest}s through the
resource tree (L{kvtwist.test.test_web.Browser}) on a factory with a
L{Clock}; no sockets.
"""

import re
from urllib.parse import parse_qs, urlsplit

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import ClientState, Context
from kvtwist.replies import Status
from kvtwist.store import Store
from kvtwist.test.test_web import (DeferredBackend, GuardedStore,
                                   GuardingBackend, makeServer)
from kvtwist.web import members
from kvtwist.web.members import Position


def command(factory, *words: bytes):
    """
    Run one command on C{factory}'s backend, as a client would: its
    reply.
    """
    ctx = Context(factory.store, factory, factory.service,
                  ClientState(99, "test", factory.now()))
    return factory.backend.execute(ctx, words[0], list(words[1:]))


def location(request) -> str:
    """
    Where a POST's answer redirects to.
    """
    return request.responseHeaders.getRawHeaders(b"location")[0].decode()


def unentity(html: bytes) -> str:
    """
    The text of some HTML attribute or content: its entities read back.
    """
    import html as _html
    return _html.unescape(html.decode("utf-8"))


def hiddenValues(body: bytes, name: str):
    """
    The values of the hidden inputs called C{name} in a page.
    """
    found = re.findall(rb'<input type="hidden" name="%s" value="([^"]*)"'
                       % (name.encode(),), body)
    return [unentity(v) for v in found]


class HashPageTests(SynchronousTestCase):
    """
    A hash's key page: its field table, the form that sets a field, the
    edit links and the delete buttons.
    """

    def setUp(self):
        """
        A server with a hash of three fields, one holding a line break.
        """
        self.factory, self.clock, _, self.browser = makeServer()
        command(self.factory, b"HSET", b"user:1", b"name", b"Ada",
                b"born", b"1815", b"notes", b"line 1\nline 2")

    def test_fieldTable(self):
        """
        The page says it is a hash of three fields and lists each field
        and value, with an edit link (the field in the query) and a
        delete form; it reads the key with TYPE, HLEN and HSCAN, not
        LRANGE (which would answer WRONGTYPE).
        """
        request = self.browser.get("/keys/user:1")
        self.assertEqual(request.status, 200)
        body = request.body
        self.assertIn(b'<span class="tag hash">hash</span>', body)
        self.assertIn(b'<dd id="length">3 fields</dd>', body)
        for field, value in ((b"name", b"Ada"), (b"born", b"1815"),
                             (b"notes", b"line 1\nline 2")):
            self.assertIn(b'<td class="field">' + field + b"</td>", body)
            self.assertIn(b'<td class="value">' + value + b"</td>", body)
            self.assertIn(b"?field=" + field + b"#field-form", body)
        self.assertEqual(sorted(hiddenValues(body, "field")),
                         ["born", "name", "notes"])
        self.assertNotIn(b"WRONGTYPE", body)
        per = self.factory.stats.perCommand
        self.assertEqual((per.get("HLEN"), per.get("HSCAN"),
                          per.get("LRANGE")), (1, 1, None))

    def test_setField(self):
        """
        The "set a field" form runs HSET: a new field is added, an old one
        changed; the answer goes back to the page it came from (its
        C{at}) with a notice, and the key keeps its time to live.
        """
        command(self.factory, b"EXPIRE", b"user:1", b"100")
        request = self.browser.post("/keys/user:1", {
            b"action": b"hset", b"field": b"email", b"value": b"ada@x",
            b"at": b"match=n%2A&cursor=0&skip=0&evil=1"})
        self.assertEqual(request.status, 303)
        self.assertEqual(location(request), "/keys/user%3A1?match=n%2A&"
                         "cursor=0&skip=0&done=fieldset")
        self.browser.post("/keys/user:1", {b"action": b"hset",
                                           b"field": b"name",
                                           b"value": b"Ada L."})
        self.assertEqual(command(self.factory, b"HGETALL", b"user:1"), {
            b"name": b"Ada L.", b"born": b"1815",
            b"notes": b"line 1\nline 2", b"email": b"ada@x"})
        self.assertEqual(command(self.factory, b"TTL", b"user:1"), 100)
        self.assertEqual(self.factory.stats.perCommand.get("HSET"), 3)
        self.assertIn(b"Field saved.", self.browser.get(
            "/keys/user:1", args={b"done": b"fieldset"}).body)

    def test_editLinkFillsTheForm(self):
        """
        Following a field's edit link fills the form with the field and
        its whole value; sending it back unchanged (a browser sends a
        text area's line breaks as CR LF) leaves the value as it was.
        """
        body = self.browser.get("/keys/user:1",
                                args={b"field": b"notes"}).body
        self.assertIn(b"Edit field", body)
        self.assertIn(b'value="notes"', body)
        self.assertIn(b'id="field-value">line 1\nline 2</textarea>', body)
        self.assertNotIn(b'name="encoding" value="escaped" /><label',
                         body)
        self.browser.post("/keys/user:1", {
            b"action": b"hset", b"field": b"notes",
            b"value": b"line 1\r\nline 2"})
        self.assertEqual(command(self.factory, b"HGET", b"user:1",
                                 b"notes"), b"line 1\nline 2")

    def test_deleteField(self):
        """
        A row's delete form runs HDEL of its field (sent escaped); the
        notice says whether there was one.
        """
        request = self.browser.post("/keys/user:1", {
            b"action": b"hdel", b"encoding": b"escaped",
            b"field": b"born"})
        self.assertEqual(location(request), "/keys/user%3A1?done=fielddeleted")
        self.assertEqual(command(self.factory, b"HEXISTS", b"user:1",
                                 b"born"), 0)
        request = self.browser.post("/keys/user:1", {
            b"action": b"hdel", b"field": b"born"})
        self.assertEqual(location(request), "/keys/user%3A1?done=nofield")
        self.assertIn(b"no such field", self.browser.get(
            "/keys/user:1", args={b"done": b"nofield"}).body)

    def test_mistakes(self):
        """
        A field without a name, or an unknown encoding, is refused (400)
        and changes nothing.
        """
        for args in ({b"field": b"", b"value": b"x"},
                     {b"field": b"f", b"value": b"x",
                      b"encoding": b"rot13"}):
            request = self.browser.post("/keys/user:1",
                                        {**args, b"action": b"hset"})
            self.assertEqual(request.status, 400, args)
        self.assertEqual(command(self.factory, b"HLEN", b"user:1"), 3)


class BinaryTests(SynchronousTestCase):
    """
    Fields, values and members that aren't text are shown escaped and go
    back exactly, through the forms and the API.
    """

    def setUp(self):
        """
        A server.
        """
        self.factory, self.clock, _, self.browser = makeServer()

    def test_hashField(self):
        """
        A field and value that aren't text are shown escaped (never with
        replacement characters); the edit form holds them escaped with
        C{encoding=escaped}, and sent back unchanged they store the same
        bytes; the delete form takes the field away.
        """
        field, value = b"\xff\x00f\\", b"v\x1b[31m\r\n"
        command(self.factory, b"HSET", b"h", field, value, b"t", b"text")
        body = self.browser.get("/keys/h").body
        self.assertIn(b'<td class="field binary">\\xff\\x00f\\\\</td>', body)
        self.assertIn(b'<td class="value binary">v\\x1b[31m\\r\\n</td>', body)
        self.assertNotIn("\ufffd".encode("utf-8"), body)
        self.assertIn(b"?field=%FF%00f%5C#field-form", body)
        edit = self.browser.get("/keys/h", args={b"field": field}).body
        self.assertIn(b'value="\\xff\\x00f\\\\"', edit)
        self.assertIn(b">v\\x1b[31m\\r\\n</textarea>", edit)
        self.assertIn(b'name="encoding" value="escaped"', edit)
        self.browser.post("/keys/h", {
            b"action": b"hset", b"encoding": b"escaped",
            b"field": b"\\xff\\x00f\\\\", b"value": b"v\\x1b[31m\\r\\n"})
        self.assertEqual(command(self.factory, b"HGET", b"h", field), value)
        self.assertEqual(command(self.factory, b"HLEN", b"h"), 2)
        escapedField = [f for f in hiddenValues(body, "field")
                        if f != "t"][0]
        self.browser.post("/keys/h", {
            b"action": b"hdel", b"encoding": b"escaped",
            b"field": escapedField.encode("utf-8")})
        self.assertEqual(command(self.factory, b"HKEYS", b"h"), [b"t"])

    def test_carriageReturnEscaped(self):
        """
        A text value holding a carriage return is edited escaped: a form
        would send it back as a bare line feed.
        """
        command(self.factory, b"HSET", b"h", b"f", b"a\r\nb")
        edit = self.browser.get("/keys/h", args={b"field": b"f"}).body
        self.assertIn(b">a\\r\\nb</textarea>", edit)
        self.assertIn(b'name="encoding" value="escaped"', edit)
        command(self.factory, b"SET", b"s", b"x\r\ny")
        body = self.browser.get("/keys/s").body
        self.assertIn(b'id="edit-value">x\\r\\ny</textarea>', body)
        self.browser.post("/keys/s", {b"action": b"set",
                                      b"encoding": b"escaped",
                                      b"value": b"x\\r\\ny"})
        self.assertEqual(command(self.factory, b"GET", b"s"), b"x\r\ny")

    def test_textAreaLineBreaks(self):
        """
        What a browser sends from a text area (CR LF line breaks) is
        stored with LF: setting a string, creating a key, pushing.
        """
        self.browser.post("/keys/s", {b"action": b"set",
                                      b"value": b"a\r\nb"})
        self.browser.post("/keys", {b"key": b"n", b"value": b"c\r\nd"})
        self.browser.post("/keys/l", {b"action": b"push",
                                      b"value": b"e\r\nf"})
        self.assertEqual([command(self.factory, b"GET", b"s"),
                          command(self.factory, b"GET", b"n"),
                          command(self.factory, b"LRANGE", b"l", b"0",
                                  b"-1")],
                         [b"a\nb", b"c\nd", [b"e\nf"]])

    def test_members(self):
        """
        Set and sorted set members that aren't text are shown escaped,
        flagged in the API, and removed exactly by their rows' forms.
        """
        command(self.factory, b"SADD", b"s", b"\x00\xfe", b"ok")
        command(self.factory, b"ZADD", b"z", b"1", b"\x01\\", b"2", b"ok")
        api = self.browser.get("/api/keys/s").json()
        self.assertEqual(sorted((m["member"], m["binary"])
                                for m in api["members"]),
                         [("\\x00\\xfe", True), ("ok", False)])
        api = self.browser.get("/api/keys/z").json()
        self.assertEqual([(m["member"], m["binary"]) for m in api["members"]],
                         [("\\x01\\\\", True), ("ok", False)])
        for key, action in ((b"s", b"srem"), (b"z", b"zrem")):
            body = self.browser.get("/keys/" + key.decode()).body
            self.assertNotIn("\ufffd".encode("utf-8"), body)
            for member in hiddenValues(body, "member"):
                if member != "ok":
                    self.browser.post("/keys/" + key.decode(), {
                        b"action": action, b"encoding": b"escaped",
                        b"member": member.encode("utf-8")})
        self.assertEqual(command(self.factory, b"SMEMBERS", b"s"), [b"ok"])
        self.assertEqual(command(self.factory, b"ZRANGE", b"z", b"0",
                                 b"-1"), [b"ok"])

    def test_apiEscaped(self):
        """
        Through the API, C{encoding: escaped} reads fields, values and
        members back from their escapes, as C{GET} shows them.
        """
        self.browser.postJSON("/api/keys/h/hset", {
            "field": "\\xff", "value": "\\x00\\n", "encoding": "escaped"})
        self.assertEqual(command(self.factory, b"HGET", b"h", b"\xff"),
                         b"\x00\n")
        shown = self.browser.get("/api/keys/h").json()["fields"][0]
        self.assertEqual((shown["field"], shown["value"], shown["binary"]),
                         ("\\xff", "\\x00\\n", True))
        self.browser.postJSON("/api/keys/s/sadd", {
            "member": "a\\\\b", "encoding": "escaped"})
        self.browser.postJSON("/api/keys/z/zadd", {
            "member": "\\x80", "score": 2, "encoding": "escaped"})
        self.assertEqual(command(self.factory, b"SMEMBERS", b"s"),
                         [b"a\\b"])
        self.assertEqual(command(self.factory, b"ZSCORE", b"z", b"\x80"),
                         2.0)


class SetPageTests(SynchronousTestCase):
    """
    A set's key page: its members, the add form and the remove buttons.
    """

    def setUp(self):
        """
        A server with a set of two members.
        """
        self.factory, self.clock, _, self.browser = makeServer()
        command(self.factory, b"SADD", b"tags", b"python", b"twisted")

    def test_members(self):
        """
        The page says it is a set of two members and lists them with a
        remove form each (SCARD, SSCAN).
        """
        body = self.browser.get("/keys/tags").body
        self.assertIn(b'<span class="tag set">set</span>', body)
        self.assertIn(b'<dd id="length">2 members</dd>', body)
        for member in (b"python", b"twisted"):
            self.assertIn(b'<td class="member">' + member + b"</td>", body)
        self.assertEqual(sorted(hiddenValues(body, "member")),
                         ["python", "twisted"])
        self.assertIn(b'id="add-member"', body)
        self.assertEqual(self.factory.stats.perCommand.get("SSCAN"), 1)

    def test_addAndRemove(self):
        """
        The add form runs SADD and the remove form SREM; the notices say
        when the member was already there or wasn't.
        """
        answers = [location(self.browser.post("/keys/tags", {
            **args, b"action": action})) for action, args in (
                (b"sadd", {b"member": b"redis"}),
                (b"sadd", {b"member": b"redis"}),
                (b"srem", {b"member": b"python"}),
                (b"srem", {b"member": b"python"}))]
        self.assertEqual(answers, ["/keys/tags?done=" + done for done in
                                   ("added", "present", "removed",
                                    "notmember")])
        self.assertEqual(sorted(command(self.factory, b"SMEMBERS",
                                        b"tags")), [b"redis", b"twisted"])

    def test_api(self):
        """
        C{/api/keys/KEY/sadd} and C{/srem} answer whether they changed
        anything (404 for a member that wasn't there); a member is
        required.
        """
        b = self.browser
        self.assertEqual(b.postJSON("/api/keys/tags/sadd",
                                    {"member": "web"}).json(),
                         {"added": True})
        self.assertEqual(b.postJSON("/api/keys/tags/sadd",
                                    {"member": "web"}).json(),
                         {"added": False})
        self.assertEqual(b.postJSON("/api/keys/tags/srem",
                                    {"member": "web"}).json(),
                         {"removed": True})
        request = b.postJSON("/api/keys/tags/srem", {"member": "web"})
        self.assertEqual((request.status, request.json()),
                         (404, {"error": "not a member"}))
        self.assertEqual(b.postJSON("/api/keys/tags/sadd", {}).status, 400)
        info = b.get("/api/keys/tags").json()
        self.assertEqual((info["type"], info["length"], info["next"]),
                         ("set", 2, None))


class ZSetPageTests(SynchronousTestCase):
    """
    A sorted set's key page: members by rank with their scores, the
    forms that change a score, add and remove members.
    """

    def setUp(self):
        """
        A server with a sorted set of three members.
        """
        self.factory, self.clock, _, self.browser = makeServer()
        command(self.factory, b"ZADD", b"board", b"42", b"carol",
                b"1.5", b"alice", b"inf", b"dave")

    def test_orderedByScore(self):
        """
        Members are shown lowest score first, with their rank and their
        score as Redis writes it (C{1.5}, C{42}, C{inf}), each score in a
        form that changes it (ZCARD, ZRANGE ... WITHSCORES).
        """
        body = self.browser.get("/keys/board").body
        self.assertIn(b'<span class="tag zset">zset</span>', body)
        self.assertIn(b'<dd id="length">3 members</dd>', body)
        members = re.findall(rb'<td class="member">([^<]*)</td>', body)
        self.assertEqual(members, [b"alice", b"carol", b"dave"])
        scores = re.findall(rb'name="score" value="([^"]*)"', body)
        self.assertEqual(scores, [b"1.5", b"42", b"inf"])
        ranks = re.findall(rb'<td class="rank">(\d+)</td>', body)
        self.assertEqual(ranks, [b"0", b"1", b"2"])
        self.assertEqual(self.factory.stats.perCommand.get("ZRANGE"), 1)
        info = self.browser.get("/api/keys/board").json()
        self.assertEqual([(m["member"], m["score"], m["rank"])
                          for m in info["members"]],
                         [("alice", "1.5", 0), ("carol", "42", 1),
                          ("dave", "inf", 2)])

    def test_changeScore(self):
        """
        A row's score form runs ZADD with the member (escaped) and the new
        score, which moves it; the add form adds a member.
        """
        request = self.browser.post("/keys/board", {
            b"action": b"zadd", b"encoding": b"escaped",
            b"member": b"dave", b"score": b" -3 "})
        self.assertEqual(location(request), "/keys/board?done=scored")
        request = self.browser.post("/keys/board", {
            b"action": b"zadd", b"member": b"erin", b"score": b"7"})
        self.assertEqual(location(request), "/keys/board?done=added")
        self.assertEqual(command(self.factory, b"ZRANGE", b"board", b"0",
                                 b"-1"),
                         [b"dave", b"alice", b"erin", b"carol"])
        self.assertIn(b"Score saved.", self.browser.get(
            "/keys/board", args={b"done": b"scored"}).body)

    def test_badScore(self):
        """
        A score that isn't a number is refused with ZADD's error (400), an
        empty one before it runs, and nothing changes.
        """
        request = self.browser.post("/keys/board", {
            b"action": b"zadd", b"member": b"alice", b"score": b"lots"})
        self.assertEqual(request.status, 400)
        self.assertIn(b"ERR value is not a valid float", request.body)
        request = self.browser.post("/keys/board", {
            b"action": b"zadd", b"member": b"alice", b"score": b""})
        self.assertEqual(request.status, 400)
        self.assertEqual(command(self.factory, b"ZSCORE", b"board",
                                 b"alice"), 1.5)

    def test_remove(self):
        """
        A row's remove form runs ZREM.
        """
        request = self.browser.post("/keys/board", {
            b"action": b"zrem", b"member": b"carol"})
        self.assertEqual(location(request), "/keys/board?done=removed")
        self.assertEqual(command(self.factory, b"ZCARD", b"board"), 2)

    def test_api(self):
        """
        C{/api/keys/KEY/zadd} adds a member or changes its score (a JSON
        number or a string such as C{"-inf"}); C{/zrem} removes one, 404
        if it wasn't there.
        """
        b = self.browser
        self.assertEqual(b.postJSON("/api/keys/board/zadd",
                                    {"member": "alice", "score": 99.5})
                         .json(), {"added": False})
        self.assertEqual(b.postJSON("/api/keys/board/zadd",
                                    {"member": "zed", "score": "-inf"})
                         .json(), {"added": True})
        self.assertEqual(command(self.factory, b"ZSCORE", b"board",
                                 b"alice"), 99.5)
        self.assertEqual(b.get("/api/keys/board").json()["members"][0]
                         ["score"], "-inf")
        request = b.postJSON("/api/keys/board/zadd", {"member": "x"})
        self.assertEqual(request.status, 400)
        request = b.postJSON("/api/keys/board/zadd", {"member": "x",
                                                      "score": "nan"})
        self.assertEqual(request.status, 400)
        self.assertEqual(b.postJSON("/api/keys/board/zrem",
                                    {"member": "zed"}).json(),
                         {"removed": True})
        self.assertEqual(b.postJSON("/api/keys/board/zrem",
                                    {"member": "zed"}).status, 404)


class HashAPITests(SynchronousTestCase):
    """
    C{/api/keys/KEY} for a hash, C{/hset} and C{/hdel}.
    """

    def test_readAndChange(self):
        """
        C{GET} gives the fields of a page with the key's type, TTL and
        length; C{/hset} says whether the field is new; C{/hdel} deletes
        one, 404 if there was none; field and value are required.
        """
        factory, clock, _, b = makeServer()
        self.assertEqual(b.postJSON("/api/keys/h/hset",
                                    {"field": "a", "value": "1"}).json(),
                         {"created": True})
        self.assertEqual(b.postJSON("/api/keys/h/hset",
                                    {"field": "a", "value": 2}).json(),
                         {"created": False})
        self.assertEqual(b.get("/api/keys/h").json(), {
            "key": "h", "type": "hash", "ttl": -1, "length": 1,
            "fields": [{"field": "a", "value": "2", "binary": False,
                        "truncated": False}],
            "cursor": 0, "skip": 0, "match": "*", "next": None})
        self.assertEqual(b.postJSON("/api/keys/h/hset",
                                    {"value": "1"}).status, 400)
        self.assertEqual(b.postJSON("/api/keys/h/hset",
                                    {"field": "b"}).status, 400)
        self.assertEqual(b.postJSON("/api/keys/h/hdel",
                                    {"field": "a"}).json(),
                         {"deleted": True})
        request = b.postJSON("/api/keys/h/hdel", {"field": "a"})
        self.assertEqual((request.status, request.json()),
                         (404, {"error": "no such field"}))
        self.assertEqual(b.get("/api/keys/h").status, 404)

    def test_badPosition(self):
        """
        A cursor, skip or offset that isn't a whole number, or a count out
        of 1-1000, is a 400.
        """
        factory, clock, _, b = makeServer()
        command(factory, b"HSET", b"h", b"a", b"1")
        for args in ({b"cursor": b"x"}, {b"skip": b"-1"},
                     {b"offset": b"1.5"}, {b"count": b"0"},
                     {b"count": b"5000"}):
            self.assertEqual(b.get("/api/keys/h", args=args).status, 400,
                             args)


class PagingTests(SynchronousTestCase):
    """
    A big hash, set or sorted set is shown a page at a time, never whole.
    """

    def follow(self, browser, path: str, name: str, count: int = 50):
        """
        Follow a key's pages through the API from the first: the shown
        elements of each page.
        """
        pages = []
        args = {b"count": b"%d" % (count,)}
        while True:
            info = browser.get(path, args=args).json()
            pages.append([row[name] for row in info[name + "s"]])
            following = info["next"]
            if following is None:
                return pages
            args = {b"count": b"%d" % (count,)}
            args.update({k.encode(): b"%d" % (v,)
                         for k, v in following.items()})
            if "match" in info:
                args[b"match"] = info["match"].encode()

    def test_hashPages(self):
        """
        Following C{next} from the start visits every field of a big hash
        once, a page of at most C{count} at a time, though a step of
        HSCAN answers more than a page.
        """
        factory, clock, _, b = makeServer()
        for i in range(0, 1300, 100):
            command(factory, b"HSET", b"h", *[b"f%04d" % (n,) if k == 0
                                              else b"v"
                                              for n in range(i, i + 100)
                                              for k in (0, 1)])
        pages = self.follow(b, "/api/keys/h", "field")
        self.assertTrue(all(len(p) <= 50 for p in pages))
        self.assertEqual(len(pages), 26)
        seen = sum(pages, [])
        self.assertEqual(sorted(seen), ["f%04d" % (n,) for n in range(1300)])

    def test_setPagesInTheBrowser(self):
        """
        The page's next links (carrying the cursor, how many of its step
        were shown, and the trail back) visit every member once, and the
        previous links go back to the same pages.
        """
        factory, clock, _, b = makeServer()
        command(factory, b"SADD", b"s", *[b"m%03d" % (n,)
                                          for n in range(120)])
        seen, urls = [], ["/keys/s"]
        while True:
            body = b.get(urls[-1], args=_query(urls[-1])).body
            rows = re.findall(rb'<td class="member">([^<]*)</td>', body)
            self.assertLessEqual(len(rows), members.MEMBERS_PAGE)
            seen.append(rows)
            following = re.search(rb'href="([^"]*)" rel="next"', body)
            if following is None:
                break
            urls.append(unentity(following.group(1)))
        self.assertEqual(len(seen), 3)
        self.assertEqual(sorted(sum(seen, [])),
                         [b"m%03d" % (n,) for n in range(120)])
        body = b.get(urls[-1], args=_query(urls[-1])).body
        back = unentity(re.search(rb'href="([^"]*)" rel="prev"',
                                  body).group(1))
        body = b.get(back, args=_query(back)).body
        self.assertEqual(re.findall(rb'<td class="member">([^<]*)</td>',
                                    body), seen[1])
        self.assertIn(b'id="page-number">Page 2<', body)

    def test_filter(self):
        """
        A hash's fields and a set's members can be filtered with a glob
        pattern (MATCH), the filter kept in the page's links.
        """
        factory, clock, _, b = makeServer()
        command(factory, b"HSET", b"h", b"name", b"a", b"nick", b"b",
                b"age", b"c")
        command(factory, b"SADD", b"s", b"red", b"rose", b"blue")
        info = b.get("/api/keys/h", args={b"match": b"n*"}).json()
        self.assertEqual(sorted(f["field"] for f in info["fields"]),
                         ["name", "nick"])
        self.assertEqual(info["match"], "n*")
        body = b.get("/keys/s", args={b"match": b"r*"}).body
        self.assertEqual(sorted(re.findall(
            rb'<td class="member">([^<]*)</td>', body)), [b"red", b"rose"])
        self.assertIn(b'value="r*"', body)
        self.assertEqual(hiddenValues(body, "at"), ["match=r%2A"] * 3)

    def test_boundedSteps(self):
        """
        A filter that matches nothing in a big set stops after
        L{members.MAX_STEPS} steps of SSCAN, with a next page to go on
        from: one page never walks the whole set.
        """
        factory, clock, _, b = makeServer()
        command(factory, b"SADD", b"s", *[b"m%05d" % (n,)
                                          for n in range(20000)])
        info = b.get("/api/keys/s", args={b"match": b"nothing*"}).json()
        self.assertEqual(info["members"], [])
        self.assertIsNotNone(info["next"])
        self.assertEqual(factory.stats.perCommand["SSCAN"],
                         members.MAX_STEPS)

    def test_zsetPages(self):
        """
        A sorted set's pages go by rank: 50, 50, then the rest, with
        previous and next links and the ranks going on.
        """
        factory, clock, _, b = makeServer()
        command(factory, b"ZADD", b"z", *[x for n in range(120)
                                          for x in (b"%d" % (n,),
                                                    b"m%03d" % (n,))])
        pages = self.follow(b, "/api/keys/z", "member")
        self.assertEqual([len(p) for p in pages], [50, 50, 20])
        self.assertEqual(sum(pages, []), ["m%03d" % (n,)
                                          for n in range(120)])
        body = b.get("/keys/z", args={b"offset": b"50"}).body
        self.assertIn(b'href="/keys/z" rel="prev"', body)
        self.assertIn(b'href="/keys/z?offset=100" rel="next"', body)
        self.assertIn(b'<td class="rank">50</td>', body)
        self.assertIn(b'id="page-number">Page 2<', body)

    def test_longElementsCut(self):
        """
        A value or member longer than L{members.ITEM_LIMIT} is cut in the
        page and the API (C{truncated}), and offers no change in its row;
        a field's value too big for the edit form says so.
        """
        factory, clock, _, b = makeServer()
        big = b"x" * (members.EDIT_LIMIT + 1)
        command(factory, b"HSET", b"h", b"big", big)
        command(factory, b"SADD", b"s", big)
        row = b.get("/api/keys/h").json()["fields"][0]
        self.assertEqual((len(row["value"]), row["truncated"]),
                         (members.ITEM_LIMIT, True))
        member = b.get("/api/keys/s").json()["members"][0]
        self.assertTrue(member["truncated"])
        page = b.get("/keys/s").body
        self.assertEqual(hiddenValues(page, "member"), [])
        self.assertLess(len(page), members.ITEM_LIMIT * 2)
        edit = b.get("/keys/h", args={b"field": b"big"}).body
        self.assertIn(b"too big to edit here", edit)
        self.assertNotIn(big[:members.ITEM_LIMIT * 2], edit)


def _query(url: str):
    """
    The arguments of a URL's query, as a request holds them.
    """
    return {k.encode(): [v.encode() for v in vs][0]
            for k, vs in parse_qs(urlsplit(url).query).items()}


class CommonTests(SynchronousTestCase):
    """
    What holds for every change of a hash, set or sorted set: CSRF,
    MISCONF, WRONGTYPE, GETs changing nothing, any backend.
    """

    CHANGES = [
        ("hset", b"h", {"field": "f", "value": "v"}),
        ("hdel", b"h", {"field": "a"}),
        ("sadd", b"s", {"member": "m"}),
        ("srem", b"s", {"member": "a"}),
        ("zadd", b"z", {"member": "m", "score": "1"}),
        ("zrem", b"z", {"member": "a"}),
    ]

    def setUp(self):
        """
        A server with a hash, a set and a sorted set.
        """
        self.factory, self.clock, _, self.browser = makeServer()
        command(self.factory, b"HSET", b"h", b"a", b"1")
        command(self.factory, b"SADD", b"s", b"a")
        command(self.factory, b"ZADD", b"z", b"1", b"a")

    def dump(self):
        """
        The three keys' contents.
        """
        return [command(self.factory, b"HGETALL", b"h"),
                command(self.factory, b"SMEMBERS", b"s"),
                command(self.factory, b"ZRANGE", b"z", b"0", b"-1",
                        b"WITHSCORES")]

    def test_csrf(self):
        """
        Every change needs the session's CSRF token, in the form and the
        API: without it, 403 and nothing changes.
        """
        before = self.dump()
        for action, key, given in self.CHANGES:
            args = {k.encode(): v.encode() for k, v in given.items()}
            args[b"action"] = action.encode()
            request = self.browser.post("/keys/" + key.decode(), args,
                                        csrf=False)
            self.assertEqual(request.status, 403, action)
            request = self.browser.postJSON(
                "/api/keys/%s/%s" % (key.decode(), action), given,
                csrf=False)
            self.assertEqual(request.status, 403, action)
        self.assertEqual(self.dump(), before)

    def test_misconf(self):
        """
        While persistence fails, every change is refused with 503 and
        MISCONF, in the form and the API, and nothing changes.
        """
        before = self.dump()
        self.factory.service.failure = "disk full"
        for action, key, given in self.CHANGES:
            args = {k.encode(): v.encode() for k, v in given.items()}
            args[b"action"] = action.encode()
            page = self.browser.post("/keys/" + key.decode(), args)
            self.assertEqual(page.status, 503, action)
            self.assertIn(b"MISCONF", page.body)
            request = self.browser.postJSON(
                "/api/keys/%s/%s" % (key.decode(), action), given)
            self.assertEqual(request.status, 503, action)
            self.assertIn("MISCONF", request.json()["error"])
        self.factory.service.failure = None
        self.assertEqual(self.dump(), before)

    def test_wrongType(self):
        """
        A change of another type's key answers WRONGTYPE (400) and changes
        nothing.
        """
        command(self.factory, b"SET", b"str", b"v")
        for action, _, given in self.CHANGES:
            request = self.browser.postJSON("/api/keys/str/" + action,
                                            given)
            self.assertEqual(request.status, 400, action)
            self.assertIn("WRONGTYPE", request.json()["error"])
        self.assertEqual(command(self.factory, b"GET", b"str"), b"v")

    def test_getChangesNothing(self):
        """
        A GET of a change resource is refused (405); GETs of the pages,
        with any arguments, change nothing.
        """
        before = self.dump()
        for action, key, given in self.CHANGES:
            args = {k.encode(): v.encode() for k, v in given.items()}
            args[b"action"] = action.encode()
            self.assertEqual(self.browser.get(
                "/api/keys/%s/%s" % (key.decode(), action)).status, 405)
            self.assertEqual(self.browser.get("/keys/" + key.decode(),
                                              args=args).status, 200)
        self.assertEqual(self.dump(), before)

    def test_onlyThroughTheBackend(self):
        """
        Over a backend answering through Deferreds, and one guarding its
        store from everything but commands, the pages and changes work
        the same.
        """
        for wrap in (lambda store: DeferredBackend(MemoryBackend(store)),
                     None):
            store = Store()
            guarded = GuardedStore(store)
            if wrap is None:
                backend = GuardingBackend(MemoryBackend(guarded), guarded)
                factory, clock, _, b = makeServer(store=guarded,
                                                  backend=backend)
            else:
                factory, clock, _, b = makeServer(store=store,
                                                  backend=wrap(store))
            for action, key, given in self.CHANGES:
                self.assertEqual(b.postJSON(
                    "/api/keys/%s/%s" % (key.decode(), action),
                    given).status, 404 if action.endswith(
                        ("del", "rem")) else 200, action)
            for key in ("h", "s", "z"):
                self.assertEqual(b.get("/keys/" + key).status, 200)
                self.assertEqual(b.get("/api/keys/" + key).status, 200)
            self.assertEqual(b.get("/api/keys/z").json()["members"][0]
                             ["score"], "1")
            body = b.get("/keys").body
            for kind in (b"hash", b"set", b"zset"):
                self.assertIn(b'class="tag ' + kind + b'"', body)

    def test_keysPageShowsTypes(self):
        """
        The key browser shows each key's type, in the page and the API.
        """
        command(self.factory, b"RPUSH", b"l", b"x")
        command(self.factory, b"SET", b"str", b"v")
        page = self.browser.get("/api/keys").json()
        self.assertEqual(sorted((k["key"], k["type"]) for k in page["keys"]),
                         [("h", "hash"), ("l", "list"), ("s", "set"),
                          ("str", "string"), ("z", "zset")])
        body = self.browser.get("/keys").body
        for key, kind in ((b"h", b"hash"), (b"s", b"set"), (b"z", b"zset")):
            self.assertRegex(body.decode(), r'href="/keys/%s"[^<]*</a></td>'
                             r'<td><span class="tag %s">%s</span>'
                             % (key.decode(), kind.decode(), kind.decode()))

    def test_startNewKeys(self):
        """
        A missing key's page offers to start a hash, a set or a sorted set
        there too, and each form makes one.
        """
        missing = self.browser.get("/keys/new")
        self.assertEqual(missing.status, 404)
        for marker in (b'id="set-field"', b'id="add-member"',
                       b'id="add-zmember"', b'id="push"', b'id="save"'):
            self.assertIn(marker, missing.body)
        self.browser.post("/keys/nh", {b"action": b"hset", b"field": b"f",
                                       b"value": b"v"})
        self.browser.post("/keys/ns", {b"action": b"sadd",
                                       b"member": b"m"})
        self.browser.post("/keys/nz", {b"action": b"zadd", b"member": b"m",
                                       b"score": b"2"})
        self.assertEqual([command(self.factory, b"TYPE", k)
                          for k in (b"nh", b"ns", b"nz")],
                         ["hash", "set", "zset"])

    def test_otherTypes(self):
        """
        A type the web interface doesn't know (a stream on a cluster's
        nodes) is named, with no value read.
        """
        class StreamBackend:
            def __init__(self, inner):
                self.inner = inner

            def execute(self, ctx, name, args):
                if name == b"TYPE":
                    return Status("stream")
                return self.inner.execute(ctx, name, args)

            def endTurn(self):
                pass
        store = Store()
        factory, clock, _, b = makeServer(
            store=store, backend=StreamBackend(MemoryBackend(store)))
        command(factory, b"SET", b"events", b"x")
        body = b.get("/keys/events").body
        self.assertIn(b"can't show or edit a stream", body)
        self.assertEqual(b.get("/api/keys/events").json()["type"], "stream")


class PositionTests(SynchronousTestCase):
    """
    L{Position}: where a page starts.
    """

    def test_fromArgs(self):
        """
        A request's arguments give the position; missing ones start at
        the beginning; a negative or non-numeric one is refused.
        """
        self.assertEqual(Position.fromArgs({}), Position(0, 0, b"*", 0))
        self.assertEqual(Position.fromArgs({b"cursor": [b"7"],
                                            b"skip": [b"3"],
                                            b"match": [b"a*"],
                                            b"offset": [b""]}),
                         Position(7, 3, b"a*", 0))
        for bad in ({b"cursor": [b"-1"]}, {b"offset": [b"x"]}):
            self.assertRaises(ValueError, Position.fromArgs, bad)

    def test_tokens(self):
        """
        A position's token reads back as the same cursor and skip;
        anything else as nothing.
        """
        at = Position(12, 5, b"x*")
        self.assertEqual(Position(match=b"x*").fromToken(
            at.token().encode()), at)
        self.assertIsNone(Position().fromToken(b"a.b"))
        self.assertIsNone(Position().fromToken(b"-1.0"))
