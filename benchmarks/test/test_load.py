"""
Tests for L{benchmarks.load}: the loader's key names.
"""

from twisted.trial.unittest import SynchronousTestCase

from benchmarks.load import keyName, keyWidth


class KeyNameTests(SynchronousTestCase):
    """
    L{keyName} and L{keyWidth}.
    """

    def test_keys(self):
        """
        Key names are zero-padded to at least six digits.
        """
        self.assertEqual(keyName(42, keyWidth(1000000)),
                         b"key:000042")
        self.assertEqual(keyWidth(10000001), 8)
