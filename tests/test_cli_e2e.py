"""
End-to-end tests of C{kvtwist-cli} against a real C{twistd -n kvstore}: one
command, batch mode from stdin, a connection failure, and interactive mode
on a pseudo-terminal (the prompt, quit, Ctrl+D, Ctrl+C and a server that
goes away) and in tmux (line editing: the history across sessions, the Up
arrow, Tab completion).  Also the Twisted client API
(L{kvtwist.client.connect}) under pytest-twisted.
"""

import errno
import fcntl
import functools
import os
import re
import select
import signal
import subprocess
import termios
import time

import pytest
import pytest_twisted

from tests.harness import HOST, IO_TIMEOUT, cliCommand, closedPort
from tests.tmux import TmuxTerminal


def promptOf(server):
    """
    The interactive prompt of a CLI connected to C{server}.
    """
    return "%s:%d> " % (HOST, server.port)


#: What readline writes to move the cursor and switch terminal modes
#: (CSI sequences, bells), left out of what the pty tests compare; first
#: a cursor up and a line feed, which cancel out (pyrepl's way to start a
#: prompt on a fresh line).
_CONTROL = re.compile(r"\x1b\[1A\r?\n|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[=>]|"
                      r"\x07|\r")


def runCli(server, *args, stdin=b"", port=None, timeout=20):
    """
    Run C{kvtwist-cli --host 127.0.0.1 --port PORT ARGS} to completion with
    C{stdin} piped in (so not a terminal).
    """
    port = server.port if port is None else port
    return subprocess.run(
        cliCommand() + ["--host", HOST, "--port", str(port)] + list(args),
        input=stdin, capture_output=True, timeout=timeout)


# -- one command ----------------------------------------------------------


def test_oneCommand(server):
    """
    With a command on the command line, the CLI sends it, prints the reply
    and exits 0; SET's value is the rest of the words.
    """
    result = runCli(server, "SET", "greeting", "hello", "world")
    assert (result.returncode, result.stdout, result.stderr) == (
        0, b"Added key 'greeting' with value 'hello world'\n", b"")
    result = runCli(server, "GET", "greeting")
    assert (result.returncode, result.stdout) == (0, b"hello world\n")
    result = runCli(server, "GET", "nosuch")
    assert (result.returncode, result.stdout) == (
        0, b"Key 'nosuch' not found.\n")
    result = runCli(server, "KEYS", "*")
    assert (result.returncode, result.stdout) == (0, b"greeting\n")
    result = runCli(server, "REMOVE", "greeting")
    assert (result.returncode, result.stdout) == (
        0, b"Removed key 'greeting'.\n")


def test_oneCommandQuotedWords(server):
    """
    A key with a space, given as one argument, reaches the server as one
    word.
    """
    result = runCli(server, "SET", "my key", "v")
    assert result.returncode == 0, result.stderr
    with server.textClient() as c:
        assert c.command('GET "my key"') == "v"
    result = runCli(server, "GET", "my key")
    assert (result.returncode, result.stdout) == (0, b"v\n")


def test_oneCommandErrorReply(server):
    """
    An error reply is printed and the exit status is 1.
    """
    result = runCli(server, "FROBNICATE", "x")
    assert result.returncode == 1
    assert result.stdout.startswith(b"ERR unknown command 'FROBNICATE'")


