# -*- test-case-name: kvtwist.test.test_text -*-
"""
The text dialect, for people on telnet or nc (the threaded Python seed).

Requests are lines of words: C{SET key value with spaces}, C{GET key},
C{REMOVE key}, C{PRINT}, C{quit}, and every command of the table.  Words may
be double-quoted (C{"a b"}, with C{\\n}, C{\\"}, C{\\\\} and C{\\xHH} escapes)
as in redis-cli, except the value of C{SET}, which is the rest of the line
after the key, without the blanks around it (quote it to keep them).

Replies are single lines, except for the commands in L{BLOCK_COMMANDS},
whose reply is a block: zero or more lines, then a line holding a single
C{.}.  A body line that starts with C{.} is sent with one more C{.} in
front (dot-stuffing, as SMTP does), so a client reads until the lone C{.}
and strips one leading dot from the lines it kept.  An error is one line,
whatever the command (C{MGET} alone: C{ERR wrong number of arguments for
'mget' command}, no block); so that a block is never mistaken for one, a
block whose first line would start with an error code (L{ERROR_CODES}) has
that line dot-stuffed too.

Keys and values are shown so that they can't act on a terminal and read
back exactly (L{escape}, L{unescape}): control bytes (below 0x20, 0x7f, and
the C1 controls U+0080-U+009F), bytes that aren't UTF-8 and the backslash
are escaped (C{\\n}, C{\\r}, C{\\t}, C{\\\\}, C{\\xHH}); text in other scripts
is shown as it is.  Inside single quotes (C{Key 'k' not found.}) a quote is
C{\\'}.
"""

import re
from typing import List, Optional

from kvtwist.dialects import textforms
from kvtwist.doubles import formatDouble
from kvtwist.replies import (
    QUEUED, Error, NullArray, Push, Pushes, SetReply, Status, Verbatim,
    wrongArity)

name = "text"

#: Commands whose text reply is always a block ending with a C{.} line.
BLOCK_COMMANDS = frozenset([
    b"PRINT", b"KEYS", b"MGET", b"INFO", b"LRANGE", b"SCAN", b"CONFIG",
    b"COMMAND", b"TIME", b"HELLO", b"HELP", b"CLIENT", b"EXEC",
]) | textforms.BLOCK_COMMANDS

#: Words the text protocol takes for a command of the table.
ALIASES = {
    b"REMOVE": b"DEL",
    b"DELETE": b"DEL",
    b"EXIT": b"QUIT",
}

#: What the text protocol does beyond the command table, shown by HELP on a
#: text connection after what the table says.
TEXT_NOTES = {
    b"SET": [
        "Text: SET key value stores the rest of the line after the key, "
        "without the blanks around it (SET greeting hello  world); quote "
        "the value to keep its spaces or to give options: "
        "SET k \"  v  \" EX 60.",
        "Text: answers Added key 'k' with value 'v' (Updated key ... when "
        "it existed).",
    ],
    b"GET": [
        "Text: the value alone on its line, escaped (\\n, \\xHH, \\\\); "
        "a missing key answers Key 'k' not found.",
    ],
    b"DEL": [
        "Text: also REMOVE and DELETE; with one key, answers Removed key "
        "'k'. or Key 'k' not found.",
    ],
    b"PING": [
        "Text: a bare PING line is answered +PONG, exactly, as Redis "
        "answers an inline PING (redis-benchmark's PING_INLINE and load "
        "balancers' health checks rely on it); PING message answers the "
        "message.",
    ],
    b"QUIT": ["Text: also EXIT; answers Goodbye! and closes the "
              "connection."],
    b"KEYS": ["Text: KEYS alone lists every key."],
    b"SUBSCRIBE": [
        "Text: answers a line per channel, Subscribed to channel 'news' "
        "(1 subscription).; then each message comes as a line, Message "
        "on 'news': hello, and other commands still run meanwhile.",
    ],
    b"PSUBSCRIBE": [
        "Text: as SUBSCRIBE; a message comes as Message on 'news' "
        "(pattern 'n*'): hello.",
    ],
    b"PRINT": ["Text: a key: value line per key, a list as key: ['a', "
               "'b'] (see docs/protocols.md)."],
}

#: Shown by HELP (without a command) on a text connection.
TEXT_HELP = [
    "Text protocol: REMOVE and DELETE are DEL, EXIT is QUIT; words may be "
    "double-quoted (\"a b\", with \\n \\xHH escapes); keys and values "
    "are shown escaped. HELP SET: how SET reads its value.",
]

