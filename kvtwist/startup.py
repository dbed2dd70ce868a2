# -*- test-case-name: kvtwist.test.test_services -*-
"""
Startup failures a person must fix, and telling them to that person.

A L{StartupError}'s message is one or two lines naming the problem and the
fix.  Raised before twistd daemonizes (while the options are read or the
service tree is made) it stops the process with that message on the
terminal.  Raised while the tree starts (the store's recovery, a listener
whose port was taken meanwhile), twistd has already daemonized, and it
would report only the first 100 bytes of it: so C{twistd kvstore} keeps a
copy of the terminal's standard error from before (L{Reporter}) and writes
the whole message there, then closes it once the server is running.

twistd lets the exception it is given then go up to the interpreter, which
would print its traceback after that message (into the log, which is the
terminal under C{twistd -n}): L{Reporter.quiet} has the interpreter exit
with status 1 without it.
"""

import os
import sys
from typing import Optional


class StartupError(Exception):
    """
    The server can't start, for a reason a person must fix; the message
    says what and how, for people.
    """


class Reporter:
    """
    Where a startup failure is told to the person who started the server:
    a duplicate of the standard error twistd was started with, kept across
    its daemonizing until the server has started.

    @ivar fd: the file descriptor, or L{None} once closed.
    """

    def __init__(self, fd: Optional[int], hooks=sys):
        """
        @param fd: the kept standard error, or L{None}.
        @param hooks: where C{excepthook} is (L{sys}; a stand-in in
            tests).
        """
        self.fd = fd
        self._hooks = hooks

    @classmethod
    def keepStderr(cls) -> "Reporter":
        """
        Keep this process's standard error (before twistd takes it).
        """
        try:
            return cls(os.dup(2))
        except OSError:
            return cls(None)

    def report(self, error: StartupError) -> None:
        """
        Write C{twistd kvstore: MESSAGE} to the kept standard error, then
        close it.
        """
        if self.fd is not None:
            try:
                os.write(self.fd, ("twistd kvstore: %s\n" % (error,)).encode(
                    "utf-8", "backslashreplace"))
            except OSError:
                pass
        self.close()

    def quiet(self, error: BaseException) -> BaseException:
        """
        Have the interpreter print nothing if C{error} (already told) is
        what stops it: twistd re-raises what the tree raised as it starts
        (after removing its pid file and, as a daemon, writing it to its
        parent), and Python's C{excepthook} would print its traceback.
        Any other exception is printed as before.

        @return: C{error}, to raise.
        """
        previous = self._hooks.excepthook

        def excepthook(kind, value, tb):
            if value is not error:
                previous(kind, value, tb)

        self._hooks.excepthook = excepthook
        return error

    def close(self) -> None:
        """
        Let the kept standard error go (a daemon must not hold the
        terminal).
        """
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                os.close(fd)
            except OSError:
                pass
