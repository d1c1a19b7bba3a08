"""A kubelet emulator: runs the pods of rendered Kubernetes objects as real processes on this machine, as root.

``run_pipeline(objects)`` creates the objects of a render in steps (Helm hooks, else Argo CD sync waves; a pod
fails when a ConfigMap, Secret or PersistentVolumeClaim of the render that it needs comes in a later step): each
Job's pod runs to completion, each Deployment's pod (one replica) starts and must pass its
startup probe; ``job_of_cron_job`` makes the Job a CronJob's controller would create for a scheduled time.
Every container runs exactly what the YAML says (``command``, ``args``, ``env``, ``workingDir``,
volume mounts, ``runAsUser``/``runAsGroup``/``fsGroup``, ``readOnlyRootFilesystem``) with one substitution: the
image. Each image is this machine's file system with ``python3`` first on PATH (``machine_python``).

How a container runs: ``unshare --mount --pid --fork`` starts this file as the new PID namespace's process 1,
which builds a private root (an overlay of ``/`` on a tmpfs, so that mount points such as /workspace never touch
the real file system; the host's top-level mounts bound in; a fresh /proc), bind-mounts each volume's folder at
its mountPath, remounts the root read-only when asked, chroots, drops to the pod's user and group, and execs the
command. The namespaces, and every mount in them, end with the container; killing ``unshare`` kills them all.

Volumes are host folders under the pipeline's work folder: emptyDir a fresh folder per pod (mode 0777, group
fsGroup); configMap and secret the keys of the object in the render (or, for secrets, of ``secrets``) written
the way the kubelet's atomic writer does (``..data`` symlinks, defaultMode or the item's mode); a
persistentVolumeClaim one folder per claimName for the whole run, shared by every pod that mounts it.

Not emulated: the images' contents (a container sees this machine's files, whatever its image), resources,
probes other than the startup probe's tcpSocket (a Deployment is ready when that passes), restarts of a
Deployment's containers (one that exits fails the run), the Job controller's back-off delay between pods,
restartPolicy OnFailure, networking (every pod is on the host's network, so one replica of a Deployment runs and
its port must be free), Services, Ingresses, ServiceAccounts, capabilities and seccomp.

Use::

    with run_pipeline(objects, secrets={"git": {"token": "..."}}) as pipeline:
        urllib.request.urlopen("http://127.0.0.1:8000/health")   # the Deployment's containerPort
        pipeline.claim("train-and-serve-shared")                 # the host folder of a PVC
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["PodFailed", "RunningPipeline", "apply_steps", "job_of_cron_job", "machine_python", "run_pipeline"]

HELPER = Path(__file__).resolve()
# The PATH of the python images (docker's default), behind the folder holding this machine's python3.
IMAGE_BIN = "/.kubelet/image/bin"
IMAGE_ENV = {
    "PATH": f"{IMAGE_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
NOBODY = 65534
# A Job without activeDeadlineSeconds, or a probe without limits, still ends a test.
DEFAULT_TIMEOUT_SECONDS = 900.0
LOG_TAIL_LINES = 80
PR_SET_PDEATHSIG = 1
_VARIABLE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class PodFailed(AssertionError):
    """A pod did not do what its owner needs (a Job's pod failed, a Deployment's pod did not start)."""


# --- order --------------------------------------------------------------------------------------


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


def _wave(obj: Mapping[str, Any]) -> int:
    return int(_annotations(obj).get("argocd.argoproj.io/sync-wave", "0"))


def _hook(obj: Mapping[str, Any]) -> tuple[int, int, str]:
    """Where Helm's install puts an object: 0 a pre-install hook, 1 the release's objects, 2 a post-install hook;
    then a hook's weight and name (Helm's tie-break)."""
    hooks = _annotations(obj).get("helm.sh/hook", "")
    if not hooks:
        return (1, 0, "")
    phases = {hook.strip() for hook in hooks.split(",")}
    weight, name = int(_annotations(obj).get("helm.sh/hook-weight", "0")), obj["metadata"]["name"]
    if "pre-install" in phases:
        return (0, weight, name)
    if "post-install" in phases:
        return (2, weight, name)
    raise NotImplementedError(f"a hook that install does not run: {hooks}")


def apply_steps(objects: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """The objects in the steps that create them, each step done (its Jobs complete, its Deployments ready) before
    the next.

    A render holding Helm hooks is installed as Helm does it: each pre-install hook by weight, then name (Helm waits
    for a hook Job), then the release's other objects together, then each post-install hook likewise. Otherwise
    each Argo CD sync wave is a step (Argo CD waits for a wave to be healthy), in the given (file) order within it.
    """
    if any("helm.sh/hook" in _annotations(obj) for obj in objects):
        ordered = sorted(objects, key=_hook)
        release = [obj for obj in ordered if _hook(obj)[0] == 1]
        before = [[obj] for obj in ordered if _hook(obj)[0] == 0]
        after = [[obj] for obj in ordered if _hook(obj)[0] == 2]
        return [*before, *([release] if release else []), *after]
    waves = sorted({_wave(obj) for obj in objects})
    return [[obj for obj in objects if _wave(obj) == wave] for wave in waves]


# --- the image ----------------------------------------------------------------------------------


def machine_python(uid: int = NOBODY, gid: int = NOBODY) -> Path:
    """This machine's Python that user ``uid`` can run with pip importable: the images' ``python3``.

    The interpreter running the tests comes first, then /usr/local/bin/python3 and /usr/bin/python3. The first
    may be out of the pod user's reach (pyenv under /root, mode 0700): each candidate is tried as that user.
    Debian's /usr/bin/python3 with python3-pip qualifies; its pip refuses system installs (PEP 668) but not
    ``pip install --target``, which is how the runner installs a stage's requirements.
    """
    candidates = [Path(sys._base_executable).resolve(), Path("/usr/local/bin/python3"), Path("/usr/bin/python3")]  # type: ignore[attr-defined]
    for candidate in candidates:
        probe = subprocess.run(
            [
                "setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--",
                str(candidate), "-c", "import pip",
            ],
            env={"PATH": "/usr/bin:/bin"}, cwd="/", capture_output=True, check=False,
        )  # fmt: skip
        if probe.returncode == 0:
            return candidate
    raise RuntimeError(f"no Python that uid {uid} can run with pip among {', '.join(map(str, candidates))}")


# --- volumes ------------------------------------------------------------------------------------


def _fs_group(folder: Path, fs_group: int | None, *, read_only: bool = False) -> None:
    """Hand a volume to the pod's fsGroup as the kubelet's SetVolumeOwnership does: every entry group-owned, files
    gaining group (and owner) read, and write unless ``read_only``; folders also search and setgid."""
    if fs_group is None:
        return
    mask = 0o440 if read_only else 0o660
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, -1, fs_group)
        if not path.is_symlink():
            mode = path.stat().st_mode & 0o7777 | mask
            path.chmod(mode | 0o2110 if path.is_dir() else mode)


def _write_projection(folder: Path, files: Mapping[str, bytes], modes: Mapping[str, int], fs_group: int | None) -> None:
    """Write a configMap or secret volume as the kubelet's atomic writer does: the files in a timestamped folder,
    ``..data`` pointing at it, one symlink per top-level entry through ``..data``; then the fsGroup's ownership."""
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    stamp = folder / time.strftime("..%Y_%m_%d_%H_%M_%S.000000000", time.gmtime())
    stamp.mkdir(mode=0o755)
    for path, content in files.items():
        target = stamp / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(modes[path])
    (folder / "..data").symlink_to(stamp.name)
    for top in sorted({path.split("/", 1)[0] for path in files}):
        (folder / top).symlink_to(f"..data/{top}")
    _fs_group(folder, fs_group, read_only=True)


