"""The logger is built once per process, whatever the threads asking for it at the same instant."""

from __future__ import annotations

import subprocess
import sys

RACE = """
import threading
from sdk.log import get_logger

gate = threading.Barrier(8)
seen = []

def ask():
    gate.wait()
    seen.append(get_logger())

threads = [threading.Thread(target=ask) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
logger = get_logger()
print(len({id(x) for x in seen}), logger.registered_handler.formatter is not None, len(logger._logger.handlers))
with logger.append_context_keys(deal_id="1"):
    logger.info({"event": "still_works"})
"""


def test_eight_threads_asking_at_once_get_one_working_logger():
    # a fresh interpreter: the first call is the one that builds it
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", RACE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "True", "1"]  # one logger, with its formatter, one handler
    assert '"still_works"' in done.stderr
    assert '"deal_id":"1"' in done.stderr
