"""Check the Lambda artifacts ``osls package`` built, without an AWS account (``make package-check``).

For each zip in the package folder (``.serverless`` by default) it prints the zipped and unzipped sizes, and fails
(exit status 1, every problem listed) when:

* a zip exceeds the size budget (zipped or unzipped);
* it carries what Lambda must not get: the repository's tests, sandboxes, benchmarks, examples, workflows, the
  CLI (``cli/``), ``node_modules`` or a virtualenv, or a library the runtime has (boto3, botocore, s3transfer)
  or the functions must not need (flask, werkzeug, waitress, typer, rich);
* a library in it shadows one the runtime's boto3, botocore or s3transfer require (the zip comes first on
  ``sys.path``) with a version they do not accept (their ``Requires-Dist``, read from the ones installed where
  this check runs, against each ``*.dist-info/METADATA`` of the zip): python-dateutil 4 under botocore, say;
* a binary or a wheel is not for Lambda's CPython 3.12 on x86_64 Linux (``*.cpython-3XX-*.so`` names, the
  ``Tag:`` lines of each ``*.dist-info/WHEEL``), or ``pydantic_core``'s binary is missing;
* a function of the CloudFormation template names a handler whose module is not in its zip;
* a module has no CPython 3.12 bytecode beside it (``__pycache__/<name>.cpython-312.pyc``, unchecked-hash, as
  ``deploy/compile_bytecode.py`` writes it: Lambda's code folder is read-only, so a cold start would compile it),
  or a ``.pyc`` is of another Python, checks its source, or has no source beside it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import sys
import zipfile
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

MB = 1024 * 1024
#: zipped budget per artifact; the build measured about 10.3 MB, 4.5 of them bytecode (Lambda's limit: 50 MB)
ZIPPED_BUDGET_MB = 15.0
#: unzipped budget per artifact; the build measured about 29 MB with bytecode (Lambda's own limit is 250 MB)
UNZIPPED_BUDGET_MB = 60.0
TEMPLATE = "cloudformation-template-update-stack.json"

#: top-level folders of the repository that never go to Lambda
FORBIDDEN_TOP = (
    "tests",
    "sandbox",
    "local",
    "benchmarks",
    "examples",
    "workflows",
    "deploy",
    ".serverless",
    "specs",
    "cli",
)
#: libraries the runtime provides (boto3 …) or the functions must not import (flask …)
FORBIDDEN_LIBRARIES = ("boto3", "botocore", "s3transfer", "flask", "werkzeug", "waitress", "typer", "rich")
#: the runtime's own libraries: a library the zip ships shadows theirs, so it must be a version they accept
RUNTIME_LIBRARIES = ("boto3", "botocore", "s3transfer")
#: the markers of Lambda's Python when a runtime requirement applies only to some (``python_version < "3.10"``)
LAMBDA_MARKERS = {"python_version": "3.12", "python_full_version": "3.12.0", "platform_system": "Linux"}
#: anywhere in a path
FORBIDDEN_ANYWHERE = ("node_modules", ".venv")
#: the first 8 bytes of the .pyc deploy/compile_bytecode.py writes: CPython 3.12's magic number, then the flags
#: word of an unchecked hash-based .pyc (PEP 552)
PYC_HEADER = b"\xcb\r\r\n" + (0b01).to_bytes(4, "little")
PYC_NAME = re.compile(r"^(?P<folder>(?:.*/)?)__pycache__/(?P<stem>[^/.]+)\.(?P<tag>[^/.]+)\.pyc$")

PYDANTIC_CORE = re.compile(r"^pydantic_core/_pydantic_core\.cpython-312-x86_64-linux-gnu\.so$")
EXTENSION_TAG = re.compile(r"\.(cpython-\d+[^./]*)\.so$")
LAMBDA_EXTENSION_TAG = "cpython-312-x86_64-linux-gnu"
PURE_WHEEL = re.compile(r"^(py3|py2\.py3|py312|cp312)-none-any$")
BINARY_WHEEL = re.compile(r"^(cp312-cp312|cp3(?:[2-9]|1[0-2])-abi3)-manylinux[_0-9a-z]*_x86_64$")


@dataclass
class Report:
    name: str
    zipped: int
    unzipped: int
    files: int
    problems: list[str] = field(default_factory=list)


def runtime_requirements(libraries: tuple[str, ...] = RUNTIME_LIBRARIES) -> list[tuple[str, Requirement]]:
    """What the runtime's libraries require of others on Lambda, read from the ones installed here."""
    return [
        (library, requirement)
        for library in libraries
        for requirement in lambda_requirements(importlib.metadata.requires(library) or [])
    ]


