# -*- test-case-name: kvtwist.test.test_text -*-
"""
The text dialect, for people on telnet or nc (the threaded Python seed).

Requests are lines of words: C{SET key value with spaces}, C{GET key},
C{REMOVE key}, C{PRINT}, C{quit}, and every command of the table.  Words may
be double-quoted (C{"a b"}, with C{\\n}, C{\\"}, C{\\\\} and C{\\xHH} escapes)
as in redis-cli, except the value of C{SET}, which is the rest of the line.

Replies are single lines, except for the commands in L{BLOCK_COMMANDS},
whose reply is a block: zero or more lines, then a line holding a single
C{.}.  A body line that starts with C{.} is sent with one more C{.} in
front (dot-stuffing, as SMTP does), so a client reads until the lone C{.}
and strips one leading dot from the lines it kept.  CR and LF inside values
are shown as C{\\r} and C{\\n}.
"""

import re
from typing import List, Optional

from kvtwist.dialects import textforms
from kvtwist.doubles import formatDouble
from kvtwist.replies import Error, NullArray, SetReply, Status, Verbatim

name = "text"

#: Commands whose text reply is always a block ending with a C{.} line.
BLOCK_COMMANDS = frozenset([
    b"PRINT", b"KEYS", b"MGET", b"INFO", b"LRANGE", b"SCAN", b"CONFIG",
    b"COMMAND", b"TIME", b"HELLO", b"HELP", b"CLIENT",
]) | textforms.BLOCK_COMMANDS

#: Words the text protocol takes for a command of the table.
ALIASES = {
    b"REMOVE": b"DEL",
    b"DELETE": b"DEL",
    b"EXIT": b"QUIT",
}

_SET_LINE = re.compile(rb"\s*(\S+)\s+(\S+)(?:\s(.*))?\Z", re.DOTALL)

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
    The arguments of a SET line: the key and the rest of the line,
    spaces and quotes kept verbatim (C{SET msg don't panic}), unless the
    key or the value starts with a quote; then the quoted words.
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
    return Request(name, word, words[1:])


def _show(value: bytes) -> bytes:
    if b"\n" in value or b"\r" in value:
        value = value.replace(b"\r", b"\\r").replace(b"\n", b"\\n")
    return value


def _quoted(value: bytes) -> bytes:
    return b"'" + _show(value) + b"'"


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
        return text.split(b"\n") if text else []
    return [_one(reply)]


def _one(reply) -> bytes:
    """
    Render a reply on one line.
    """
    t = type(reply)
    if t is bytes:
        return _show(reply)
    if reply is None or t is NullArray:
        return b"(nil)"
    if t is bool:
        return b"true" if reply else b"false"
    if t is int:
        return b"%d" % (reply,)
    if t is Status or t is Error:
        return reply.replace("\r", " ").replace("\n", " ").encode("utf-8")
    if t is float:
        return formatDouble(reply)
    if t is Verbatim:
        return _show(bytes(reply).rstrip(b"\r\n"))
    if t is list or t is SetReply:
        return b" ".join(_quoted(x) if type(x) is bytes else _one(x)
                         for x in reply) or b"(empty)"
    if t is dict:
        return b" ".join(_one(k) + b"=" + _one(v) for k, v in reply.items())
    return repr(reply).encode()


def _block(lines: List[bytes]) -> bytes:
    out = []
    for line in lines:
        if line.startswith(b"."):
            line = b"." + line
        out.append(line)
        out.append(b"\r\n")
    out.append(b".\r\n")
    return b"".join(out)


def render(request: Optional[Request], reply) -> bytes:
    """
    Render C{reply} to the text C{request} (L{None} if it could not be
    parsed) as the bytes to send.
    """
    if request is None:
        return _one(reply) + b"\r\n"
    name = request.name
    if name in BLOCK_COMMANDS:
        if name == b"PRINT" and type(reply) is dict:
            if not reply:
                return _block([b"Store is empty."])
            return _block([_one(k) + b": " + (
                _one(v) if type(v) is bytes else
                textforms.printValue(v, _one))
                for k, v in reply.items()])
        if type(reply) is Error:
            return _block([_one(reply)])
        form = textforms.FORMS.get(name)
        if form is not None:
            return _block(form(request.args, reply, _one))
        return _block(_lines(reply))
    if type(reply) is Error:
        return _one(reply) + b"\r\n"
    args = request.args
    if name == b"SET" and len(args) == 3 and args[2] == b"GET":
        verb = b"Added" if reply is None else b"Updated"
        return b"%s key '%s' with value '%s'\r\n" % (
            verb, _show(args[0]), _show(args[1]))
    if name == b"GET" and reply is None:
        return b"Key %s not found.\r\n" % (_quoted(args[0]),)
    if name == b"DEL" and len(args) == 1:
        if reply:
            return b"Removed key %s.\r\n" % (_quoted(args[0]),)
        return b"Key %s not found.\r\n" % (_quoted(args[0]),)
    if name == b"QUIT":
        return GOODBYE + b"\r\n"
    if name == b"PING" and not args and type(reply) is Status:
        # Redis's inline protocol answers a bare PING in RESP (redis-
        # benchmark's PING_INLINE relies on it).
        return b"+PONG\r\n"
    return _one(reply) + b"\r\n"
