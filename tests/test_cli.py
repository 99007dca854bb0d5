"""The command line, as a user runs it."""
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import rnnbench as rb
from rnnbench.cli import main


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_help_lists_the_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("backends", "check"):
        assert command in result.output


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert rb.__version__ in result.output


def test_backends_lists_every_backend():
    result = invoke("backends")
    assert result.exit_code == 0
    for name in ("numpy", "numba-cpu", "torch"):
        assert f"{name}" in result.output
    assert "available" in result.output


def test_check_runs_every_kind_on_every_backend_and_agrees():
    result = invoke("check", "-T", "6", "-B", "2", "-I", "3", "-H", "5", "--repeats", "1", "--dtype", "float64")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()
            if line.split() and line.split()[0] in rb.KINDS]
    assert {(r[0], r[1]) for r in rows} == {(k, b) for k in rb.KINDS for b in ("numpy", "numba-cpu", "torch")}
    assert all(float(r[-1]) <= 1e-10 for r in rows)
    assert "MISMATCH" not in result.output


def test_check_rejects_bad_sizes():
    result = invoke("check", "-H", "0")
    assert result.exit_code == 2
    assert "H" in result.output and "positive" in result.output


def test_console_script_is_installed_and_runs(tmp_path):
    """The `rnnbench` command itself, run away from the source tree as a user would."""
    script = Path(sys.executable).parent / "rnnbench"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert rb.__version__ in result.stdout
    result = subprocess.run([sys.executable, "-m", "rnnbench", "backends"], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0 and "numba-cpu" in result.stdout
