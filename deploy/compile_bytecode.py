"""Put CPython 3.12 bytecode into a Lambda zip, so a cold start does not compile every module it imports.

Lambda unpacks the zip into a read-only ``/var/task``: Python cannot write ``__pycache__`` there, so without
bytecode in the artifact every cold start compiles pydantic, the HubSpot client and our code from source, and
again in every new container (``benchmarks/lambda_import.py`` measures both). This adds, beside each
``.py`` file, ``__pycache__/<name>.cpython-312.pyc`` in *unchecked-hash* form (PEP 552): the runtime loads it
without comparing the source's timestamp, which a zip stores only to two seconds and without a time zone.
Tracebacks still name the source files (the import system points loaded code at the file it found).

Run it with CPython 3.12 (the Lambda runtime's version; bytecode differs between versions), after
``serverless-python-requirements`` has put the dependencies into the zip: ``deploy/bytecode-plugin.js`` does that
on every ``osls package`` and ``osls deploy``. A file that does not compile (a dependency's Python 2 example,
say) is left as source and listed; one of ours that does not compile fails the build.
Usage: ``python3.12 deploy/compile_bytecode.py path/to/artifact.zip``
"""

from __future__ import annotations

import argparse
import importlib.util
import marshal
import sys
import zipfile
from pathlib import PurePosixPath

LAMBDA_TASK_ROOT = "/var/task"
RUNTIME = (3, 12)
OURS = ("sdk/", "functions/", "webhooks/")
#: the flags word of a .pyc (PEP 552): hash-based (bit 0), source not checked (bit 1 clear)
UNCHECKED_HASH = 0b01
#: a fixed time for the added entries, so two builds of the same sources give the same bytes
ENTRY_TIME = (1980, 1, 1, 0, 0, 0)


def cache_name(source: str) -> str:
    """``pkg/mod.py`` → ``pkg/__pycache__/mod.cpython-312.pyc`` (what the runtime looks for)."""
    path = PurePosixPath(source)
    return str(path.parent / "__pycache__" / f"{path.stem}.{sys.implementation.cache_tag}.pyc").removeprefix(
        "./"
    )


def bytecode(source: bytes, name: str) -> bytes:
    """The unchecked-hash ``.pyc`` of ``source`` (raises ``SyntaxError`` / ``ValueError`` when it does not compile)."""
    code = compile(source, f"{LAMBDA_TASK_ROOT}/{name}", "exec", dont_inherit=True)
    header = (
        importlib.util.MAGIC_NUMBER
        + UNCHECKED_HASH.to_bytes(4, "little")
        + importlib.util.source_hash(source)
    )
    return header + marshal.dumps(code)


def add_bytecode(path: str) -> tuple[int, list[str]]:
    """Rewrite the zip at ``path`` with a ``.pyc`` beside every ``.py``; returns (added, not compiled)."""
    with zipfile.ZipFile(path) as archive:  # bytecode already there is dropped: it may be for other sources
        entries = [(i, archive.read(i)) for i in archive.infolist() if "__pycache__/" not in f"/{i.filename}"]
    added: list[tuple[zipfile.ZipInfo, bytes]] = []
    failed: list[str] = []
    for info, data in entries:
        if not info.filename.endswith(".py"):
            continue
        try:
            compiled = bytecode(data, info.filename)
        except (SyntaxError, ValueError) as error:
            failed.append(f"{info.filename}: {error.__class__.__name__}: {error}")
            continue
        entry = zipfile.ZipInfo(cache_name(info.filename), ENTRY_TIME)
        entry.external_attr = 0o100644 << 16  # a regular file, readable by the runtime's user
        entry.compress_type = zipfile.ZIP_DEFLATED
        added.append((entry, compiled))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in [*entries, *added]:
            archive.writestr(info, data)
    return len(added), failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("artifact", nargs="+", help="the zip(s) osls built")
    args = parser.parse_args(argv)
    if sys.version_info[:2] != RUNTIME:
        print(
            f"compile_bytecode.py must run on CPython {RUNTIME[0]}.{RUNTIME[1]} (Lambda's runtime), not "
            f"{sys.version.split()[0]}: set PYTHON312_BIN to a python3.12",
            file=sys.stderr,
        )
        return 2
    status = 0
    for path in args.artifact:
        count, failed = add_bytecode(path)
        print(
            f"{path}: {count} modules compiled for {sys.implementation.cache_tag}, {len(failed)} left as source"
        )
        for line in failed:
            print(f"  not compiled: {line}")
        ours = [line for line in failed if line.startswith(OURS)]
        if ours:
            print(f"our own code does not compile for Python {RUNTIME[0]}.{RUNTIME[1]}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
