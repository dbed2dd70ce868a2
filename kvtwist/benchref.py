# -*- test-case-name: kvtwist.test.test_bench -*-
"""
The calibration server of C{python -m kvtwist.bench}: the smallest Twisted
server that answers RESP C{SET} and C{GET}, a L{LineReceiver} reading one
line at a time, with a dict and nothing else (no persistence, no limits, no
stats, no other command).

Issue 6 quotes what such a server reaches beside redis-server; running it
in the same benchmark shows what this machine allows a Python server, so
kvtwist's ratios can be read against it.  Not part of the server.

    python -m kvtwist.benchref PORT
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
        args, data = self._args, self.factory.data
        if args[0] == b"SET":
            data[args[1]] = args[2]
            self.transport.write(b"+OK\r\n")
        elif args[0] == b"GET":
            value = data.get(args[1])
            self.transport.write(b"$-1\r\n" if value is None else
                                 b"$%d\r\n%s\r\n" % (len(value), value))
        elif args[0] == b"PING":
            self.transport.write(b"+PONG\r\n")
        else:
            self.transport.write(b"+OK\r\n")


def main(argv=None):
    """
    Serve on 127.0.0.1 at the port given.
    """
    from twisted.internet import reactor
    argv = sys.argv[1:] if argv is None else argv
    factory = Factory.forProtocol(ReferenceProtocol)
    factory.data = {}
    reactor.listenTCP(int(argv[0]), factory, backlog=511,
                      interface="127.0.0.1")
    reactor.run()


if __name__ == "__main__":
    main()
