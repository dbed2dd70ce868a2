# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Neutral replies: what command handlers return, before a dialect renders it.

To keep the hot path cheap, plain Python values are replies too:

    - L{bytes}: a bulk string
    - L{int}: an integer (L{bool}: a boolean, RESP3 C{#t}/C{#f})
    - L{float}: a double (RESP3 C{,}; RESP2 a bulk string), written as
      Redis writes doubles (L{kvtwist.doubles.formatDouble})
    - L{None}: a null
    - L{NULL_ARRAY}: a null array (RESP2 tells it from a null), as
      C{LPOP key count} answers for a missing key
    - L{list}: an array of replies
    - L{dict}: a map of replies (RESP2 renders it as a flat array)
    - L{SetReply}: a set of replies (RESP3 C{~}; RESP2 an array)
    - L{Status}: a simple status line (C{+OK})
    - L{Error}: an error line (C{-ERR ...})
    - L{Verbatim}: a bulk of text meant for people (C{INFO}, C{CLIENT LIST})

A reply may also be a L{twisted.internet.defer.Deferred} firing with one of
these, or a L{Later} (the same promise without a Deferred's cost); the
protocol keeps replies in request order.
"""

from typing import Callable

from twisted.internet.defer import Deferred


class Status(str):
    """
    A simple status reply, such as C{OK} or C{PONG}.
    """

    __slots__ = ()


class Error(str):
    """
    An error reply.  The text starts with its code: C{ERR ...},
    C{WRONGTYPE ...}, C{NOAUTH ...}.
    """

    __slots__ = ()

    @property
    def code(self) -> str:
        """
        The first word of the error, e.g. C{ERR}.
        """
        return self.split(" ", 1)[0]


class Verbatim(bytes):
    """
    Text meant for people, possibly on several lines (RESP3 C{=}).
    """


class SetReply(list):
    """
    A set of replies, in no particular order: RESP3 sends it as a set
    (C{~}), RESP2 and the other dialects as an array.  As C{SMEMBERS}
    answers.
    """

    __slots__ = ()


class NullArray:
    """
    The type of L{NULL_ARRAY}: an array that isn't there (RESP2 C{*-1},
    RESP3 C{_}); dialects without the distinction show a null.
    """

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NULL_ARRAY"


#: The null array.
NULL_ARRAY = NullArray()


class Later:
    """
    A reply that comes later, for a backend that gives many of them: a
    cluster front end answers each routed command with one.  It is a
    Deferred's promise at a fraction of its cost: it fires once, with a
    neutral reply (never L{NO_REPLY}, never a failure), and has at most
    one receiver, a callable that must not raise.

    @ivar done: whether it fired.
    @ivar result: its reply, once it fired with no receiver yet.
    """

    __slots__ = ("done", "result", "_receiver")

    def __init__(self):
        self.done = False
        self._receiver = None

    def then(self, receiver: Callable[[object], None]) -> None:
        """
        Call C{receiver} with the reply: now if it came, else when it
        comes.  (Set once: a second receiver replaces the first.)
        """
        if self.done:
            receiver(self.result)
        else:
            self._receiver = receiver

    def fire(self, reply) -> None:
        """
        The reply came (once: L{done} must be false).
        """
        self.done = True
        receiver = self._receiver
        if receiver is None:
            self.result = reply
        else:
            self._receiver = None
            receiver(reply)

    def asDeferred(self) -> Deferred:
        """
        A new Deferred firing with the reply, for code that chains
        Deferreds (this is its receiver).
        """
        d = Deferred()
        self.then(d.callback)
        return d


class NoReply:
    """
    The type of L{NO_REPLY}.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_REPLY"


#: What a command answers when nothing is to be sent back: C{CLIENT REPLY
#: OFF} and C{SKIP}, a C{SHUTDOWN} that succeeds (the connection closes
#: instead).  Not plain: connections check for it where they queue
#: replies that are not plain.
NO_REPLY = NoReply()


#: The types of the replies above (every reply but a Deferred and
#: L{NO_REPLY}): checked
#: with C{reply.__class__ in PLAIN} before C{isinstance(reply, Deferred)},
#: which goes through the (slow) abstract-class machinery.
PLAIN = frozenset([bytes, int, type(None), list, dict, bool, float,
                   Status, Error, Verbatim, NullArray, SetReply])

OK = Status("OK")
PONG = Status("PONG")
QUEUED = Status("QUEUED")

WRONGTYPE = Error(
    "WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_INTEGER = Error("ERR value is not an integer or out of range")
NOT_FLOAT = Error("ERR value is not a valid float")
SYNTAX = Error("ERR syntax error")
NO_SUCH_KEY = Error("ERR no such key")
OUT_OF_RANGE = Error("ERR index out of range")
NOAUTH = Error("NOAUTH Authentication required.")
WRONGPASS = Error(
    "WRONGPASS invalid username-password pair or user is disabled.")


def wrongArity(name: str) -> Error:
    """
    Redis's error for a command called with the wrong number of arguments.
    """
    return Error("ERR wrong number of arguments for '%s' command"
                 % (name.lower(),))


def unknownCommand(name: bytes, args) -> Error:
    """
    Redis's error for an unknown command.
    """
    shown = " ".join("'%s'" % (a[:128].decode("utf-8", "replace"),)
                     for a in args[:16])
    return Error("ERR unknown command '%s', with args beginning with: %s"
                 % (name[:128].decode("utf-8", "replace"), shown))


class Push(list):
    """
    A message the server pushes to a client (C{message}, C{pmessage}) or
    one frame of a subscription's acknowledgement (C{subscribe}...): an
    array, sent as a push (C{>}) in RESP3.

    Not among L{PLAIN}: a connection looks at it (a client subscribing
    may enter RESP2's subscribed mode).  A message goes to many clients:
    its RESP bytes are kept once rendered (L{kvtwist.dialects.resp}).
    """

    __slots__ = ("rendered",)

    def __init__(self, items=()):
        list.__init__(self, items)
        self.rendered = None


class Pushes(list):
    """
    Several L{Push} frames in a row: the reply of C{SUBSCRIBE a b}, one
    frame per channel.
    """

    __slots__ = ()
