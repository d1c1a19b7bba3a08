"""Source: the git repository and pinned commit that every workload runs.

Defaults come from the project's own git checkout (origin URL, HEAD); a branch or
tag given as ``ref`` is resolved to the full commit SHA when the checkout has it.
URLs are redacted (no credentials) wherever they are shown or written, and checked: the
pods must be able to fetch them (repo_url.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.redact import redact_url

if TYPE_CHECKING:
    from bodywork_render.gitops.git import Checkout
    from bodywork_render.render.options import RenderOptions

FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


class Source(NamedTuple):
    """Where the stage code comes from: a repository URL (credential-free), a full commit SHA, and the
    project's folder inside the repository ('' at its root), which module paths are relative to."""

    repo_url: str
    commit: str
    project_path: str = ""

    @property
    def short_commit(self) -> str:
        """The first 7 characters of the commit, as git shows it."""
        return self.commit[:7]


def resolve_source(
    project_dir: Path | None,
    repo_url: str | None,
    ref: str | None,
    options: RenderOptions,
    head: Checkout | None = None,
) -> Source:
    """The Source for a render: flags win, the project's git checkout fills the gaps; BodyworkError when a cluster
    cannot fetch the repository URL with ``options`` (gitops/repo_url.py). ``head`` is the checkout and its HEAD when
    the caller asked git already (git.head_status), for a render of HEAD (no ``ref``)."""
    from bodywork_render.gitops import git
    from bodywork_render.gitops.repo_url import check_repo_url

    given_as = "--repo-url" if repo_url is not None else "the checkout's origin"
    found = None
    if project_dir is not None and (repo_url is None or ref is None or not FULL_SHA.match(ref)):
        try:
            found = head if head is not None and ref is None else git.checkout(project_dir, ref or "HEAD")
            if repo_url is None and found is not None:
                repo_url = git.origin_url(found.root)
        except git.GitError as exc:
            raise BodyworkError(f"{exc}: install it, or give --repo-url URL and a full commit SHA as --ref") from None
    commit = _commit(found, ref)
    if not repo_url or not commit:
        missing = " and ".join(
            flag for flag, value in (("--repo-url URL", repo_url), ("--ref SHA", commit)) if not value
        )
        raise BodyworkError(
            f"cannot tell which repository and commit the stages run: give {missing}"
            " (or render from a git checkout with an 'origin' remote)"
        )
    check_repo_url(repo_url, given_as, options)
    return Source(redact_url(repo_url), commit, git.path_in_work_tree(project_dir) if project_dir is not None else "")


def _commit(found: Checkout | None, ref: str | None) -> str | None:
    """The full SHA ``ref`` (default HEAD) names: itself when it is one, else as the checkout ``found`` resolved it."""
    if ref is not None and FULL_SHA.match(ref.lower()):
        return ref.lower()
    if found is None:
        if ref is not None:
            raise BodyworkError(f"--ref {ref!r} is not a full commit SHA and there is no git checkout to resolve it in")
        return None
    if found.commit is None:
        raise BodyworkError(f"--ref {ref or 'HEAD'!r} does not name a commit in {found.root}")
    return found.commit


def with_deploy_path(options: RenderOptions, out: Path) -> tuple[RenderOptions, tuple[str, ...]]:
    """Options given no --deploy-path, completed with the Flux path of the output folder ``out`` of a format with
    Flux Kustomizations (its path in its git work tree, ``./a/b``; outside any checkout a guess, its name), and the
    warning that states a guess."""
    from bodywork_render.gitops import git
    from bodywork_render.render.options import FLUX_PATH_FORMATS

    if options.format not in FLUX_PATH_FORMATS:
        return options, ()
    if git.work_tree(out) is not None:
        return options._replace(deploy_path=f"./{git.path_in_work_tree(out)}".rstrip("/") or "./"), ()
    guess = f"./{out.absolute().name}"
    warnings = (
        f"warning: --deploy-path {guess} is a guess: --out {out} is in no git checkout, so the Flux Kustomizations"
        f" take {guess} for its folder in the deployment repository; give --deploy-path with its path there",
    )
    return options._replace(deploy_path=guess), warnings if options.engine == "flux" else ()
