# -*- test-case-name: kvtwist.test.test_framing -*-
"""
The framer: bytes in, requests out.

A connection starts as a I{text} connection: its input is lines, each
handed to the line dialect it starts with (text, colon, JSON lines).  The
first request that starts with C{*} makes it a I{RESP} connection for good,
as a Redis client expects: from then on its input is RESP multibulk
requests and, between them, inline commands (lines split into words as
Redis splits them, L{resp.splitInline}), all answered in RESP.

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
      from the first argument not yet whole;
    - a bulk string bigger than L{BIG_BULK} that doesn't come whole is
      received into one buffer of its final size
      (L{kvtwist.protocol.bulk}), never joined.
"""

from collections import deque
from typing import Callable, Deque, List, Optional, Tuple, Union

from kvtwist.dialects import resp
from kvtwist.dialects.resp import ProtocolError
from kvtwist.protocol.bulk import BulkBuffer
from kvtwist.protocol.telnet import TelnetEvent, TelnetFilter

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

#: Redis's error for a line over the limit.
TOO_BIG_INLINE = "ERR Protocol error: too big inline request"

#: A bulk string that needs more than this many bytes beyond what has
#: arrived is received into a L{BulkBuffer} (Redis's threshold for its own
#: big-argument path is 32 KiB).
BIG_BULK = 32 * 1024

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


