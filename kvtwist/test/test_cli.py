"""
Tests for L{kvtwist.cli}: C{kvtwist-cli}'s modes, output and exit status,
driven without sockets through an injected connect function, a scripted
stdin and L{StringIO} output.
"""

import os
import queue
from io import StringIO

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import (StringTransport,
                                      StringTransportWithDisconnection)
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from kvtwist import cli, terminal
from kvtwist.client import CouldNotConnect, KVClient, KVClientProtocol


class FakeReader:
    """
    Scripted stdin: lines given up front are returned at once, then each
    L{readLine} waits for L{type}.

    @ivar stopped: whether L{stop} was called.
    """

    def __init__(self, lines=()):
        self.lines = list(lines)
        self.waiting = None
        self.stopped = False
        self.reads = 0

    def readLine(self):
        """
        The next scripted line, at once if given up front.
        """
        self.reads += 1
        if self.lines:
            return succeed(self.lines.pop(0))
        self.waiting = Deferred()
        return self.waiting

    def type(self, line):
        """
        Deliver one line (or L{None} for end of input) to the waiting read.
        """
        d, self.waiting = self.waiting, None
        d.callback(line)

    def stop(self):
        """
        Record that the CLI is done reading.
        """
        self.stopped = True


class FakeConnect:
    """
    Stands in for L{kvtwist.client.connect}: records its arguments and
    hands back a L{KVClient} over a string transport.

    @ivar calls: the keyword arguments of each call.
    @ivar proto: the L{KVClientProtocol} of the last connection.
    @ivar transport: its transport.
    """

    def __init__(self, failure=None, pending=False, closes=True,
                 authWarning=None):
        self.failure = failure
        self.pending = pending
        self.closes = closes
        self.authWarning = authWarning
        self.calls = []
        self.proto = None
        self.transport = None
        self.deferred = None
        self.cancelled = 0

    def __call__(self, reactor, host, port, tls=False, cacert=None,
                 password=None):
        """
        Record the arguments; fail, wait, or connect as configured.
        """
        self.calls.append(dict(host=host, port=port, tls=tls, cacert=cacert,
                               password=password))
        if self.failure is not None:
            return fail(self.failure)
        if self.pending:
            self.deferred = Deferred(lambda d: setattr(
                self, "cancelled", self.cancelled + 1))
            return self.deferred
        self.proto = KVClientProtocol()
        if self.closes:
            self.transport = StringTransportWithDisconnection()
            self.transport.protocol = self.proto
        else:
            self.transport = StringTransport()
        self.proto.makeConnection(self.transport)
        kv = KVClient(self.proto)
        kv.authWarning = self.authWarning
        return succeed(kv)

    def reply(self, data: bytes):
        """
        Feed the client bytes from the server.
        """
        self.proto.dataReceived(data)

    def serverCloses(self):
        """
        The server closes the connection.
        """
        self.transport.connected = False
        self.proto.connectionLost(Failure(ConnectionDone()))


class CLITestCase(SynchronousTestCase):
    """
    Builds a L{cli.CommandLineClient} with fakes.
    """

    def makeCli(self, lines=None, interactive=False, environ=None, **kw):
        """
        @return: the client, with C{out}, C{err}, C{reader}, C{connect} and
            C{clock} attributes attached for the test.
        """
        self.out = StringIO()
        self.err = StringIO()
        self.clock = Clock()
        self.reader = FakeReader(lines or ())
        self.connect = FakeConnect(**kw)
        return cli.CommandLineClient(
            self.clock, self.out, self.err, environ=environ or {},
            connect=self.connect, reader=self.reader,
            interactive=interactive)


