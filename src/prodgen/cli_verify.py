"""``prodgen verify FILE...``: what each image says about itself, and whether its C2PA manifest checks out.

Registered on the command line's app by ``register(app)`` (called in ``prodgen.cli``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

SOURCE_NAMES = {"trainedAlgorithmicMedia": "made by a generative model",
                "compositeWithTrainedAlgorithmicMedia": "a real photo edited with a generative model"}


def verify(
    files: Annotated[list[Path], typer.Argument(help="image files (PNG, JPEG, WebP, GIF)", metavar="FILE...", exists=True,
                                                dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per file, in a list")] = False,
    keys: Annotated[Path | None, typer.Option(help="key folder whose CA counts as trusted (default: $PRODGEN_SIGNING_DIR, "
                                                   "else ~/.config/prodgen/signing)")] = None,
) -> None:
    """Read back each file's provenance: source type, generator, run, seed, signer, edits; valid or not.

    Exits with status 1 when a file has no C2PA manifest or one that does not verify (e.g. pixels changed after signing).
    """
    from .provenance import verify_file
    from .provenance.keys import anchor_of

    anchor = anchor_of(keys)
    results = [verify_file(f, trust_anchor=anchor) for f in files]
    if as_json:
        typer.echo(json.dumps(results, indent=2, default=str))
    else:
        out = Console(highlight=False)
        for r in results:
            _print(out, r)
    if not all(r["valid"] for r in results):
        raise typer.Exit(1)


def _print(out: Console, r: dict) -> None:
    head = {"trusted": "[bold green]valid, signer trusted[/]", "valid": "[bold green]valid[/] (signer not in your trust list)",
            "invalid": "[bold red]INVALID[/]", "no manifest": "[bold red]NO C2PA MANIFEST[/]"}[r["state"]]
    out.print(f"{escape(r['file'])}: {head}", soft_wrap=True)
    rows = []
    source = r["source_type"] or r["iptc_source_type"]
    if source:
        name = source.rsplit("/", 1)[-1]
        rows.append(("source type", f"{name} ({SOURCE_NAMES.get(name, 'IPTC digital source type')})"))
    sig = r["signer"] or {}
    rows += [("generator", r["generator"]), ("run", r["run"]), ("model", r["family"]), ("seed", r["seed"]),
             ("signer", f"{sig.get('name')} (issued by {sig.get('issuer')}, {sig.get('alg')})" if sig else None),
             ("edits", "; ".join(map(str, r["edits"])) if r["edits"] else None), ("edited from", r["parent"]),
             ("shape of", f"catalog photo {r['shape_of']['id']}" + (" (mirrored)" if r["shape_of"].get("mirrored") else "")
              if r.get("shape_of") else None),
             ("request", json.dumps(r["request"], default=str) if r["request"] else None)]
    for k, v in rows:
        if v is not None:
            out.print(f"  {k + ':':<13} {escape(str(v))}", soft_wrap=True)
    for reason in r["reasons"]:
        out.print(f"  [red]problem:[/]     {escape(reason)}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)


__all__ = ["register", "verify"]
