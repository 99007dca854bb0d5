"""The environment record written next to benchmark results."""
import json
import re
import shutil
import subprocess
import sys
from importlib.metadata import version

import pytest

from rnnbench import environment
from rnnbench.environment import blas_kernel_warning, capture_environment, threads_summary

NO_GIT = {"commit": None, "dirty": None, "root": None}
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(scope="module")
def env():
    return capture_environment()


def _is(value, *types):
    return value is None or isinstance(value, types)


def test_all_keys_with_the_right_types(env):
    assert set(env) == {"cpu_model", "cpu_count", "cpu_affinity", "cpu_flags_avx512", "memory_gib",
                        "os", "hostname", "python", "versions", "blas", "numba", "env", "git"}
    assert _is(env["cpu_model"], str)
    assert isinstance(env["cpu_count"], int) and env["cpu_count"] >= 1
    assert _is(env["cpu_affinity"], int)
    assert _is(env["cpu_flags_avx512"], bool)
    assert _is(env["memory_gib"], float)
    for key in ("os", "hostname", "python"):
        assert isinstance(env[key], str)
    assert set(env["versions"]) == {"rnnbench", "numpy", "scipy", "numba", "llvmlite", "torch",
                                    "pandas", "matplotlib", "click"}
    assert all(_is(v, str) for v in env["versions"].values())
    assert isinstance(env["blas"], list)
    assert set(env["numba"]) == {"num_threads", "threading_layer_config", "threading_layer",
                                 "cache_dir", "disable_jit", "svml"}
    assert isinstance(env["numba"]["disable_jit"], bool)
    assert isinstance(env["numba"]["svml"], bool)
    assert _is(env["numba"]["threading_layer"], str)
    assert _is(env["numba"]["cache_dir"], str)
    assert set(env["env"]) == set(environment.ENV_VARS)
    assert all(_is(v, str) for v in env["env"].values())
    assert set(env["git"]) == {"commit", "dirty", "root"}


def test_json_serialisable(env):
    assert json.loads(json.dumps(env)) == env


def test_versions_are_the_installed_ones(env):
    assert env["versions"]["numpy"] == version("numpy")
    assert env["versions"]["numba"] == version("numba")


def test_numba_threads(env):
    assert env["numba"]["num_threads"] >= 1


