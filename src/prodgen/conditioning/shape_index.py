"""Catalog shapes a sketch can snap to (``prodgen shape-index RUN``, ``generate --sketch ... --sketch-snap``).

A quick drawing is a caricature: a sock drawn as a banana, glasses as two circles. A pix2pix run keeps to the lines it
is given, so it keeps the caricature, whatever type is asked for. Snapping is sketch-based retrieval in front of the
model: the drawing's map is compared with the maps of the run's training photos of the asked type (the run's first
attribute, e.g. articleType; all photos when it is left open), each also mirrored left-right, and image i of a
request is drawn from the i-th nearest of them. The k images of a request thus come from k real catalog shapes
that look most like the drawing, in the colour and other attributes asked for; the request records which photos
(catalog ids) lent their shape, and how far each was from the drawing.

Nearness is the symmetric Chamfer distance between line maps (mean distance from each line pixel of one map to the
nearest of the other, both ways; for silhouette runs, between the masks' outlines), computed from Euclidean distance
transforms at no more than ``MATCH_RESOLUTION`` px (maps max-pooled down, so lines survive).

The index is ``shape_index.safetensors`` in the run folder: the train split's maps at the run's resolution, bit-packed
(64 px: 512 bytes a photo), the first attribute's id of each photo, and their catalog ids in the metadata. It is built
from the run's own catalog, split and vocabulary, so it needs the catalog once; generating from it does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError

SHAPE_INDEX = "shape_index.safetensors"
MATCH_RESOLUTION = 64
MODEL_COMPONENTS = 32  # principal directions a shape model keeps (ShapeIndex.shape_model): more than K is ever useful
FORMAT = "prodgen-shape-index-1"


def _lines(maps: np.ndarray, kind: str) -> np.ndarray:
    """(N, R, R) bool maps -> the lines compared: edge maps as they are, silhouettes' outlines (``mask_outline``)."""
    if kind == "edges":
        return maps
    from .maps import mask_outline

    return mask_outline(torch.from_numpy(maps.astype(np.float32))[:, None])[:, 0].numpy() > 0.5


def _downsample(maps: np.ndarray, size: int) -> np.ndarray:
    """(N, R, R) bool -> (N, size, size) bool by max-pooling (a line pixel anywhere in a cell keeps the cell)."""
    r = maps.shape[-1]
    if r <= size:
        return maps
    t = torch.from_numpy(maps.astype(np.float32))[:, None]
    return (F.adaptive_max_pool2d(t, size)[:, 0] > 0.5).numpy()


def distance_to_lines(lines: np.ndarray) -> np.ndarray:
    """(R, R) bool -> Euclidean distance of every pixel to the nearest line pixel (float32; all R if there is none)."""
    from scipy.ndimage import distance_transform_edt

    if not lines.any():
        return np.full(lines.shape, float(lines.shape[-1]), np.float32)
    return distance_transform_edt(~lines).astype(np.float32)


def chamfer_to_each(query: np.ndarray, candidates: np.ndarray, candidate_dt: np.ndarray) -> np.ndarray:
    """Symmetric Chamfer distance (px) of one (R, R) bool line map to each of (N, R, R) candidates, whose distance
    transforms are ``candidate_dt``: mean over the query's line pixels of the distance to a candidate's lines, plus the
    mean over each candidate's line pixels of the distance to the query's lines. A candidate without lines is inf."""
    q_dt = distance_to_lines(query)
    if not query.any():
        raise ValueError("the query map has no line pixels")
    to_cand = candidate_dt[:, query].mean(axis=1)
    counts = candidates.sum(axis=(1, 2))
    to_query = (candidates * q_dt).sum(axis=(1, 2)) / np.maximum(counts, 1)
    return np.where(counts > 0, to_cand + to_query, np.inf)


@dataclass
class Match:
    index: int  # row of the index
    id: str  # catalog id of the training photo
    chamfer_px: float  # both directions summed, at the matching resolution (2x the mean that evaluate's chamfer_distance gives)
    mirrored: bool

    def record(self) -> dict:
        return {"id": self.id, "chamfer_px": round(self.chamfer_px, 3), "mirrored": self.mirrored}


