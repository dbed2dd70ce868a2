"""
Jobs for the RQ end-to-end tests (L{tests.test_apps_e2e}): a real
C{rq worker} process imports this module by name and runs them.

Each job that succeeds also writes a file, so a test can see that the
worker ran it even where RQ cannot record the outcome on kvtwist.
"""

from typing import Optional


def add(a: int, b: int, marker: Optional[str] = None) -> int:
    """
    Return C{a + b}; first write the sum to the file C{marker}, if given.
    """
    if marker is not None:
        with open(marker, "w") as f:
            f.write(str(a + b))
    return a + b


def fail(message: str) -> None:
    """
    Raise L{ValueError} with C{message}: a job that fails.
    """
    raise ValueError(message)
