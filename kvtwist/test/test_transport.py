"""
Tests for L{kvtwist.transport}: sending straight to a connection's socket.
"""

from twisted.internet import tcp
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from kvtwist import transport as kvtransport


class FakeSocket:
    """
    Takes at most C{room} bytes per C{send} (all if L{None}), or raises
    C{error}.
    """

    def __init__(self, room=None, error=None):
        self.sent = []
        self.room = room
        self.error = error

    def send(self, data):
        if self.error is not None:
            raise self.error
        taken = data if self.room is None else data[:self.room]
        self.sent.append(taken)
        return len(taken)


def fakeServer(sock, kind=tcp.Server):
    """
    A C{tcp.Server} (or another C{kind} of connection) as
    L{kvtransport.directSender} sees one, without a real socket: its write
    buffer (empty) and its C{write} recorded.
    """
    server = kind.__new__(kind)
    server.socket = sock
    server.connected = True
    server.disconnecting = False
    server._tempDataBuffer = []
    server.dataBuffer = b""
    server.offset = 0
    server.written = []
    server.write = server.written.append
    return server


class DirectSenderTests(SynchronousTestCase):
    """
    L{kvtransport.directSender}.
    """

    def test_onlyKnownTransports(self):
        """
        Transports other than accepted TCP and UNIX connections get none.
        """
        self.assertIsNone(kvtransport.directSender(StringTransport()))
        self.assertIsNotNone(kvtransport.directSender(
            fakeServer(FakeSocket())))

    def test_clientConnections(self):
        """
        A TCP connection made by this process (a cluster front end's to a
        node) is sent to directly too.
        """
        client = fakeServer(FakeSocket(), tcp.Client)
        kvtransport.directSender(client)(b"*1\r\n$4\r\nPING\r\n")
        self.assertEqual(client.socket.sent, [b"*1\r\n$4\r\nPING\r\n"])
        self.assertEqual(client.written, [])

    def test_notAfterStartTLS(self):
        """
        A TCP connection that started TLS gets none: its bytes must go
        through the TLS layer.
        """
        client = fakeServer(FakeSocket(), tcp.Client)
        client.TLS = True
        self.assertIsNone(kvtransport.directSender(client))

    def test_straightToTheSocket(self):
        """
        With nothing queued in the transport, data goes to the socket.
        """
        server = fakeServer(FakeSocket())
        kvtransport.directSender(server)(b"+OK\r\n")
        self.assertEqual(server.socket.sent, [b"+OK\r\n"])
        self.assertEqual(server.written, [])

    def test_restThroughTheTransport(self):
        """
        What the socket doesn't take, or all of it when it fails, goes
        through the transport's C{write}.
        """
        server = fakeServer(FakeSocket(room=2))
        kvtransport.directSender(server)(b"+OK\r\n")
        self.assertEqual(server.socket.sent, [b"+O"])
        self.assertEqual(server.written, [b"K\r\n"])
        server = fakeServer(FakeSocket(error=BlockingIOError()))
        kvtransport.directSender(server)(b"+OK\r\n")
        self.assertEqual(server.written, [b"+OK\r\n"])

    def test_neverAroundQueuedData(self):
        """
        While the transport holds data (in either buffer) or is closing,
        data goes behind it through C{write}.
        """
        for attribute, value in (("_tempDataBuffer", [b"x"]),
                                 ("dataBuffer", b"x"),
                                 ("disconnecting", True)):
            server = fakeServer(FakeSocket())
            setattr(server, attribute, value)
            kvtransport.directSender(server)(b"+OK\r\n")
            self.assertEqual(server.socket.sent, [], attribute)
            self.assertEqual(server.written, [b"+OK\r\n"], attribute)

    def test_memoryview(self):
        """
        A L{memoryview} (a slice of a big reply) goes to the socket as it
        is; what the socket doesn't take, or all of it while the transport
        holds data, is given to C{write} as L{bytes}.
        """
        view = memoryview(b"0123456789")[2:8]
        server = fakeServer(FakeSocket(room=2))
        kvtransport.directSender(server)(view)
        self.assertEqual([bytes(piece) for piece in server.socket.sent],
                         [b"23"])
        self.assertEqual(server.written, [b"4567"])
        self.assertIs(type(server.written[0]), bytes)
        server = fakeServer(FakeSocket())
        server.dataBuffer = b"x"
        kvtransport.directSender(server)(view)
        self.assertEqual(server.written, [b"234567"])
        self.assertIs(type(server.written[0]), bytes)