class ArgvTests(SynchronousTestCase):
    """
    Tests for L{cli.commandLineFromArgv} and L{cli.buildParser}.
    """

    def test_setJoinsValueWords(self):
        """
        The words after SET's key are the value, joined by single spaces,
        as the text protocol takes the rest of the line.
        """
        self.assertEqual(
            cli.commandLineFromArgv(["SET", "a", "hello", "world"]),
            b'SET a "hello world"')
        self.assertEqual(cli.commandLineFromArgv(["set", "a", "b"]),
                         b"set a b")

    def test_wordsQuoted(self):
        """
        Words holding spaces or quotes are quoted.
        """
        self.assertEqual(cli.commandLineFromArgv(["GET", "my key"]),
                         b'GET "my key"')
        self.assertEqual(
            cli.commandLineFromArgv(["SET", "k", "it's", '"so"']),
            b'SET k "it\'s \\"so\\""')

    def test_defaults(self):
        """
        The host defaults to localhost, the port to 3490.
        """
        options = cli.buildParser().parse_args([])
        self.assertEqual((options.host, options.port, options.tls,
                          options.command), ("localhost", 3490, False, []))

    def test_commandAfterOptions(self):
        """
        Everything after the first command word belongs to the command,
        even words that look like options.
        """
        options = cli.buildParser().parse_args(
            ["--port", "3499", "SET", "a", "--port"])
        self.assertEqual((options.port, options.command),
                         (3499, ["SET", "a", "--port"]))

    def test_badPort(self):
        """
        A port that isn't a port number is a usage error.
        """
        parser = cli.buildParser()
        for bad in ("x", "0", "70000"):
            self.assertRaises(cli.UsageError, parser.parse_args,
                              ["--port", bad])


