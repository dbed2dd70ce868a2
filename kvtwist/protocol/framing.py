# -*- test-case-name: kvtwist.test.test_framing -*-
"""
The framer: bytes in, requests out.

A connection starts as a I{text} connection: its input is lines, each
handed to the line dialect it starts with (text, colon, JSON lines).  The
first request that starts with C{*} makes it a I{RESP} connection: from
then on its input is RESP multibulk requests.

The size caps on what a client may make the server buffer are all here, in
L{Limits}: far smaller ones before the client has authenticated
(L{PREAUTH}) than after.

Input is kept so that each byte is looked at a bounded number of times,
however it is cut into reads:

    - an unfinished request is not parsed again until the bytes it needs
      have arrived (a line end for a line or a header, its whole length
      for a bulk string);
    - a multibulk request that spans many reads is parsed a read at a time:
      its arguments so far are kept with their count, and parsing goes on
      from the first argument not yet whole.
"""

from typing import List, Optional, Tuple, Union

from kvtwist.dialects import resp
from kvtwist.dialects.resp import ProtocolError

__all__ = ["Framer", "Limits", "LineTooLong", "PREAUTH", "ProtocolError",
           "RESP_STARTS", "MAX_INLINE"]


class Limits:
    """
    The most a client may make the server buffer for one request.

    @ivar inline: the longest line (text, colon and JSON lines; an inline
        command on a RESP connection), without its line end.
    @ivar bulk: the longest bulk string of a RESP request.
    @ivar multibulk: the most arguments of a RESP request.
    """

    __slots__ = ("inline", "bulk", "multibulk")

    def __init__(self, inline: int, bulk: int, multibulk: int):
        self.inline = inline
        self.bulk = bulk
        self.multibulk = multibulk

    def __repr__(self) -> str:
        return "Limits(inline=%d, bulk=%d, multibulk=%d)" % (
            self.inline, self.bulk, self.multibulk)


#: The longest line once authenticated (Redis's inline limit is 64 KiB).
MAX_INLINE = 64 * 1024

#: Until a client has authenticated, far smaller requests are accepted (as
#: Redis does): a stranger can't make the server buffer much.
PREAUTH = Limits(inline=16 * 1024, bulk=16 * 1024, multibulk=10)


def authenticated(maxBulk: int = resp.DEFAULT_MAX_BULK,
                  maxMultibulk: int = resp.DEFAULT_MAX_MULTIBULK,
                  inline: int = MAX_INLINE) -> Limits:
    """
    The limits of an authenticated client (C{--max-bulk} is C{maxBulk}).
    """
    return Limits(inline, maxBulk, maxMultibulk)


class LineTooLong(Exception):
    """
    A line ran past L{Limits.inline}.

    @ivar line: the buffered input, starting with the line.
    """

    def __init__(self, line: bytes):
        Exception.__init__(self, len(line))
        self.line = line


class _RespStarts:
    """
    The type of L{RESP_STARTS}.
    """

    def __repr__(self) -> str:
        return "RESP_STARTS"


#: What L{Framer.next} returns when a text connection's next request is a
#: RESP one: the connection switches to RESP (L{Framer.startResp}).
RESP_STARTS = _RespStarts()

#: A batch of whole RESP requests: C{[(args, end), ...]}, C{end} being the
#: input position after each (see L{Framer.consumed}).
Batch = List[Tuple[List[bytes], int]]