#: The codes that start an error line: a line of a text reply that starts
#: with one of them, then a blank or the end, is an error (the client reads
#: it as the whole reply, even to a block command).  Redis's codes.
ERROR_CODES = (
    "ERR", "WRONGTYPE", "NOAUTH", "WRONGPASS", "MISCONF", "NOPROTO",
    "DENIED", "EXECABORT", "NOSCRIPT", "BUSY", "LOADING", "READONLY", "OOM",
    "NOPERM", "MOVED", "ASK", "TRYAGAIN", "CROSSSLOT", "CLUSTERDOWN",
    "NOGROUP", "BUSYGROUP", "NOREPLICAS", "MASTERDOWN", "UNBLOCKED",
    "NOTBUSY", "BUSYKEY", "UNKILLABLE",
)

#: A line that starts with an error code.
ERROR_LINE = re.compile(
    ("(?:%s)(?: |\\Z)" % ("|".join(ERROR_CODES),)).encode("ascii"))

_SET_LINE = re.compile(rb"\s*(\S+)\s+(\S+)(?:\s+(.*?))?\s*\Z", re.DOTALL)

GOODBYE = b"Goodbye!"



class Request:
    """
    A parsed text line.

    @ivar name: the upper-case command name the table knows.
    @ivar word: the upper-case word the user typed.
    @ivar args: the arguments.
    """

    __slots__ = ("name", "word", "args")

    def __init__(self, name: bytes, word: bytes, args: List[bytes]):
        self.name = name
        self.word = word
        self.args = args


def splitArgs(line: bytes) -> Optional[List[bytes]]:
    """
    Split a line into words, honouring double quotes and backslash escapes
    inside them, as redis-cli and Redis's inline protocol do.

    @return: the words, or L{None} for unbalanced quotes.
    """
    if b'"' not in line and b"'" not in line:
        return line.split()
    words = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i:i + 1].isspace():
            i += 1
        if i >= n:
            return words
        quote = line[i:i + 1]
        if quote in (b'"', b"'"):
            i += 1
            out = bytearray()
            while True:
                if i >= n:
                    return None
                c = line[i:i + 1]
                if c == b"\\" and quote == b'"' and i + 1 < n:
                    nxt = line[i + 1:i + 2]
                    if nxt == b"x" and i + 3 < n:
                        try:
                            out.append(int(line[i + 2:i + 4], 16))
                            i += 4
                            continue
                        except ValueError:
                            pass
                    out += {b"n": b"\n", b"r": b"\r", b"t": b"\t",
                            b"0": b"\0"}.get(nxt, nxt)
                    i += 2
                    continue
                if c == quote:
                    i += 1
                    if i < n and not line[i:i + 1].isspace():
                        return None
                    break
                out += c
                i += 1
            words.append(bytes(out))
        else:
            start = i
            while i < n and not line[i:i + 1].isspace():
                i += 1
            words.append(line[start:i])


def _plainSet(line: bytes, words: List[bytes]) -> bool:
    """
    Whether a SET line is three words, one separator each, nothing quoted
    (a quoted word is shorter than it is on the line): the common case,
    whose arguments L{_setArgs} would find to be its words.
    """
    return len(words) == 3 and len(line) == (
        len(words[0]) + len(words[1]) + len(words[2]) + 2)


def _setArgs(line: bytes, words: List[bytes]) -> List[bytes]:
    """
    The arguments of a SET line: the key and the rest of the line without
    the blanks around it, inner spaces and quotes kept verbatim (C{SET msg
    don't panic}), unless the key or the value starts with a quote; then
    the quoted words.
    """
    match = _SET_LINE.match(line) if len(words) >= 3 else None
    if match is not None and match.group(2)[:1] not in b"\"'" and \
            match.group(3)[:1] not in b"\"'":
        return [match.group(2), match.group(3)]
    return words[1:]


def parse(line: bytes):
    """
    Parse one text line.

    @return: a L{Request}, L{None} for a blank line, or an L{Error}.
    """
    words = splitArgs(line)
    if words is None:
        return Error("ERR Protocol error: unbalanced quotes in request")
    if not words:
        return None
    word = words[0].upper()
    name = ALIASES.get(word, word)
    if name == b"SET":
        if _plainSet(line, words):
            args = words[1:]
        else:
            args = _setArgs(line, words)
        if len(args) == 2:
            # Ask for the old value: it tells Added from Updated.
            return Request(b"SET", word, [args[0], args[1], b"GET"])
        return Request(b"SET", word, args)
    if name == b"KEYS" and len(words) == 1:
        # For people, KEYS alone lists everything (the gevent seeds' wish).
        return Request(name, word, [b"*"])
    if name == b"HELP":
        # HELP REMOVE is HELP DEL.
        return Request(name, word, [ALIASES.get(w.upper(), w)
                                    for w in words[1:]])
    return Request(name, word, words[1:])