def test_connectionFailure(tmp_path):
    """
    With nothing listening, the CLI says it could not connect, naming the
    address and the reason, and exits non-zero.
    """
    with closedPort() as port:
        result = subprocess.run(
            cliCommand() + ["--host", HOST, "--port", str(port), "PING"],
            capture_output=True, timeout=30, cwd=str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode().strip() == \
        "Could not connect to %s:%d: Connection refused" % (HOST, port)


def test_usageError(server):
    """
    A bad option is a usage error: exit status 2 and a message on stderr.
    """
    result = runCli(server, "--port", "notaport", port=server.port)
    assert result.returncode == 2
    assert b"not a port number" in result.stderr


# -- batch ----------------------------------------------------------------


def test_batchFromStdin(server):
    """
    With no command and stdin not a terminal, each line of stdin is run as
    a command and the replies are printed in order; blocks print their
    lines; the exit status is 0 even when a reply is an error.
    """
    script = b"\n".join([
        b"SET a first value",
        b"SET a second",
        b"GET a",
        b"NOSUCHCOMMAND",
        b"",
        b"RPUSH l x y",
        b"LRANGE l 0 -1",
        b"PRINT",
        b"REMOVE a",
    ]) + b"\n"
    result = runCli(server, stdin=script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "Added key 'a' with value 'first value'"
    assert lines[1] == "Updated key 'a' with value 'second'"
    assert lines[2] == "second"
    assert lines[3].startswith("ERR unknown command 'NOSUCHCOMMAND'")
    assert lines[4:7] == ["2", "x", "y"]
    assert sorted(lines[7:9]) == ["a: second", "l: ['x', 'y']"]
    assert lines[9:] == ["Removed key 'a'."]


def test_batchManyLines(server):
    """
    A batch of thousands of lines is pipelined and every reply printed in
    order.
    """
    n = 3000
    script = "".join("SET k%d v%d\n" % (i, i) for i in range(n)) + \
        "".join("GET k%d\n" % (i,) for i in range(n))
    result = runCli(server, stdin=script.encode())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[:n] == ["Added key 'k%d' with value 'v%d'" % (i, i)
                         for i in range(n)]
    assert lines[n:] == ["v%d" % (i,) for i in range(n)]


def test_batchQuitStops(server):
    """
    A quit line ends the batch: lines after it are not run.
    """
    result = runCli(server, stdin=b"SET a 1\nquit\nSET b 2\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == [
        "Added key 'a' with value '1'", "Goodbye!"]
    with server.textClient() as c:
        assert c.command("GET b") == "Key 'b' not found."


# -- interactive, on a pseudo-terminal -------------------------------------


class Terminal:
    """
    C{kvtwist-cli} running on a pseudo-terminal, as a person runs it: the
    terminal is its controlling terminal, so Ctrl+C (C{\\x03}) and Ctrl+D
    (C{\\x04}) typed on it work as they do for a person.
    """

    def __init__(self, argv, env=None):
        self.master, slave = os.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[3] |= termios.ISIG | termios.ICANON
        termios.tcsetattr(slave, termios.TCSANOW, attrs)

        def becomeControllingTerminal():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env,
            start_new_session=True, preexec_fn=becomeControllingTerminal)
        os.close(slave)
        self._raw = ""
        self._consumed = 0

    @property
    def output(self) -> str:
        """
        What the terminal showed since the last L{expect}, without the
        cursor movements and mode switches (see C{_CONTROL}).
        """
        return _CONTROL.sub("", self._raw)[self._consumed:]

    def _append(self, data: bytes):
        self._raw += data.decode("utf-8", "replace")

    def type(self, text):
        """
        Type C{text} on the terminal.
        """
        os.write(self.master, text.encode())

    def expect(self, text, timeout=IO_TIMEOUT):
        """
        Read the terminal until C{text} has appeared since the last
        C{expect}; return everything read up to and including it.
        """
        deadline = time.monotonic() + timeout
        while text not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("%r not seen; terminal showed %r"
                                     % (text, self.output))
            ready, _, _ = select.select([self.master], [], [], remaining)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                raise AssertionError("terminal closed before %r; it showed "
                                     "%r" % (text, self.output))
            self._append(data)
        output = self.output
        end = output.index(text) + len(text)
        self._consumed += end
        return output[:end]

    def wait(self, timeout=IO_TIMEOUT):
        """
        Wait for the CLI to exit, reading what it still prints; return its
        exit status.
        """
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError("kvtwist-cli did not exit; terminal "
                                     "showed %r" % (self.output,))
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    data = b""
                self._append(data)
        # What it printed just before exiting may still wait in the pty.
        while select.select([self.master], [], [], 0.2)[0]:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                break
            if not data:
                break
            self._append(data)
        return self.process.returncode

    def close(self):
        """
        Kill the CLI if it still runs and close the terminal.
        """
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(IO_TIMEOUT)
        os.close(self.master)


@pytest.fixture
def terminal(server, tmp_path):
    """
    An interactive C{kvtwist-cli} on a pseudo-terminal, connected to
    C{server}, keeping its history in C{tmp_path}.
    """
    env = dict(os.environ, KVTWIST_HISTFILE=str(tmp_path / "history"))
    term = Terminal(cliCommand() + ["--host", HOST, "--port",
                                    str(server.port)], env)
    yield term
    term.close()


def test_interactiveSession(server, terminal):
    """
    Interactive mode: it says where it connected, prompts before each
    command, prints each reply, and on quit says goodbye and exits 0.
    """
    PROMPT = promptOf(server)
    terminal.expect("Connected to server at %s:%d\n" % (HOST, server.port))
    terminal.expect(PROMPT)
    terminal.type("SET greeting hello  world\n")
    assert terminal.expect(PROMPT).endswith(
        "Added key 'greeting' with value 'hello  world'\n" + PROMPT)
    terminal.type("GET greeting\n")
    assert terminal.expect(PROMPT).endswith("hello  world\n" + PROMPT)
    terminal.type("KEYS nomatch*\n")
    assert terminal.expect(PROMPT).endswith("(empty)\n" + PROMPT)
    terminal.type("PRINT\n")
    assert terminal.expect(PROMPT).endswith(
        "greeting: hello  world\n" + PROMPT)
    terminal.type("quit\n")
    terminal.expect("Exiting client.\nConnection closed.\n")
    assert terminal.wait() == 0


def test_interactiveCtrlD(server, terminal):
    """
    Ctrl+D at the prompt leaves like quit.
    """
    terminal.expect(promptOf(server))
    terminal.type("\x04")
    terminal.expect("Exiting client.\nConnection closed.\n")
    assert terminal.wait() == 0


def test_interactiveCtrlC(server, terminal):
    """
    Ctrl+C at the prompt says goodbye and exits 130, as an interrupted
    program does.
    """
    terminal.expect(promptOf(server))
    terminal.type("\x03")
    terminal.expect("Exiting client.\nConnection closed.\n")
    assert terminal.wait() == 130


def test_interactiveServerGoesAway(server, terminal):
    """
    When the server goes away, the interactive client says so and exits
    with a failure status instead of hanging at the prompt.
    """
    terminal.expect(promptOf(server))
    terminal.type("SET k v\n")
    terminal.expect(promptOf(server))
    server.stop(signal.SIGTERM)
    code = terminal.wait()
    assert code == 2, terminal.output
    assert "closed" in terminal.output.lower() or \
        "lost" in terminal.output.lower(), terminal.output


# -- line editing, in tmux -------------------------------------------------


def cliInTmux(server, history):
    """
    An interactive C{kvtwist-cli} in tmux, connected to C{server}, keeping
    its history in the file C{history}, showing its first prompt.
    """
    term = TmuxTerminal(
        cliCommand() + ["--host", HOST, "--port", str(server.port)],
        env={"KVTWIST_HISTFILE": str(history)})
    term.waitFor("Connected to server at %s:%d" % (HOST, server.port))
    term.waitFor(promptOf(server))
    return term


def test_historyAcrossSessions(server, tmp_path):
    """
    Lines typed in one session are in the history file afterwards (a line
    with a password is not); in the next session the Up arrow brings them
    back, most recent first, to be edited and run again.  The server never
    sees the arrow key.
    """
    history = tmp_path / "history"
    prompt = promptOf(server)
    with cliInTmux(server, history) as term:
        term.keys("SET greeting hello", "Enter")
        term.waitFor("Added key 'greeting' with value 'hello'")
        term.keys("AUTH not-a-secret", "Enter")
        term.waitFor("ERR AUTH")
        term.keys("GET greeting", "Enter")
        term.waitFor("\nhello\n" + prompt)
        term.keys("quit", "Enter")
        term.waitFor("Connection closed.")
        assert term.exitStatus() == 0
    assert history.read_text() == "SET greeting hello\nGET greeting\nquit\n"
    assert history.stat().st_mode & 0o777 == 0o600

    with cliInTmux(server, history) as term:
        term.keys("Up")
        term.waitFor(prompt + "quit")
        term.keys("Up")
        term.waitFor(prompt + "GET greeting")
        term.keys("Up")
        term.waitFor(prompt + "SET greeting hello")
        term.keys(" world", "Enter")
        term.waitFor("Updated key 'greeting' with value 'hello world'")
        # Now the history is: SET, GET, quit, the edited SET.
        term.keys("Up", "Up", "Up", "Enter")
        term.waitFor("\nhello world\n" + prompt)
        term.keys("C-d")
        assert term.exitStatus() == 0
    with server.textClient() as c:
        assert c.command("GET greeting") == "hello world"
        clients = c.blockCommand("CLIENT LIST")
    assert "\\x1b" not in "".join(clients) and "\x1b" not in "".join(clients)


def test_upArrowWithoutHistory(server, tmp_path):
    """
    The Up arrow with nothing to recall does nothing: the line typed after
    it reaches the server as typed, not after an ESC [ A.
    """
    with cliInTmux(server, tmp_path / "history") as term:
        term.keys("Up", "Up", "PING", "Enter")
        term.waitFor("+PONG")
        assert "ERR" not in term.screen()


def test_tabCompletion(server, tmp_path):
    """
    Tab completes a command name from the server's command table, in the
    case it is typed; a second Tab lists the candidates; the word after
    HELP completes too.
    """
    prompt = promptOf(server)
    with cliInTmux(server, tmp_path / "history") as term:
        term.keys("PIN", "Tab")
        term.waitFor(prompt + "PING")
        term.keys("Enter")
        term.waitFor("+PONG")
        term.keys("flushd", "Tab", "Enter")
        term.waitFor("\nOK\n" + prompt)
        term.keys("ex", "Tab", "Tab")
        screen = term.waitFor("expire")
        assert "exists" in screen and "exit" in screen
        term.keys("C-u", "help rpu", "Tab")
        term.waitFor(prompt + "help rpush")
        term.keys("C-u", "quit", "Enter")
        assert term.exitStatus() == 0


# -- the Twisted API ------------------------------------------------------


def bounded(seconds=20):
    """
    Run a generator test as C{inlineCallbacks} under pytest-twisted, failing
    it with a timeout rather than hanging if a Deferred never fires.
    """
    def decorate(f):
        from twisted.internet import defer

        @pytest_twisted.inlineCallbacks
        @functools.wraps(f)
        def test(*args, **kwargs):
            from twisted.internet import reactor
            yield defer.inlineCallbacks(f)(*args, **kwargs).addTimeout(
                seconds, reactor)
        return test
    return decorate


@bounded()
def test_twistedClientApi(server):
    """
    L{kvtwist.client.connect} gives a client whose Deferred-returning
    methods reach the real server; values with spaces, quotes and line
    breaks are stored exactly; quit closes the connection.
    """
    from twisted.internet import reactor

    from kvtwist.client import connect

    client = yield connect(reactor, HOST, server.port)
    added = yield client.set("greeting", "hello  world")
    assert added == "Added key 'greeting' with value 'hello  world'"
    value = yield client.get("greeting")
    assert value == "hello  world"
    tricky = 'a "quoted"\tvalue \\ with \'quotes\''
    yield client.set("my key", tricky)
    value = yield client.get("my key")
    assert value == tricky
    # A line break is stored exactly (the text protocol shows it as \n).
    yield client.set("broken", "line\r\nbreak")
    r = server.redis(protocol=2)
    assert r.get("broken") == b"line\r\nbreak"
    r.close()
    yield client.delete("broken")
    missing = yield client.get("nosuch")
    assert missing is None
    keys = yield client.command("KEYS", "*")
    assert sorted(keys) == ["greeting", "my key"]
    existed = yield client.delete("greeting")
    assert existed is True
    existed = yield client.delete("greeting")
    assert existed is False
    goodbye = yield client.quit()
    assert goodbye == "Goodbye!"
    assert not client.connected


@bounded()
def test_twistedClientPipelining(server):
    """
    Many requests sent before any reply is read get their own replies, in
    order.
    """
    from twisted.internet import defer, reactor

    from kvtwist.client import connect

    client = yield connect(reactor, HOST, server.port)
    sets = [client.command("SET", "k%d" % (i,), "v%d" % (i,))
            for i in range(500)]
    gets = [client.get("k%d" % (i,)) for i in range(500)]
    results = yield defer.gatherResults(sets + gets)
    assert results[:500] == ["Added key 'k%d' with value 'v%d'" % (i, i)
                             for i in range(500)]
    assert results[500:] == ["v%d" % (i,) for i in range(500)]
    yield client.close()


@bounded()
def test_twistedClientConnectFailure(tmp_path):
    """
    Connecting to a port nothing listens on fails with CouldNotConnect
    naming the address.
    """
    from twisted.internet import reactor

    from kvtwist.client import CouldNotConnect, connect

    with closedPort() as port:
        with pytest.raises(CouldNotConnect) as e:
            yield connect(reactor, HOST, port)
    assert "%s:%d" % (HOST, port) in str(e.value)
