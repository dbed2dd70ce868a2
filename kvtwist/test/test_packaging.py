"""
What C{pip install .} installs: every package of kvtwist.  setup.cfg lists
them one by one (C{packages = find:} would drop C{twisted.plugins}), so a
new package must be added there; an editable install hides the omission,
a plain one doesn't.
"""

import configparser
import os

from twisted.trial.unittest import SynchronousTestCase

import kvtwist


class PackagesListedTests(SynchronousTestCase):
    """
    setup.cfg lists every package of kvtwist (run from a checkout).
    """

    def test_everyPackage(self):
        """
        Each directory of kvtwist with an C{__init__.py} is in setup.cfg's
        C{packages}, and so is C{twisted.plugins}.
        """
        top = os.path.dirname(os.path.abspath(kvtwist.__file__))
        setupCfg = os.path.join(os.path.dirname(top), "setup.cfg")
        if not os.path.exists(setupCfg):
            raise self.skipTest("not a checkout: no setup.cfg beside kvtwist")
        parser = configparser.ConfigParser()
        parser.read(setupCfg)
        listed = set(parser.get("options", "packages").split())
        found = set()
        for directory, _, files in os.walk(top):
            if "__init__.py" in files:
                relative = os.path.relpath(directory, os.path.dirname(top))
                found.add(relative.replace(os.sep, "."))
        self.assertEqual(sorted(found - listed), [])
        self.assertIn("twisted.plugins", listed)
