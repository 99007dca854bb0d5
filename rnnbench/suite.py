"""Suites: TOML files listing measurement cases.

Schema (see rnnbench/suites/*.toml for examples)::

    name = "decay"                   # required
    description = "one line"         # required
    [defaults]                       # optional: fields every case starts from
    hidden_size = 64
    [[cases]]                        # one or more case groups
    kind = ["rnn_tanh", "lstm"]      # a list makes a grid axis: the group expands
    T = [10, 100]                    #   into the cartesian product of its lists
    init = "orthogonal:0.9"
    [quick]                          # optional: overrides applied with --quick
    T = [10]

Case fields (FIELDS below): measurement ("decay", "tbptt" or
"throughput"), kind, input_size, hidden_size, num_layers, batch, T, init
(see rnnbench.inits), input_scale (x ~ N(0, input_scale^2)), dtype,
backend, seed, and for tbptt: truncation ("full", "kstep:K", "chunk:K"),
for throughput: input_mode ("linear", or "skip": DeepBench's skip-input
layer, input_size = hidden_size; see rnnbench.model.RNN). measurement
"throughput" times rb.forward and rb.backward (see rnnbench.throughput;
its case ids name init and input_scale where they are not the defaults);
``rnnbench compare`` runs its cases on several backends at once.
"""
import itertools
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

MEASUREMENTS = ("decay", "tbptt", "throughput")
# field -> (type, default; None = required)
FIELDS = {
    "measurement": (str, None), "kind": (str, None), "input_size": (int, None), "hidden_size": (int, None),
    "num_layers": (int, 1), "batch": (int, 1), "T": (int, None), "init": (str, "default"),
    "input_scale": (float, 1.0), "dtype": (str, "float64"), "backend": (str, "numba-cpu"), "seed": (int, 0),
    "truncation": (str, "full"), "input_mode": (str, "linear"),
}
TOP_LEVEL = {"name", "description", "defaults", "cases", "quick"}


@dataclass
class Suite:
    name: str
    description: str
    source: str
    cases: list  # dicts of FIELDS plus "id"


def builtin_dir():
    return resources.files("rnnbench") / "suites"


DEEPBENCH_SUITES = {
    "deepbench-train": ("Baidu DeepBench's 53 RNN training problems (throughput; skip-input as DeepBench, "
                        "and the full layer)", ("TRAIN",)),
    "deepbench-infer": ("Baidu DeepBench's 69 server + 3 device RNN inference problems (throughput; skip-input "
                        "as DeepBench, and the full layer)", ("INFER_SERVER", "INFER_DEVICE")),
}


def deepbench_suite(name):
    """A Suite of DeepBench problems (rnnbench.deepbench), two throughput cases
    each: skip-input (DeepBench's own mode: no input GEMM) and the full layer
    (input_mode "linear"). DeepBench's vanilla is rnn_relu; input size =
    hidden; float32 on numba-cpu."""
    from . import deepbench
    from .flops import DEEPBENCH_KIND
    description, lists = DEEPBENCH_SUITES[name]
    cases = []
    for list_name in lists:
        for problem in getattr(deepbench, list_name):
            for input_mode in ("skip", "linear"):
                case = {key: default for key, (_, default) in FIELDS.items() if default is not None}
                case.update(measurement="throughput", kind=DEEPBENCH_KIND[problem.cell], hidden_size=problem.hidden,
                            input_size=problem.hidden, batch=problem.batch, T=problem.time_steps, dtype="float32",
                            input_mode=input_mode)
                case["id"] = f"{case_id(case)}/{list_name.lower()}"  # the same problem can be in two lists
                cases.append(case)
    return Suite(name, description, f"rnnbench.deepbench ({deepbench.SOURCE})", cases)


def list_suites():
    """[(name, description)] of the suites shipped with rnnbench."""
    found = [(name, description) for name, (description, _) in DEEPBENCH_SUITES.items()]
    for entry in sorted(builtin_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text())
            found.append((data.get("name", entry.name[:-5]), data.get("description", "")))
    return found


