"""Running a submission's checks in a jail and collecting only plain data from it.

``protocol`` (limits, plan, records, the codec), ``jail`` (the one jail interface), ``harness`` and
``ops`` (what runs inside), ``host`` (uids, cgroups, clean-up on the host). See ``jail``'s docstring for
what a jail can and cannot see.
"""

from grader.sandbox.host import isolation_available, issued_uids
from grader.sandbox.jail import Jail, JailPool, SandboxResult, run_once
from grader.sandbox.protocol import DEFAULT_LIMITS, Limits, Plan, ProtocolError, Record

__all__ = ["DEFAULT_LIMITS", "Jail", "JailPool", "Limits", "Plan", "ProtocolError", "Record", "SandboxResult",
           "isolation_available", "issued_uids", "run_once"]
