"""
End-to-end tests of the introspection commands as redis-py (its parsers,
RESP2 and RESP3) and redis-cli read them from a real C{twistd -n
kvstore}: C{INFO} and its sections, C{CLIENT}, C{CONFIG}, C{WAIT}, and
C{SHUTDOWN} through redis-py's C{shutdown()}.
"""

import subprocess

import pytest

redis = pytest.importorskip("redis")

from tests.harness import HOST, waitFor  # noqa: E402


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, sharedServer):
    """
    A redis-py client of a shared server, in RESP2 or RESP3, its
    statistics zeroed and its keys flushed.
    """
    client = sharedServer.redis(protocol=request.param)
    client.flushall()
    client.config_resetstat()
    yield client
    client.close()


def test_info(r):
    """
    redis-py parses every section of C{INFO everything} into figures of
    the right types, with the fields tools read.
    """
    r.set("k", "v", ex=100)
    r.get("k")
    r.get("missing")
    info = r.info("everything")
    assert info["redis_version"] == "7.4.0"
    assert info["role"] == "master"
    assert info["connected_slaves"] == 0
    assert info["master_repl_offset"] == 0
    assert info["connected_clients"] >= 1
    assert info["used_memory"] > 0
    assert info["used_memory_human"].endswith("M")
    assert info["mem_allocator"]
    assert isinstance(info["used_cpu_user"], float)
    assert info["keyspace_hits"] == 1
    assert info["keyspace_misses"] == 1
    assert info["db0"] == {"keys": 1, "expires": 1,
                           "avg_ttl": info["db0"]["avg_ttl"]}
    assert 0 < info["db0"]["avg_ttl"] <= 100000
    assert info["cmdstat_set"]["calls"] == 1
    assert info["cmdstat_get"]["calls"] == 2
    assert isinstance(info["cmdstat_get"]["usec_per_call"], float)
    assert "cmdstat_get" not in r.info()


def test_errorstats(r):
    """
    Errors are counted by code in C{errorstats} and per command as
    failed or rejected calls.
    """
    r.set("s", "v")
    with pytest.raises(redis.ResponseError):
        r.lpush("s", "x")
    with pytest.raises(redis.ResponseError):
        r.execute_command("GET")
    errors = r.info("errorstats")
    assert errors["errorstat_WRONGTYPE"] == {"count": 1}
    assert errors["errorstat_ERR"] == {"count": 1}
    stats = r.info("commandstats")
    assert stats["cmdstat_lpush"]["failed_calls"] == 1
    assert stats["cmdstat_get"]["rejected_calls"] == 1


def test_clientList(r):
    """
    redis-py's C{client_list()} reads the fields Redis gives, with this
    connection's own figures; C{client_info()} too.
    """
    r.client_setname("sweeper")
    me = r.client_info()
    assert me["name"] == "sweeper"
    assert me["resp"] == str(r.connection_pool.connection_kwargs["protocol"])
    assert me["laddr"].endswith(":%d" % (
        r.connection_pool.connection_kwargs["port"],))
    listed = {str(c["id"]): c for c in r.client_list()}
    mine = listed[str(me["id"])]
    assert mine["name"] == "sweeper"
    for field in ("addr", "fd", "age", "idle", "flags", "db", "sub", "psub",
                  "multi", "qbuf", "qbuf-free", "obl", "oll", "omem", "cmd",
                  "user"):
        assert field in mine, field
    assert r.client_id() == int(me["id"])


def test_clientKill(r, sharedServer):
    """
    C{CLIENT KILL} by id closes another client's connection at once.
    """
    from tests.harness import LineClient, encodeCommand
    with LineClient(sharedServer.port) as other:
        other.send(encodeCommand(b"CLIENT", b"ID"))
        victim = int(other.readLine()[1:])
        assert r.client_kill_filter(_id=victim) == 1
        assert other.readUntilClosed() == b""
    assert str(victim) not in [str(c["id"]) for c in r.client_list()]


def test_clientReplyOff(sharedServer):
    """
    C{CLIENT REPLY OFF}: the commands run, nothing comes back, until
    C{CLIENT REPLY ON}.
    """
    from tests.harness import LineClient, encodeCommand
    with LineClient(sharedServer.port) as c:
        c.send(encodeCommand(b"CLIENT", b"REPLY", b"OFF") +
               encodeCommand(b"SET", b"quiet", b"1") +
               encodeCommand(b"CLIENT", b"REPLY", b"ON") +
               encodeCommand(b"GET", b"quiet"))
        assert c.readLine() == "+OK"
        assert c.readLine() == "$1"
        assert c.readLine() == "1"


def test_config(r):
    """
    C{CONFIG GET} as redis-py reads it (a dict), C{CONFIG SET} of what can
    change, Redis's error for what can't.
    """
    assert r.config_get("maxmemory*") == {"maxmemory": "0",
                                          "maxmemory-policy": "noeviction"}
    assert r.config_get("nosuch") == {}
    assert r.config_set("timeout", 3600) is True
    assert r.config_get("timeout") == {"timeout": "3600"}
    r.config_set("timeout", 0)
    with pytest.raises(redis.ResponseError, match="immutable config"):
        r.config_set("databases", 4)


def test_wait(r):
    """
    C{WAIT} answers 0 at once: there are no replicas.
    """
    r.set("k", "v")
    assert r.wait(1, 50) == 0


@pytest.mark.parametrize("protocol", [2, 3])
def test_shutdown(makeServer, protocol):
    """
    redis-py's C{shutdown()} returns (it takes the connection closing
    without a reply for success) and the server stops, its data written.
    """
    server = makeServer()
    client = server.redis(protocol=protocol)
    client.set("kept", "yes")
    client.shutdown()
    waitFor(lambda: not server.running, timeout=20)
    assert server.process.returncode == 0
    server.start()
    assert server.redis().get("kept") == b"yes"


def test_redisCliInfo(sharedServer):
    """
    redis-cli's C{INFO} shows the sections it asks for; C{--stat}'s
    figures come from the fields it reads (checked by hand: keys, mem,
    clients, requests, connections).
    """
    out = subprocess.run(
        ["redis-cli", "-h", HOST, "-p", str(sharedServer.port), "INFO",
         "keyspace"], capture_output=True, timeout=10).stdout.decode()
    assert out.startswith("# Keyspace")
    out = subprocess.run(
        ["redis-cli", "-h", HOST, "-p", str(sharedServer.port), "INFO",
         "server"], capture_output=True, timeout=10).stdout.decode()
    assert "tcp_port:%d" % (sharedServer.port,) in out
