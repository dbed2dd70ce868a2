# -*- test-case-name: kvtwist.test.test_web -*-
"""
The keys in the JSON API (L{kvtwist.web.api}; see docs/web.md):

    GET    /api/keys?pattern=&cursor=&count=&matching=1
                                   one page of keys (SCAN); with matching=1
                                   also how many keys match
    GET    /api/keys/KEY           one key: type, TTL, value or items; a
                                   page of a hash's fields or a set's
                                   members (?cursor=&skip=&match=&count=),
                                   of a sorted set's (?offset=&count=)
    POST   /api/keys/KEY           {"value": ..., "ttl": ...}: SET; no ttl
                                   (or "keep") keeps the key's TTL,
                                   "remove" removes it, seconds set it;
                                   "encoding": "escaped" reads value's
                                   \\xHH escapes
    DELETE /api/keys/KEY           DEL
    POST   /api/keys/KEY/expire    {"seconds": n}: EXPIRE; no seconds: PERSIST
    POST   /api/keys/KEY/push      {"value": ..., "end": "right"}: RPUSH
                                   ("left": LPUSH); {"length": n}
    POST   /api/keys/KEY/pop       {"end": "right"}: RPOP ("left": LPOP);
                                   {"value": ..., "binary": ...} or 404
    POST   /api/keys/KEY/hset ...  hashes, sets and sorted sets: hset,
                                   hdel, sadd, srem, zadd, zrem
                                   (L{kvtwist.web.memberapi})

KEY is percent-encoded as one path segment.  Every POST and DELETE carries
the session's CSRF token in an C{X-CSRF-Token} header (or a C{csrf}
field); a GET never changes anything.  A key or value that is not text
(not UTF-8, or holding control characters) is shown escaped as the text
protocol shows it (C{\\x00\\xff}, C{\\\\}), with C{"binary": true}.
"""

from twisted.internet.defer import gatherResults, succeed
from twisted.web.resource import Resource

from kvtwist.web.fmt import isText, shown
from kvtwist.web.memberapi import MEMBER_ACTIONS, MemberAPI, pageJSON
from kvtwist.web.members import Position
from kvtwist.web.respond import (APILeaf, JSONError, answerLater,
                                 encodedField, failedJSON, fields, jsonBody,
                                 jsonError, parseSeconds, parseTTL)


def _arg(request, name: bytes, default: bytes = b"") -> bytes:
    return (request.args.get(name) or [default])[0]


def _keyJSON(row):
    return {k: v for k, v in row.items() if k != "raw"}


def _value(given):
    """
    The C{value} field, its escapes read with C{encoding=escaped}.

    @raise ValueError: if it is missing, or the encoding is unknown.
    """
    return encodedField(given, b"value")


class KeysAPI(Resource):
    """
    C{GET /api/keys}: one page of keys; C{/api/keys/KEY}: one key.
    """

    def __init__(self, data, sessions):
        Resource.__init__(self)
        self.data = data
        self.sessions = sessions

    def getChild(self, path, request):
        """
        L{KeyAPI} for the key C{path} (one percent-decoded segment), or
        its C{expire}, C{push}, C{pop} resource, or one that changes its
        hash, set or sorted set (L{MemberAPI}).
        """
        if not path:
            return self
        rest = [p for p in request.postpath if p]
        if not rest:
            return KeyAPI(self.data, self.sessions, path)
        if rest == [b"expire"]:
            request.postpath = []
            return ExpireAPI(self.data, self.sessions, path)
        if rest == [b"push"] or rest == [b"pop"]:
            request.postpath = []
            return ListAPI(self.data, self.sessions, path, rest[0])
        if len(rest) == 1 and rest[0] in MEMBER_ACTIONS:
            request.postpath = []
            return MemberAPI(self.data, self.sessions, path, rest[0])
        return JSONError(404, "no such resource")

    def render_GET(self, request):
        """
        C{{"pattern", "cursor", "next", "keys": [{"key", "type", "ttl",
        "binary"}]}}; C{next} is the cursor of the next page, 0 at the end.
        With C{matching=1}, also C{"matching": {"count": n, "exact":
        bool}} (see L{kvtwist.web.data.WebData.countKeys}).
        """
        pattern = _arg(request, b"pattern", b"*") or b"*"
        try:
            cursor = int(_arg(request, b"cursor", b"0") or b"0")
            count = int(_arg(request, b"count", b"50") or b"50")
        except ValueError:
            return jsonError(request, 400, "cursor and count are integers")
        if cursor < 0 or count < 1:
            return jsonError(request, 400, "cursor and count are positive")

        def done(results):
            page, matching = results
            page["keys"] = [_keyJSON(r) for r in page["keys"]]
            if matching is not None:
                page["matching"] = matching
            return jsonBody(request, page)
        wanted = _arg(request, b"matching") in (b"1", b"true", b"yes")
        d = gatherResults([
            self.data.keys(pattern, cursor, count),
            self.data.countKeys(pattern) if wanted else succeed(None)],
            consumeErrors=True)
        d.addErrback(lambda f: f.value.subFailure)
        return answerLater(request, d, done, failedJSON(request))