class OneCommandTests(CLITestCase):
    """
    C{kvtwist-cli COMMAND ARGS...}.
    """

    def test_command(self):
        """
        The command is sent, its reply printed, the connection closed, and
        the exit status is 0.
        """
        c = self.makeCli()
        done = c.run(["GET", "a"])
        self.assertEqual(self.connect.transport.value(), b"GET a\r\n")
        self.assertNoResult(done)
        self.connect.reply(b"hello world\r\n")
        self.assertEqual(self.successResultOf(done), 0)
        self.assertEqual(self.out.getvalue(), "hello world\n")
        self.assertEqual(self.err.getvalue(), "")
        self.assertFalse(self.connect.transport.connected)
        self.assertEqual(self.connect.calls, [dict(
            host="localhost", port=3490, tls=False, cacert=None,
            password=None)])

    def test_block(self):
        """
        A block reply is printed one line each.
        """
        c = self.makeCli()
        done = c.run(["PRINT"])
        self.connect.reply(b"a: 1\r\n..b: 2\r\n.\r\n")
        self.assertEqual(self.successResultOf(done), 0)
        self.assertEqual(self.out.getvalue(), "a: 1\n.b: 2\n")

    def test_errorReply(self):
        """
        An error reply is printed and the exit status is 1.
        """
        c = self.makeCli()
        done = c.run(["NOSUCH"])
        self.connect.reply(b"ERR unknown command 'NOSUCH'\r\n")
        self.assertEqual(self.successResultOf(done), 1)
        self.assertEqual(self.out.getvalue(), "ERR unknown command 'NOSUCH'\n")

    def test_quit(self):
        """
        C{quit} prints the goodbye; the server's close is no error.
        """
        c = self.makeCli()
        done = c.run(["quit"])
        self.connect.reply(b"Goodbye!\r\n")
        self.connect.serverCloses()
        self.assertEqual(self.successResultOf(done), 0)
        self.assertEqual(self.out.getvalue(), "Goodbye!\n")
        self.assertEqual(self.err.getvalue(), "")

    def test_serverGoesAway(self):
        """
        A connection lost before the reply is reported; exit status 2.
        """
        c = self.makeCli()
        done = c.run(["GET", "a"])
        self.connect.serverCloses()
        self.assertEqual(self.successResultOf(done), 2)
        self.assertEqual(self.err.getvalue(), "Connection closed by server\n")

    def test_couldNotConnect(self):
        """
        A connection failure prints C{Could not connect to HOST:PORT: WHY}
        on stderr; exit status 2.
        """
        c = self.makeCli(failure=Failure(CouldNotConnect(
            "localhost", 3490, "Connection refused")))
        self.assertEqual(self.successResultOf(c.run(["GET", "a"])), 2)
        self.assertEqual(self.err.getvalue(), "Could not connect to "
                         "localhost:3490: Connection refused\n")
        self.assertEqual(self.out.getvalue(), "")

    def test_rawConnectFailure(self):
        """
        A failure from a connect function that doesn't describe it is
        described by the CLI.
        """
        c = self.makeCli(failure=Failure(ConnectionRefusedError()))
        self.assertEqual(self.successResultOf(
            c.run(["--host", "db", "--port", "4000", "PING"])), 2)
        self.assertEqual(self.err.getvalue(),
                         "Could not connect to db:4000: Connection refused\n")

    def test_usageError(self):
        """
        Bad arguments print the usage and an error; exit status 2.
        """
        c = self.makeCli()
        self.assertEqual(self.successResultOf(c.run(["--port", "x"])), 2)
        self.assertIn("usage: kvtwist-cli", self.err.getvalue())
        self.assertIn("not a port number: 'x'", self.err.getvalue())
        self.assertEqual(self.connect.calls, [])

    def test_passwordFromEnvironment(self):
        """
        The password comes from C{KVTWIST_PASSWORD}; C{--password} wins.
        """
        c = self.makeCli(environ={"KVTWIST_PASSWORD": "s3cret"})
        c.run(["PING"])
        self.assertEqual(self.connect.calls[0]["password"], "s3cret")
        c = self.makeCli(environ={"KVTWIST_PASSWORD": "s3cret"})
        c.run(["--password", "other", "PING"])
        self.assertEqual(self.connect.calls[0]["password"], "other")

    def test_tlsOptions(self):
        """
        C{--tls} asks for TLS; C{--cacert} implies it.
        """
        c = self.makeCli()
        c.run(["--tls", "PING"])
        self.assertEqual(self.connect.calls[0]["tls"], True)
        c = self.makeCli()
        c.run(["--cacert", "ca.pem", "PING"])
        self.assertEqual((self.connect.calls[0]["tls"],
                          self.connect.calls[0]["cacert"]), (True, "ca.pem"))

    def test_authWarning(self):
        """
        A password the server doesn't need gives a warning on stderr, and
        the command still runs.
        """
        c = self.makeCli(authWarning="ERR AUTH <password> called without "
                         "any password configured")
        done = c.run(["--password", "pw", "GET", "a"])
        self.assertEqual(self.err.getvalue(), "Warning: AUTH failed: ERR "
                         "AUTH <password> called without any password "
                         "configured\n")
        self.connect.reply(b"v\r\n")
        self.assertEqual(self.successResultOf(done), 0)

    def test_closeTimesOut(self):
        """
        A connection that doesn't close in time is dropped, and the run
        still ends.
        """
        c = self.makeCli(closes=False)
        done = c.run(["GET", "a"])
        self.connect.reply(b"v\r\n")
        self.assertNoResult(done)
        self.clock.advance(cli.CLOSE_TIMEOUT)
        self.assertEqual(self.successResultOf(done), 0)
        self.assertTrue(self.connect.transport.disconnected)

    def test_interruptWhileConnecting(self):
        """
        Ctrl+C while connecting cancels the attempt; exit status 130.
        """
        c = self.makeCli(pending=True)
        done = c.run(["GET", "a"])
        c.interrupt()
        self.assertEqual(self.successResultOf(done), 130)
        self.assertEqual(self.connect.cancelled, 1)
        self.assertEqual(self.err.getvalue(), "")

    def test_interruptWaitingForReply(self):
        """
        Ctrl+C while waiting for a reply closes the connection; exit status
        130, no error message.
        """
        c = self.makeCli()
        done = c.run(["GET", "a"])
        c.interrupt()
        self.assertEqual(self.successResultOf(done), 130)
        self.assertFalse(self.connect.transport.connected)
        self.assertEqual(self.err.getvalue(), "")

    def test_brokenPipe(self):
        """
        If stdout's reader has gone, the run ends with status 1.
        """
        class Closed(StringIO):
            def write(self, data):
                """
                The reader has gone.
                """
                raise BrokenPipeError()

        c = self.makeCli()
        c._out = Closed()
        done = c.run(["GET", "a"])
        self.connect.reply(b"v\r\n")
        self.assertEqual(self.successResultOf(done), 1)


