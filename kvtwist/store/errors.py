# -*- test-case-name: kvtwist.test.test_store -*-
"""
What the store raises when an operation can't be done; commands turn each
into Redis's error reply.
"""


class WrongType(Exception):
    """
    An operation was attempted against a key holding the wrong kind of value.
    """


class NotAnInteger(Exception):
    """
    A value that should be an integer is not one, or overflowed.
    """


class NoSuchKey(Exception):
    """
    The key an operation requires does not exist.
    """


class OutOfRange(Exception):
    """
    A list index is out of range.
    """


class Refused(Exception):
    """
    An operation refused with a reason of its own: the first argument is
    Redis's error text for it (C{"ERR hash value is not an integer"}),
    which the command answers as it is.
    """

    @property
    def text(self) -> str:
        """
        Redis's error text.
        """
        return self.args[0]