class KeyAPI(APILeaf):
    """
    C{/api/keys/KEY}: read (GET), set (POST) or delete (DELETE) one key.
    """

    def __init__(self, data, sessions, key: bytes):
        APILeaf.__init__(self, data, sessions)
        self.key = key

    def render_GET(self, request):
        """
        The key (L{kvtwist.web.data.WebData.key}) or 404.  For a hash, set
        or sorted set, one page of it: C{count} elements (50 unless
        given) from the position C{cursor}, C{skip} and C{match} give (a
        hash or set) or from rank C{offset} (a sorted set); the answer's
        C{next} holds the next page's, L{None} after the last
        (L{pageJSON}).
        """
        try:
            at = Position.fromArgs(request.args)
            count = int(_arg(request, b"count", b"50") or b"50")
            if not 1 <= count <= 1000:
                raise ValueError(count)
        except ValueError:
            return jsonError(request, 400, "cursor, skip and offset are "
                             "whole numbers, count one from 1 to 1000")

        def done(info):
            if info is None:
                return jsonError(request, 404, "no such key")
            return jsonBody(request, pageJSON(info))
        return answerLater(request, self.data.key(self.key, at, count), done,
                           failedJSON(request))

    def render_POST(self, request):
        """
        Set the key to the string C{value}.  Its time to live is kept
        unless C{ttl} says otherwise: C{"remove"}, or a number of seconds
        (L{parseTTL}).  With C{"encoding": "escaped"}, C{value}'s
        escapes (C{\\xHH}, C{\\n}, C{\\\\}) are read, as shown for a binary
        value.
        """
        refused = self.refuseChange(request)
        if refused is not None:
            return refused
        try:
            given = fields(request)
            ttl = parseTTL(given.get(b"ttl"))
            value = _value(given)
        except ValueError as e:
            return jsonError(request, 400, str(e))
        return answerLater(
            request, self.data.setKey(self.key, value, ttl),
            lambda _: jsonBody(request, {"ok": True}), failedJSON(request))

    def render_DELETE(self, request):
        """
        Delete the key: C{{"deleted": true}} or 404 if there was none.
        """
        refused = self.refuseChange(request)
        if refused is not None:
            return refused

        def done(n):
            if not n:
                return jsonError(request, 404, "no such key")
            return jsonBody(request, {"deleted": True})
        return answerLater(request, self.data.deleteKey(self.key), done,
                           failedJSON(request))


class ExpireAPI(APILeaf):
    """
    C{POST /api/keys/KEY/expire} with C{seconds} (EXPIRE; zero or less
    deletes, as in Redis) or without (PERSIST).
    """

    def __init__(self, data, sessions, key: bytes):
        APILeaf.__init__(self, data, sessions)
        self.key = key

    def render_POST(self, request):
        """
        Set or remove the key's time to live.
        """
        refused = self.refuseChange(request)
        if refused is not None:
            return refused
        try:
            seconds = parseSeconds(fields(request).get(b"seconds"))
        except ValueError as e:
            return jsonError(request, 400, str(e))

        def done(n):
            if not n and seconds is not None:
                return jsonError(request, 404, "no such key")
            return jsonBody(request, {"ok": True})
        return answerLater(request, self.data.expireKey(self.key, seconds),
                           done, failedJSON(request))


class ListAPI(APILeaf):
    """
    C{POST /api/keys/KEY/push} with C{value} and C{end} (C{right}, the
    default, or C{left}): C{{"length": n}}; C{POST /api/keys/KEY/pop} with
    C{end}: C{{"value": ..., "binary": ...}} (C{binary}: the value is not
    text, and is shown escaped), or 404 if there is no list.
    """

    def __init__(self, data, sessions, key: bytes, action: bytes):
        APILeaf.__init__(self, data, sessions)
        self.key = key
        self.action = action

    def render_POST(self, request):
        """
        Push or pop one item.
        """
        refused = self.refuseChange(request)
        if refused is not None:
            return refused
        try:
            given = fields(request)
            end = given.get(b"end", b"right")
            if self.action == b"push":
                d = self.data.pushKey(self.key, _value(given), end)
            else:
                d = self.data.popKey(self.key, end)
        except ValueError as e:
            return jsonError(request, 400, str(e))

        def done(reply):
            if self.action == b"push":
                return jsonBody(request, {"length": reply})
            if reply is None:
                return jsonError(request, 404, "no such key")
            return jsonBody(request, {"value": shown(reply),
                                      "binary": not isText(reply)})
        return answerLater(request, d, done, failedJSON(request))
