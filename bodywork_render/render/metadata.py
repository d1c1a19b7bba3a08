"""hydrator.metadata: what every render records about its source, this tool, and how it rendered.

Renders write it (manifests.py for manifests and kustomize, chart.py for Helm); refresh
reads it back from a deployment repository to tell whether a folder already holds the
render of a source commit, and publish and refresh which scheduled run it holds and when the
next is due (gitops/refresh.py, gitops/runs.py). One type, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple

from bodywork_render import __version__
from bodywork_render.gitops.source import Source
from bodywork_render.spec.model import Schedule

if TYPE_CHECKING:
    from bodywork_render.render.options import RenderOptions

TOOL = "bodywork-render"


class HydratorMetadata(NamedTuple):
    """The source a render came from, its format and Kubernetes version, the engine (manifests and kustomize)
    or chart version (helm), the version of this tool that rendered it, and the environment whose overlay applied
    (recorded as null for none); a --track render records its branch, and no commit (drySha '').

    A pipeline whose schedule the refresher runs (Route 1) records it (what refresh needs to tell when a run is due,
    without fetching the source), and a scheduled run its run id."""

    source: Source
    format: str
    kubernetes_version: str
    engine: str | None = None
    chart_version: str | None = None
    tool_version: str = __version__
    env: str | None = None
    track: str | None = None
    schedule: Schedule | None = None
    scheduled_run: str | None = None

    @classmethod
    def of_manifests(
        cls,
        source: Source,
        options: RenderOptions,
        env: str | None = None,
        track: str | None = None,
        schedule: Schedule | None = None,
    ) -> HydratorMetadata:
        """What a render of ``source`` in the manifests or kustomize format with ``options`` (and the overlay of
        ``env``; tracking branch ``track``; Route 1's ``schedule``) records."""
        return cls(
            source,
            options.format,
            options.k8s_version,
            engine=options.engine,
            env=env,
            track=track,
            schedule=schedule,
            scheduled_run=options.scheduled_run,
        )

    def settings(self) -> HydratorMetadata:
        """What the render was made with besides the source commit and the scheduled run: two renders of one
        project with equal settings differ only by their commit and run."""
        return self._replace(source=self.source._replace(commit=""), schedule=None, scheduled_run=None)

    def text(self) -> str:
        """The file's text: a JSON object in a fixed key order, one key a line."""
        fields: dict[str, Any] = {
            "drySha": self.source.commit,
            "repoURL": self.source.repo_url,
            "projectPath": self.source.project_path,
            "tool": TOOL,
            "toolVersion": self.tool_version,
            "format": self.format,
        }
        if self.engine is not None:
            fields["engine"] = self.engine
        if self.chart_version is not None:
            fields["chartVersion"] = self.chart_version
        fields["kubernetesVersion"] = self.kubernetes_version
        fields["environment"] = self.env
        if self.track is not None:
            fields["track"] = self.track
        if self.schedule is not None:
            fields["schedule"] = {
                "cron": self.schedule.cron,
                "timeZone": self.schedule.time_zone,
                "suspend": self.schedule.suspend,
                "startingDeadlineSeconds": self.schedule.starting_deadline_seconds,
            }
        if self.scheduled_run is not None:
            fields["scheduledRun"] = self.scheduled_run
        return json.dumps(fields, indent=2) + "\n"

    @classmethod
    def read(cls, text: str | None) -> HydratorMetadata | None:
        """The metadata in a file's text; None when it is missing, not JSON, or not written by this tool."""
        try:
            data = json.loads(text) if text else None
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("tool") != TOOL:
            return None
        strings = {key: value for key, value in data.items() if isinstance(value, str)}
        required = ("drySha", "repoURL", "projectPath", "toolVersion", "format", "kubernetesVersion")
        if not all(key in strings for key in required):
            return None
        return cls(
            Source(strings["repoURL"], strings["drySha"], strings["projectPath"]),
            strings["format"],
            strings["kubernetesVersion"],
            strings.get("engine"),
            strings.get("chartVersion"),
            strings["toolVersion"],
            strings.get("environment"),
            strings.get("track"),
            _schedule(data.get("schedule")),
            strings.get("scheduledRun"),
        )


def _schedule(recorded: Any) -> Schedule | None:
    """The schedule a metadata file records (None when it records none, or not in this tool's shape)."""
    if not isinstance(recorded, dict):
        return None
    cron, zone = recorded.get("cron"), recorded.get("timeZone")
    suspend, deadline = recorded.get("suspend"), recorded.get("startingDeadlineSeconds")
    if not (isinstance(cron, str) and isinstance(zone, str) and isinstance(suspend, bool) and type(deadline) is int):
        return None
    return Schedule(cron, zone, suspend, starting_deadline_seconds=deadline)
