"""Time the course tooling: `make student`, and `make grade` for a class, sandbox on.

Usage: python benchmarks/grading.py [--students 30] [--jobs N] [--class-size 200]

Builds the student edition (as `make student`), then grades a generated class in which
every student hands in the instructor's solution notebook of every graded chapter (the
slowest case: every exercise runs to the end), each question in its own confined process
(`vae_tutorial/course/sandbox.py`). Prints the isolation in force, the seconds per
question (each one's own wall time, and the class's wall time per question), per
submitted notebook and per student, the scores, and the wall time a class of
`--class-size` students would take on this machine at the measured rate.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from vae_tutorial.course import grading
from vae_tutorial.course.edition import build_student_edition
from vae_tutorial.course.sandbox import isolation

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--class-size", type=int, default=200)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {}
    run_question = grading.run_question

    def timed(notebook, question, *rest):  # each question's own wall time, by name
        start = time.perf_counter()
        result = run_question(notebook, question, *rest)
        seconds.setdefault(question, []).append(time.perf_counter() - start)
        return result

    grading.run_question = timed
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "student"
        start = time.perf_counter()
        found = build_student_edition(ROOT / "book", out)
        built = time.perf_counter() - start
        chapters = sorted({q.chapter for q in found})
        print(f"student edition: {len(chapters)} graded chapters, {len(found)} questions, "
              f"{built:.1f} s")  # fmt: skip
        subs = Path(tmp) / "submissions"
        for i in range(args.students):
            (subs / f"student{i:02d}").mkdir(parents=True)
            for chapter in chapters:
                shutil.copy(out / "solutions" / f"{chapter}.ipynb", subs / f"student{i:02d}")
        start = time.perf_counter()
        rows = grading.grade_submissions(subs, out / "autograder", Path(tmp) / "grades", args.jobs)
        wall = time.perf_counter() - start
    notebooks = args.students * len(chapters)
    runs = sum(len(v) for v in seconds.values())
    full = sum(q.points for q in found)
    perfect = sum(r.total == full for r in rows)
    print(f"isolation: {isolation()}; {args.jobs} questions at once")
    every = [t for times in seconds.values() for t in times]
    print(f"grading: {args.students} students x {len(chapters)} chapters = {notebooks} "
          f"notebooks, {runs} questions, in {wall:.0f} s; {perfect}/{len(rows)} students got "
          f"{full:g}/{full:g}")  # fmt: skip
    print(f"per question: {statistics.mean(every):.1f} s of its own wall time (median "
          f"{statistics.median(every):.1f} s), {wall / runs:.2f} s of the class's wall "
          "time")  # fmt: skip
    for question, times in sorted(seconds.items()):
        print(f"  {question:<28}{statistics.mean(times):6.1f} s")
    print(f"per notebook: {wall / notebooks:.1f} s; per student (all chapters): "
          f"{wall / args.students:.1f} s")  # fmt: skip
    estimate = wall / args.students * args.class_size
    print(f"a class of {args.class_size} students, all graded chapters: {estimate / 60:.0f} min "
          f"({estimate / 3600:.1f} h) on this machine")  # fmt: skip


if __name__ == "__main__":
    main()
