"""Generation jobs: ``n`` images of one request (attributes and/or a prompt), or one image per catalog row.

What ``prodgen generate`` and ``prodgen fill`` hand to ``write_generation``. Row jobs are
named by the row's id through ``unique_names``: ids that would map to the same file
(``a/b`` and ``a_b``) get distinct names, and ``labels.csv`` / ``generation.json`` record
which id went to which file.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from .writer import Job, unique_names


@dataclass
class JobPlan:
    jobs: list[Job]
    request: dict  # what was asked, for generation.json
    notes: list[str] = field(default_factory=list)  # things the user should hear about (unknown values, skipped rows)


def request_jobs(pipe, attrs: Mapping[str, str] | None, prompt: str | None, n: int, seed: int = 0) -> JobPlan:
    """``n`` images of one condition (``--attr`` values and/or ``--prompt``); image i uses seed ``seed + i``."""
    if n < 1:
        raise UserError(f"-n {n}: ask for at least one image")
    attrs = dict(attrs or {})
    pc = pipe.prompt_condition(prompt, attrs)
    jobs = [Job(f"{i:06d}", pc.cond, seed + i, text=pc.text) for i in range(n)]
    request = {"attributes": attrs, "prompt": prompt, "understood": pc.understood, "notes": pc.notes, "n": n, "seed": seed}
    return JobPlan(jobs, request, list(pc.notes))


def row_jobs(pipe, records: Sequence, names: Sequence[str], seed: int = 0, meta: Mapping | None = None) -> list[Job]:
    """One job per catalog record (its attributes, and its title for text runs); job k uses seed ``seed + k``."""
    if not records:
        return []
    titles = pipe.encode_text([r.title for r in records]) if pipe.model.text_dim else None
    jobs = []
    for k, (rec, name) in enumerate(zip(records, names)):
        rc = pipe.row_condition(rec.attributes)
        jobs.append(Job(name, rc.cond, seed + k, {"id": rec.id, "title": rec.title, **dict(meta or {}),
                                                   "understood": rc.understood, "notes": rc.notes},
                        titles[k] if titles is not None else None))
    return jobs


def check_row_columns(pipe, csv_path: Path, header: Sequence[str], title_column: str | None) -> None:
    """A CSV none of whose columns the model is conditioned on would give unconditioned images: refuse it."""
    wanted = pipe.vocab.names
    if any(a in header for a in wanted):
        return
    if pipe.model.text_dim and title_column and title_column in header:
        return  # the titles condition a text model
    hints = []
    for a in wanted:
        close = difflib.get_close_matches(a, list(header), n=1, cutoff=0.6) or [h for h in header if h.casefold() == a.casefold()]
        if close:
            hints.append(f"{close[0]!r} -> {a!r}")
    hint = f" Rename {', '.join(hints)}." if hints else ""
    raise UserError(f"{csv_path} has none of the columns the model is conditioned on ({', '.join(wanted)}); its columns: "
                    f"{', '.join(header)}.{hint} Every image would ignore its row.")


def csv_jobs(pipe, csv_path: str | Path, seed: int = 0, id_column: str = "id",
             title_column: str = "productDisplayName") -> JobPlan:
    """One job per row of a catalog-layout CSV (``generate --from-csv``), named by the row's id."""
    from ..data.csv_catalog import parse_csv

    csv_path = Path(csv_path)
    parsed = parse_csv(csv_path, id_column=id_column, title_column=title_column, attribute_columns=None)
    if not parsed.records:
        why = f"; {len(parsed.skipped)} rows were skipped ({parsed.skipped[0].reason}: {parsed.skipped[0].detail})" \
            if parsed.skipped else ""
        raise UserError(f"{csv_path} has a header but no usable rows{why}; add one row per item to generate.")
    check_row_columns(pipe, csv_path, parsed.header, title_column)
    records = parsed.records
    jobs = row_jobs(pipe, records, unique_names([r.id for r in records]), seed)
    notes = []
    if parsed.skipped:
        notes.append(f"{len(parsed.skipped)} rows of {csv_path} were skipped (e.g. {parsed.skipped[0].id}: "
                     f"{parsed.skipped[0].reason}, {parsed.skipped[0].detail})")
    renamed = sum(1 for j in jobs if j.name != j.meta["id"])
    if renamed:
        notes.append(f"{renamed} ids are not usable file names as they are (or clash with another id once made safe); "
                     "labels.csv and generation.json map each id to its file")
    noted = sum(1 for j in jobs if j.meta["notes"])
    if noted:
        notes.append(f"{noted} rows had values the model does not know; see notes in generation.json")
    request = {"from_csv": str(csv_path), "rows": len(jobs), "uses_titles": bool(pipe.model.text_dim),
               "skipped_rows": len(parsed.skipped)}
    return JobPlan(jobs, request, notes)


__all__ = ["JobPlan", "check_row_columns", "csv_jobs", "request_jobs", "row_jobs"]
