"""The launch contract: what node scripts print and how a launch that failed
before its job ran exits. Defined once, here; every node script, sh or Python,
names these as @NAME@ placeholders that `substitute` fills in as the script
is shipped, so the server and the nodes cannot drift apart
(tests/executor/test_parity.py runs both launch paths and compares them).
"""

from __future__ import annotations

import re

# the words node scripts begin their lines with
STARTED = "WQ-STARTED"          # STARTED pid starttime boot_id: the job runs
EXITED = "WQ-EXIT"              # EXITED status (or `none`)
ERROR = "WQ-ERROR"              # ERROR why: the launch failed before the job ran
LOST = "WQ-LOST"                # LOST why: the job is gone without an exit status
RUNNING = "WQ-RUNNING"          # a watched job is alive
NOT_STARTED = "WQ-NOTSTARTED"   # its launch never reached the node (now barred)
TIMED_OUT = "WQ-TIMEOUT"        # its time limit ran out
ENDED = "WQ-ENDED"              # ENDED epoch: when its exit status was written
READY = "WQ-READY"              # an interactive job's directory is prepared

# exit codes of a launch that failed before the job's command ran
RC_NO_HOSTFILE = 95
RC_NO_JOB_DIR = 96
RC_NO_CWD = 97
RC_NO_OUTPUT = 98

#: seconds a runner waits for the directory of an output file to appear: a tool
#: may make it right after `sbatch` returns, where Slurm's scheduling delay
#: hides the order (docs/jobs.md, "Output files")
OUTPUT_WAIT = 10

VALUES: dict[str, str] = {
    "STARTED": STARTED, "EXITED": EXITED, "ERROR": ERROR, "LOST": LOST,
    "RUNNING": RUNNING, "NOT_STARTED": NOT_STARTED, "TIMED_OUT": TIMED_OUT, "ENDED": ENDED,
    "READY": READY, "RC_NO_HOSTFILE": str(RC_NO_HOSTFILE), "RC_NO_JOB_DIR": str(RC_NO_JOB_DIR),
    "RC_NO_CWD": str(RC_NO_CWD), "RC_NO_OUTPUT": str(RC_NO_OUTPUT),
    "OUTPUT_WAIT": str(OUTPUT_WAIT),
}
_PLACEHOLDER = re.compile("@(" + "|".join(VALUES) + ")@")


def substitute(text: str) -> str:
    """A node script with the contract's values in place of its @NAME@s."""
    return _PLACEHOLDER.sub(lambda m: VALUES[m.group(1)], text)
