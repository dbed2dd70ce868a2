# -*- test-case-name: benchmarks.test.test_report -*-
"""
C{py-spy} on kvtwist (CPython) during the throughput rounds, and the
reading of its collapsed stacks.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple


def topFrames(collapsed: str, count: int = 15) -> List[Any]:
    """
    The frames where most samples were taken, from a C{py-spy record
    --format raw} profile (collapsed stacks: C{frame;frame;frame N}).

    @return: C{(percent of samples, frame)} pairs, largest first, by self
        time (the innermost frame of each stack).
    """
    counts: Dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, n = line.rstrip().rpartition(" ")
        if not stack or not n.isdigit():
            continue
        total += int(n)
        frame = stack.split(";")[-1]
        counts[frame] = counts.get(frame, 0) + int(n)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(100.0 * n / total, frame) for frame, n in ranked[:count]]


def startPySpy(directory: Optional[str], name: str, version: str,
               pid: int) -> Optional[Tuple[subprocess.Popen, str]]:
    """
    Start C{py-spy record} on process C{pid} if a C{directory} for its
    output was given and the server runs on CPython (py-spy doesn't read
    PyPy's stacks).

    @return: the py-spy process and the file it writes, or L{None}.
    """
    if not directory or "CPython" not in version:
        return None
    binary = shutil.which("py-spy") or os.path.join(
        os.path.dirname(sys.executable), "py-spy")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "%s.txt" % (name.replace(" ", "-"),))
    proc = subprocess.Popen(
        [binary, "record", "--format", "raw", "--rate", "200", "--output",
         path, "--pid", str(pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    return proc, path


def stopPySpy(proc: subprocess.Popen, path: str) -> Dict[str, Any]:
    """
    Stop py-spy and read its profile.

    @return: C{{"path": path, "top": topFrames(...)}}.
    """
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
    try:
        with open(path) as f:
            top = topFrames(f.read())
    except OSError:
        top = []
    return {"path": path, "top": top}
