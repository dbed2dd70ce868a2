"""
Tests for the set commands (L{kvtwist.commands.sets}).
"""

from kvtwist.replies import Error, SetReply
from kvtwist.test.test_commands_hashes import FamilyTestCase


class SetCommandTests(FamilyTestCase):
    """
    SADD and friends: Redis's replies, reply types and error texts.
    """

    def test_members(self):
        """
        SADD, SREM, SCARD, SISMEMBER, SMISMEMBER, SMEMBERS (a set).
        """
        self.assertEqual(self.call("SADD", "s", "a", "b", "a"), 2)
        self.assertEqual(self.call("SCARD", "s"), 2)
        self.assertEqual(self.call("SISMEMBER", "s", "a"), 1)
        self.assertEqual(self.call("SMISMEMBER", "s", "a", "z"), [1, 0])
        members = self.call("SMEMBERS", "s")
        self.assertIs(type(members), SetReply)
        self.assertEqual(sorted(members), [b"a", b"b"])
        self.assertEqual(self.call("SREM", "s", "a", "z"), 1)
        self.assertEqual(self.call("TYPE", "s"), "set")

    def test_wire(self):
        """
        SMEMBERS is C{~} in RESP3 and an array in RESP2; SPOP with a count
        is a set; SRANDMEMBER with a count an array.
        """
        self.call("SADD", "s", "a")
        self.assertEqual(self.wire(3, "SMEMBERS", "s"), b"~1\r\n$1\r\na\r\n")
        self.assertEqual(self.wire(2, "SMEMBERS", "s"), b"*1\r\n$1\r\na\r\n")
        self.assertEqual(self.wire(3, "SMEMBERS", "nope"), b"~0\r\n")
        self.assertEqual(self.wire(3, "SRANDMEMBER", "s", "-2"),
                         b"*2\r\n$1\r\na\r\n$1\r\na\r\n")
        self.assertEqual(self.wire(3, "SPOP", "s", "0"), b"~0\r\n")
        self.assertEqual(self.wire(3, "SPOP", "s", "3"), b"~1\r\n$1\r\na\r\n")
        self.assertEqual(self.wire(3, "SPOP", "s", "3"), b"~0\r\n")

    def test_popAndRandom(self):
        """
        SPOP and SRANDMEMBER without a count answer one member or nil;
        Redis's errors for a bad count.
        """
        self.call("SADD", "s", "a")
        self.assertEqual(self.call("SRANDMEMBER", "s"), b"a")
        self.assertEqual(self.call("SPOP", "s"), b"a")
        self.assertIsNone(self.call("SPOP", "s"))
        self.assertIsNone(self.call("SRANDMEMBER", "s"))
        self.assertEqual(self.call("SRANDMEMBER", "s", "3"), [])
        self.assertEqual(self.call("SPOP", "s", "-1"), Error(
            "ERR value is out of range, must be positive"))
        self.assertEqual(self.call("SPOP", "s", "x"), Error(
            "ERR value is not an integer or out of range"))
        self.assertEqual(self.call("SPOP", "s", "1", "2"),
                         Error("ERR syntax error"))

    def test_algebra(self):
        """
        SINTER, SUNION, SDIFF and their STORE forms, SINTERCARD with its
        errors, SMOVE.
        """
        self.call("SADD", "a", "1", "2", "3")
        self.call("SADD", "b", "2", "3", "4")
        self.assertEqual(sorted(self.call("SINTER", "a", "b")), [b"2", b"3"])
        self.assertEqual(sorted(self.call("SUNION", "a", "b")),
                         [b"1", b"2", b"3", b"4"])
        self.assertEqual(sorted(self.call("SDIFF", "a", "b")), [b"1"])
        self.assertEqual(self.call("SINTERSTORE", "d", "a", "b"), 2)
        self.assertEqual(self.call("SUNIONSTORE", "d", "a", "b"), 4)
        self.assertEqual(self.call("SDIFFSTORE", "d", "a", "b"), 1)
        self.assertEqual(self.call("SMEMBERS", "d"), [b"1"])
        self.assertEqual(self.call("SDIFFSTORE", "d", "b", "b"), 0)
        self.assertEqual(self.call("EXISTS", "d"), 0)
        self.assertEqual(self.call("SINTERCARD", "2", "a", "b"), 2)
        self.assertEqual(self.call("SINTERCARD", "2", "a", "b", "LIMIT",
                                   "1"), 1)
        for words, text in [
                (["0", "a"], "ERR numkeys should be greater than 0"),
                (["3", "a", "b"], "ERR Number of keys can't be greater than "
                 "number of args"),
                (["1", "a", "LIMIT", "-1"], "ERR LIMIT can't be negative"),
                (["1", "a", "foo"], "ERR syntax error"),
                (["x", "a"], "ERR value is not an integer or out of range")]:
            self.assertEqual(self.call("SINTERCARD", *words), Error(text))
        self.assertEqual(self.call("SMOVE", "a", "b", "1"), 1)
        self.assertEqual(self.call("SMOVE", "a", "b", "1"), 0)
        self.assertEqual(self.call("SISMEMBER", "b", "1"), 1)

    def test_wrongType(self):
        """
        Set commands on a string answer WRONGTYPE; a STORE form overwrites
        a destination of any type.
        """
        self.call("SET", "str", "x")
        self.call("SADD", "a", "1")
        for words in (["SADD", "str", "a"], ["SMEMBERS", "str"],
                      ["SINTER", "a", "str"], ["SUNION", "str"],
                      ["SPOP", "str"], ["SSCAN", "str", "0"],
                      ["SMOVE", "a", "str", "1"]):
            self.assertEqual(self.call(*words).split(" ")[0], "WRONGTYPE")
        self.assertEqual(self.call("SUNIONSTORE", "str", "a"), 1)
        self.assertEqual(self.call("TYPE", "str"), "set")

    def test_scan(self):
        """
        SSCAN with MATCH; a missing key is an empty scan.
        """
        self.call("SADD", "s", "a1", "b1")
        self.assertEqual(self.call("SSCAN", "s", "0", "MATCH", "a*"),
                         [b"0", [b"a1"]])
        self.assertEqual(self.call("SSCAN", "nope", "0"), [b"0", []])
        self.assertEqual(self.call("SSCAN", "s", "0", "NOVALUES"),
                         Error("ERR syntax error"))
