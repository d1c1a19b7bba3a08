"""Scheduled runs published by `bodywork refresh` (Route 1), against real repositories on a real `git daemon`: one
commit per scheduled time that changes the batch stages and what follows them and nothing else, a tick already
published is a no-op, code commits keep the run, and concurrent publishers never double or lose a run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.publish import Target
from bodywork_render.gitops.refresh import Refreshed, Upstream, refresh
from bodywork_render.gitops.runs import parse_time
from bodywork_render.render.options import RenderOptions
from tests.repos import FAST, MINIMAL, Repos, bodywork, git
from tests.test_refresher_chart import plain_env, render_chart, run_container

FOLDER = "envs/default/demo"
# Modules in folders of their own (a module at the repository's root makes the whole commit its input), on a schedule
# the refresher runs: a service after the batch stage, so Route 2 does not apply.
SCHEDULED = (
    MINIMAL.replace("train.py", "train/train.py")
    .replace("serve.py", "serve/serve.py")
    .replace(
        "  DAG: train >> serve\n",
        "  DAG: train >> serve\n"
        "  schedule: {cron: '0 20 * * *', time_zone: Europe/London, starting_deadline_seconds: 3600}\n",
    )
)
FIRST_RUN = "2026-12-04T20:00:00Z"


def scheduled(repos: Repos) -> str:
    """Commit the scheduled project to the source repository; the commit."""
    return repos.commit_source(
        {"bodywork.yaml": SCHEDULED, "train/train.py": "print('train')\n", "serve/serve.py": "print('serve')\n"},
        "scheduled project",
    )


def run(repos: Repos, at: str) -> Refreshed:
    """refresh of the source's default branch into the deployment repository, as of ``at``."""
    return refresh(
        Upstream(repos.daemon.url("source")),
        Target(repos.deploy_url),
        RenderOptions(),
        at=parse_time(at, "--at"),
        retry=FAST,
    )


def files(repos: Repos) -> dict[str, str]:
    """The text of every file of the deployment branch's tip."""
    return {path: repos.show(path) for path in repos.tree()}


def runs(repos: Repos) -> list[str]:
    """The Bodywork-Run trailer of each commit that has one, newest first."""
    listed = repos.deploy_git("log", "--format=%(trailers:key=Bodywork-Run,valueonly)", "main").split()
    return [line.strip() for line in listed if line.strip()]


def metadata(repos: Repos) -> dict[str, object]:
    return dict(json.loads(repos.show(f"{FOLDER}/hydrator.metadata")))


def test_each_scheduled_time_is_one_commit_that_renews_the_batch_stage_and_what_follows_it(repos: Repos) -> None:
    source = scheduled(repos)
    first = run(repos, "2026-12-04T19:00:00Z")  # yesterday's 20:00 is 23 hours old: too late to start
    before = files(repos)
    waiting = run(repos, "2026-12-04T19:59:59Z")
    ticked = run(repos, "2026-12-04T20:04:00Z")
    after = files(repos)
    again = [run(repos, at) for at in ("2026-12-04T20:04:00Z", "2026-12-04T20:30:00Z", "2026-12-05T19:59:00Z")]
    next_day = run(repos, "2026-12-05T20:59:00Z")
    missed = run(repos, "2026-12-07T21:00:01Z")  # the 6th's 20:00 was never published, the 7th's is 1h01 old

    assert (first.status, first.run, waiting.status, waiting.published) == ("pushed", None, "up to date", None)
    assert (ticked.status, ticked.run) == ("pushed", FIRST_RUN)
    assert [(r.status, r.published, r.run) for r in again] == [("up to date", None, FIRST_RUN)] * 3
    assert (next_day.status, next_day.run) == ("pushed", "2026-12-05T20:00:00Z")
    assert (missed.status, missed.published, missed.run) == ("up to date", None, "2026-12-05T20:00:00Z")
    assert runs(repos) == ["2026-12-05T20:00:00Z", FIRST_RUN], "one commit per scheduled time"
    assert len(repos.commits()) == 3

    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    assert changed == {
        f"{FOLDER}/01-train-job.yaml",
        f"{FOLDER}/02-serve-deployment.yaml",
        f"{FOLDER}/hydrator.metadata",
        f"{FOLDER}/README.md",
    }, "the batch stage and the service after it; the Service, Ingress, ServiceAccount... are byte-identical"
    assert f"--scheduled-run {FIRST_RUN}" in after[f"{FOLDER}/README.md"]
    message = repos.commits()[1]
    assert message.splitlines()[0] == f"Scheduled run {FIRST_RUN} of demo at {source[:7]} to {FOLDER}"
    assert message.splitlines()[-4:] == [
        f"Bodywork-Run: {FIRST_RUN}",
        "Bodywork-Schedule: 0 20 * * * Europe/London",
        f"Bodywork-Source-Commit: {source}",
        f"Bodywork-Source-Repo: {repos.daemon.url('source')}",
    ]
    grep = repos.deploy_git("log", "--format=%h", f"--grep=Bodywork-Run: {FIRST_RUN}", "main")
    assert len(grep.split()) == 1