class BatchTests(CLITestCase):
    """
    C{kvtwist-cli < commands}.
    """

    def test_batch(self):
        """
        Every non-blank line is sent as typed, pipelined; the replies are
        printed in order; end of input ends the run with status 0.
        """
        c = self.makeCli([b"SET a 1", b"", b"GET a", b"PRINT", None])
        done = c.run([])
        self.assertEqual(self.connect.transport.value(),
                         b"SET a 1\r\nGET a\r\nPRINT\r\n")
        self.assertNoResult(done)
        self.connect.reply(b"Added key 'a' with value '1'\r\n1\r\n")
        self.assertNoResult(done)
        self.connect.reply(b"a: 1\r\n.\r\n")
        self.assertEqual(self.successResultOf(done), 0)
        self.assertEqual(self.out.getvalue(),
                         "Added key 'a' with value '1'\n1\na: 1\n")
        self.assertFalse(self.connect.transport.connected)
        self.assertNotIn("Connected", self.out.getvalue())

    def test_errorsDontChangeStatus(self):
        """
        In batch mode error replies are printed and the status is still 0.
        """
        c = self.makeCli([b"NOSUCH", None])
        done = c.run([])
        self.connect.reply(b"ERR unknown command 'NOSUCH'\r\n")
        self.assertEqual(self.successResultOf(done), 0)
        self.assertEqual(self.out.getvalue(), "ERR unknown command 'NOSUCH'\n")

    def test_window(self):
        """
        At most L{cli.BATCH_WINDOW} requests await replies at once.
        """
        self.patch(cli, "BATCH_WINDOW", 2)
        c = self.makeCli([b"GET a", b"GET b", b"GET c", None])
        done = c.run([])
        self.assertEqual(self.connect.transport.value(),
                         b"GET a\r\nGET b\r\n")
        self.connect.reply(b"1\r\n")
        self.assertEqual(self.connect.transport.value(),
                         b"GET a\r\nGET b\r\nGET c\r\n")
        self.connect.reply(b"2\r\n3\r\n")
        self.assertEqual(self.successResultOf(done), 0)
        self.assertEqual(self.out.getvalue(), "1\n2\n3\n")

    def test_quitEndsBatch(self):
        """
        A C{quit} line is the last one sent; the server's close is no
        error.
        """
        c = self.makeCli([b"GET a", b"quit", b"GET b", None])
        done = c.run([])
        self.assertEqual(self.connect.transport.value(),
                         b"GET a\r\nquit\r\n")
        self.connect.reply(b"1\r\nGoodbye!\r\n")
        self.connect.serverCloses()
        self.assertEqual(self.successResultOf(done), 0)
        self.assertEqual(self.out.getvalue(), "1\nGoodbye!\n")
        self.assertEqual(self.err.getvalue(), "")

    def test_refusedLine(self):
        """
        A line the client can't send is reported on stderr and skipped.
        """
        c = self.makeCli([b"*1", b"GET a", None])
        done = c.run([])
        self.assertEqual(self.connect.transport.value(), b"GET a\r\n")
        self.connect.reply(b"1\r\n")
        self.assertEqual(self.successResultOf(done), 0)
        self.assertIn("Error: lines starting with '*' are RESP requests",
                      self.err.getvalue())

    def test_serverGoesAway(self):
        """
        If the server goes away mid-batch, that is reported; status 2.
        """
        c = self.makeCli([b"GET a", b"GET b", None])
        done = c.run([])
        self.connect.reply(b"1\r\n")
        self.connect.serverCloses()
        self.assertEqual(self.successResultOf(done), 2)
        self.assertEqual(self.out.getvalue(), "1\n")
        self.assertEqual(self.err.getvalue(), "Connection closed by server\n")