def _resolve(name_or_path):
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ValueError(f"suite: no such file {str(path)!r}")
        return path.read_text(), str(path)
    entry = builtin_dir() / f"{name_or_path}.toml"
    if not entry.is_file():
        names = ", ".join(n for n, _ in list_suites())
        raise ValueError(f"suite: expected one of {names} or a path to a .toml file, got {name_or_path!r}")
    return entry.read_text(), f"rnnbench/suites/{name_or_path}.toml"


def _check_field(source, key, value):
    if key not in FIELDS:
        raise ValueError(f"suite {source}: unknown case field {key!r} (expected one of {', '.join(FIELDS)})")
    kind = FIELDS[key][0]
    values = value if isinstance(value, list) else [value]
    for item in values:
        ok = isinstance(item, kind) and not isinstance(item, bool) or (kind is float and isinstance(item, int)
                                                                      and not isinstance(item, bool))
        if not ok:
            raise ValueError(f"suite {source}: field {key!r} expects {kind.__name__} values, got {item!r}")


def case_id(case):
    if case["measurement"] == "throughput":
        parts = [case["measurement"], case["kind"], f"H={case['hidden_size']}", f"B={case['batch']}",
                 f"T={case['T']}", case["dtype"]]
        parts += [f"L={case['num_layers']}"] if case["num_layers"] != 1 else []
        parts += [f"init={case['init']}"] if case["init"] != FIELDS["init"][1] else []
        parts += [f"input_scale={case['input_scale']:g}"] if case["input_scale"] != FIELDS["input_scale"][1] else []
        return "/".join(parts + (["skip-input"] if case["input_mode"] == "skip" else []))
    parts = [case["measurement"], case["kind"], case["init"], f"T={case['T']}"]
    if case["measurement"] == "tbptt":
        parts.append(case["truncation"])
    return "/".join(parts)


def load_suite(name_or_path, quick=False):
    """A built-in suite name or a TOML file path -> Suite with expanded cases."""
    if name_or_path in DEEPBENCH_SUITES:
        return deepbench_suite(name_or_path)
    text, source = _resolve(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"suite {source}: not valid TOML: {exc}") from None
    unknown = set(data) - TOP_LEVEL
    if unknown:
        raise ValueError(f"suite {source}: unknown top-level keys {sorted(unknown)} (expected {sorted(TOP_LEVEL)})")
    for key in ("name", "description"):
        if not isinstance(data.get(key), str):
            raise ValueError(f"suite {source}: expected a string {key!r}, got {data.get(key)!r}")
    groups = data.get("cases")
    if not isinstance(groups, list) or not groups:
        raise ValueError(f"suite {source}: expected one or more [[cases]] tables")
    defaults = data.get("defaults", {})
    overrides = data.get("quick", {}) if quick else {}
    for table in (defaults, overrides, *groups):
        for key, value in table.items():
            _check_field(source, key, value)
    cases, seen = [], {}
    for group in groups:
        merged = {key: default for key, (_, default) in FIELDS.items() if default is not None}
        merged.update(defaults)
        merged.update(group)
        merged.update({k: v for k, v in overrides.items() if k in merged})
        missing = [key for key in FIELDS if key not in merged]
        if missing:
            raise ValueError(f"suite {source}: a case group lacks {', '.join(missing)}")
        if merged["measurement"] not in MEASUREMENTS and not isinstance(merged["measurement"], list):
            raise ValueError(f"suite {source}: measurement expects one of {MEASUREMENTS}, "
                             f"got {merged['measurement']!r}")
        axes = {k: v if isinstance(v, list) else [v] for k, v in merged.items()}
        for combo in itertools.product(*axes.values()):
            case = dict(zip(axes, combo))
            if case["measurement"] == "decay":
                case["truncation"] = "full"
            cid = case_id(case)
            seen[cid] = seen.get(cid, 0) + 1
            case["id"] = cid if seen[cid] == 1 else f"{cid}#{seen[cid]}"
            cases.append(case)
    return Suite(data["name"], data["description"], source, cases)