#: Bytes after which a value may need escaping: the fast path's test.
_MAYBE_UNSAFE = re.compile(rb"[\x00-\x1f\x7f-\xff\\]")

#: What is escaped, in a value decoded as UTF-8 with C{surrogateescape}:
#: C0 and C1 controls, DEL, the backslash, and bytes that weren't UTF-8.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\\\\\udc80-\udcff]")

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escapeChar(match) -> str:
    c = match.group(0)
    named = _NAMED.get(c)
    if named is not None:
        return named
    code = ord(c)
    if code >= 0xdc80:
        # A byte that wasn't UTF-8 (surrogateescape).
        return "\\x%02x" % (code - 0xdc00,)
    return "".join("\\x%02x" % (b,) for b in c.encode("utf-8"))


def escape(value: bytes) -> bytes:
    """
    Show a key or value safely on a terminal, on one line, so that
    L{unescape} gives it back: control characters (C0, DEL, C1), bytes
    that aren't UTF-8 and backslashes become C{\\n}, C{\\r}, C{\\t},
    C{\\\\} or C{\\xHH}; everything else (UTF-8 text in any script) is
    kept.
    """
    if _MAYBE_UNSAFE.search(value) is None:
        return value
    text = value.decode("utf-8", "surrogateescape")
    return _UNSAFE.sub(_escapeChar, text).encode("utf-8")


def _inQuotes(value: bytes) -> bytes:
    shown = escape(value)
    if b"'" in shown:
        return shown.replace(b"'", b"\\'")
    return shown


def quote(value: bytes) -> bytes:
    """
    L{escape}, in single quotes, a quote inside shown as C{\\'}:
    C{'it\\'s'}.
    """
    return b"'" + _inQuotes(value) + b"'"


_ESCAPE_SEQUENCE = re.compile(rb"\\(x[0-9a-fA-F]{2}|.)", re.DOTALL)
_UNNAMED = {b"n": b"\n", b"r": b"\r", b"t": b"\t"}


def _unescapeSequence(match) -> bytes:
    what = match.group(1)
    if len(what) == 3:
        return bytes([int(what[1:], 16)])
    return _UNNAMED.get(what, what)


def unescape(shown: bytes) -> bytes:
    """
    The value that L{escape} (or L{quote}, without its quotes) showed as
    C{shown}.
    """
    if b"\\" not in shown:
        return shown
    return _ESCAPE_SEQUENCE.sub(_unescapeSequence, shown)


#: Control characters in a status or error line, or a line of text meant
#: for people: shown as C{\\xHH}, their backslashes left as they are.
_CONTROL_TEXT = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]|\xc2[\x80-\x9f]")


def _hexChars(match) -> str:
    return "".join("\\x%02x" % (b,) for b in match.group(0).encode("utf-8"))


def _hexBytes(match) -> bytes:
    return b"".join(b"\\x%02x" % (b,) for b in match.group(0))


def _safeText(line: str) -> bytes:
    """
    A status or error line, its control characters shown as C{\\xHH}.
    """
    return _CONTROL_TEXT.sub(_hexChars, line).encode("utf-8")


def _safeLine(line: bytes) -> bytes:
    """
    A line of text for people (C{INFO}, C{CLIENT LIST}), its control
    characters shown as C{\\xHH}.
    """
    return _CONTROL_BYTES.sub(_hexBytes, line)


def _printValue(value: bytes) -> bytes:
    """
    A string value in C{PRINT}: as it is, unless it starts like a list or
    a quoted value (C{[} or C{'}): then quoted, so that a list can't be
    imitated.
    """
    if value[:1] in (b"[", b"'"):
        return quote(value)
    return escape(value)


def _printKey(key: bytes) -> bytes:
    """
    A key in C{PRINT}: as it is, unless it starts with a quote or holds
    C{": "} (which would end it early): then quoted.
    """
    if key[:1] == b"'" or b": " in key:
        return quote(key)
    return escape(key)


