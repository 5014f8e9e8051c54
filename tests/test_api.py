"""The public API follows its stated conventions: one name per concept, keyword-only options,
one documented return type, an Examples section that runs, and a layout by data flow."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import pathlib
import re

import pandas as pd
import pytest

import nmgeo
from nmgeo import glossary

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nmgeo"

# Public modules in the order data flows through them; a module may import only earlier ones
# (and the base modules every stage uses).
BASE = ["errors", "settings", "glossary", "reference"]
FLOW = [
    "io",
    "zoning",
    "major_zone",
    "fabric",
    "packages",
    "access",
    "network",
    "raster",
    "capacity",
    "scenarios",
    "report",
    "maps",
    "plot",
    "datasets",
    "cli",
]


def _public_callables() -> list[tuple[str, object]]:
    """Every public function of every public module (``__all__``), once each."""
    out, seen = [], set()
    for module_name in (*BASE, *FLOW):
        module = importlib.import_module(f"nmgeo.{module_name}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isfunction(obj) and obj not in seen:
                seen.add(obj)
                out.append((f"{module_name}.{name}", obj))
    return out


PUBLIC = _public_callables()
PARAMETERS = glossary.parameters().set_index("name")


def test_the_parameter_list_has_one_row_per_name_with_a_kind_and_a_meaning():
    table = glossary.parameters()
    assert not table["name"].duplicated().any()
    assert set(table["kind"]) == {"data", "option"}
    assert (table["meaning"].str.len() > 10).all()


@pytest.mark.parametrize(("name", "func"), PUBLIC, ids=[n for n, _ in PUBLIC])
def test_every_parameter_name_comes_from_the_one_list(name, func):
    unknown = [p for p in inspect.signature(func).parameters if p not in PARAMETERS.index]
    assert unknown == [], f"{name}: parameters not in nmgeo/data/parameters.csv: {unknown}"


@pytest.mark.parametrize(("name", "func"), PUBLIC, ids=[n for n, _ in PUBLIC])
def test_options_are_keyword_only_and_data_comes_first(name, func):
    params = list(inspect.signature(func).parameters.values())
    for p in params:
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        kind = PARAMETERS.loc[p.name, "kind"]
        assert p.kind != p.POSITIONAL_ONLY, f"{name}({p.name}) is positional-only"
        if kind == "option":
            assert p.kind == p.KEYWORD_ONLY, f"{name}: option {p.name!r} must be keyword-only"


@pytest.mark.parametrize(("name", "func"), PUBLIC, ids=[n for n, _ in PUBLIC])
def test_the_return_type_is_one_documented_type(name, func):
    annotation = inspect.signature(func).return_annotation
    assert annotation is not inspect.Signature.empty, f"{name} has no return annotation"
    text = annotation if isinstance(annotation, str) else typing_repr(annotation)
    kinds = [t.strip() for t in split_top_level(text) if t.strip() != "None"]
    assert len(kinds) == 1, f"{name} returns one of several types: {text}"
    doc = inspect.getdoc(func) or ""
    assert re.search(r"^Returns\n-------\n", doc, re.M), f"{name} documents no Returns"


def typing_repr(annotation: object) -> str:
    return getattr(annotation, "__name__", None) or str(annotation)


def split_top_level(text: str) -> list[str]:
    """``"A | tuple[B | C, D]"`` -> ``["A", "tuple[B | C, D]"]``."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


@pytest.mark.parametrize(("name", "func"), PUBLIC, ids=[n for n, _ in PUBLIC])
def test_every_public_verb_has_an_examples_section(name, func):
    doc = inspect.getdoc(func) or ""
    assert re.search(r"^Examples\n--------\n", doc, re.M), f"{name} has no Examples section"
    assert ">>> " in doc.split("Examples\n--------\n", 1)[1]


def test_public_classes_have_examples_too():
    classes = (
        nmgeo.PackageResult,
        nmgeo.raster.Raster,
        nmgeo.datasets.Sample,
        nmgeo.datasets.SyntheticMetropolis,
        nmgeo.NmgeoError,
    )
    for cls in classes:
        assert "Examples\n--------" in (inspect.getdoc(cls) or ""), cls.__name__


# --------------------------------------------------------------------------- examples run


def _examples() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.stem == "__main__":
            continue
        module = importlib.import_module(f"nmgeo.{path.stem}")
        for test in finder.find(module, module.__name__):
            if test.examples and test.name.startswith(module.__name__):
                tests.append(test)
    return sorted(tests, key=lambda t: t.name)


