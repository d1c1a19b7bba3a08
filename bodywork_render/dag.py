"""The DAG: parse ``a >> b, c >> d`` into ordered steps of parallel stages."""

from __future__ import annotations

import graphlib
from typing import NamedTuple


class DagName(NamedTuple):
    """One stage name as written in the DAG, with its 0-based step."""

    name: str
    step: int


def parse_dag(text: str) -> list[list[DagName]]:
    """Split a DAG text into steps of names; names are stripped, empty names kept (as '') for reporting."""
    return [[DagName(raw.strip(), number) for raw in step.split(",")] for number, step in enumerate(text.split(">>"))]


def ordered_steps(steps: list[list[str]]) -> tuple[tuple[str, ...], ...]:
    """Steps in run order, computed with graphlib: each stage depends on every stage of the step before.

    Raises graphlib.CycleError if a stage appears in two steps.
    """
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for before, step in zip([[]] + steps, steps):
        for stage in step:
            sorter.add(stage, *before)
    sorter.prepare()
    order: list[tuple[str, ...]] = []
    while sorter.is_active():
        ready = sorter.get_ready()
        order.append(tuple(sorted(ready, key=[s for step in steps for s in step].index)))
        sorter.done(*ready)
    return tuple(order)
