"""Upload checks: caps on bytes and pixels, decode and verify, metadata stripped, one clean PNG out.

What arrives is hostile until proven otherwise. An image upload must

1. fit the byte cap (413) and declare an image type the studio reads (415);
2. be an image at all (its bytes must open as PNG/JPEG/WebP: 415 otherwise) of the type it declares (415);
3. have at most ``max_pixels`` pixels, read from the header before anything is decoded (413: a
   decompression bomb never gets decoded);
4. pass ``Image.verify()`` and then decode completely from a fresh read (422 when corrupt or truncated).

The stored file is a PNG re-encoded from the decoded pixels alone (EXIF orientation applied first),
so EXIF, GPS, XMP, ICC and text chunks from the shop's camera or phone are gone. Catalog CSVs (for
``fill``) are checked as UTF-8 CSV with a header and at least one row, under the same byte cap.
"""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from ..data.images import to_rgb

IMAGE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
CSV_TYPES = ("text/csv", "application/csv", "application/vnd.ms-excel", "text/plain")


@dataclass(frozen=True)
class IngestConfig:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_csv_rows: int = 20_000


class IngestError(Exception):
    """An upload refused; ``status`` is the HTTP status (413, 415, 422), the message names the problem and the fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Ingested:
    data: bytes
    media_type: str  # "image/png" or "text/csv"
    width: int | None = None
    height: int | None = None
    rows: int | None = None


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 10 * 1024 * 1024 else f"{n / 1024:.0f} KB"


def check_size(n_bytes: int, cfg: IngestConfig) -> None:
    if n_bytes > cfg.max_bytes:
        raise IngestError(413, f"the file is larger than the {_mb(cfg.max_bytes)} upload limit; "
                               "send a smaller or more compressed file")


def base_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def is_csv(content_type: str | None, filename: str | None) -> bool:
    ct = base_type(content_type)
    return ct in ("text/csv", "application/csv") or (ct in CSV_TYPES + ("application/octet-stream", "")
                                                     and (filename or "").lower().endswith(".csv"))


def ingest_image(data: bytes, content_type: str | None, cfg: IngestConfig = IngestConfig()) -> Ingested:
    check_size(len(data), cfg)
    ct = base_type(content_type)
    if ct not in IMAGE_TYPES:
        raise IngestError(415, f"content type {ct or 'missing'!r} is not an image type the studio reads; "
                               f"upload a PNG, JPEG or WebP photo ({', '.join(IMAGE_TYPES)})")
    if not data:
        raise IngestError(422, "the file is empty; upload the photo again")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data), formats=list(IMAGE_TYPES.values()))
        except UnidentifiedImageError:
            raise IngestError(415, "the file is not a PNG, JPEG or WebP image; upload a photo in one of those formats") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise IngestError(413, f"the image has more than {cfg.max_pixels:,} pixels; resize it first") from None
        except Exception as e:  # noqa: BLE001  (a broken header can raise anything)
            raise IngestError(422, f"the image header is corrupt ({type(e).__name__}); export the photo again") from None
        if probe.format != IMAGE_TYPES[ct]:
            raise IngestError(415, f"the file was sent as {ct} but is a {probe.format} image; send it with its real type "
                                   f"(image/{probe.format.lower()})")
        w, h = probe.size
        if w * h > cfg.max_pixels:
            raise IngestError(413, f"the image is {w}x{h} = {w * h:,} pixels, more than the {cfg.max_pixels:,}-pixel "
                                   "limit; resize it first")
        if w < 1 or h < 1:
            raise IngestError(422, "the image has no pixels; export the photo again")
        try:
            probe.verify()  # checks the file's structure (PNG CRCs, ...) without decoding
            img = Image.open(io.BytesIO(data), formats=[IMAGE_TYPES[ct]])  # verify() leaves the image unusable: reopen
            img.load()  # a full decode: a truncated or damaged file fails here
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise IngestError(413, f"the image has more than {cfg.max_pixels:,} pixels; resize it first") from None
        except Exception as e:  # noqa: BLE001  (decoders raise many types on hostile input)
            raise IngestError(422, f"the image is corrupt or truncated ({type(e).__name__}: {str(e)[:120]}); "
                                   "export the photo again") from None
    rgb = to_rgb(img)  # EXIF orientation applied, transparency onto white, 16-bit scaled
    clean = Image.frombytes("RGB", rgb.size, rgb.tobytes())  # pixels only: no EXIF, GPS, XMP, ICC or text
    buf = io.BytesIO()
    clean.save(buf, format="PNG", optimize=False)
    return Ingested(buf.getvalue(), "image/png", clean.width, clean.height)


def ingest_csv(data: bytes, cfg: IngestConfig = IngestConfig()) -> Ingested:
    check_size(len(data), cfg)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise IngestError(422, f"the CSV is not UTF-8 (byte {e.start}); save it as 'CSV UTF-8' and upload it again") from None
    if "\x00" in text:
        raise IngestError(415, "the file holds binary data, not a CSV; upload the catalog as a .csv file")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise IngestError(422, f"the CSV cannot be read ({e}); check its quoting") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2 or not any(c.strip() for c in rows[0]):
        raise IngestError(422, "the CSV needs a header row and at least one product row")
    if len(rows) - 1 > cfg.max_csv_rows:
        raise IngestError(413, f"the CSV has {len(rows) - 1:,} rows, more than the {cfg.max_csv_rows:,} one job may fill; "
                               "split it into smaller files")
    return Ingested(text.encode("utf-8"), "text/csv", rows=len(rows) - 1)


__all__ = ["IMAGE_TYPES", "IngestConfig", "IngestError", "Ingested", "base_type", "check_size", "ingest_csv", "ingest_image",
           "is_csv"]