@dataclass
class ShapeIndex:
    maps: np.ndarray  # (N, R, R) bool: the train split's maps at the run's resolution
    types: np.ndarray  # (N,) int64: each photo's id of ``attribute`` in the run's vocabulary
    ids: list[str]
    kind: str  # "edges" or "silhouette"
    attribute: str  # the attribute that restricts the candidates (the run's first)
    info: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)
    _models: dict = field(default_factory=dict, repr=False)  # (type, sigma) -> shape model (``shape_model``)

    def __post_init__(self) -> None:
        if not (len(self.maps) == len(self.types) == len(self.ids)):
            raise ValueError("maps, types and ids must have the same length")

    @property
    def resolution(self) -> int:
        return int(self.maps.shape[-1])

    def _candidates(self, type_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, lines at the matching resolution, their distance transforms) of the photos of ``type_id`` (0: all),
        each twice: as photographed, then mirrored."""
        if type_id not in self._cache:
            rows = np.nonzero(self.types == type_id)[0] if type_id else np.arange(len(self.types))
            if len(rows) == 0:
                r = min(self.resolution, MATCH_RESOLUTION)
                return rows, np.zeros((0, r, r), bool), np.zeros((0, r, r), np.float32)
            small = _downsample(_lines(self.maps[rows], self.kind), MATCH_RESOLUTION)
            lines = np.concatenate([small, small[:, :, ::-1]])
            dts = np.stack([distance_to_lines(m) for m in lines])
            self._cache = {type_id: (rows, lines, dts)}  # one type at a time: a request asks for one
        return self._cache[type_id]

    def nearest(self, sketch: torch.Tensor, type_id: int, k: int) -> list[Match]:
        """The ``k`` training photos (of ``type_id``; 0: any) whose maps are nearest to ``sketch`` ((1, R, R) or
        (R, R) in {0, 1}, at the run's resolution), nearest first, each photo at most once (as photographed or
        mirrored, whichever is nearer). Fewer candidates than ``k``: they repeat in the same order."""
        if k < 1:
            raise ValueError("k must be at least 1")
        rows, lines, dts = self._candidates(int(type_id))
        if len(rows) == 0:
            raise UserError(f"no training photo has this {self.attribute} in the run's shape index, so a sketch cannot "
                            f"snap to one; ask for another {self.attribute} or generate without --sketch-snap")
        q = np.asarray(sketch, dtype=np.float32).reshape(self.resolution, self.resolution) > 0.5
        q = _downsample(_lines(q[None], self.kind), MATCH_RESOLUTION)[0]
        if not q.any():
            raise UserError("the sketch has no lines to match; draw the product's outline")
        d = chamfer_to_each(q, lines, dts)
        n = len(rows)
        best = np.minimum(d[:n], d[n:])
        mirrored = d[n:] < d[:n]
        order = np.argsort(best, kind="stable")
        order = order[np.isfinite(best[order])]
        if len(order) == 0:
            raise UserError(f"the training photos of this {self.attribute} have no lines in the shape index")
        picks = [int(order[i % len(order)]) for i in range(k)]
        return [Match(int(rows[j]), self.ids[rows[j]], float(best[j]), bool(mirrored[j])) for j in picks]

    def shape_model(self, type_id: int, k: int, sigma: float = 1.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A linear shape model of the ``type_id`` photos' masks (silhouette indexes; 0: all photos), as Active Shape
        Models and eigen-shapes do: the masks, each also mirrored, smoothed by a Gaussian of ``sigma`` px, then their
        mean (R*R,), the first ``k`` principal directions (k, R*R) and the standard deviation along each (k,)."""
        if self.kind != "silhouette":
            raise UserError("a shape model is built from masks: use a silhouette run's shape index")
        key = (int(type_id), float(sigma))
        kept = max(int(k), MODEL_COMPONENTS)  # one decomposition serves every K up to this
        if key not in self._models or len(self._models[key][1]) < min(k, self._models[key][3]):
            from scipy.ndimage import gaussian_filter

            rows = np.nonzero(self.types == type_id)[0] if type_id else np.arange(len(self.types))
            if len(rows) == 0:
                raise UserError(f"no training photo has this {self.attribute} in the run's shape index")
            m = self.maps[rows].astype(np.float32)
            m = np.concatenate([m, m[:, :, ::-1]])
            x = gaussian_filter(m, (0, sigma, sigma)).reshape(len(m), -1)  # each mask smoothed on its own
            mean = x.mean(0)
            _, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
            self._models[key] = (mean, vt[:kept], sv[:kept] / np.sqrt(max(len(m) - 1, 1)), len(sv))  # 0.5 MB a type at 64 px
        mean, basis, std, _ = self._models[key]
        return mean, basis[:k], std[:k]

    def project(self, sketch: torch.Tensor, type_id: int, k: int, sigma: float = 1.5, limit: float = 3.0) -> torch.Tensor:
        """The mask of the ``type_id`` shape model (``shape_model``) nearest to ``sketch`` (a (1, R, R) or (R, R) mask
        in {0, 1}): its smoothed copy projected onto the first ``k`` directions, each coefficient clipped to
        ``limit`` standard deviations, cut at one half. (1, R, R) float in {0, 1}."""
        from scipy.ndimage import gaussian_filter

        mean, basis, std = self.shape_model(type_id, k, sigma)
        r = self.resolution
        q = gaussian_filter(np.asarray(sketch, dtype=np.float32).reshape(r, r), sigma).reshape(-1)
        coef = np.clip(basis @ (q - mean), -limit * std, limit * std)
        return torch.from_numpy(((mean + coef @ basis).reshape(1, r, r) >= 0.5).astype(np.float32))

    def maps_of(self, matches: list[Match]) -> torch.Tensor:
        """(k, 1, R, R) float maps of the matched photos, mirrored where the match was."""
        out = []
        for m in matches:
            a = self.maps[m.index]
            out.append(a[:, ::-1] if m.mirrored else a)
        return torch.from_numpy(np.ascontiguousarray(np.stack(out)).astype(np.float32))[:, None]

    def save(self, run_dir: str | Path) -> Path:
        from safetensors.numpy import save

        from ..atomic import write_bytes

        path = Path(run_dir) / SHAPE_INDEX
        meta = {"format": FORMAT, "kind": self.kind, "attribute": self.attribute, "resolution": str(self.resolution),
                "ids": json.dumps(self.ids), "info": json.dumps(self.info)}
        tensors = {"maps": np.packbits(self.maps.reshape(len(self.maps), -1), axis=1), "types": self.types.astype(np.int64)}
        write_bytes(path, save(tensors, metadata=meta))
        return path

    @classmethod
    def load(cls, run_dir: str | Path) -> ShapeIndex:
        from safetensors import SafetensorError, safe_open

        path = Path(run_dir) / SHAPE_INDEX
        if not path.is_file():
            raise UserError(f"{run_dir} has no shape index ({SHAPE_INDEX}) for --sketch-snap; build it once with "
                            f"`prodgen shape-index {run_dir}` (it reads the run's catalog), or drop --sketch-snap")
        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                packed, types = f.get_tensor("maps"), f.get_tensor("types")
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT!r}")
            r = int(meta["resolution"])
            maps = np.unpackbits(packed, axis=1, count=r * r).reshape(-1, r, r).astype(bool)
            return cls(maps, types, json.loads(meta["ids"]), meta["kind"], meta["attribute"], json.loads(meta["info"]))
        except (OSError, ValueError, KeyError, SafetensorError) as e:  # JSONDecodeError is a ValueError
            raise UserError(f"{path} cannot be read ({e}); rebuild it with `prodgen shape-index {run_dir}`") from e


