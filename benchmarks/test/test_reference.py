"""
Tests for L{benchmarks.reference}: the calibration servers, driven without a
network.
"""

from twisted.trial.unittest import SynchronousTestCase

from benchmarks.resp import encodeCommand


class ReferenceServerTests(SynchronousTestCase):
    """
    L{benchmarks.reference}'s calibration servers answer SET, GET and PING in
    RESP.
    """

    DATA = (encodeCommand("SET", "k", "v") + encodeCommand("GET", "k") +
            encodeCommand("GET", "nope") + encodeCommand("PING"))
    REPLIES = b"+OK\r\n$1\r\nv\r\n$-1\r\n+PONG\r\n"
    # Raw mode reads bulk strings by length: a value may hold CR LF.
    RAW_DATA = (encodeCommand("SET", "k", "v\r\n") +
                encodeCommand("GET", "k") + encodeCommand("GET", "nope") +
                encodeCommand("PING"))
    RAW_REPLIES = b"+OK\r\n$3\r\nv\r\n\r\n$-1\r\n+PONG\r\n"

    def connect(self, protocol, reader=True):
        from twisted.internet.protocol import Factory
        from twisted.internet.testing import StringTransport

        factory = Factory.forProtocol(protocol)
        factory.data = {}
        proto = factory.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        if not reader:
            proto._reader = None
        return proto, transport

    def test_setGetPing(self):
        """
        Requests split anywhere get the replies Redis would give.
        """
        from benchmarks.reference import ReferenceProtocol
        proto, transport = self.connect(ReferenceProtocol)
        for i in range(len(self.DATA)):
            proto.dataReceived(self.DATA[i:i + 1])
        self.assertEqual(transport.value(), self.REPLIES)

    def test_rawSplitAnywhere(self):
        """
        The raw-mode server, with hiredis where it is installed and with
        its Python splitter, gives the same replies for a pipeline cut
        anywhere in two reads.
        """
        from benchmarks.reference import RawReferenceProtocol
        for reader in (True, False):
            for cut in range(len(self.RAW_DATA) + 1):
                proto, transport = self.connect(RawReferenceProtocol, reader)
                proto.dataReceived(self.RAW_DATA[:cut])
                proto.dataReceived(self.RAW_DATA[cut:])
                self.assertEqual(transport.value(), self.RAW_REPLIES,
                                 (reader, cut))

    def test_rawOneWritePerRead(self):
        """
        The replies to a read's requests leave in one write.
        """
        from benchmarks.reference import RawReferenceProtocol
        for reader in (True, False):
            proto, transport = self.connect(RawReferenceProtocol, reader)
            writes = []
            transport.write = writes.append
            proto.dataReceived(self.RAW_DATA)
            self.assertEqual(writes, [self.RAW_REPLIES])

    def test_splitRequests(self):
        """
        L{splitRequests} returns the complete requests and where the first
        incomplete one starts.
        """
        from benchmarks.reference import splitRequests
        whole = encodeCommand("SET", "a", "") + encodeCommand("GET", "a")
        self.assertEqual(splitRequests(whole + b"*2\r\n$3\r\nGET\r\n$1"),
                         ([[b"SET", b"a", b""], [b"GET", b"a"]], len(whole)))
        self.assertEqual(splitRequests(b"*1\r\n$4\r\nPING\r"), ([], 0))
