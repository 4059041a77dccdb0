"""Check a custom-code snippet against HubSpot's Python runtime, and run its ``main(event)`` locally, timed.

HubSpot runs custom-code actions on Python 3.9 with the standard library, ``requests`` and the official
``hubspot`` client, about 20 seconds and 128 MB. :func:`check_snippet` refuses what would break there:

* an import of anything else (``numpy``, ``sdk`` ...), judged by the top-level module name against
  ``sys.stdlib_module_names`` (less the modules added after 3.9) plus ``requests`` and ``hubspot``;
* syntax newer than 3.9 (``match``, ``except*``, parenthesised context managers ...):
  ``ast.parse(source, feature_version=(3, 9))``;
* ``X | Y`` types evaluated at run time (annotations without ``from __future__ import annotations``,
  ``isinstance(x, A | B)``): Python 3.9 raises ``TypeError`` there;
* no module-level ``def main(event)``.

:func:`run_snippet` executes the file in a fresh namespace with exactly the environment given (HubSpot's
secrets), captures what it prints and how long ``main`` took.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import sys
import threading
import time
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdk.errors import HubSpotFreeeError

RUNTIME = (3, 9)
TIME_BUDGET_SECONDS = 20.0
THIRD_PARTY = frozenset({"requests", "hubspot"})
#: standard-library modules this interpreter has but Python 3.9 does not
NEWER_THAN_RUNTIME = frozenset({"tomllib"})
#: names from the standard library that Python 3.9 does not have (``from datetime import UTC`` ...)
NEWER_NAMES = {
    "datetime": frozenset({"UTC"}),
    "typing": frozenset({"Self", "TypeAlias", "ParamSpec", "Never"}),
}

_ENV_LOCK = threading.Lock()  # os.environ is the process's: one snippet runs at a time


class SnippetRejected(HubSpotFreeeError):
    """The snippet would not run on HubSpot's runtime; ``problems`` says where and why."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(
            f"{path} would not run on HubSpot's Python 3.9 runtime:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True)
class Snippet:
    path: str
    source: str


@dataclass
class SnippetRun:
    """What one ``main(event)`` call did."""

    output: Any
    elapsed: float  # seconds, wall clock, ``main`` only
    stdout: str
    error: BaseException | None = None
    budget: float = TIME_BUDGET_SECONDS
    env: dict[str, str] = field(default_factory=dict)

    @property
    def within_budget(self) -> bool:
        return self.elapsed < self.budget

    @property
    def output_fields(self) -> dict[str, Any]:
        """``output["outputFields"]``; an empty dict when ``main`` failed or returned something else."""
        if isinstance(self.output, dict) and isinstance(self.output.get("outputFields"), dict):
            return dict(self.output["outputFields"])
        return {}


def allowed_modules() -> frozenset[str]:
    stdlib = frozenset(m for m in sys.stdlib_module_names if not m.startswith("_")) - NEWER_THAN_RUNTIME
    return stdlib | THIRD_PARTY


def check_source(source: str, filename: str = "<snippet>") -> list[str]:
    """Every reason the source would not run on HubSpot's runtime (empty: it would)."""
    try:
        tree = ast.parse(source, filename=filename, feature_version=RUNTIME)
    except SyntaxError as exc:
        return [f"line {exc.lineno}: syntax newer than Python 3.9 or invalid: {exc.msg}"]
    problems: list[str] = []
    allowed = allowed_modules()
    future_annotations = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )
    for node in ast.walk(tree):
        problems += _import_problems(node, allowed)
        problems += _runtime_union_problems(node, future_annotations)
    problems += _parenthesised_with(tree, source)
    main = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"), None)
    if main is None:
        problems.append("no module-level def main(event): HubSpot calls main(event)")
    elif len(main.args.posonlyargs) + len(main.args.args) != 1 or main.args.kwonlyargs:
        problems.append(f"line {main.lineno}: main must take exactly one argument, the event")
    return problems


def _import_problems(node: ast.AST, allowed: frozenset[str]) -> list[str]:
    found: list[str] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            top = alias.name.split(".")[0]
            if top not in allowed:
                found.append(
                    f"line {node.lineno}: imports {alias.name}, which HubSpot's runtime does not have "
                    "(only the standard library, requests and hubspot)"
                )
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        top = node.module.split(".")[0]
        if top != "__future__" and top not in allowed:
            found.append(
                f"line {node.lineno}: imports from {node.module}, which HubSpot's runtime does not have "
                "(only the standard library, requests and hubspot)"
            )
        newer = NEWER_NAMES.get(node.module, frozenset()) & {a.name for a in node.names}
        if newer:
            found.append(
                f"line {node.lineno}: {node.module}.{', '.join(sorted(newer))} is newer than Python 3.9"
            )
    elif isinstance(node, ast.ImportFrom) and node.level > 0:
        found.append(f"line {node.lineno}: relative import: a snippet is a single file")
    return found


