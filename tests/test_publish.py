"""`bodywork publish` against real bare repositories served by `git daemon` on 127.0.0.1.

The source project is a real git checkout whose origin is on the daemon; the
deployment repository is another bare repository there (the ``repos`` fixture; its
helpers in tests/repos.py are shared with test_refresh.py).
"""

from __future__ import annotations

import base64
import getpass
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.gitops.git import GitError, Workspace, git_environment
from bodywork_render.gitops.publish import CommitSettings, Published, Retry, Target, land, prepare, sync
from bodywork_render.render.options import RenderOptions
from tests.gitdaemon import free_port
from tests.repos import FAST, MINIMAL, Repos, bodywork, git

SECRET = "s3cret-Tok3n"


def publish(repos: Repos, settings: CommitSettings = CommitSettings(), **target: str) -> Published:
    """Render the repos' project and land it in the deployment repository, with fast retries."""
    destination = Target(repos.deploy_url, **target)
    return land(prepare(repos.project, RenderOptions(), destination), destination, settings=settings, retry=FAST)


def test_publish_into_an_empty_repository_then_again_makes_exactly_one_commit(repos: Repos) -> None:
    source = git("rev-parse", "HEAD", cwd=repos.project)
    settings = CommitSettings(
        message="Deployed by CI run 42.", author_name="Deploy Bot", author_email="bot@example.invalid"
    )
    first = publish(repos, settings)
    second = publish(repos, settings)

    assert (first.status, second.status) == ("pushed", "up to date")
    assert first.commit == second.commit == repos.deploy_git("rev-parse", "main")
    (message,) = repos.commits()
    assert message == (
        f"Publish demo at {source[:7]} to envs/default/demo\n\nDeployed by CI run 42.\n\n"
        f"Bodywork-Source-Commit: {source}\nBodywork-Source-Repo: {repos.daemon.url('source')}"
    )
    assert (
        repos.deploy_git("log", "-1", "--format=%an <%ae> / %cn <%ce>")
        == "Deploy Bot <bot@example.invalid> / Deploy Bot <bot@example.invalid>"
    )
    files = repos.tree()
    assert {p.split("/", 3)[3] for p in files} >= {"hydrator.metadata", "README.md"}
    assert all(p.startswith("envs/default/demo/") for p in files)
    assert f'"drySha": "{source}"' in repos.show("envs/default/demo/hydrator.metadata")


def test_other_files_stay_byte_identical_and_stale_files_of_its_own_go(repos: Repos, tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    (seed / "apps" / "other").mkdir(parents=True)
    (seed / "apps" / "other" / "app.yaml").write_bytes(b"kind: ConfigMap\r\nname: x\r\n")  # CRLF kept as is
    (seed / "tool.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (seed / "tool.sh").chmod(0o755)
    (seed / "blob.bin").write_bytes(bytes(range(256)))
    (seed / "link").symlink_to("apps/other/app.yaml")
    (seed / ".gitignore").write_text("*.metadata\n")  # ignored names are still published
    git("init", "-q", "--initial-branch=main", cwd=seed)
    git("add", "-A", cwd=seed)
    git("commit", "-q", "-m", "seed", cwd=seed)
    git("push", "-q", repos.deploy_url, "main", cwd=seed)
    before = repos.tree()

    publish(repos)
    first = set(repos.tree()) - set(before)
    train_only = MINIMAL.split("  serve:")[0].replace("train >> serve", "train") + "logging:\n  log_level: INFO\n"
    repos.commit_source({"bodywork.yaml": train_only}, "drop the serve stage")
    publish(repos)
    after = repos.tree()

    assert {p: m for p, m in after.items() if not p.startswith("envs/")} == before
    assert "envs/default/demo/hydrator.metadata" in after
    assert any("serve" in p for p in first) and not any("serve" in p for p in after)
    assert len(repos.commits()) == 3


def test_an_environment_applies_its_overlay_and_names_the_folder(repos: Repos) -> None:
    (repos.project / "bodywork.prod.yaml").write_text("stages:\n  serve:\n    replicas: 4\n")
    with pytest.raises(BodyworkError, match="no overlay for environment 'prod' .* at commit"):
        publish(repos, env="prod")  # read from the commit, which does not hold the overlay yet
    repos.commit_source({}, "the prod overlay")
    published = publish(repos, env="prod")
    with pytest.raises(BodyworkError, match="no overlay for environment 'qa'"):
        publish(repos, env="qa")
    assert published.publication.folder == "envs/prod/demo"
    assert "replicas: 4" in "".join(repos.show(p) for p in repos.tree() if p.endswith(".yaml"))
    assert len(repos.commits()) == 1


def test_a_folder_this_tool_did_not_write_is_refused(repos: Repos) -> None:
    publish(repos, path="envs/default/demo")
    with pytest.raises(BodyworkError) as foreign:
        publish(repos, path="envs/default")
    # the user's deployment repository, branch and folder, and publish's flag: not a temporary checkout and --out
    assert [d.message for d in foreign.value.diagnostics] == [
        f"{repos.deploy_url} branch main, folder envs/default: holds files but no hydrator.metadata, so"
        " bodywork-render did not write it; refusing to replace it (choose an empty or new --path folder)"
    ]
    with pytest.raises(BodyworkError, match="inside the repository"):
        publish(repos, path="../outside")
    with pytest.raises(BodyworkError, match="not a valid git branch name"):
        publish(repos, branch="bad..name")
    assert len(repos.commits()) == 1


def test_an_invalid_project_or_output_commits_nothing(repos: Repos, tmp_path: Path) -> None:
    broken = tmp_path / "templates"
    broken.mkdir()
    (broken / "namespace.yaml.j2").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ name | q }}\nspec:\n  finalizers: 7\n"
    )
    with pytest.raises(BodyworkError):
        prepare(repos.project, RenderOptions(), Target(repos.deploy_url), templates=broken)
    repos.commit_source({"bodywork.yaml": MINIMAL.replace("retries: 1", "retries: -1")}, "break it")
    with pytest.raises(BodyworkError, match="retries"):
        publish(repos)
    assert repos.deploy_git("for-each-ref") == ""


