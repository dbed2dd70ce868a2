# -*- test-case-name: kvtwist.test.test_resp -*-
"""
RESP, the Redis serialisation protocol: request framing (multibulk arrays
of binary-safe bulk strings) and reply rendering in RESP2 and RESP3.
"""

from typing import List, Optional, Tuple

from kvtwist.doubles import formatDouble
from kvtwist.replies import (
    Error, NullArray, Push, Pushes, SetReply, Status, Verbatim)

name = "resp"


class ProtocolError(Exception):
    """
    The client broke RESP framing; the message is Redis's error text.  The
    connection is answered with it and closed.
    """


#: Redis's defaults: 512 MB per bulk string, 1024*1024 arguments.
DEFAULT_MAX_BULK = 512 * 1024 * 1024
DEFAULT_MAX_MULTIBULK = 1024 * 1024


def parseCommand(buf: bytes, pos: int, maxBulk: int = DEFAULT_MAX_BULK,
                 maxMultibulk: int = DEFAULT_MAX_MULTIBULK
                 ) -> Tuple[Optional[List[bytes]], int]:
    """
    Parse one multibulk request starting at C{buf[pos]} (which is C{*}).

    @return: C{(args, newPos)} for a whole request (C{args} is empty for
        C{*0} or C{*-1}, which Redis ignores); C{(None, need)} when more
        bytes are needed, C{need} being the least total number of bytes
        from C{pos} that could complete the next step.
    @raise ProtocolError: on malformed framing or a length over a limit,
        checked before anything is buffered.
    """
    find = buf.find
    end = find(b"\r\n", pos)
    if end < 0:
        if len(buf) - pos > 65536:
            raise ProtocolError("ERR Protocol error: too big mbulk count "
                                "string")
        return None, len(buf) - pos + 1
    text = buf[pos + 1:end]
    if not text.isdigit() or len(text) > 19:
        if text[:1] == b"-" and text[1:].isdigit():
            return [], end + 2
        raise ProtocolError("ERR Protocol error: invalid multibulk length")
    count = int(text)
    if count > maxMultibulk:
        raise ProtocolError("ERR Protocol error: invalid multibulk length")
    p = end + 2
    args = []
    append = args.append
    n = len(buf)
    for _ in range(count):
        if p >= n:
            return None, p - pos + 1
        if buf[p] != 36:  # b"$"
            raise ProtocolError(
                "ERR Protocol error: expected '$', got '%s'"
                % (chr(buf[p]),))
        end = find(b"\r\n", p)
        if end < 0:
            if n - p > 32:
                raise ProtocolError("ERR Protocol error: invalid bulk length")
            return None, n - pos + 1
        text = buf[p + 1:end]
        if not text.isdigit() or len(text) > 19:
            raise ProtocolError("ERR Protocol error: invalid bulk length")
        size = int(text)
        if size > maxBulk:
            raise ProtocolError("ERR Protocol error: invalid bulk length")
        start = end + 2
        stop = start + size
        if stop + 2 > n:
            return None, stop + 2 - pos
        if buf[stop] != 13 or buf[stop + 1] != 10:  # b"\r\n"
            raise ProtocolError("ERR Protocol error: invalid bulk format")
        append(buf[start:stop])
        p = stop + 2
    return args, p