def test_a_code_commit_keeps_the_run_and_re_runs_only_what_it_changes(repos: Repos) -> None:
    scheduled(repos)
    run(repos, "2026-12-04T20:01:00Z")  # the first render of the schedule counts as the run due then
    assert runs(repos) == [FIRST_RUN]
    started = files(repos)
    serve = repos.commit_source({"serve/serve.py": "print('serve v2')\n"}, "serve v2")
    code = run(repos, "2026-12-04T21:00:00Z")
    after_serve = files(repos)
    train = repos.commit_source({"train/train.py": "print('train v2')\n"}, "train v2")
    run(repos, "2026-12-04T21:05:00Z")
    after_train = files(repos)

    assert (code.status, code.run, code.source.commit) == ("pushed", FIRST_RUN, serve)
    assert runs(repos) == [FIRST_RUN], "code commits start no run"
    job, deployment = f"{FOLDER}/01-train-job.yaml", f"{FOLDER}/02-serve-deployment.yaml"
    assert after_serve[job] == started[job], "the run's Job is kept: train does not run again"
    assert after_serve[deployment] != started[deployment]
    assert after_train[job] != started[job] and train in after_train[job]
    assert metadata(repos)["scheduledRun"] == FIRST_RUN and metadata(repos)["drySha"] == train


def test_a_run_due_with_a_new_source_commit_lands_both_as_one_commit_at_the_tip(repos: Repos) -> None:
    scheduled(repos)
    run(repos, "2026-12-04T12:00:00Z")
    newer = repos.commit_source({"train/train.py": "print('train v2')\n"}, "train v2")
    tick = run(repos, "2026-12-04T20:00:00Z")
    again = run(repos, "2026-12-04T20:06:00Z")

    assert (tick.status, tick.source.commit, tick.run) == ("pushed", newer, FIRST_RUN)
    assert f"Bodywork-Source-Commit: {newer}" in repos.commits()[0]
    assert (again.status, again.published) == ("up to date", None)
    assert runs(repos) == [FIRST_RUN] and len(repos.commits()) == 2


def test_a_run_due_at_every_refresh_does_not_hold_back_code_commits(repos: Repos) -> None:
    repos.commit_source(
        {
            "bodywork.yaml": SCHEDULED.replace("0 20 * * *", "*/5 * * * *"),
            "train/train.py": "",
            "serve/serve.py": "",
        },
        "every five minutes",
    )
    run(repos, "2026-12-04T20:00:00Z")
    code = repos.commit_source({"serve/serve.py": "print('serve v2')\n"}, "serve v2")
    ticked = run(repos, "2026-12-04T20:05:00Z")

    assert (ticked.source.commit, ticked.run) == (code, "2026-12-04T20:05:00Z")
    assert runs(repos) == ["2026-12-04T20:05:00Z", "2026-12-04T20:00:00Z"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("suspend: true", None),  # suspended at the tip: no run starts
        ("starting_deadline_seconds: 3600, suspend: false", FIRST_RUN),
    ],
)
def test_the_tip_s_schedule_decides_the_run_due(repos: Repos, change: str, expected: str | None) -> None:
    scheduled(repos)
    run(repos, "2026-12-04T12:00:00Z")
    tip = repos.commit_source(
        {"bodywork.yaml": SCHEDULED.replace("starting_deadline_seconds: 3600", change)}, "schedule changed"
    )
    ticked = run(repos, "2026-12-04T20:00:00Z")

    assert (ticked.status, ticked.source.commit, ticked.run) == ("pushed", tip, expected)
    assert runs(repos) == ([expected] if expected else [])


def test_a_cron_changed_at_the_tip_decides_the_run_due(repos: Repos) -> None:
    scheduled(repos)
    run(repos, "2026-12-04T12:00:00Z")
    repos.commit_source({"bodywork.yaml": SCHEDULED.replace("0 20 * * *", "0 18 * * *")}, "at six")
    moved = run(repos, "2026-12-04T20:00:00Z")  # 20:00 is no time of the tip's; its 18:00 is past the deadline
    ticked = run(repos, "2026-12-05T18:30:00Z")

    assert (moved.status, moved.run, ticked.run) == ("pushed", None, "2026-12-05T18:00:00Z")
    assert runs(repos) == ["2026-12-05T18:00:00Z"]


