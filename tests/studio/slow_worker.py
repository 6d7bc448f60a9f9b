"""A studio worker consumer whose jobs take 0.3 s per image, so a test can kill one mid-job.

Run as ``python slow_worker.py --runs R --data D --workers 1 --health-check 1`` (the arguments of
``python -m prodgen.studio.worker``). The slowdown is added after each progress step; huey's worker
processes are forked from this process and inherit it.
"""

import sys
import time

from prodgen.studio import worker

_step = worker.JobRun.step


def _slow_step(self, done, total):
    _step(self, done, total)
    if done < total:
        time.sleep(0.3)


worker.JobRun.step = _slow_step

if __name__ == "__main__":
    worker.main(sys.argv[1:])
