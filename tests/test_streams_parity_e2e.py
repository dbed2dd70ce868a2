"""
Streams beside a real redis-server (the one of
L{tests.test_redis_parity_e2e}): the same bytes, in RESP2 and RESP3, for
requests with explicit IDs (replies that don't depend on the clock),
errors included.  Trimming uses C{=} only: Redis's C{~} trims by whole
nodes, kvtwist's exactly.
"""

import pytest

from tests import test_redis_parity_e2e as parity
from tests.test_redis_parity_e2e import REDIS_SERVER

#: The parity module's fixtures, used here too.
redisSocket = parity.redisSocket
pair = parity.pair

pytestmark = pytest.mark.skipif(REDIS_SERVER is None,
                                reason="redis-server is not installed")

#: Requests answered with the same bytes by both servers, in order.
SAME = [
    ["XLEN", "x"], ["XRANGE", "x", "-", "+"], ["XREVRANGE", "x", "+", "-"],
    ["XDEL", "x", "1-1"], ["XTRIM", "x", "MAXLEN", "1"],
    ["XADD", "x", "NOMKSTREAM", "1-1", "f", "v"], ["EXISTS", "x"],
    ["XADD", "x", "0-0", "f", "v"], ["EXISTS", "x"],
    ["XADD", "x", "1-1", "f", "v"], ["XADD", "x", "1-1", "f", "v"],
    ["XADD", "x", "1-0", "f", "v"], ["XADD", "x", "1-*", "a", "1", "b", "2"],
    ["XADD", "x", "1", "f", "v"], ["XADD", "x", "5", "f", "v"],
    ["XADD", "x", "5-*", "f", "v"], ["XADD", "x", "4-*", "f", "v"],
    ["XADD", "x", "7-3", "f"], ["XADD", "x", "7-3", "f", "v", "g"],
    ["XADD", "x", "abc", "f", "v"], ["XADD", "x", "1-x", "f", "v"],
    ["XADD", "x", "-", "f", "v"], ["XADD", "x", "+", "f", "v"],
    ["XADD", "x", "18446744073709551616-1", "f", "v"],
    ["XADD", "x", "MAXLEN", "-1", "9-0", "f", "v"],
    ["XADD", "x", "MAXLEN", "x", "9-0", "f", "v"],
    ["XADD", "x", "MAXLEN", "10", "LIMIT", "5", "9-0", "f", "v"],
    ["XADD", "x", "MAXLEN", "10", "MINID", "1", "9-0", "f", "v"],
    ["XADD", "x", "MINID", "-", "9-0", "f", "v"],
    ["XADD", "x", "MAXLEN", "=", "10", "8-0", "f", "v"],
    ["XADD", "x", "10-0", "f", "v"], ["XADD", "x", "11-0", "f", "v"],
    ["XLEN", "x"], ["TYPE", "x"], ["OBJECT", "ENCODING", "x"],
    ["XRANGE", "x", "-", "+"], ["XRANGE", "x", "-", "+", "COUNT", "2"],
    ["XRANGE", "x", "-", "+", "COUNT", "0"],
    ["XRANGE", "x", "-", "+", "COUNT", "-3"],
    ["XRANGE", "x", "-", "+", "COUNT"], ["XRANGE", "x", "-", "+", "LIMIT",
                                         "1"],
    ["XRANGE", "x", "-", "+", "COUNT", "x"],
    ["XRANGE", "x", "1", "1"], ["XRANGE", "x", "(1-1", "5"],
    ["XRANGE", "x", "(1", "(5-1"], ["XRANGE", "x", "5", "1"],
    ["XRANGE", "x", "(-", "+"], ["XRANGE", "x", "-", "(+"],
    ["XRANGE", "x", "(18446744073709551615-18446744073709551615", "+"],
    ["XRANGE", "x", "-", "(0-0"], ["XRANGE", "x", "-", "(0"],
    ["XRANGE", "x", "x", "+"], ["XRANGE", "x", "-", "1-"],
    ["XRANGE", "nope", "-", "+", "COUNT", "0"],
    ["XREVRANGE", "x", "+", "-"], ["XREVRANGE", "x", "+", "-", "COUNT", "2"],
    ["XREVRANGE", "x", "5", "1"], ["XREVRANGE", "x", "(5-1", "(1"],
    ["XREVRANGE", "x", "1", "5"], ["XREVRANGE", "x", "+", "-", "COUNT", "0"],
    ["XDEL", "x", "1-1", "1-1", "99-0"], ["XDEL", "x", "x"],
    ["XDEL", "x", "-"], ["XDEL", "x", "1"], ["XLEN", "x"],
    ["XTRIM", "x", "MAXLEN", "4"], ["XRANGE", "x", "-", "+"],
    ["XTRIM", "x", "MINID", "7"], ["XRANGE", "x", "-", "+"],
    ["XTRIM", "x", "MAXLEN", "=", "0"], ["XLEN", "x"], ["EXISTS", "x"],
    ["XADD", "x", "11-0", "f", "v"], ["XADD", "x", "12-*", "f", "v"],
    ["XTRIM", "x"], ["XTRIM", "x", "MAXLEN"], ["XTRIM", "x", "FOO", "1"],
    ["XTRIM", "x", "MAXLEN", "1", "LIMIT", "1"],
    ["XTRIM", "x", "MAXLEN", "-1"], ["XTRIM", "x", "MINID", "+"],
    ["XTRIM", "nope", "MAXLEN", "0"],
    ["XADD", "y", "MAXLEN", "0", "3-3", "f", "v"], ["XLEN", "y"],
    ["XADD", "y", "3-3", "f", "v"], ["XADD", "y", "3-*", "f", "v"],
    ["XADD", "y", "MINID", "3-5", "3-5", "f", "v"],
    ["XRANGE", "y", "-", "+"],
    ["SET", "str", "v"], ["XADD", "str", "1-1", "f", "v"], ["XLEN", "str"],
    ["XRANGE", "str", "-", "+"], ["XDEL", "str", "1"],
    ["XTRIM", "str", "MAXLEN", "0"], ["XADD", "str", "0-0", "f", "v"],
    ["LPUSH", "l", "a"], ["XREVRANGE", "l", "+", "-"],
    ["XADD", "x"], ["XLEN"], ["XRANGE", "x", "-"],
    # XREAD, without BLOCK
    ["XADD", "r1", "1-1", "a", "1"], ["XADD", "r1", "2-0", "b", "2"],
    ["XADD", "r2", "5-5", "c", "3"],
    ["XREAD", "STREAMS", "r1", "0"], ["XREAD", "COUNT", "1", "STREAMS",
                                      "r1", "r2", "0-0", "0"],
    ["XREAD", "STREAMS", "r1", "r2", "nope", "1-1", "5-5", "0"],
    ["XREAD", "STREAMS", "r1", "r2", "$", "$"],
    ["XREAD", "STREAMS", "r1", "1"], ["XREAD", "STREAMS", "nope", "$"],
    ["XREAD", "COUNT", "-1", "STREAMS", "r1", "1-1"],
    ["XREAD", "COUNT", "0", "STREAMS", "r1", "1-1"],
    ["XREAD", "STREAMS", "r1", "r2", "0"], ["XREAD", "STREAMS", "r1", "x"],
    ["XREAD", "STREAMS", "r1", "+"], ["XREAD", "STREAMS", "r1", "-"],
    ["XREAD", "STREAMS", "r1", ">"], ["XREAD", "COUNT", "1", "r1", "0"],
    ["XREAD", "GROUP", "g", "c", "STREAMS", "r1", ">"],
    ["XREAD", "STREAMS", "r1", "18446744073709551615-18446744073709551615"],
    ["XREAD", "STREAMS", "str", "0"], ["XREAD", "COUNT", "x", "STREAMS",
                                       "r1", "0"],
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
