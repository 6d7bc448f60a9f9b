"""Generation jobs: ``n`` images of one request (attributes and/or a prompt), or one image per catalog row.

What ``prodgen generate`` hands to ``write_generation``, and what ``sample/stream.py`` makes chunk by chunk for
``generate --from-csv`` and ``fill``. Row jobs are named by the row's id through ``unique_names``'s rule: ids that
would map to the same file (``a/b`` and ``a_b``) get distinct names, and ``labels.csv`` and the manifests record
which id went to which file.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from .writer import Job


@dataclass
class JobPlan:
    jobs: list[Job]
    request: dict  # what was asked, for generation.json
    notes: list[str] = field(default_factory=list)  # things the user should hear about (unknown values, skipped rows)


def request_jobs(pipe, attrs: Mapping[str, str] | None, prompt: str | None, n: int, seed: int = 0,
                 sketch: Path | np.ndarray | None = None, sketch_info: dict | None = None, title_prior: bool = True,
                 sketch_fit: str = "lines", sketch_snap: bool = False, sketch_shape: int = 0,
                 sketch_close: bool = False) -> JobPlan:
    """``n`` images of one condition (``--attr`` values and/or ``--prompt``); image i uses seed ``seed + i``.

    ``sketch``: a drawing or silhouette (a file, or an (H, W, 3) uint8 array with ``sketch_info`` saying where it came
    from) for a run trained with an image condition (``--sketch``); the request, and so every file's provenance,
    records the file's name and sha256 (or ``sketch_info``) and how it was read (``sketch_fit``: framed by its lines or
    as the whole canvas, ``conditioning.maps.sketch_map``). ``sketch_snap``: image i is drawn from the map of the i-th
    nearest training photo of the asked type instead (``Pipeline.snap_sketch``; each job's ``shape_of`` names it).
    ``sketch_shape`` K > 0 (silhouette runs): every image is drawn from the sketch's mask projected onto the asked
    type's linear shape model of K components (``Pipeline.project_sketch``), the drawing pulled towards that type's
    shapes. ``sketch_close`` (silhouette runs): a drawing whose strokes do not meet, so that filling it leaves the
    line, has its stroke ends joined and the shape they enclose filled (``conditioning.maps.close_outline``).
    ``title_prior``: let the run's title prior fill the attributes the prompt leaves open (the notes say which)."""
    if n < 1:
        raise UserError(f"-n {n}: ask for at least one image")
    attrs = dict(attrs or {})
    if sketch is None and getattr(pipe, "image_condition", None):
        pipe.generate_batch(pipe.condition({})[None], [seed])  # raises the UserError that says what to give
    if sketch_close and sketch is None:
        raise UserError("--sketch-close closes the outline of a drawing; give the drawing with --sketch")
    image_map = pipe.sketch_map(sketch, fit=sketch_fit, close=sketch_close) if sketch is not None else None
    if sketch_snap and sketch is None:
        raise UserError("--sketch-snap snaps a drawing to the nearest catalog shapes; give the drawing with --sketch")
    if sketch_shape and sketch is None:
        raise UserError("--sketch-shape pulls a drawing towards the catalog's shapes; give the drawing with --sketch")
    if sketch_shape and sketch_snap:
        raise UserError("--sketch-snap takes whole catalog shapes and --sketch-shape pulls the drawing towards them; "
                        "choose one")
    pc = pipe.prompt_condition(prompt, attrs, title_prior=title_prior)
    maps, snapped = [image_map] * n, None
    if sketch_snap:
        snapped_maps, snapped = pipe.snap_sketch(image_map, pc.cond, n)
        maps = list(snapped_maps)
    shaped = pipe.project_sketch(image_map, pc.cond, sketch_shape) if sketch_shape else None
    if shaped is not None:
        maps = [shaped] * n
    jobs = [Job(f"{i:06d}", pc.cond, seed + i, {"shape_of": snapped[i]} if snapped else {}, text=pc.text,
                image_map=maps[i]) for i in range(n)]
    request = {"attributes": attrs, "prompt": prompt, "understood": pc.understood, "notes": pc.notes, "n": n, "seed": seed}
    if sketch is not None:
        import hashlib

        where = (dict(sketch_info or {}) if isinstance(sketch, np.ndarray) else
                 {"file": Path(sketch).name, "sha256": hashlib.sha256(Path(sketch).read_bytes()).hexdigest()})
        request["sketch"] = {**where, "condition": pipe.image_condition, "fit": sketch_fit,
                             "map_pixels": int(image_map.sum()), **({"close": True} if sketch_close else {})}
        if snapped is not None:  # each image's sidecar and provenance name the catalog photo whose shape it took
            request["sketch"]["snap"] = "nearest catalog shapes of the asked type (conditioning/shape_index.py)"
        if shaped is not None:
            request["sketch"]["shape_model"] = {"components": sketch_shape, "map_pixels": int(shaped.sum()),
                                                "of": "the asked type's training masks (conditioning/shape_index.py)"}
    return JobPlan(jobs, request, list(pc.notes))


def row_jobs(pipe, records: Sequence, names: Sequence[str], seed: int = 0, meta: Mapping | None = None,
             seeds: Sequence[int] | None = None, title_prior: bool = True) -> list[Job]:
    """One job per catalog record (its attributes, and its title for text runs); job k uses seed ``seed + k``,
    or ``seeds[k]`` when given (a streamed row keeps the seed of its place in the whole CSV: sample/stream.py).
    ``title_prior``: attributes a row leaves empty are read from its title by the run's title prior, when it has one
    (``Pipeline.row_conditions``; the job's meta ``inferred`` names them)."""
    if not records:
        return []
    if seeds is not None and len(seeds) != len(records):
        raise ValueError("one seed per record")
    titles = pipe.encode_text([r.title for r in records]) if pipe.model.text_dim else None
    jobs = []
    for k, (rec, name, rc) in enumerate(zip(records, names, pipe.row_conditions(records, title_prior, titles))):
        job_seed = seed + k if seeds is None else int(seeds[k])
        jobs.append(Job(name, rc.cond, job_seed, {"id": rec.id, "title": rec.title, **dict(meta or {}),
                                                   "understood": rc.understood, "notes": rc.notes,
                                                   **({"inferred": rc.inferred} if rc.inferred else {})},
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


__all__ = ["JobPlan", "check_row_columns", "request_jobs", "row_jobs"]