PROMPT = cli.promptFor("localhost:3499")


class InteractiveTests(CLITestCase):
    """
    C{kvtwist-cli} on a terminal.
    """

    def start(self):
        """
        Start an interactive session and return its L{Deferred}.
        """
        c = self.makeCli(interactive=True)
        self.cli = c
        return c.run(["--port", "3499"])

    def test_session(self):
        """
        The greeting names the host and port; each command follows a prompt
        and its reply is printed; C{quit} says goodbye and exits 0.
        """
        done = self.start()
        prompt = PROMPT
        self.assertEqual(prompt, "localhost:3499> ")
        self.assertEqual(self.out.getvalue(),
                         "Connected to server at localhost:3499\n"
                         + cli.HINT + "\n" + prompt)
        self.reader.type(b"SET a hello world")
        self.assertEqual(self.connect.transport.value(),
                         b"SET a hello world\r\n")
        self.assertIsNone(self.reader.waiting)
        self.connect.reply(b"Added key 'a' with value 'hello world'\r\n")
        self.reader.type(b"PRINT")
        self.connect.reply(b"a: hello world\r\n.\r\n")
        self.reader.type(b"quit")
        self.assertEqual(self.connect.transport.value(),
                         b"SET a hello world\r\nPRINT\r\nQUIT\r\n")
        self.assertNoResult(done)
        self.connect.reply(b"Goodbye!\r\n")
        self.connect.serverCloses()
        self.assertEqual(self.successResultOf(done), 0)
        self.assertEqual(self.out.getvalue(), (
            "Connected to server at localhost:3499\n" + cli.HINT + "\n"
            + prompt + "Added key 'a' with value 'hello world'\n"
            + prompt + "a: hello world\n"
            + prompt + "Exiting client.\nConnection closed.\n"))
        self.assertEqual(self.err.getvalue(), "")

    def test_blankAndEmpty(self):
        """
        A blank line just prompts again; an empty block prints
        C{(empty)}.
        """
        done = self.start()
        self.reader.type(b"  ")
        self.reader.type(b"KEYS nothing*")
        self.connect.reply(b".\r\n")
        self.assertEqual(self.out.getvalue().split("\n")[2:], [
            PROMPT + PROMPT + "(empty)", PROMPT])
        self.assertNoResult(done)

    def test_endOfInput(self):
        """
        Ctrl+D quits like C{quit}, after ending the prompt's line.
        """
        done = self.start()
        self.reader.type(None)
        self.connect.reply(b"Goodbye!\r\n")
        self.connect.serverCloses()
        self.assertEqual(self.successResultOf(done), 0)
        self.assertTrue(self.out.getvalue().endswith(
            PROMPT + "\nExiting client.\nConnection closed.\n"))

    def test_interrupt(self):
        """
        Ctrl+C at the prompt ends the line, says goodbye, closes the
        connection and exits 130.
        """
        done = self.start()
        self.cli.interrupt()
        self.assertEqual(self.successResultOf(done), 130)
        self.assertTrue(self.out.getvalue().endswith(
            PROMPT + "\nExiting client.\nConnection closed.\n"))
        self.assertFalse(self.connect.transport.connected)
        self.assertEqual(self.err.getvalue(), "")
        self.assertTrue(self.reader.stopped)

    def test_interruptWaitingForReply(self):
        """
        Ctrl+C while a reply is awaited ends the session the same way.
        """
        done = self.start()
        self.reader.type(b"GET a")
        self.cli.interrupt()
        self.assertEqual(self.successResultOf(done), 130)
        self.assertTrue(self.out.getvalue().endswith(
            "Exiting client.\nConnection closed.\n"))
        self.assertEqual(self.err.getvalue(), "")

    def test_serverGoesAwayAtPrompt(self):
        """
        If the server goes away while the user is at the prompt, the prompt
        line is ended, the loss reported, and the status is 2.
        """
        done = self.start()
        self.connect.reply(b"-ERR server shutting down\r\n")
        self.connect.serverCloses()
        self.assertEqual(self.successResultOf(done), 2)
        self.assertTrue(self.out.getvalue().endswith(PROMPT + "\n"))
        self.assertEqual(self.err.getvalue(), "Connection closed by server: "
                         "-ERR server shutting down\n")

    def test_serverGoesAwayDuringCommand(self):
        """
        If the server goes away before a reply, the loss is reported and
        the status is 2.
        """
        done = self.start()
        self.reader.type(b"GET a")
        self.connect.serverCloses()
        self.assertEqual(self.successResultOf(done), 2)
        self.assertEqual(self.err.getvalue(), "Connection closed by server\n")

    def test_refusedLine(self):
        """
        A line the client can't send is reported and the prompt returns.
        """
        done = self.start()
        self.reader.type(b"*1")
        self.assertIn("Error: lines starting with '*'", self.err.getvalue())
        self.assertTrue(self.out.getvalue().endswith(PROMPT))
        self.assertEqual(self.connect.transport.value(), b"")
        self.assertNoResult(done)


