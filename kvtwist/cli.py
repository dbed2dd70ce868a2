# -*- test-case-name: kvtwist.test.test_cli -*-
"""
C{kvtwist-cli}: the command-line client.

    kvtwist-cli [--host H] [--port P] [--password PW] [--tls]
                [--cacert FILE] [COMMAND ARGS...]

Three modes:

  - B{one command}, given as arguments: send it, print the reply, exit.
    The words are quoted as needed (L{kvtwist.client.quoteWord}), so
    C{kvtwist-cli GET "my key"} reads the key C{my key}; for C{SET}, the
    words after the key are joined by single spaces into the value, as the
    text protocol takes the rest of the line (C{kvtwist-cli SET a hello
    world} stores C{hello world}).
  - B{batch}, with no command and stdin not a terminal: each stdin line is
    sent as typed; the replies are printed in order (requests are
    pipelined).  A C{quit} line ends the batch.
  - B{interactive}, with no command on a terminal: prints C{Connected to
    server at HOST:PORT} and how to leave, then prompts C{HOST:PORT> }
    before each command and prints each reply.  Lines are edited with
    readline (L{kvtwist.terminal}): arrow keys, a history kept across
    sessions in C{~/.kvtwist_history}, Tab completion of command names
    (the server's C{COMMAND LIST}).  C{quit} (or C{exit}, or Ctrl+D) prints
    C{Exiting client.} and C{Connection closed.}; Ctrl+C does the same and
    exits 130.

Replies are printed as the server sends them: one line, or the lines of a
block (an empty block prints nothing, or C{(empty)} in interactive mode).

Exit status:
  - 0: success; in batch mode, whatever the replies were.
  - 1: one command whose reply was an error line (C{ERR ...},
    C{WRONGTYPE ...}, C{NOAUTH ...}, ...; see
    L{kvtwist.client.isErrorReply}); the reply is printed to stdout anyway.
  - 2: usage errors, could not connect (C{Could not connect to
    localhost:3490: Connection refused} on stderr), authentication failed,
    or the server went away.
  - 130: interrupted by Ctrl+C.

The password comes from C{--password} or, better (the command line is
visible to other local users), from the C{KVTWIST_PASSWORD} environment
variable.  C{--cacert} implies C{--tls}.

Input is read by a daemon thread (L{kvtwist.terminal.LineEditor} on a
terminal, L{StdinReader} otherwise) so the reactor never blocks on it; the
next prompt is asked for once the previous reply is printed, so prompts and
replies never interleave.
"""

import argparse
import os
import queue
import signal
import sys
import threading
from collections import deque
from typing import Callable, List, Optional

from twisted.internet.defer import (CancelledError, Deferred,
                                    inlineCallbacks, succeed)
from twisted.python.failure import Failure

import kvtwist
from kvtwist import client as kvclient
from kvtwist import terminal
from kvtwist.client import (CommandRefused, ConnectionClosed, KVClientError,
                            isErrorReply, isQuitCommand)
from kvtwist.dialects import text

PASSWORD_ENV = "KVTWIST_PASSWORD"

#: Printed under the greeting in interactive mode.
HINT = "Type 'quit' to exit, 'HELP' for the commands (Tab completes them)."

EXIT_OK = 0
EXIT_ERROR_REPLY = 1
EXIT_FAILURE = 2
EXIT_INTERRUPTED = 130

#: How many batch requests may await their replies at once.
BATCH_WINDOW = 64

#: Seconds to wait for the connection to close before dropping it.
CLOSE_TIMEOUT = 2.0


class UsageError(Exception):
    """
    Bad command-line arguments; the message says what is wrong.
    """


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def buildParser() -> argparse.ArgumentParser:
    """
    The argument parser of C{kvtwist-cli}.  Its C{error} raises
    L{UsageError} instead of exiting.
    """
    parser = _Parser(
        prog="kvtwist-cli",
        description="Talk to a kvtwist server: run one command, a batch "
        "of commands from stdin, or an interactive session.",
        epilog="Exit status: 0 success; 1 the command's reply was an "
        "error; 2 usage, connection or authentication failure; 130 "
        "interrupted.")
    parser.add_argument("--host", default="localhost",
                        help="server host (default: localhost)")
    parser.add_argument("-p", "--port", type=_port,
                        default=kvclient.DEFAULT_PORT,
                        help="server port (default: %(default)s)")
    parser.add_argument("-a", "--password", default=None,
                        help="send AUTH with this password first (prefer "
                        "the %s environment variable: a command line is "
                        "visible to other users)" % (PASSWORD_ENV,))
    parser.add_argument("--tls", action="store_true",
                        help="connect with TLS, verifying the server's "
                        "certificate")
    parser.add_argument("--cacert", metavar="FILE", default=None,
                        help="PEM file of the certificate authority to "
                        "trust (implies --tls)")
    parser.add_argument("--version", action="version",
                        version="kvtwist-cli " + kvtwist.__version__)
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        metavar="COMMAND ARGS",
                        help="a command to run; without one, read commands "
                        "from stdin")
    return parser


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError("not a port number: %r" % (value,))
    return port