def lambda_requirements(requires_dist: list[str]) -> list[Requirement]:
    """The ``Requires-Dist`` lines that hold on Lambda's Python (markers), extras left out."""
    found: list[Requirement] = []
    for line in requires_dist:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or marker.evaluate(LAMBDA_MARKERS | {"extra": ""}):
            found.append(requirement)
    return found


def check_zip(
    path: Path,
    handlers: list[str],
    zipped_budget: float,
    unzipped_budget: float,
    runtime: list[tuple[str, Requirement]] | None = None,
) -> Report:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = {info.filename for info in infos}
        report = Report(path.name, path.stat().st_size, sum(i.file_size for i in infos), len(infos))
        problems = report.problems
        if report.zipped > zipped_budget * MB:
            problems.append(f"{report.zipped / MB:.1f} MB zipped, over the {zipped_budget} MB budget")
        if report.unzipped > unzipped_budget * MB:
            problems.append(f"{report.unzipped / MB:.1f} MB unzipped, over the {unzipped_budget} MB budget")
        for name in sorted(_forbidden(names)):
            problems.append(f"must not be in the artifact: {name}")
        for name in sorted(names):
            tag = EXTENSION_TAG.search(name)
            if tag and tag.group(1) != LAMBDA_EXTENSION_TAG:
                problems.append(f"{name}: built for {tag.group(1)}, Lambda runs {LAMBDA_EXTENSION_TAG}")
            if name.endswith(".dist-info/WHEEL"):
                text = archive.read(name).decode("utf-8", "replace")
                tags = [
                    line.removeprefix("Tag:").strip() for line in text.splitlines() if line.startswith("Tag:")
                ]
                if not any(PURE_WHEEL.match(tag) or BINARY_WHEEL.match(tag) for tag in tags):
                    problems.append(f"{name}: wheel tags {tags} are not for CPython 3.12 x86_64")
        if not any(PYDANTIC_CORE.match(name) for name in names):
            found = [n for n in names if n.startswith("pydantic_core/_pydantic_core")]
            problems.append(
                f"no pydantic_core binary for CPython 3.12 x86_64 Linux (found: {found or 'none'})"
            )
        problems.extend(_bytecode_problems(archive, names))
        problems.extend(
            _shadowing_problems(archive, names, runtime_requirements() if runtime is None else runtime)
        )
        for handler in handlers:
            module = handler.rsplit(".", 1)[0].replace(".", "/")
            if f"{module}.py" not in names and f"{module}/__init__.py" not in names:
                problems.append(f"handler {handler}: {module}.py is not in the artifact")
    return report


def _bytecode_problems(archive: zipfile.ZipFile, names: set[str]) -> list[str]:
    problems: list[str] = []
    compiled: set[str] = set()
    for name in sorted(n for n in names if n.endswith((".pyc", ".pyo"))):
        found = PYC_NAME.match(name)
        if found is None or found["tag"] != "cpython-312":
            problems.append(f"{name}: not CPython 3.12 bytecode in a __pycache__ folder")
            continue
        source = f"{found['folder']}{found['stem']}.py"
        if source not in names:
            problems.append(f"{name}: no {source} beside it")
        with archive.open(name) as pyc:
            if pyc.read(8) != PYC_HEADER:
                problems.append(f"{name}: not an unchecked-hash .pyc of CPython 3.12")
        compiled.add(source)
    missing = sorted(n for n in names if n.endswith(".py") and n not in compiled)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        problems.append(
            f"modules without bytecode, compiled at every cold start: {len(missing)} ({shown}); "
            "deploy/compile_bytecode.py did not run (deploy/bytecode-plugin.js in serverless.yml's plugins)"
        )
    return problems