def _projected(
    data: Mapping[str, bytes], source: Mapping[str, Any], what: str
) -> tuple[dict[str, bytes], dict[str, int]]:
    """The files of a configMap or secret volume: every key, or its ``items`` (key -> path, mode)."""
    default_mode = int(source.get("defaultMode", 0o644))
    items = source.get("items")
    if items is None:
        return dict(data), dict.fromkeys(data, default_mode)
    files: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    for item in items:
        if item["key"] not in data:
            raise PodFailed(f"{what} has no key {item['key']!r}")
        files[item["path"]] = data[item["key"]]
        modes[item["path"]] = int(item.get("mode", default_mode))
    return files, modes


# --- containers ---------------------------------------------------------------------------------


def _expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: a defined variable's value, ``$$`` for ``$``, anything else as written."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VARIABLE.sub(replace, text)


@dataclass
class Container:
    """One container's process: ``unshare`` running this file as process 1 of its namespaces."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The end of the container's log (stdout and stderr)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def exit_code(self) -> int | None:
        """The exit code the kubelet reports (128+N after signal N), or None while it runs."""
        code = self.process.poll()
        return None if code is None else (128 - code if code < 0 else code)

    def stop(self, grace_seconds: float) -> None:
        """SIGTERM to the container's process, then after the grace period SIGKILL to its whole PID namespace."""
        if self.process.poll() is None:
            init = self._init()
            if init is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(init, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=grace_seconds)
            # Process 1 of a PID namespace takes every process in it along when it dies.
            init = self._init()
            if init is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(init, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def _init(self) -> int | None:
        """The container's process (unshare's child, process 1 of its PID namespace), while it lives."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None


@dataclass
class Pod:
    """A pod of a Job or Deployment: its spec, its volumes' host folders and its containers' processes."""

    name: str
    spec: Mapping[str, Any]
    folder: Path
    volumes: dict[str, Path | None] = field(default_factory=dict)
    containers: list[Container] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every container still running (with the pod's grace period)."""
        grace = float(self.spec.get("terminationGracePeriodSeconds", 30))
        for container in self.containers:
            container.stop(grace)


class Kubelet:
    """Runs pods on this machine (see the module's docstring); holds the per-claim folders of the run."""

    def __init__(
        self,
        objects: Sequence[Mapping[str, Any]],
        workdir: Path,
        *,
        secrets: Mapping[str, Mapping[str, str]] | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.workdir = workdir
        self.timeout = timeout
        self._objects = objects
        # What the API server holds so far: the render's objects are created step by step.
        self.created: list[Mapping[str, Any]] = []
        self._secrets = {name: {k: v.encode() for k, v in data.items()} for name, data in (secrets or {}).items()}
        self._pods = 0

    def _object(self, kind: str, name: str) -> Mapping[str, Any] | None:
        """The object of the render, once created; PodFailed when the render creates it only later (the pod would
        wait for it while its owner waits for the pod)."""
        found = [o for o in self.created if o.get("kind") == kind and o["metadata"]["name"] == name]
        if found:
            return found[0]
        if any(o.get("kind") == kind and o["metadata"]["name"] == name for o in self._objects):
            raise PodFailed(f"{kind} {name} is created after the pod that needs it: the pod would never start")
        return None

    def _config_map(self, name: str) -> dict[str, bytes] | None:
        obj = self._object("ConfigMap", name)
        if obj is None:
            return None
        data = {key: value.encode() for key, value in (obj.get("data") or {}).items()}
        data.update({key: base64.b64decode(value) for key, value in (obj.get("binaryData") or {}).items()})
        return data

    def _secret(self, name: str) -> dict[str, bytes] | None:
        if name in self._secrets:
            return self._secrets[name]
        obj = self._object("Secret", name)
        if obj is None:
            return None
        data = {key: base64.b64decode(value) for key, value in (obj.get("data") or {}).items()}
        data.update({key: value.encode() for key, value in (obj.get("stringData") or {}).items()})
        return data

    def claim(self, name: str) -> Path:
        """The host folder of a PersistentVolumeClaim: one per claim name for the whole run."""
        folder = self.workdir / "claims" / name
        if not folder.exists():
            folder.mkdir(parents=True)
            folder.chmod(0o755)
        return folder

    def _image(self, uid: int, gid: int) -> Path:
        """The folder mounted at IMAGE_BIN's parent: ``bin/python3`` (and ``python``) -> this machine's Python."""
        image = self.workdir / f"image-{uid}-{gid}"
        if not image.exists():
            (image / "bin").mkdir(parents=True)
            for name in ("python3", "python"):
                (image / "bin" / name).symlink_to(machine_python(uid, gid))
        return image

    def new_pod(self, owner: str, template: Mapping[str, Any]) -> Pod:
        """A pod of ``template`` with its volumes' folders made (a volume None: an optional source is missing)."""
        self._pods += 1
        name = f"{owner}-{self._pods}"
        pod = Pod(name, template["spec"], self.workdir / "pods" / name)
        pod.folder.mkdir(parents=True)
        fs_group = pod.spec.get("securityContext", {}).get("fsGroup")
        for volume in pod.spec.get("volumes", []):
            host = pod.folder / "volumes" / volume["name"]
            if "emptyDir" in volume:
                host.mkdir(parents=True)
                host.chmod(0o777)
                _fs_group(host, fs_group)
            elif "configMap" in volume or "secret" in volume:
                source = volume["configMap"] if "configMap" in volume else volume["secret"]
                ref = source.get("name") or source.get("secretName")
                what = f"{'ConfigMap' if 'configMap' in volume else 'Secret'} {ref}"
                data = self._config_map(ref) if "configMap" in volume else self._secret(ref)
                if data is None:
                    if source.get("optional"):
                        pod.volumes[volume["name"]] = None
                        continue
                    raise PodFailed(f"pod {name}: volume {volume['name']}: {what} does not exist")
                files, modes = _projected(data, source, what)
                _write_projection(host, files, modes, fs_group)
            elif "persistentVolumeClaim" in volume:
                # A claim outside the render is one the cluster holds already.
                self._object("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
                host = self.claim(volume["persistentVolumeClaim"]["claimName"])
                _fs_group(host, fs_group)
            else:
                raise NotImplementedError(f"volume {volume['name']}: only emptyDir, configMap, secret and PVC")
            pod.volumes[volume["name"]] = host
        return pod

    def _env(self, container: Mapping[str, Any], pod: Pod) -> dict[str, str]:
        """The container's ``env`` in order, each value's ``$(VAR)`` expanded with the variables before it."""
        declared: dict[str, str] = {}
        for item in container.get("env", []):
            if "value" in item or "valueFrom" not in item:
                declared[item["name"]] = _expand(str(item.get("value", "")), declared)
                continue
            ref = item["valueFrom"]
            if "secretKeyRef" in ref or "configMapKeyRef" in ref:
                key_ref = ref.get("secretKeyRef") or ref["configMapKeyRef"]
                data = self._secret(key_ref["name"]) if "secretKeyRef" in ref else self._config_map(key_ref["name"])
                if data is None or key_ref["key"] not in data:
                    if key_ref.get("optional"):
                        continue
                    raise PodFailed(f"pod {pod.name}: env {item['name']}: no key {key_ref['key']} in {key_ref['name']}")
                declared[item["name"]] = data[key_ref["key"]].decode()
            else:
                raise NotImplementedError(f"env {item['name']}: only value, secretKeyRef and configMapKeyRef")
        if container.get("envFrom"):
            raise NotImplementedError("envFrom")
        return declared

    def start(self, pod: Pod, container: Mapping[str, Any]) -> Container:
        """Start one container of the pod (its process runs until it exits or is stopped)."""
        context = {**pod.spec.get("securityContext", {}), **container.get("securityContext", {})}
        uid, gid = int(context.get("runAsUser", 0)), int(context.get("runAsGroup", 0))
        if context.get("runAsNonRoot") and uid == 0:
            raise PodFailed(f"pod {pod.name}: container {container['name']}: runAsNonRoot, and the user is root")
        groups = [
            int(g)
            for g in [pod.spec.get("securityContext", {}).get("fsGroup"), *context.get("supplementalGroups", [])]
            if g is not None
        ]
        declared = self._env(container, pod)
        # The image's variables, the runtime's HOSTNAME, the spec's; HOME from /etc/passwd when none sets it.
        env = {**IMAGE_ENV, "HOSTNAME": pod.name, **declared}
        env.setdefault("HOME", _home(uid))
        mounts = [{"source": str(self._image(uid, gid)), "target": str(Path(IMAGE_BIN).parent), "readOnly": True}]
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in pod.volumes:
                raise PodFailed(f"pod {pod.name}: container {container['name']}: no volume {mount['name']}")
            host = pod.volumes[mount["name"]]
            if host is None:
                continue
            source = host / mount["subPath"] if mount.get("subPath") else host
            mounts.append(
                {"source": str(source), "target": mount["mountPath"], "readOnly": bool(mount.get("readOnly"))}
            )
        plan = {
            "stage": str(pod.folder / f"root-{container['name']}"),
            "mounts": mounts,
            "readOnlyRoot": bool(context.get("readOnlyRootFilesystem")),
            "uid": uid,
            "gid": gid,
            "groups": groups,
            "workingDir": container.get("workingDir", "/"),
            "argv": [_expand(a, declared) for a in [*container.get("command", []), *container.get("args", [])]],
            "env": env,
        }
        if not plan["argv"]:
            raise NotImplementedError(f"container {container['name']}: no command: the image's entrypoint is unknown")
        (pod.folder / f"{container['name']}.plan.json").write_text(json.dumps(plan, indent=2))
        log = pod.folder / f"{container['name']}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                [
                    "unshare", "--mount", "--pid", "--fork", "--kill-child=SIGKILL", "--propagation", "private",
                    "--", sys.executable, str(HELPER), str(pod.folder / f"{container['name']}.plan.json"),
                ],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            )  # fmt: skip
        started = Container(container["name"], process, log)
        pod.containers.append(started)
        return started

    def run_to_end(self, pod: Pod, container: Mapping[str, Any], deadline: float) -> Container:
        """Run one container until it exits, or until ``deadline`` (a time.monotonic()) when it is stopped as a
        deleted pod is: SIGTERM, then SIGKILL after the pod's terminationGracePeriodSeconds."""
        started = self.start(pod, container)
        with contextlib.suppress(subprocess.TimeoutExpired):
            started.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        if started.exit_code() is None:
            pod.stop()
        return started

    def run_init(self, pod: Pod, deadline: float) -> Container | None:
        """Run the pod's init containers in order; the first that fails (None: all exited 0)."""
        for container in pod.spec.get("initContainers", []):
            done = self.run_to_end(pod, container, deadline)
            if done.exit_code() != 0:
                return done
        return None

    def run_job(self, job: Mapping[str, Any]) -> Pod:
        """Run a Job to completion: new pods until one succeeds, the backoffLimit is spent, a podFailurePolicy
        rule fails the Job, or its activeDeadlineSeconds pass; PodFailed with the failed container's log."""
        name = job["metadata"]["name"]
        spec = job["spec"]
        policy = spec["template"]["spec"].get("restartPolicy", "Always")
        if policy != "Never":
            raise NotImplementedError(f"Job {name}: restartPolicy {policy}")
        deadline = time.monotonic() + float(spec.get("activeDeadlineSeconds", self.timeout))
        attempts = int(spec.get("backoffLimit", 6)) + 1
        failures: list[str] = []
        for _attempt in range(attempts):
            pod = self.new_pod(name, spec["template"])
            failed = self.run_init(pod, deadline)
            if failed is None:
                (container,) = pod.spec["containers"]
                done = self.run_to_end(pod, container, deadline)
                failed = None if done.exit_code() == 0 else done
            if failed is None:
                return pod
            code = failed.exit_code()
            failures.append(f"pod {pod.name}: container {failed.name} exited with {code}:\n{failed.tail()}")
            if time.monotonic() >= deadline:
                raise PodFailed(f"Job {name}: DeadlineExceeded\n" + "\n".join(failures))
            if _fails_job(spec.get("podFailurePolicy"), failed.name, code):
                raise PodFailed(f"Job {name}: a podFailurePolicy rule FailJob matched\n" + "\n".join(failures))
        raise PodFailed(f"Job {name}: BackoffLimitExceeded after {attempts} pods\n" + "\n".join(failures))

    def start_deployment(self, deployment: Mapping[str, Any]) -> Pod:
        """Start one replica's pod: init containers to their end, then the container until its startup probe
        passes (without one: it is running); PodFailed when a container fails first."""
        name = deployment["metadata"]["name"]
        pod = self.new_pod(name, deployment["spec"]["template"])
        (container,) = pod.spec["containers"]
        try:
            failed = self.run_init(pod, time.monotonic() + self.timeout)
            if failed is not None:
                raise PodFailed(
                    f"{name}: init container {failed.name} exited with {failed.exit_code()}:\n{failed.tail()}"
                )
            started = self.start(pod, container)
            _wait_started(container, started, self.timeout)
        except BaseException:
            pod.stop()
            raise
        return pod


def _fails_job(policy: Mapping[str, Any] | None, container: str, code: int | None) -> bool:
    """Whether a podFailurePolicy rule with action FailJob matches the failed container's exit code."""
    for rule in (policy or {}).get("rules", []):
        on = rule.get("onExitCodes")
        if on is None or code is None or on.get("containerName", container) != container:
            continue
        matches = (code in on["values"]) == (on["operator"] == "In")
        if matches:
            if rule["action"] == "FailJob":
                return True
            if rule["action"] != "Count":
                raise NotImplementedError(f"podFailurePolicy action {rule['action']}")
            return False
    return False


def _home(uid: int) -> str:
    """HOME as the container runtime sets it when env has none: the user's home in /etc/passwd, else /."""
    try:
        return pwd.getpwuid(uid).pw_dir
    except KeyError:
        return "/"


def _port(container: Mapping[str, Any], port: int | str) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    (found,) = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    return int(found)


def _wait_started(container: Mapping[str, Any], started: Container, timeout: float) -> None:
    """Wait for the startup probe (tcpSocket on 127.0.0.1) within its initialDelay + period x failureThreshold."""
    probe = container.get("startupProbe")
    if probe is None:
        return
    if "tcpSocket" not in probe:
        raise NotImplementedError("a startupProbe other than tcpSocket")
    port = _port(container, probe["tcpSocket"]["port"])
    limit = probe.get("initialDelaySeconds", 0) + probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)
    deadline = time.monotonic() + min(float(limit), timeout)
    while time.monotonic() < deadline:
        if started.exit_code() is not None:
            code = started.exit_code()
            raise PodFailed(
                f"container {started.name} exited with {code} before listening on {port}:\n{started.tail()}"
            )
        with socket.socket() as probe_socket:
            probe_socket.settimeout(1)
            if probe_socket.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise PodFailed(f"container {started.name} did not listen on {port} within {limit} s:\n{started.tail()}")


