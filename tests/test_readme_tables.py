"""Every result table and bound figure in README.md equals what bench/render_readme.py renders from bench/results/."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "render_readme.py"


def _renderer():
    if "render_readme" not in sys.modules:
        spec = importlib.util.spec_from_file_location("render_readme", SCRIPT)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["render_readme"] = mod  # dataclasses look their module up here
        spec.loader.exec_module(mod)
    return sys.modules["render_readme"]


def test_readme_tables_and_figures_match_their_results_files():
    p = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, ("README.md disagrees with bench/results (run `python bench/render_readme.py`):\n"
                               + p.stdout + p.stderr)


def test_check_notices_an_edited_table_and_an_edited_figure(tmp_path):
    mod = _renderer()
    text = (ROOT / "README.md").read_text()
    assert mod.render(text)[1] == []
    # a changed digit inside a marked table
    block = mod.MARKER.search(text)
    k = block.start("body") + next(i for i, ch in enumerate(block.group("body")) if ch.isdigit())
    edited = text[:k] + ("2" if text[k] == "1" else "1") + text[k + 1:]
    problems = mod.render(edited)[1]
    assert any(p.startswith(f"table {block.group('name')!r} differs") for p in problems), problems
    # a changed number in a bound sentence
    fig = mod.FIGURES[0]
    m = mod.figure_regex(fig.template).search(text)
    field = next(iter(mod.figure_regex(fig.template).groupindex))
    edited = text[: m.start(field)] + "12345" + text[m.end(field):]
    new, problems = mod.render(edited)
    assert any(p.startswith(f"figure {fig.name!r} differs") for p in problems), problems
    assert new == text  # rendering restores the README exactly


def test_every_marked_table_is_known_and_every_table_is_marked():
    mod = _renderer()
    names = [m.group("name") for m in mod.MARKER.finditer((ROOT / "README.md").read_text())]
    assert sorted(names) == sorted(mod.TABLES), (names, list(mod.TABLES))


def test_results_files_name_their_command_and_machine():
    mod = _renderer()
    files = {f for files, _ in mod.TABLES.values() for f in files} | {f for fig in mod.FIGURES for f in fig.sources}
    for name in sorted(files):
        data = mod.R(name)
        sections = [data] if "command" in data else [v for v in data.values() if isinstance(v, dict) and "rows" in v or
                                                       isinstance(v, dict) and "command" in v]
        assert sections, f"bench/results/{name} names no command"
        for sec in sections:
            assert sec.get("command") and sec.get("machine"), f"bench/results/{name}: a section lacks command or machine"


def test_scale_report_matches_its_results_files():
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "scale_report.py"), "--check"], capture_output=True,
                       text=True, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
