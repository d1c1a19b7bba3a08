"""The DAG: parse ``a >> b, c >> d`` into ordered steps of parallel stages."""

from __future__ import annotations


def parse_dag(text: str) -> list[list[str]]:
    """Split a DAG text into steps of names; names are stripped, empty names kept (as '') for reporting."""
    return [[raw.strip() for raw in step.split(",")] for step in text.split(">>")]


def ordered_steps(steps: list[list[str]]) -> tuple[tuple[str, ...], ...]:
    """Steps in run order, computed with graphlib: each stage depends on every stage of the step before.

    Raises graphlib.CycleError if a stage appears in two steps.
    """
    import graphlib  # not for `bodywork validate`, which only parses the DAG

    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for before, step in zip([[]] + steps, steps, strict=False):
        for stage in step:
            sorter.add(stage, *before)
    sorter.prepare()
    order: list[tuple[str, ...]] = []
    while sorter.is_active():
        ready = sorter.get_ready()
        order.append(tuple(sorted(ready, key=[s for step in steps for s in step].index)))
        sorter.done(*ready)
    return tuple(order)
