"""DAG rules: the text splits into steps of stripped names, and steps run in the order written."""

from __future__ import annotations

import graphlib

import pytest

from bodywork_render.spec.dag import ordered_steps, parse_dag


def test_parse_splits_steps_on_double_angle_and_stages_on_commas() -> None:
    assert parse_dag("a >> b, c >> d") == [["a"], ["b", "c"], ["d"]]
    assert parse_dag("  solo  ") == [["solo"]]


def test_parse_keeps_empty_names_for_reporting() -> None:
    assert parse_dag("a,,b >> ") == [["a", "", "b"], [""]]


def test_steps_run_in_the_written_order_with_parallel_stages_in_written_order() -> None:
    assert ordered_steps([["prep"], ["train", "eval"], ["serve"]]) == (("prep",), ("train", "eval"), ("serve",))
    assert ordered_steps([["zeta", "alpha"]]) == (("zeta", "alpha"),)
    assert ordered_steps([]) == ()


def test_a_stage_in_two_steps_is_a_cycle() -> None:
    with pytest.raises(graphlib.CycleError):
        ordered_steps([["a"], ["b"], ["a"]])
