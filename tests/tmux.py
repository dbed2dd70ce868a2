"""
A terminal program run in tmux, as a person sees it: keys are typed with
C{send-keys} and the screen is read with C{capture-pane}, so the tests see
what readline drew (the prompt, a recalled line, a completion list), not the
escape sequences it drew them with.

    with TmuxTerminal(["kvtwist-cli", "--port", "3490"]) as term:
        term.waitFor("> ")
        term.keys("PIN", "Tab", "Enter")
        term.waitFor("+PONG")
"""

import itertools
import os
import re
import shlex
import shutil
import subprocess
from typing import Dict, Optional, Sequence

import pytest

from tests.harness import IO_TIMEOUT, waitFor

_serial = itertools.count()

_EXIT_STATUS = re.compile(r"\[exit status (\d+)\]")


def requireTmux():
    """
    Skip the calling test when tmux is not installed.
    """
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")


class TmuxTerminal:
    """
    One program in a tmux session on a private tmux server (its own socket
    name), on a screen of C{width} x C{height}.  The pane stays after the
    program exits, so its last words and exit status can be read.
    """

    def __init__(self, argv: Sequence[str], env: Optional[Dict[str, str]] = None,
                 width: int = 120, height: int = 40):
        """
        Start C{argv} in a new session.

        @param env: variables set for the program (on top of the test's
            environment).
        """
        requireTmux()
        self.socket = "kvtwist-test-%d-%d" % (os.getpid(), next(_serial))
        # The shell prints the exit status: tmux's own pane_dead_status
        # can stay empty for a long while (the child not yet reaped).
        command = " ".join(shlex.quote(word) for word in (
            ["sh", "-c", '"$@"; echo "[exit status $?]"', "sh", "env"]
            + ["%s=%s" % item for item in (env or {}).items()]
            + list(argv)))
        self._tmux("-f", os.devnull, "new-session", "-d", "-s", "t",
                   "-x", str(width), "-y", str(height), command,
                   ";", "set-option", "-t", "t", "remain-on-exit", "on")

    def _tmux(self, *args) -> str:
        result = subprocess.run(["tmux", "-L", self.socket] + list(args),
                                capture_output=True, timeout=IO_TIMEOUT)
        if result.returncode:
            raise AssertionError("tmux %s failed: %s" % (
                " ".join(args), result.stderr.decode("utf-8", "replace")))
        return result.stdout.decode("utf-8", "replace")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def screen(self) -> str:
        """
        What the screen shows now, lines joined where they wrapped, without
        trailing blank lines.
        """
        return self._tmux("capture-pane", "-p", "-J", "-t", "t").rstrip("\n")

    def keys(self, *keys: str):
        """
        Press keys: tmux key names (C{Up}, C{Tab}, C{Enter}, C{C-c}) or
        text, typed literally.
        """
        for key in keys:
            if key in ("Up", "Down", "Left", "Right", "Tab", "Enter", "BSpace",
                       "Escape") or key.startswith("C-"):
                self._tmux("send-keys", "-t", "t", key)
            else:
                self._tmux("send-keys", "-t", "t", "-l", key)

    def waitFor(self, text: str, timeout: float = IO_TIMEOUT) -> str:
        """
        Wait until C{text} is on the screen; return the screen.
        """
        try:
            return waitFor(lambda: text in self.screen() and self.screen(),
                           timeout, interval=0.05, what=repr(text))
        except AssertionError as e:
            raise AssertionError("%s; the screen shows:\n%s"
                                 % (e, self.screen()))

    def lastLine(self) -> str:
        """
        The last non-blank line of the screen.
        """
        lines = self.screen().splitlines()
        return lines[-1] if lines else ""

    def exitStatus(self, timeout: float = IO_TIMEOUT) -> int:
        """
        Wait for the program to exit and return its exit status.
        """
        screen = self.waitFor("[exit status ", timeout)
        return int(_EXIT_STATUS.search(screen).group(1))

    def close(self):
        """
        Kill the tmux server and with it the program.
        """
        subprocess.run(["tmux", "-L", self.socket, "kill-server"],
                       capture_output=True, timeout=IO_TIMEOUT)
