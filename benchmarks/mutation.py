"""Mutation score of the modules that decide what is rendered, one row per module, for the benchmark table.

Runs mutmut (configured in pyproject.toml: which modules, which fast test files) module by module under
`nice -n 19`, then reads its results from mutants/. A mutant counts as killed when a test failed on it, it timed
out, or it crashed the interpreter; the score is killed / all mutants (survivors and mutants no test reaches count
against it).

    .venv/bin/python benchmarks/mutation.py            # run (mutmut reuses results of unchanged code and tests)
    .venv/bin/python benchmarks/mutation.py --fresh    # forget earlier results first (~15 min on 2 busy cores)
    .venv/bin/python benchmarks/mutation.py --report   # only print the table of the last run
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = (
    "bodywork_render/render/plan.py",
    "bodywork_render/spec/names.py",
    "bodywork_render/verify/podsecurity.py",
    "bodywork_render/spec/validate.py",
    "bodywork_render/spec/dag.py",
    "bodywork_render/render/serving.py",
    "bodywork_render/render/network.py",
    "bodywork_render/render/routes.py",
    "bodywork_render/render/scheduled.py",
    "bodywork_render/render/scheduled_run.py",
    "bodywork_render/spec/schedule.py",
    "bodywork_render/gitops/runs.py",
)
# mutmut's exit codes (mutmut.stats.status_by_exit_code) that mean the mutant was detected.
KILLED = {1, 3, 36, 37, -24, 24, 152, 255, -11, -9}
TARGET = 90.0


def run_module(module: str) -> float:
    """Run mutmut on one module's mutants; the wall time in seconds."""
    dotted = module.removesuffix(".py").replace("/", ".")
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    started = time.perf_counter()
    command = ["nice", "-n", "19", mutmut, "run", f"{dotted}.*"]
    # mutmut's progress goes to stdout, and its workers' ResourceWarnings to stderr: shown only if the run fails.
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return time.perf_counter() - started


def score(module: str) -> tuple[int, int, Counter[int]]:
    """Killed and total mutants of a module in mutmut's last results, and the count of each exit code."""
    meta = ROOT / "mutants" / f"{module}.meta"
    codes = Counter(json.loads(meta.read_text())["exit_code_by_key"].values()) if meta.is_file() else Counter()
    return sum(n for code, n in codes.items() if code in KILLED), sum(codes.values()), codes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="delete mutants/ (earlier results) before running")
    parser.add_argument("--report", action="store_true", help="do not run mutmut; print the last results")
    args = parser.parse_args(argv)
    if args.fresh and not args.report:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    print(f"{'module':40} {'killed/total':>13} {'score':>7} {'target':>7} {'time':>7}  survivors")
    all_killed = all_total = 0
    for module in MODULES:
        seconds = None if args.report else run_module(module)
        killed, total, codes = score(module)
        all_killed, all_total = all_killed + killed, all_total + total
        percent = 100.0 * killed / total if total else 0.0
        met = "ok" if percent >= TARGET else "MISSED"
        wall = "" if seconds is None else f"{seconds:6.0f}s"
        print(f"{module:40} {killed:>6}/{total:<6} {percent:6.1f}% {met:>7} {wall:>7}  {codes.get(0, 0)} survived")
    percent = 100.0 * all_killed / all_total if all_total else 0.0
    print(f"{'all':40} {all_killed:>6}/{all_total:<6} {percent:6.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
