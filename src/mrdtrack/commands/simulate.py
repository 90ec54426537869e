"""``mrdtrack simulate --n N --seed S --out COHORT [--scenario FILE|default|null|registry] [--format csv|parquet]
[--truth]`` (docs/cli.md): a synthetic cohort folder in the data contract's format."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mrdtrack.commands.common import err_console, guarded, output_folder
from mrdtrack.errors import UserError

#: The seed when --seed is not given (the year of the seed study): same command, same cohort.
DEFAULT_SEED = 2020
OMOP_FORMATS = ("omop", "omop-folder")
FHIR_FORMATS = ("fhir", "fhir-bundles")
THERAPY = ("episodes", "drugs")


def write_simulated_cohort(n: int, seed: int, out: str | Path, scenario: str | Path = "default", fmt: str = "csv",
                           truth: bool = False, omop_therapy: str = "episodes",
                           chunk_size: int | None = None) -> list[Path]:
    """Simulate and write ``out/<table>.<fmt>`` (and ``out/truth/truth.csv`` with ``truth``), ``chunk_size``
    patients at a time (memory bounded by a chunk; the files do not depend on it); ``omop`` writes one
    DuckDB file, ``omop-folder`` a folder of OMOP Parquet tables (docs/omop.md); ``fhir`` a FHIR R4 Bulk
    Data export, ``fhir-bundles`` one Bundle per patient (docs/fhir.md), streamed by chunks too; the two
    OMOP formats from the whole cohort."""
    from mrdtrack.io.write import FORMATS, TableWriter
    from mrdtrack.simulate.cohort import CHUNK_PATIENTS, simulate_chunks

    if n < 1:
        raise UserError(f"--n must be at least 1, got {n}")
    if seed < 0:
        raise UserError(f"--seed must be a non-negative whole number, got {seed}")
    if fmt not in FORMATS + OMOP_FORMATS + FHIR_FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS + OMOP_FORMATS + FHIR_FORMATS)}, got {fmt!r}")
    if omop_therapy not in THERAPY:
        raise UserError(f"--omop-therapy must be one of {', '.join(THERAPY)}, got {omop_therapy!r}")
    if chunk_size is not None and chunk_size < 1:
        raise UserError(f"--chunk-size must be at least 1, got {chunk_size}")
    out = Path(out)
    if fmt == "omop":
        if out.is_dir():
            raise UserError(f"{out}: is a folder; --format omop writes one DuckDB file (e.g. --out cdm.duckdb)")
        output_folder(out.parent if str(out.parent) else Path("."))
    else:
        out = output_folder(out)
    if fmt in OMOP_FORMATS:
        from mrdtrack.importers.omop.write import contract_to_omop, write_duckdb, write_folder
        from mrdtrack.simulate import simulate_cohort

        omop = contract_to_omop(simulate_cohort(n, seed, str(scenario)).tables, episodes=omop_therapy == "episodes")
        return [write_duckdb(omop, out)] if fmt == "omop" else write_folder(omop, out, "parquet")
    if fmt in FHIR_FORMATS:
        from mrdtrack.importers.fhir.export import write_fhir_parts

        with TableWriter(out / "truth" if truth else out, "csv") as truth_out:
            def parts():
                for part in simulate_chunks(n, seed, str(scenario), chunk_size or CHUNK_PATIENTS, truth):
                    if truth:
                        truth_out.write({"truth": part.truth})
                    yield part.tables

            paths = write_fhir_parts(parts(), out, bundles=fmt == "fhir-bundles")
        return paths + truth_out.paths
    with TableWriter(out, fmt) as tables_out, TableWriter(out / "truth" if truth else out, "csv") as truth_out:
        for part in simulate_chunks(n, seed, str(scenario), chunk_size or CHUNK_PATIENTS, truth):
            tables = part.tables
            if fmt == "parquet":  # a Parquet column has one type: lab values (numbers and words) as text
                tables = {**tables, "labs": tables["labs"].assign(value=tables["labs"]["value"].astype(str))}
            tables_out.write(tables)
            if truth:
                truth_out.write({"truth": part.truth})
    return tables_out.paths + truth_out.paths


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    @guarded
    def simulate(
        n: Annotated[int, typer.Option("--n", help="Number of patients.")],
        out: Annotated[Path, typer.Option("--out", help="Cohort folder to write.")],
        seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same files; default "
                                                         f"{DEFAULT_SEED}).")] = DEFAULT_SEED,
        scenario: Annotated[str, typer.Option("--scenario", help="default, null, registry, or a TOML/YAML scenario file.")]
        = "default",
        fmt: Annotated[str, typer.Option("--format", help="csv, parquet, omop (one OMOP CDM DuckDB file), "
                                                          "omop-folder (OMOP Parquet tables), fhir (FHIR R4 Bulk Data "
                                                          "ndjson) or fhir-bundles (one FHIR Bundle per patient).")] = "csv",
        truth: Annotated[bool, typer.Option("--truth", help="Also write COHORT/truth/truth.csv (latent parameters "
                                                            "and true MRD classes; readers ignore it).")] = False,
        omop_therapy: Annotated[str, typer.Option("--omop-therapy", help="OMOP formats: therapy as regimen 'episodes' "
                                                  "(Oncology extension) or as 'drugs' and procedures only.")] = "episodes",
        chunk_size: Annotated[int | None, typer.Option(
            "--chunk-size", min=1, help="Patients simulated and written at a time (default 1,000; memory is "
                                        "bounded by a chunk; the files do not depend on it).")] = None,
    ) -> None:
        """Simulate a synthetic cohort (patients, treatments, labs, MRD, events, imaging, responses).

        The model and its parameters are in docs/simulator.md; --scenario takes a packaged scenario
        (default, null, registry) or your own TOML/YAML file overriding any parameter.

        Example: mrdtrack simulate --n 139 --seed 2020 --out cohort --truth
        """
        status = err_console.status(f"simulating {n} patients") if sys.stderr.isatty() else None
        if status is not None:
            status.start()
        try:
            paths = write_simulated_cohort(n, seed, out, scenario=scenario, fmt=fmt, truth=truth,
                                           omop_therapy=omop_therapy, chunk_size=chunk_size)
        finally:
            if status is not None:
                status.stop()
        if sys.stderr.isatty():
            err_console.print(f"wrote {len(paths)} files to {out}", highlight=False)
