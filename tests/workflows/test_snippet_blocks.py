"""The custom-code snippets stay two files (each is pasted into HubSpot alone, no imports of ours), but the code they
share is one block, marked in each, that must be byte-identical: editing one side alone fails here.

What differs between them (the endpoint, the output fields, the time-out message) lives above the block."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

import pytest

SNIPPETS = Path(__file__).resolve().parents[2] / "workflows" / "custom_code"
BEGIN = b"# >>> begin shared block:"
END = b"# <<< end shared block <<<"


def shared_block(path: Path) -> bytes:
    """The bytes from the begin marker's line to the end marker's line, both included; ValueError unless each
    marker is there exactly once, in that order."""
    lines = path.read_bytes().splitlines(keepends=True)
    begins = [n for n, line in enumerate(lines) if line.startswith(BEGIN)]
    ends = [n for n, line in enumerate(lines) if line.startswith(END)]
    if len(begins) != 1 or len(ends) != 1 or begins[0] > ends[0]:
        raise ValueError(
            f"{path.name}: expected one {BEGIN.decode()!r} line before one {END.decode()!r} line, "
            f"found {len(begins)} and {len(ends)}"
        )
    return b"".join(lines[begins[0] : ends[0] + 1])


def block_differences(paths: list[Path]) -> list[str]:
    """Where each snippet's shared block differs from the first one's (a unified diff), or why it has none."""
    try:
        blocks = [(path, shared_block(path)) for path in paths]
    except ValueError as missing:
        return [str(missing)]
    (first, reference), problems = blocks[0], []
    for path, block in blocks[1:]:
        if block != reference:
            diff = difflib.unified_diff(
                [repr(line) for line in reference.splitlines(keepends=True)],
                [repr(line) for line in block.splitlines(keepends=True)],
                first.name,
                path.name,
                lineterm="",
            )
            problems.append("\n".join(diff))
    return problems


def test_the_snippets_share_one_byte_identical_block() -> None:
    snippets = sorted(SNIPPETS.glob("*.py"))

    assert [p.name for p in snippets] == ["create_invoice.py", "payment_status.py"]
    assert block_differences(snippets) == []
    assert shared_block(snippets[0]).count(b"\ndef ") >= 5  # main and its helpers, not an empty block


def _replace(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def edit(source: bytes) -> bytes:
        assert source.count(old) == 1, old
        return source.replace(old, new)

    return edit


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_replace(b"READ_TIMEOUT)", b"READ_TIMEOUT + 1)"), "READ_TIMEOUT + 1"),
        (_replace(b"[:500]\n\n\ndef _failed", b"[:500] \n\n\ndef _failed"), "[:500] \\n"),
        (_replace(b'    outputs["result"] = "failed"\n', b'\toutputs["result"] = "failed"\n'), "\\toutputs"),
        (_replace(b"def _failed(message):\n", b"def _failed(message):\r\n"), "\\r\\n"),
        (_replace(b"def _input(", b"# a note\ndef _input("), "# a note"),
        (_replace(END, b"# <<< end <<<"), "found 1 and 0"),
        (_replace(BEGIN, BEGIN + b"\n" + BEGIN), "found 2 and 1"),
    ],
    ids=["code", "trailing-space", "tab", "crlf", "added-line", "end-marker-gone", "begin-marker-twice"],
)
def test_editing_the_shared_block_on_one_side_fails(
    tmp_path: Path, edit: Callable[[bytes], bytes], expected: str
) -> None:
    edited = tmp_path / "payment_status.py"
    edited.write_bytes(edit((SNIPPETS / "payment_status.py").read_bytes()))

    problems = block_differences([SNIPPETS / "create_invoice.py", edited])

    assert len(problems) == 1
    assert expected in problems[0]


def test_what_differs_outside_the_block_is_allowed(tmp_path: Path) -> None:
    edited = tmp_path / "payment_status.py"
    source = (SNIPPETS / "payment_status.py").read_bytes()
    edited.write_bytes(
        source.replace(b'ENDPOINT_PATH = "/custom-code/payment-status"', b'ENDPOINT_PATH = "/x"')
    )

    assert edited.read_bytes() != source
    assert block_differences([SNIPPETS / "create_invoice.py", edited]) == []