def test_cli_exit_codes_and_messages(repos: Repos) -> None:
    source = git("rev-parse", "--short=7", "HEAD", cwd=repos.project)
    pushed = bodywork("publish", str(repos.project), "--to", repos.deploy_url, "--format", "kustomize")
    again = bodywork("publish", str(repos.project), "--to", repos.deploy_url, "--format", "kustomize")
    unreachable = bodywork("publish", str(repos.project), "--to", f"git://127.0.0.1:{free_port()}/deploy.git")
    helm = bodywork("publish", str(repos.project), "--to", repos.deploy_url, "--format", "helm")
    pinned = ("--repo-url", repos.daemon.url("source"), "--ref", git("rev-parse", "HEAD", cwd=repos.project))
    no_git = bodywork(
        "publish", str(repos.project), "--to", repos.deploy_url, *pinned, env=dict(os.environ, PATH=os.devnull)
    )

    assert (pushed.returncode, again.returncode, unreachable.returncode, helm.returncode, no_git.returncode) == (
        0,
        0,
        3,
        2,  # a usage error: publish offers only the folder formats (no helm)
        3,
    )
    assert no_git.stderr.endswith("bodywork: git is not installed or not on PATH\n")
    assert f"pushed demo at {source} to {repos.deploy_url} main:envs/default/demo" in pushed.stderr
    assert f"up to date: {repos.deploy_url} main:envs/default/demo holds demo at {source}" in again.stderr
    assert "failed" in unreachable.stderr and "Traceback" not in unreachable.stderr + helm.stderr
    assert len(repos.commits()) == 1
    flux_paths = [
        line
        for path in repos.tree()
        if path.endswith(".yaml")
        for line in repos.show(path).splitlines()
        if '"./' in line
    ]
    assert flux_paths and all("./envs/default/demo" in line for line in flux_paths)


def test_no_credential_is_ever_shown(repos: Repos) -> None:
    port = repos.daemon.port
    with_token = f"git://deployer:{SECRET}@127.0.0.1:{port}/deploy.git"
    env = dict(os.environ, BODYWORK_GIT_TOKEN=SECRET)
    ok = bodywork(
        "publish",
        str(repos.project),
        "--to",
        with_token,
        "--repo-url",
        f"https://ci:{SECRET}@example.invalid/org/project.git",
        env=env,
    )
    refused = bodywork(
        "publish", str(repos.project), "--to", f"https://user:{SECRET}@127.0.0.1:{free_port()}/deploy.git", env=env
    )
    as_user = bodywork(
        "publish", str(repos.project), "--to", f"https://{SECRET}@127.0.0.1:{free_port()}/deploy.git", env=env
    )

    assert (ok.returncode, refused.returncode, as_user.returncode) == (0, 3, 3)
    assert f"to git://127.0.0.1:{port}/deploy.git main" in ok.stderr
    assert "https://127.0.0.1:" in refused.stderr and "https://127.0.0.1:" in as_user.stderr
    shown = ok.stdout + ok.stderr + refused.stdout + refused.stderr + as_user.stdout + as_user.stderr
    everything_committed = repos.deploy_git("log", "-p", "--format=%an%ae%cn%ce%B", "main")
    assert "https://example.invalid/org/project.git" in everything_committed
    assert SECRET not in shown and SECRET not in everything_committed


