# -*- test-case-name: benchmarks.test.test_resp -*-
"""
A small blocking RESP client, just enough for the benchmark's own
commands (loading keys, DBSIZE, BGSAVE, INFO), and the parsing of C{INFO}.
"""

import socket
from typing import Dict, Optional


def encodeCommand(*args) -> bytes:
    """
    A request as a RESP array of bulk strings; C{str} arguments are
    UTF-8 encoded, C{int} ones written in decimal.
    """
    parts = [b"*%d\r\n" % (len(args),)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode("utf-8")
        elif isinstance(arg, int):
            arg = b"%d" % (arg,)
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class Incomplete(Exception):
    """
    The buffer ends before the reply does.
    """


class ReplyError(Exception):
    """
    The server answered with a RESP error.
    """


def parseReply(buf: bytes, pos: int = 0):
    """
    Parse one RESP2/RESP3 reply from C{buf} at C{pos}.

    @return: C{(value, next position)}; errors are returned as
        L{ReplyError} instances, not raised.
    @raise Incomplete: if C{buf} ends first.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete()
    kind = buf[pos:pos + 1]
    line = buf[pos + 1:end]
    nxt = end + 2
    if kind in (b"+", b"_", b"#", b",", b"("):
        return (None if kind == b"_" else line), nxt
    if kind == b"-":
        return ReplyError(line.decode("utf-8", "replace")), nxt
    if kind == b":":
        return int(line), nxt
    if kind in (b"$", b"=", b"!"):
        size = int(line)
        if size < 0:
            return None, nxt
        if len(buf) < nxt + size + 2:
            raise Incomplete()
        return buf[nxt:nxt + size], nxt + size + 2
    if kind in (b"*", b"~", b">", b"%", b"|"):
        count = int(line)
        if count < 0:
            return None, nxt
        if kind in (b"%", b"|"):
            count *= 2
        items = []
        for _ in range(count):
            item, nxt = parseReply(buf, nxt)
            items.append(item)
        return items, nxt
    raise ValueError("unknown RESP type %r" % (kind,))


def parseInfo(text: str) -> Dict[str, str]:
    """
    Parse an C{INFO} reply (C{field:value} lines, C{#} section titles).

    @return: field -> value, as strings.
    """
    fields = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, value = line.split(":", 1)
        fields[name] = value
    return fields


#: INFO fields that say a background save is running, in the order tried.
BGSAVE_FIELDS = ("rdb_bgsave_in_progress", "bgsave_in_progress",
                 "snapshot_in_progress", "kvtwist_bgsave_in_progress")


def bgsaveInProgress(info: Dict[str, str]) -> Optional[bool]:
    """
    Whether an C{INFO persistence} reply says a background save is running.

    @return: L{True} or L{False}, or L{None} if no known field is there.
    """
    for name in BGSAVE_FIELDS:
        if name in info:
            value = info[name].strip().lower()
            return value not in ("0", "no", "false", "")
    return None


class RespClient:
    """
    A blocking RESP connection to one server.
    """

    def __init__(self, port: int, host: str = "127.0.0.1",
                 timeout: float = 60.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""
        self._pos = 0

    def close(self):
        """
        Close the connection.
        """
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def readReply(self):
        """
        Read one reply.

        @raise ConnectionError: if the server closes the connection.
        """
        while True:
            try:
                value, pos = parseReply(self._buf, self._pos)
            except Incomplete:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise ConnectionError("server closed the connection")
                self._buf = self._buf[self._pos:] + data
                self._pos = 0
                continue
            self._pos = pos
            return value

    def command(self, *args):
        """
        Send one command and return its reply.

        @raise ReplyError: if the reply is an error.
        """
        self.sock.sendall(encodeCommand(*args))
        reply = self.readReply()
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    def info(self, section: str = "") -> Dict[str, str]:
        """
        C{INFO [section]}, parsed.
        """
        args = ("INFO", section) if section else ("INFO",)
        reply = self.command(*args)
        if isinstance(reply, bytes):
            reply = reply.decode("utf-8", "replace")
            if reply.startswith("txt:"):
                reply = reply[4:]
        return parseInfo(reply)