def test_capture_does_not_start_numbas_thread_pool(tmp_path):
    """In a fresh process (so no earlier parallel region can interfere), away from the
    source tree so the installed package is the one imported."""
    code = ("import numba; from rnnbench.environment import capture_environment\n"
            "assert capture_environment()['numba']['threading_layer'] is None\n"
            "try:\n    numba.threading_layer()\nexcept ValueError:\n    print('pool not started')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pool not started"


def test_blas_libraries_found(env):
    assert env["blas"]
    for lib in env["blas"]:
        assert set(lib) == set(environment.BLAS_KEYS)
        assert lib["num_threads"] >= 1


def test_blas_without_threadpoolctl(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # makes the import fail
    assert environment._blas() == []
    assert capture_environment()["blas"] == []


def test_env_vars_recorded(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    recorded = capture_environment()["env"]
    assert recorded["OMP_NUM_THREADS"] == "3"
    assert recorded["CUDA_VISIBLE_DEVICES"] is None


def test_a_failing_probe_gives_none(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("probe failed")
    monkeypatch.setattr(environment, "_memory_gib", boom)
    monkeypatch.setattr(environment, "_numba", boom)
    recorded = capture_environment()
    assert recorded["memory_gib"] is None
    assert recorded["numba"] is None
    assert "numba" in threads_summary(recorded)


def test_git_info_outside_a_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert environment._git_info(tmp_path) == NO_GIT


def test_git_info_without_git(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable to be found
    assert environment._git_info(tmp_path) == NO_GIT


def _make_repo(path):
    """A git repository at ``path`` with one commit of a tracked file; returns that file."""
    def git(*args):
        subprocess.run(["git", "-C", str(path), "-c", "user.email=t@example.com",
                        "-c", "user.name=t", *args], check=True, capture_output=True)

    path.mkdir(exist_ok=True)
    git("init", "-q")
    tracked = path / "a.txt"
    tracked.write_text("one\n")
    git("add", "a.txt")
    git("commit", "-q", "-m", "first")
    return tracked


@needs_git
def test_git_info_in_a_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    tracked = _make_repo(tmp_path)
    (tmp_path / "untracked.txt").write_text("ignored for dirtiness\n")

    info = environment._git_info(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{40}", info["commit"])
    assert info["dirty"] is False
    assert info["root"] is not None
    (tmp_path / "sub").mkdir()
    assert environment._git_info(tmp_path / "sub") == info  # any directory inside the tree

    tracked.write_text("two\n")
    assert environment._git_info(tmp_path)["dirty"] is True


def test_threads_summary(env):
    line = threads_summary(env)
    assert line and "\n" not in line
    assert "numba" in line
    assert f"{env['numba']['num_threads']} threads" in line


def test_threads_summary_format():
    fake = {"numba": {"num_threads": 2, "threading_layer": "workqueue"},
            "blas": [{"internal_api": "openblas", "version": "0.3.31", "num_threads": 2,
                      "threading_layer": "pthreads"}] * 2}
    assert threads_summary(fake) == ("numba 2 threads (workqueue); BLAS: openblas 0.3.31 x2 "
                                     "(pthreads), openblas 0.3.31 x2 (pthreads)")
    assert "numba" in threads_summary({})


def _forced(coretype=None, l2=None, architecture="Haswell"):
    return {"env": {"OPENBLAS_CORETYPE": coretype, "OPENBLAS_L2_SIZE": l2},
            "blas": [{"internal_api": "openblas", "architecture": architecture},
                     {"internal_api": "mkl", "architecture": None}]}


def test_blas_kernel_warning_names_what_was_forced_and_what_ran():
    message = blas_kernel_warning(_forced("Haswell", "512"))
    assert message.startswith("OPENBLAS_CORETYPE=Haswell and OPENBLAS_L2_SIZE=512 forced OpenBLAS's kernel choice")
    assert "(OpenBLAS ran its Haswell kernels)" in message
    assert message.endswith("unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE to let OpenBLAS choose")
    only_l2 = blas_kernel_warning(_forced(l2="512", architecture=None))
    assert only_l2.startswith("OPENBLAS_L2_SIZE=512 forced") and "ran its" not in only_l2
    assert only_l2.endswith("unset OPENBLAS_L2_SIZE to let OpenBLAS choose")


@pytest.mark.parametrize("env", [_forced(), _forced(""), {"env": {}}, {}, None])
def test_no_blas_kernel_warning_when_nothing_was_forced(env):
    assert blas_kernel_warning(env) is None


def test_blas_kernel_warning_reads_the_captured_environment(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert blas_kernel_warning(capture_environment()).startswith("OPENBLAS_CORETYPE=Haswell")
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    assert blas_kernel_warning(capture_environment()) is None


@needs_git
def test_git_source_falls_back_to_the_cwd(tmp_path, monkeypatch):
    """rnnbench installed outside any work tree: the cwd's repository, if any, is recorded."""
    import rnnbench
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    installed = tmp_path / "site-packages" / "rnnbench"
    installed.mkdir(parents=True)
    monkeypatch.setattr(rnnbench, "__file__", str(installed / "__init__.py"))

    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    assert capture_environment()["git"] == NO_GIT

    repo = tmp_path / "repo"
    _make_repo(repo)
    monkeypatch.chdir(repo)
    recorded = capture_environment()["git"]
    assert re.fullmatch(r"[0-9a-f]{40}", recorded["commit"])
    assert recorded["dirty"] is False
