"""
Hashes, sets and sorted sets beside a real redis-server (the one of
L{tests.test_redis_parity_e2e}): the same bytes, in RESP2 and RESP3, for
requests whose replies are deterministic, errors included.

Scores are chosen so that Redis 7.0 (C{%.17g}) and 7.2+ (shortest form,
as kvtwist writes them) agree: integers, halves, quarters, infinities.
"""

import pytest

from tests import test_redis_parity_e2e as parity
from tests.test_redis_parity_e2e import REDIS_SERVER

#: The parity module's fixtures, used here too: its redis-server (one for
#: both modules) and the pair of raw clients.
redisSocket = parity.redisSocket
pair = parity.pair

pytestmark = pytest.mark.skipif(REDIS_SERVER is None,
                                reason="redis-server is not installed")

#: Requests answered with the same bytes by both servers, in order.
SAME = [
    # hashes
    ["HSET", "h", "a", "1", "b", "2"], ["HSET", "h", "a", "3"],
    ["HSET", "h", "a"], ["HMSET", "h", "c", "x"], ["HGET", "h", "a"],
    ["HGET", "h", "nope"], ["HGET", "nope", "a"], ["HMGET", "h", "a", "z"],
    ["HLEN", "h"], ["HEXISTS", "h", "a"], ["HSTRLEN", "h", "c"],
    ["HSETNX", "h", "a", "9"], ["HSETNX", "h", "d", "9"],
    ["HINCRBY", "h", "a", "5"], ["HINCRBY", "h", "c", "1"],
    ["HINCRBY", "h", "a", "x"], ["HINCRBY", "h", "a", "9223372036854775807"],
    ["HINCRBYFLOAT", "h", "f", "10.5"], ["HINCRBYFLOAT", "h", "f", "0.1"],
    ["HINCRBYFLOAT", "h", "f", "abc"], ["HINCRBYFLOAT", "h", "c", "1"],
    ["HINCRBYFLOAT", "h", "f", "inf"], ["HINCRBYFLOAT", "h", "g", "1e30"],
    ["HINCRBYFLOAT", "h", "g", "1"], ["HGETALL", "nope"],
    ["HRANDFIELD", "nope"], ["HRANDFIELD", "nope", "3"],
    ["HRANDFIELD", "h", "1", "x"], ["HSCAN", "nope", "0"],
    ["HSCAN", "h", "x"], ["HDEL", "h", "a", "b", "c", "nope"],
    ["HKEYS", "nope"], ["HVALS", "nope"], ["TYPE", "h"],
    ["SET", "str", "v"], ["HGET", "str", "a"], ["HSET", "str", "a", "1"],
    # sets
    ["SADD", "s", "a", "b", "a"], ["SADD", "s1", "only"], ["SREM", "s", "b"],
    ["SMEMBERS", "s1"], ["SMEMBERS", "nope"], ["SISMEMBER", "s", "a"],
    ["SMISMEMBER", "s", "a", "z"], ["SCARD", "s"], ["SPOP", "nope"],
    ["SPOP", "nope", "2"], ["SPOP", "s", "0"], ["SPOP", "s", "-1"],
    ["SRANDMEMBER", "nope"], ["SRANDMEMBER", "nope", "2"],
    ["SRANDMEMBER", "s1", "-2"], ["SINTER", "s", "s1"],
    ["SINTER", "s", "nope", "str"], ["SUNION", "s", "str"],
    ["SINTERSTORE", "d", "s", "s1"], ["EXISTS", "d"],
    ["SUNIONSTORE", "d", "s", "s1"], ["SDIFFSTORE", "d", "s", "s1"],
    ["SMEMBERS", "d"], ["SINTERCARD", "2", "s", "s1"],
    ["SINTERCARD", "0", "s"], ["SINTERCARD", "3", "s"],
    ["SINTERCARD", "1", "s", "LIMIT", "-1"], ["SINTERCARD", "1", "s", "x"],
    ["SMOVE", "s", "s1", "a"], ["SMOVE", "s", "s1", "a"], ["EXISTS", "s"],
    ["SMOVE", "s1", "str", "only"], ["SSCAN", "nope", "0"],
    ["SSCAN", "s1", "0", "COUNT", "0"], ["TYPE", "s1"],
    # sorted sets
    ["ZADD", "z", "1", "a", "2.5", "b", "inf", "c", "-inf", "d"],
    ["ZADD", "z", "NX", "5", "a"], ["ZADD", "z", "XX", "CH", "0.5", "a"],
    ["ZADD", "z", "GT", "CH", "0.25", "a"], ["ZADD", "z", "INCR", "2", "a"],
    ["ZADD", "z", "NX", "INCR", "1", "a"], ["ZADD", "z", "XX", "NX", "1", "a"],
    ["ZADD", "z", "GT", "LT", "1", "a"], ["ZADD", "z", "INCR", "1", "a", "2",
                                          "b"],
    ["ZADD", "z", "1", "a", "2"], ["ZADD", "z", "abc", "a"],
    ["ZADD", "z", "nan", "a"], ["ZINCRBY", "z", "-inf", "c"],
    ["ZINCRBY", "z", "0.5", "b"], ["ZSCORE", "z", "b"], ["ZSCORE", "z", "c"],
    ["ZSCORE", "z", "nope"], ["ZMSCORE", "z", "a", "nope", "d"],
    ["ZCARD", "z"], ["ZCOUNT", "z", "(1", "+inf"], ["ZCOUNT", "z", "x", "1"],
    ["ZRANK", "z", "b"], ["ZREVRANK", "z", "b"], ["ZRANK", "z", "nope"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZRANGE", "z", "1", "2"],
    ["ZRANGE", "z", "0", "-1", "REV", "WITHSCORES"],
    ["ZRANGE", "z", "(1", "+inf", "BYSCORE", "LIMIT", "1", "2"],
    ["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "WITHSCORES"],
    ["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"],
    ["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"],
    ["ZRANGEBYSCORE", "z", "-inf", "(3", "WITHSCORES"],
    ["ZRANGEBYSCORE", "z", "a", "b"], ["ZRANGEBYSCORE", "z", "0", "1",
                                       "LIMIT", "0"],
    ["ZREVRANGEBYSCORE", "z", "+inf", "2", "LIMIT", "0", "1"],
    ["ZREVRANGE", "z", "0", "0", "WITHSCORES"],
    ["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d"],
    ["ZRANGEBYLEX", "l", "[b", "(d"], ["ZRANGEBYLEX", "l", "-", "+",
                                       "LIMIT", "1", "2"],
    ["ZREVRANGEBYLEX", "l", "+", "(b"], ["ZRANGEBYLEX", "l", "a", "b"],
    ["ZRANGE", "l", "-", "+", "BYLEX", "WITHSCORES"],
    ["ZLEXCOUNT", "l", "-", "+"], ["ZLEXCOUNT", "l", "+", "-"],
    ["ZRANGESTORE", "r", "l", "[b", "+", "BYLEX"], ["ZRANGE", "r", "0", "-1"],
    ["ZRANGESTORE", "r", "l", "5", "9"], ["EXISTS", "r"],
    ["ZUNIONSTORE", "u", "2", "z", "l", "WEIGHTS", "2", "1"],
    ["ZRANGE", "u", "0", "-1", "WITHSCORES"],
    ["ZINTERSTORE", "i", "2", "z", "l", "AGGREGATE", "MAX"],
    ["ZUNIONSTORE", "u", "0", "z"], ["ZUNIONSTORE", "u", "2", "z"],
    ["ZUNIONSTORE", "u", "1", "z", "WEIGHTS", "x"],
    ["ZUNIONSTORE", "u", "1", "z", "AGGREGATE", "avg"],
    ["ZUNIONSTORE", "u", "2", "z", "str"], ["ZUNIONSTORE", "u", "2", "z",
                                            "s1"],
    ["ZRANGE", "u", "0", "-1", "WITHSCORES"],
    ["ZPOPMIN", "u"], ["ZPOPMAX", "u", "2"], ["ZPOPMIN", "nope"],
    ["ZPOPMAX", "nope", "3"], ["ZPOPMIN", "u", "-1"],
    ["ZADD", "m1", "1", "a", "2.5", "b", "-inf", "c"],
    ["ZMPOP", "2", "nope", "m1", "MIN"], ["ZMPOP", "2", "nope", "m1", "max",
                                         "COUNT", "5"],
    ["EXISTS", "m1"], ["ZMPOP", "1", "nope", "MIN"], ["ZMPOP", "0", "u",
                                                     "MIN"],
    ["ZMPOP", "x", "u", "MIN"], ["ZMPOP", "2", "u", "MIN"],
    ["ZMPOP", "1", "u", "LEFT"], ["ZMPOP", "1", "u", "MIN", "COUNT", "0"],
    ["ZMPOP", "1", "u", "MIN", "COUNT", "x"],
    ["ZMPOP", "1", "u", "MIN", "COUNT", "1", "COUNT", "1"],
    ["ZMPOP", "1", "u", "MIN", "FOO"], ["ZMPOP", "2", "str", "u", "MIN"],
    ["ZMPOP", "2", "u", "str", "MAX", "COUNT", "2"],
    ["ZREMRANGEBYRANK", "l", "0", "0"], ["ZREMRANGEBYSCORE", "z", "(0",
                                         "3"],
    ["ZREMRANGEBYLEX", "l", "-", "[c"], ["ZRANGE", "l", "0", "-1"],
    ["ZREM", "z", "c", "d", "nope"], ["ZRANGE", "z", "0", "-1"],
    ["ZSCAN", "nope", "0"], ["ZSCAN", "l", "0"], ["ZSCAN", "l", "0",
                                                  "MATCH", "x*"],
    ["TYPE", "l"], ["ZADD", "str", "1", "a"], ["ZRANGE", "str", "0", "1"],
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_sameReplies(pair, protocol):
    """
    The requests of L{SAME}: the same bytes from both servers.
    """
    redis, kvtwist = pair
    for client in pair:
        client.call("HELLO", protocol)
    for words in SAME:
        assert kvtwist.call(*words) == redis.call(*words), words
