"""Time the course tooling: `make student`, and `make grade` for a class.

Usage: python benchmarks/grading.py [--students 30] [--jobs N]

Builds the student edition (as `make student`), then grades a class in which every
student hands in the instructor's solution notebook of every graded chapter (the slowest
case: every exercise runs to the end), and prints the wall-clock times and the scores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from vae_tutorial.course.edition import build_student_edition
from vae_tutorial.course.grading import grade_submissions

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
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
        rows = grade_submissions(subs, out / "autograder", Path(tmp) / "grades", args.jobs)
        graded = time.perf_counter() - start
        notebooks = args.students * len(chapters)
        full = sum(q.points for q in found)
        perfect = sum(r.total == full for r in rows)
        print(
            f"grading: {args.students} students x {len(chapters)} chapters = {notebooks} "
            f"notebooks with {args.jobs} jobs in {graded:.0f} s ({graded / notebooks:.1f} s "
            f"per notebook); {perfect}/{len(rows)} students got {full:g}/{full:g}"
        )


if __name__ == "__main__":
    main()
