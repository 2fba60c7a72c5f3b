"""The package's layout: lower rooms never import higher ones (README, "Development"), and no
module takes another module's private names."""

import ast

from conftest import ROOT

#: the rooms in the order data flows through them; a module imports only its own room and those before
ROOMS = [
    ["errors", "alphabet", "pwm", "io", "bigwig", "browser", "jaspar", "numba_cache", "tomtom",
     "scan_kernels"],
    ["samples", "prepare", "negatives", "conservation", "dataset"],
    ["model", "device", "batching", "train", "baseline", "metrics", "plots"],
    ["featuremaps", "significance", "labels", "calls", "sites", "filter_sites", "influence",
     "track_effect", "clustering", "annotation", "logos", "motifs"],
    ["scanner", "scan_null", "scan_calls", "shards", "shard_plan", "scan"],
    ["report"],
]
ROOM = {m: i for i, names in enumerate(ROOMS) for m in names}


def _imports(path):
    """(module, names) of every import within the package in a file of seqfm/ (``from . import
    x`` is module ``x``), at any depth of the file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:
                for alias in node.names:
                    yield alias.name, []
            else:
                yield node.module.split(".")[0], [alias.name for alias in node.names]


def test_every_module_has_a_room():
    modules = {p.stem for p in (ROOT / "seqfm").glob("*.py") if not p.stem.startswith("_")}
    modules -= {"api", "cli", "warmup", "simulate", "simulate_protein"}  # entry points and the example
    assert modules <= set(ROOM), sorted(modules - set(ROOM))


def test_lower_rooms_never_import_higher_ones():
    upward = []
    for path in sorted((ROOT / "seqfm").glob("*.py")):
        if path.stem not in ROOM:
            continue
        for module, _ in _imports(path):
            if module in ROOM and ROOM[module] > ROOM[path.stem]:
                upward.append(f"{path.stem} imports {module}")
    assert upward == []


def test_no_module_imports_another_ones_private_names():
    private = []
    for path in sorted((ROOT / "seqfm").rglob("*.py")):
        for module, names in _imports(path):
            private += [f"{path.relative_to(ROOT)}: {module}.{n}" for n in names
                        if n.startswith("_") and n != "__version__"]
    assert private == []
