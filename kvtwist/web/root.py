# -*- test-case-name: kvtwist.test.test_web -*-
"""
The root of the web interface, and what it serves:

    /                 status (live: polls /api/status)
    /clients          connected clients (live: polls /api/clients)
    /keys?pattern=    the key browser, a page at a time (SCAN)
    /keys/KEY         one key; POST to change it
    /login, /logout   when the server has a password
    /api/...          the JSON API (L{kvtwist.web.api})
    /metrics          Prometheus (L{kvtwist.web.metrics})
    /static/...       style sheet and script

The pages are in L{kvtwist.web.status}, L{kvtwist.web.keys},
L{kvtwist.web.keypage} and L{kvtwist.web.login}, on
L{kvtwist.web.pages}' layout.
"""

import os
from urllib.parse import urlencode

from twisted.web.resource import Resource
from twisted.web.static import File

from kvtwist.web.api import APIResource
from kvtwist.web.keys import KeysPage
from kvtwist.web.login import LoginPage, LogoutPage
from kvtwist.web.metrics import MetricsResource, makeRegistry
from kvtwist.web.pages import NotFoundPage
from kvtwist.web.respond import secure
from kvtwist.web.session import Sessions
from kvtwist.web.status import ClientsPage, StatusPage

#: The style sheet and script.
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


class StaticFiles(File):
    """
    The package's C{static/} files, without directory listings; a missing
    file gets the styled 404 page.
    """

    @classmethod
    def forSessions(cls, path: str, sessions: Sessions) -> "StaticFiles":
        """
        The files under C{path}, with the 404 page of C{sessions}' site
        (C{createSimilarFile} gives each child the same).
        """
        files = cls(path)
        files.childNotFound = NotFoundPage(sessions)
        return files

    def directoryListing(self):
        """
        No listings.
        """
        return self.childNotFound


class _LoginFirst(Resource):
    isLeaf = True

    def render(self, request):
        secure(request)
        target = "/login?" + urlencode({"next": request.uri.decode(
            "utf-8", "replace")})
        request.setResponseCode(303)
        request.setHeader(b"location", target.encode("ascii"))
        return b"Log in first\n"


class WebRoot(Resource):
    """
    The root of the web interface.  With a server password, pages other
    than C{/login} and C{/static} redirect to the login page until logged
    in (C{/api} and C{/metrics} check for themselves).
    """

    _public = (b"login", b"static", b"api", b"metrics", b"logout")

    def __init__(self, data, sessions: Sessions):
        """
        @param data: the L{kvtwist.web.data.WebData}.
        @param sessions: the L{Sessions}.
        """
        Resource.__init__(self)
        self.data = data
        self.sessions = sessions
        self.putChild(b"", StatusPage(data, sessions))
        self.putChild(b"clients", ClientsPage(data, sessions))
        self.putChild(b"keys", KeysPage(data, sessions))
        self.putChild(b"login", LoginPage(data, sessions))
        self.putChild(b"logout", LogoutPage(data, sessions))
        self.putChild(b"api", APIResource(data, sessions))
        self.putChild(b"metrics", MetricsResource(
            makeRegistry(data.factory), sessions))
        self.putChild(b"static", StaticFiles.forSessions(STATIC, sessions))

    def getChildWithDefault(self, path, request):
        """
        The child, or the login page's redirect.
        """
        if path not in self._public and not self.sessions.authorized(request):
            return _LoginFirst()
        return Resource.getChildWithDefault(self, path, request)

    def getChild(self, path, request):
        """
        A URL that names nothing: the styled 404 page.
        """
        return NotFoundPage(self.sessions)