EXAMPLES = _examples()


@pytest.mark.parametrize("example", EXAMPLES, ids=[t.name for t in EXAMPLES])
def test_the_docstring_examples_run(example, monkeypatch):
    monkeypatch.chdir(ROOT)  # examples read the extract in tests/data as a user's files
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    globs = dict(example.globs)
    example.globs = globs
    failures = []
    runner.run(example, out=failures.append)
    assert runner.failures == 0, "".join(failures)


def test_every_public_callable_is_covered_by_a_running_example():
    names = {t.name for t in EXAMPLES}
    missing = [
        f"{func.__module__}.{func.__qualname__}"
        for _, func in PUBLIC
        if f"{func.__module__}.{func.__qualname__}" not in names
    ]
    assert missing == []


# --------------------------------------------------------------------------- layout


def _imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nmgeo"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "nmgeo" and len(parts) > 1:
                    found.add(parts[1])
    return found


@pytest.mark.parametrize("module", FLOW)
def test_a_module_imports_only_earlier_stages(module):
    later = set(FLOW[FLOW.index(module) :])
    public = {m for m in _imports(module) if not m.startswith("_")}
    assert public & later - {module} == set(), f"{module} imports a later stage"
    assert public <= set(BASE) | set(FLOW)


def test_private_modules_import_no_public_stage():
    for path in sorted(PACKAGE.glob("_[a-z]*.py")):
        public = {m for m in _imports(path.stem) if not m.startswith("_")}
        assert public <= {"errors", "settings"}, f"{path.name} imports {public}"


def test_every_module_says_what_it_does_in_one_line():
    for path in sorted(PACKAGE.glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc, path.name
        assert len(doc.splitlines()[0]) <= 99, path.name


def test_reading_never_classifies():
    assert "classify_zone" not in (PACKAGE / "io.py").read_text(encoding="utf-8")
    assert "_vocabulary" not in _imports("io")


def test_the_report_computes_nothing_itself():
    imports = _imports("report")
    assert imports.isdisjoint({"access", "raster", "fabric", "network", "zoning"})


def _column_pattern(column: str) -> re.Pattern:
    """``rail_distance_m_<year>`` matches ``rail_distance_m_2034``, ``<class>_ha`` any class."""
    text = re.escape(column).replace("<class>", "[a-z_]+").replace("<year>", r"\d{4}")
    return re.compile(f"^{text}$")


def test_the_column_glossary_covers_the_columns_of_the_sample_outputs():
    sample = nmgeo.load_sample()
    fabric = nmgeo.land_fabric(sample.zones, sample.parcels)
    result = nmgeo.build_packages(fabric)
    sites = nmgeo.assign_terrain(nmgeo.assign_access(result.packages), sample.dem_path)
    known = glossary.columns()
    patterns = [
        re.compile(
            "^" + re.escape(c).replace("<class>", "[a-z_]+").replace("<year>", r"\d{4}") + "$"
        )
        for c in known["column"]
    ]
    produced = {
        "fabric": set(fabric.columns) - set(sample.parcels.columns),
        "packages": set(sites.columns),
        "members": set(result.members.columns),
        "excluded": set(result.excluded.columns),
        "pieces": set(result.pieces.columns),
    }
    for table, cols in produced.items():
        missing = [c for c in cols - {"geometry"} if not any(p.match(c) for p in patterns)]
        assert missing == [], f"{table}: columns without a glossary entry: {missing}"
    assert set(known["unit"]) <= {
        "",
        "ha",
        "m²",
        "m",
        "0-1",
        "count",
        "text",
        "year",
        "°",
        "integer",
        "lot id",
        "source id",
        "source value",
    }


def test_the_glossary_has_one_entry_per_table_and_column():
    table = glossary.columns()
    assert not table.duplicated(["table", "column"]).any()
    assert isinstance(glossary.columns("packages"), pd.DataFrame)
    with pytest.raises(nmgeo.errors.InputError, match="packages"):
        glossary.columns("nope")


def test_the_proximity_verb_and_the_access_module_do_not_clash():
    import nmgeo.access

    assert callable(nmgeo.proximity) and nmgeo.proximity is nmgeo.access.proximity
    assert nmgeo.access.rail_proximity is nmgeo.rail_proximity
