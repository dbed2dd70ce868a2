# -*- test-case-name: kvtwist.test.test_web -*-
"""
Sessions and CSRF protection for the web interface.

Every browser gets a session cookie (C{HttpOnly}, C{SameSite=Strict},
C{Secure} over TLS) on its
first page, and every session a CSRF token that each change must carry (a
C{csrf} form field or an C{X-CSRF-Token} header).  With a server password,
a session is authenticated only by logging in with it (compared in constant
time); logging in starts a new session, so that a planted cookie is worth
nothing.
"""

import base64
import binascii
import hmac
import os
from collections import OrderedDict
from typing import Optional

COOKIE = b"kvtwist_session"
CSRF_HEADER = b"x-csrf-token"
CSRF_FIELD = b"csrf"


class Session:
    """
    One browser's session.

    @ivar id: the secret cookie value.
    @ivar csrf: the token changes must carry.
    @ivar authenticated: whether it may see and change the store.
    @ivar expires: when it ends, by the clock.
    """

    __slots__ = ("id", "csrf", "authenticated", "expires")

    def __init__(self, id: str, csrf: str, authenticated: bool,
                 expires: float):
        self.id = id
        self.csrf = csrf
        self.authenticated = authenticated
        self.expires = expires


def _token() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


class Sessions:
    """
    The live sessions of one web interface, kept in memory.

    @ivar password: the server password (L{bytes}) or L{None}, in which case
        every session is authenticated.
    """

    def __init__(self, password: Optional[bytes], clock,
                 lifetime: float = 12 * 3600, maxSessions: int = 10000):
        """
        @param clock: an L{IReactorTime}.
        @param lifetime: seconds a session lasts after its last use.
        @param maxSessions: the most sessions kept; the oldest go first.
        """
        self.password = password
        self._clock = clock
        self._lifetime = lifetime
        self._max = maxSessions
        self._sessions: "OrderedDict[str, Session]" = OrderedDict()

    @property
    def required(self) -> bool:
        """
        Whether logging in is required.
        """
        return self.password is not None

    def _new(self, request, authenticated: bool) -> Session:
        now = self._clock.seconds()
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if oldest.expires > now and len(self._sessions) < self._max:
                break
            self._sessions.popitem(last=False)
        session = Session(_token(), _token(), authenticated,
                          now + self._lifetime)
        self._sessions[session.id] = session
        request.addCookie(COOKIE, session.id.encode("ascii"), path=b"/",
                          httpOnly=True, sameSite="strict",
                          secure=bool(request.isSecure()))
        return session

    def get(self, request) -> Optional[Session]:
        """
        The request's live session, or L{None}.
        """
        cookie = request.getCookie(COOKIE)
        if not cookie:
            return None
        session = self._sessions.get(cookie.decode("ascii", "replace"))
        if session is None:
            return None
        now = self._clock.seconds()
        if session.expires <= now:
            del self._sessions[session.id]
            return None
        session.expires = now + self._lifetime
        self._sessions.move_to_end(session.id)
        return session

    def ensure(self, request) -> Session:
        """
        The request's session, started (and its cookie set) if it has none.
        Without a password a new session is authenticated at once.
        """
        session = self.get(request)
        if session is None:
            session = self._new(request, authenticated=not self.required)
        return session

    def authorized(self, request) -> bool:
        """
        Whether the request may see the store: no password, an
        authenticated session, or (for scrapers) HTTP Basic authentication
        with the password and any user name.
        """
        if not self.required:
            return True
        session = self.get(request)
        if session is not None and session.authenticated:
            return True
        return self._basic(request)

    def _basic(self, request) -> bool:
        header = request.getHeader(b"authorization")
        if not header or not header[:6].lower() == b"basic ":
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        _, _, password = decoded.partition(b":")
        return self.checkPassword(password)

    def checkPassword(self, password: bytes) -> bool:
        """
        Whether C{password} is the server's, compared in constant time.
        """
        if self.password is None:
            return True
        return hmac.compare_digest(password, self.password)

    def login(self, request, password: bytes) -> Optional[Session]:
        """
        Check C{password}; if right, end the request's old session and
        start a new authenticated one (its cookie set on C{request}).

        @return: the new session, or L{None} if the password is wrong.
        """
        if not self.checkPassword(password):
            return None
        self.logout(request)
        return self._new(request, authenticated=True)

    def logout(self, request):
        """
        End the request's session, if any.
        """
        session = self.get(request)
        if session is not None:
            del self._sessions[session.id]

    def checkCSRF(self, request) -> bool:
        """
        Whether a change request carries its session's CSRF token (form
        field C{csrf} or header C{X-CSRF-Token}) and, if the browser says
        where it comes from (C{Origin}), comes from this site.
        """
        session = self.get(request)
        if session is None:
            return False
        origin = request.getHeader(b"origin")
        if origin is not None and origin != b"null":
            host = request.getHeader(b"host") or b""
            if origin.split(b"://", 1)[-1] != host:
                return False
        given = request.getHeader(CSRF_HEADER)
        if given is None:
            given = (request.args.get(CSRF_FIELD) or [b""])[0]
        return hmac.compare_digest(given, session.csrf.encode("ascii"))
