"""
Tests for L{kvtwist.terminal}: where the history lives, which lines it
leaves out, what Tab completes, and L{LineEditor} driven through a stand-in
C{readline} and C{input} (the real thing is tried on a terminal by
C{tests/test_cli_e2e.py}).
"""

import os
import queue
import threading

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from kvtwist import terminal


class HistoryPathTests(SynchronousTestCase):
    """
    Tests for L{terminal.historyPath}.
    """

    def test_home(self):
        """
        By default the history is C{~/.kvtwist_history}.
        """
        self.assertEqual(terminal.historyPath({"HOME": "/home/ann"}),
                         "/home/ann/.kvtwist_history")

    def test_environment(self):
        """
        C{KVTWIST_HISTFILE} names another file (C{~} expanded).
        """
        self.assertEqual(
            terminal.historyPath({"HOME": "/home/ann",
                                  "KVTWIST_HISTFILE": "/tmp/h"}), "/tmp/h")
        self.assertEqual(
            terminal.historyPath({"KVTWIST_HISTFILE": "~/h"}),
            os.path.expanduser("~/h"))

    def test_none(self):
        """
        An empty C{KVTWIST_HISTFILE} or C{/dev/null} means no history file.
        """
        for value in ("", os.devnull):
            self.assertIsNone(terminal.historyPath(
                {"HOME": "/home/ann", "KVTWIST_HISTFILE": value}))


class SensitiveTests(SynchronousTestCase):
    """
    Tests for L{terminal.isSensitive}.
    """

    def test_passwords(self):
        """
        Lines carrying a password, in any case.
        """
        for line in ["AUTH secret", "auth user secret", "  Auth x",
                     "HELLO 3 AUTH default secret", "hello 2 auth u p",
                     "CONFIG SET requirepass x", "config set masterauth y",
                     "ACL SETUSER bob on >pw",
                     "MIGRATE h 1 k 0 5 AUTH pw"]:
            self.assertTrue(terminal.isSensitive(line), line)

    def test_others(self):
        """
        Other lines, including ones that merely mention AUTH as a value.
        """
        for line in ["", "SET auth x", "GET AUTH", "HELLO 3",
                     "CONFIG SET timeout 5", "CONFIG GET requirepass",
                     "ACL LIST", "AUTHX y"]:
            self.assertFalse(terminal.isSensitive(line), line)


class CompleterTests(SynchronousTestCase):
    """
    Tests for L{terminal.CommandCompleter}.
    """

    def setUp(self):
        """
        A completer of a few names, given in mixed case.
        """
        self.completer = terminal.CommandCompleter(
            ["get", "GETSET", "set", "Help", "hello", "SCAN"])

    def test_firstWord(self):
        """
        The first word completes to the names it starts, in the case it is
        typed in (lower case stays lower case).
        """
        c = self.completer.candidates
        self.assertEqual(c("GE", 0, "GE"), ["GET", "GETSET"])
        self.assertEqual(c("ge", 0, "ge"), ["get", "getset"])
        self.assertEqual(c("Ge", 0, "Ge"), ["GET", "GETSET"])
        self.assertEqual(c("  sc", 2, "sc"), ["scan"])
        self.assertEqual(c("x", 0, "x"), [])
        self.assertEqual(c("", 0, ""), ["GET", "GETSET", "HELLO", "HELP",
                                        "SCAN", "SET"])

    def test_afterHelp(self):
        """
        The word after C{HELP} is a command name too; other arguments are
        not completed.
        """
        c = self.completer.candidates
        self.assertEqual(c("help se", 5, "se"), ["set"])
        self.assertEqual(c("HELP ", 5, ""), ["GET", "GETSET", "HELLO",
                                             "HELP", "SCAN", "SET"])
        self.assertEqual(c("GET ge", 4, "ge"), [])
        self.assertEqual(c("HELP GET g", 9, "g"), [])

    def test_setNames(self):
        """
        L{terminal.CommandCompleter.setNames} replaces the names.
        """
        self.completer.setNames(["PING"])
        self.assertEqual(self.completer.candidates("", 0, ""), ["PING"])


