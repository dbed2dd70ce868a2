"""
Tests for L{benchmarks.memory}: reading C{/proc} status text.
"""

from twisted.trial.unittest import SynchronousTestCase

from benchmarks.memory import parseVmRSS


class VmRSSTests(SynchronousTestCase):
    """
    L{parseVmRSS}.
    """

    def test_kilobytes(self):
        """
        VmRSS in kB is returned in bytes.
        """
        status = "Name:\tredis-server\nVmHWM:\t  9000 kB\nVmRSS:\t  8124 kB\n"
        self.assertEqual(parseVmRSS(status), 8124 * 1024)

    def test_missing(self):
        """
        No VmRSS line (a zombie) is an error.
        """
        self.assertRaises(ValueError, parseVmRSS, "Name:\tx\n")