# --- the pipeline -------------------------------------------------------------------------------


class RunningPipeline:
    """The objects of a render applied on this machine: Jobs run to completion, Deployments' pods serving.

    A context manager: entering creates the objects in ``apply_steps``, running their pods; leaving (or a failure
    while entering) stops every container, whose namespaces and mounts end with it, and removes the work folder.
    """

    def __init__(
        self,
        objects: Sequence[Mapping[str, Any]],
        *,
        secrets: Mapping[str, Mapping[str, str]] | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._objects = list(objects)
        self._secrets = secrets
        self._timeout = timeout
        self.workdir: Path | None = None
        self._kubelet: Kubelet | None = None
        self.jobs: dict[str, Pod] = {}
        self.deployments: dict[str, Pod] = {}

    def __enter__(self) -> RunningPipeline:
        self.workdir = Path(tempfile.mkdtemp(prefix="kubelet-"))
        kubelet = self._kubelet = Kubelet(self._objects, self.workdir, secrets=self._secrets, timeout=self._timeout)
        try:
            for step in apply_steps(self._objects):
                kubelet.created += step
                for obj in step:
                    if obj["kind"] == "Job":
                        self.jobs[obj["metadata"]["name"]] = kubelet.run_job(obj)
                    elif obj["kind"] == "Deployment":
                        self.deployments[obj["metadata"]["name"]] = kubelet.start_deployment(obj)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every Deployment's containers and remove the work folder."""
        for pod in self.deployments.values():
            pod.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def claim(self, name: str) -> Path:
        """The host folder standing for the PersistentVolumeClaim ``name`` while the pipeline runs."""
        if self._kubelet is None:
            raise RuntimeError("the pipeline is not running: use it in a with block")
        return self._kubelet.claim(name)

    def logs(self, owner: str) -> str:
        """Every container log of the pod of a Job or Deployment, in the order the containers started."""
        pod = self.jobs.get(owner) or self.deployments[owner]
        return "\n".join(f"--- {c.name}\n{c.log.read_text(errors='replace')}" for c in pod.containers)


def run_pipeline(
    objects: Sequence[Mapping[str, Any]],
    *,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> RunningPipeline:
    """The pipeline of rendered ``objects`` to run in a ``with`` block (see RunningPipeline); ``secrets``: name ->
    key -> value of the Secrets the cluster would hold (those in ``objects`` count too)."""
    return RunningPipeline(objects, secrets=secrets, timeout=timeout)


def job_of_cron_job(cron_job: Mapping[str, Any], scheduled: datetime) -> dict[str, Any]:
    """The Job that the CronJob controller creates for the scheduled time ``scheduled``: named ``<cronjob>-<minutes
    since the epoch>``, with the jobTemplate's metadata and spec and the scheduled-timestamp annotation."""
    template = cron_job["spec"]["jobTemplate"]
    metadata = template.get("metadata", {})
    stamp = scheduled.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"{cron_job['metadata']['name']}-{int(scheduled.timestamp() // 60)}",
            "namespace": cron_job["metadata"].get("namespace"),
            "labels": dict(metadata.get("labels", {})),
            "annotations": {
                **metadata.get("annotations", {}),
                "batch.kubernetes.io/cronjob-scheduled-timestamp": stamp,
            },
        },
        "spec": template["spec"],
    }


