"""
End-to-end tests of kvtwist as a front end over a real Redis Cluster: six
local C{redis-server} nodes (three primaries, three replicas, see
L{tests.clusterharness}) and two real C{twistd -n kvstore --backend
redis-cluster://...} front ends, shared by the tests of this module
(each starts from an empty cluster).  What a test writes through one
front end it reads through the other, and checks against the nodes asked
directly.

The tests that disturb the cluster (a node killed, slots moved, every
node down) have clusters of their own: C{test_cluster_faults_e2e.py}.
"""

import json

import pytest

from tests.clusterharness import FrontEnd, RedisCluster, crc16Slot
from tests.harness import waitFor


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """
    A running cluster of 3 primaries and 3 replicas.
    """
    cluster = RedisCluster(tmp_path_factory.mktemp("cluster"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def frontEnds(cluster, tmp_path_factory):
    """
    Two front ends on the cluster, each given a different seed.
    """
    made = []
    for i in range(2):
        seeds = "redis-cluster://%s" % (cluster.nodes[i].address,)
        server = FrontEnd(tmp_path_factory.mktemp("frontend%d" % (i,)),
                          seeds)
        server.start()
        made.append(server)
    yield made
    for server in made:
        server.cleanup()


@pytest.fixture
def fronts(frontEnds, cluster, request):
    """
    The two front ends, on an emptied cluster; their logs printed if the
    test failed.
    """
    for node in cluster.primaries():
        node.command(b"FLUSHALL")
    yield frontEnds
    report = getattr(request.node, "_report_call", None)
    if report is not None and report.failed:
        for server in frontEnds:
            print(server.diagnostics())


def writeInEveryDialect(server):
    """
    Write keys through C{server} in each dialect: text, colon, JSON
    lines, RESP2, RESP3.
    """
    with server.textClient() as c:
        assert c.command("SET person hello world") == \
            "Added key 'person' with value 'hello world'"
        c.sendLine("Put:seed:one")
        c.sendLine("Put:seed:two")
        c.sendLine("Update:seed:one:uno")
        c.sendLine(json.dumps({"type": "SET", "key": "json",
                               "value": "from json"}))
        assert json.loads(c.readLine()) == "OK"
    server.redis(protocol=2).set("resp2", b"\x00binary\r\n")
    server.redis(protocol=3).rpush("resp3", "a", "b")


def test_everyDialect(fronts, cluster, makeServer):
    """
    Data written through one front end in each dialect (text, colon, JSON
    lines, RESP2, RESP3) is read through the other in every dialect, and
    is on the node that serves its slot; PRINT shows what a kvtwist
    keeping the same data in memory shows.
    """
    one, two = fronts
    writeInEveryDialect(one)
    with two.textClient() as c:
        assert c.command("GET person") == "hello world"
        assert c.command("GET json") == "from json"
        c.sendLine("Get:seed")
        assert [c.readLine(), c.readLine()] == ["seed:uno", "seed:two"]
        c.sendLine(json.dumps({"type": "GET", "key": "resp2"}))
        assert json.loads(c.readLine()) == "\x00binary\r\n"
        assert c.blockCommand("LRANGE resp3 0 -1") == ["a", "b"]
        printed = c.blockCommand("PRINT")
    memory = makeServer()
    writeInEveryDialect(memory)
    with memory.textClient() as c:
        expected = c.blockCommand("PRINT")
    assert len(printed) == 5
    assert sorted(printed) == sorted(expected)
    r2, r3 = two.redis(protocol=2), two.redis(protocol=3)
    assert r2.get("resp2") == b"\x00binary\r\n"
    assert r3.lrange("seed", 0, -1) == [b"uno", b"two"]
    assert r3.get("person") == b"hello world"
    for key, value in [(b"person", b"hello world"), (b"json", b"from json")]:
        assert cluster.primaryOf(key).command(b"GET", key) == value


def test_multiKeyAgreesWithNodes(fronts, cluster):
    """
    MSET, MGET, EXISTS, DEL, KEYS, SCAN and DBSIZE over keys on every
    primary agree with the nodes asked directly.
    """
    one, two = fronts
    keys = cluster.keysOnEveryPrimary(b"mk:", 4)
    r1, r2 = one.redis(), two.redis()
    assert r1.mset({k: b"v-" + k for k in keys}) is True
    for key in keys:
        assert cluster.primaryOf(key).command(b"GET", key) == b"v-" + key
    assert r2.mget(keys + [b"missing"]) == [b"v-" + k for k in keys] + [None]
    assert r2.exists(*keys) == len(keys)
    assert sorted(r2.keys("*")) == cluster.allKeys() == sorted(keys)
    assert r1.dbsize() == len(keys) == sum(
        n.command(b"DBSIZE") for n in cluster.primaries())
    assert sorted(r2.scan_iter(count=3)) == sorted(keys)
    assert sorted(r2.scan_iter(match="mk:1*")) == sorted(
        k for k in keys if k.startswith(b"mk:1"))
    assert r1.delete(*keys[:5]) == 5
    assert r2.exists(*keys) == len(keys) - 5
    assert cluster.allKeys() == sorted(keys[5:])
    assert r2.dbsize() == len(keys) - 5


def test_scanAcrossFrontEnds(fronts, cluster):
    """
    A SCAN cursor from one front end goes on through the other.
    """
    one, two = fronts
    keys = cluster.keysOnEveryPrimary(b"sc:", 3)
    one.redis().mset({k: b"1" for k in keys})
    seen = []
    cursor = 0
    clients = [one.redis(), two.redis()]
    turn = 0
    while True:
        cursor, found = clients[turn % 2].scan(cursor, count=2)
        seen.extend(found)
        turn += 1
        if cursor == 0:
            break
    assert sorted(seen) == sorted(keys)
    assert turn >= 3


def test_expiryAndLists(fronts, cluster):
    """
    Expiry set through a front end is the node's; lists too.
    """
    one, two = fronts
    r1, r2 = one.redis(), two.redis()
    r1.set("short", "v", px=300)
    r1.set("long", "v", ex=100)
    assert 0 < r2.pttl("short") <= 300
    assert 95 <= r2.ttl("long") <= 100
    assert cluster.primaryOf(b"long").command(b"TTL", b"long") > 90
    waitFor(lambda: not r2.exists("short"), timeout=5,
            what="the key to expire")
    assert r2.get("short") is None
    assert r1.rpush("queue", "a", "b", "c") == 3
    assert r2.lpop("queue") == b"a"
    assert r1.lrange("queue", 0, -1) == [b"b", b"c"]
    assert cluster.primaryOf(b"queue").command(
        b"LRANGE", b"queue", b"0", b"-1") == [b"b", b"c"]
    assert r2.persist("long") is True
    assert r1.ttl("long") == -1


def test_crossslot(fronts, cluster):
    """
    A command whose keys are in several slots answers CROSSSLOT (except
    those split by slot); a hash tag puts keys in one slot.
    """
    one, _ = fronts
    with one.textClient() as c:
        c.command("SET {a}x 1")
        assert c.command("RENAME {a}x {b}y") == \
            "CROSSSLOT Keys in request don't hash to the same slot"
        assert c.command("RENAME {a}x {a}y") == "OK"
        assert c.command("MSETNX k1 v k2 v").startswith("CROSSSLOT")
    assert crc16Slot(b"{a}y") == crc16Slot(b"a")
    assert cluster.primaryOf(b"a").command(b"GET", b"{a}y") == b"1"


def test_frontEndCommands(fronts, cluster):
    """
    PING, ECHO, CONFIG GET, COMMAND, TIME, HELP, SELECT 0, CLIENT and
    INFO answer on the front end; SAVE is refused in one line; INFO's
    Backend section describes the cluster and its keyspace sums the
    primaries.
    """
    one, _ = fronts
    r = one.redis()
    assert r.ping() is True
    assert r.echo("x") == b"x"
    assert r.config_get("backend") == {"backend": one.backend}
    assert r.config_get("dir") == {}
    assert r.execute_command("SELECT", 0) in (True, b"OK")
    r.mset({k: b"1" for k in cluster.keysOnEveryPrimary(b"in:", 2)})
    with one.textClient() as c:
        save = c.command("SAVE")
    assert save.startswith("ERR SAVE is not available through the "
                           "redis-cluster backend")
    info = one.info()
    assert info["backend"] == "redis-cluster"
    assert info["backend_state"] == "ok"
    assert info["backend_primaries"] == "3"
    assert info["backend_replicas"] == "3"
    assert info["backend_nodes"] == "6"
    assert info["backend_slots_covered"] == "16384"
    assert info["db0"].startswith("keys=6,")
    assert "connected_clients" in info


def test_movableKeys(fronts, cluster):
    """
    Commands whose keys move with their arguments (a count of keys then
    the keys, EVAL's keys, SORT's STORE) run on their keys' node when the
    keys share a slot, written data is where the nodes say, and CROSSSLOT
    is answered when the keys span slots, as Redis Cluster answers.
    """
    import redis
    one, two = fronts
    r1, r2 = one.redis(), two.redis()
    node = cluster.primaryOf(b"m")
    r1.rpush("{m}l1", "a", "b")
    r1.zadd("{m}z1", {"x": 1, "y": 2})
    r1.zadd("{m}z2", {"y": 3, "w": 4})
    r1.sadd("{m}s1", "p", "q")
    r1.sadd("{m}s2", "q")
    assert r2.lmpop(2, "{m}l0", "{m}l1", direction="LEFT") == [
        b"{m}l1", [b"a"]]
    assert r2.blmpop(1, 2, "{m}l0", "{m}l1", direction="RIGHT") == [
        b"{m}l1", [b"b"]]
    assert r2.zunionstore("{m}u", ["{m}z1", "{m}z2"]) == 3
    assert node.command(b"ZRANGE", b"{m}u", b"0", b"-1") == [
        b"x", b"w", b"y"]
    assert r2.zinterstore("{m}i", ["{m}z1", "{m}z2"]) == 1
    assert r2.zdiffstore("{m}d", ["{m}z1", "{m}z2"]) == 1
    assert node.command(b"ZRANGE", b"{m}d", b"0", b"-1") == [b"x"]
    assert r2.zunion(["{m}z1", "{m}z2"]) == [b"x", b"w", b"y"]
    assert r2.zinter(["{m}z1", "{m}z2"]) == [b"y"]
    assert r2.zdiff(["{m}z1", "{m}z2"]) == [b"x"]
    assert r2.sintercard(2, ["{m}s1", "{m}s2"]) == 1
    # The replies as sent in RESP2 (redis-py 8 speaks RESP3 unless told;
    # its versions reshape ZMPOP's reply differently: 7.0 on PyPy 3.9
    # flattens the pairs).
    plain = two.redis(protocol=2)
    for name in ("ZMPOP", "BZMPOP"):
        plain.response_callbacks.pop(name, None)
    assert plain.execute_command("ZMPOP", 2, "{m}z0", "{m}d", "MIN") == [
        b"{m}d", [[b"x", b"1"]]]
    assert plain.execute_command("BZMPOP", 1, 2, "{m}z0", "{m}i",
                                 "MAX") == [b"{m}i", [[b"y", b"5"]]]
    script = "return redis.call('ZCARD', KEYS[1]) + #KEYS"
    assert r2.eval(script, 2, "{m}z1", "{m}z2") == 4
    sha = r2.script_load(script)
    assert r1.evalsha(sha, 1, "{m}u") == 4
    assert r2.eval("return 7", 0) == 7
    r1.rpush("{m}n", "3", "1", "2")
    assert r2.sort("{m}n", store="{m}sorted") == 3
    assert node.command(b"LRANGE", b"{m}sorted", b"0", b"-1") == [
        b"1", b"2", b"3"]
    assert r2.sort_ro("{m}n") == [b"1", b"2", b"3"]

    far = next(k for k in (b"o%d" % (i,) for i in range(1000))
               if cluster.primaryOf(k) is not node)
    for call in (lambda: r2.lmpop(2, "{m}l1", far, direction="LEFT"),
                 lambda: r2.blmpop(1, 2, "{m}l1", far, direction="LEFT"),
                 lambda: r2.zunionstore("{m}u", ["{m}z1", far]),
                 lambda: r2.zinterstore(far, ["{m}z1", "{m}z2"]),
                 lambda: r2.zdiffstore("{m}d", ["{m}z1", "{m}zz", far]),
                 lambda: r2.zunion(["{m}z1", far]),
                 lambda: r2.zinter([far, "{m}z1"]),
                 lambda: r2.zdiff(["{m}z1", far]),
                 lambda: r2.sintercard(2, ["{m}s1", far]),
                 lambda: r2.zmpop(2, ["{m}z1", far], min=True),
                 lambda: r2.bzmpop(1, 2, ["{m}z1", far], min=True),
                 lambda: r2.eval(script, 2, "{m}z1", far),
                 lambda: r2.evalsha(sha, 2, "{m}z1", far),
                 lambda: r2.sort("{m}n", store=far)):
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):
            call()
    assert cluster.allKeys() == sorted([
        b"{m}z1", b"{m}z2", b"{m}u", b"{m}s1", b"{m}s2", b"{m}n",
        b"{m}sorted"])


def test_transactionsAndBlocking(fronts, cluster):
    """
    MULTI/EXEC and WATCH on one slot, and a blocking pop woken by a push
    through the other front end.
    """
    one, two = fronts
    r1, r2 = one.redis(), two.redis()
    pipe = r1.pipeline(transaction=True)
    pipe.set("{t}a", 1).incr("{t}a").get("{t}a")
    assert pipe.execute() == [True, 2, b"2"]
    with r1.pipeline() as pipe:
        pipe.watch("{t}a")
        pipe.multi()
        pipe.set("{t}a", 10)
        r2.set("{t}a", 5)  # changes the watched key meanwhile
        import redis
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert r1.get("{t}a") == b"5"

    import threading
    got = []
    waiter = threading.Thread(
        target=lambda: got.append(one.redis().blpop("jobs", timeout=5)))
    waiter.start()
    node = cluster.primaryOf(b"jobs")
    waitFor(lambda: b"cmd=blpop" in node.command(b"CLIENT", b"LIST"),
            what="the BLPOP to wait on its node")
    assert r2.rpush("jobs", "job1") == 1
    waiter.join(10)
    assert got == [(b"jobs", b"job1")]
    assert r1.blpop("empty", timeout=0.2) is None


def test_redisCli(fronts, cluster):
    """
    redis-cli through a front end, as a person would use it.
    """
    import subprocess
    from tests.clusterharness import redisTool
    one, _ = fronts
    script = b"SET cli hello\nGET cli\nDBSIZE\nSAVE\nGET nothing\n"
    result = subprocess.run(
        [redisTool("redis-cli"), "-p", str(one.port)], input=script,
        capture_output=True, timeout=30)
    lines = result.stdout.decode().splitlines()
    assert lines[:3] == ["OK", "hello", "1"]
    assert lines[3].startswith("ERR SAVE is not available")


#: Commands whose RESP2 bytes through a front end must be Redis's own.
SAME_AS_REDIS = [
    [b"ZADD", b"{z}", b"1", b"a", b"2.5", b"b", b"3", b"c"],
    [b"ZRANGE", b"{z}", b"0", b"-1", b"WITHSCORES"],
    [b"ZRANGEBYSCORE", b"{z}", b"2", b"+inf", b"WITHSCORES"],
    [b"ZREVRANGE", b"{z}", b"0", b"1"],
    [b"ZPOPMIN", b"{z}", b"2"],
    [b"ZPOPMAX", b"{z}"],
    [b"ZSCORE", b"{z}", b"c"],
    [b"HSET", b"{z}h", b"f", b"v", b"g", b"w"],
    [b"HGETALL", b"{z}h"],
    [b"HMGET", b"{z}h", b"f", b"nope"],
    [b"LPOP", b"{z}missing", b"2"],
    [b"LPOP", b"{z}missing"],
    [b"BLPOP", b"{z}missing", b"0.05"],
    [b"RPUSH", b"{z}l", b"x", b"y"],
    [b"LPOP", b"{z}l", b"5"],
    [b"SADD", b"{z}s", b"m"],
    [b"SMEMBERS", b"{z}s"],
    [b"INCRBYFLOAT", b"{z}f", b"0.5"],
    [b"GET", b"{z}h"],
    [b"OBJECT", b"ENCODING", b"{z}l"],
    [b"EXISTS", b"{z}s", b"{z}nope"],
    [b"TYPE", b"{z}s"],
]


def test_resp2AsRedis(fronts, cluster):
    """
    In RESP2, a front end answers with the bytes the node itself gives
    (the front end speaks RESP3 to the nodes: null arrays, nested pairs
    and maps are shaped back).
    """
    import socket
    from tests.clusterharness import RespReader, encode
    one, _ = fronts
    node = cluster.primaryOf(b"{z}")
    viaFront = socket.create_connection(("127.0.0.1", one.port), timeout=10)
    front = RespReader(viaFront)
    got = []
    for argv in SAME_AS_REDIS:
        viaFront.sendall(encode(*argv))
        got.append(front.readRaw())
    viaFront.close()
    for n in cluster.primaries():
        n.command(b"FLUSHALL")
    direct = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    reader = RespReader(direct)
    expected = []
    for argv in SAME_AS_REDIS:
        direct.sendall(encode(*argv))
        expected.append(reader.readRaw())
    direct.close()
    for argv, mine, theirs in zip(SAME_AS_REDIS, got, expected):
        assert (argv, mine) == (argv, theirs)
