"""Helpers for the studio server's tests: a tiny trained run, a studio over a temporary data folder, images.

``Kit`` holds a ``create_app`` app with no worker processes; ``kit.drain()`` runs every job waiting in huey's
queue in this process, through huey's own dequeue/execute (what a worker process does).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from prodgen.studio.app import create_app
from prodgen.studio.auth import create_token
from prodgen.studio.ingest import IngestConfig
from prodgen.studio.settings import StudioSettings

ROLES = ("viewer", "editor", "reviewer", "admin")
TINY_GAN = {"z_dim": 16, "cond_dim": 16, "g_base": 8, "g_cap": 32, "d_base": 8, "d_cap": 16}


def train_tiny(runs: Path, name: str = "gan") -> Path:
    """A 2-step GAN on a 120-image synthetic catalog (category, colour): a few seconds."""
    from prodgen.config import ConditionConfig, DataConfig, RunConfig, TrainConfig
    from prodgen.train import train

    cfg = RunConfig(model="gan", model_args=dict(TINY_GAN),
                    condition=ConditionConfig(attributes=["category", "colour"], min_count=1),
                    data=DataConfig(catalog="synthetic", resolution=32, synthetic_size=120),
                    train=TrainConfig(steps=2, batch_size=4, sample_every=1000, checkpoint_every=0, log_every=1))
    out = Path(runs) / name
    train(cfg, out, overwrite=True, progress=False)
    return out


@dataclass
class Kit:
    settings: StudioSettings
    app: object
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def st(self):
        return self.app.state.studio

    def h(self, role: str = "admin") -> dict:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def drain(self) -> int:
        """Run the queued jobs here, as a worker process would; returns how many messages were executed."""
        n = 0
        while (task := self.st.huey.dequeue()) is not None:
            self.st.huey.execute(task)
            n += 1
        return n

    def generate(self, n: int = 2, role: str = "editor", **body) -> str:
        r = self.client.post("/api/jobs", headers=self.h(role), json={"kind": "generate", "model": "gan", "n": n, **body})
        assert r.status_code == 202, r.text
        return r.json()["id"]

    def job(self, job_id: str) -> dict:
        r = self.client.get(f"/api/jobs/{job_id}", headers=self.h("viewer"))
        assert r.status_code == 200, r.text
        return r.json()

    def upload(self, data: bytes, content_type: str = "image/png", name: str = "photo.png", role: str = "editor"):
        return self.client.post("/api/uploads", headers=self.h(role), files={"file": (name, data, content_type)})


def make_kit(runs: Path, data: Path, **settings) -> Kit:
    s = StudioSettings(runs=runs, data=data, workers=0, **settings)
    app = create_app(s)
    kit = Kit(s, app, TestClient(app))
    for role in ROLES:
        kit.tokens[role] = create_token(kit.st.db, f"{role}-user", role, "test")[1]
    return kit


def small_ingest(**kw) -> IngestConfig:
    return IngestConfig(**{"max_bytes": 300_000, "max_pixels": 1_000_000, **kw})


def png(w: int = 64, h: int = 64, colour=(200, 30, 30), **save) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, format="PNG", **save)
    return buf.getvalue()


def product_photo(seed: int = 0, category: str = "handbag", colour: str = "red") -> bytes:
    """A synthetic catalog photo (white backdrop, one product), PNG bytes."""
    from prodgen.data.synthetic import render

    img = render(category, colour, "striped", np.random.default_rng(seed))
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def jpeg_with_gps(w: int = 80, h: int = 60) -> bytes:
    """A JPEG carrying EXIF with a GPS position and a camera make, as a shop's phone photo would."""
    img = Image.new("RGB", (w, h), (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 31.0, 12.0), "E", (13.0, 24.0, 36.0)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif, quality=90)
    return buf.getvalue()


def png_header_only(w: int, h: int) -> bytes:
    """A PNG that declares w x h pixels (a decompression bomb's header) with no real pixel data."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