def test_a_run_due_when_the_tip_does_not_render_runs_the_deployed_commit_with_a_warning(repos: Repos) -> None:
    deployed = scheduled(repos)
    run(repos, "2026-12-04T12:00:00Z")
    repos.commit_source({"bodywork.yaml": SCHEDULED.replace("DAG: train >> serve", "DAG: train >> nothing")}, "bad")
    ticked = run(repos, "2026-12-04T20:00:00Z")

    assert ticked.published is not None and (ticked.source.commit, ticked.run) == (deployed, FIRST_RUN)
    (warning,) = [w for w in ticked.published.publication.warnings if "not at the source's tip" in w]
    assert warning.startswith(
        f"warning: scheduled run {FIRST_RUN} is published at {deployed[:7]}, which the deployment repository holds,"
    )
    assert "nothing" in warning
    with pytest.raises(BodyworkError, match="nothing"):
        run(repos, "2026-12-04T20:30:00Z")
    assert runs(repos) == [FIRST_RUN]


def test_removing_the_schedule_keeps_the_run_so_nothing_re_runs(repos: Repos) -> None:
    scheduled(repos)
    run(repos, "2026-12-04T20:00:00Z")
    started = files(repos)
    unscheduled = SCHEDULED.replace(
        "  schedule: {cron: '0 20 * * *', time_zone: Europe/London, starting_deadline_seconds: 3600}\n", ""
    )
    repos.commit_source({"bodywork.yaml": unscheduled}, "no schedule")
    removed = run(repos, "2026-12-04T21:00:00Z")
    after = files(repos)
    repos.commit_source({"serve/serve.py": "print('serve v2')\n"}, "serve v2")
    published = bodywork("publish", str(repos.project), "--to", repos.deploy_url)

    job, deployment = f"{FOLDER}/01-train-job.yaml", f"{FOLDER}/02-serve-deployment.yaml"
    assert (removed.status, removed.run, published.returncode) == ("pushed", FIRST_RUN, 0), published.stderr
    assert after[job] == started[job], "the Job keeps its name: train does not run again"
    assert after[deployment] == started[deployment], "nor does serve roll"
    assert files(repos)[job] == started[job], "publish carries the run forward too"
    assert "schedule" not in metadata(repos) and metadata(repos)["scheduledRun"] == FIRST_RUN
    assert runs(repos) == [FIRST_RUN]


def test_a_run_held_for_a_time_not_come_holds_back_no_run(repos: Repos) -> None:
    scheduled(repos)
    run(repos, "2062-12-04T20:00:00Z")  # as a --scheduled-run typed with the wrong year would
    ticked = run(repos, "2026-12-05T20:00:00Z")

    assert (ticked.status, ticked.run) == ("pushed", "2026-12-05T20:00:00Z")
    assert runs(repos) == ["2026-12-05T20:00:00Z", "2062-12-04T20:00:00Z"]


def test_a_suspended_schedule_starts_no_run(repos: Repos) -> None:
    repos.commit_source(
        {
            "bodywork.yaml": SCHEDULED.replace("starting_deadline_seconds: 3600", "suspend: true"),
            "train/train.py": "",
            "serve/serve.py": "",
        },
        "suspended",
    )
    assert run(repos, "2026-12-04T20:00:00Z").run is None
    assert run(repos, "2026-12-05T20:00:00Z").published is None
    assert runs(repos) == [] and "scheduledRun" not in metadata(repos)


def test_publish_carries_the_run_forward_or_starts_the_one_it_is_given(repos: Repos) -> None:
    scheduled(repos)
    run(repos, "2026-12-04T20:00:00Z")
    repos.commit_source({"serve/serve.py": "print('serve v2')\n"}, "serve v2")
    args = ("publish", str(repos.project), "--to", repos.deploy_url)
    carried = bodywork(*args)
    explicit = bodywork(*args, "--scheduled-run", "2026-12-01T08:00:00Z")
    same = bodywork(*args, "--scheduled-run", "2026-12-01T08:00:00Z")

    assert (carried.returncode, explicit.returncode, same.returncode) == (0, 0, 0), carried.stderr + explicit.stderr
    assert f"scheduled run {FIRST_RUN} to" in carried.stderr and "(starts it)" not in carried.stderr
    assert "scheduled run 2026-12-01T08:00:00Z (starts it) to" in explicit.stderr
    assert "up to date" in same.stderr
    assert runs(repos) == ["2026-12-01T08:00:00Z", FIRST_RUN]


