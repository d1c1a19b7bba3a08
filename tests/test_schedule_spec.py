"""pipeline.schedule: validation (cron as Kubernetes reads it, tz database names, limits), the model, overlays,
and the scheduled times of spec/schedule.py (latest_due, run_id), across Europe/London's clock changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.spec.load import parse_yaml
from bodywork_render.spec.model import Schedule
from bodywork_render.spec.project import load_project
from bodywork_render.spec.schedule import cron_error, latest_due, latest_tick, run_id
from bodywork_render.spec.validate import validate_document

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc

PROJECT = """\
version: "1.1"
pipeline:
  name: demo
  docker_image: python:3.12-slim
  DAG: train >> serve
{schedule}stages:
  train:
    executable_module_path: train.py
    batch:
      max_completion_time_seconds: 60
      retries: 1
  serve:
    executable_module_path: serve.py
    service:
      max_startup_time_seconds: 30
      replicas: 1
      port: 8000
      ingress: false
"""


def project(folder: Path, schedule: str = "", **overlays: str) -> Path:
    """A project folder with ``schedule`` (YAML lines under pipeline:) and overlays by environment."""
    folder.mkdir(exist_ok=True)
    (folder / "bodywork.yaml").write_text(PROJECT.format(schedule=schedule))
    (folder / "train.py").write_text("")
    (folder / "serve.py").write_text("")
    for env, text in overlays.items():
        (folder / f"bodywork.{env}.yaml").write_text(text)
    return folder


def problems(schedule: str) -> list[str]:
    """The diagnostics of bodywork.yaml with these schedule lines, as printed."""
    return [str(d) for d in validate_document(parse_yaml(PROJECT.format(schedule=schedule).encode(), "F"))]


@pytest.mark.parametrize(
    "cron",
    [
        "0 20 * * *",
        "*/15 * * * *",
        "30 2 * * MON-FRI",
        "0 0 1,15 * *",
        "0 6 * jan,jul sun",
        "5/10 * * * *",
        "0 0 ? * *",
        "0 0 * * */2",
        "0 9 * * WED",
        "0 9 * * mon,wed,fri",
        "0 9 * * 6",
        "0 9 * * 1-6",
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
        "0 0 31 2 */2",
    ],
)
def test_cron_that_kubernetes_accepts_is_valid(cron: str) -> None:
    assert cron_error(cron) is None
    assert problems(f'  schedule:\n    cron: "{cron}"\n') == []


@pytest.mark.parametrize(
    "cron,message",
    [
        ("0 0 20 * * *", "has 6 fields (expected 5: minute hour day-of-month month day-of-week)"),
        ("0 20 * *", "has 4 fields (expected 5: minute hour day-of-month month day-of-week)"),
        ("0 20", "has 2 fields (expected 5: minute hour day-of-month month day-of-week)"),
        ("20", "has 1 field (expected 5: minute hour day-of-month month day-of-week)"),
        ("@every 1h", "'@every' is not a macro Kubernetes accepts (expected one of: @yearly, @annually, @monthly,"),
        ("@reboot", "'@reboot' is not a macro Kubernetes accepts"),
        ("@DAILY", "Kubernetes reads macros in lower case only (expected '@daily')"),
        ("CRON_TZ=UTC 0 20 * * *", "a time zone inside the expression is refused by Kubernetes (expected time_zone)"),
        ("0 0 L * *", "day-of-month 'L': L, W and # are not cron as Kubernetes reads it"),
        ("0 0 15W * *", "day-of-month '15W': L, W and # are not cron as Kubernetes reads it"),
        ("0 0 * * 5L", "day-of-week '5L': L, W and # are not cron as Kubernetes reads it"),
        ("0 0 * * 1#2", "day-of-week '1#2': L, W and # are not cron as Kubernetes reads it"),
        ("0 0 * * 7", "day-of-week '7': expected 0-6 (0 is Sunday; Kubernetes refuses 7)"),
        ("0 0 * * 1-7", "day-of-week '1-7': expected 0-6"),
        ("0 0 * * 7,1", "day-of-week '7,1': expected 0-6"),
        ("0 0 * * 1,7", "day-of-week '1,7': expected 0-6"),
        ("60 * * * *", "minute '60' is not valid (expected 0-59)"),
        ("0 24 * * *", "hour '24' is not valid (expected 0-23)"),
        ("0 0 31 2 *", "day-of-month '31' is not valid (expected 1-31, on a day the months have)"),
        ("0 0 * 13 *", "month '13' is not valid (expected 1-12 or JAN-DEC)"),
        ("0 0 * * FRY", "day-of-week 'FRY' is not valid (expected 0-6 or SUN-SAT)"),
        ("0 0 5-1 * *", "day-of-month '5-1' is not valid"),
        ("*/0 * * * *", "minute '*/0' is not valid"),
    ],
)
def test_cron_that_kubernetes_refuses_is_an_error_at_its_position(cron: str, message: str) -> None:
    (found,) = problems(f'  schedule:\n    cron: "{cron}"\n')
    assert found.startswith(f"F:7:11: error: pipeline.schedule.cron: {cron!r}: {message}")


def test_time_zone_must_be_a_tz_database_name() -> None:
    assert problems("  schedule: {cron: '@daily', time_zone: Europe/London}\n") == []
    assert problems("  schedule: {cron: '@daily', time_zone: Etc/UTC}\n") == []
    for zone, hint in [
        ("europe/london", "did you mean 'Europe/London'? "),
        ("EUROPE/LONDON", "did you mean 'Europe/London'? "),
        ("Europe/Londn", "did you mean 'Europe/London'? "),
        ("localtime", ""),
        ("Mars/Olympus_Mons", ""),
    ]:
        assert problems(f"  schedule: {{cron: '@daily', time_zone: {zone}}}\n") == [
            f"F:6:41: error: pipeline.schedule.time_zone: {zone!r} is not a time zone of the tz database "
            f"({hint}expected an IANA name such as 'Europe/London')"
        ]


def test_every_schedule_error_at_once_with_positions() -> None:
    found = problems(
        "  schedule:\n"
        "    cron: 0 20 * * 7\n"
        "    time_zone: Nowhere\n"
        "    concurrency_policy: skip\n"
        "    successful_runs_history_limit: -1\n"
        "    failed_runs_history_limit: 1000\n"
        "    starting_deadline_seconds: 0\n"
        "    suspend: 'yes'\n"
    )
    assert found == [
        "F:7:11: error: pipeline.schedule.cron: '0 20 * * 7': day-of-week '7': expected 0-6 (0 is Sunday;"
        " Kubernetes refuses 7)",
        "F:8:16: error: pipeline.schedule.time_zone: 'Nowhere' is not a time zone of the tz database (expected an"
        " IANA name such as 'Europe/London')",
        "F:9:25: error: pipeline.schedule.concurrency_policy: expected one of 'forbid', 'replace', 'allow', got the"
        " string 'skip'",
        "F:10:36: error: pipeline.schedule.successful_runs_history_limit: -1 is out of range (expected at least 0)",
        "F:11:32: error: pipeline.schedule.failed_runs_history_limit: 1000 is out of range (expected at most 100)",
        "F:12:32: error: pipeline.schedule.starting_deadline_seconds: 0 is out of range (expected at least 10)",
        "F:13:14: error: pipeline.schedule.suspend: expected a boolean (true or false), got the string 'yes': 'yes'"
        " is a YAML 1.1 boolean, which YAML 1.2 and bodywork-render read as a string; write true",
    ]


def test_cron_is_required() -> None:
    assert problems("  schedule: {time_zone: Europe/London}\n") == [
        "F:6:3: error: pipeline.schedule: missing required field 'cron'"
    ]


def test_the_model_applies_the_defaults(tmp_path: Path) -> None:
    assert load_project(project(tmp_path / "p")).pipeline.schedule is None
    pipeline = load_project(project(tmp_path / "q", "  schedule: {cron: '0 20 * * *'}\n")).pipeline
    assert pipeline.schedule == Schedule(
        cron="0 20 * * *",
        time_zone="Etc/UTC",
        suspend=False,
        concurrency_policy="forbid",
        successful_runs_history_limit=3,
        failed_runs_history_limit=1,
        starting_deadline_seconds=3600,
    )


def test_version_1_0_takes_a_schedule_under_project(tmp_path: Path) -> None:
    text = PROJECT.format(schedule="  schedule: {cron: '@weekly', time_zone: Asia/Tokyo}\n")
    folder = project(tmp_path / "p")
    (folder / "bodywork.yaml").write_text(text.replace('"1.1"', '"1.0"').replace("pipeline:", "project:"))
    assert load_project(folder).pipeline.schedule == Schedule(cron="@weekly", time_zone="Asia/Tokyo")


def test_overlays_change_the_schedule_field_by_field_per_environment(tmp_path: Path) -> None:
    folder = project(
        tmp_path / "p",
        "  schedule: {cron: '0 20 * * *', time_zone: Europe/London, successful_runs_history_limit: 5}\n",
        staging="pipeline:\n  schedule: {cron: '0 6 * * MON'}\n",
        dev="pipeline:\n  schedule: {suspend: true}\n",
    )
    base = Schedule(cron="0 20 * * *", time_zone="Europe/London", successful_runs_history_limit=5)
    assert load_project(folder).pipeline.schedule == base
    assert load_project(folder, "staging").pipeline.schedule == Schedule(
        cron="0 6 * * MON", time_zone="Europe/London", successful_runs_history_limit=5
    )
    assert load_project(folder, "dev").pipeline.schedule == Schedule(
        cron="0 20 * * *", time_zone="Europe/London", successful_runs_history_limit=5, suspend=True
    )


def test_an_overlay_sets_a_schedule_the_base_file_lacks_only_with_a_cron(tmp_path: Path) -> None:
    folder = project(
        tmp_path / "p",
        prod="pipeline:\n  schedule: {cron: '@daily', concurrency_policy: replace}\n",
        dev="pipeline:\n  schedule:\n    suspend: true\n    time_zone: Europe/Berlin\n",
    )
    assert load_project(folder, "prod").pipeline.schedule == Schedule(cron="@daily", concurrency_policy="replace")
    with pytest.raises(BodyworkError) as caught:
        load_project(folder, "dev")
    overlay = str(folder / "bodywork.dev.yaml")
    assert [str(d).replace(overlay, "O") for d in caught.value.diagnostics] == [
        "O:2:3: error: pipeline.schedule: bodywork.yaml has no schedule to change, so this one needs cron"
    ]


def test_an_overlay_schedule_is_checked_like_the_base_files(tmp_path: Path) -> None:
    folder = project(
        tmp_path / "p",
        "  schedule: {cron: '@daily'}\n",
        prod="pipeline:\n  schedule:\n    cron: '@every 5m'\n    time_zone: UTC+1\n    failed_runs_history_limit: -2\n",
    )
    with pytest.raises(BodyworkError) as caught:
        load_project(folder, "prod")
    overlay = str(folder / "bodywork.prod.yaml")
    assert [str(d).replace(overlay, "O") for d in caught.value.diagnostics] == [
        "O:3:11: error: pipeline.schedule.cron: '@every 5m': '@every' is not a macro Kubernetes accepts (expected"
        " one of: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)",
        "O:4:16: error: pipeline.schedule.time_zone: 'UTC+1' is not a time zone of the tz database (did you mean"
        " 'UTC'? expected an IANA name such as 'Europe/London')",
        "O:5:32: error: pipeline.schedule.failed_runs_history_limit: -2 is out of range (expected at least 0)",
    ]


# --- scheduled times ---


def at(text: str, zone: ZoneInfo | timezone = UTC) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def test_latest_due_is_the_newest_tick_at_or_before_now_in_the_schedules_zone() -> None:
    nightly = Schedule(cron="0 20 * * *", time_zone="Europe/London")
    # 20:00 in London is 20:00 UTC in winter
    assert latest_due(nightly, at("2026-12-04T20:00:00")) == at("2026-12-04T20:00:00", LONDON)
    assert latest_due(nightly, at("2026-12-04T20:59:59.5")) == at("2026-12-04T20:00:00", LONDON)
    assert latest_due(nightly, at("2026-12-04T19:59:59")) is None, "yesterday's is past the 1 h deadline"
    # and 19:00 UTC in summer
    summer = latest_due(nightly, at("2026-07-01T19:30:00"))
    assert summer == at("2026-07-01T20:00:00", LONDON) and run_id(summer) == "2026-07-01T19:00:00Z"
    tick = latest_due(nightly, at("2026-12-04T20:10:00"))
    assert tick is not None and tick.tzinfo == LONDON


def test_the_deadline_bounds_how_late_a_tick_is_still_due() -> None:
    lenient = Schedule(cron="0 20 * * *", starting_deadline_seconds=86400)
    assert latest_due(lenient, at("2026-12-05T19:59:00")) == at("2026-12-04T20:00:00", ZoneInfo("Etc/UTC"))
    strict = Schedule(cron="*/5 * * * *", starting_deadline_seconds=60)
    assert latest_due(strict, at("2026-12-04T10:06:00")) == at("2026-12-04T10:05:00", ZoneInfo("Etc/UTC"))
    assert latest_due(strict, at("2026-12-04T10:06:01")) is None


@pytest.mark.parametrize(
    "cron,days",
    [
        # robfig reads day-of-week N/step as N-6/step: no Sunday (cronsim alone reads up to 7, Sunday again)
        ("0 0 * * 1/2", "01-02 01-05 01-07 01-09 01-12 01-14"),
        ("0 0 * * SAT/1", "01-03 01-10 01-17 01-24 01-31 02-07"),
        ("0 0 * * 5/2", "01-02 01-09 01-16 01-23 01-30 02-06"),
        ("0 0 * * 1-5/2", "01-02 01-05 01-07 01-09 01-12 01-14"),  # a range with a step stays as it is
        ("0 0 1-9/4 * 2-4/2", "01-05 01-06 01-08 01-09 01-13 01-15"),
        # */2 is no star: day-of-month OR day-of-week (cronsim alone ANDs them)
        ("0 20 1 * */2", "01-01 01-03 01-04 01-06 01-08 01-10"),
        ("0 0 31 2 */2", "02-01 02-03 02-05 02-07 02-08 02-10"),
        ("0 0 ?/2 * 1", "01-03 01-05 01-07 01-09 01-11 01-12"),
        ("0 0 10/5 * */3", "01-03 01-04 01-07 01-10 01-11 01-14"),
        # a term * or */1 makes the field a star: AND (cronsim alone ORs when the field does not start with *)
        ("0 0 1,* * MON", "01-05 01-12 01-19 01-26 02-02 02-09"),
        ("0 0 */1 * 1", "01-05 01-12 01-19 01-26 02-02 02-09"),
        ("0 0 */2 * *", "01-03 01-05 01-07 01-09 01-11 01-13"),
    ],
)
def test_the_day_fields_tick_as_robfig_cron_reads_them(cron: str, days: str) -> None:
    """The days of the first six times after 2026-01-01T00:00Z, as robfig/cron v3.0.1 (Kubernetes' parser) gives
    them, found backwards from the last as refresh finds them."""
    assert cron_error(cron) is None
    schedule = Schedule(cron=cron)
    found: list[str] = []
    moment = at(f"2026-{days.split()[-1]}T23:59:59")
    while len(found) < 6 and (tick := latest_tick(schedule, moment)) is not None:
        found.insert(0, tick.strftime("%m-%d"))
        moment = tick - timedelta(seconds=1)
    assert found == days.split()


def test_macros_tick_as_their_five_fields() -> None:
    weekly = Schedule(cron="@weekly", starting_deadline_seconds=7 * 86400)
    assert latest_due(weekly, at("2026-12-04T12:00:00")) == at("2026-11-29T00:00:00", ZoneInfo("Etc/UTC"))


def test_spring_forward_a_skipped_time_of_day_runs_at_the_first_time_after_it() -> None:
    # 2026-03-29: London's clocks go from 01:00 GMT to 02:00 BST; 01:30 does not exist that day.
    at_0130 = Schedule(cron="30 1 * * *", time_zone="Europe/London")
    tick = latest_due(at_0130, at("2026-03-29T01:10:00"))  # 02:10 BST
    assert tick == at("2026-03-29T02:00:00", LONDON) and tick.astimezone(UTC) == at("2026-03-29T01:00:00")
    assert latest_due(at_0130, at("2026-03-30T00:30:00")) == at("2026-03-30T01:30:00", LONDON)  # 01:30 BST
    # 20:00 is 20:00 GMT the day before, 19:00 UTC the day of the change
    nightly = Schedule(cron="0 20 * * *", time_zone="Europe/London")
    assert latest_due(nightly, at("2026-03-28T20:00:00")) == at("2026-03-28T20:00:00", LONDON)
    assert run_id(latest_due(nightly, at("2026-03-29T19:00:00"))) == "2026-03-29T19:00:00Z"  # type: ignore[arg-type]


def test_fall_back_a_repeated_time_of_day_runs_once() -> None:
    # 2026-10-25: London's clocks go from 02:00 BST back to 01:00 GMT; 01:30 happens twice.
    at_0130 = Schedule(cron="30 1 * * *", time_zone="Europe/London", starting_deadline_seconds=7200)
    first = latest_due(at_0130, at("2026-10-25T00:40:00"))  # 01:40 BST
    assert first is not None and run_id(first) == "2026-10-25T00:30:00Z"
    second = latest_due(at_0130, at("2026-10-25T01:40:00"))  # 01:40 GMT: still the first 01:30
    assert second is not None and run_id(second) == "2026-10-25T00:30:00Z"


def test_hourly_schedules_follow_the_clock_through_both_changes() -> None:
    hourly = Schedule(cron="0 * * * *", time_zone="Europe/London")
    ticks = {run_id(latest_due(hourly, at(f"2026-10-25T{hour:02}:30:00")) or at("1970-01-01")) for hour in range(4)}
    assert ticks == {f"2026-10-25T{hour:02}:00:00Z" for hour in range(4)}, "the repeated hour runs twice"
    ticks = {run_id(latest_due(hourly, at(f"2026-03-29T{hour:02}:30:00")) or at("1970-01-01")) for hour in range(4)}
    assert ticks == {f"2026-03-29T{hour:02}:00:00Z" for hour in range(4)}


def test_run_id_is_utc_to_the_second() -> None:
    assert run_id(at("2026-12-04T20:00:00", LONDON)) == "2026-12-04T20:00:00Z"
    assert run_id(at("2026-07-04T20:00:00", LONDON)) == "2026-07-04T19:00:00Z"
    assert run_id(at("2026-07-04T20:00:00.75", ZoneInfo("Asia/Kolkata"))) == "2026-07-04T14:30:00Z"


def test_run_id_is_utc_whatever_the_machines_time_zone(new_york_local_time: None) -> None:
    # The refresher runs wherever it is installed: its ids must not follow the local zone (TZ) of its machine.
    assert run_id(at("2026-12-04T20:00:00", LONDON)) == "2026-12-04T20:00:00Z"
    assert run_id(at("2026-07-04T20:00:00", LONDON)) == "2026-07-04T19:00:00Z"


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match=r"^now must be an aware datetime$"):
        latest_due(Schedule(cron="@daily"), datetime(2026, 12, 4))
