"""
Tests for L{kvtwist.backends.cluster.slots} and
L{kvtwist.backends.cluster.config}: hash slots, the slot table, the
C{--backend} and C{--backend-wait} values.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.cluster.config import (
    isCluster, parseClusterURL, parseWait)
from kvtwist.backends.cluster.slots import (
    SLOTS, Address, SlotRange, SlotTable, keySlot, parseAddress,
    parseClusterSlots)


def bitwiseCrc16(data: bytes) -> int:
    """
    CRC16-CCITT (XMODEM) bit by bit, as Redis's cluster specification
    defines it, to check the library one against.
    """
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


class KeySlotTests(SynchronousTestCase):
    """
    L{keySlot}.
    """

    def test_specificationValue(self):
        """
        The specification's check value: CRC16 of C{123456789} is
        C{0x31C3}; and values C{CLUSTER KEYSLOT} gives.
        """
        self.assertEqual(bitwiseCrc16(b"123456789"), 0x31C3)
        self.assertEqual(keySlot(b"123456789"), 0x31C3 % SLOTS)
        self.assertEqual(keySlot(b"foo"), 12182)
        self.assertEqual(keySlot(b"bar"), 5061)
        self.assertEqual(keySlot(b""), 0)

    def test_againstBitwise(self):
        """
        L{keySlot} agrees with the bitwise CRC for many keys.
        """
        for n in range(2000):
            key = b"key:%d:%s" % (n, bytes([n % 256]))
            self.assertEqual(keySlot(key), bitwiseCrc16(key) % SLOTS)

    def test_hashTags(self):
        """
        A key's slot is its hash tag's: what is between the first C{{}
        and the first C{}} after it, if that is not empty.
        """
        self.assertEqual(keySlot(b"{user1000}.following"),
                         keySlot(b"user1000"))
        self.assertEqual(keySlot(b"{user1000}.followers"),
                         keySlot(b"{user1000}.following"))
        self.assertEqual(keySlot(b"foo{}{bar}"),
                         bitwiseCrc16(b"foo{}{bar}") % SLOTS)
        self.assertEqual(keySlot(b"foo{{bar}}zap"), keySlot(b"{bar"))
        self.assertEqual(keySlot(b"foo{bar}{zap}"), keySlot(b"bar"))
        self.assertEqual(keySlot(b"foo{bar"),
                         bitwiseCrc16(b"foo{bar") % SLOTS)


class SlotTableTests(SynchronousTestCase):
    """
    C{CLUSTER SLOTS} replies and the table made of them.
    """

    reply = [
        [0, 5460, [b"10.0.0.1", 7000, b"id1"], [b"10.0.0.4", 7000, b"id4"]],
        [5461, 10922, [b"", 7001, b"id2"]],
        [10923, 16383, [b"10.0.0.3", 7002, b"id3", []]],
    ]

    def test_parse(self):
        """
        Each entry's range, primary and replicas; an empty host is the
        host that answered.
        """
        ranges = parseClusterSlots(self.reply, Address("10.0.0.9", 7000))
        self.assertEqual(ranges[0], SlotRange(
            0, 5460, Address("10.0.0.1", 7000), "id1",
            (Address("10.0.0.4", 7000),)))
        self.assertEqual(ranges[1].primary, Address("10.0.0.9", 7001))

    def test_badReply(self):
        """
        What is not C{CLUSTER SLOTS}'s shape is a L{ValueError}.
        """
        for bad in [b"nope", [[0]], [[0, 20000, [b"h", 1, b"i"]]]]:
            self.assertRaises(ValueError, parseClusterSlots, bad,
                              Address("h", 1))

    def test_table(self):
        """
        The table says who serves each slot, how many are covered, the
        primaries by lowest slot.
        """
        table = SlotTable(parseClusterSlots(self.reply[::-1],
                                            Address("10.0.0.2", 7001)))
        self.assertEqual(table.covered(), SLOTS)
        self.assertEqual(table.primaries[0], Address("10.0.0.1", 7000))
        self.assertEqual(table.primaries[16383], Address("10.0.0.3", 7002))
        self.assertEqual([a.port for a in table.primaryAddresses()],
                         [7000, 7001, 7002])
        self.assertEqual(table.replicaCount(), 1)
        self.assertEqual(table.lowestSlot(Address("10.0.0.3", 7002)), 10923)
        self.assertEqual(len(table.allAddresses()), 4)

    def test_uncovered(self):
        """
        Slots no entry names have no node.
        """
        table = SlotTable(parseClusterSlots(self.reply[:1],
                                            Address("h", 1)))
        self.assertEqual(table.covered(), 5461)
        self.assertIsNone(table.primaries[5461])

    def test_address(self):
        """
        C{HOST:PORT}, IPv6 in brackets too.
        """
        self.assertEqual(parseAddress("[::1]:7000"), Address("::1", 7000))
        self.assertEqual(str(Address("h", 1)), "h:1")
        for bad in ["h", "h:x", "h:0", "h:70000"]:
            self.assertRaises(ValueError, parseAddress, bad)


class ConfigTests(SynchronousTestCase):
    """
    The C{--backend} and C{--backend-wait} values.
    """

    def test_url(self):
        """
        Seeds, deduplicated; TLS with C{rediss-cluster://}.
        """
        url = parseClusterURL("redis-cluster://10.0.0.1:7000,10.0.0.2:7000,"
                              "10.0.0.1:7000")
        self.assertEqual(url.seeds, (Address("10.0.0.1", 7000),
                                     Address("10.0.0.2", 7000)))
        self.assertFalse(url.tls)
        self.assertTrue(parseClusterURL("rediss-cluster://h:1").tls)
        self.assertTrue(isCluster("redis-cluster://h:1"))
        self.assertFalse(isCluster("memory"))

    def test_badUrl(self):
        """
        Mistakes are L{ValueError}s saying what is wrong.
        """
        for bad, word in [("redis://h:1", "must be memory or"),
                          ("redis-cluster://", "names no node"),
                          ("redis-cluster://h", "is not HOST:PORT"),
                          ("redis-cluster://:7000", "has no host")]:
            e = self.assertRaises(ValueError, parseClusterURL, bad)
            self.assertIn(word, str(e))

    def test_wait(self):
        """
        C{N} or C{N:MS}; MS defaults to 1000 and must be under the
        timeout.
        """
        self.assertEqual(parseWait(None, 5), (0, 0))
        self.assertEqual(parseWait("1", 5), (1, 1000))
        self.assertEqual(parseWait("2:300", 5), (2, 300))
        for bad, word in [("x", "N or N:MS"), ("1:", "N or N:MS"),
                          ("0", "at least 1"), ("1:0", "wait for ever"),
                          ("1:5000", "less than --backend-timeout")]:
            e = self.assertRaises(ValueError, parseWait, bad, 5)
            self.assertIn(word, str(e))