def _lines(reply) -> List[bytes]:
    """
    Render a reply as body lines of a block.
    """
    t = type(reply)
    if t is list or t is SetReply:
        out = []
        for item in reply:
            if type(item) is list:
                out.extend(b"  " + line for line in _lines(item))
            else:
                out.extend(_lines(item))
        return out
    if t is dict:
        out = []
        for k, v in reply.items():
            if type(v) in (list, dict):
                out.append(_one(k) + b":")
                out.extend(b"  " + line for line in _lines(v))
            else:
                out.append(_one(k) + b": " + _one(v))
        return out
    if t is Verbatim:
        text = bytes(reply).replace(b"\r\n", b"\n")
        if text.endswith(b"\n"):
            text = text[:-1]
        return [_safeLine(line) for line in text.split(b"\n")] \
            if text else []
    return [_one(reply)]


def _one(reply) -> bytes:
    """
    Render a reply on one line.
    """
    t = type(reply)
    if t is bytes:
        return escape(reply)
    if reply is None or t is NullArray:
        return b"(nil)"
    if t is bool:
        return b"true" if reply else b"false"
    if t is int:
        return b"%d" % (reply,)
    if t is Status or t is Error:
        return _safeText(reply.replace("\r\n", " ").replace("\n", " "))
    if t is float:
        return formatDouble(reply)
    if t is Verbatim:
        return escape(bytes(reply).rstrip(b"\r\n"))
    if t is list or t is SetReply:
        return b" ".join(quote(x) if type(x) is bytes else _one(x)
                         for x in reply) or b"(empty)"
    if t is dict:
        return b" ".join(_one(k) + b"=" + _one(v) for k, v in reply.items())
    if t is Pushes:
        return b" ".join(renderPush(p).rstrip(b"\r\n") for p in reply)
    if t is Push:
        return renderPush(reply).rstrip(b"\r\n")
    return repr(reply).encode()


def _execLines(reply) -> List[bytes]:
    """
    EXEC's replies, one numbered line each (C{1) OK}), as redis-cli shows
    them; a transaction that did not run (a watched key changed) is
    C{(nil)}, an empty one C{(empty)}.
    """
    if type(reply) is not list:
        return [_one(reply)]
    if not reply:
        return [b"(empty)"]
    return [b"%d) %s" % (i, quote(r) if type(r) is bytes else _one(r))
            for i, r in enumerate(reply, 1)]


def _block(lines: List[bytes]) -> bytes:
    out = []
    for line in lines:
        if line.startswith(b"."):
            line = b"." + line
        out.append(line)
        out.append(b"\r\n")
    out.append(b".\r\n")
    if out[0][:1] != b"." and ERROR_LINE.match(out[0]) is not None:
        # Not to be read as an error reply.
        out[0] = b"." + out[0]
    return b"".join(out)


def _helpNotes(names: List[bytes]) -> List[Status]:
    """
    What HELP adds on a text connection: the notes of the commands named,
    or with none, the text protocol's own words.
    """
    if not names:
        return [Status(line) for line in TEXT_HELP]
    out = []
    for n in names:
        out.extend(Status("  " + line)
                   for line in TEXT_NOTES.get(n.upper(), ()))
    return out


def _error(request: Request, reply: Error) -> Error:
    """
    An error as the person should read it: the arity error names the word
    typed (C{REMOVE}), not the command the table knows it as (C{DEL}).
    """
    if request.word != request.name and \
            reply == wrongArity(request.name.decode("ascii", "replace")):
        return wrongArity(request.word.decode("utf-8", "replace"))
    return reply


def _lcsLine(reply) -> Optional[bytes]:
    """
    C{LCS ... IDX}'s map on one line: C{len 6: a[4..7] = b[5..8] (4),
    ...}.
    """
    if type(reply) is not dict:
        return None
    parts = []
    for match in reply.get(b"matches", []):
        text = b"a[%d..%d] = b[%d..%d]" % (match[0][0], match[0][1],
                                           match[1][0], match[1][1])
        if len(match) > 2:
            text += b" (%d)" % (match[2],)
        parts.append(text)
    line = b"len %d" % (reply.get(b"len", 0),)
    return line + (b": " + b", ".join(parts) if parts else b"")


def _mpopLine(reply) -> Optional[bytes]:
    """
    C{LMPOP}'s C{[key, [elements]]} as C{'key': 'a' 'b'}.
    """
    if type(reply) is not list or len(reply) != 2:
        return None
    return quote(reply[0]) + b": " + _one(reply[1])


def _zmpopLine(reply) -> Optional[bytes]:
    """
    C{ZMPOP}'s C{[key, [[member, score], ...]]} as C{'key': 'a' (1) 'b'
    (2.5)}, its members as C{ZPOPMIN}'s lines show them.
    """
    if type(reply) is not list or len(reply) != 2 or \
            type(reply[1]) is not list or \
            any(type(p) is not list or len(p) != 2 for p in reply[1]):
        return None
    return quote(reply[0]) + b": " + b" ".join(
        quote(member) + b" (" + _one(score) + b")"
        for member, score in reply[1])


