"""`bodywork gitops refresher|flux|argocd`: print the objects that run bodywork-render's output in a cluster.

Thin: the flags are the fields of the bootstrap options (gitops/bootstrap.py), whose YAML
goes to stdout; errors reach main.py as ``BodyworkError`` (exit 1).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, NamedTuple

from bodywork_render.cli.params import Command, Values, take
from bodywork_render.flags import Flag
from bodywork_render.gitops.bootstrap import ArgoCDOptions, FluxOptions, RefresherOptions

HELP = (
    "Print the objects that put a deployment repository to work: the in-cluster refresher, a Flux or an Argo CD"
    " bootstrap."
)


class RefresherArgs(NamedTuple):
    """What `gitops refresher` prints."""

    helm_values: Annotated[
        bool,
        Flag(
            "--helm-values",
            "Print the values of charts/bodywork-refresher that give the same objects, instead of the objects.",
        ),
    ] = False


def refresher(values: Values) -> int:
    """The in-cluster refresher as plain manifests: a ServiceAccount and a CronJob running `bodywork refresh`, as the chart renders them."""  # noqa: E501 - typer shows it as is
    from bodywork_render.gitops.bootstrap import refresher_chart_values, refresher_manifests

    options: RefresherOptions = take(RefresherOptions, values)
    if take(RefresherArgs, values).helm_values:
        sys.stdout.write(json.dumps(refresher_chart_values(options), indent=2) + "\n")
    else:
        sys.stdout.write(refresher_manifests(options).text)
    return 0


def flux(values: Values) -> int:
    """A Flux GitRepository and the Kustomization that applies the per-step Kustomizations of <path>/flux.

    <path> is a folder that `bodywork render --format kustomize --engine flux` (or `bodywork publish`) wrote: its flux/ folder holds one Kustomization per DAG step, chained by dependsOn, each with wait and prune. The Kustomization printed here applies that folder with prune (a step removed from the pipeline is deleted with its objects) and without wait (the steps wait, in order). It puts the steps in --namespace and points them at the GitRepository printed here, whatever --flux-source the render used; their paths are relative to the repository root, so render with --deploy-path <path>.
    """  # noqa: E501 - typer shows it as is
    from bodywork_render.gitops.bootstrap import flux_manifests

    manifests = flux_manifests(take(FluxOptions, values))
    sys.stdout.write(manifests.text)
    sys.stderr.writelines(warning + "\n" for warning in manifests.warnings)
    return 0


def argocd(values: Values) -> int:
    """An Argo CD Application with automated sync (prune, self-heal), CreateNamespace=true and retries with backoff.

    <path> is a folder that `bodywork render` (manifests, or kustomize with --engine argocd) or `bodywork publish` wrote; Argo CD runs its DAG steps in order by their sync waves.
    """  # noqa: E501 - typer shows it as is
    from bodywork_render.gitops.bootstrap import argocd_manifests

    sys.stdout.write(argocd_manifests(take(ArgoCDOptions, values)).text)
    return 0


COMMANDS = (
    Command("refresher", refresher, (RefresherOptions, RefresherArgs)),
    Command("flux", flux, (FluxOptions,)),
    Command("argocd", argocd, (ArgoCDOptions,)),
)
