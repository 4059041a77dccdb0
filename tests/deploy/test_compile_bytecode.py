"""deploy/compile_bytecode.py: the Lambda zip gets bytecode the runtime loads as it is, from a read-only folder.

The build runs it with CPython 3.12 (``make package-check``); here it runs on the test interpreter, whose
bytecode it then writes, which is enough to prove where the files go and that the runtime uses them without
looking at the source.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from deploy import compile_bytecode


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def test_each_module_gets_its_pyc_where_the_runtime_looks(tmp_path):
    artifact = _zip(
        tmp_path / "a.zip",
        {"pkg/__init__.py": "", "pkg/mod.py": "VALUE = 1\n", "top.py": "", "pkg/data.json": "{}"},
    )
    added, failed = compile_bytecode.add_bytecode(str(artifact))
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(artifact) as archive:
        names = set(archive.namelist())
        header = archive.read(f"pkg/__pycache__/mod.{tag}.pyc")[4:8]
    assert (added, failed) == (3, [])
    assert {
        f"pkg/__pycache__/__init__.{tag}.pyc",
        f"pkg/__pycache__/mod.{tag}.pyc",
        f"__pycache__/top.{tag}.pyc",
    } <= names
    assert "pkg/data.json" in names  # everything else as it was
    assert header == (0b01).to_bytes(4, "little")  # hash-based, source not checked


def test_the_runtime_loads_the_bytecode_without_reading_the_source_from_a_read_only_folder(tmp_path):
    artifact = _zip(
        tmp_path / "a.zip",
        {"pkg/__init__.py": "", "pkg/mod.py": "def where():\n    raise ValueError('compiled')\n"},
    )
    compile_bytecode.add_bytecode(str(artifact))
    task = tmp_path / "task"
    with zipfile.ZipFile(artifact) as archive:
        archive.extractall(task)
    # the source changes after the build (as a zip's 2-second timestamps might suggest): the .pyc still serves
    (task / "pkg" / "mod.py").write_text("def where():\n    raise ValueError('source')\n")
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import pkg.mod\n"
        "try:\n    pkg.mod.where()\nexcept ValueError as e:\n"
        "    print(e, pkg.mod.where.__code__.co_filename)"
    )
    out = subprocess.run(  # noqa: S603 (our interpreter, our probe)
        [sys.executable, "-B", "-c", probe, str(task)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["compiled", str(task / "pkg" / "mod.py")]  # tracebacks name the real file


def test_stale_bytecode_in_the_zip_is_replaced(tmp_path):
    tag = sys.implementation.cache_tag
    artifact = _zip(
        tmp_path / "a.zip",
        {"m.py": "X = 2\n", f"__pycache__/m.{tag}.pyc": "stale", "__pycache__/m.cpython-39.pyc": "old"},
    )
    compile_bytecode.add_bytecode(str(artifact))
    with zipfile.ZipFile(artifact) as archive:
        assert sorted(archive.namelist()) == ["__pycache__/" + f"m.{tag}.pyc", "m.py"]
        assert archive.read(f"__pycache__/m.{tag}.pyc") != b"stale"


def test_a_dependency_that_does_not_compile_stays_source_but_ours_fails_the_build(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(compile_bytecode, "RUNTIME", sys.version_info[:2])
    theirs = _zip(tmp_path / "theirs.zip", {"lib/py2.py": "print 'hello'\n", "lib/ok.py": ""})
    assert compile_bytecode.main([str(theirs)]) == 0
    assert "not compiled: lib/py2.py: SyntaxError" in capsys.readouterr().out
    ours = _zip(tmp_path / "ours.zip", {"sdk/broken.py": "def (:\n"})
    assert compile_bytecode.main([str(ours)]) == 1
    assert "our own code does not compile" in capsys.readouterr().err


def test_it_refuses_to_run_on_another_python_than_lambdas(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(compile_bytecode, "RUNTIME", (3, 0))
    artifact = _zip(tmp_path / "a.zip", {"m.py": ""})
    assert compile_bytecode.main([str(artifact)]) == 2
    assert "must run on CPython 3.0" in capsys.readouterr().err
    with zipfile.ZipFile(artifact) as archive:
        assert archive.namelist() == ["m.py"]  # untouched
