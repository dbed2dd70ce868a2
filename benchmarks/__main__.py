"""
C{python -m benchmarks}: see L{benchmarks.run}.
"""

import sys

from benchmarks.run import main

sys.exit(main())
