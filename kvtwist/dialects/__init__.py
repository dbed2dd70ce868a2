# -*- test-case-name: kvtwist.test.test_protocol -*-
"""
The wire dialects, detected per line by their first bytes.

A line dialect is a module with a C{name}, a C{parse(line)} returning a
request (with C{.name} and C{.args}), L{None} for nothing to do, or an
L{kvtwist.replies.Error}; and a C{render(request, reply)} returning the
bytes to send (C{request} is L{None} for a parse error).  A dialect that
can't send some error replies (the colon protocol) renders them as nothing
and has an C{unanswered(request, error)} giving the text the connection
logs instead (a few per client, then a count).  RESP has its own
framing (L{kvtwist.dialects.resp}) and is chosen by the protocol when a line
starts with C{*}.
"""

from kvtwist.dialects import text

_lineDialects = [text]

try:
    from kvtwist.dialects import colon, jsonlines
except ImportError:  # pragma: no cover - while they are being written
    colon = jsonlines = None
else:
    _lineDialects += [colon, jsonlines]


def detect(line: bytes):
    """
    The dialect module for a (non-RESP) line: JSON lines for C{{},
    the colon protocol for C{Put:}/C{Get:}/C{Update:}/C{Delete:} in any case,
    the text protocol otherwise.
    """
    first = line[:1]
    if first == b"{" and jsonlines is not None:
        return jsonlines
    if colon is not None and first in b"PpGgUuDd" and first:
        if colon.matches(line):
            return colon
    return text
