# -*- test-case-name: kvtwist.test.test_colon -*-
"""
The colon protocol of the Go seed (CMU 15-440 P0): multi-value keys.

Requests, one per line, verbs in any case (C{Put}, C{PUT}, C{put}):

    - C{Put:key:value} appends C{value} to the key's list (C{RPUSH}).
    - C{Get:key} replies one line C{key:value} per value, in insertion
      order, and nothing at all when the key has no value
      (C{LRANGE key 0 -1}).
    - C{Update:key:old:new} replaces every value equal to C{old} with
      C{new} (C{LREPLACE}).
    - C{Delete:key} removes the key (C{DEL}).

C{Put}, C{Update} and C{Delete} send no reply: the seed's clients never
read one.  Reply lines end with C{\\n}, as the seed sends them.

Splitting: a line is split on C{:} no more times than its verb needs, so a
value may contain C{:}.  The key is always one field (it ends at the first
C{:} after the verb), except for C{Get} and C{Delete}, where it is the rest
of the line.  C{Update:key:old:new} is split into exactly four parts as the
seed does, C{old} being one field: C{old} ends at the first C{:} after the
key and C{new} is the rest of the line.  So C{Update:k:a:b:c} replaces
C{a} with C{b:c}; a value containing C{:} can be put and read back but not
used as the C{old} of an C{Update}.

Colon keys are lists in the shared store, so C{LRANGE} and the other list
commands see them.  The protocol has no error reply: a malformed line, a
colon write or read on a key holding another type (C{WRONGTYPE}), and every
line while a password is set (the protocol has no way to authenticate:
C{NOAUTH}) send nothing back and are logged instead (L{unanswered} says
what: the connection logs it, a few per client).  A value holding CR
or LF (written through another dialect) is shown as C{\\r} / C{\\n} so that
it stays on its line.
"""

from typing import List, Optional

from kvtwist.replies import Error

name = "colon"

#: verb (lower case) -> (command name, number of fields after the verb)
_VERBS = {
    b"put": (b"RPUSH", 2),
    b"get": (b"LRANGE", 1),
    b"update": (b"LREPLACE", 3),
    b"delete": (b"DEL", 1),
}

_PREFIXES = tuple(verb + b":" for verb in _VERBS)


class Request:
    """
    A parsed colon line.

    @ivar name: the command of the table it runs.
    @ivar args: the command's arguments.
    @ivar verb: the colon verb, lower case (C{b"put"}, C{b"get"}, ...).
    @ivar key: the key.
    """

    __slots__ = ("name", "args", "verb", "key")

    def __init__(self, name: bytes, args: List[bytes], verb: bytes,
                 key: bytes):
        self.name = name
        self.args = args
        self.verb = verb
        self.key = key


def matches(line: bytes) -> bool:
    """
    Whether C{line} is a colon-protocol request: it starts with C{put:},
    C{get:}, C{update:} or C{delete:} in any case.
    """
    # The colon ends every prefix at index 3 or 6: most lines that aren't
    # colon requests are told by one search.
    if line.find(b":", 3, 7) < 0:
        return False
    return line[:7].lower().startswith(_PREFIXES)


def parse(line: bytes):
    """
    Parse one colon line.

    @return: a L{Request}, or an L{Error} for a malformed line (which
        L{render} logs and answers with nothing).
    """
    verb, sep, rest = line.partition(b":")
    verb = verb.lower()
    entry = _VERBS.get(verb)
    if entry is None or not sep:
        return Error("ERR colon protocol: unknown verb in %r" % (line[:64],))
    command, fields = entry
    parts = rest.split(b":", fields - 1)
    if len(parts) != fields:
        return Error("ERR colon protocol: %s needs %d field(s) after the "
                     "verb, in %r" % (verb.decode("ascii").capitalize(),
                                      fields, line[:64]))
    key = parts[0]
    if verb == b"get":
        args = [key, b"0", b"-1"]
    else:
        args = parts
    return Request(command, args, verb, key)


def _show(value: bytes) -> bytes:
    if b"\n" in value or b"\r" in value:
        value = value.replace(b"\r", b"\\r").replace(b"\n", b"\\n")
    return value


def render(request: Optional[Request], reply) -> bytes:
    """
    Render C{reply} to C{request} (L{None} if the line could not be parsed)
    as the bytes to send: the C{key:value} lines of a C{Get}, nothing for
    anything else.  Errors are never sent (see L{unanswered}).
    """
    if type(reply) is Error:
        return b""
    if request is None or request.verb != b"get" or not reply:
        return b""
    prefix = _show(request.key) + b":"
    return b"".join([prefix + _show(value) + b"\n" for value in reply])


def unanswered(request: Optional[Request], error: Error) -> str:
    """
    What to log for an error the protocol has no way to send: the refused
    line, or the verb and key refused, and why.

    @param request: the request refused, or L{None} for a line that could
        not be parsed.
    """
    if request is None:
        return "colon protocol: refused line: %s" % (error,)
    return "colon protocol: %s on key %r refused: %s" % (
        request.verb.decode("ascii"), request.key, error)