class Framer:
    """
    One connection's input, cut into requests.

    Call L{feed} with each read, then L{next} until it returns L{None}:

        - a L{list} is a batch of whole RESP requests, C{[(args, end),
          ...]}; run them in order, then tell L{consumed} the C{end} of the
          last one run (the rest are parsed again by the next L{next});
        - L{bytes} is a line (without its line end), already consumed;
        - L{RESP_STARTS}: the next request is RESP; call L{startResp} to
          go on (a connection does this once).

    @ivar limits: the L{Limits} in force; set it when they change (after
        authentication).
    @ivar resp: whether this is a RESP connection.
    """

    def __init__(self, limits: Limits):
        self.limits = limits
        self.resp = False
        # The input: parsing goes on at _buf[_pos].
        self._buf = b""
        self._pos = 0
        # Reads kept aside, unparsed, until they bring what the unfinished
        # request at _buf[_pos] needs: at least _need bytes in all, or
        # (with _needLF) a line end, unless over _lfWithin bytes wait.
        self._pending: List[bytes] = []
        self._have = 0
        self._need = 0
        self._needLF = False
        self._lfWithin = 0
        self._lineWaits = False
        # A multibulk request parsed so far: its arguments, and how many
        # are still to come.
        self._args: Optional[List[bytes]] = None
        self._left = 0

    # -- input ---------------------------------------------------------------

    def feed(self, data: bytes) -> bool:
        """
        Add a read to the input.

        @return: whether L{next} may find something new: C{False} while an
            unfinished request still lacks bytes it needs (the read is kept
            aside, not parsed).
        """
        pending = self._pending
        if not pending:
            if self._pos >= len(self._buf):
                self._buf = data
                self._pos = 0
                return True
            rest = self._buf[self._pos:]
            self._buf = b""
            self._pos = 0
            pending.append(rest)
            self._have = len(rest)
        pending.append(data)
        self._have += len(data)
        if self._have < self._need:
            return False
        if self._needLF and b"\n" not in data and \
                self._have <= self._lfWithin:
            return False
        self._buf = b"".join(pending)
        self._pending = []
        self._have = self._need = 0
        self._needLF = False
        return True

    def consumed(self, end: int) -> None:
        """
        The requests of the last batch up to the one ending at C{end} were
        run; the rest are not.
        """
        self._pos = end

    def buffered(self) -> int:
        """
        How many bytes of input are not consumed yet.
        """
        return len(self._buf) - self._pos + self._have

    def take(self) -> bytes:
        """
        Take every byte not consumed yet out of the input (a line that never
        ends, run as it is; L{kvtwist.protocol.connection.KVProtocol}'s
        C{clearLineBuffer}).
        """
        data = self._buf[self._pos:] + b"".join(self._pending)
        self.discard()
        return data

    def discard(self) -> None:
        """
        Drop all input, and any request parsed in part (the connection is
        closing).
        """
        self._buf = b""
        self._pos = 0
        self._pending = []
        self._have = self._need = 0
        self._needLF = self._lineWaits = False
        self._args = None
        self._left = 0

    def partialLine(self) -> bool:
        """
        Whether the input ends in a line still waiting for its line end
        (and holds nothing else).
        """
        return self._lineWaits

    # -- output --------------------------------------------------------------

    def startResp(self) -> None:
        """
        This is a RESP connection from now on.
        """
        self.resp = True

    def next(self) -> Union[Batch, bytes, _RespStarts, None]:
        """
        The next request(s) in the input (see the class), or L{None} until
        more input comes.

        @raise ProtocolError: the client broke RESP's framing or a limit.
        @raise LineTooLong: a line ran past the limit.
        """
        # What the last call found missing is looked for again.
        self._need = 0
        self._needLF = self._lineWaits = False
        if self._args is not None:
            return self._moreArguments()
        buf = self._buf
        while self._pos < len(buf):
            pos = self._pos
            if buf[pos] != 42:  # b"*"
                return self._line()
            if not self.resp:
                return RESP_STARTS
            limits = self.limits
            # Fast path: every whole, ordinary request in the input, split
            # in one pass.  Anything else (unfinished, a CR LF inside a
            # value, bad framing) is left to the careful parser.
            batch = resp.parseMany(buf, pos, limits.bulk, limits.multibulk)
            if batch:
                return batch
            count, start = resp.parseCount(buf, pos, limits.multibulk)
            if count is None:
                self._waitForLine(65536)
                return None
            self._pos = start
            if count:
                self._args = []
                self._left = count
                return self._moreArguments()
            # *0 or *-1: nothing to run.
        return None

    def _moreArguments(self) -> Optional[Batch]:
        """
        Go on parsing the multibulk request in progress from the first
        argument not parsed yet.
        """
        args = self._args
        before = len(args)
        pos, need = resp.parseBulks(self._buf, self._pos, self._left,
                                    self.limits.bulk, args)
        if not need:
            self._args = None
            self._left = 0
            return [(args, pos)]
        # Unfinished: keep the arguments parsed, wait for what the next
        # one needs.
        self._left -= len(args) - before
        self._pos = pos
        if need < 0:
            self._waitForLine(32)
        else:
            self._need = need
        return None

    def _line(self) -> Optional[bytes]:
        buf = self._buf
        pos = self._pos
        inline = self.limits.inline
        eol = buf.find(b"\n", pos)
        if eol < 0:
            if len(buf) - pos > inline:
                self.discard()
                raise LineTooLong(buf[pos:])
            self._waitForLine(inline)
            self._lineWaits = True
            return None
        if eol - pos > inline:
            self.discard()
            raise LineTooLong(buf[pos:])
        line = buf[pos:eol]
        self._pos = eol + 1
        if line[-1:] == b"\r":
            return line[:-1]
        return line

    def _waitForLine(self, within: int) -> None:
        self._needLF = True
        self._lfWithin = within
