# -*- test-case-name: kvtwist.test.test_terminal -*-
"""
What a person types into C{kvtwist-cli}: line editing, a history kept
across sessions and Tab completion of command names.

The editing is the standard library's C{readline} module (GNU readline on
CPython, pyrepl on PyPy), so the arrow keys, Ctrl+R, Ctrl+A/E, C{~/.inputrc}
and the rest behave as in every other readline program, and an Up arrow
recalls a line instead of reaching the server as C{ESC [ A}.  C{input()}
blocks, so L{LineEditor} runs it in a daemon thread and hands each line to
the reactor thread: the reactor never waits for a person.

The history lives in C{~/.kvtwist_history} (as redis-cli keeps
C{~/.rediscli_history}), or wherever C{KVTWIST_HISTFILE} says (empty or
C{/dev/null}: no history file).  It is written after every line, readable by
its owner only; lines that carry a password (C{AUTH}, C{HELLO ... AUTH},
C{CONFIG SET requirepass}, ...) are never kept.
"""

import os
import queue
import threading
from typing import Iterable, List, Mapping, Optional, Sequence

from twisted.internet.defer import Deferred
from twisted.logger import Logger

__all__ = ["HISTORY_ENV", "HISTORY_NAME", "HISTORY_LENGTH", "historyPath",
           "isSensitive", "CommandCompleter", "LineEditor", "loadReadline"]

#: The environment variable naming the history file.
HISTORY_ENV = "KVTWIST_HISTFILE"

#: The history file's name in the home directory.
HISTORY_NAME = ".kvtwist_history"

#: How many lines the history keeps.
HISTORY_LENGTH = 1000


