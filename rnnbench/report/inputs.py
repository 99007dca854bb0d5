"""The run folders a report is built from: loaded, checked, and named.

:func:`read_runs` keeps every folder it can report on and gives, for each
other one, a message naming the folder and the problem: missing, empty, not
a run folder, unreadable or malformed results.json, a newer schema than this
rnnbench reads (rnnbench.runs.load_run checks those), half-written (status
"running": killed, or still going; "interrupted": Ctrl-C or SIGTERM), or no
successful case.
"""
from dataclasses import dataclass
from pathlib import Path

from .. import rundata as rd
from ..figures import file_stem
from ..runs import RESULTS, load_run

CASE_KEYS = {"id": str, "measurement": str, "status": str, "params": dict, "values": dict}


@dataclass(frozen=True)
class Run:
    """A run folder fit for the report: ``label`` names it in the report (unique among the runs),
    ``slug`` is the label as a file-name part, ``data`` is its results.json."""
    path: Path
    label: str
    data: dict

    @property
    def slug(self):
        return file_stem(self.label)

    def cases(self, measurement):
        """Its successful cases of one measurement, in run order."""
        return rd.ok_cases(self.data, measurement)

    @property
    def backends(self):
        """The backends of its throughput cases: a compare run's in its order (the first is the ratios'
        reference), else in the usual order."""
        used = {c["params"].get("backend") for c in self.cases("throughput")}
        listed = [b for b in self.data.get("options", {}).get("backends") or [] if b in used]
        return listed + [b for b in rd.backend_order(used - set(listed)) if b is not None]


def _problem(path, text):
    return f"run folder {str(path)!r}: {text}"


def _half_written(data):
    done, planned = len(data["cases"]), data.get("suite", {}).get("cases_planned", "?")
    status = data.get("status")
    if status == "running":
        return (f"half-written: status 'running' after {done} of {planned} planned cases (the run was killed "
                "or is still going); finish or rerun it")
    if status == "interrupted":
        return f"half-written: the run was interrupted after {done} of {planned} planned cases; rerun it"
    if status != "complete":
        return f"unknown status {status!r} in {RESULTS}"
    return None


def _malformed(data):
    for i, case in enumerate(data["cases"]):
        if not isinstance(case, dict) or any(not isinstance(case.get(k), t) for k, t in CASE_KEYS.items()):
            return f"case {i} of {RESULTS} is malformed (needs {', '.join(CASE_KEYS)})"
    return None


def read_run(path):
    """results.json of one folder, checked for the report; ValueError naming the folder and the problem."""
    path = Path(path)
    if path.is_dir() and not any(path.iterdir()):
        raise ValueError(_problem(path, f"empty folder (no {RESULTS}: the run never started, or a wrong path)"))
    data = load_run(path)
    problem = _half_written(data) or _malformed(data)
    if problem is None and not any(c["status"] == "ok" for c in data["cases"]):
        problem = f"no successful case to report ({len(data['cases'])} failed)"
    if problem:
        raise ValueError(_problem(path, problem))
    return data


def _labels(paths):
    """Folder names, made unique with ' (2)', ' (3)'... in order."""
    labels = []
    for path in paths:
        name = Path(path).resolve().name or str(path)
        label, n = name, 1
        while label in labels:
            n += 1
            label = f"{name} ({n})"
        labels.append(label)
    return labels


def read_runs(paths):
    """-> (runs, problems): a Run per folder fit for the report, in the order given (a folder given twice
    counts once), and one message per folder left out."""
    kept, problems, seen = [], [], set()
    for path in paths:
        path = Path(path)
        if path.resolve() in seen:
            problems.append(_problem(path, "given more than once; reported once"))
            continue
        seen.add(path.resolve())
        try:
            kept.append((path, read_run(path)))
        except ValueError as exc:
            problems.append(str(exc))
    runs = [Run(path, label, data) for (path, data), label in zip(kept, _labels(p for p, _ in kept))]
    return runs, problems