def promptFor(where: str) -> str:
    """
    The interactive prompt for a server at C{where} (C{HOST:PORT}), as
    redis-cli shows it: C{localhost:3490> }.
    """
    return where + "> "


def commandLineFromArgv(words: List[str]) -> bytes:
    """
    Build the request line for a command given as arguments: each word
    quoted as needed; for C{SET key value...}, the words after the key are
    the value, joined by single spaces.
    """
    if len(words) > 3 and words[0].upper() == "SET":
        words = words[:2] + [" ".join(words[2:])]
    return kvclient.encodeCommand(*words)


class StdinReader:
    """
    Reads lines from a file descriptor in a daemon thread and delivers
    them in the reactor thread.

    A daemon thread, not the reactor's thread pool: a thread blocked on a
    terminal must not hold up the process's exit.  It uses C{os.read}, not
    C{sys.stdin}, so it holds no lock the interpreter needs at exit, and
    changes no terminal or file-descriptor mode.  It reads only when asked
    for a line it doesn't have, and hands over every complete line of a
    read at once (one per read on a terminal, many from a pipe).
    """

    def __init__(self, reactor, fd: int = 0):
        """
        @param reactor: provides C{callFromThread}.
        @param fd: the descriptor to read.
        """
        self._reactor = reactor
        self._fd = fd
        self._requests = queue.Queue()
        self._thread = None
        self._waiting = None
        self._lines = deque()
        self._eof = False
        self._partial = b""

    def readLine(self) -> Deferred:
        """
        A Deferred firing with the next line (C{bytes}, without its line
        end), or L{None} at end of input.
        """
        if self._lines:
            return succeed(self._lines.popleft())
        if self._eof:
            return succeed(None)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="kvtwist-cli stdin", daemon=True)
            self._thread.start()
        d = self._waiting = Deferred()
        self._requests.put(True)
        return d

    def stop(self):
        """
        Let the thread end after its current read.
        """
        self._requests.put(None)

    def _deliver(self, lines, eof: bool):
        self._lines.extend(lines)
        if eof:
            self._eof = True
        d, self._waiting = self._waiting, None
        if d is not None:
            d.callback(self._lines.popleft() if self._lines else None)

    def _run(self):
        while self._requests.get() is not None:
            lines, eof = self._read()
            self._reactor.callFromThread(self._deliver, lines, eof)
            if eof:
                return

    def _read(self):
        """
        Read until at least one whole line or the end of input.

        @return: C{(lines, eof)}.
        """
        while True:
            try:
                data = os.read(self._fd, 65536)
            except OSError:
                data = b""
            if not data:
                last, self._partial = self._partial, b""
                return ([_chomp(last)] if last else []), True
            data = self._partial + data
            if b"\n" not in data:
                self._partial = data
                continue
            lines = data.split(b"\n")
            self._partial = lines.pop()
            return [_chomp(line) for line in lines], False


