# -*- test-case-name: kvtwist.test.test_web -*-
"""
Small helpers every web resource uses: security headers, JSON bodies and
the JSON API's leaf resources, request fields, and answering with a
Deferred.
"""

import json
from typing import Callable, Dict, Optional

from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from kvtwist.dialects.text import unescape
from kvtwist.web.data import CommandFailed
from kvtwist.web.keydata import KEEP

_log = Logger(namespace="kvtwist.web")

#: Sent with every page: no inline script or style, no framing, nothing
#: loaded from elsewhere.
CSP = (b"default-src 'self'; script-src 'self'; style-src 'self'; "
       b"img-src 'self' data:; connect-src 'self'; form-action 'self'; "
       b"frame-ancestors 'none'; base-uri 'none'")


def secure(request):
    """
    Set the headers every response of the web interface carries.
    """
    request.setHeader(b"content-security-policy", CSP)
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"x-frame-options", b"DENY")
    request.setHeader(b"referrer-policy", b"same-origin")


def jsonBody(request, value, code: int = 200) -> bytes:
    """
    Answer with C{value} as JSON (never cached).
    """
    secure(request)
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(value, sort_keys=True).encode("utf-8") + b"\n"


def jsonError(request, code: int, message: str) -> bytes:
    """
    Answer with C{{"error": message}} and status C{code}.
    """
    return jsonBody(request, {"error": message}, code)


def fields(request) -> Dict[bytes, bytes]:
    """
    A change request's fields: from a JSON object body when the content
    type says JSON (strings as UTF-8, numbers as digits, nulls left out),
    else the form or query arguments (the first of each).

    @raise ValueError: if a JSON body is not an object of scalars.
    """
    ctype = (request.getHeader(b"content-type") or b"").lower()
    if ctype.startswith(b"application/json"):
        content = getattr(request, "content", None)
        raw = content.read() if content is not None else b""
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        out = {}
        for name, value in data.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value,
                                                         (str, int, float)):
                raise ValueError("field %r must be a string or number"
                                 % (name,))
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            out[name.encode("utf-8")] = str(value).encode("utf-8")
        return out
    return {name: values[0] for name, values in request.args.items()
            if values}


def encodedField(given: Dict[bytes, bytes], name: bytes,
                 required: bool = True) -> bytes:
    """
    The request field C{name} (L{fields}), read back from its escapes
    (C{\\xHH}, C{\\n}, C{\\\\}) when C{encoding} is C{escaped}: as the
    API shows what isn't text.

    @raise ValueError: if it is required and missing, or the encoding is
        neither C{text} (or nothing) nor C{escaped}.
    """
    if name not in given:
        if required:
            raise ValueError("%s is required" % (name.decode(),))
        return b""
    encoding = given.get(b"encoding", b"").lower()
    if encoding in (b"", b"utf-8", b"text"):
        return given[name]
    if encoding == b"escaped":
        return unescape(given[name])
    raise ValueError("encoding is text or escaped")


def failedJSON(request):
    """
    An errback answering a command's error reply (L{CommandFailed}) as a
    JSON error, with its HTTP status (503 while persistence fails, else
    400).
    """
    def failed(failure):
        failure.trap(CommandFailed)
        return jsonError(request, failure.value.httpStatus,
                         str(failure.value))
    return failed


def parseSeconds(raw: Optional[bytes]) -> Optional[int]:
    """
    A whole number of seconds from a field, L{None} if empty.

    @raise ValueError: if it is not one.
    """
    if raw is None or not raw.strip():
        return None
    return int(raw.strip())


def parseTTL(raw: Optional[bytes], mode: Optional[bytes] = None):
    """
    The time to live a change of value asks for, from its C{ttl} field and
    (on the page's form) its C{ttlmode} choice.

      - nothing, an empty C{ttl} or C{keep}: L{KEEP}, the key keeps the
        time to live it has (a new key has none);
      - C{remove} (as C{ttl}, or C{ttlmode=remove}): L{None}, no time to
        live;
      - a positive whole number of seconds: that.

    @raise ValueError: for anything else, for C{ttlmode=set} without a
        number, or a number with C{ttlmode=remove}.
    """
    value = (raw or b"").strip().lower()
    mode = (mode or b"").strip().lower()
    if mode not in (b"", b"keep", b"set", b"remove"):
        raise ValueError("ttlmode is keep, set or remove")
    if value in (b"", b"keep"):
        if mode == b"set":
            raise ValueError("give the new time to live in seconds")
        return None if mode == b"remove" else KEEP
    if value == b"remove":
        return None
    seconds = int(value)
    if seconds <= 0:
        raise ValueError("a time to live is a positive number of seconds")
    if mode == b"remove":
        raise ValueError("either remove the time to live or set one")
    return seconds


def answerLater(request, d, onResult: Callable, onError: Callable):
    """
    Finish C{request} when Deferred C{d} fires: C{onResult(value)} or
    C{onError(failure)} return the body.  An unexpected error is logged and
    answered with 500.

    @return: L{NOT_DONE_YET}, for C{render}.
    """
    gone = []
    request.notifyFinish().addErrback(lambda f: gone.append(f))

    def write(body: bytes):
        if gone:
            return
        request.write(body)
        request.finish()

    def crash(failure):
        _log.failure("web request {uri} failed", failure=failure,
                     uri=getattr(request, "uri", b""))
        if gone:
            return
        request.setResponseCode(500)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        write(b"500 Internal Server Error\n")

    d.addCallbacks(onResult, onError).addCallback(write).addErrback(crash)
    return NOT_DONE_YET


class APILeaf(Resource):
    """
    A resource of the JSON API with no children, holding the
    L{kvtwist.web.data.WebData} and the L{kvtwist.web.session.Sessions}.
    """

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


class JSONError(APILeaf):
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