def _runtime_union_problems(node: ast.AST, future_annotations: bool) -> list[str]:
    """``X | Y`` where 3.9 evaluates it as a type: annotations (unless postponed) and isinstance/issubclass."""
    exprs: list[ast.expr] = []
    if not future_annotations:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            exprs += [a.annotation for a in every if a is not None and a.annotation is not None]
            if node.returns is not None:
                exprs.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            exprs.append(node.annotation)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("isinstance", "issubclass")
        and len(node.args) == 2
    ):
        exprs.append(node.args[1])
    return [
        f"line {expr.lineno}: X | Y as a type is evaluated at run time and fails on Python 3.9 "
        "(use typing.Optional / Union, a tuple, or a string annotation)"
        for expr in exprs
        if _has_union(expr)
    ]


def _parenthesised_with(tree: ast.AST, source: str) -> list[str]:
    """``with (a as x, b as y):`` is Python 3.10 grammar, though 3.9's parser (and ``feature_version``) let it
    through: a ``(`` right after ``with`` that closes after an ``as`` or around several items."""
    withs = [n for n in ast.walk(tree) if isinstance(n, ast.With | ast.AsyncWith)]
    if not withs:
        return []
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type == tokenize.OP or t.string in ("with", "async")
    ]
    found: list[str] = []
    for node in withs:
        start = (node.lineno, node.col_offset)
        index = next((i for i, t in enumerate(tokens) if t.start >= start and t.string == "with"), None)
        if index is None or index + 1 >= len(tokens) or tokens[index + 1].string != "(":
            continue
        depth, close = 0, None
        for token in tokens[index + 1 :]:
            depth += {"(": 1, ")": -1}.get(token.string, 0)
            if depth == 0:
                close = token.start
                break
        first_as = node.items[0].optional_vars
        inside_as = first_as is not None and (first_as.lineno, first_as.col_offset) < (close or (0, 0))
        last = node.items[-1].context_expr
        several_inside = len(node.items) > 1 and (last.lineno, last.col_offset) < (close or (0, 0))
        if close is not None and (inside_as or several_inside):
            found.append(f"line {node.lineno}: parenthesised context managers are Python 3.10 syntax")
    return found


def _has_union(expr: ast.expr) -> bool:
    if isinstance(expr, ast.Constant):  # a string annotation is not evaluated
        return False
    return any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr) for n in ast.walk(expr))


def load_snippet(path: str | Path, *, check: bool = True) -> Snippet:
    """The snippet's source; with ``check`` (the default), :class:`SnippetRejected` if it would not run."""
    source = Path(path).read_text(encoding="utf-8")
    if check:
        problems = check_source(source, str(path))
        if problems:
            raise SnippetRejected(str(path), problems)
    return Snippet(str(path), source)


def run_snippet(
    snippet: Snippet | str | Path,
    event: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    overrides: Mapping[str, Any] | None = None,
    budget: float = TIME_BUDGET_SECONDS,
) -> SnippetRun:
    """Run ``main(event)`` in a fresh module namespace with ``os.environ`` replaced by ``env`` for the call.

    ``overrides`` replaces module-level names after the module ran (e.g. a shorter ``READ_TIMEOUT`` in a test).
    An exception from ``main`` is returned in ``error`` (HubSpot would mark the action failed), not raised."""
    loaded = snippet if isinstance(snippet, Snippet) else load_snippet(snippet)
    namespace: dict[str, Any] = {"__name__": "hubspot_custom_code", "__file__": loaded.path}
    printed = io.StringIO()
    with _ENV_LOCK, _environment(env), contextlib.redirect_stdout(printed):
        exec(compile(loaded.source, loaded.path, "exec"), namespace)  # noqa: S102 - running the snippet is the point
        namespace.update(overrides or {})
        started = time.perf_counter()
        try:
            output = namespace["main"](dict(event))
            error: BaseException | None = None
        except Exception as exc:  # HubSpot reports it as a failed action; so do we
            output, error = None, exc
        elapsed = time.perf_counter() - started
    return SnippetRun(output, elapsed, printed.getvalue(), error, budget, dict(env))


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Any:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


__all__ = [
    "RUNTIME",
    "TIME_BUDGET_SECONDS",
    "Snippet",
    "SnippetRejected",
    "SnippetRun",
    "allowed_modules",
    "check_source",
    "load_snippet",
    "run_snippet",
]
