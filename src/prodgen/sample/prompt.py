"""Free-text prompts -> what the model can use: attribute values it knows, and a text vector.

"navy blue check shirt for men" -> baseColour=Navy Blue, articleType=Shirts (longest
match wins, singular/plural forgiven), plus the prompt's embedding when the run was
trained on text. The result says what was understood and what was not, for the
sidecar; a prompt the model cannot use at all is a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from ..conditioning import OTHER, UNKNOWN, UNSPECIFIED, Vocabulary
from ..conditioning.text import check_prompt
from ..errors import UserError


@dataclass
class PromptCondition:
    cond: torch.Tensor  # (A,) attribute ids
    text: torch.Tensor | None  # (T,) prompt embedding, None when the model has no text input
    understood: dict[str, str] = field(default_factory=dict)  # attribute -> value read from the prompt or --attr
    notes: list[str] = field(default_factory=list)


def _words(s: str) -> list[str]:
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in re.findall(r"[a-z0-9]+", s.lower())]


def match_attributes(prompt: str, vocab: Vocabulary) -> dict[str, str]:
    """Attribute values named in the prompt (whole words, plural-insensitive; the longest value wins)."""
    words = _words(prompt)
    text = " " + " ".join(words) + " "
    found: dict[str, str] = {}
    for a in vocab.attributes:
        best = None
        for v in a.values:
            if v in (UNSPECIFIED, OTHER, UNKNOWN):
                continue
            vw = _words(v)
            if vw and f" {' '.join(vw)} " in text and (best is None or len(vw) > len(_words(best))):
                best = v
        if best is not None:
            found[a.name] = best
    return found


def prompt_condition(prompt: str | None, attrs: Mapping[str, str], vocab: Vocabulary, text_vector=None,
                     infer=None) -> PromptCondition:
    """Combine ``--prompt`` and ``--attr``: explicit attributes win over ones named in the prompt, and those over
    ones the run's title prior infers from it.

    ``text_vector``: callable prompt -> (T,) embedding, or None when the model has no text input.
    ``infer``: callable prompt -> {attribute: (value, probability)} (the title prior), or None.
    """
    notes: list[str] = []
    understood: dict[str, str] = {}
    text = None
    if prompt is not None:
        prompt = check_prompt(prompt)
        found = match_attributes(prompt, vocab)
        for name, value in found.items():
            if name in attrs and attrs[name].lower() != value.lower():
                notes.append(f"the prompt says {name}={value!r} but --attr sets {attrs[name]!r}; --attr wins")
        inferred = {k: v for k, v in (infer(prompt) if infer is not None else {}).items() if k not in found and k not in attrs}
        for name, (value, p) in inferred.items():
            notes.append(f"{name}={value!r} inferred from the prompt by the title prior (probability {p:.2f}); "
                         f"set --attr {name}=... to choose another")
        found = {**{k: v for k, (v, _) in inferred.items()}, **found}
        merged = {**found, **attrs}
        if text_vector is not None:
            text = text_vector(prompt)
            if not found:
                notes.append("no attribute value of the model's vocabulary was recognised in the prompt; generating from "
                             "the text alone (attributes unspecified)")
        elif not found:
            known = "; ".join(f"{a.name}: {', '.join(a.choices[:8])}{' ...' if len(a.choices) > 8 else ''}" for a in vocab.attributes)
            raise UserError(f"this model was not trained on text, and the prompt {prompt[:80]!r} names no value it knows. "
                            f"Use words the model knows ({known}), --attr, a run trained with --condition text,..., or fit this "
                            "run a title prior that reads attributes from titles: `prodgen title-prior RUN`")
        else:
            notes.append("this model was not trained on text: only the recognised attribute values are used")
    else:
        merged = dict(attrs)
    cond = vocab.encode_user(merged, strict=True)
    for a in vocab.attributes:
        if a.name in merged:
            understood[a.name] = a.decode(int(cond[vocab.names.index(a.name)]))
    return PromptCondition(cond, text, understood, notes)


__all__ = ["PromptCondition", "match_attributes", "prompt_condition"]
