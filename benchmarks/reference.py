# -*- test-case-name: benchmarks.test.test_reference -*-
"""
The calibration servers of C{python -m benchmarks}: the smallest Twisted
servers that answer RESP C{SET} and C{GET}, with a dict and nothing else
(no persistence, no limits, no stats, no other command).

  - L{ReferenceProtocol}, a L{LineReceiver} reading one line at a time;
  - L{RawReferenceProtocol}, the same switched to raw mode once a client
    speaks RESP: each read's complete requests are parsed at once (by
    C{hiredis.Reader} where it is installed, on CPython; in plain Python
    otherwise) and their replies written with one C{transport.write}.

Running such servers in the same benchmark as redis-server shows what this machine allows a Python server, so
kvtwist's ratios can be read against them.  Not part of the server.
On PyPy the benchmark runs them with the garbage collector's nursery that
C{twistd kvstore} ran with (it may choose its own): kvtwist and they are
compared with the same collector settings.

    python -m benchmarks.reference [--raw] PORT

Port 0 takes a free port; the log line C{listening on 127.0.0.1:PORT} says
which.
"""

import sys

from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver


class ReferenceProtocol(LineReceiver):
    """
    RESP SET and GET, parsed line by line; C{+OK} to anything else.
    """

    delimiter = b"\r\n"

    def connectionMade(self):
        self._left = 0
        self._args = []

    def lineReceived(self, line: bytes):
        if line[:1] == b"*":
            self._left = int(line[1:]) * 2
            self._args = []
            return
        if line[:1] == b"$" and self._left % 2 == 0:
            self._left -= 1
            return
        self._left -= 1
        self._args.append(line)
        if self._left:
            return
        self.transport.write(_reply(self._args, self.factory.data))


def _reply(args, data) -> bytes:
    if args[0] == b"SET":
        data[args[1]] = args[2]
        return b"+OK\r\n"
    if args[0] == b"GET":
        value = data.get(args[1])
        return (b"$-1\r\n" if value is None else
                b"$%d\r\n%s\r\n" % (len(value), value))
    if args[0] == b"PING":
        return b"+PONG\r\n"
    return b"+OK\r\n"


def splitRequests(buf: bytes, pos: int = 0):
    """
    The complete RESP requests (arrays of bulk strings) in C{buf} from
    C{pos}: C{(requests, end)}, where C{end} is where the first incomplete
    one starts.
    """
    requests = []
    n = len(buf)
    while pos < n:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            break
        count = int(buf[pos + 1:eol])
        at = eol + 2
        args = []
        for _ in range(count):
            eol = buf.find(b"\r\n", at)
            if eol < 0:
                break
            start = eol + 2
            stop = start + int(buf[at + 1:eol])
            if stop + 2 > n:
                break
            args.append(buf[start:stop])
            at = stop + 2
        if len(args) < count:
            break
        requests.append(args)
        pos = at
    return requests, pos


def _hiredisReader():
    import platform
    if platform.python_implementation() != "CPython":
        return None
    try:
        import hiredis
    except ImportError:
        return None
    return hiredis.Reader()


class RawReferenceProtocol(ReferenceProtocol):
    """
    L{ReferenceProtocol} until a line starts a RESP request; from then on
    raw mode: every complete request of a read is run, and the replies are
    written together.
    """

    def connectionMade(self):
        ReferenceProtocol.connectionMade(self)
        self._reader = _hiredisReader()
        self._rest = b""

    def lineReceived(self, line: bytes):
        if line[:1] == b"*":
            self.setRawMode()
            self.rawDataReceived(line + b"\r\n")
            return
        ReferenceProtocol.lineReceived(self, line)

    def rawDataReceived(self, data: bytes):
        store = self.factory.data
        reader = self._reader
        if reader is not None:
            reader.feed(data)
            out = []
            request = reader.gets()
            while request is not False:
                out.append(_reply(request, store))
                request = reader.gets()
        else:
            buf = self._rest + data if self._rest else data
            requests, end = splitRequests(buf)
            self._rest = buf[end:]
            out = [_reply(request, store) for request in requests]
        if out:
            self.transport.write(b"".join(out))


def main(argv=None):
    """
    Serve on 127.0.0.1 at the port given (0: any free one), logging the
    port to standard output; C{--raw} for L{RawReferenceProtocol}.
    """
    from twisted.internet import reactor
    from twisted.logger import Logger, globalLogBeginner, textFileLogObserver

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    argv = sys.argv[1:] if argv is None else argv
    protocol = ReferenceProtocol
    if argv[0] == "--raw":
        protocol = RawReferenceProtocol
        argv = argv[1:]
    factory = Factory.forProtocol(protocol)
    factory.noisy = False
    factory.data = {}
    port = reactor.listenTCP(int(argv[0]), factory, backlog=511,
                             interface="127.0.0.1")
    Logger().info("{name} listening on 127.0.0.1:{port}",
                  name=protocol.__name__, port=port.getHost().port)
    reactor.run()


if __name__ == "__main__":
    main()
