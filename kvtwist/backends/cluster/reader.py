# -*- test-case-name: kvtwist.test.test_cluster_reader -*-
"""
The other half of RESP: a node's replies (RESP2 and RESP3) read into
kvtwist's neutral replies (L{kvtwist.replies}), so that a reply from the
cluster is rendered to each client in its own dialect, as the memory
backend's are.  (Requests to the nodes are encoded as RESP requests,
L{encode}; kvtwist's dialect code parses requests and renders replies but
never had to read one.)

    - simple string: L{Status}; error, blob error: L{Error};
    - integer, big number: L{int}; double: L{float}; boolean: L{bool};
    - bulk string: L{bytes}; verbatim string: L{Verbatim} (without its
      format); null, null bulk, null array: L{None};
    - array, set: L{list}; map: L{dict} (keys that are lists become
      tuples); attributes are read and dropped;
    - push: a L{Push} (a L{list}), which is no command's reply.
"""

from typing import List

from kvtwist.replies import OK, PONG, QUEUED, Error, Status, Verbatim


class Push(list):
    """
    A RESP3 push message (pub/sub), which answers no request.
    """

    __slots__ = ()


class Incomplete(Exception):
    """
    The buffer ends inside a reply.

    @ivar need: the total length the buffer must reach before reading
        again can succeed (0 if unknown).
    """

    def __init__(self, need: int = 0):
        Exception.__init__(self)
        self.need = need


class ReplyFormatError(Exception):
    """
    The node sent something that is not RESP.
    """


_STATUSES = {b"OK": OK, b"PONG": PONG, b"QUEUED": QUEUED}
_INCOMPLETE = Incomplete()


def encode(args: List[bytes]) -> bytes:
    """
    A request as RESP: an array of bulk strings.  (One formatting for the
    short requests most commands are: it runs for every request.)
    """
    n = len(args)
    if n == 2:
        a, b = args
        return b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(a), a, len(b), b)
    if n == 3:
        a, b, c = args
        return b"*3\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
            len(a), a, len(b), b, len(c), c)
    return b"*%d\r\n%s" % (n, b"".join(
        [b"$%d\r\n%s\r\n" % (len(a), a) for a in args]))


def _status(text: bytes) -> Status:
    status = _STATUSES.get(text)
    if status is None:
        status = Status(text.decode("utf-8", "replace"))
    return status


def _hashable(key):
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    if isinstance(key, dict):
        return tuple(key.items())
    return key


def readReply(buf: bytes, pos: int):
    """
    Read the reply starting at C{buf[pos]}.

    @return: C{(reply, end)}, C{end} being where the next reply starts.
    @raise Incomplete: if the buffer ends before the reply does.
    @raise ReplyFormatError: if it is not RESP.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _INCOMPLETE
    kind = buf[pos]
    if kind == 36:  # $ bulk string
        size = int(buf[pos + 1:end])
        if size < 0:
            return None, end + 2
        start = end + 2
        stop = start + size
        if stop + 2 > len(buf):
            raise Incomplete(stop + 2)
        return buf[start:stop], stop + 2
    if kind == 43:  # + simple string
        return _status(buf[pos + 1:end]), end + 2
    if kind == 58:  # : integer
        return int(buf[pos + 1:end]), end + 2
    if kind == 45:  # - error
        return Error(buf[pos + 1:end].decode("utf-8", "replace")), end + 2
    if kind == 42 or kind == 126 or kind == 62:  # * array, ~ set, > push
        count = int(buf[pos + 1:end])
        if count < 0:
            return None, end + 2
        items = Push() if kind == 62 else []
        append = items.append
        p = end + 2
        for _ in range(count):
            if p >= len(buf):
                raise _INCOMPLETE
            item, p = readReply(buf, p)
            append(item)
        return items, p
    if kind == 95:  # _ null
        return None, end + 2
    if kind == 37 or kind == 124:  # % map, | attribute
        count = int(buf[pos + 1:end])
        out = {}
        p = end + 2
        for _ in range(count):
            if p >= len(buf):
                raise _INCOMPLETE
            key, p = readReply(buf, p)
            if p >= len(buf):
                raise _INCOMPLETE
            value, p = readReply(buf, p)
            out[_hashable(key)] = value
        if kind == 124:
            # Attributes describe the reply that follows: keep the reply.
            if p >= len(buf):
                raise _INCOMPLETE
            return readReply(buf, p)
        return out, p
    if kind == 44:  # , double
        text = buf[pos + 1:end].lower()
        return float(text), end + 2
    if kind == 35:  # # boolean
        return buf[pos + 1:end] == b"t", end + 2
    if kind == 40:  # ( big number
        return int(buf[pos + 1:end]), end + 2
    if kind == 61 or kind == 33:  # = verbatim, ! blob error
        size = int(buf[pos + 1:end])
        start = end + 2
        stop = start + size
        if stop + 2 > len(buf):
            raise Incomplete(stop + 2)
        body = buf[start:stop]
        if kind == 33:
            return Error(body.decode("utf-8", "replace")), stop + 2
        # "txt:" or "mkd:": the format, then the text.
        return Verbatim(body[4:] if body[3:4] == b":" else body), stop + 2
    raise ReplyFormatError("not a RESP reply: %r" % (buf[pos:pos + 32],))


class ReplyReader:
    """
    Reads the replies of one connection as its bytes come, whatever the
    pieces they come in: a big reply is read once it is whole, not again
    at every piece.
    """

    def __init__(self):
        self._buf = b""
        self._parts: List[bytes] = []
        self._size = 0
        self._need = 0

    def feed(self, data: bytes) -> list:
        """
        Take more bytes.

        @return: the replies they complete, in order (possibly none).
        @raise ReplyFormatError: if the bytes are not RESP (the connection
            can't be trusted any more).
        """
        if self._parts:
            self._parts.append(data)
            self._size += len(data)
            if self._size < self._need:
                return []
            data = b"".join(self._parts)
            self._parts = []
            self._size = 0
        elif self._buf:
            data = self._buf + data
        replies = []
        append = replies.append
        pos = 0
        n = len(data)
        try:
            while pos < n:
                reply, pos = readReply(data, pos)
                append(reply)
        except Incomplete as e:
            self._keep(data, pos, e.need)
            return replies
        except (ValueError, IndexError) as e:
            raise ReplyFormatError(str(e))
        self._buf = b""
        return replies

    def _keep(self, data: bytes, pos: int, need: int) -> None:
        rest = data[pos:] if pos else data
        need = need - pos if need else 0
        if need > len(rest) + 65536:
            # A big reply: gather its pieces, read it once it is whole.
            self._parts = [rest]
            self._size = len(rest)
            self._need = need
            self._buf = b""
        else:
            self._buf = rest
            self._need = 0

    def buffered(self) -> int:
        """
        How many bytes wait for the rest of their reply.
        """
        return len(self._buf) + self._size