class TelnetReply(bytes):
    """
    What L{Framer.next} returns for a Telnet command that wants an answer
    (L{kvtwist.protocol.telnet}): the bytes to send, in request order.
    """


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
          go on (a connection does this once);
        - a L{TelnetReply} is the answer to a Telnet command, to send in
          its place among the replies.

    @ivar limits: the L{Limits} in force; set it when they change (after
        authentication).
    @ivar resp: whether this is a RESP connection.
    @ivar bulkStarted: called with the L{BulkBuffer} of each big bulk
        string as it starts coming (its header and first bytes are in),
        or L{None}.
    """

    bulkStarted: Optional[Callable[[BulkBuffer], None]] = None

    def __init__(self, limits: Limits, delimiter: bytes = b"\n"):
        """
        @param limits: the L{Limits} to start with.
        @param delimiter: what ends a line of a text connection (a CR
            before it is dropped too).  RESP has its own: CR LF, and LF
            for an inline command, as in Redis.
        """
        self.limits = limits
        self.resp = False
        self._delimiter = delimiter
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
        self._lf = b"\n"
        self._lfWithin = 0
        self._lineWaits = False
        # A multibulk request parsed so far: its arguments, and how many
        # are still to come.
        self._args: Optional[List[bytes]] = None
        self._left = 0
        # A big bulk string of that request being received, or received
        # and waiting for its CR LF.
        self._bulk = None
        self._bulkValue: Optional[bytes] = None
        # A text connection's Telnet commands, and the events and data
        # L{next} has not reached yet.
        self._telnet = TelnetFilter()
        self._telnetEvents: Deque[Union[bytes, TelnetEvent]] = deque()
        self.feed = self._feedText

    # -- input ---------------------------------------------------------------

    def feed(self, data: bytes) -> bool:
        """
        Add a read to the input.

        Which method does it depends on the input's state, and is set as
        this instance's C{feed} when the state changes (a call saved per
        read): L{_feedText} on a text connection, L{_feedBulk} while a big
        bulk string comes, else L{_append}.

        @return: whether L{next} may find something new: C{False} while an
            unfinished request still lacks bytes it needs (the read is kept
            aside, not parsed).
        """
        return self._append(data)

    def takeWhole(self, data: bytes) -> Optional[Batch]:
        """
        The usual read of a RESP connection, in one call rather than
        L{feed}, L{next} and its checks: if no input waits (nothing left
        unparsed, kept aside or half parsed), the whole ordinary requests
        C{data} starts with, C{data} becoming the input (tell L{consumed}
        where running them stopped; L{next} goes on from there).  Else
        L{None}, and nothing changed: L{feed} it.
        """
        if self.resp and self._bulk is None and not self._pending and \
                self._args is None and self._pos >= len(self._buf):
            limits = self.limits
            batch = resp.parseMany(data, 0, limits.bulk, limits.multibulk)
            if batch:
                self._buf = data
                self._pos = 0
                self._need = 0
                self._needLF = False
                return batch
        return None

    def _append(self, data: bytes) -> bool:
        """
        L{feed}: the read goes after the input there is.
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
        if self._needLF and self._lf not in data and \
                self._have <= self._lfWithin:
            return False
        self._buf = b"".join(pending)
        self._pending = []
        self._have = self._need = 0
        self._needLF = False
        return True

    def _feedText(self, data: bytes) -> bool:
        """
        L{feed} on a text connection: Telnet commands are taken out
        (L{TelnetFilter}); their events wait in L{_telnetEvents} for
        L{next} to reach their place.
        """
        events = self._telnetEvents
        if not events and b"\xff" not in data and not self._telnet.busy():
            return self._append(data)
        if events:
            last = events[-1]
            atLineStart = last.__class__ is bytes and last[-1:] == b"\n"
        else:
            typed = self._pending[-1] if self._pending else \
                self._buf[self._pos:]
            atLineStart = typed[-1:] in (b"", b"\n")
        filtered, stop = self._telnet.feed(data, atLineStart)
        events.extend(filtered)
        if stop is not None:
            # A RESP request: it and the rest go in as they came.
            events.append(data[stop:] if stop else data)
        # The data before the first event goes in now; the rest once
        # L{next} has reached it.
        while events and events[0].__class__ is bytes:
            self._append(events.popleft())
        return True

    def _feedBulk(self, data: bytes) -> bool:
        """
        L{feed} while a big bulk string is being received: into its buffer.
        """
        bulk = self._bulk
        taken = bulk.write(data)
        if bulk.remaining:
            return False
        self._bulk = None
        self.feed = self._append
        self._bulkValue = bulk.value()
        self._buf = data
        self._pos = taken
        return True

    def receivingBulk(self):
        """
        The L{BulkBuffer} a big bulk string is being received into, or
        L{None}.
        """
        return self._bulk

    def consumed(self, end: int) -> bool:
        """
        The requests of the last batch up to the one ending at C{end} were
        run; the rest are not.

        @return: whether that was all of the input: L{next} would find
            nothing more (a batch is split from the whole input, so no read
            is kept aside while one runs).
        """
        self._pos = end
        return end >= len(self._buf) and not self._pending

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
        self._dropInput()
        return data

    def discard(self) -> None:
        """
        Drop all input, any request parsed in part, and the Telnet commands
        not reached yet (the connection is closing).
        """
        self._dropInput()
        self._args = None
        self._left = 0
        if self._bulk is not None:
            self._bulk.close()
            self._bulk = None
            self.feed = self._append
        self._bulkValue = None
        self._telnetEvents.clear()

    def _dropInput(self) -> None:
        self._buf = b""
        self._pos = 0
        self._pending = []
        self._have = self._need = 0
        self._needLF = self._lineWaits = False

    def partialLine(self) -> bool:
        """
        Whether the input ends in a line still waiting for its line end
        (and holds nothing else).
        """
        return self._lineWaits

    # -- output --------------------------------------------------------------

    def startResp(self) -> None:
        """
        This is a RESP connection from now on: nothing is taken for a
        Telnet command any more.
        """
        self.resp = True
        self._telnet = None
        self.feed = self._append
        events = self._telnetEvents
        while events:
            item = events.popleft()
            if item.__class__ is bytes:
                self._append(item)
        # No Telnet event comes any more: L{next} is L{_next} (a call
        # saved twice per read).
        self.next = self._next

    def next(self) -> Union[Batch, bytes, _RespStarts, TelnetReply, None]:
        """
        The next request(s) in the input (see the class), or L{None} until
        more input comes.

        @raise ProtocolError: the client broke RESP's framing or a limit.
        @raise LineTooLong: a line ran past the limit.
        """
        item = self._next()
        events = self._telnetEvents
        while item is None and events:
            # Every line before the Telnet command has been taken: its
            # turn, then the data after it.
            event = events.popleft()
            if event.erase:
                self._erase(event.erase)
            while events and events[0].__class__ is bytes:
                self._append(events.popleft())
            if event.reply:
                return TelnetReply(event.reply)
            item = self._next()
        return item

    def _erase(self, count: int) -> None:
        """
        Drop the last C{count} bytes of the line being typed (all of it if
        C{count} is L{TelnetEvent.ALL}): what is left of the input once
        every whole line was taken.
        """
        typed = self._buf[self._pos:] + b"".join(self._pending)
        self._dropInput()
        if count != TelnetEvent.ALL and len(typed) > count:
            self._append(typed[:-count])

    def _next(self) -> Union[Batch, bytes, _RespStarts, None]:
        """
        The next request(s) in the input (see the class), or L{None} until
        more input comes.

        @raise ProtocolError: the client broke RESP's framing or a limit.
        @raise LineTooLong: a line ran past the limit.
        """
        if self._pending:
            # Reads kept aside: what they lack still hasn't come.
            return None
        # What the last call found missing is looked for again.
        self._need = 0
        self._needLF = self._lineWaits = False
        if self._args is not None:
            return self._moreArguments()
        buf = self._buf
        while self._pos < len(buf):
            pos = self._pos
            if buf[pos] != 42:  # b"*"
                if self.resp:
                    return self._inline()
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
        buf = self._buf
        if self._bulkValue is not None:
            # A big bulk string was received; its CR LF comes next.
            pos = self._pos
            if len(buf) - pos < 2:
                self._need = 2
                return None
            if buf[pos] != 13 or buf[pos + 1] != 10:  # b"\r\n"
                raise ProtocolError("ERR Protocol error: invalid bulk format")
            args.append(self._bulkValue)
            self._bulkValue = None
            self._left -= 1
            self._pos = pos + 2
        before = len(args)
        pos, need = resp.parseBulks(buf, self._pos, self._left,
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
        elif need - (len(buf) - pos) > BIG_BULK:
            self._receiveBulk(buf, pos)
        else:
            self._need = need
        return None

    def _receiveBulk(self, buf: bytes, pos: int) -> None:
        """
        Receive the big bulk string whose header is at C{buf[pos]} into a
        buffer of its size; what has come of it goes in now.
        """
        end = buf.find(b"\r\n", pos)
        bulk = BulkBuffer(int(buf[pos + 1:end]))
        bulk.write(buf, end + 2)
        self._bulk = bulk
        self.feed = self._feedBulk
        self._buf = b""
        self._pos = 0
        if self.bulkStarted is not None:
            self.bulkStarted(bulk)

    def _line(self) -> Optional[bytes]:
        buf = self._buf
        pos = self._pos
        inline = self.limits.inline
        delimiter = self._delimiter
        eol = buf.find(delimiter, pos)
        if eol < 0:
            if len(buf) - pos > inline:
                self.discard()
                raise LineTooLong(buf[pos:])
            self._waitForLine(inline, delimiter[-1:])
            self._lineWaits = True
            return None
        if eol - pos > inline:
            self.discard()
            raise LineTooLong(buf[pos:])
        line = buf[pos:eol]
        self._pos = eol + len(delimiter)
        if line[-1:] == b"\r":
            return line[:-1]
        return line

    def _inline(self) -> Optional[Batch]:
        """
        Inline commands on a RESP connection: lines split into words as
        Redis splits them (L{resp.splitInline}); blank ones are skipped.
        """
        buf = self._buf
        inline = self.limits.inline
        while True:
            pos = self._pos
            eol = buf.find(b"\n", pos)
            if eol < 0:
                if len(buf) - pos > inline:
                    raise ProtocolError(TOO_BIG_INLINE)
                self._waitForLine(inline)
                return None
            if eol - pos > inline:
                raise ProtocolError(TOO_BIG_INLINE)
            end = eol - 1 if eol > pos and buf[eol - 1] == 13 else eol
            words = resp.splitInline(buf[pos:end])
            if words is None:
                raise ProtocolError(
                    "ERR Protocol error: unbalanced quotes in request")
            if words:
                return [(words, eol + 1)]
            self._pos = eol + 1
            if self._pos >= len(buf) or buf[self._pos] == 42:
                return self._next()

    def _waitForLine(self, within: int, end: bytes = b"\n") -> None:
        """
        Keep reads aside until one brings C{end} (the last byte of a line
        end), unless more than C{within} bytes wait: then the line is too
        long, and parsing says so.
        """
        self._needLF = True
        self._lf = end
        self._lfWithin = within
