"""Run folders: results.json, results.csv and figures/ for one suite run.

results.json (schema_version 2)::

    {"schema_version": 2, "tool": "rnnbench", "rnnbench_version": "0.1.0",
     "suite": {"name", "description", "source", "cases_planned"},
     "options": {"backend", "dtype", "quick", "seed", "filter"},
     "status": "running" | "complete" | "interrupted",
     "started_utc": ISO 8601, "finished_utc": ISO 8601 or null,
     "environment": {...},              # rnnbench.environment.capture_environment()
     "cases": [{"id", "measurement", "params": {case fields},
                "status": "ok" | "error" | "unsupported" (the backend cannot run this case),
                "error": null or "Type: message" (or why unsupported),
                "seconds": wall time, "values": {name: number, bool, str or null},
                "series": {name: [number or null, ...]}}]}

Non-finite numbers are stored as null (values carry a 'finite' flag).
Version 1 timed throughput cases on PyTorch's init and x ~ N(0, 1)
whatever their init and input_scale said; :func:`load_run` gives a
version-1 folder's throughput cases the values they were measured with.
results.json and results.csv are rewritten atomically (temporary file,
fsync, rename) after every case, so an interrupted run leaves every case
finished so far in valid files, never a truncated one.
"""
import csv
import io
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from . import __version__

SCHEMA_VERSION = 2
RESULTS = "results.json"
CSV = "results.csv"


def utc_now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_run_dir(suite_name, root="reports/runs"):
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path(root) / f"{stamp}-{suite_name}"


def atomic_write(path, text):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _dumps(obj):
    return json.dumps(obj, allow_nan=False, separators=(",", ":"))


class RunFolder:
    """Writes one run folder; every case is on disk as soon as it is added."""

    def __init__(self, path, suite, options, environment, planned=None):
        self.path = Path(path)
        if (self.path / RESULTS).exists():
            raise ValueError(f"output: {str(self.path)!r} already holds a run; choose a new folder")
        self.path.mkdir(parents=True, exist_ok=True)
        self.header = {
            "schema_version": SCHEMA_VERSION, "tool": "rnnbench", "rnnbench_version": __version__,
            "suite": {"name": suite.name, "description": suite.description, "source": suite.source,
                      "cases_planned": len(suite.cases) if planned is None else planned},
            "options": options, "status": "running", "started_utc": utc_now(), "finished_utc": None,
            "environment": environment,
        }
        self.cases = []         # the case records
        self._case_json = []    # each case serialised once, so rewrites only join strings
        self._write()

    def add_case(self, record):
        self.cases.append(record)
        self._case_json.append(_dumps(record))
        self._write()

    def finish(self, status):
        self.header["status"] = status
        self.header["finished_utc"] = utc_now()
        self._write()

    def _write(self):
        head = _dumps(self.header)[:-1]
        atomic_write(self.path / RESULTS, head + ',"cases":[' + ",\n".join(self._case_json) + "]}\n")
        atomic_write(self.path / CSV, to_csv(self.cases))


def flat_row(case):
    """One tidy CSV row: identity, parameters and scalar values of a case."""
    row = {"id": case["id"], "measurement": case["measurement"], "status": case["status"],
           "error": case["error"] or "", "seconds": case["seconds"]}
    row.update({k: v for k, v in case["params"].items() if k != "id"})
    row.update(case["values"])
    return row


def to_csv(cases):
    rows = [flat_row(c) for c in cases]
    columns = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns or ["id"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def load_run(path):
    """results.json of a run folder as a dict; ValueError naming the folder and
    the problem when it is missing, unreadable, half-written or from a newer schema."""
    path = Path(path)
    results = path / RESULTS
    if not path.is_dir():
        raise ValueError(f"run folder {str(path)!r}: no such folder")
    if not results.is_file():
        raise ValueError(f"run folder {str(path)!r}: no {RESULTS} (not a run folder, or the run never started)")
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"run folder {str(path)!r}: {RESULTS} is not valid JSON ({exc})") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(version, int):
        raise ValueError(f"run folder {str(path)!r}: {RESULTS} has no schema_version")
    if version > SCHEMA_VERSION:
        raise ValueError(f"run folder {str(path)!r}: schema_version {version} is newer than this rnnbench "
                         f"reads ({SCHEMA_VERSION}); upgrade rnnbench")
    if not isinstance(data.get("cases"), list):
        raise ValueError(f"run folder {str(path)!r}: {RESULTS} has no cases list")
    if version < 2:  # throughput ignored init and input_scale
        for case in data["cases"]:
            params = case.get("params") if isinstance(case, dict) else None
            if isinstance(params, dict) and case.get("measurement") == "throughput":
                params.update(init="default", input_scale=1.0)
    return data