def build_shape_index(run_dir: str | Path, catalog: str | None = None, progress: bool = False,
                      batch: int = 256) -> ShapeIndex:
    """The shape index of a trained image-conditioned run, from its own catalog, split and vocabulary (the train split's
    photos; their maps derived as in training, without the training-time jitter), saved in the run folder."""
    from ..config import RunConfig
    from ..runfiles import CONFIG_NAME
    from ..train.run import load_run_data
    from .maps import derive_maps

    run_dir = Path(run_dir)
    cfg = RunConfig.load(run_dir / CONFIG_NAME)
    kind = (cfg.model_args or {}).get("image_condition")
    if not kind:
        raise UserError(f"{run_dir} is a run without an image condition; a shape index is for runs trained with "
                        "--condition edges,... or silhouette,...")
    if catalog is not None:
        cfg.data.catalog = catalog
    data = load_run_data(run_dir, cfg, progress=progress)
    images = data.train.images
    maps = torch.cat([derive_maps(kind, images[i : i + batch].float() / 127.5 - 1) for i in range(0, len(images), batch)])
    attribute = data.vocab.names[0]
    index = ShapeIndex(maps[:, 0].numpy() > 0.5, data.train.cond[:, 0].numpy().astype(np.int64), list(data.train.ids),
                       kind, attribute, {"catalog": data.catalog.name, "catalog_fingerprint": data.catalog.fingerprint,
                                         "split": "train", "photos": len(images)})
    index.save(run_dir)
    return index


__all__ = ["MATCH_RESOLUTION", "SHAPE_INDEX", "Match", "ShapeIndex", "build_shape_index", "chamfer_to_each",
           "distance_to_lines"]