def _chomp(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


class PromptingReader:
    """
    Interactive input without line editing (no C{readline} module, or
    stdout is not a terminal): writes the prompt, then reads a line from a
    L{StdinReader}.
    """

    showsPrompt = True

    def __init__(self, reader: StdinReader, write: Callable[[str], None]):
        """
        @param reader: where lines come from.
        @param write: writes the prompt.
        """
        self._reader = reader
        self._write = write

    def readLine(self, prompt: str = "") -> Deferred:
        """
        Write C{prompt}, then read a line (see L{StdinReader.readLine}).
        """
        self._write(prompt)
        return self._reader.readLine()

    def stop(self):
        """
        See L{StdinReader.stop}.
        """
        self._reader.stop()


class CommandLineClient:
    """
    One run of C{kvtwist-cli}: connect, then run one command, a batch or an
    interactive session.

    @ivar done: a Deferred firing with the exit status.
    """

    def __init__(self, reactor, stdout, stderr, environ=None,
                 connect: Callable = kvclient.connect,
                 reader=None, interactive: Optional[bool] = None):
        """
        @param reactor: passed to C{connect}; its C{callLater} bounds the
            wait for a closing connection.
        @param stdout: where replies and prompts go.
        @param stderr: where errors go.
        @param environ: the environment (for C{KVTWIST_PASSWORD}).
        @param connect: L{kvtwist.client.connect} or a replacement with
            its signature.
        @param reader: an object whose C{readLine()} returns a Deferred of
            the next stdin line or L{None}; default a L{StdinReader}, or in
            interactive mode a L{kvtwist.terminal.LineEditor}.  If it has a
            true C{showsPrompt}, interactive mode calls C{readLine(prompt)}
            and leaves the prompt to it; if it has C{setCommands}, it is
            given the server's command names for completion.
        @param interactive: whether stdin is a terminal; default
            C{sys.stdin.isatty()}.
        """
        self._reactor = reactor
        self._out = stdout
        self._err = stderr
        self._environ = os.environ if environ is None else environ
        self._connect = connect
        self._reader = reader
        self._interactive = interactive
        self.client = None
        self.done = Deferred()
        self._connecting = None
        self._closing = False
        self._expectClose = False
        self._atPrompt = False
        self._interrupted = False
        self._prompt = ""
        self._commandsLoaded = False

    # -- output ---------------------------------------------------------------

    def _write(self, stream, data: str):
        try:
            stream.write(data)
            stream.flush()
        except BrokenPipeError:
            _silence(stream)
            self._end(EXIT_ERROR_REPLY)

    def _say(self, line: str):
        self._write(self._out, line + "\n")

    def _complain(self, line: str):
        if self._atPrompt:
            self._atPrompt = False
            self._write(self._out, "\n")
        self._write(self._err, line + "\n")

    def _show(self, reply):
        if isinstance(reply, list):
            if not reply and self._interactive:
                self._say("(empty)")
            elif reply:
                self._write(self._out, "".join(line + "\n"
                                               for line in reply))
        else:
            self._say(reply)
        return reply

    # -- the run --------------------------------------------------------------

    def run(self, argv: List[str]) -> Deferred:
        """
        Parse C{argv} (without the program name), connect, and run.

        @return: L{done}.
        """
        try:
            options = buildParser().parse_args(argv)
        except UsageError as e:
            self._write(self._err, buildParser().format_usage())
            self._write(self._err, "kvtwist-cli: error: %s\n" % (e,))
            self._end(EXIT_FAILURE)
            return self.done
        password = options.password
        if password is None:
            password = self._environ.get(PASSWORD_ENV) or None
        line = None
        if options.command:
            try:
                line = commandLineFromArgv(options.command)
                kvclient.replyShape(line)
            except (CommandRefused, TypeError) as e:
                self._complain("Error: %s" % (e,))
                self._end(EXIT_FAILURE)
                return self.done
        if self._interactive is None:
            self._interactive = line is None and _isatty(sys.stdin)
        elif line is not None:
            self._interactive = False
        where = "%s:%s" % (options.host, options.port)
        self._connecting = d = self._connect(
            self._reactor, options.host, options.port,
            tls=options.tls or bool(options.cacert), cacert=options.cacert,
            password=password)
        d.addCallbacks(self._connected, self._connectFailed,
                       callbackArgs=(line, where), errbackArgs=(where,))
        d.addErrback(self._crashed)
        return self.done

    def _connectFailed(self, failure: Failure, where: str):
        self._connecting = None
        if self.done.called:
            return
        if failure.check(CancelledError):
            self._end(EXIT_INTERRUPTED)
            return
        if failure.check(KVClientError):
            message = str(failure.value)
        else:
            message = "Could not connect to %s: %s" % (
                where, kvclient.describeConnectFailure(failure))
        self._complain(message)
        self._end(EXIT_FAILURE)

    def _connected(self, client, line: Optional[bytes], where: str):
        self._connecting = None
        self.client = client
        if self.done.called:
            client.protocol.abort()
            return
        if client.authWarning:
            self._complain("Warning: AUTH failed: %s" % (client.authWarning,))
        client.whenClosed().addCallback(self._connectionEnded)
        if line is not None:
            d = self._runOne(line)
        elif self._interactive:
            self._say("Connected to server at %s" % (where,))
            self._say(HINT)
            self._prompt = promptFor(where)
            self._loadCommandNames()
            d = self._runInteractive()
        else:
            d = self._runBatch()
        d.addErrback(self._failed)

    def _connectionEnded(self, reason):
        if self.done.called or self._closing or self._expectClose:
            return
        self._complain(self.client.closedError().args[0])
        self._end(EXIT_FAILURE)

    def _failed(self, failure: Failure):
        if self.done.called:
            return
        if failure.check(ConnectionClosed):
            if self._closing:
                # Whoever is closing the connection ends the run.
                return
            if self._expectClose:
                self._end(EXIT_OK)
                return
            self._complain(str(failure.value))
            self._end(EXIT_FAILURE)
            return
        self._crashed(failure)

    def _crashed(self, failure: Failure):
        if self.done.called:
            return
        self._complain("kvtwist-cli: internal error: %s"
                       % (failure.getTraceback(),))
        if self.client is not None:
            self.client.protocol.abort()
        self._end(EXIT_FAILURE)

    def _end(self, code: int):
        if not self.done.called:
            self._closing = True
            if self._reader is not None and hasattr(self._reader, "stop"):
                self._reader.stop()
            self.done.callback(code)

    def _getReader(self):
        if self._reader is None:
            self._reader = StdinReader(self._reactor, _fileno(sys.stdin))
        return self._reader

    def _getEditor(self):
        """
        The interactive reader: the one given, else a
        L{kvtwist.terminal.LineEditor} when stdin and stdout are terminals
        and there is a C{readline} module, else a L{PromptingReader}.
        """
        if self._reader is None:
            readline = None
            if _isatty(sys.stdin) and _isatty(sys.stdout):
                readline = terminal.loadReadline()
            if readline is not None:
                self._reader = terminal.LineEditor(
                    self._reactor, readline,
                    history=terminal.historyPath(self._environ),
                    completer=terminal.CommandCompleter(_localCommandNames()),
                    fd=_fileno(sys.stdin))
            else:
                self._reader = PromptingReader(
                    StdinReader(self._reactor, _fileno(sys.stdin)),
                    lambda prompt: self._write(self._out, prompt))
        return self._reader

    def _loadCommandNames(self):
        """
        Ask the server for its command names (C{COMMAND LIST}) and give
        them, with the text protocol's aliases, to a reader that completes
        them.  A refusal (C{NOAUTH} before C{AUTH}) leaves the names the
        reader has; they are asked for again after a successful C{AUTH}.
        """
        reader = self._getEditor()
        if self._commandsLoaded or not hasattr(reader, "setCommands"):
            return
        self._commandsLoaded = True

        def got(reply):
            if not isinstance(reply, list) or isErrorReply(reply):
                self._commandsLoaded = False
                return
            reader.setCommands(reply + _TEXT_ONLY_WORDS)

        def failed(failure):
            self._commandsLoaded = False
            failure.trap(KVClientError)

        self.client.command("COMMAND", "LIST").addCallbacks(got, failed)

    def _closeClient(self, goodbye: bool = False) -> Deferred:
        """
        Close the connection (after C{QUIT} if C{goodbye}), dropping it if
        it takes longer than L{CLOSE_TIMEOUT}.
        """
        self._closing = True
        client = self.client
        d = client.quit() if goodbye else client.close()
        d.addTimeout(CLOSE_TIMEOUT, self._reactor)

        def timedOut(failure):
            client.protocol.abort()
            return None

        return d.addErrback(timedOut)

    @inlineCallbacks
    def _runOne(self, line: bytes):
        d = self.client.sendLine(line)
        self._expectClose = isQuitCommand(line)
        reply = yield d
        self._show(reply)
        code = EXIT_ERROR_REPLY if isErrorReply(reply) else EXIT_OK
        yield self._closeClient()
        self._end(code)

    @inlineCallbacks
    def _runBatch(self):
        reader = self._getReader()
        pending = deque()
        try:
            while not self.done.called:
                line = yield reader.readLine()
                if self.done.called:
                    return
                if line is None:
                    break
                if not line.strip():
                    continue
                try:
                    d = self.client.sendLine(line)
                except CommandRefused as e:
                    self._complain("Error: %s" % (e,))
                    continue
                pending.append(d.addCallback(self._show))
                if isQuitCommand(line):
                    self._expectClose = True
                    break
                while len(pending) >= BATCH_WINDOW:
                    yield pending.popleft()
            while pending:
                yield pending.popleft()
        finally:
            for d in pending:
                d.addErrback(lambda f: None)
        if self.done.called:
            return
        yield self._closeClient()
        self._end(EXIT_OK)

    @inlineCallbacks
    def _runInteractive(self):
        reader = self._getEditor()
        while not self.done.called:
            self._atPrompt = True
            if getattr(reader, "showsPrompt", False):
                line = yield reader.readLine(self._prompt)
            else:
                self._write(self._out, self._prompt)
                line = yield reader.readLine()
            self._atPrompt = False
            if self.done.called or self._closing:
                return
            if line is terminal.INTERRUPTED:
                # Ctrl+C ended the line; its signal brings interrupt().
                return
            if line is None:
                # Ctrl+D: the terminal echoed no line end.
                self._write(self._out, "\n")
                yield self._quit()
                return
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.lower() in (b"quit", b"exit"):
                yield self._quit()
                return
            if b"\x1b" in line:
                # A terminal without line editing passes the arrow keys on
                # as escape sequences (Up is ESC [ A): never send them.
                self._complain("Error: the line holds a terminal escape "
                               "sequence (an arrow key?); not sent")
                continue
            try:
                d = self.client.sendLine(line)
            except CommandRefused as e:
                self._complain("Error: %s" % (e,))
                continue
            reply = yield d
            if self.done.called or self._closing:
                return
            self._show(reply)
            if reply == "OK" and stripped[:5].upper() == b"AUTH ":
                self._loadCommandNames()

    @inlineCallbacks
    def _quit(self, code: int = EXIT_OK):
        self._say("Exiting client.")
        yield self._closeClient(goodbye=code == EXIT_OK)
        self._say("Connection closed.")
        self._end(code)

    def interrupt(self):
        """
        Ctrl+C: stop at once and exit 130.  A connected interactive session
        prints C{Exiting client.} and C{Connection closed.} on the way out;
        a second interrupt drops the connection without waiting.
        """
        if self.done.called:
            return
        if self._interrupted or self.client is None:
            self._interrupted = True
            self._end(EXIT_INTERRUPTED)
            if self._connecting is not None:
                self._connecting.cancel()
            if self.client is not None:
                self.client.protocol.abort()
            return
        self._interrupted = True
        if self._interactive:
            # (A line editor that ends the line on Ctrl+C draws it first.)
            lineEnded = getattr(self._reader, "lineEnded", None)
            d = lineEnded() if lineEnded is not None else succeed(None)
            d.addCallback(self._goodbyeAfterInterrupt)
            d.addErrback(self._crashed)
            return
        self._closeClient().addCallback(
            lambda _: self._end(EXIT_INTERRUPTED))

    def _goodbyeAfterInterrupt(self, _=None):
        """
        End an interactive session on Ctrl+C: end the prompt's line (unless
        the editor did), say goodbye, exit 130.
        """
        if self.done.called:
            return None
        if self._atPrompt:
            self._atPrompt = False
            self._write(self._out, "\n")
        return self._quit(EXIT_INTERRUPTED)


#: Words the text protocol knows beyond the command table.
_TEXT_ONLY_WORDS = [name.decode("ascii") for name in text.ALIASES]


def _localCommandNames() -> List[str]:
    """
    This package's own command names: what Tab completes until the server
    has said which commands it has.
    """
    from kvtwist import commands
    return [name.decode("ascii") for name in commands.TABLE] + \
        _TEXT_ONLY_WORDS


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _fileno(stream) -> int:
    try:
        return stream.fileno()
    except (AttributeError, ValueError, OSError):
        return 0


def _silence(stream):
    """
    The reader of C{stream} has gone (C{kvtwist-cli PRINT | head -1}):
    point its descriptor at /dev/null so the interpreter's final flush
    doesn't complain.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (AttributeError, ValueError, OSError):
        pass


def _installInterruptHandler(reactor, interrupt: Callable[[], None]):
    """
    Route SIGINT (Ctrl+C) to C{interrupt} in the reactor thread, in place of
    the reactor's own handler, which would stop the reactor before the
    client could say goodbye.
    """
    def handler(signum, frame):
        reactor.callFromThread(interrupt)

    signal.signal(signal.SIGINT, handler)


def _exitWith(code: int):
    if code:
        raise SystemExit(code)


def main(argv: Optional[List[str]] = None):
    """
    The C{kvtwist-cli} console script.
    """
    from twisted.internet import task

    if argv is None:
        argv = sys.argv[1:]

    def start(reactor):
        cli = CommandLineClient(reactor, sys.stdout, sys.stderr)
        reactor.callWhenRunning(_installInterruptHandler, reactor,
                                cli.interrupt)
        return cli.run(argv).addCallback(_exitWith)

    task.react(start)


if __name__ == "__main__":  # pragma: no cover
    main()
