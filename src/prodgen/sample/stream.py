"""One image per row of a CSV of any length: streamed, resumable, split into shards (``generate --from-csv``, ``fill``).

- **One pass to index.** ``index_rows`` reads the CSV once and keeps a few bytes per row, never the rows: which
  rows are usable (well-formed, with an id not seen before), each row's file name (``unique_names``'s rule, so an id
  keeps its own name unless another id maps to the same file) and the file's sha256.
- **Seeds and batches.** Row k (0-based among the usable rows, in file order) uses seed ``seed + k``, and is always
  generated in the same batch: its block of ``batch_size`` rows (``k // batch_size``), at the same place. So a row's
  image is the same, to the bit on one kind of device, whatever the sharding, chunk size, or how often the run was
  interrupted and resumed (a block with any row left to do is generated whole; only the missing rows are written).
  The batch size is part of the request (float results can depend on a batch's shape).
- **Shards.** ``--shard i/N``, numbered from 1: shard i takes the blocks b with ``b % N == i - 1``. N processes (or
  GPUs) may run one shard each into the same folder at the same time; they share nothing but the folder. Run one
  process per shard, with the same N and the same settings in all of them.
- **Chunks.** Rows are read a block at a time and turned into one batch of jobs; the images of ``chunk_rows`` rows
  (default 256) are handed to the writer threads before their writes are waited for. Memory is bounded by the chunk,
  not the CSV.
- **Atomic images, manifest after.** Every image is stamped with its provenance (``write_generation``'s stamp) and
  written atomically (temp file, fsync, rename: ``prodgen.atomic``) by a few I/O threads; only then is its line
  appended to the shard's ``manifest-<i>-of-<N>.jsonl`` (flushed per image, fsynced per chunk). A rerun reads every
  manifest in the folder and skips the rows whose recorded file is there: after Ctrl-C or kill -9 it goes on where
  it stopped. A half-written image (the ``.<name>.png.*.tmp`` a kill leaves) is never recorded, so never counts as
  done; it is deleted when its row is generated again. A torn last manifest line is cut off.
- **One request per folder.** A manifest's first line names the request (CSV sha256, weights, seed, truncation,
  sampling, best-of, batch size); a rerun with other settings into the same folder is refused instead of mixing two requests.
- **Tables at the end.** The shard that finishes and finds every row of every shard done writes the merged
  ``labels.csv`` (CSV order), ``grid.png`` and ``generation.json``; shards that finish earlier leave them to it.
  Rerunning any shard on a finished folder generates nothing and writes them again (merge on demand).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import os
import time
from array import array
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_open, write_bytes, write_json
from ..data.catalog import Record, Skip
from ..data.csv_catalog import CsvLayout, csv_layout, stream_rows
from ..errors import UserError
from ..progress import progress_bar
from .jobs import check_row_columns, row_jobs
from .pipeline import _file_hash
from .writer import Job, check_out_folder, render_batch, safe_name, stamped_png, unique_names, write_grid

CHUNK_ROWS = 256  # rows read, turned into jobs and generated at a time
IO_THREADS = 4  # threads writing (fsync-ing) images while the next batch is generated
MANIFEST_GLOB = "manifest-*-of-*.jsonl"
MANIFEST_FORMAT = 1
GRID_MAX = 64


# -- shards --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``, numbered from 1. Rows go in blocks of ``block`` (the batch size): shard i takes
    the rows k whose block ``k // block`` is i - 1 modulo ``count``."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str | None, flag: str = "--shard") -> Shard:
        """``"i/N"`` (e.g. ``2/4``); None is the whole CSV (1/1). Anything else is a UserError saying what to type."""
        if text is None:
            return cls()
        parts = str(text).strip().split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise UserError(f"{flag} {text!r} must look like i/N: shard i of N, numbered from 1 (e.g. {flag} 1/4, "
                            f"2/4, 3/4 and 4/4 in four processes)")
        i, n = (int(p) for p in parts)
        if n < 1:
            raise UserError(f"{flag} {text}: N, the number of shards, must be at least 1 ({flag} 1/1 is the whole CSV)")
        if not 1 <= i <= n:
            raise UserError(f"{flag} {text}: shards are numbered from 1 to {n}; give {flag} 1/{n} .. {n}/{n}, "
                            "one process each")
        return cls(i, n)

    def takes(self, k: int, block: int = 1) -> bool:
        return (k // block) % self.count == self.index - 1

    def rows(self, total: int, block: int = 1) -> np.ndarray:
        """The row numbers (of ``total``) this shard takes."""
        k = np.arange(total)
        return k[(k // block) % self.count == self.index - 1]

    @property
    def tag(self) -> str:
        return f"{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


# -- the index: a pass over the CSV that keeps a few bytes per row ----------------------------------------------------
def _h64(text: str) -> int:
    """A 64-bit hash that is the same in every process (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _repeated(values: np.ndarray) -> np.ndarray:
    """True where the value occurs more than once."""
    flag = np.zeros(len(values), dtype=bool)
    if len(values) < 2:
        return flag
    order = np.argsort(values, kind="stable")
    same = values[order][1:] == values[order][:-1]
    hit = np.zeros(len(values), dtype=bool)
    hit[1:] |= same
    hit[:-1] |= same
    flag[order] = hit
    return flag


def stem_for(row_id: str, code: int) -> str:
    """The file stem of an id: its ``safe_name`` (code 0), + ``-`` and 8 hex digits of its sha256 (1), or 64 (2)."""
    stem = safe_name(row_id)
    if code == 0:
        return stem
    return f"{stem}-{hashlib.sha256(row_id.encode('utf-8')).hexdigest()[:8 if code == 1 else 64]}"


@dataclass
class RowIndex:
    """What one pass over a CSV learns, in a few bytes per row (``index_rows``); ``records`` streams the rows again."""

    layout: CsvLayout
    rows: int  # usable rows: row k is the k-th of them in file order
    skipped: list[Skip]  # the first few rows left out (malformed, no id, a repeated id)
    skipped_count: int
    usable: np.ndarray  # bool per record the reader yields: False for a later repeat of an id
    name_code: np.ndarray  # uint8 per usable row: how its file stem is made (``stem_for``)
    sha256: str  # of the CSV file

    @property
    def path(self) -> Path:
        return self.layout.path

    @property
    def renamed(self) -> int:
        """Usable rows whose file stem is not their id (unsafe characters, or a clash with another id)."""
        return int((self.name_code > 0).sum())

    def records(self, where: Callable[[int], bool] | None = None) -> Iterator[tuple[int, Record, str]]:
        """(k, record, file stem) of each usable row (``where(k)`` true, when given), in file order, read again."""
        j = k = 0
        for _, item in stream_rows(self.layout):
            if isinstance(item, Skip):
                continue
            if j >= len(self.usable):
                raise UserError(f"{self.path} changed while it was being read (it has more rows now); "
                                "let the program writing it finish, then run the command again")
            if self.usable[j]:
                if where is None or where(k):
                    yield k, item, stem_for(item.id, int(self.name_code[k]))
                k += 1
            j += 1


SKIP_EXAMPLES = 5  # skipped rows kept, for the messages
INDEX_PROGRESS_EVERY = 10_000  # rows between progress updates of the index pass


def index_rows(layout: CsvLayout, progress: bool = False, console=None) -> RowIndex:
    """Index a CSV in one streamed pass (plus a second one over the few rows whose file names may clash).

    Kept per row: a 64-bit hash of the case-folded file stem (8 bytes, freed on return), then one bit (usable) and
    one byte (name code). Rows that ``parse_csv`` skips are skipped here too (a repeated id: its first row is kept;
    a repeated id repeats its stem, so the second pass finds it), and file stems are those ``unique_names`` gives
    the usable ids.
    """
    sha = _file_hash(layout.path)
    stem_h = array("Q")
    skipped: list[Skip] = []
    count = 0
    with progress_bar(f"read {layout.path.name}", None, unit="rows", console=console, enabled=progress) as bar:
        for n, (_, item) in enumerate(stream_rows(layout), start=1):
            if n % INDEX_PROGRESS_EVERY == 0:
                bar.update(n)
            if isinstance(item, Skip):
                count += 1
                if len(skipped) < SKIP_EXAMPLES:
                    skipped.append(item)
                continue
            stem_h.append(_h64(safe_name(item.id).casefold()))
    stems = np.frombuffer(stem_h, dtype=np.uint64)
    usable = np.ones(len(stems), dtype=bool)
    code = np.zeros(len(stems), dtype=np.uint8)  # per record for now
    maybe = _repeated(stems)
    if maybe.any():
        count += _resolve_clashes(layout, maybe, stems, usable, code, skipped)
    return RowIndex(layout, int(usable.sum()), skipped, count, usable, code[usable].copy(), sha)


def _resolve_clashes(layout: CsvLayout, maybe: np.ndarray, stems: np.ndarray, usable: np.ndarray, code: np.ndarray,
                     skipped: list[Skip]) -> int:
    """Exact names for the rows whose stem hash repeats: drop repeated ids, name the rest with ``unique_names``, then
    give 64-hex names where a suffixed name meets another row's plain stem (``unique_names``' last rule). Returns how
    many rows were dropped as repeats."""
    seen: set[str] = set()
    group: list[tuple[int, str]] = []  # (record number, id) of the usable rows among ``maybe``
    repeats = 0
    j = 0
    for lineno, item in stream_rows(layout):
        if isinstance(item, Skip):
            continue
        if j < len(maybe) and maybe[j]:
            if item.id in seen:
                usable[j] = False
                repeats += 1
                if len(skipped) < SKIP_EXAMPLES:
                    skipped.append(Skip(item.id, "duplicate-id", f"line {lineno} repeats an earlier id"))
            else:
                seen.add(item.id)
                group.append((j, item.id))
        j += 1
    names = unique_names([i for _, i in group])
    plain = np.sort(stems[~maybe])  # rows outside the group keep their plain stem
    for (j, row_id), name in zip(group, names):
        stem = safe_name(row_id)
        code[j] = 0 if name == stem else 1 if len(name) == len(stem) + 9 else 2
        h = np.uint64(_h64(name.casefold()))
        hit = np.searchsorted(plain, h)
        if code[j] == 1 and hit < len(plain) and plain[hit] == h:  # a suffixed name that is another row's own stem
            code[j] = 2
            code[(stems == h) & ~maybe] = 2
    return repeats


# -- manifests -------------------------------------------------------------------------------------------------------
def request_key(request: Mapping) -> str:
    """16 hex digits naming what decides every image of a request (not where the files are, nor the sharding)."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]


def manifest_path(out: Path, shard: Shard) -> Path:
    return out / f"manifest-{shard.tag}.jsonl"


def manifest_entries(path: Path) -> Iterator[dict]:
    """The whole lines of a manifest, parsed (its header first); a torn last line is passed over."""
    with open(path, "rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                return
            try:
                entry = json.loads(line)
            except (UnicodeDecodeError, ValueError):
                continue
            if isinstance(entry, dict):
                yield entry


def recorded_images(out: str | Path) -> Iterator[dict]:
    """The image lines of every manifest in ``out``, headers left out: row, id, file, seed, condition (and notes,
    best_of, generated where they apply). What generation.json's "images" list was before the manifests."""
    for path in sorted(Path(out).glob(MANIFEST_GLOB)):
        yield from (e for e in manifest_entries(path) if "row" in e)


def generated_manifests(out: Path) -> tuple[list[Path], set[str]]:
    """The manifests of streamed ``generate --from-csv`` requests in ``out`` (not ``fill``'s: its table points at its
    images) and the image names they record, for ``write_generation``'s ``replace_previous``."""
    paths, names = [], set()
    for path in sorted(Path(out).glob(MANIFEST_GLOB)):
        entries = manifest_entries(path)
        head = next(entries, None)
        if head is not None and "fill" in (head.get("request") or {}):
            continue
        paths.append(path)
        names.update(e["file"] for e in entries if isinstance(e.get("file"), str) and Path(e["file"]).name == e["file"])
    return paths, names


def _whole(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def read_done(out: Path, key: str, rows: int, request: Mapping | None = None) -> np.ndarray:
    """Per row: recorded by a manifest of this request in ``out`` and its file is there (any shard, any N).

    A manifest of another request is a UserError (naming what differs from ``request``): one folder holds one
    request's images.
    """
    done = np.zeros(rows, dtype=bool)
    for path in sorted(out.glob(MANIFEST_GLOB)):
        entries = manifest_entries(path)
        head = next(entries, None)
        if head is None:
            continue  # killed while it was being created: nothing recorded
        if head.get("key") != key:
            raise UserError(
                f"{out} holds images of another request ({path.name}: {_differences(head.get('request'), request)}); "
                f"choose a new --out, or delete {out}/manifest-*.jsonl to generate every row again with these settings.")
        for entry in entries:
            row, name = entry.get("row"), entry.get("file")
            if isinstance(row, int) and 0 <= row < rows and isinstance(name, str) and _whole(out / name):
                done[row] = True
    return done


HASHED = {"csv_sha256": "the CSV's content", "weights_sha256": "the model's weights"}


def _differences(theirs, ours: Mapping | None) -> str:
    """What differs between a manifest's request and this one, e.g. ``seed 0 there, 3 now``."""
    if not isinstance(theirs, dict):
        return "an unreadable request"
    ours = ours or {}
    diff = [f"{HASHED[k]} differs" if k in HASHED else f"{k} {theirs.get(k)!r} there, {ours.get(k)!r} now"
            for k in sorted(set(theirs) | set(ours)) if theirs.get(k) != ours.get(k)]
    return "; ".join(diff) if diff else "another request"


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line without its newline (a kill in the middle of an append), so the next line starts clean."""
    with open(path, "r+b") as fh:
        end = fh.seek(0, os.SEEK_END)
        pos = end
        while pos > 0:
            start = max(0, pos - 4096)
            fh.seek(start)
            block = fh.read(pos - start)
            if pos == end and block.endswith(b"\n"):
                return
            nl = block.rfind(b"\n")
            if nl >= 0:
                fh.truncate(start + nl + 1)
                return
            pos = start
        fh.truncate(0)


class ManifestWriter:
    """Appends one line per finished image to a shard's manifest; the first line names the request."""

    def __init__(self, path: Path, header: dict) -> None:
        self.path = path
        if path.exists():
            _cut_torn_tail(path)
        fresh = not path.exists() or path.stat().st_size == 0
        self.fh = open(path, "ab")
        if fresh:
            self._write(header)
            self.sync()

    def _write(self, entry: dict) -> None:
        self.fh.write((json.dumps(entry, separators=(",", ":"), default=str) + "\n").encode("utf-8"))
        self.fh.flush()

    def record(self, entry: dict) -> None:
        self._write(entry)

    def sync(self) -> None:
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sync()
        self.fh.close()


# -- generation ------------------------------------------------------------------------------------------------------
@dataclass
class StreamSettings:
    """What decides the images (seed, truncation, sampling, best-of, scoring) and how fast they come (the rest)."""

    seed: int = 0
    truncation: float = 1.0
    sampling: dict = field(default_factory=dict)
    best_of: int = 1
    scoring: str | None = None  # what scores --best-of candidates (e.g. the ProductNet folder), part of the request
    batch_size: int = 64  # also the block of rows that shards take in turn
    chunk_rows: int = CHUNK_ROWS  # rows (whole blocks, at least one) generated before the writes are waited for
    io_threads: int = IO_THREADS
    title_prior: bool = True  # rows that leave attributes empty: read them from the title (runs with a title prior)

    def deciding(self) -> dict:
        """What decides the pixels: part of the request every shard and every rerun must share. The batch size is
        here because batches are blocks of rows that also split the rows between shards, and because a float
        result may depend on the batch's shape (a rare +-1 in a pixel)."""
        return {"seed": self.seed, "truncation": self.truncation, "sampling": dict(self.sampling),
                "best_of": self.best_of, "scoring": self.scoring, "batch_size": self.batch_size,
                "title_prior": self.title_prior}


@dataclass
class ShardRun:
    """What one shard did now."""

    shard: Shard
    shard_rows: int  # rows this shard takes
    made: int  # images written now
    done_before: int  # rows of this shard already done when it started
    passed_over: int  # rows not done and not written (fill: they have a photo, or a file prodgen did not write is there)
    unknown_values: int  # rows made now with values the model does not know (notes in the manifest)
    seconds: float
    inferred_rows: int = 0  # rows made now whose empty attributes the title prior read from the title


def _stale_temps(out: Path) -> dict[str, list[Path]]:
    """Temp files a killed writer left, by the image they were to become (``.NAME.png.XXXX.tmp``, prodgen.atomic)."""
    found: dict[str, list[Path]] = {}
    with os.scandir(out) as it:
        for e in it:
            if e.name.startswith(".") and e.name.endswith(".tmp"):
                target = e.name[1:-4].rsplit(".", 1)[0]
                if target.endswith(".png"):
                    found.setdefault(target, []).append(Path(e.path))
    return found


def _blocks(rows: Iterator[tuple[int, Record, str]], size: int) -> Iterator[list[tuple[int, Record, str]]]:
    """Rows grouped by block ``k // size`` (the rows of one block come one after another)."""
    return (list(group) for _, group in itertools.groupby(rows, key=lambda row: row[0] // size))


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    return iter(lambda: list(itertools.islice(items, size)), [])


def stamp_about(pipe, request: dict) -> dict:
    """What every image's provenance says about the model and the request."""
    return {"run": str(pipe.run_dir) if pipe.run_dir else None, "family": pipe.model.family,
            "weights_sha256": pipe.weights_hash, "request": request}


def _entry(pipe, k: int, job: Job, file: str) -> dict:
    m = job.meta
    return {"row": k, "id": m["id"], "file": file, "seed": job.seed, "condition": pipe.vocab.describe(job.cond),
            **{key: m[key] for key in ("generated", "best_of") if key in m},
            **({"notes": m["notes"]} if m.get("notes") else {}),
            **({"inferred": m["inferred"]} if m.get("inferred") else {})}


class _Recorder:
    """Images handed to the I/O threads, recorded in the manifest once written; ``drain`` waits for them."""

    def __init__(self, writer: ManifestWriter, bar) -> None:
        self.writer, self.bar = writer, bar
        self.made = 0

    def drain(self, pending: list[tuple[dict, Future]], raise_errors: bool = True) -> None:
        error = None
        for entry, fut in pending:
            try:
                fut.result()
            except BaseException as e:  # noqa: BLE001  (the first error is raised after the others are recorded)
                error = error or e
                continue
            self.writer.record(entry)
            self.made += 1
            self.bar.advance(1)
        pending.clear()
        self.writer.sync()
        if error is not None and raise_errors:
            raise error


WRITE, KEEP, OUT = "write", "keep", "out"  # what a row's plan says: generate and write it; in its batch only; left out


def generate_plan(rec: Record, target: Path, done: bool) -> str:
    """``generate --from-csv``: every row is in its batch; the ones not done yet are written."""
    return KEEP if done else WRITE


def run_shard(pipe, index: RowIndex, out: Path, shard: Shard, request: dict, settings: StreamSettings, *,
              name_of: Callable[[str], str] = lambda stem: stem,
              plan: Callable[[Record, Path, bool], str] = generate_plan, meta: Mapping | None = None, scorer=None,
              keys=None, label: str = "generate", progress: bool = True, console=None) -> ShardRun:
    """Generate this shard's rows that are not done yet into ``out`` (see the module docstring).

    ``request``: what decides the images (its ``request_key`` is checked against the folder's manifests).
    ``name_of(stem)``: the image's name without ``.png``. ``plan(record, path, done)``: WRITE, KEEP (in its batch but
    not written: done, or a file prodgen did not write is in the way) or OUT (not in the batch: fill's rows with a
    photo). A batch is the planned rows of one block of ``batch_size`` rows, always: a row's image is computed in the
    same batch at the same place however the rows are sharded, chunked or resumed, so its pixels are the same to the
    bit (on one kind of device); a block with a row left to write is generated whole.
    """
    from ..provenance import default_keys

    keys = keys or default_keys()  # a broken key folder fails before any work
    key = request_key(request)
    block = settings.batch_size
    out.mkdir(parents=True, exist_ok=True)
    done = read_done(out, key, index.rows, request)
    mine = shard.rows(index.rows, block)
    todo = int((~done[mine]).sum())
    block_done = np.concatenate([done, np.ones(-len(done) % block, dtype=bool)]).reshape(-1, block).all(axis=1)
    stale = _stale_temps(out)
    about = stamp_about(pipe, request)
    t0 = time.monotonic()
    passed, unknown, inferred = 0, 0, 0
    writer = ManifestWriter(manifest_path(out, shard), {"prodgen_manifest": MANIFEST_FORMAT, "key": key,
                                                        "request": request, "shard": str(shard)})
    bar = progress_bar(f"{label} {shard}" if shard.count > 1 else label, todo, unit="rows", console=console,
                       enabled=progress)
    rec = _Recorder(writer, bar)
    previous: list[tuple[dict, Future]] = []
    current: list[tuple[dict, Future]] = []
    rows = index.records(lambda k: shard.takes(k, block) and not block_done[k // block])
    try:
        with bar, ThreadPoolExecutor(max(settings.io_threads, 1)) as pool:
            for chunk in _chunks(_blocks(rows, block), max(settings.chunk_rows // block, 1)):
                for rows_of_block in chunk:
                    planned = [(k, r, name_of(stem)) for k, r, stem in rows_of_block]
                    actions = [plan(r, out / f"{n}.png", bool(done[k])) for k, r, n in planned]
                    idle = sum(1 for (k, _, _), a in zip(planned, actions) if not done[k] and a != WRITE)
                    passed += idle
                    bar.advance(idle)
                    batch = [(row, a) for row, a in zip(planned, actions) if a != OUT]
                    if not any(a == WRITE for _, a in batch):
                        continue
                    jobs = row_jobs(pipe, [r for (_, r, _), _ in batch], [n for (_, _, n), _ in batch], meta=meta,
                                    seeds=[settings.seed + k for (k, _, _), _ in batch],
                                    title_prior=settings.title_prior)
                    imgs = render_batch(pipe, jobs, settings.truncation, settings.sampling, settings.best_of, scorer)
                    for ((k, _, _), action), job, img in zip(batch, jobs, imgs):
                        if action != WRITE:
                            continue
                        file = f"{job.name}.png"
                        data = stamped_png(pipe, job, img, about, keys, file)
                        for tmp in stale.pop(file, []):
                            tmp.unlink(missing_ok=True)
                        unknown += bool(job.meta.get("notes"))
                        inferred += bool(job.meta.get("inferred"))
                        current.append((_entry(pipe, k, job, file), pool.submit(write_bytes, out / file, data)))
                rec.drain(previous)  # the previous chunk's images were written while this one was generated
                previous, current = current, []
            rec.drain(previous)
    except BaseException:
        rec.drain(previous + current, raise_errors=False)  # what is on disk is recorded, then the error goes on
        raise
    finally:
        writer.close()
    return ShardRun(shard, len(mine), rec.made, len(mine) - todo, passed, unknown, time.monotonic() - t0, inferred)


# -- the merged tables, written once every row of every shard is done --------------------------------------------------
def grid_of(pipe, out: Path, files: list[str], about: dict, keys=None) -> Path | None:
    """``grid.png`` of the first images (at most ``GRID_MAX``), read back from ``out``."""
    if not files:
        return None
    imgs = np.stack([np.asarray(Image.open(out / f).convert("RGB")) for f in files[:GRID_MAX]])
    return write_grid(pipe, out, imgs, files[:GRID_MAX], about, keys)


@contextlib.contextmanager
def csv_table(path: Path) -> Iterator[csv.writer]:
    """A csv.writer whose file replaces ``path`` atomically when the block ends without an error (streamed rows)."""
    with atomic_open(path, "wb") as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        try:
            yield csv.writer(text, lineterminator="\n")
            text.flush()
        finally:
            text.detach()


def describe_stream(pipe, request: dict, settings: StreamSettings, out: Path, rows: int) -> dict:
    """``generation.json`` of a streamed request: the model, the request, the counts, where the per-image lines are."""
    return {**pipe.describe(), "request": request, **settings.deciding(), "count": rows,
            "manifests": sorted(p.name for p in out.glob(MANIFEST_GLOB)),
            "per_image": "one JSON line per image in the manifests: row, id, file, seed, condition, notes, inferred "
                         "(attributes the title prior read from the row's title)"}


def finish_generation(pipe, index: RowIndex, out: Path, request: dict, settings: StreamSettings, keys=None) -> list[str]:
    """Once every row is done: ``labels.csv`` (file, id, the values the model used, seed; CSV order), ``grid.png``,
    ``generation.json``, and the images an earlier ``generate -n`` left here removed. Returns the removed names."""
    from .writer import _listed_images

    earlier = _listed_images(out)
    names = pipe.vocab.names
    first: list[str] = []
    with csv_table(out / "labels.csv") as w:
        w.writerow(["file", "id", *names, "seed"])
        for block in _chunks(iter(index.records()), CHUNK_ROWS):  # the title prior reads a block at a time
            conds = pipe.row_conditions([r for _, r, _ in block], settings.title_prior)
            for (k, r, stem), rc in zip(block, conds):
                file = f"{stem}.png"
                values = [pipe.vocab.attributes[a].decode(int(rc.cond[a])) for a in range(len(names))]
                w.writerow([file, r.id, *["" if v == "<unspecified>" else v for v in values], settings.seed + k])
                earlier.discard(file)
                if len(first) < GRID_MAX:
                    first.append(file)
    grid_of(pipe, out, first, stamp_about(pipe, request), keys)
    write_json(out / "generation.json", describe_stream(pipe, request, settings, out, index.rows))
    removed = sorted(earlier)
    for name in removed:
        (out / name).unlink(missing_ok=True)
    return removed


# -- generate --from-csv -----------------------------------------------------------------------------------------------
@dataclass
class StreamResult:
    out: Path
    run: ShardRun
    rows: int  # usable rows of the CSV
    complete: bool  # every row of every shard done: labels.csv, grid.png and generation.json written
    notes: list[str]
    removed: list[str] = field(default_factory=list)


def open_csv(pipe, csv_path: str | Path, id_column: str, title_column: str | None, image_column: str | None = None,
             what: str = "generate", progress: bool = False, console=None) -> RowIndex:
    """Check the CSV's columns against the model, then index it; a CSV without a usable row is a UserError."""
    csv_path = Path(csv_path)
    layout = csv_layout(csv_path, id_column, title_column, None, image_column)
    check_row_columns(pipe, csv_path, layout.header, title_column)
    index = index_rows(layout, progress, console)
    if not index.rows:
        why = f"; {index.skipped_count} rows were skipped ({index.skipped[0].reason}: {index.skipped[0].detail})" \
            if index.skipped else ""
        raise UserError(f"{csv_path} has a header but no usable rows{why}; add one row per item to {what}.")
    return index


def index_notes(index: RowIndex) -> list[str]:
    notes = []
    if index.skipped_count:
        s = index.skipped[0]
        notes.append(f"{index.skipped_count} rows of {index.path} were skipped (e.g. {s.id}: {s.reason}, {s.detail})")
    if index.renamed:
        notes.append(f"{index.renamed} ids are not usable file names as they are (or clash with another id once made "
                     "safe); labels.csv and the manifests map each id to its file")
    return notes


def generate_from_csv(pipe, csv_path: str | Path, out: str | Path, shard: Shard = Shard(),
                      settings: StreamSettings | None = None, id_column: str = "id",
                      title_column: str = "productDisplayName", scorer=None, keys=None, progress: bool = True,
                      console=None) -> StreamResult:
    """One image per usable CSV row, ``<id>.png`` in ``out``: this shard's rows not done yet (module docstring)."""
    settings = settings or StreamSettings()
    out = check_out_folder(out)
    index = open_csv(pipe, csv_path, id_column, title_column, progress=progress, console=console)
    request = {"from_csv": str(index.path), "csv_sha256": index.sha256, "rows": index.rows, "id_column": id_column,
               "title_column": index.layout.title_column, "uses_titles": bool(pipe.model.text_dim),
               "skipped_rows": index.skipped_count, "weights_sha256": pipe.weights_hash, **settings.deciding()}
    deciding = {k: v for k, v in request.items() if k != "from_csv"}  # the CSV may move; its content may not change
    notes = index_notes(index)
    run = run_shard(pipe, index, out, shard, deciding, settings, scorer=scorer, keys=keys, progress=progress,
                    console=console)
    if run.unknown_values:
        notes.append(f"{run.unknown_values} rows had values the model does not know; see notes in {out}/manifest-*.jsonl")
    if run.inferred_rows:
        notes.append(f"{run.inferred_rows} rows left attributes empty: the run's title prior read them from the titles "
                     f"('inferred' in {out}/manifest-*.jsonl, with its probability); --no-title-prior leaves them open")
    complete = bool(read_done(out, request_key(deciding), index.rows).all())
    removed = finish_generation(pipe, index, out, request, settings, keys) if complete else []
    return StreamResult(out, run, index.rows, complete, notes, removed)


__all__ = ["CHUNK_ROWS", "MANIFEST_GLOB", "RowIndex", "Shard", "ShardRun", "StreamResult", "StreamSettings",
           "finish_generation", "generate_from_csv", "generated_manifests", "index_rows", "manifest_entries", "open_csv",
           "read_done", "recorded_images", "request_key", "run_shard", "stamp_about"]
