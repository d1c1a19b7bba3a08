"""The benchmark table: each figure a median over repeated runs, compared with a baseline from the same run.

Run with `make bench` (or `.venv/bin/python benchmarks/run.py [--repeats N]`). Prints one
row per figure with its target and whether it is met; exits 0 either way (it measures,
it does not gate CI).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.mutation import MODULES  # noqa: E402
from benchmarks.mutation import TARGET as MUTATION_TARGET  # noqa: E402
from benchmarks.mutation import score as mutation_score  # noqa: E402
from benchmarks.synthetic import write_project  # noqa: E402

EXAMPLE = ROOT / "examples" / "train-and-serve"
SOURCE = ["--repo-url", "https://github.com/acme/ml.git", "--ref", "0123456789abcdef0123456789abcdef01234567"]
BODYWORK = [str(Path(sys.executable).with_name("bodywork"))]  # the console script, as users and pre-commit run it


Command = list[str] | tuple[list[str], dict[str, str]] | tuple[list[str], dict[str, str], Path]


def median_wall(commands: list[Command], repeats: int, env: dict[str, str] | None = None) -> list[float]:
    """Median wall time of each command, run interleaved so that load affects them alike.

    A command is its argv, or (argv, variables added to ``env`` for it[, the folder it runs in]);
    ``env`` defaults to ours.
    """
    times: list[list[float]] = [[] for _ in commands]
    runs = [
        (argv, {**(env or os.environ), **extra}, folder)
        for argv, extra, folder in (
            (c, {}, None) if isinstance(c, list) else (c[0], c[1], c[2] if len(c) == 3 else None) for c in commands
        )
    ]
    for _ in range(repeats):
        for index, (argv, variables, folder) in enumerate(runs):
            started = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=False, env=variables, cwd=folder)
            times[index].append(time.perf_counter() - started)
    return [statistics.median(t) for t in times]


def hook_checkout(scratch: Path) -> tuple[Path, list[str]]:
    """A git checkout of the example with its output rendered, and the hook's `render --check` command line.

    pre-commit runs `bodywork render --check` with the hook's args, from the checkout's root,
    without --ref: the render resolves HEAD and origin itself, as a user's commit would.
    """
    import shutil

    checkout = scratch / "checkout"
    shutil.copytree(EXAMPLE, checkout)
    identity = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid"}
    env = {**os.environ, **identity, "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
    for command in (
        ["init", "-q", "-b", "main"],
        ["remote", "add", "origin", SOURCE[1]],
        ["add", "-A"],
        ["commit", "-q", "-m", "example"],
    ):
        subprocess.run(["git", *command], cwd=checkout, check=True, capture_output=True, env=env)
    out = ["--out", "deploy/manifests"]
    subprocess.run([*BODYWORK, "render", ".", *out], cwd=checkout, check=True, capture_output=True)
    check = [*BODYWORK, "render", "--check", ".", *out]  # entry + args of .pre-commit-hooks.yaml, as the README shows
    assert subprocess.run(check, cwd=checkout, capture_output=True).returncode == 0, "the committed output is current"
    return checkout, check


def in_process_render(project: Path, out: Path) -> dict[str, float]:
    """Seconds and peak RSS (MB) of validate + render + check + write of a project, in a fresh process."""
    code = (
        "import json, resource, sys, time\n"
        "from pathlib import Path\n"
        "from bodywork_render.render.options import RenderOptions\n"
        "from bodywork_render.render.manifests import render_project\n"
        "from bodywork_render.render.write import write_tree\n"
        "started = time.perf_counter()\n"
        f"rendered = render_project(Path({str(project)!r}), RenderOptions(),"
        f" repo_url={SOURCE[1]!r}, ref={SOURCE[3]!r})\n"
        f"write_tree(Path({str(out)!r}), rendered.files)\n"
        "seconds = time.perf_counter() - started\n"
        "peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps({'seconds': seconds, 'objects': len(rendered.objects), 'peak_mb': peak_mb}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(result.stdout)


def refresh_noop(scratch: Path, repeats: int) -> tuple[float, float]:
    """Median wall time of `bodywork refresh` when the source has not moved, and of `python -c pass`, over git
    daemon."""
    import shutil

    from tests.gitdaemon import GitDaemon

    with GitDaemon(scratch / "repos") as daemon:
        daemon.create_bare("source")
        daemon.create_bare("deploy")
        work = scratch / "source-work"
        shutil.copytree(EXAMPLE, work)
        identity = {
            f"GIT_{who}_{what}": value
            for who in ("AUTHOR", "COMMITTER")
            for what, value in (("NAME", "bench"), ("EMAIL", "bench@example.invalid"))
        }
        env = {**daemon.env, **identity}
        for command in (
            ["init", "-q", "-b", "main"],
            ["add", "-A"],
            ["commit", "-q", "-m", "example"],
            ["push", "-q", daemon.url("source"), "main"],
        ):
            subprocess.run(["git", *command], cwd=work, check=True, capture_output=True, env=env)
        command = [
            *BODYWORK,
            "refresh",
            "--source",
            daemon.url("source"),
            "--to",
            daemon.url("deploy"),
            "--path",
            "envs/bench/example",
        ]
        subprocess.run(command, check=True, capture_output=True, env=env)
        noop, bare = median_wall([command, [sys.executable, "-c", "pass"]], repeats)
    return noop, bare


def chart_vs_helm(project: Path, out: Path, repeats: int) -> tuple[float, float]:
    """Median seconds of rendering the project's chart, and of `helm template` of that chart with the Helm SDK."""
    from bodywork_render.render.chart import render_chart
    from bodywork_render.render.options import RenderOptions
    from bodywork_render.render.write import write_tree
    from tests.helmsdk import template

    def render() -> None:
        rendered = render_chart(project, RenderOptions(), repo_url=SOURCE[1], ref=SOURCE[3])
        write_tree(out, rendered.files)

    ours = _median_seconds(render, repeats)
    helm = _median_seconds(lambda: template(out, release="synthetic", namespace="synthetic"), repeats)
    return ours, helm