class FakeReadline:
    """
    Stands in for the C{readline} module: keeps a history as GNU readline
    does (items numbered from 1, removed by 0-based index), and a line
    buffer for the completer.
    """

    def __init__(self, brokenBegidx=False, bytesBuffer=False):
        self.history = []
        self.bound = []
        self.completer = None
        self.delims = None
        self.length = None
        self.buffer = ""
        self.begidx = 0
        self.brokenBegidx = brokenBegidx
        self.bytesBuffer = bytesBuffer
        self.written = []

    def parse_and_bind(self, text):
        self.bound.append(text)

    def set_completer(self, f):
        self.completer = f

    def set_completer_delims(self, delims):
        self.delims = delims

    def set_history_length(self, n):
        self.length = n

    def read_history_file(self, path):
        with open(path) as f:
            self.history = f.read().splitlines()

    def write_history_file(self, path):
        self.written.append(path)
        with open(path, "w") as f:
            f.write("".join(line + "\n" for line in self.history))

    def add_history(self, line):
        self.history.append(line)

    def get_current_history_length(self):
        return len(self.history)

    def get_history_item(self, index):
        return self.history[index - 1]

    def remove_history_item(self, index):
        del self.history[index]

    def get_line_buffer(self):
        if self.bytesBuffer:
            return self.buffer.encode("utf-8")
        return self.buffer

    def get_begidx(self):
        if self.brokenBegidx:
            raise NameError("name 'xrange' is not defined")
        return self.begidx


class ScriptedInput:
    """
    Stands in for C{input}: each call records its prompt, adds the line to
    the fake readline's history as C{input} does, and returns the next
    scripted line (L{None} raises C{EOFError}, as Ctrl+D does).
    """

    def __init__(self, readline, lines):
        self.readline = readline
        self.lines = list(lines)
        self.prompts = []

    def __call__(self, prompt):
        self.prompts.append(prompt)
        line = self.lines.pop(0)
        if line is None:
            raise EOFError()
        if line:
            self.readline.add_history(line)
        return line


class FakeTermios:
    """
    Stands in for C{termios}: records what was saved and restored.
    """

    error = OSError
    TCSADRAIN = 1

    def __init__(self):
        self.set = []

    def tcgetattr(self, fd):
        return ["settings of", fd]

    def tcsetattr(self, fd, when, attrs):
        self.set.append((fd, when, attrs))


