# -*- test-case-name: kvtwist.test.test_web -*-
"""
The JSON API under C{/api/}, which the pages use (see the README, "Web
interface"):

    GET    /api/session            auth state and this session's CSRF token
    POST   /api/login              {"password": ...}
    POST   /api/logout
    GET    /api/status             uptime, clients, commands/s, keys, ...
    GET    /api/clients            the connected clients
    GET    /api/keys?pattern=&cursor=&count=&matching=1
                                   one page of keys (SCAN); with matching=1
                                   also how many keys match
    GET    /api/keys/KEY           one key: type, TTL, value or items
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

KEY is percent-encoded as one path segment.  Every POST and DELETE carries
the session's CSRF token in an C{X-CSRF-Token} header (or a C{csrf}
field); a GET never changes anything.  A key or value that is not text
(not UTF-8, or holding control characters) is shown escaped as the text
protocol shows it (C{\\x00\\xff}, C{\\\\}), with C{"binary": true}.
"""

from twisted.web.resource import Resource

from twisted.internet.defer import gatherResults, succeed

from kvtwist.dialects.text import unescape
from kvtwist.web.data import CommandFailed, isText, shown
from kvtwist.web.respond import (answerLater, fields, jsonBody, jsonError,
                                 parseSeconds, parseTTL)
from kvtwist.web.session import LoginThrottled


class _Leaf(Resource):
    isLeaf = True

    def __init__(self, data, sessions):
        Resource.__init__(self)
        self.data = data
        self.sessions = sessions

    def refuseChange(self, request):
        """
        The error body if this change request lacks its CSRF token, else
        L{None}.
        """
        if not self.sessions.checkCSRF(request):
            return jsonError(request, 403, "missing or wrong CSRF token")
        return None


class JSONError(_Leaf):
    """
    Answers every method with one JSON error.
    """

    def __init__(self, code: int, message: str):
        Resource.__init__(self)
        self.code = code
        self.message = message

    def render(self, request):
        """
        The error, whatever the method.
        """
        return jsonError(request, self.code, self.message)


class SessionAPI(_Leaf):
    """
    C{GET /api/session}: starts a session if needed and tells whether a
    password is required, whether this session is logged in, and its CSRF
    token.
    """

    def render_GET(self, request):
        """
        The session's state.
        """
        session = self.sessions.ensure(request)
        return jsonBody(request, {
            "authRequired": self.sessions.required,
            "authenticated": session.authenticated,
            "csrfToken": session.csrf,
        })


class LoginAPI(_Leaf):
    """
    C{POST /api/login} with C{password}.
    """

    def render_POST(self, request):
        """
        Log in: a new session cookie and its CSRF token, or 403; 429 (and
        C{Retry-After}) while this host is locked out for wrong passwords.
        """
        refused = self.refuseChange(request)
        if refused is not None:
            return refused
        try:
            password = fields(request).get(b"password", b"")
        except ValueError as e:
            return jsonError(request, 400, str(e))
        try:
            session = self.sessions.login(request, password)
        except LoginThrottled as e:
            request.setHeader(b"retry-after", b"%d" % (e.retryAfter,))
            return jsonError(request, 429, "too many wrong passwords: try "
                             "again in %d seconds" % (e.retryAfter,))
        if session is None:
            self.data.factory.stats.authFailures += 1
            return jsonError(request, 403, "wrong password")
        return jsonBody(request, {"authenticated": True,
                                  "csrfToken": session.csrf})


class LogoutAPI(_Leaf):
    """
    C{POST /api/logout}.
    """

    def render_POST(self, request):
        """
        End the session.
        """
        refused = self.refuseChange(request)
        if refused is not None:
            return refused
        self.sessions.logout(request)
        return jsonBody(request, {"authenticated": False})