class FakeEditor(FakeReader):
    """
    Scripted input that shows its own prompt and completes command names,
    as L{kvtwist.terminal.LineEditor} does.

    @ivar prompts: the prompts it was given.
    @ivar commands: the names given to L{setCommands}, or L{None}.
    """

    showsPrompt = True

    def __init__(self, lines=()):
        FakeReader.__init__(self, lines)
        self.prompts = []
        self.commands = None

    def readLine(self, prompt=None):
        """
        Record the prompt, then read as L{FakeReader} does.
        """
        self.prompts.append(prompt)
        return FakeReader.readLine(self)

    def setCommands(self, names):
        """
        Record the names.
        """
        self.commands = list(names)


class InteractiveEditorTests(CLITestCase):
    """
    C{kvtwist-cli} on a terminal with line editing: the reader shows the
    prompt, and learns the server's command names for Tab completion.
    """

    def start(self, password=None):
        """
        Start an interactive session over a L{FakeEditor}.
        """
        c = self.cli = self.makeCli(interactive=True)
        self.reader = c._reader = FakeEditor()
        argv = ["--port", "3499"]
        if password:
            argv += ["--password", password]
        return c.run(argv)

    def test_promptAndCommands(self):
        """
        The prompt goes to the reader, not to stdout; C{COMMAND LIST} is
        asked for before the first command, and its names, with the text
        protocol's own words, are given to the reader.
        """
        done = self.start()
        self.assertEqual(self.reader.prompts, [PROMPT])
        self.assertEqual(self.out.getvalue(),
                         "Connected to server at localhost:3499\n"
                         + cli.HINT + "\n")
        self.assertEqual(self.connect.transport.value(),
                         b"COMMAND LIST\r\n")
        self.connect.reply(b"get\r\nset\r\n.\r\n")
        self.assertEqual(sorted(self.reader.commands),
                         ["DELETE", "EXIT", "REMOVE", "get", "set"])
        self.reader.type(b"GET a")
        self.connect.reply(b"1\r\n")
        self.assertEqual(self.out.getvalue().split("\n")[2:], ["1", ""])
        self.assertEqual(self.reader.prompts, [PROMPT, PROMPT])
        self.assertNoResult(done)

    def test_commandsAfterAuth(self):
        """
        A server that wants a password refuses C{COMMAND LIST}; the names
        are asked for again once C{AUTH} has succeeded, and only then.
        """
        self.start()
        self.connect.reply(b"NOAUTH Authentication required.\r\n.\r\n")
        self.assertIsNone(self.reader.commands)
        self.reader.type(b"GET a")
        self.connect.reply(b"NOAUTH Authentication required.\r\n")
        self.reader.type(b"AUTH wrong")
        self.connect.reply(b"WRONGPASS invalid username-password pair\r\n")
        self.reader.type(b"AUTH right")
        self.connect.reply(b"OK\r\n")
        self.assertEqual(self.connect.transport.value(), b"".join([
            b"COMMAND LIST\r\n", b"GET a\r\n", b"AUTH wrong\r\n",
            b"AUTH right\r\n", b"COMMAND LIST\r\n"]))
        self.connect.reply(b"ping\r\n.\r\n")
        self.assertIn("ping", self.reader.commands)
        self.assertEqual(self.out.getvalue().split("\n")[-2], "OK")

    def test_escapeSequenceRefused(self):
        """
        A line holding an escape sequence (an arrow key on a terminal
        without line editing sends C{ESC [ A}) is not sent; the prompt
        returns.
        """
        done = self.start()
        self.connect.reply(b".\r\n")
        self.connect.transport.clear()
        self.reader.type(b"GET a\x1b[A")
        self.assertEqual(self.connect.transport.value(), b"")
        self.assertIn("escape sequence", self.err.getvalue())
        self.assertEqual(self.reader.prompts, [PROMPT, PROMPT])
        self.assertNoResult(done)


    def test_lineEndedByCtrlC(self):
        """
        A line that Ctrl+C ended (PyPy's line editor gives it, then the
        signal comes) asks for no other line: the goodbye lines follow
        each other, with no prompt between them.
        """
        done = self.start()
        self.connect.reply(b".\r\n")
        self.reader.type(terminal.INTERRUPTED)
        self.cli.interrupt()
        self.assertEqual(self.successResultOf(done), 130)
        self.assertEqual(self.reader.prompts, [PROMPT])
        self.assertTrue(self.out.getvalue().endswith(
            "Exiting client.\nConnection closed.\n"))
        self.assertEqual(self.connect.transport.value(), b"COMMAND LIST\r\n")