class LineEditorTests(SynchronousTestCase):
    """
    Tests for L{terminal.LineEditor}: its thread runs the stand-in
    C{input}, and its deliveries are run in the test's thread.
    """

    def makeEditor(self, lines, history=None, **kw):
        """
        A L{terminal.LineEditor} over a L{FakeReadline} whose C{input}
        returns C{lines}.
        """
        self.calls = queue.Queue()
        calls = self.calls

        clock = self.clock = Clock()

        class Reactor:
            def callFromThread(self, f, *args):
                """
                Queue the call for the test thread.
                """
                calls.put((f, args))

            def callLater(self, delay, f, *args):
                """
                Schedule on the test's clock.
                """
                return clock.callLater(delay, f, *args)

        self.readline = FakeReadline(**kw)
        self.input = ScriptedInput(self.readline, lines)
        self.termios = FakeTermios()
        editor = terminal.LineEditor(
            Reactor(), self.readline, history=history, fd=7,
            termios=self.termios, inputFunction=self.input)
        self.addCleanup(editor.stop)
        return editor

    def read(self, editor, prompt="p> "):
        """
        Read one line, running the deliveries in this thread.
        """
        d = editor.readLine(prompt)
        while not d.called:
            f, args = self.calls.get(timeout=10)
            f(*args)
        return self.successResultOf(d)

    def test_lines(self):
        """
        Each line comes as bytes after its prompt; Ctrl+D gives L{None}.
        """
        editor = self.makeEditor(["SET k caf\u00e9", "", None])
        self.assertEqual(self.read(editor, "a> "), "SET k caf\u00e9".encode())
        self.assertEqual(self.read(editor, "b> "), b"")
        self.assertIsNone(self.read(editor, "c> "))
        self.assertEqual(self.input.prompts, ["a> ", "b> ", "c> "])

    def test_ctrlC(self):
        """
        A line that PyPy's line editor ended on Ctrl+C (its last command is
        C{interrupt}) comes as L{terminal.INTERRUPTED}, kept out of the
        history; the next line is read as usual.
        """
        editor = self.makeEditor(["GET half", "PING"])

        class interrupt:
            pass

        class Reader:
            last_command = interrupt

        # As pyrepl's readline wrapper: a get_reader, and the reader.
        self.readline.get_reader = Reader
        self.readline.reader = Reader()
        self.assertIs(self.read(editor), terminal.INTERRUPTED)
        Reader.last_command = None
        self.assertEqual(self.read(editor), b"PING")

    def test_lineEnded(self):
        """
        L{terminal.LineEditor.lineEnded} fires at once with GNU readline
        (it never ends a line on Ctrl+C); with pyrepl, while a line is
        read, once that line is delivered, or after its timeout.
        """
        editor = self.makeEditor(["a", "b"])
        self.successResultOf(editor.lineEnded())
        self.readline.get_reader = object  # pyrepl's, as far as it shows
        self.successResultOf(editor.lineEnded())  # no read in progress
        d = editor.readLine("p> ")
        ended = editor.lineEnded()
        self.assertNoResult(ended)
        f, args = self.calls.get(timeout=10)
        f(*args)
        self.assertEqual(self.successResultOf(d), b"a")
        self.successResultOf(ended)
        d = editor.readLine("p> ")
        ended = editor.lineEnded(timeout=0.5)
        self.clock.advance(0.5)
        self.successResultOf(ended)
        f, args = self.calls.get(timeout=10)
        f(*args)
        self.assertEqual(self.successResultOf(d), b"b")

    def test_setUp(self):
        """
        Tab completes, words split at blanks only, the history is bounded.
        """
        editor = self.makeEditor(["PING"])
        self.read(editor)
        self.assertEqual(self.readline.bound, ["tab: complete"])
        self.assertEqual(self.readline.delims, " \t")
        self.assertEqual(self.readline.length, terminal.HISTORY_LENGTH)
        self.assertEqual(self.readline.completer, editor._complete)

    def test_historyKept(self):
        """
        The history file is read before the first line and written after
        each one, readable by its owner only; the next editor finds it.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("GET old\n")
        os.chmod(path, 0o644)
        editor = self.makeEditor(["SET a 1", "GET a"], history=path)
        self.read(editor)
        with open(path) as f:
            self.assertEqual(f.read(), "GET old\nSET a 1\n")
        self.read(editor)
        with open(path) as f:
            self.assertEqual(f.read(), "GET old\nSET a 1\nGET a\n")
        os.remove(path)
        editor = self.makeEditor(["PING"], history=path)
        self.read(editor)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)

    def test_passwordsForgotten(self):
        """
        A line with a password is taken out of the history at once, and
        never reaches the file.
        """
        path = self.mktemp()
        editor = self.makeEditor(["SET a 1", "AUTH hunter2", "GET a"],
                                 history=path)
        for _ in range(3):
            self.read(editor)
        self.assertEqual(self.readline.history, ["SET a 1", "GET a"])
        with open(path) as f:
            self.assertNotIn("hunter2", f.read())

    def test_historyUnwritable(self):
        """
        A history file that can't be written is given up (the session goes
        on without it).
        """
        path = os.path.join(self.mktemp(), "missing-dir", "h")
        editor = self.makeEditor(["SET a 1", "GET a"], history=path)
        self.assertEqual(self.read(editor), b"SET a 1")
        self.assertEqual(self.read(editor), b"GET a")
        self.assertEqual(self.readline.written, [])

    def test_terminalRestored(self):
        """
        The terminal's settings are saved before the first prompt and put
        back by L{terminal.LineEditor.stop}, which also ends reading.
        """
        editor = self.makeEditor(["PING"])
        self.read(editor)
        self.assertEqual(self.termios.set, [])
        editor.stop()
        self.assertEqual(self.termios.set, [(7, 1, ["settings of", 7])])
        self.assertIsNone(self.successResultOf(editor.readLine("p> ")))

    def test_complete(self):
        """
        The completer hands readline the candidates one by one, then
        L{None}.
        """
        editor = self.makeEditor([])
        editor.setCommands(["GET", "GETSET", "SET"])
        self.readline.buffer = "ge"
        self.assertEqual([editor._complete("ge", i) for i in range(3)],
                         ["get", "getset", None])
        self.readline.buffer = "HELP s"
        self.readline.begidx = 5
        self.assertEqual(editor._complete("s", 0), "set")

    def test_completePyrepl(self):
        """
        With PyPy's pyrepl, whose C{get_begidx} raises and whose line buffer
        is bytes, the word being completed is taken to end the line.
        """
        editor = self.makeEditor([], brokenBegidx=True, bytesBuffer=True)
        editor.setCommands(["GET", "SET"])
        self.readline.buffer = "HELP s"
        self.assertEqual(editor._complete("s", 0), "set")
        self.readline.buffer = "GET s"
        self.assertIsNone(editor._complete("s", 0))

    def test_daemonThread(self):
        """
        Input is read in a daemon thread, never the caller's.
        """
        seen = []

        editor = self.makeEditor([])

        def recordingInput(prompt):
            seen.append(threading.current_thread())
            return "PING"

        editor._input = recordingInput
        self.read(editor)
        self.assertEqual(len(seen), 1)
        self.assertIsNot(seen[0], threading.current_thread())
        self.assertTrue(seen[0].daemon)