def _shadowing_problems(
    archive: zipfile.ZipFile, names: set[str], runtime: list[tuple[str, Requirement]]
) -> list[str]:
    shipped: dict[str, str] = {}
    for name in names:
        if re.fullmatch(r"[^/]+\.dist-info/METADATA", name):
            headers = HeaderParser().parsestr(archive.read(name).decode("utf-8", "replace"))
            if headers["Name"] and headers["Version"]:
                shipped[canonicalize_name(headers["Name"])] = headers["Version"]
    problems: list[str] = []
    for library, requirement in runtime:
        version = shipped.get(canonicalize_name(requirement.name))
        if version is None:
            continue
        try:
            accepted = requirement.specifier.contains(Version(version), prereleases=True)
        except InvalidVersion:
            accepted = False
        if not accepted:
            problems.append(
                f"{requirement.name} {version} shadows the Lambda runtime's: its {library} requires "
                f"{requirement.name}{requirement.specifier}; ship a version it accepts or leave it out"
            )
    return problems


def _forbidden(names: set[str]) -> set[str]:
    found: set[str] = set()
    for name in names:
        parts = PurePosixPath(name).parts
        if not parts:
            continue
        top = parts[0]
        if top in FORBIDDEN_TOP or top in FORBIDDEN_LIBRARIES:
            found.add(top + "/")
        elif any(part in FORBIDDEN_ANYWHERE for part in parts[:-1]):
            found.add(name)
    return found


def handlers_by_artifact(template: Path) -> dict[str, list[str]]:
    """Artifact file name → the handlers of the functions deployed from it."""
    resources = json.loads(template.read_text(encoding="utf-8"))["Resources"]
    handlers: dict[str, list[str]] = {}
    for resource in resources.values():
        if resource.get("Type") == "AWS::Lambda::Function":
            properties = resource["Properties"]
            artifact = PurePosixPath(properties["Code"]["S3Key"]).name
            handlers.setdefault(artifact, []).append(properties["Handler"])
    return handlers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=".serverless", type=Path)
    parser.add_argument("--zipped-budget-mb", type=float, default=ZIPPED_BUDGET_MB)
    parser.add_argument("--unzipped-budget-mb", type=float, default=UNZIPPED_BUDGET_MB)
    args = parser.parse_args(argv)

    template = args.folder / TEMPLATE
    if not template.is_file():
        print(f"{template} not found: run `npx osls package --stage ci` first", file=sys.stderr)
        return 1
    handlers = handlers_by_artifact(template)
    zips = sorted(args.folder.glob("*.zip"))
    problems = [
        f"{name}: named by the template but not built"
        for name in handlers
        if not (args.folder / name).is_file()
    ]
    if not zips:
        problems.append(f"no zip in {args.folder}")
    runtime = runtime_requirements()
    print(f"{'artifact':30} {'zipped':>10} {'unzipped':>10} {'files':>7}  handlers")
    for path in zips:
        report = check_zip(
            path, handlers.get(path.name, []), args.zipped_budget_mb, args.unzipped_budget_mb, runtime
        )
        print(
            f"{report.name:30} {report.zipped / MB:8.2f}MB {report.unzipped / MB:8.2f}MB {report.files:7}  "
            + ", ".join(handlers.get(path.name, []))
        )
        problems.extend(f"{report.name}: {problem}" for problem in report.problems)
    if problems:
        print("\nartifact check failed:", *(f"  - {p}" for p in problems), sep="\n", file=sys.stderr)
        return 1
    print(
        f"ok: budget {args.zipped_budget_mb} MB zipped / {args.unzipped_budget_mb} MB unzipped per artifact"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
