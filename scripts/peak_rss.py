"""Run a command and report its peak resident memory.

``python scripts/peak_rss.py [--out FILE] -- CMD ARGS...``

Prints one JSON line ``{"peak_rss_mb": ..., "exit_code": ..., "seconds": ...}`` on stderr (or into
``FILE`` with ``--out``), after the command's own output, and exits with the command's exit code. Uses
``wait4`` so the number is the child's own peak, not the largest of every child this process ever had.

Run it as a fresh process when the caller is large (a test runner): Linux carries the peak RSS of the
address space a process was spawned from into its ``ru_maxrss`` across ``exec``, so a command spawned
straight from a 700 MB process reports at least 700 MB; spawned from this small one, it reports its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    """Run ``argv`` (after an optional ``--``) and report its peak RSS."""
    out = None
    if argv[:1] == ["--out"] and len(argv) > 1:
        out, argv = argv[1], argv[2:]
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        sys.stderr.write("usage: peak_rss.py [--out FILE] -- COMMAND [ARGS...]\n")
        return 2
    started = time.perf_counter()
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    report = {
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports kilobytes
        "exit_code": child.returncode,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if out is None:
        sys.stderr.write(json.dumps(report) + "\n")
    else:
        with open(out, "w", encoding="utf-8") as file:
            file.write(json.dumps(report) + "\n")
    return child.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
