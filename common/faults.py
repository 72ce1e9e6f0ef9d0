"""Fault injection for the suite's own tests: the process dies at a chosen point, as a ``kill -9`` would.

``SUITE_FAULT=<point>@<n>`` makes the n-th arrival at ``<point>`` end the process at once with status 137, with
no clean-up (``os._exit``). The points are ``epoch`` (the end of a training epoch, after its checkpoint and
history row), ``commit:<model folder>`` (a finished fit just before its folder is committed) and
``write:<file name>`` (an atomic write, after the new content is on disk and before it replaces the old file).
Without the variable, ``fault_point`` does nothing.
"""

import os

ENVIRONMENT_VARIABLE = "SUITE_FAULT"
EXIT_STATUS = 137  # what a shell reports for a process killed with SIGKILL
_arrivals = {}


def fault_point(name):
    """Count an arrival at ``name``; end the process if ``SUITE_FAULT`` asks for this one."""
    spec = os.environ.get(ENVIRONMENT_VARIABLE)
    if not spec:
        return
    target, _, nth = spec.rpartition("@")
    if target != name:
        return
    _arrivals[name] = _arrivals.get(name, 0) + 1
    if _arrivals[name] == int(nth or 1):
        os._exit(EXIT_STATUS)