class PromptingReaderTests(SynchronousTestCase):
    """
    Tests for L{cli.PromptingReader}, the interactive reader without line
    editing.
    """

    def test_prompt(self):
        """
        It writes the prompt, then reads a line; C{stop} stops the reader.
        """
        written = []
        reader = FakeReader([b"GET a"])
        prompting = cli.PromptingReader(reader, written.append)
        self.assertEqual(self.successResultOf(prompting.readLine("p> ")),
                         b"GET a")
        self.assertEqual(written, ["p> "])
        prompting.stop()
        self.assertTrue(reader.stopped)


class StdinReaderTests(SynchronousTestCase):
    """
    Tests for L{cli.StdinReader}, reading a pipe in its thread.
    """

    def setUp(self):
        """
        A reader on a pipe, whose deliveries are queued for the test thread.
        """
        self.calls = queue.Queue()
        calls = self.calls

        class Reactor:
            def callFromThread(self, f, *args):
                """
                Queue the call for the test thread.
                """
                calls.put((f, args))

        self.readFd, self.writeFd = os.pipe()
        self.addCleanup(os.close, self.readFd)
        self.reader = cli.StdinReader(Reactor(), self.readFd)

    def readAll(self, afterFirstRead=None):
        """
        Read lines until the end of input, running the reader's deliveries
        in this thread.

        @param afterFirstRead: called once the first read is requested.
        """
        got = []
        while not got or got[-1] is not None:
            d = self.reader.readLine()
            d.addCallback(got.append)
            if afterFirstRead is not None:
                afterFirstRead()
                afterFirstRead = None
            while not d.called:
                f, args = self.calls.get(timeout=10)
                f(*args)
        return got

    def test_lines(self):
        """
        Lines come without CR LF or LF; an empty line counts; a last line
        without a line end counts; then L{None}, and L{None} again.
        """
        os.write(self.writeFd, b"SET a 1\r\nGET a\n\nlast")
        os.close(self.writeFd)
        self.assertEqual(self.readAll(),
                         [b"SET a 1", b"GET a", b"", b"last", None])
        self.assertIsNone(self.successResultOf(self.reader.readLine()))

    def test_lineInPieces(self):
        """
        A line that arrives in pieces is delivered whole.
        """
        os.write(self.writeFd, b"par")

        def rest():
            os.write(self.writeFd, b"tial\nnext\n")
            os.close(self.writeFd)

        self.assertEqual(self.readAll(rest), [b"partial", b"next", None])
