# -*- test-case-name: kvtwist.test.test_web -*-
"""
Sessions and CSRF protection for the web interface.

Every browser gets a session cookie (C{HttpOnly}, C{SameSite=Strict},
C{Secure} over TLS) on its
first page, and every session a CSRF token that each change must carry (a
C{csrf} form field or an C{X-CSRF-Token} header).  With a server password,
a session is authenticated only by logging in with it (compared in constant
time); logging in starts a new session, so that a planted cookie is worth
nothing.  Guessing is slowed down per client host (L{LoginThrottle}).
"""

import base64
import binascii
import hmac
import ipaddress
import math
import os
from collections import OrderedDict
from typing import Optional

from twisted.logger import Logger

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


class LoginThrottled(Exception):
    """
    Too many wrong passwords came from this client host lately: it may try
    again in C{retryAfter} seconds (a whole number, at least 1).
    """

    def __init__(self, retryAfter: int):
        Exception.__init__(self, retryAfter)
        self.retryAfter = retryAfter


class LoginThrottle:
    """
    Wrong passwords counted per client host (see L{clientHost}), to slow
    down guessing.

    The first L{FREE} in a row cost nothing; each one after that locks the
    host out for twice as long as the one before, from 1 second up to
    L{LONGEST}.  While it is locked out its passwords are not even
    checked.  A right password, or L{FORGET} seconds without a wrong one,
    clears its count.  At most C{maxHosts} hosts are remembered, the least
    recent forgotten first.  A lock never outlasts L{LONGEST} from now,
    even if the clock is set back.
    """

    FREE = 5
    LONGEST = 300
    FORGET = 900

    _log = Logger()

    def __init__(self, clock, maxHosts: int = 10000):
        self._clock = clock
        self._max = maxHosts
        # host -> [wrong passwords in a row, locked until, last wrong one]
        self._hosts: "OrderedDict[str, list]" = OrderedDict()

    def check(self, host: str):
        """
        @raise LoginThrottled: if C{host} is locked out now.
        """
        entry = self._hosts.get(host)
        if entry is None:
            return
        now = self._clock.seconds()
        if now - entry[2] >= self.FORGET:
            del self._hosts[host]
        elif entry[1] > now:
            entry[1] = min(entry[1], now + self.LONGEST)
            raise LoginThrottled(max(1, math.ceil(entry[1] - now)))

    def failed(self, host: str):
        """
        Count a wrong password from C{host}.
        """
        now = self._clock.seconds()
        entry = self._hosts.pop(host, None)
        if entry is None or now - entry[2] >= self.FORGET:
            entry = [0, 0.0, now]
        entry[0] += 1
        entry[2] = now
        over = entry[0] - self.FREE
        if over > 0:
            entry[1] = now + min(self.LONGEST, 2 ** min(over - 1, 16))
            if over == 1:
                self._log.warn(
                    "{count} wrong passwords in a row from {host} on the web "
                    "interface: slowing its logins down", count=entry[0],
                    host=host)
        self._hosts[host] = entry
        while len(self._hosts) > self._max:
            self._hosts.popitem(last=False)

    def succeeded(self, host: str):
        """
        A right password from C{host}: its count starts again.
        """
        self._hosts.pop(host, None)


def clientHost(request) -> str:
    """
    Who a request came from, for L{LoginThrottle}: its IPv4 address (also
    when mapped into IPv6), the /64 network of its IPv6 address (one
    machine usually has a whole /64 to pick addresses from), or C{""} if
    it has none, as on a UNIX socket.
    """
    host = getattr(request.getClientAddress(), "host", None)
    if not host:
        return ""
    try:
        address = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return str(host)
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network((address, 64), strict=False))
    return str(address)


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
        self.throttle = LoginThrottle(clock)

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
        try:
            return self._guess(request, password)
        except LoginThrottled:
            return False

    def checkPassword(self, password: bytes) -> bool:
        """
        Whether C{password} is the server's, compared in constant time.
        """
        if self.password is None:
            return True
        return hmac.compare_digest(password, self.password)

    def _guess(self, request, password: bytes) -> bool:
        """
        L{checkPassword}, counted against the request's host.

        @raise LoginThrottled: if the host is locked out.
        """
        host = clientHost(request)
        self.throttle.check(host)
        if self.checkPassword(password):
            self.throttle.succeeded(host)
            return True
        self.throttle.failed(host)
        return False

    def login(self, request, password: bytes) -> Optional[Session]:
        """
        Check C{password}; if right, end the request's old session and
        start a new authenticated one (its cookie set on C{request}).

        @return: the new session, or L{None} if the password is wrong.
        @raise LoginThrottled: if too many wrong passwords came from the
            request's host lately (the password is not checked).
        """
        if not self._guess(request, password):
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