def _median_seconds(action: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Measure every figure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str, str]] = []
    # As installed from a wheel: pip compiles the bytecode at install time, an editable
    # checkout under PYTHONDONTWRITEBYTECODE=1 would compile the package on every start.
    compileall.compile_dir(ROOT / "bodywork_render", quiet=1)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        render = [*BODYWORK, "render", str(EXAMPLE), "--out", str(tmp / "example"), *SOURCE]
        checkout, render_check = hook_checkout(tmp)
        # pre-commit passes the staged file names that match the hook's `files`, from the repository root
        validate_files = [*BODYWORK, "validate", "bodywork.yaml"]
        bare, validate, hook_check, warm, cold, yaml_floor, render_floor = median_wall(
            [
                [sys.executable, "-c", "pass"],
                (validate_files, {}, checkout),
                (render_check, {}, checkout),
                render,
                (render, {"BODYWORK_NO_CACHE": "1"}),
                [sys.executable, "-c", "import yaml"],
                [sys.executable, "-c", "import jinja2, yaml"],
            ],
            args.repeats,
            env={**os.environ, "XDG_CACHE_HOME": str(tmp / "cache")},
        )
        # The figures below measure the work itself: no compiled template or verified object is reused.
        os.environ["BODYWORK_NO_CACHE"] = "1"

        def ratio(seconds: float) -> str:
            return f"{seconds * 1000:.0f} ms = {seconds / bare:.1f}x python -c pass"

        rows.append(("hook: bodywork validate bodywork.yaml", ratio(validate), "<= 5x", _met(validate / bare <= 5)))
        rows.append(("  floor: import yaml", ratio(yaml_floor), "report", "-"))
        rows.append(
            ("hook: bodywork render --check . --out ...", ratio(hook_check), "<= 10x", _met(hook_check / bare <= 10))
        )
        rows.append(("render the example (process)", ratio(warm), "<= 10x", _met(warm / bare <= 10)))
        rows.append(("  with no caches (BODYWORK_NO_CACHE=1)", ratio(cold), "report", "-"))
        rows.append(("  floor: import jinja2, yaml", ratio(render_floor), "report", "-"))

        runs = {
            n: [in_process_render(write_project(tmp / f"p{n}", n), tmp / f"out{n}-{i}") for i in range(3)]
            for n in (100, 1000)
        }
        big = statistics.median(r["seconds"] for r in runs[1000])
        small = statistics.median(r["seconds"] for r in runs[100])
        peak = max(r["peak_mb"] for r in runs[1000])
        objects = runs[1000][0]["objects"]
        rows.append(
            (
                "render + validate 1,000 stages",
                f"{big:.2f} s, {objects} objects, peak {peak:.0f} MB",
                "< 3 s, < 300 MB",
                _met(big < 3 and peak < 300),
            )
        )
        rows.append(("scaling 1,000 vs 100 stages", f"{big / small:.1f}x", "<= 12x", _met(big / small <= 12)))

        from benchmarks.bench_check import measure

        check = measure(3000, 60, 5)
        speedup = check["per_baseline"] / check["per_check_sample"]
        rows.append(
            (
                "output validation per object",
                f"{check['per_check_sample'] * 1e6:.0f} us vs {check['per_baseline'] * 1e3:.1f} ms"
                f" = {speedup:.0f}x faster",
                ">= 10x faster",
                _met(speedup >= 10),
            )
        )

        chart_seconds, helm_seconds = chart_vs_helm(
            write_project(tmp / "chart1000", 1000), tmp / "chart", args.repeats // 5 or 1
        )
        rows.append(
            (
                "chart render, 1,000 stages",
                f"{chart_seconds:.2f} s vs helm template {helm_seconds:.2f} s = {chart_seconds / helm_seconds:.2f}x",
                "report",
                "-",
            )
        )

        noop, _ = refresh_noop(tmp, args.repeats)
        rows.append(("refresh, source unchanged", f"{noop:.2f} s, no clone of the source", "< 1 s", _met(noop < 1)))

    rows += mutation_rows()

    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'measured':<45}  {'target':<16}  met")
    for figure, measured, target, met in rows:
        print(f"{figure:<{width}}  {measured:<45}  {target:<16}  {met}")
    return 0


def mutation_rows() -> list[tuple[str, str, str, str]]:
    """The mutation score of each module that decides what is rendered, from mutmut's last run (`make mutation`)."""
    rows = []
    for module in MODULES:
        killed, total, _ = mutation_score(module)
        if not total:
            return [("mutation score", "no mutmut results: run `make mutation`", f">= {MUTATION_TARGET:.0f}%", "-")]
        percent = 100.0 * killed / total
        name = f"mutants killed: {module.removeprefix('bodywork_render/')}"
        met = _met(percent >= MUTATION_TARGET)
        rows.append((name, f"{killed}/{total} = {percent:.1f}%", f">= {MUTATION_TARGET:.0f}%", met))
    return rows


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


if __name__ == "__main__":
    sys.exit(main())
