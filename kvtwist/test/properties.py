# -*- test-case-name: kvtwist.test.test_properties -*-
"""
hypothesis for the property tests, when it is installed.

hypothesis comes with the C{test} extra (C{pip install 'kvtwist[test]'}).
After a plain C{pip install kvtwist}, C{trial kvtwist} must still pass, so
test modules take C{given}, C{settings}, C{HealthCheck} and C{st} from
here: without hypothesis, each test decorated with C{given} is skipped,
saying why, and the module's other tests run::

    from kvtwist.test.properties import given, settings, st

    class ParserTests(SynchronousTestCase):
        @given(st.binary())
        def test_anyBytes(self, data):
            ...
"""

from typing import Optional

#: Why the property tests are skipped, or L{None} when they run.
MISSING: Optional[str] = None

SKIPPED = ("hypothesis is not installed: pip install 'kvtwist[test]' for "
           "the property tests")


class Anything:
    """
    Stands for any strategy, setting or health check while the test
    classes are defined without hypothesis: every attribute, call and
    combination is itself.
    """

    def __getattr__(self, name: str) -> "Anything":
        return self

    def __call__(self, *args, **kwargs) -> "Anything":
        return self

    def __or__(self, other) -> "Anything":
        return self

    __ror__ = __or__


def skippingGiven(*args, **kwargs):
    """
    C{given} without hypothesis: the test is skipped, saying why.
    """
    def skipped(test):
        test.skip = SKIPPED
        return test
    return skipped


def unchangedSettings(*args, **kwargs):
    """
    C{settings} without hypothesis: the test is left as it is.
    """
    def unchanged(test):
        return test
    return unchanged


try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:
    MISSING = SKIPPED
    st = HealthCheck = Anything()
    given = skippingGiven
    settings = unchangedSettings

__all__ = ["HealthCheck", "MISSING", "given", "settings", "st"]
