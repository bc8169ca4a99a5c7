"""Summarize the last `mutmut run` (make mutation) into benchmarks/mutation.md.

Reads mutmut 3's results in mutants/ (one `<module>.py.meta` JSON per mutated module:
each mutant's exit code and duration) and the diff of each mutant from mutmut itself, and
writes: the score per module (killed / total, %), the total, the run time, and every mutant
that no test killed (file, line, diff). The notes on equivalent mutants are kept from the
existing benchmarks/mutation.md (everything under its "## Equivalent mutants" heading), so
that a re-run does not lose them; the mutant names in backticks under that heading (up to
the next "## " heading) are the equivalent ones, left out of the second score.

    .venv/bin/python benchmarks/mutation_report.py [--seconds N] [--out benchmarks/mutation.md]

Run it from the repository root, after `mutmut run`. --seconds is the wall time of the run
(make mutation measures it and stores it in mutants/run-seconds, read by default).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

import libcst as cst
from mutmut.mutation.diff_apply import get_diff_for_mutant, read_functions_from_index
from mutmut.stats import status_by_exit_code
from mutmut.utils.format_utils import orig_function_and_class_names_from_key

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT_HEADING = "## Equivalent mutants"
# mutmut counts a timeout as a distinct status; the tests did notice the mutant (it made
# them run 15x longer than the clean run), so it is counted as killed, and listed.
DETECTED = {"killed", "timeout", "caught by type check", "segfault"}


def mutated_modules() -> list[str]:
    """The modules [tool.mutmut] only_mutate names, in its order."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["only_mutate"])


def function_first_line(source: str, name: str, class_name: str | None) -> int:
    """The first line (decorators included) of a top-level function or method in source."""
    body = ast.parse(source).body
    if class_name is not None:
        for node in body:
            if isinstance(node, ast.ClassDef) and node.name == class_name:
                body = node.body
                break
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return min([node.lineno] + [d.lineno for d in node.decorator_list])
    return 0


def first_changed_line(diff: str) -> int:
    """The 1-based line, within the function, of the first line the mutant changes."""
    line = 0
    for text in diff.splitlines():
        hunk = re.match(r"@@ -(\d+)", text)
        if hunk:
            line = int(hunk.group(1))
            continue
        if text.startswith(("---", "+++")) or not line:
            continue
        if text.startswith(("-", "+")):
            return line
        line += 1
    return max(line, 1)


def format_seconds(seconds: float) -> str:
    minutes, sec = divmod(round(seconds), 60)
    return f"{minutes} min {sec:02d} s" if minutes else f"{sec} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="wall time of the run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "mutation.md")
    args = parser.parse_args()

    seconds_file = ROOT / "mutants" / "run-seconds"
    if args.seconds is None and seconds_file.exists():
        args.seconds = float(seconds_file.read_text().split()[0])

    previous = args.out.read_text() if args.out.exists() else ""
    notes = previous[previous.index(EQUIVALENT_HEADING) :] if EQUIVALENT_HEADING in previous else ""
    # The names in backticks between that heading and the next "## " heading.
    equivalent_part = notes.split("\n## ", 1)[0]
    equivalent = set(re.findall(r"`(vae_tutorial\.[^`\s]+__mutmut_\d+)`", equivalent_part))

    rows = []
    survivors = []
    totals = dict.fromkeys(("killed", "checked", "generated", "equivalent"), 0)
    for module in mutated_modules():
        meta_path = ROOT / "mutants" / (module + ".meta")
        if not meta_path.exists():
            rows.append((module, None))
            continue
        meta = json.loads(meta_path.read_text())
        statuses = {n: status_by_exit_code[c] for n, c in meta["exit_code_by_key"].items()}
        checked = {n: s for n, s in statuses.items() if s != "not checked"}
        survived = sorted(n for n, s in checked.items() if s not in DETECTED)
        row = {
            "killed": sum(s in DETECTED for s in checked.values()),
            "checked": len(checked),
            "generated": len(statuses),
            "equivalent": sum(n in equivalent for n in survived),
            "timeouts": sum(s == "timeout" for s in checked.values()),
        }
        rows.append((module, row))
        for key in totals:
            totals[key] += row[key]
        source = (ROOT / module).read_text()
        for name in survived + sorted(n for n, s in checked.items() if s == "timeout"):
            function, class_name = orig_function_and_class_names_from_key(name)
            diff = get_diff_for_mutant(name, path=module)
            # The diff numbers the lines of the function as libcst prints it, with the
            # comments and blank lines above it: line 1 is `lead` lines above the `def`.
            functions = read_functions_from_index(name, module)
            lead = 0
            if functions is not None:
                lines = cst.Module([functions[0]]).code.strip().splitlines()
                starts = ("def ", "async def ", "@")
                lead = next((i for i, t in enumerate(lines) if t.startswith(starts)), 0)
            line = function_first_line(source, function, class_name) - lead
            line += first_changed_line(diff) - 1
            status = checked[name] + (", equivalent: see below" if name in equivalent else "")
            survivors.append((module, line, name, status, diff))

    def score(killed: float, checked: float) -> str:
        return f"{100 * killed / checked:.1f} %" if checked else "not run"

    out = [
        "# Mutation testing",
        "",
        "Written by `make mutation` (benchmarks/mutation_report.py) from the results of",
        "[mutmut](https://github.com/boxed/mutmut) 3 in `mutants/`: each mutant is one small",
        "change to one function of the modules below; it is killed when one of the fast package",
        "tests that call that function fails (see `[tool.mutmut]` in pyproject.toml).",
        "A timeout (the tests ran 15x longer than on the clean code) counts as killed.",
        "*Score* is killed / checked; *score without equivalents* leaves out of the checked",
        "mutants the survivors that the last section explains as equivalent.",
        "",
        "| module | killed / checked | score | equivalent | score without equivalents "
        "| generated |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for module, row in rows:
        if row is None or not row["checked"]:
            generated = row["generated"] if row else ""
            out.append(f"| `{module}` | not run | | | | {generated} |")
            continue
        note = f" ({row['timeouts']} timeouts)" if row["timeouts"] else ""
        out.append(
            f"| `{module}` | {row['killed']} / {row['checked']}{note} "
            f"| {score(row['killed'], row['checked'])} | {row['equivalent']} "
            f"| {score(row['killed'], row['checked'] - row['equivalent'])} "
            f"| {row['generated']} |"
        )
    if totals["checked"]:
        t = totals
        out.append(
            f"| **total** | {t['killed']} / {t['checked']} | {score(t['killed'], t['checked'])} "
            f"| {t['equivalent']} | {score(t['killed'], t['checked'] - t['equivalent'])} "
            f"| {t['generated']} |"
        )
    out.append("")
    if args.seconds is not None:
        out.append(f"Run time (wall clock, `mutmut run`): {format_seconds(args.seconds)}.")
    unchecked = totals["generated"] - totals["checked"]
    if unchecked:
        out.append(
            f"{unchecked} generated mutants were not checked in this run "
            "(modules or functions left out: see the table)."
        )
    out += ["", f"## Surviving mutants ({len(survivors)})", ""]
    if not survivors:
        out.append("None.")
    for module, line, name, status, diff in survivors:
        out += [f"### `{module}:{line}` ({status})", "", f"`{name}`", ""]
        out += ["```diff", diff, "```", ""]

    if notes:
        out += ["", notes.rstrip()]
    text = "\n".join(out).rstrip() + "\n"
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
