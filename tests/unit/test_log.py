"""The logger is built once per process, whatever the threads asking for it at the same instant."""

from __future__ import annotations

import io
import subprocess
import sys

from sdk import log

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


def test_the_logger_writes_to_standard_error_as_it_is_now_not_as_it_was_when_built(monkeypatch, capsys):
    """A runner swaps standard error for a while and closes its stream afterwards (typer's CliRunner does): the
    process-wide logger must follow the current stream, not keep writing into the closed one ("Logging error")."""
    logger = log.get_logger()
    swapped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", swapped)
    logger.error({"event": "while_swapped"})
    assert "while_swapped" in swapped.getvalue()
    swapped.close()
    monkeypatch.undo()
    logger.error({"event": "after_the_runner_closed_its_stream"})
    err = capsys.readouterr().err
    assert "after_the_runner_closed_its_stream" in err
    assert "Logging error" not in err