def test_cli_at_and_its_errors(repos: Repos) -> None:
    scheduled(repos)
    args = ("refresh", "--source", repos.daemon.url("source"), "--to", repos.deploy_url)
    pushed = bodywork(*args, "--at", "2026-12-04T20:01:00+00:00")
    recorded = bodywork(*args, "--at", "2026-12-04T20:02:00Z")
    naive = bodywork(*args, "--at", "2026-12-04T20:02:00")

    assert (pushed.returncode, recorded.returncode, naive.returncode) == (0, 0, 1), pushed.stderr
    assert f"scheduled run {FIRST_RUN} (starts it) to {repos.deploy_url} main:{FOLDER}" in pushed.stderr
    assert f", scheduled run {FIRST_RUN}; source not fetched" in recorded.stderr
    assert "--at '2026-12-04T20:02:00': expected an ISO 8601 time with its UTC offset" in naive.stderr


def refreshers(repos: Repos, at: str, count: int) -> list[subprocess.Popen[str]]:
    """``count`` `bodywork refresh --at` processes started at once."""
    command = [sys.executable, "-m", "bodywork_render", "refresh", "--source", repos.daemon.url("source")]
    command += ["--to", repos.deploy_url, "--max-attempts", "16", "--at", at]
    return [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(count)]


@pytest.mark.slow
def test_eight_concurrent_scheduled_publishers_of_one_tick_make_one_commit(repos: Repos) -> None:
    scheduled(repos)
    run(repos, "2026-12-04T12:00:00Z")
    processes = refreshers(repos, "2026-12-04T20:00:30Z", 8)
    results = [(p.communicate(timeout=180)[1], p.returncode) for p in processes]

    assert [code for _, code in results] == [0] * 8, results
    assert runs(repos) == [FIRST_RUN]
    assert len(repos.commits()) == 2
    assert sum("(starts it)" in err for err, _ in results) == 1, results


@pytest.mark.slow
def test_a_run_racing_code_publishes_is_never_lost_nor_doubled(repos: Repos) -> None:
    scheduled(repos)
    run(repos, "2026-12-04T12:00:00Z")
    code = repos.commit_source({"serve/serve.py": "print('serve v2')\n"}, "serve v2")
    publishers = [
        subprocess.Popen(
            [sys.executable, "-m", "bodywork_render", "publish", str(repos.project), "--to", repos.deploy_url]
            + ["--max-attempts", "16"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    processes = [*refreshers(repos, "2026-12-04T20:00:30Z", 4), *publishers]
    results = [(p.communicate(timeout=180)[1], p.returncode) for p in processes]

    assert [c for _, c in results] == [0] * 8, results
    assert runs(repos) == [FIRST_RUN], "one run, never doubled"
    recorded = metadata(repos)
    assert recorded["scheduledRun"] == FIRST_RUN, "never lost, whichever landed last"
    assert recorded["drySha"] == code, "the code published by CI is what the deployment holds"
    assert git("rev-parse", "HEAD", cwd=repos.project) == code


def test_the_refresher_chart_s_command_publishes_each_scheduled_run_once(repos: Repos, tmp_path: Path) -> None:
    """The refresher CronJob's command line, as charts/bodywork-refresher renders it, run at a tick and after it."""
    scheduled(repos)
    values: dict[str, Any] = {"refresh": {"source": repos.daemon.url("source"), "to": repos.deploy_url}}

    def container(at: str) -> dict[str, Any]:
        values["refresh"]["extraArgs"] = ["--at", at]
        pod = render_chart(values)[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return dict(pod["containers"][0])

    home = tmp_path / "home"
    env = {**repos.daemon.env, **plain_env(container(FIRST_RUN), home)}
    first = [run_container(container(at), env) for at in ("2026-12-04T20:02:00Z", "2026-12-04T20:07:00Z")]
    second = run_container(container("2026-12-05T20:03:00Z"), env)

    assert [r.returncode for r in (*first, second)] == [0, 0, 0], [r.stderr for r in (*first, second)]
    assert "(starts it)" in first[0].stderr and "source not fetched" in first[1].stderr
    assert runs(repos) == ["2026-12-05T20:00:00Z", FIRST_RUN]


def test_a_run_due_when_the_deployed_commit_left_the_branch_runs_at_the_tip(repos: Repos) -> None:
    scheduled(repos)
    run(repos, "2026-12-04T12:00:00Z")
    (repos.project / "train" / "train.py").write_text("print('rewritten')\n")
    git("commit", "-q", "-a", "--amend", "-m", "rewritten history", cwd=repos.project)
    git("push", "-q", "--force", "origin", "HEAD:main", cwd=repos.project)
    tip = git("rev-parse", "HEAD", cwd=repos.project)
    ticked = run(repos, "2026-12-04T20:00:00Z")

    assert ticked.published is not None and (ticked.source.commit, ticked.run) == (tip, FIRST_RUN)
    assert runs(repos) == [FIRST_RUN]