#: Readable one-line forms of some commands' replies (a function of the
#: reply, answering L{None} where it has no form for it).
READABLE = {
    b"LCS": _lcsLine,
    b"LMPOP": _mpopLine,
    b"BLMPOP": _mpopLine,
    b"ZMPOP": _zmpopLine,
    b"BZMPOP": _zmpopLine,
}


def _count(n: int) -> bytes:
    return b"%d subscription%s" % (n, b"" if n == 1 else b"s")


#: How the frames of (un)subscribing read: verb, what.
_SUBSCRIBED = {
    b"subscribe": (b"Subscribed to", b"channel"),
    b"psubscribe": (b"Subscribed to", b"pattern"),
    b"unsubscribe": (b"Unsubscribed from", b"channel"),
    b"punsubscribe": (b"Unsubscribed from", b"pattern"),
}


def renderPush(push) -> bytes:
    """
    A message pushed to a text client, or a frame of (un)subscribing, as
    a line for people (L{kvtwist.replies.Push}):

        - C{Message on 'news': hello}
        - C{Message on 'news' (pattern 'n*'): hello}
        - C{Subscribed to channel 'news' (1 subscription).}
        - C{Unsubscribed from pattern 'n*' (0 subscriptions).}
    """
    kind = push[0]
    if kind == b"message":
        return b"Message on %s: %s\r\n" % (quote(push[1]), escape(push[2]))
    if kind == b"pmessage":
        return b"Message on %s (pattern %s): %s\r\n" % (
            quote(push[2]), quote(push[1]), escape(push[3]))
    verb, what = _SUBSCRIBED.get(kind, (kind, b""))
    if push[1] is None:
        return b"%s no %s (%s).\r\n" % (verb, what, _count(push[2]))
    return b"%s %s %s (%s).\r\n" % (verb, what, quote(push[1]),
                                      _count(push[2]))


def render(request: Optional[Request], reply) -> bytes:
    """
    Render C{reply} to the text C{request} (L{None} if it could not be
    parsed) as the bytes to send.
    """
    if request is None:
        return _one(reply) + b"\r\n"
    if type(reply) is Pushes:
        return b"".join([renderPush(p) for p in reply])
    name = request.name
    if type(reply) is Status and reply == QUEUED:
        # Inside MULTI: the command was queued, not run; its own text
        # (Added key..., Key not found.) would not be true yet.
        return b"QUEUED\r\n"
    if type(reply) is Error:
        line = _one(_error(request, reply))
        if name in BLOCK_COMMANDS and ERROR_LINE.match(line) is None:
            # An error a client can't tell from a block's line: framed as
            # a block, as before error lines were known.
            return _block([line])
        return line + b"\r\n"
    if name in BLOCK_COMMANDS:
        if name == b"PRINT" and type(reply) is dict:
            if not reply:
                return _block([b"Store is empty."])
            return _block([_printKey(k) + b": " + (
                _printValue(v) if type(v) is bytes else
                textforms.printValue(v, quote))
                for k, v in reply.items()])
        if name == b"HELP" and type(reply) is list:
            return _block(_lines(reply + _helpNotes(request.args)))
        if name == b"EXEC":
            return _block(_execLines(reply))
        form = textforms.FORMS.get(name)
        if form is not None:
            return _block(form(request.args, reply, _one))
        return _block(_lines(reply))
    args = request.args
    if name == b"SET" and len(args) == 3 and args[2] == b"GET":
        verb = b"Added" if reply is None else b"Updated"
        return b"%s key '%s' with value '%s'\r\n" % (
            verb, _inQuotes(args[0]), _inQuotes(args[1]))
    if name == b"GET" and reply is None:
        return b"Key %s not found.\r\n" % (quote(args[0]),)
    if name == b"DEL" and len(args) == 1:
        if reply:
            return b"Removed key %s.\r\n" % (quote(args[0]),)
        return b"Key %s not found.\r\n" % (quote(args[0]),)
    if name == b"QUIT":
        return GOODBYE + b"\r\n"
    if name == b"PING" and not args and type(reply) is Status:
        # Redis's inline protocol answers a bare PING in RESP (redis-
        # benchmark's PING_INLINE relies on it).
        return b"+PONG\r\n"
    readable = READABLE.get(name)
    if readable is not None:
        line = readable(reply)
        if line is not None:
            return line + b"\r\n"
    return _one(reply) + b"\r\n"
