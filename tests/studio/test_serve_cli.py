"""``prodgen serve token create|list|revoke`` and the checks ``prodgen serve`` makes before it starts anything."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from prodgen.cli import app
from prodgen.studio.auth import token_principal
from prodgen.studio.db import Database

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_token_create_prints_it_once_and_stores_only_its_hash(tmp_path):
    data = tmp_path / "studio"
    res = invoke("serve", "token", "create", "--role", "reviewer", "--name", "ana", "--data", str(data))
    assert res.exit_code == 0, res.output
    secret = res.stdout.strip().splitlines()[-1]
    assert secret.startswith("pgt_") and len(secret) > 40
    db = Database(data)
    who = token_principal(db, secret)
    assert (who.name, who.role) == ("ana", "reviewer")
    raw = b"".join(p.read_bytes() for p in data.glob("studio.db*"))
    assert secret.encode() not in raw
    listed = invoke("serve", "token", "list", "--data", str(data))
    assert listed.exit_code == 0 and "ana" in listed.stdout and "reviewer" in listed.stdout and secret not in listed.stdout
    with db.read() as s:
        from prodgen.studio.db import AuditEntry

        assert [(a.action, a.detail["role"]) for a in s.query(AuditEntry)] == [("token.create", "reviewer")]
    res = invoke("serve", "token", "revoke", "1", "--data", str(data))
    assert res.exit_code == 0 and "revoked" in res.output
    assert token_principal(db, secret) is None


def test_token_commands_refuse_bad_input(tmp_path):
    data = tmp_path / "studio"
    res = runner.invoke(app, ["serve", "token", "create", "--role", "owner", "--name", "x", "--data", str(data)],
                        env={"COLUMNS": "250"})
    assert res.exit_code == 2 and "viewer, editor, reviewer, admin" in res.output
    res = runner.invoke(app, ["serve", "token", "revoke", "7", "--data", str(data)], catch_exceptions=True)
    assert res.exit_code != 0 and "no token 7" in str(res.exception)
    res = runner.invoke(app, ["serve", "token", "create", "--role", "admin", "--name", "  ", "--data", str(data)])
    assert res.exit_code != 0 and "needs a name" in str(res.exception)


@pytest.mark.parametrize("make, flag, says", [
    (lambda t: t / "missing", "--runs", "is not a folder"),
    (lambda t: (t / "f").write_text("x") and t / "f", "--data", "is a file"),
])
def test_serve_checks_its_folders_before_starting(tmp_path, make, flag, says):
    path = make(tmp_path)
    args = {"--runs": str(tmp_path), "--data": str(tmp_path / "d")}
    args[flag] = str(path)
    res = runner.invoke(app, ["serve", "--runs", args["--runs"], "--data", args["--data"], "--workers", "0"])
    assert res.exit_code != 0 and says in str(res.exception)


def test_serve_help_lists_the_options():
    res = invoke("serve", "--help")
    assert res.exit_code == 0
    for opt in ("--runs", "--data", "--port", "--workers", "--queue-limit", "--demo", "token"):
        assert opt in res.stdout