class StatusAPI(_Leaf):
    """
    C{GET /api/status}.
    """

    def render_GET(self, request):
        """
        L{kvtwist.web.data.WebData.status}.
        """
        return jsonBody(request, self.data.status())


class ClientsAPI(_Leaf):
    """
    C{GET /api/clients}.
    """

    def render_GET(self, request):
        """
        C{{"clients": [...]}}.
        """
        return jsonBody(request, {"clients": self.data.clients()})


def _arg(request, name: bytes, default: bytes = b"") -> bytes:
    return (request.args.get(name) or [default])[0]


def _failed(request):
    def failed(failure):
        failure.trap(CommandFailed)
        return jsonError(request, failure.value.httpStatus,
                         str(failure.value))
    return failed


def _keyJSON(row):
    return {k: v for k, v in row.items() if k != "raw"}


def _value(given):
    """
    The C{value} field, its escapes read with C{encoding=escaped}.

    @raise ValueError: if it is missing, or the encoding is unknown.
    """
    if b"value" not in given:
        raise ValueError("value is required")
    encoding = given.get(b"encoding", b"").lower()
    if encoding in (b"", b"utf-8", b"text"):
        return given[b"value"]
    if encoding == b"escaped":
        return unescape(given[b"value"])
    raise ValueError("encoding is text or escaped")


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
        its C{expire}, C{push} or C{pop} resource.
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
        return answerLater(request, d, done, _failed(request))


class KeyAPI(_Leaf):
    """
    C{/api/keys/KEY}: read (GET), set (POST) or delete (DELETE) one key.
    """

    def __init__(self, data, sessions, key: bytes):
        _Leaf.__init__(self, data, sessions)
        self.key = key

    def render_GET(self, request):
        """
        The key (L{kvtwist.web.data.WebData.key}) or 404.
        """
        def done(info):
            if info is None:
                return jsonError(request, 404, "no such key")
            return jsonBody(request, info)
        return answerLater(request, self.data.key(self.key), done,
                           lambda f: f)

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
            lambda _: jsonBody(request, {"ok": True}), _failed(request))

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
                           _failed(request))


class ExpireAPI(_Leaf):
    """
    C{POST /api/keys/KEY/expire} with C{seconds} (EXPIRE; zero or less
    deletes, as in Redis) or without (PERSIST).
    """

    def __init__(self, data, sessions, key: bytes):
        _Leaf.__init__(self, data, sessions)
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
                           done, _failed(request))


class ListAPI(_Leaf):
    """
    C{POST /api/keys/KEY/push} with C{value} and C{end} (C{right}, the
    default, or C{left}): C{{"length": n}}; C{POST /api/keys/KEY/pop} with
    C{end}: C{{"value": ..., "binary": ...}} (C{binary}: the value is not
    text, and is shown escaped), or 404 if there is no list.
    """

    def __init__(self, data, sessions, key: bytes, action: bytes):
        _Leaf.__init__(self, data, sessions)
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
        return answerLater(request, d, done, _failed(request))


class APIResource(Resource):
    """
    C{/api/}: the JSON API.  With a password, everything but C{session}
    and C{login} needs a logged-in session.
    """

    _public = (b"session", b"login")

    def __init__(self, data, sessions):
        Resource.__init__(self)
        self.sessions = sessions
        self.putChild(b"session", SessionAPI(data, sessions))
        self.putChild(b"login", LoginAPI(data, sessions))
        self.putChild(b"logout", LogoutAPI(data, sessions))
        self.putChild(b"status", StatusAPI(data, sessions))
        self.putChild(b"clients", ClientsAPI(data, sessions))
        self.putChild(b"keys", KeysAPI(data, sessions))

    def getChildWithDefault(self, path, request):
        """
        The child, or a 401 unless logged in, or 404.
        """
        if path not in self._public and not self.sessions.authorized(request):
            return JSONError(401, "log in first")
        child = self.children.get(path)
        if child is None:
            return JSONError(404, "no such resource")
        return child
