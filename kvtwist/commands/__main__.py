"""
C{python -m kvtwist.commands}: print the command reference
(C{docs/commands.md}).
"""

import sys

from kvtwist.commands.reference import markdown
from kvtwist.commands.registry import TABLE

if __name__ == "__main__":
    sys.stdout.write(markdown(TABLE))