class SmartHttp(BaseHTTPRequestHandler):
    """git's smart HTTP (`git http-backend` as a CGI) over the daemon's repositories, behind Basic auth."""

    root = Path()
    credentials = ""
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        self.serve()

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        self.serve()

    def serve(self) -> None:
        """Answer 401 without the expected credentials, else run http-backend and relay its answer."""
        given = self.headers.get("Authorization", "")
        self.seen.append(given)
        if given != "Basic " + base64.b64encode(self.credentials.encode()).decode():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        cgi = {
            "GIT_PROJECT_ROOT": str(self.root), "GIT_HTTP_EXPORT_ALL": "1", "REMOTE_USER": "publisher",
            "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }  # fmt: skip
        answer = subprocess.run(
            ["git", "http-backend"], input=body, capture_output=True, env={**os.environ, **cgi}
        ).stdout
        head, _, content = answer.partition(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        self.send_response(int(fields.pop("Status", "200").split()[0]))
        for name, value in fields.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server signature
        """Quiet."""


def test_publish_over_http_with_the_token_from_the_environment(repos: Repos, monkeypatch: pytest.MonkeyPatch) -> None:
    SmartHttp.root, SmartHttp.credentials, SmartHttp.seen = repos.daemon.base, f"bot:{SECRET}", []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SmartHttp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/deploy.git"
        env = dict(os.environ, BODYWORK_GIT_TOKEN=SECRET, BODYWORK_GIT_USERNAME="bot")
        pushed = bodywork("publish", str(repos.project), "--to", url, env=env)
        denied = bodywork(
            "publish", str(repos.project), "--to", url, env={**env, "BODYWORK_GIT_TOKEN": "wrong-" + SECRET}
        )
        in_url = bodywork(
            "publish", str(repos.project), "--to", url.replace("://", f"://bot:{SECRET}@"), "--path", "other"
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (pushed.returncode, denied.returncode, in_url.returncode) == (0, 3, 0), denied.stderr
    assert "pushed demo at" in pushed.stderr and f"to {url} main:other" in in_url.stderr
    assert "Authentication failed" in denied.stderr
    shown = "".join(r.stdout + r.stderr for r in (pushed, denied, in_url))
    assert SECRET not in shown and base64.b64encode(f"bot:{SECRET}".encode()).decode() not in shown
    assert (
        len(repos.commits()) == 2 and "" in SmartHttp.seen
    )  # git asked without credentials first: the helper answered the 401


def test_the_token_reaches_git_only_through_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BODYWORK_GIT_TOKEN", SECRET)
    url = "https://git.example.invalid/org/deploy.git"
    git("init", "-q", str(tmp_path))
    answer = subprocess.run(
        ["git", "credential", "fill"],
        input="protocol=https\nhost=git.example.invalid\n\n",
        env={**os.environ, **git_environment(tmp_path, [url], os.environ)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with Workspace(url) as workspace:
        stored = "".join(p.read_text(errors="replace") for p in (workspace.folder / ".git").rglob("*") if p.is_file())
    assert f"username=x-access-token\npassword={SECRET}\n" in answer
    assert SECRET not in stored and not workspace.folder.exists()


def test_publish_over_ssh_with_a_key_from_the_environment(
    repos: Repos, sshd: tuple[int, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, key, known_hosts = sshd  # the key is readable by others, as a Secret volume mounts it
    target = Target(f"ssh://{getpass.getuser()}@127.0.0.1:{port}{repos.daemon.path('deploy')}")
    publication = prepare(repos.project, RenderOptions(), target)
    monkeypatch.setenv("BODYWORK_GIT_SSH_KEY_FILE", str(key))
    monkeypatch.setenv("BODYWORK_GIT_KNOWN_HOSTS_FILE", str(known_hosts))
    assert land(publication, target).status == "pushed"
    assert len(repos.commits()) == 1
    monkeypatch.setenv("BODYWORK_GIT_KNOWN_HOSTS_FILE", os.devnull)
    with pytest.raises(GitError, match="Host key verification failed"):
        land(publication, target)
    monkeypatch.setenv("BODYWORK_GIT_SSH_KEY_FILE", str(key.with_name("absent")))
    with pytest.raises(BodyworkError, match="cannot read the SSH key"):
        land(publication, target)


def test_the_callers_git_variables_do_not_leak_in(
    repos: Repos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    git("init", "-q", str(other))
    source = git("rev-parse", "HEAD", cwd=repos.project)
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    target = Target(repos.deploy_url)
    publication = prepare(repos.project, RenderOptions(), target, repo_url=repos.daemon.url("source"), ref=source)
    assert land(publication, target).status == "pushed"
    assert not (other / ".git" / "index").exists() and not (other / "envs").exists()


def test_a_rejected_push_is_retried_on_the_new_tip_then_given_up(repos: Repos, tmp_path: Path) -> None:
    publication = prepare(repos.project, RenderOptions(), Target(repos.deploy_url))
    target = Target(repos.deploy_url)

    def race(name: str) -> None:
        """Another writer lands a commit after the workspace fetched."""
        other = tmp_path / name
        git("clone", "-q", repos.deploy_url, str(other))
        (other / "other.txt").write_text(name)
        git("add", "-A", cwd=other)
        git("commit", "-q", "-m", "other writer", cwd=other)
        git("push", "-q", "origin", "HEAD:main", cwd=other)

    with Workspace(repos.deploy_url) as workspace:
        sync(workspace, target)
        race("first")
        with pytest.raises(GitError, match="gave up .* after 1 attempts: another writer was first"):
            land(publication, target, retry=Retry(attempts=1), workspace=workspace)
    with Workspace(repos.deploy_url) as workspace:
        sync(workspace, target)
        race("second")
        published = land(publication, target, retry=FAST, workspace=workspace)
    assert (published.status, published.attempts) == ("pushed", 2)
    assert [m.splitlines()[0] for m in repos.commits()] == [
        "Publish demo at " + publication.source.short_commit + " to envs/default/demo",
        "other writer",
        "other writer",
    ]
    assert "other.txt" in repos.tree()


def test_a_branch_suffix_starts_from_the_branch(repos: Repos) -> None:
    publish(repos)
    repos.commit_source({"train.py": "print('train v2')\n"}, "v2")
    published = publish(repos, branch_suffix="-next")
    assert published.branch == "main-next"
    assert repos.deploy_git("rev-parse", "main-next^") == repos.deploy_git("rev-parse", "main")
    assert len(repos.commits("main")) == 1


def test_eight_concurrent_publishers_all_land_once(repos: Repos) -> None:
    first = git("rev-parse", "HEAD", cwd=repos.project)
    second = repos.commit_source({"train.py": "print('train v2')\n"}, "v2")
    runs = (
        [("--path", f"apps/app-{i}", "--ref", first) for i in range(3)]  # different folders
        + [("--path", "apps/shared", "--ref", first) for _ in range(3)]  # one folder, the same render: one commit
        + [("--path", "apps/moving", "--ref", ref) for ref in (first, second)]  # one folder, two renders: two commits
    )
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bodywork_render",
                "publish",
                str(repos.project),
                "--to",
                repos.deploy_url,
                "--max-attempts",
                "12",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in runs
    ]
    results = [(p.communicate(timeout=120)[1], p.returncode) for p in processes]

    assert [code for _, code in results] == [0] * 8, results
    published = [(m.splitlines()[0].rsplit(" to ", 1)[1], m.splitlines()[-2]) for m in repos.commits()]
    assert sorted(published) == sorted(
        [(f"apps/app-{i}", f"Bodywork-Source-Commit: {first}") for i in range(3)]
        + [("apps/shared", f"Bodywork-Source-Commit: {first}")]
        + [("apps/moving", f"Bodywork-Source-Commit: {first}"), ("apps/moving", f"Bodywork-Source-Commit: {second}")]
    )
    tip = repos.tree()
    assert {p.split("/")[1] for p in tip} == {"app-0", "app-1", "app-2", "shared", "moving"}
    moving = [m for m in repos.commits() if "apps/moving" in m.splitlines()[0]]
    assert f'"drySha": "{moving[0].splitlines()[-2].split()[-1]}"' in repos.show("apps/moving/hydrator.metadata")


def test_a_dirty_tree_cannot_publish_a_commit_it_does_not_hold(repos: Repos) -> None:
    source = git("rev-parse", "HEAD", cwd=repos.project)
    config = repos.project / "bodywork.yaml"
    committed = config.read_text()
    config.write_text(
        committed.replace("executable_module_path:", "args: ['--uncommitted']\n    executable_module_path:", 1)
    )
    published = publish(repos)
    assert published.status == "pushed"
    assert any("the working tree differs in bodywork.yaml" in w for w in published.publication.warnings)
    job = next(path for path in repos.tree() if path.endswith("-train-job.yaml"))
    assert "--uncommitted" not in repos.show(job) and "--timeout" in repos.show(job), "only what the commit holds"
    assert f'"drySha": "{source}"' in repos.show("envs/default/demo/hydrator.metadata")
