# -*- test-case-name: kvtwist.test.test_backends -*-
"""
How what goes wrong inside a handler becomes an error reply.
"""

from twisted.logger import Logger
from twisted.python.failure import Failure

from kvtwist import replies
from kvtwist.commands.registry import Command
from kvtwist.replies import Error
from kvtwist.store import NoSuchKey, NotAnInteger, OutOfRange, WrongType
from kvtwist.store.errors import Refused

_log = Logger(namespace="kvtwist.commands")

_ERRORS = {
    WrongType: replies.WRONGTYPE,
    NotAnInteger: replies.NOT_INTEGER,
    NoSuchKey: replies.NO_SUCH_KEY,
    OutOfRange: replies.OUT_OF_RANGE,
}


def errorReply(cmd: Command, exc: BaseException) -> Error:
    """
    The reply to C{cmd} raising C{exc}: Redis's error for the store's
    exceptions (C{WRONGTYPE} and friends; a L{Refused}'s own text), else a
    logged internal error.
    """
    known = _ERRORS.get(type(exc))
    if known is not None:
        return known
    if type(exc) is Refused:
        return Error(exc.text)
    _log.failure("command {name} failed", name=cmd.name,
                 failure=Failure(exc, type(exc), exc.__traceback__))
    return Error("ERR internal error running '%s'" % (cmd.name.lower(),))