# --- inside the namespaces: process 1 -----------------------------------------------------------


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _top_mounts() -> list[str]:
    """The mount points right under the root mount, as /proc/self/mountinfo lists them (octal escapes decoded)."""
    rows = [line.split() for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    root = [row[0] for row in rows if row[4] == "/"][-1]
    points = [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), row[4]) for row in rows if row[1] == root]
    return list(dict.fromkeys(points))


def _container_main(plan_file: str) -> None:
    """Build the container's root and exec its command (runs as root, process 1 of new mount and PID namespaces)."""
    plan = json.loads(Path(plan_file).read_text())
    plan_parent = os.getppid()
    stage = Path(plan["stage"])
    stage.mkdir()
    _mount("-t", "tmpfs", "-o", "mode=0755", "kubelet", str(stage))
    for folder in ("upper", "work", "root"):
        (stage / folder).mkdir()
    root = stage / "root"
    _mount(
        "-t", "overlay", "overlay", "-o", f"lowerdir=/,upperdir={stage / 'upper'},workdir={stage / 'work'}", str(root)
    )
    # After the overlay (which clones its upper folder's mount): copies of the host's mounts leave this one out.
    _mount("--make-unbindable", str(stage))
    for point in _top_mounts():
        if point != "/proc" and not (Path(point) == stage or stage in Path(point).parents):
            _mount("--rbind", point, str(root) + point)
    _mount("-t", "proc", "proc", str(root / "proc"))
    for mount in sorted(plan["mounts"], key=lambda m: len(Path(m["target"]).parts)):
        target = root / mount["target"].lstrip("/")
        if Path(mount["source"]).is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
        _mount("--bind", mount["source"], str(target))
        if mount["readOnly"]:
            _mount("-o", "remount,bind,ro", str(target))
    (root / plan["workingDir"].lstrip("/")).mkdir(parents=True, exist_ok=True)
    if plan["readOnlyRoot"]:
        _mount("-o", "remount,bind,ro", str(root))
    os.chroot(root)
    os.chdir(plan["workingDir"])
    os.setgroups(plan["groups"])
    os.setgid(plan["gid"])
    os.setuid(plan["uid"])
    # A change of user clears unshare's --kill-child: ask again to die with unshare (e.g. when the tests are killed).
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != plan_parent:
        sys.exit(128 + signal.SIGKILL)
    try:
        os.execvpe(plan["argv"][0], plan["argv"], plan["env"])
    except OSError as error:
        print(f"kubelet: cannot exec {plan['argv'][0]}: {error}", file=sys.stderr)
        sys.exit(128)


if __name__ == "__main__":
    _container_main(sys.argv[1])
