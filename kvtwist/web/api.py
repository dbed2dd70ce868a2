# -*- test-case-name: kvtwist.test.test_web -*-
"""
The JSON API under C{/api/}, which the pages use (see docs/web.md):

    GET    /api/session            auth state and this session's CSRF token
    POST   /api/login              {"password": ...}
    POST   /api/logout
    GET    /api/status             uptime, clients, commands/s, keys, ...
    GET    /api/clients            the connected clients
    /api/keys...                   the keys (L{kvtwist.web.keyapi})

Every POST and DELETE carries the session's CSRF token in an
C{X-CSRF-Token} header (or a C{csrf} field); a GET never changes anything.
"""

from twisted.web.resource import Resource

from kvtwist.web.keyapi import KeysAPI
from kvtwist.web.respond import APILeaf, JSONError, fields, jsonBody, jsonError
from kvtwist.web.session import LoginThrottled


class SessionAPI(APILeaf):
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


class LoginAPI(APILeaf):
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


class LogoutAPI(APILeaf):
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


class StatusAPI(APILeaf):
    """
    C{GET /api/status}.
    """

    def render_GET(self, request):
        """
        L{kvtwist.web.data.WebData.status}.
        """
        return jsonBody(request, self.data.status())


class ClientsAPI(APILeaf):
    """
    C{GET /api/clients}.
    """

    def render_GET(self, request):
        """
        C{{"clients": [...]}}.
        """
        return jsonBody(request, {"clients": self.data.clients()})


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
