"""The README and docs/ against the code: the first example runs, every link lands on a page that exists, and
the lists the README keeps (benchmarks, documentation pages) are the ones in the repository."""
import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def test_the_readmes_first_example_runs_as_written(tmp_path, monkeypatch):
    """The ten lines, with the scripted model in place of the embedded one (the slow smoke tests run that)."""
    import looplab.models
    from looplab.models import ScriptedModel

    code = README.split("## A first loop in ten lines")[1].split("```python\n")[1].split("```")[0]
    assert len(code.strip().splitlines()) <= 10
    monkeypatch.setattr(looplab.models, "load_model", lambda spec: ScriptedModel(["```sql\nSELECT 1\n```"]))
    monkeypatch.chdir(tmp_path)
    printed = []
    exec(compile(code, "README.md", "exec"), {"print": lambda *a: printed.append(a)})
    assert len(printed) == 5 and all(line[1] in ("passed", "failed") for line in printed)
    assert (tmp_path / "runs" / "first" / "run.sqlite").is_file()


def test_every_link_between_the_pages_lands_on_a_file_that_exists():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith("http"):
                assert (page.parent / target).exists(), f"{page.name} links to {target}"
    linked = set(re.findall(r"\]\(docs/([\w.]+\.md)\)", README))
    assert linked == {p.name for p in (ROOT / "docs").glob("*.md")} - {"README.md"}


def test_the_layout_lists_every_benchmark():
    listed = set(re.findall(r"(\w+\.py)", README.split("bench/", 1)[1].split("\n")[0]))
    assert listed == {p.name for p in (ROOT / "bench").glob("*.py")}


def _commands():
    """Every (name, parser) of the command line, graph's subcommands included."""
    from looplab.cli import _parser

    for name, parser in _parser()._subparsers._group_actions[0].choices.items():
        subs = [a for a in parser._actions if a.dest == "graph_command"]
        if subs:
            yield from ((f"{name} {sub}", p) for sub, p in subs[0].choices.items())
        else:
            yield name, parser


def test_every_flag_of_every_command_says_what_it_does():
    bare = [f"{name} {a.option_strings[-1]}" for name, parser in _commands() for a in parser._actions
            if a.option_strings and a.dest != "help" and not a.help]
    assert bare == []


def test_a_command_that_only_reads_a_record_does_not_say_its_run_dir_resumes():
    readers = {"show", "export", "analyze", "view", "graph report", "graph export"}
    for name, parser in _commands():
        [run_dir] = [a for a in parser._actions if "--run-dir" in a.option_strings] or [None]
        if run_dir is not None:
            assert ("resumes" in run_dir.help) == (name not in readers), name
