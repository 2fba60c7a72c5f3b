"""The samples table (``samples.tsv``): read, validate against its JSON schema, check consistency."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from .errors import InputError

REQUIRED = ["sample", "alphabet", "positives", "negatives"]
OPTIONAL = ["genome", "conservation"]
SCHEMA = Path(__file__).resolve().parent / "schemas" / "samples.schema.yaml"  # shipped in the package


def read_samples(path: str | Path, schema: str | Path | None = None) -> pd.DataFrame:
    """Read and validate ``samples.tsv``; returns a DataFrame indexed by sample name.

    Every error names the file, the line and the column, e.g.
    ``config/samples.tsv line 3: sample 'my sample' must match ^[A-Za-z0-9._-]+$``.
    """
    import jsonschema

    from .io import compression, input_file

    path = input_file(path, "samples table")
    kind = compression(path)
    if kind not in (None, "gzip"):
        raise InputError(f"{path}: is {kind}-compressed; the samples table must be plain text")
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None,
                         compression=kind)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, EOFError,
            OSError) as err:
        raise InputError(f"{path}: not a tab-separated table with a header row "
                         f"({str(err).splitlines()[0]})") from None
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; the header must name "
                         f"{', '.join(REQUIRED)} (and optionally {', '.join(OPTIONAL)}), tab-separated")
    for col in OPTIONAL:
        if col not in df.columns:
            df[col] = ""
    df = df.apply(lambda col: col.str.strip())
    if df.empty:
        raise InputError(f"{path}: no sample rows under the header")
    schema_doc = yaml.safe_load(Path(schema or SCHEMA).read_text())
    validator = jsonschema.Draft202012Validator(schema_doc)
    for i, row in enumerate(df.to_dict("records"), start=2):
        present = {k: v for k, v in row.items() if v != "" or k in REQUIRED}
        err = next(iter(sorted(validator.iter_errors(present), key=lambda e: list(e.path))), None)
        if err is not None:
            col = err.path[0] if err.path else ""
            raise InputError(f"{path} line {i}: {_explain(err, col, row)}")
        if row["alphabet"] == "dna" and _is_bed(row["positives"]) and not row["genome"]:
            raise InputError(f"{path} line {i}: positives {row['positives']} are BED intervals, "
                             f"so column 'genome' needs a genome FASTA")
        if row["negatives"] == "background" and not row["genome"]:
            raise InputError(f"{path} line {i}: negatives 'background' needs column 'genome'")
    dup = df["sample"][df["sample"].duplicated()]
    if len(dup):
        raise InputError(f"{path}: sample '{dup.iloc[0]}' appears more than once")
    return df.set_index("sample", drop=False)


def _explain(err, col: str, row: dict) -> str:
    if err.validator == "pattern" and col == "sample":
        return (f"sample name {row['sample']!r} must match ^[A-Za-z0-9._-]+$ and not be . or .. "
                f"(it becomes a folder name)")
    if err.validator == "enum":
        return f"column '{col}' is {row[col]!r}; use one of {', '.join(err.validator_value)}"
    if err.validator == "minLength":
        return f"column '{col}' is empty"
    return f"column '{col}': {err.message}"


def _is_bed(path: str) -> bool:
    from .prepare import is_bed

    return is_bed(path)
