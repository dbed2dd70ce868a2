"""
End-to-end tests of the reactor choice: C{twistd kvstore} runs on
L{kvtwist.reactor.KVReactor} by default, on twistd's own choice with
C{--stock-reactor}, and on whatever C{twistd --reactor} names.
"""

import threading

import pytest

redis = pytest.importorskip("redis")

from kvtwist import reactor as kvreactor  # noqa: E402

pytestmark = pytest.mark.skipif(not kvreactor.available(),
                                reason="no epoll here")


def hammer(server, clients: int = 20, rounds: int = 50):
    """
    Many connections at once, each pipelining writes and reading them back;
    return the errors seen (none expected).
    """
    errors = []

    def one(n):
        client = server.redis(protocol=2)
        try:
            for i in range(rounds):
                pipe = client.pipeline(transaction=False)
                for j in range(10):
                    pipe.set("k%d:%d:%d" % (n, i, j), "v%d" % (j,))
                pipe.get("k%d:%d:3" % (n, i))
                assert pipe.execute()[-1] == b"v3"
        except Exception as e:  # reported to the test below
            errors.append(e)
        finally:
            client.close()

    threads = [threading.Thread(target=one, args=(n,))
               for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_defaultIsKVReactor(server):
    """
    With no reactor named, the server runs on kvtwist's, says so in INFO
    and in twistd's log, and serves many clients at once.
    """
    assert server.info()["reactor"] == "kvtwist.reactor.KVReactor"
    assert "reactor class: kvtwist.reactor.KVReactor" in \
        server.logSinceStart()
    assert hammer(server) == []
    client = server.redis(protocol=2)
    assert client.dbsize() == 20 * 50 * 10
    client.close()


def test_stockReactor(makeServer):
    """
    C{--stock-reactor} leaves twistd's default, Twisted's epoll reactor.
    """
    server = makeServer(["--stock-reactor"])
    assert server.info()["reactor"] == \
        "twisted.internet.epollreactor.EPollReactor"
    assert hammer(server, clients=5, rounds=10) == []


@pytest.mark.parametrize("name, expected", [
    ("poll", "twisted.internet.pollreactor.PollReactor"),
    ("kvepoll", "kvtwist.reactor.KVReactor"),
])
def test_twistdReactorOption(makeServer, name, expected):
    """
    C{twistd --reactor NAME} is obeyed, kvtwist's reactor among the names.
    """
    server = makeServer(start=False)
    server.twistdArgs = ["--reactor", name]
    server.start()
    assert server.info()["reactor"] == expected
    assert hammer(server, clients=5, rounds=10) == []
