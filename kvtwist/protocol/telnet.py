# -*- test-case-name: kvtwist.test.test_telnet -*-
"""
Telnet commands on a text connection.

A person on C{telnet} sends, besides what they type, Telnet protocol
commands (RFC 854): each starts with the byte IAC (255).  Ctrl+C is C{IAC
IP} followed by C{IAC DO TIMING-MARK}, after which the telnet client shows
nothing more until the server answers the timing mark; options are
negotiated with C{IAC DO/DONT/WILL/WONT <option>} and C{IAC SB ... IAC SE}.

L{TelnetFilter} takes them out of a text connection's input and says what
they mean for it:

    - C{IAC IP}, C{IAC BRK} and C{IAC EL} cancel the line being typed, as
      Ctrl+C does in a shell (nothing is answered);
    - C{IAC EC} erases the last character typed;
    - C{IAC DO TIMING-MARK} is answered C{IAC WILL TIMING-MARK}, after the
      replies to everything before it, so the telnet client shows output
      again;
    - any other option is refused (C{DO} answered C{WONT}, C{WILL}
      answered C{DONT}): the connection stays in the plain line-by-line
      mode telnet starts in;
    - C{IAC AYT} ("are you there?") is answered C{[Yes]};
    - C{IAC IAC} is a 255 byte of data; every other command is dropped.

A 255 byte followed by a byte that is no Telnet command (below 240) is
data.  Otherwise a text connection that sends a 255 byte for itself (not
from telnet) has it read as IAC: text in UTF-8 never holds one, and
programs that need every byte value use RESP, where nothing is filtered.
"""

from typing import List, Optional, Tuple, Union

IAC = 255
DONT, DO, WONT, WILL = 254, 253, 252, 251
SB, SE = 250, 240
GA, EL, EC, AYT, AO, IP, BRK, DM, NOP = (249, 248, 247, 246, 245, 244,
                                         243, 242, 241)
#: The timing-mark option (RFC 860).
TIMING_MARK = 6


class TelnetEvent:
    """
    Something a Telnet command asks of the connection, in its place in the
    input.

    @ivar reply: bytes to send once everything before it is answered, or
        C{b""}.
    @ivar erase: how much of the line being typed to drop: L{ALL} for the
        whole line, or a number of bytes.
    """

    __slots__ = ("reply", "erase")

    ALL = -1

    def __init__(self, reply: bytes = b"", erase: int = 0):
        self.reply = reply
        self.erase = erase

    def __eq__(self, other) -> bool:
        return (isinstance(other, TelnetEvent) and
                (self.reply, self.erase) == (other.reply, other.erase))

    def __repr__(self) -> str:
        return "TelnetEvent(reply=%r, erase=%d)" % (self.reply, self.erase)


#: Cancel the line being typed.
CANCEL_LINE = TelnetEvent(erase=TelnetEvent.ALL)
#: Erase the last character typed.
ERASE_CHAR = TelnetEvent(erase=1)
#: The answer to "are you there?".
YES = TelnetEvent(reply=b"[Yes]\r\n")

_DATA, _COMMAND, _OPTION, _SUB, _SUB_IAC = range(5)

_ANSWERS = {DO: WONT, WILL: DONT}


class TelnetFilter:
    """
    Takes Telnet commands out of a text connection's input, a read at a
    time (a command may be cut across reads).
    """

    def __init__(self):
        self._state = _DATA
        self._verb = 0

    def busy(self) -> bool:
        """
        Whether a command began in an earlier read and isn't over.
        """
        return self._state != _DATA

    def feed(self, data: bytes, atLineStart: bool = True
             ) -> Tuple[List[Union[bytes, TelnetEvent]], Optional[int]]:
        """
        Filter one read, up to the first RESP request in it (a line that
        starts with C{*}): that and what follows is not text, and nothing
        in it is a Telnet command.

        @param atLineStart: whether the read starts a line.
        @return: the read's data, as L{bytes}, with the L{TelnetEvent}s of
            its commands in their places; and where a RESP request starts
            (L{None} if none does).
        """
        out: List[Union[bytes, TelnetEvent]] = []
        kept: List[bytes] = []
        state = self._state
        i = 0
        n = len(data)
        stop = None
        while i < n:
            if state == _DATA:
                # Plain data up to the next IAC, in one piece, unless a
                # line in it starts a RESP request.
                j = data.find(b"\xff", i)
                if j < 0:
                    j = n
                if atLineStart and data[i] == 42:  # b"*"
                    stop = i
                else:
                    star = data.find(b"\n*", i, j)
                    if star >= 0:
                        stop = star + 1
                if stop is not None:
                    if stop > i:
                        kept.append(data[i:stop])
                    break
                if j > i:
                    kept.append(data[i:j])
                    atLineStart = data[j - 1] == 10  # b"\n"
                if j < n:
                    state = _COMMAND
                i = j + 1
                continue
            byte = data[i]
            i += 1
            event = None
            if state == _COMMAND:
                state = _DATA
                if byte == IAC:
                    kept.append(b"\xff")
                    atLineStart = False
                elif byte in (DO, DONT, WILL, WONT):
                    self._verb = byte
                    state = _OPTION
                elif byte == SB:
                    state = _SUB
                elif byte in (IP, BRK, EL):
                    event = CANCEL_LINE
                    atLineStart = True
                elif byte == EC:
                    event = ERASE_CHAR
                elif byte == AYT:
                    event = YES
                elif byte < SE:
                    # Not a Telnet command: data, as it came.
                    kept.append(bytes([IAC, byte]))
                    atLineStart = byte == 10
            elif state == _OPTION:
                state = _DATA
                verb = self._verb
                if verb == DO and byte == TIMING_MARK:
                    event = TelnetEvent(reply=bytes([IAC, WILL, TIMING_MARK]))
                elif verb in _ANSWERS:
                    event = TelnetEvent(reply=bytes([IAC, _ANSWERS[verb],
                                                     byte]))
            elif state == _SUB:
                if byte == IAC:
                    state = _SUB_IAC
            else:  # _SUB_IAC
                state = _DATA if byte == SE else _SUB
            if event is not None:
                if kept:
                    out.append(b"".join(kept))
                    kept = []
                out.append(event)
        self._state = state
        if kept:
            out.append(b"".join(kept))
        return out, stop
