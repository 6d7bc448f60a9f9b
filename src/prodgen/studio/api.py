"""The REST API under ``/api`` (docs/studio-design.md): typed pydantic models in and out, one router.

Status codes: 401 without (valid) credentials, 403 for a role that may not (or a failed CSRF check),
404 unknown ids, 413/415/422 for refused uploads, 422 for requests that cannot be done (the detail says
what to change), 429 + ``Retry-After`` when the queue is full. Every decision that matters lands in the
audit log in the same transaction as the decision itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select

from ..errors import UserError
from .auth import Principal, create_token, list_tokens, require, revoke_token
from .db import SCHEMA_VERSION, Asset, AuditEntry, Export, Job, Review, Token, audit, iso, utcnow
from .ingest import IngestError, ingest_csv, ingest_image, is_csv
from .models import canonical_attributes, choose_restorer, find_model, list_models, list_restorers
from .queue import QueueFull

MAX_SEED = 2**32 - 1
EXPORT_PROFILES = ("generic", "google-merchant", "main-image")
RESTORE_TASKS = ("upscale2", "upscale4", "denoise", "deblur", "jpeg", "inpaint")
BACKGROUND = r"^(solid:#?[0-9a-fA-F]{6}|gradient:#?[0-9a-fA-F]{6}:#?[0-9a-fA-F]{6}|studio(:#?[0-9a-fA-F]{6})?)$"

router = APIRouter(prefix="/api", max_body_size=1024 * 1024)  # JSON bodies: 413 past 1 MB, as the body streams in
viewer, editor, reviewer, admin = (Depends(require(r)) for r in ("viewer", "editor", "reviewer", "admin"))


def studio(request: Request):
    return request.app.state.studio


def unprocessable(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


# -- models ----------------------------------------------------------------------------------------------------------
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Me(BaseModel):
    name: str
    role: str


class ModelInfo(BaseModel):
    id: str
    family: str
    resolution: int
    attributes: dict[str, list[str]]
    text: bool
    title_prior: bool = False  # reads attribute values from a prompt (conditioning/title_prior.py)
    image_condition: str | None = None  # "edges" / "silhouette": the model draws from an uploaded sketch
    shape_index: bool = False  # a sketch may snap to the nearest catalog shapes (`prodgen shape-index`)


class UploadOut(BaseModel):
    asset_id: str
    kind: Literal["upload", "csv"]
    width: int | None = None
    height: int | None = None
    rows: int | None = None


class GenerateRequest(Strict):
    kind: Literal["generate"]
    model: str
    attributes: dict[str, str] = Field(default_factory=dict)
    prompt: str | None = Field(None, max_length=500)
    n: int = Field(4, ge=1)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    truncation: float = Field(1.0, gt=0, le=1)
    steps: int | None = Field(None, ge=1, le=1000)
    guidance: float | None = Field(None, ge=0, le=30)
    sketch_asset_id: str | None = None  # an uploaded drawing / silhouette, for a model trained with an image condition
    sketch_snap: bool = False  # draw each image from the shape of a catalog photo nearest to the sketch
    sketch_shape: int = Field(0, ge=0, le=20)  # silhouette models: pull the filled sketch towards the type's shapes (K)
    sketch_close: bool = False  # silhouette models: a sketch whose strokes do not meet is closed before it is filled


class FillRequest(Strict):
    kind: Literal["fill"]
    model: str
    csv_asset_id: str
    seed: int = Field(0, ge=0, le=MAX_SEED)
    id_column: str = "id"
    title_column: str = "productDisplayName"
    image_column: str | None = None
    steps: int | None = Field(None, ge=1, le=1000)
    guidance: float | None = Field(None, ge=0, le=30)


class EditRequest(Strict):
    kind: Literal["edit"]
    asset_id: str
    operation: Literal["restage", "restore"]
    params: dict[str, Any] = Field(default_factory=dict)
    mask_asset_id: str | None = None


class RestageParams(Strict):
    background: str = Field("solid:#ffffff", pattern=BACKGROUND)
    shadow: bool = False
    brightness: float = Field(1.0, ge=0.2, le=3.0)
    temperature: float = Field(0.0, ge=-1.0, le=1.0)
    mirror: bool = False
    seed: int = Field(0, ge=0, le=MAX_SEED)
    threshold: float = Field(0.08, gt=0, lt=1)
    recolour: str | None = Field(None, max_length=50, description="re-tint the product to a colour name or #rrggbb")
    stated_colour: str | None = Field(None, max_length=50)


class RestoreParams(Strict):
    task: Literal["upscale2", "upscale4", "denoise", "deblur", "jpeg", "inpaint"]
    model: str | None = Field(None, max_length=200, description="a restoration run under --runs (GET /api/restorers), or "
                              "'classical'; default: the first restoration run trained for the task, else classical")
    stated_colour: str | None = Field(None, max_length=50)


JobRequest = Annotated[GenerateRequest | FillRequest | EditRequest, Field(discriminator="kind")]


class JobCreated(BaseModel):
    id: str
    status: str


class JobOut(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float
    error: str | None
    request: dict
    model: str | None
    outputs: list[str]
    notes: list[str]
    attempts: int
    cancel_requested: bool
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None


class AssetOut(BaseModel):
    id: str
    kind: Literal["upload", "csv", "generated", "edited"]
    job_id: str | None
    review: Literal["pending", "approved", "rejected"] | None
    reason: str | None
    provenance: dict
    fidelity: dict | list | None
    width: int | None
    height: int | None
    meta: dict
    created_by: str
    created_at: str


class NearestPhoto(BaseModel):
    id: str = Field(description="the training photo's catalog id")
    distance: float
    space: str | None = Field(description="productnet (feature space) or pixels (16 x 16 thumbnails)")
    image: str = Field(description="URL of the photo")


class ReviewItem(AssetOut):
    request: dict | None
    model: str | None
    seed: int | None
    nearest: list[NearestPhoto] = Field(description="nearest training photos, nearest first (copies of real products)")
    nearest_note: str | None = Field(None, description="why there are none, when there are none")


class ReviewDecision(Strict):
    asset_ids: list[str] = Field(min_length=1, max_length=500)
    decision: Literal["approve", "reject"]
    reason: str | None = Field(None, max_length=2000)


class ReviewResult(BaseModel):
    decision: str
    updated: list[str]


class ExportRequest(Strict):
    profile: Literal["generic", "google-merchant", "main-image"] = "generic"
    asset_ids: list[str] | None = Field(None, max_length=5000, description="approved assets to export (default: all approved)")


class ExportOut(BaseModel):
    id: str
    profile: str
    files: list[str]
    refused: list[dict]
    created_by: str
    created_at: str


class AuditOut(BaseModel):
    id: int
    at: str
    actor: str
    role: str
    action: str
    target: str | None
    detail: dict


class TokenCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["viewer", "editor", "reviewer", "admin"]


class TokenOut(BaseModel):
    id: int
    name: str
    role: str
    created_at: str
    created_by: str
    revoked_at: str | None
    last_used_at: str | None


class TokenCreated(TokenOut):
    token: str = Field(description="shown once: store it now; only its hash is kept")


# -- conversions -----------------------------------------------------------------------------------------------------
def job_out(job: Job, outputs: list[str]) -> JobOut:
    return JobOut(id=job.id, kind=job.kind, status=job.status, progress=job.progress, error=job.error, request=job.request,
                  model=job.model, outputs=outputs, notes=list(job.notes or []), attempts=job.attempts,
                  cancel_requested=bool(job.cancel_requested), created_by=job.created_by, created_at=iso(job.created_at),
                  started_at=iso(job.started_at), finished_at=iso(job.finished_at))


def asset_out(a: Asset) -> AssetOut:
    return AssetOut(id=a.id, kind=a.kind, job_id=a.job_id, review=a.review, reason=a.reason, provenance=a.provenance or {},
                    fidelity=a.fidelity, width=a.width, height=a.height, meta=a.meta or {}, created_by=a.created_by,
                    created_at=iso(a.created_at))


def token_out(t: Token) -> TokenOut:
    return TokenOut(id=t.id, name=t.name, role=t.role, created_at=iso(t.created_at), created_by=t.created_by,
                    revoked_at=iso(t.revoked_at), last_used_at=iso(t.last_used_at))


def _outputs(s, job_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {j: [] for j in job_ids}
    if job_ids:
        for aid, jid in s.execute(select(Asset.id, Asset.job_id).where(Asset.job_id.in_(job_ids)).order_by(Asset.position)):
            out[jid].append(aid)
    return out


# -- routes ----------------------------------------------------------------------------------------------------------
@router.get("/me", response_model=Me, tags=["auth"])
def me(user: Principal = viewer) -> Me:
    return Me(name=user.name, role=user.role)


@router.get("/models", response_model=list[ModelInfo], tags=["models"])
def models(request: Request, user: Principal = viewer) -> list[ModelInfo]:
    return [ModelInfo(**{k: m[k] for k in ModelInfo.model_fields}) for m in list_models(studio(request).settings.runs)]


class RestorerInfo(BaseModel):
    id: str
    tasks: list[str]


@router.get("/restorers", response_model=list[RestorerInfo], tags=["models"],
            summary="Restoration runs (prodgen enhance-train) under --runs; edits use the classical method without one")
def restorers(request: Request, user: Principal = viewer) -> list[RestorerInfo]:
    return [RestorerInfo(**r) for r in list_restorers(studio(request).settings.runs)]


async def upload(request: Request, file: UploadFile = File(...), user: Principal = editor) -> UploadOut:
    st = studio(request)
    cap = st.settings.ingest.max_bytes
    data = await file.read(cap + 1)
    try:
        if is_csv(file.content_type, file.filename):
            got = await run_in_threadpool(ingest_csv, data, st.settings.ingest)
        else:
            got = await run_in_threadpool(ingest_image, data, file.content_type, st.settings.ingest)
    except IngestError as e:
        raise HTTPException(e.status, str(e)) from None
    a = await run_in_threadpool(_store_upload, st, got, user)  # file and database work off the event loop
    return UploadOut(asset_id=a.id, kind=a.kind, width=got.width, height=got.height, rows=got.rows)


def _store_upload(st, got, user: Principal) -> Asset:
    kind = "csv" if got.media_type == "text/csv" else "upload"
    sha = st.storage.put(got.data, got.media_type)
    with st.db.write() as s:
        a = Asset(kind=kind, sha256=sha, media_type=got.media_type, width=got.width, height=got.height, review=None,
                  provenance={}, meta={"rows": got.rows} if got.rows is not None else {}, created_by=user.name,
                  created_at=utcnow(), position=0)
        s.add(a)
        s.flush()
        audit(s, user.name, user.role, "upload", f"asset:{a.id}", kind=kind, bytes=len(got.data))
    return a


MULTIPART_ENVELOPE = 64 * 1024  # boundaries, part headers, the csrf field
JSON_BODY_LIMIT = 1024 * 1024  # every other request body


def uploads_router(max_bytes: int) -> APIRouter:
    """``POST /api/uploads`` with a body cap of the upload limit (plus the multipart envelope), enforced as the body
    streams in: Starlette would otherwise spool a file of any size to disk before the route could refuse it."""
    r = APIRouter(prefix="/api")
    r.add_api_route("/uploads", upload, methods=["POST"], response_model=UploadOut, status_code=201, tags=["assets"],
                    summary="Upload a product photo (PNG/JPEG/WebP) or a catalog CSV",
                    responses={413: {"description": "too many bytes or pixels"}, 415: {"description": "not an image (or CSV)"},
                               422: {"description": "corrupt"}},
                    max_body_size=max_bytes + MULTIPART_ENVELOPE)
    return r


def _check_job(st, req) -> tuple[dict, str | None]:
    """The request as it is stored (canonical values), and its model id; 422 with the fix when it cannot run."""
    body = req.model_dump(exclude_none=True)
    try:
        if isinstance(req, GenerateRequest):
            m = find_model(st.settings.runs, req.model)
            if req.n > st.settings.max_images:
                raise UserError(f"n={req.n}: one job makes at most {st.settings.max_images} images; ask for fewer or split it")
            if req.prompt and not (m["text"] or m.get("title_prior")):
                raise UserError(f"model {req.model!r} was not trained on text and has no title prior, so it takes no "
                                "prompt; choose attributes instead (or fit one: `prodgen title-prior RUN`)")
            body["attributes"] = canonical_attributes(m, req.attributes)
            if req.sketch_asset_id and not m.get("image_condition"):
                raise UserError(f"model {req.model!r} was not trained with an image condition, so it takes no sketch; "
                                "leave the sketch out or choose a sketch model")
            if m.get("image_condition") and not req.sketch_asset_id:
                raise UserError(f"model {req.model!r} draws products from {m['image_condition']}: upload a sketch "
                                "(dark lines on white, or a filled silhouette) and pass its sketch_asset_id")
            if req.sketch_asset_id:
                _asset(st, req.sketch_asset_id, ("upload",), "sketch_asset_id")
            for option, wanted in (("sketch_snap", req.sketch_snap), ("sketch_shape", req.sketch_shape)):
                if wanted and not (req.sketch_asset_id and m.get("shape_index")):
                    raise UserError(f"{option} needs a sketch and a model with a shape index; model {req.model!r} "
                                    + ("has none: build it with `prodgen shape-index RUN`" if req.sketch_asset_id else
                                       "was given no sketch_asset_id"))
            if req.sketch_shape and req.sketch_snap:
                raise UserError("sketch_snap takes whole catalog shapes and sketch_shape pulls the sketch towards them; "
                                "choose one")
            if req.sketch_close and not (req.sketch_asset_id and m.get("image_condition") == "silhouette"):
                raise UserError(f"sketch_close closes the outline of a sketch before it is filled; it needs a sketch "
                                f"and a silhouette model, and model {req.model!r} "
                                + ("draws from edge maps" if req.sketch_asset_id else "was given no sketch_asset_id"))
            if req.sketch_shape and m.get("image_condition") != "silhouette":
                raise UserError(f"sketch_shape pulls a filled sketch towards the catalog's masks; model {req.model!r} "
                                "draws from edge maps: use sketch_snap with it, or a silhouette model")
            return body, req.model
        if isinstance(req, FillRequest):
            find_model(st.settings.runs, req.model)
            _asset(st, req.csv_asset_id, ("csv",), "csv_asset_id")
            return body, req.model
        src = _asset(st, req.asset_id, ("upload",), "asset_id")
        try:
            params = (RestageParams if req.operation == "restage" else RestoreParams).model_validate(req.params)
        except ValidationError as e:
            raise UserError("params: " + "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())) from None
        body["params"] = params.model_dump(exclude_none=True)
        if req.operation == "restage" and params.recolour:
            from ..apps.variations import colour_rgb

            colour_rgb(params.recolour)  # an unknown colour name is a 422 now, not a failed job later
        if req.operation == "restore":
            body["params"]["model"] = choose_restorer(st.settings.runs, params.model, params.task)
            scale = int(params.task[-1]) if params.task.startswith("upscale") else 1
            if src.width * src.height * scale * scale > st.settings.ingest.max_pixels:
                raise UserError(f"{params.task} of a {src.width}x{src.height} photo would make {src.width * scale}x"
                                f"{src.height * scale} pixels, over the {st.settings.ingest.max_pixels:,}-pixel limit; "
                                "upload a smaller photo or use upscale2")
            if params.task == "inpaint":
                if not req.mask_asset_id:
                    raise UserError("inpaint needs mask_asset_id: upload a mask (white where to fill) of the photo's size")
                mask = _asset(st, req.mask_asset_id, ("upload",), "mask_asset_id")
                if (mask.width, mask.height) != (src.width, src.height):
                    raise UserError(f"the mask is {mask.width}x{mask.height} but the photo {src.width}x{src.height}; "
                                    "paint the mask at the photo's size")
        elif req.mask_asset_id:
            raise UserError("mask_asset_id is only used by restore with task inpaint; leave it out")
        return body, None
    except UserError as e:
        raise unprocessable(str(e)) from None


def _asset(st, asset_id: str, kinds: tuple[str, ...], field: str) -> Asset:
    with st.db.read() as s:
        a = s.get(Asset, asset_id)
    if a is None or a.kind not in kinds:
        what = "an uploaded CSV" if kinds == ("csv",) else "an uploaded photo"
        raise UserError(f"{field} {asset_id!r} is not {what}; upload it with POST /api/uploads and use the asset_id it returns")
    return a


@router.post("/jobs", response_model=JobCreated, status_code=202, tags=["jobs"],
             responses={429: {"description": "the queue is full; retry after Retry-After seconds"}})
def create_job(request: Request, req: JobRequest, user: Principal = editor):
    st = studio(request)
    body, model = _check_job(st, req)
    try:
        job = st.queue.submit(req.kind, body, model, user.name, user.role, user.token_id)
    except QueueFull as e:
        return JSONResponse({"detail": str(e)}, status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(e.retry_after)})
    return JobCreated(id=job.id, status=job.status)


@router.get("/jobs", response_model=list[JobOut], tags=["jobs"])
def jobs(request: Request, user: Principal = viewer, status_: Annotated[str | None, Query(alias="status")] = None,
         limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[JobOut]:
    with studio(request).db.read() as s:
        q = select(Job).order_by(Job.created_at.desc()).limit(limit)
        if status_:
            q = q.where(Job.status == status_)
        rows = list(s.scalars(q))
        outs = _outputs(s, [j.id for j in rows])
    return [job_out(j, outs[j.id]) for j in rows]


def _get_or_404(s, model, key: str, what: str):
    row = s.get(model, key)
    if row is None:
        raise HTTPException(404, f"no {what} {key!r}")
    return row


def _job_or_404(s, job_id: str) -> Job:
    return _get_or_404(s, Job, job_id, "job")


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
def job(request: Request, job_id: str, user: Principal = viewer) -> JobOut:
    with studio(request).db.read() as s:
        j = _job_or_404(s, job_id)
        return job_out(j, _outputs(s, [j.id])[j.id])


class CancelOut(BaseModel):
    status: str
    cancel_requested: bool


@router.post("/jobs/{job_id}/cancel", response_model=CancelOut, tags=["jobs"])
def cancel(request: Request, job_id: str, user: Principal = editor) -> CancelOut:
    st = studio(request)
    with st.db.read() as s:
        j = _job_or_404(s, job_id)
    if j.created_by_token != user.token_id and not user.can("admin"):
        raise HTTPException(403, f"job {job_id} was requested by {j.created_by!r}; only they or an admin may cancel it")
    st.queue.cancel(job_id, user.name, user.role)
    with st.db.read() as s:
        j = s.get(Job, job_id)
    return CancelOut(status=j.status, cancel_requested=bool(j.cancel_requested))


def _asset_or_404(s, asset_id: str) -> Asset:
    return _get_or_404(s, Asset, asset_id, "asset")


@router.get("/assets/{asset_id}", response_model=AssetOut, tags=["assets"])
def asset(request: Request, asset_id: str, user: Principal = viewer) -> AssetOut:
    with studio(request).db.read() as s:
        return asset_out(_asset_or_404(s, asset_id))


def _file_response(st, a: Asset, attachment: bool) -> Response:
    try:
        data = st.storage.get(a.sha256, a.media_type)
    except FileNotFoundError:
        raise HTTPException(500, f"asset {a.id}: its stored file is missing; restore the studio's files/ folder "
                                 "from backup") from None
    headers = {"ETag": f'"{a.sha256}"', "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    if attachment:
        headers["Content-Disposition"] = f'attachment; filename="{a.id}.png"'
    return Response(data, media_type=a.media_type, headers=headers)


@router.get("/assets/{asset_id}/image", tags=["assets"], response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def asset_image(request: Request, asset_id: str, user: Principal = viewer) -> Response:
    st = studio(request)
    with st.db.read() as s:
        a = _asset_or_404(s, asset_id)
    if a.media_type != "image/png":
        raise HTTPException(404, f"asset {asset_id} is a {a.kind}, not an image")
    if request.headers.get("if-none-match") == f'"{a.sha256}"':
        return Response(status_code=304)
    return _file_response(st, a, attachment=False)


def _reference_photo(request: Request, asset_id: str, pick) -> Response:
    """A stored training photo that a generated image's record points to: ``pick(asset)`` gives (name, sha256) or
    raises the 404 that says why there is none."""
    st = studio(request)
    with st.db.read() as s:
        a = _asset_or_404(s, asset_id)
    name, sha = pick(a)
    return _file_response(st, Asset(id=f"{a.id}-{name}", sha256=sha, media_type="image/png"), attachment=False)


@router.get("/assets/{asset_id}/nearest/{k}", tags=["review"], response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def asset_nearest(request: Request, asset_id: str, k: int, user: Principal = viewer) -> Response:
    """The k-th nearest training photo of a generated image (0 = nearest), for the reviewer."""
    def pick(a: Asset) -> tuple[str, str]:
        near = (a.meta or {}).get("nearest") or []
        if not 0 <= k < len(near):
            raise HTTPException(404, f"asset {asset_id} has {len(near)} nearest training photo(s); k must be 0 to {len(near) - 1}")
        return f"nearest-{k}", near[k]["sha256"]

    return _reference_photo(request, asset_id, pick)


@router.get("/assets/{asset_id}/shape", tags=["review"], response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def asset_shape(request: Request, asset_id: str, user: Principal = viewer) -> Response:
    """The training photo a sketch-snapped image took its shape from (``sketch_snap``), for the reviewer."""
    def pick(a: Asset) -> tuple[str, str]:
        shape = (a.meta or {}).get("shape_of") or {}
        if not shape.get("sha256"):
            raise HTTPException(404, f"asset {asset_id} was not drawn from a catalog photo's shape (no sketch_snap), or "
                                     "that photo could not be loaded when it was made")
        return "shape", shape["sha256"]

    return _reference_photo(request, asset_id, pick)


@router.get("/assets/{asset_id}/download", tags=["assets"], response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 403: {"description": "not approved"}})
def asset_download(request: Request, asset_id: str, user: Principal = reviewer) -> Response:
    st = studio(request)
    with st.db.read() as s:
        a = _asset_or_404(s, asset_id)
    if a.review != "approved":
        state = a.review or "an upload (never reviewed)"
        raise HTTPException(403, f"asset {asset_id} is {state}: only approved images leave the studio; approve it first")
    with st.db.write() as s:
        audit(s, user.name, user.role, "asset.download", f"asset:{a.id}")
    return _file_response(st, a, attachment=True)


@router.get("/review", response_model=list[ReviewItem], tags=["review"])
def review_queue(request: Request, user: Principal = viewer,
                 state: Literal["pending", "approved", "rejected"] = "pending",
                 limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[ReviewItem]:
    with studio(request).db.read() as s:
        rows = list(s.execute(select(Asset, Job).join(Job, Job.id == Asset.job_id).where(Asset.review == state)
                              .order_by(Asset.created_at, Asset.position).limit(limit)))
    return [ReviewItem(**asset_out(a).model_dump(), request=j.request, model=j.model, seed=(a.meta or {}).get("seed"),
                       nearest=_nearest(a), nearest_note=_nearest_note(a)) for a, j in rows]


def _nearest_note(a: Asset) -> str | None:
    if a.kind == "edited":
        return "an edit of an uploaded photo: the fidelity check compares it with its source photo instead"
    return (a.meta or {}).get("nearest_note")


def _nearest(a: Asset) -> list[dict]:
    meta = a.meta or {}
    return [{"id": n["id"], "distance": n["distance"], "space": meta.get("nearest_space"),
             "image": f"/api/assets/{a.id}/nearest/{k}"} for k, n in enumerate(meta.get("nearest") or [])]


@router.post("/review", response_model=ReviewResult, tags=["review"])
def review(request: Request, body: ReviewDecision, user: Principal = reviewer) -> ReviewResult:
    reason = (body.reason or "").strip() or None
    if body.decision == "reject" and not reason:
        raise unprocessable("a rejection needs a reason (what is wrong with the image), for the requester and the audit log")
    ids = list(dict.fromkeys(body.asset_ids))
    state = "approved" if body.decision == "approve" else "rejected"
    with studio(request).db.write() as s:
        found = {a.id: a for a in s.scalars(select(Asset).where(Asset.id.in_(ids)))}
        bad = [i for i in ids if i not in found or found[i].kind not in ("generated", "edited")]
        if bad:
            raise unprocessable(f"not results of a job (unknown ids or uploads): {', '.join(bad[:20])}; nothing was changed")
        now = utcnow()
        for i in ids:
            a = found[i]
            a.review, a.reason = state, reason
            s.add(Review(asset_id=i, decision=state, reason=reason, reviewer=user.name, at=now))
            audit(s, user.name, user.role, f"review.{body.decision}", f"asset:{i}", **({"reason": reason} if reason else {}))
    return ReviewResult(decision=state, updated=ids)


def _export_out(e: Export) -> ExportOut:
    return ExportOut(id=e.id, profile=e.profile, files=e.files, refused=e.refused, created_by=e.created_by,
                     created_at=iso(e.created_at))


@router.post("/exports", response_model=ExportOut, status_code=201, tags=["exports"])
def create_export(request: Request, body: ExportRequest, user: Principal = reviewer) -> ExportOut:
    from .exporting import export_assets

    st = studio(request)
    with st.db.read() as s:
        q = select(Asset).where(Asset.review == "approved", Asset.kind.in_(("generated", "edited")))
        if body.asset_ids is not None:
            q = q.where(Asset.id.in_(body.asset_ids))
        assets = list(s.scalars(q.order_by(Asset.created_at, Asset.position)))
        jobs = {j.id: j for j in s.scalars(select(Job).where(Job.id.in_({a.job_id for a in assets})))}
    if body.asset_ids is not None:
        missing = sorted(set(body.asset_ids) - {a.id for a in assets})
        if missing:
            raise unprocessable(f"not approved (or unknown): {', '.join(missing[:20])}; only approved images are exported")
    if not assets:
        raise unprocessable("nothing approved to export yet; approve images in the review queue first")
    try:
        files, refused, sha = export_assets(st, assets, jobs, body.profile)
    except UserError as e:
        raise unprocessable(str(e)) from None
    with st.db.write() as s:
        e = Export(profile=body.profile, sha256=sha, files=files, refused=refused, created_by=user.name, created_at=utcnow())
        s.add(e)
        s.flush()
        audit(s, user.name, user.role, "export", f"export:{e.id}", profile=body.profile, files=len(files),
              refused=len(refused), assets=[a.id for a in assets][:500])
    return _export_out(e)


@router.get("/exports", response_model=list[ExportOut], tags=["exports"])
def exports(request: Request, user: Principal = reviewer) -> list[ExportOut]:
    with studio(request).db.read() as s:
        return [_export_out(e) for e in s.scalars(select(Export).order_by(Export.created_at.desc()).limit(200))]


@router.get("/exports/{export_id}/zip", tags=["exports"], response_class=Response,
            responses={200: {"content": {"application/zip": {}}}})
def export_zip(request: Request, export_id: str, user: Principal = reviewer) -> Response:
    st = studio(request)
    with st.db.read() as s:
        e = s.get(Export, export_id)
    if e is None:
        raise HTTPException(404, f"no export {export_id!r}")
    with st.db.write() as s:
        audit(s, user.name, user.role, "export.download", f"export:{e.id}")
    stamp = e.created_at.strftime("%Y%m%d-%H%M%S")
    return Response(st.storage.get(e.sha256, "application/zip"), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="prodgen-{e.profile}-{stamp}.zip"'})


@router.get("/audit", response_model=list[AuditOut], tags=["audit"])
def audit_log(request: Request, user: Principal = admin, action: str | None = None,
              limit: Annotated[int, Query(ge=1, le=5000)] = 500, before: int | None = None) -> list[AuditOut]:
    with studio(request).db.read() as s:
        q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if action:
            q = q.where(AuditEntry.action == action)
        if before:
            q = q.where(AuditEntry.id < before)
        return [AuditOut(id=a.id, at=iso(a.at), actor=a.actor, role=a.role, action=a.action, target=a.target,
                         detail=a.detail or {}) for a in s.scalars(q)]


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["tokens"])
def create_token_route(request: Request, body: TokenCreate, user: Principal = admin) -> TokenCreated:
    try:
        tok, secret = create_token(studio(request).db, body.name, body.role, user.name, user.role)
    except ValueError as e:
        raise unprocessable(str(e)) from None
    return TokenCreated(**token_out(tok).model_dump(), token=secret)


@router.get("/tokens", response_model=list[TokenOut], tags=["tokens"])
def tokens(request: Request, user: Principal = admin) -> list[TokenOut]:
    return [token_out(t) for t in list_tokens(studio(request).db)]


@router.delete("/tokens/{token_id}", response_model=TokenOut, tags=["tokens"])
def revoke(request: Request, token_id: int, user: Principal = admin) -> TokenOut:
    tok = revoke_token(studio(request).db, token_id, user.name, user.role)
    if tok is None:
        raise HTTPException(404, f"no token {token_id}")
    return token_out(tok)


def health(request: Request) -> dict:
    st = studio(request)
    with st.db.read() as s:
        s.scalar(select(func.count()).select_from(Token))
    return {"ok": True, "schema": SCHEMA_VERSION}


__all__ = ["JSON_BODY_LIMIT", "health", "router", "uploads_router"]