class _Interrupted:
    """
    The type of L{INTERRUPTED}.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "INTERRUPTED"


#: What L{LineEditor.readLine} gives for a line that Ctrl+C ended.  PyPy's
#: line editor (pyrepl) takes Ctrl+C as a key: it ends the line, then
#: signals the process, so the program hears of it twice.  It must act on
#: the signal only, and not ask for another line meanwhile (the new prompt
#: would be drawn between its goodbye lines).
INTERRUPTED = _Interrupted()


def loadReadline():
    """
    The C{readline} module, or L{None} where the interpreter has none.
    """
    try:
        import readline
    except ImportError:
        return None
    return readline


def historyPath(environ: Mapping[str, str]) -> Optional[str]:
    """
    Where the history is kept: C{$KVTWIST_HISTFILE} if set, else
    C{~/.kvtwist_history}.

    @return: the path, or L{None} for no history file (the variable is
        empty or C{/dev/null}, or there is no home directory).
    """
    path = environ.get(HISTORY_ENV)
    if path is not None:
        path = os.path.expanduser(path)
        if not path or path == os.devnull:
            return None
        return path
    home = environ.get("HOME") or os.path.expanduser("~")
    if not home or home == "~":
        return None
    return os.path.join(home, HISTORY_NAME)


def isSensitive(line: str) -> bool:
    """
    Whether a command line carries a password and must stay out of the
    history: C{AUTH ...}, C{HELLO ... AUTH ...}, C{CONFIG SET requirepass}
    or C{masterauth}, C{ACL SETUSER}, C{MIGRATE ... AUTH}.
    """
    words = line.upper().split()
    if not words:
        return False
    first = words[0]
    if first == "AUTH":
        return True
    if first in ("HELLO", "MIGRATE"):
        return "AUTH" in words[1:] or "AUTH2" in words[1:]
    if first == "ACL":
        return words[1:2] == ["SETUSER"]
    if first == "CONFIG" and words[1:2] == ["SET"]:
        return any(w in ("REQUIREPASS", "MASTERAUTH", "MASTERUSER")
                   for w in words[2:])
    return False


class CommandCompleter:
    """
    Completes command names: the first word of a line, and the word after
    C{HELP}.  A name is offered in the case the person is typing it
    (C{se} completes to C{set}, C{SE} and C{Se} to C{SET}).

    @ivar names: the upper-case names offered, sorted.
    """

    #: Words that take a command name after them.
    _TAKES_NAME = ("HELP",)

    def __init__(self, names: Iterable[str] = ()):
        """
        @param names: the command names (any case).
        """
        self.names: Sequence[str] = ()
        self.setNames(names)

    def setNames(self, names: Iterable[str]):
        """
        Offer these names from now on (safe to call from another thread
        than the one completing: the list is replaced whole).
        """
        self.names = tuple(sorted({n.upper() for n in names if n}))

    def candidates(self, line: str, begin: int, text: str) -> List[str]:
        """
        The completions of C{text}, the word starting at C{begin} in
        C{line}.
        """
        before = line[:begin].split()
        if before and not (len(before) == 1
                           and before[0].upper() in self._TAKES_NAME):
            return []
        prefix = text.upper()
        found = [n for n in self.names if n.startswith(prefix)]
        if text and text == text.lower():
            return [n.lower() for n in found]
        return found


class LineEditor:
    """
    Reads lines from a terminal with C{readline}'s line editing, history
    and completion, in a daemon thread; each line is delivered in the
    reactor thread.

    A daemon thread, not the reactor's pool: a thread blocked on a person
    must not hold up the process's exit.  The terminal's settings are saved
    before the first prompt and put back by L{stop}, since a session may end
    (Ctrl+C, a server that goes away) while C{readline} has the terminal.

    @ivar completer: the L{CommandCompleter}.
    """

    _log = Logger()

    #: C{readLine(prompt)} shows the prompt itself (readline must know it
    #: to redraw the line).
    showsPrompt = True

    def __init__(self, reactor, readline, history: Optional[str] = None,
                 completer: Optional[CommandCompleter] = None,
                 fd: int = 0, termios=None, inputFunction=input):
        """
        @param reactor: provides C{callFromThread}.
        @param readline: the C{readline} module (or a stand-in).
        @param history: the history file's path, or L{None} for none.
        @param completer: what Tab completes; default an empty
            L{CommandCompleter}.
        @param fd: the terminal's descriptor, whose settings are saved and
            restored.
        @param termios: the C{termios} module, or L{None} to import it
            (where it is missing, the settings are not restored).
        @param inputFunction: C{input}, which uses C{readline} when stdin
            and stdout are terminals.
        """
        self._reactor = reactor
        self._readline = readline
        self._history = history
        self.completer = completer if completer is not None \
            else CommandCompleter()
        self._fd = fd
        self._termios = termios
        self._input = inputFunction
        self._requests: "queue.Queue[Optional[str]]" = queue.Queue()
        self._thread = None
        self._waiting = None
        self._saved = None
        self._stopped = False
        self._matches: List[str] = []
        self._lineEndWaiters: List[Deferred] = []

    def setCommands(self, names: Iterable[str]):
        """
        The command names Tab completes.
        """
        self.completer.setNames(names)

    def readLine(self, prompt: str = "") -> Deferred:
        """
        Show C{prompt} and read one edited line.

        @return: a Deferred firing with the line (C{bytes}, encoded as the
            terminal's text was decoded), L{None} at Ctrl+D, or
            L{INTERRUPTED} for a line that Ctrl+C ended (its signal
            follows).
        """
        if self._stopped:
            d = Deferred()
            d.callback(None)
            return d
        if self._thread is None:
            self._saveTerminal()
            self._thread = threading.Thread(
                target=self._run, name="kvtwist-cli input", daemon=True)
            self._thread.start()
        d = self._waiting = Deferred()
        self._requests.put(prompt)
        return d

    def stop(self):
        """
        Let the thread end after its current read, and give the terminal
        its settings back.
        """
        self._stopped = True
        self._requests.put(None)
        self._restoreTerminal()

    # -- the terminal's settings ---------------------------------------------

    def _termiosModule(self):
        if self._termios is None:
            try:
                import termios
            except ImportError:  # pragma: no cover - not on POSIX
                return None
            self._termios = termios
        return self._termios

    def _saveTerminal(self):
        termios = self._termiosModule()
        if termios is None:
            return
        try:
            self._saved = termios.tcgetattr(self._fd)
        except (termios.error, OSError, ValueError):
            self._saved = None

    def _restoreTerminal(self):
        termios = self._termiosModule()
        if termios is None or self._saved is None:
            return
        try:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
        except (termios.error, OSError, ValueError):
            pass

    # -- the thread ----------------------------------------------------------

    def _setUp(self):
        readline = self._readline
        readline.set_completer(self._complete)
        readline.set_completer_delims(" \t")
        if "libedit" in (getattr(readline, "__doc__", "") or ""):
            readline.parse_and_bind("bind ^I rl_complete")
        else:
            readline.parse_and_bind("tab: complete")
        readline.set_history_length(HISTORY_LENGTH)
        if self._history is not None:
            try:
                readline.read_history_file(self._history)
            except (OSError, ValueError):
                pass

    def _run(self):
        try:
            self._setUp()
        except Exception:
            self._log.failure("setting up line editing failed")
        while True:
            prompt = self._requests.get()
            if prompt is None:
                return
            try:
                text = self._input(prompt)
            except EOFError:
                line = None
            except (KeyboardInterrupt, UnicodeDecodeError):
                line = b""
            else:
                if _endedByCtrlC(self._readline):
                    line = INTERRUPTED
                else:
                    self._remember(text)
                    line = text.encode(_encoding(), "surrogateescape")
            self._reactor.callFromThread(self._deliver, line)
            if line is None:
                return

    def lineEnded(self, timeout: float = 0.5) -> Deferred:
        """
        A Deferred firing once the editor is done drawing the line being
        read, after Ctrl+C: at once, unless the editor ends a line on
        Ctrl+C and still draws it meanwhile (pyrepl redraws the prompt,
        then ends the line); then once that line is delivered, or after
        C{timeout} seconds.  (Otherwise the program's goodbye could come
        before the editor's last drawing of the prompt.)
        """
        d = Deferred()
        if self._waiting is None or not _endsLinesOnCtrlC(self._readline):
            d.callback(None)
            return d
        self._lineEndWaiters.append(d)

        def late():
            if d in self._lineEndWaiters:
                self._lineEndWaiters.remove(d)
                d.callback(None)
        self._reactor.callLater(timeout, late)
        return d

    def _deliver(self, line: Optional[bytes]):
        d, self._waiting = self._waiting, None
        if d is not None:
            d.callback(line)
        waiters, self._lineEndWaiters = self._lineEndWaiters, []
        for waiter in waiters:
            waiter.callback(None)

    def _remember(self, text: str):
        """
        Keep the history file up to date after a line (readline has added
        it already), leaving out a line that carries a password.
        """
        readline = self._readline
        if isSensitive(text):
            last = readline.get_current_history_length()
            if last and readline.get_history_item(last) == text:
                readline.remove_history_item(last - 1)
            return
        if self._history is None or not text.strip():
            return
        try:
            # Created readable by its owner only before readline writes it
            # (pyrepl would create it as the umask says).
            os.close(os.open(self._history, os.O_WRONLY | os.O_CREAT,
                             0o600))
            readline.write_history_file(self._history)
        except OSError as e:
            self._log.warn("could not write the history file {path}: "
                           "{error}", path=self._history, error=e)
            self._history = None

    def _complete(self, text: str, state: int) -> Optional[str]:
        """
        readline's completer: the C{state}th completion of C{text}.
        """
        if state == 0:
            readline = self._readline
            try:
                line = readline.get_line_buffer()
            except Exception:
                line = text
            if isinstance(line, bytes):
                # pyrepl (PyPy) gives the line encoded.
                line = line.decode(_encoding(), "replace")
            try:
                begin = readline.get_begidx()
            except Exception:
                # PyPy 3.9's pyrepl breaks here (it calls xrange): take the
                # word being completed to end the line, as it does when
                # typing.
                begin = len(line) - len(text) if line.endswith(text) \
                    else len(line)
            self._matches = self.completer.candidates(line, begin, text)
        matches = self._matches
        return matches[state] if state < len(matches) else None


def _encoding() -> str:
    import sys
    return getattr(sys.stdin, "encoding", None) or "utf-8"


def _pyrepl(readline):
    """
    The pyrepl line editor behind C{readline} (PyPy's C{readline} module
    is pyrepl's, whose functions are methods of one wrapper object), or
    L{None} (GNU readline, libedit).
    """
    wrapper = getattr(getattr(readline, "get_line_buffer", None),
                      "__self__", None)
    return wrapper if hasattr(wrapper, "get_reader") else None


def _endsLinesOnCtrlC(readline) -> bool:
    """
    Whether C{readline}'s editor ends a line on Ctrl+C (pyrepl does; GNU
    readline leaves Ctrl+C to the terminal, which signals the program).
    """
    return _pyrepl(readline) is not None


def _endedByCtrlC(readline) -> bool:
    """
    Whether the line C{readline}'s editor just gave was ended by Ctrl+C:
    pyrepl's last command is then its C{interrupt}.
    """
    reader = getattr(_pyrepl(readline), "reader", None)
    last = getattr(reader, "last_command", None)
    return getattr(last, "__name__", None) == "interrupt"
