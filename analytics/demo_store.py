"""Build the built-in demo store, and write demo data as import templates.

The demo goes through the same validated import as a clinic's files, so the demo store is
exactly what an import of ``retention demo-files`` output would give.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from analytics.demo import DEFAULT_AS_OF, generate_demo
from analytics.importing import ImportResult, import_frames
from analytics.tables import LOAD_ORDER


def build_demo_store(
    store_path: str | Path, *, n_patients: int = 3000, seed: int = 20261124, replace: bool = False
) -> ImportResult:
    """Generate demo clinics and import them into a new store at ``store_path``.

    With ``replace`` an existing store is swapped for the new one only once it is complete.
    """
    store_path = Path(store_path)
    if store_path.exists() and not replace:
        raise FileExistsError(f"{store_path} exists; pass replace=True to rebuild it.")
    demo = generate_demo(n_patients=n_patients, seed=seed)
    building = store_path.with_name(store_path.name + ".building")
    building.unlink(missing_ok=True)
    result = import_frames(building, demo.tables, cutoff=demo.as_of, source="demo", strict=True)
    os.replace(building, store_path)
    return result


def write_demo_files(
    directory: str | Path,
    *,
    n_patients: int = 300,
    seed: int = 20261124,
    file_format: str = "csv",
) -> list[Path]:
    """Write one import file per table (CSV, Excel or Parquet): a template a clinic can edit."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    demo = generate_demo(n_patients=n_patients, seed=seed, as_of=DEFAULT_AS_OF)
    paths = []
    for name in LOAD_ORDER:
        frame = _for_file(demo.tables[name])
        path = directory / f"{name}.{file_format}"
        if file_format == "csv":
            frame.to_csv(path, index=False)
        elif file_format == "xlsx":
            frame.to_excel(path, index=False, sheet_name=name[:31])
        else:
            frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


def _for_file(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as YYYY-MM-DD text, as a clinic's export would have them."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out