def parseCount(buf: bytes, pos: int,
               maxMultibulk: int = DEFAULT_MAX_MULTIBULK
               ) -> Tuple[Optional[int], int]:
    """
    Parse the header of a multibulk request (C{*<count>} and its line end)
    at C{buf[pos]}, which is C{*}.

    @return: C{(count, pos)}, C{pos} being where its arguments start
        (C{count} is 0 for C{*0} and C{*-1}, which Redis ignores); or
        C{(None, pos)} while the header lacks its line end.
    @raise ProtocolError: on a malformed count, one over C{maxMultibulk}, or
        a header that runs on too long.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        if len(buf) - pos > 65536:
            raise ProtocolError("ERR Protocol error: too big mbulk count "
                                "string")
        return None, pos
    text = buf[pos + 1:end]
    if not text.isdigit() or len(text) > 19:
        if text[:1] == b"-" and text[1:].isdigit():
            return 0, end + 2
        raise ProtocolError("ERR Protocol error: invalid multibulk length")
    count = int(text)
    if count > maxMultibulk:
        raise ProtocolError("ERR Protocol error: invalid multibulk length")
    return count, end + 2


def parseBulksPython(buf: bytes, pos: int, count: int, maxBulk: int,
                     args: List[bytes]) -> Tuple[int, int]:
    """
    Parse up to C{count} bulk strings (the arguments of a multibulk
    request) from C{buf[pos]} on, appending them to C{args}; stop at the
    first that is not whole.  A request that spans many reads is parsed
    this way a read at a time, each byte once.

    L{parseBulks} is the same, in C where C{kvtwist._resp} is built.

    @return: C{(pos, need)}: the position after the last bulk parsed, and
        0 if C{count} were parsed; else what the next one needs: the total
        number of bytes from C{pos} it takes when its header is whole, or
        -1 while its header lacks its line end.
    @raise ProtocolError: on malformed framing or a length over
        C{maxBulk}, checked before anything is buffered.
    """
    n = len(buf)
    find = buf.find
    append = args.append
    while count:
        if pos >= n:
            return pos, -1
        if buf[pos] != 36:  # b"$"
            raise ProtocolError("ERR Protocol error: expected '$', got '%s'"
                                % (chr(buf[pos]),))
        end = find(b"\r\n", pos)
        if end < 0:
            if n - pos > 32:
                raise ProtocolError("ERR Protocol error: invalid bulk length")
            return pos, -1
        text = buf[pos + 1:end]
        if not text.isdigit() or len(text) > 19:
            raise ProtocolError("ERR Protocol error: invalid bulk length")
        size = int(text)
        if size > maxBulk:
            raise ProtocolError("ERR Protocol error: invalid bulk length")
        start = end + 2
        stop = start + size
        if stop + 2 > n:
            return pos, stop + 2 - pos
        if buf[stop] != 13 or buf[stop + 1] != 10:  # b"\r\n"
            raise ProtocolError("ERR Protocol error: invalid bulk format")
        append(buf[start:stop])
        pos = stop + 2
        count -= 1
    return pos, 0


#: What C's C{isspace} is true of: blanks skipped between words.
_SPACE = frozenset(b" \t\n\v\f\r")
#: What ends a word that is not quoted (not \\v or \\f: as Redis).
_WORD_END = frozenset(b" \t\n\r\0")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8,
            ord("a"): 7}


def splitInline(line: bytes) -> Optional[List[bytes]]:
    """
    Split an inline command (a line, on a RESP connection, that is not a
    multibulk request) into words as Redis does (its C{sdssplitargs}):
    words are separated by blanks; a word in double quotes may hold
    C{\\xHH}, C{\\n}, C{\\r}, C{\\t}, C{\\b}, C{\\a} and C{\\<any
    byte>} escapes, one in single quotes only C{\\'}; a closing quote must
    be followed by a blank or the end; a NUL byte ends the line.

    @return: the words (none for a blank line), or L{None} for unbalanced
        quotes.
    """
    nul = line.find(b"\0")
    if nul >= 0:
        line = line[:nul]
    if b'"' not in line and b"'" not in line and b"\v" not in line and \
            b"\f" not in line:
        # The common case: split() splits at the same blanks.
        return line.split()
    words = []
    n = len(line)
    i = 0
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return words
        word = bytearray()
        quote = 0
        while True:
            c = line[i] if i < n else 0
            if quote == 34:  # inside "double quotes"
                if c == 92 and i + 3 < n and line[i + 1] == 120 and \
                        line[i + 2] in _HEX and line[i + 3] in _HEX:
                    word.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    word.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                elif i >= n:
                    return None
                else:
                    word.append(c)
            elif quote == 39:  # inside 'single quotes'
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    word.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                elif i >= n:
                    return None
                else:
                    word.append(c)
            elif i >= n or c in _WORD_END:
                break
            elif c == 34 or c == 39:
                quote = c
            else:
                word.append(c)
            i += 1
        words.append(bytes(word))


#: Bulk headers by length (C{b"$3"}), for the lengths requests use most.
_BULK_HEADERS = {}


def parseManyPython(buf: bytes, pos: int, maxBulk: int = DEFAULT_MAX_BULK,
                    maxMultibulk: int = DEFAULT_MAX_MULTIBULK
                    ) -> List[Tuple[List[bytes], int]]:
    """
    Parse every whole, ordinary multibulk request from C{buf[pos]} on in
    one pass, splitting at CR LF; stop at the first one that is partial,
    holds a CR LF inside a value, is not RESP or breaks the framing, and
    leave it to L{parseCommand}.

    L{parseMany} is the same in C (C{kvtwist._resp}) where it is built,
    else on PyPy L{parseManyScan}, else this function: all three return
    exactly the same.

    @return: C{[(args, endPos), ...]}, possibly empty.
    """
    lines = (buf[pos:] if pos else buf).split(b"\r\n")
    last = len(lines) - 1  # the piece after the final CR LF is partial
    out = []
    append = out.append
    headers = _BULK_HEADERS
    i = 0
    p = pos
    while i < last:
        head = lines[i]
        if head[:1] != b"*":
            break
        text = head[1:]
        if not text.isdigit() or len(text) > 19:
            break
        count = int(text)
        if count == 0 or count > maxMultibulk:
            break
        j = i + 1 + 2 * count
        if j > last:
            break
        size = len(head) + 2
        k = i + 1
        while k < j:
            header = lines[k]
            length = len(lines[k + 1])
            if length > maxBulk:
                break
            # A value holding CR LF was split: its pieces don't match
            # their header.
            expected = headers.get(length)
            if expected is None:
                expected = b"$%d" % (length,)
                if length < 4096:
                    headers[length] = expected
            if header != expected:
                break
            size += len(header) + length + 4
            k += 2
        if k < j:
            break
        p += size
        append((lines[i + 2:j:2], p))
        i = j
    return out


def parseManyScan(buf: bytes, pos: int, maxBulk: int = DEFAULT_MAX_BULK,
                  maxMultibulk: int = DEFAULT_MAX_MULTIBULK
                  ) -> List[Tuple[List[bytes], int]]:
    """
    L{parseManyPython} written for PyPy: it walks the buffer with C{find}
    and reads the lengths digit by digit, which PyPy's JIT turns into a
    tight loop, instead of splitting the buffer into a string per line
    (on PyPy this takes two thirds of the time; on CPython, twice as
    long).  It returns exactly what L{parseManyPython} returns: a header
    must be the canonical C{$<length>} of its value, and a value may not
    hold a CR LF.
    """
    out = []
    n = len(buf)
    find = buf.find
    p = pos
    while p < n and buf[p] == 42:  # b"*"
        e = find(b"\r\n", p + 1)
        if e < 0 or e == p + 1 or e - p > 20:
            break
        # The count and the lengths are read by two inline loops, not one
        # helper: PyPy's JIT doesn't inline a function holding a loop, and
        # a helper made a pipelined GET 70% slower.
        count = 0
        q = p + 1
        while q < e:
            c = buf[q]
            if c < 48 or c > 57:
                return out
            count = count * 10 + c - 48
            q += 1
        if count == 0 or count > maxMultibulk:
            break
        q = e + 2
        args = []
        while count:
            if q >= n or buf[q] != 36:  # b"$"
                return out
            e = find(b"\r\n", q + 1)
            if e < 0 or e == q + 1:
                return out
            r = q + 1
            if buf[r] == 48 and e > r + 1:  # a leading zero
                return out
            length = 0
            while r < e:
                c = buf[r]
                if c < 48 or c > 57:
                    return out
                length = length * 10 + c - 48
                r += 1
            if length > maxBulk:
                return out
            start = e + 2
            end = start + length
            # Whole, followed by CR LF, and holding none.
            if find(b"\r\n", start, end + 2) != end:
                return out
            args.append(buf[start:end])
            q = end + 2
            count -= 1
        p = q
        out.append((args, p))
    return out


def _chooseParseMany(implementation: str, cModule):
    """
    The C{parseMany} to use: C{cModule}'s (C{kvtwist._resp}, L{None} if
    it is not built), else L{parseManyScan} on PyPy, else
    L{parseManyPython}.
    """
    if cModule is not None:
        return cModule.parseMany
    if implementation == "PyPy":
        return parseManyScan
    return parseManyPython


def _cModule():
    try:
        from kvtwist import _resp
    except ImportError:  # PyPy, or built without a C compiler
        return None
    return _resp


def _chooseParseBulks(cModule):
    """
    The C{parseBulks} to use: C{cModule}'s (C{kvtwist._resp}, L{None} if
    it is not built) for ordinary arguments, leaving anything unusual to
    L{parseBulksPython}; else L{parseBulksPython}.
    """
    if cModule is None:
        return parseBulksPython
    parseOrdinary = cModule.parseBulks

    def parseBulks(buf: bytes, pos: int, count: int, maxBulk: int,
                   args: List[bytes]) -> Tuple[int, int]:
        before = len(args)
        pos, need = parseOrdinary(buf, pos, count, maxBulk, args)
        if need == -2:
            return parseBulksPython(buf, pos, count - (len(args) - before),
                                    maxBulk, args)
        return pos, need

    parseBulks.__doc__ = parseBulksPython.__doc__
    return parseBulks


#: The header of a RESP bulk string of each length below L{_HEADS}
#: (C{b"$3\r\n"}).
_HEADS = 1024
_BULK_HEADS = tuple(b"$%d\r\n" % (n,) for n in range(_HEADS))


def renderBulkPython(value: bytes, _heads=_BULK_HEADS) -> bytes:
    """
    The RESP bulk string of C{value}: C{$}, its length, CR LF, C{value},
    CR LF.  The most common reply (a C{GET}'s), and every string in a
    list's: a short one is joined to its ready header, not formatted.

    L{renderBulk} is the same, in C where C{kvtwist._resp} is built.
    """
    n = len(value)
    if n < _HEADS:
        return _heads[n] + value + b"\r\n"
    return b"$%d\r\n%s\r\n" % (n, value)


parseMany = _chooseParseMany(__import__("platform").python_implementation(),
                             _cModule())
parseBulks = _chooseParseBulks(_cModule())
renderBulk = getattr(_cModule(), "renderBulk", renderBulkPython)


def encodeCommand(*args) -> bytes:
    """
    Encode a request as a RESP multibulk array (for clients and tests).
    """
    parts = [b"*%d\r\n" % (len(args),)]
    for a in args:
        if isinstance(a, str):
            a = a.encode("utf-8")
        elif isinstance(a, int):
            a = b"%d" % (a,)
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


_LINES = {}
#: Status replies rendered so far (at most 256): C{{Status: line}}.
STATUS_LINES = {}


def _line(text: str) -> bytes:
    # Status and error lines can't hold a line break.
    line = _LINES.get(text)
    if line is None:
        line = text.replace("\r", " ").replace("\n", " ").encode("utf-8")
        if len(_LINES) < 256:
            _LINES[text] = line
    return line


def renderPush(push: Push, protover: int = 2) -> bytes:
    """
    A L{Push}: in RESP3 a push (C{>}), in RESP2 an array.  Its bytes are
    kept on it, so that a message published to many clients is rendered
    once per protocol version.
    """
    rendered = push.rendered
    if rendered is None:
        rendered = push.rendered = [None, None]
    data = rendered[protover == 3]
    if data is None:
        head = b">%d\r\n" if protover == 3 else b"*%d\r\n"
        data = rendered[protover == 3] = head % (len(push),) + b"".join(
            [render(item, protover) for item in push])
    return data


def render(reply, protover: int = 2) -> bytes:
    """
    Render a neutral reply as RESP2 (C{protover} 2) or RESP3 (3).
    """
    t = type(reply)
    if t is bytes:
        return renderBulk(reply)
    if t is Status:
        line = STATUS_LINES.get(reply)
        if line is None:
            line = b"+" + _line(reply) + b"\r\n"
            if len(STATUS_LINES) < 256:
                STATUS_LINES[reply] = line
        return line
    if reply is None:
        return b"_\r\n" if protover == 3 else b"$-1\r\n"
    if t is int:
        return b":%d\r\n" % (reply,)
    if t is Error:
        return b"-" + _line(reply) + b"\r\n"
    if t is list:
        if not reply:
            return b"*0\r\n"
        return b"*%d\r\n" % (len(reply),) + b"".join(
            [render(r, protover) for r in reply])
    if t is dict:
        if protover == 3:
            parts = [b"%%%d\r\n" % (len(reply),)]
        else:
            parts = [b"*%d\r\n" % (2 * len(reply),)]
        for k, v in reply.items():
            parts.append(render(k, protover))
            parts.append(render(v, protover))
        return b"".join(parts)
    if t is bool:
        if protover == 3:
            return b"#t\r\n" if reply else b"#f\r\n"
        return b":1\r\n" if reply else b":0\r\n"
    if t is float:
        text = formatDouble(reply)
        if protover == 3:
            return b"," + text + b"\r\n"
        return b"$%d\r\n%s\r\n" % (len(text), text)
    if t is NullArray:
        return b"_\r\n" if protover == 3 else b"*-1\r\n"
    if t is SetReply:
        return (b"~%d\r\n" if protover == 3 else b"*%d\r\n") % (
            len(reply),) + b"".join([render(r, protover) for r in reply])
    if t is Verbatim:
        if protover == 3:
            body = b"txt:" + reply
            return b"=%d\r\n%s\r\n" % (len(body), body)
        return b"$%d\r\n%s\r\n" % (len(reply), bytes(reply))
    if t is Push:
        return renderPush(reply, protover)
    if t is Pushes:
        return b"".join([renderPush(p, protover) for p in reply])
    if isinstance(reply, (list, tuple)):
        return render(list(reply), protover)
    if isinstance(reply, int):
        return render(int(reply), protover)
    return render(Error("ERR internal error: unrenderable reply"), protover)
