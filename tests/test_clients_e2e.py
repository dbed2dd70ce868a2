"""
End-to-end tests of client tracking (the Go seed's CountActive and
CountDropped) through INFO's C{connected_clients} and C{dropped_clients}.

A watcher connection stays open and asks INFO, so that the test's own
probing adds no connections to the counts.
"""

from tests.harness import waitFor


class Watcher:
    """
    One open text connection that reads the client counts.
    """

    def __init__(self, server):
        self.client = server.textClient()

    def close(self):
        self.client.close()

    def counts(self):
        """
        C{(connected_clients, dropped_clients)}, the watcher included in
        the first.
        """
        lines = self.client.blockCommand("INFO clients")
        fields = dict(line.split(":", 1) for line in lines if ":" in line)
        return (int(fields["connected_clients"]),
                int(fields["dropped_clients"]))

    def waitConnected(self, n):
        """
        Wait until exactly C{n} clients are connected; return the counts.
        """
        def check():
            now = self.counts()
            return now if now[0] == n else None
        return waitFor(check, what="%d connected clients" % (n,))


def test_connectedAndDropped(server):
    """
    Every open client is counted as connected; every ended connection is
    counted as dropped, whether the client quit, closed its socket, or was
    closed by the server after a protocol error.
    """
    watcher = Watcher(server)
    try:
        connected0, dropped0 = watcher.counts()
        assert connected0 == 1
        clients = [server.textClient() for _ in range(3)]
        for c in clients:
            assert c.command("PING") == "+PONG"
        assert watcher.counts() == (4, dropped0)

        # 1. The client quits.
        assert clients[0].command("quit") == "Goodbye!"
        assert clients[0].readUntilClosed() == b""
        assert watcher.waitConnected(3) == (3, dropped0 + 1)
        # 2. The client closes its socket.
        clients[1].close()
        assert watcher.waitConnected(2) == (2, dropped0 + 2)
        # 3. The server closes it after a protocol error.
        clients[2].send(b"*1\r\n$x\r\n")
        assert clients[2].readUntilClosed() == \
            b"-ERR Protocol error: invalid bulk length\r\n"
        assert watcher.waitConnected(1) == (1, dropped0 + 3)
        for c in clients:
            c.close()
    finally:
        watcher.close()


def test_manyClients(server):
    """
    Fifty clients open at once are all counted; after they close, they are
    all counted as dropped.
    """
    watcher = Watcher(server)
    try:
        _, dropped0 = watcher.counts()
        clients = [server.textClient() for _ in range(50)]
        for i, c in enumerate(clients):
            assert c.command("SET k%d v" % (i,)).startswith("Added")
        assert watcher.counts() == (51, dropped0)
        for c in clients:
            c.close()
        assert watcher.waitConnected(1) == (1, dropped0 + 50)
    finally:
        watcher.close()


def test_disconnectsLogged(server):
    """
    Each connect and disconnect is logged with the peer address and the
    reason.
    """
    with server.textClient() as c:
        assert c.command("quit") == "Goodbye!"
        port = c.sock.getsockname()[1]
        c.readUntilClosed()
    peer = "127.0.0.1:%d" % (port,)

    def logged():
        lines = [line for line in server.log.splitlines() if peer in line]
        return lines if len(lines) >= 2 else None

    connect, disconnect = waitFor(logged, what="connect/disconnect logs")[:2]
    assert "connected" in connect
    assert "disconnected" in disconnect

