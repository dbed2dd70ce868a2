"""
Tests for L{kvtwist.test.properties}: without hypothesis, the property
tests are skipped with a reason and the rest of their module runs.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.test import properties
from kvtwist.test.properties import (SKIPPED, Anything, skippingGiven,
                                     unchangedSettings)


class StandInTests(SynchronousTestCase):
    """
    The stand-ins used when hypothesis is missing.
    """

    def test_strategiesDefine(self):
        """
        Strategies built, combined, mapped and decorated as the test
        modules do at import all work.
        """
        st = Anything()
        strategy = st.lists(st.binary(max_size=3) | st.sampled_from([b"a"]),
                            min_size=1).map(len)
        self.assertIsInstance(strategy, Anything)
        self.assertIsInstance(st.composite(lambda draw: 1), Anything)
        self.assertIsInstance(Anything().too_slow, Anything)

    def test_givenSkips(self):
        """
        A test decorated with C{given} (and C{settings}, either way round)
        is skipped with the reason; it is still the same function.
        """
        def test_something(self, data):
            pass
        decorated = unchangedSettings(deadline=None)(
            skippingGiven(Anything())(test_something))
        self.assertIs(decorated, test_something)
        self.assertEqual(decorated.skip, SKIPPED)
        self.assertIn("pip install 'kvtwist[test]'", SKIPPED)

    def test_chosen(self):
        """
        With hypothesis installed the module gives its names; without, the
        stand-ins and a reason.
        """
        try:
            import hypothesis
        except ImportError:
            self.assertEqual(properties.MISSING, SKIPPED)
            self.assertIs(properties.given, skippingGiven)
        else:
            self.assertIsNone(properties.MISSING)
            self.assertIs(properties.given, hypothesis.given)


class OnlyHereTests(SynchronousTestCase):
    """
    The test modules take hypothesis from L{kvtwist.test.properties}.
    """

    def test_noDirectImport(self):
        """
        No test module but L{kvtwist.test.properties} (and its tests)
        imports hypothesis itself: it would fail to import without the
        test extra.
        """
        import ast
        import os
        folder = os.path.dirname(os.path.abspath(properties.__file__))
        found = []
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".py") or name in (
                    "properties.py", "test_properties.py"):
                continue
            with open(os.path.join(folder, name)) as f:
                tree = ast.parse(f.read(), name)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    modules = [node.module or ""]
                else:
                    continue
                if any(m.split(".")[0] == "hypothesis" for m in modules):
                    found.append(name)
        self.assertEqual(found, [])
