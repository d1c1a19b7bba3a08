"""The routes of a service stage: Ingress annotations and TLS in every format, ingress-nginx's rewrite, Gateway API
HTTPRoutes; checked against the strict schemas and the CRD, and served: an app that answers only at / behind each."""

from __future__ import annotations

import http.client
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from bodywork_render.diagnostics import BodyworkError
from bodywork_render.render.chart import render_chart
from bodywork_render.render.manifests import render_project
from bodywork_render.render.options import RenderOptions
from bodywork_render.render.routes import regex_quote, rewrite_path
from bodywork_render.render.write import write_tree
from bodywork_render.verify.kubernetes import schema_problems
from tests import helmsdk
from tests.renderkit import COMMIT, EXAMPLE, REPO_URL, objects_in, render
from tests.routeproxy import ingress_target, route_proxy

HOST = "ml.example.com"
TLS = """\
  ingress:
    annotations: {cert-manager.io/cluster-issuer: letsencrypt}
    tls: {secret_name: ml-tls}
"""
REWRITE = "  ingress: {nginx_rewrite: true}\n"
GATEWAY = "  gateway: {name: public, namespace: gateways, section_name: https}\n"
# A bodywork-style app (as the corpus's Flask apps): it answers at / and knows nothing of a prefix.
APP = """\
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class App(BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = (200, b"scored") if self.path.split("?")[0] == "/" else (404, self.path.encode())
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), App)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def project_with(tmp_path: Path, pipeline_lines: str) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(EXAMPLE, folder)
    config = folder / "bodywork.yaml"
    config.write_text(config.read_text().replace("stages:\n", pipeline_lines + "stages:\n", 1))
    return folder


def routes(objects: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects if o["kind"] in ("Ingress", "HTTPRoute")}


def pod_env(objects: Sequence[dict[str, Any]]) -> dict[str, str]:
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    return {e["name"]: e.get("value", "") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def chart_objects(project: Path, tmp_path: Path, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    rendered = render_chart(project, RenderOptions(format="helm", ingress_host=HOST), repo_url=REPO_URL, ref=COMMIT)
    write_tree(tmp_path / "chart", rendered.files)
    return helmsdk.template_objects(tmp_path / "chart", values, release="train-and-serve", namespace="train-and-serve")


# -- what is rendered -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["manifests", "kustomize", "helm"])
def test_ingress_annotations_and_tls_in_every_format(layout: str, tmp_path: Path) -> None:
    project = project_with(tmp_path, TLS)
    if layout == "helm":
        objects = chart_objects(project, tmp_path)
    else:
        objects = objects_in(render(project, format=layout, ingress_host=HOST).files)
    ingress = routes(objects)["Ingress"]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert ingress["spec"]["tls"] == [{"hosts": [HOST], "secretName": "ml-tls"}]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["pathType"] == "Prefix"
    assert pod_env(objects)["BODYWORK_ROUTE_PREFIX"] == "/train-and-serve/serve"
    assert schema_problems([ingress]) == []


def test_a_chart_installed_for_another_host_serves_tls_for_that_host(tmp_path: Path) -> None:
    other = "ml.example.org"
    ingress = routes(chart_objects(project_with(tmp_path, TLS), tmp_path, {"ingress": {"host": other}}))["Ingress"]
    assert ingress["spec"]["tls"] == [{"hosts": [other], "secretName": "ml-tls"}]
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == [other]


def test_nginx_rewrite_routes_a_capture_group_path_and_the_pods_get_no_prefix(tmp_path: Path) -> None:
    objects = render(project_with(tmp_path, REWRITE), ingress_host=HOST).objects
    ingress = routes(objects)["Ingress"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"] == "/$2"
    assert ingress["spec"]["rules"][0]["http"]["paths"][0] == {
        "path": "/train-and-serve/serve(/|$)(.*)",
        "pathType": "ImplementationSpecific",
        "backend": {"service": {"name": "train-and-serve-serve", "port": {"number": 8000}}},
    }
    assert "BODYWORK_ROUTE_PREFIX" not in pod_env(objects)
    assert schema_problems([ingress]) == []


@pytest.mark.parametrize("path", ["/", "/api/", "/api"])
def test_the_charts_rewrite_of_a_path_with_a_trailing_slash_or_the_root_routes_the_rest(
    path: str, tmp_path: Path
) -> None:
    values = {"ingress": {"nginxRewrite": True}, "stages": {"serve": {"ingress": {"path": path}}}}
    ingress = routes(chart_objects(project_with(tmp_path, ""), tmp_path, values))["Ingress"]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == rewrite_path(path)
    backend = ("train-and-serve-serve", 8000)
    prefix = path.removesuffix("/")
    assert ingress_target(ingress, HOST, f"{prefix}/predict") == (backend, "/predict")
    assert ingress_target(ingress, HOST, f"{prefix}/") == (backend, "/")
    assert ingress_target(ingress, HOST, prefix or "/") == (backend, "/")
    assert schema_problems([ingress]) == []


def test_tls_without_a_host_is_warned_about(tmp_path: Path) -> None:
    project = project_with(tmp_path, TLS)
    (warning,) = render(project).warnings
    assert "names no hosts and there is no ingress host" in warning and "cert-manager" in warning
    assert render(project, ingress_host=HOST).warnings == ()
    assert all("names no hosts" not in w for w in render(project_with(tmp_path / "gw", TLS + GATEWAY)).warnings)


def test_a_gateway_gets_an_httproute_per_service_stage_instead_of_an_ingress(tmp_path: Path) -> None:
    objects = render(project_with(tmp_path, GATEWAY), ingress_host=HOST).objects
    found = routes(objects)
    assert list(found) == ["HTTPRoute"]
    assert found["HTTPRoute"]["metadata"]["name"] == "train-and-serve-serve"
    assert found["HTTPRoute"]["spec"] == {
        "parentRefs": [{"name": "public", "namespace": "gateways", "sectionName": "https"}],
        "hostnames": [HOST],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/train-and-serve/serve"}}],
                "filters": [
                    {
                        "type": "URLRewrite",
                        "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                    }
                ],
                "backendRefs": [{"name": "train-and-serve-serve", "port": 8000}],
            }
        ],
    }
    assert "BODYWORK_ROUTE_PREFIX" not in pod_env(objects)
    assert schema_problems(list(found.values())) == []  # the upstream HTTPRoute CRD, strictly


@pytest.mark.skipif(sys.version_info < (3, 11), reason="common-expression-language needs Python 3.11+")
def test_the_httproute_passes_the_crds_cel_rules(tmp_path: Path) -> None:
    from tests.crd_rules import rule_problems

    for layout in ("manifests", "kustomize"):
        route = routes(objects_in(render(project_with(tmp_path / layout, GATEWAY), format=layout).files))["HTTPRoute"]
        assert rule_problems(route) == []


@pytest.mark.parametrize("lines", [TLS + "    nginx_rewrite: true\n", GATEWAY], ids=["rewrite-tls", "gateway"])
def test_the_chart_renders_the_manifests_routes_and_its_values_switch_them(lines: str, tmp_path: Path) -> None:
    project = project_with(tmp_path, lines)
    manifests = render(project, ingress_host=HOST).objects
    charted = chart_objects(project, tmp_path)

    def comparable(objects: Sequence[dict[str, Any]]) -> dict[str, Any]:
        found = routes(objects)
        for route in found.values():
            route["metadata"]["labels"] = {}
        return {"routes": found, "env": pod_env(objects)}

    assert comparable(charted) == comparable(list(manifests))
    switched = chart_objects(project, tmp_path / "b", {"gateway": {"name": ""}, "ingress": {"nginxRewrite": False}})
    assert list(routes(switched)) == ["Ingress"]
    assert pod_env(switched)["BODYWORK_ROUTE_PREFIX"] == "/train-and-serve/serve"
    to_gateway = chart_objects(project, tmp_path / "c", {"gateway": {"name": "edge", "namespace": ""}})
    assert routes(to_gateway)["HTTPRoute"]["spec"]["parentRefs"][0]["name"] == "edge"
    assert schema_problems(list(routes(to_gateway).values())) == []


@pytest.mark.parametrize(
    ("lines", "line"),
    [
        (TLS, "through the Ingress: https://ml.example.com/train-and-serve/serve"),
        (
            TLS + GATEWAY,  # the Gateway's listener, not ingress.tls, decides the scheme
            "through Gateway gateways/public: ml.example.com/train-and-serve/serve (http or https, as its listener"
            " serves)",
        ),
    ],
    ids=["ingress-tls", "gateway"],
)
def test_the_charts_notes_name_the_route_that_serves_a_stage(lines: str, line: str, tmp_path: Path) -> None:
    rendered = render_chart(
        project_with(tmp_path, lines), RenderOptions(format="helm", ingress_host=HOST), repo_url=REPO_URL, ref=COMMIT
    )
    write_tree(tmp_path / "chart", rendered.files)
    notes = helmsdk.template(tmp_path / "chart", release="train-and-serve", namespace="ml")["templates/NOTES.txt"]
    assert [text.strip() for text in notes.splitlines() if "through" in text] == [line]


def test_regex_quote_escapes_as_gos_quotemeta() -> None:
    assert regex_quote("/a-b.c/d") == r"/a-b\.c/d"
    assert regex_quote("x+*?()|[]{}^$\\") == r"x\+\*\?\(\)\|\[\]\{\}\^\$\\"


# -- environments and errors ------------------------------------------------------------------------------------


def test_overlays_change_the_routes_per_environment(tmp_path: Path) -> None:
    project = project_with(tmp_path, TLS)
    (project / "bodywork.prod.yaml").write_text("pipeline:\n  ingress_host: ml.example.com\n" + GATEWAY)
    (project / "bodywork.staging.yaml").write_text(
        "pipeline:\n  ingress_host: staging.example.com\n  ingress:\n    nginx_rewrite: true\n"
        "    tls: {secret_name: staging-tls, hosts: [staging.example.com]}\n"
    )

    def rendered(env: str | None) -> dict[str, dict[str, Any]]:
        return routes(render_project(project, RenderOptions(), env=env, repo_url=REPO_URL, ref=COMMIT).objects)

    base, prod, staging = rendered(None), rendered("prod"), rendered("staging")
    assert base["Ingress"]["spec"]["tls"] == [{"secretName": "ml-tls"}]  # no host known: the default certificate
    assert list(prod) == ["HTTPRoute"] and prod["HTTPRoute"]["spec"]["hostnames"] == [HOST]
    assert render_project(project, RenderOptions(), env="prod", repo_url=REPO_URL, ref=COMMIT).warnings == (
        "warning: pipeline.ingress (annotations, tls, nginx_rewrite) is not used: pipeline.gateway routes the service"
        " stages with HTTPRoutes instead of Ingresses (TLS is the Gateway listener's)",
    )
    ingress = staging["Ingress"]
    assert ingress["spec"]["tls"] == [{"hosts": ["staging.example.com"], "secretName": "staging-tls"}]
    assert "cert-manager.io/cluster-issuer" not in ingress["metadata"]["annotations"]  # replaced as a whole
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["pathType"] == "ImplementationSpecific"


def test_an_overlay_drops_the_base_files_gateway_with_null(tmp_path: Path) -> None:
    project = project_with(tmp_path, TLS + GATEWAY)
    (project / "bodywork.dev.yaml").write_text("pipeline:\n  gateway: null   # no Gateway in the dev cluster\n")
    dev = render_project(project, RenderOptions(), env="dev", repo_url=REPO_URL, ref=COMMIT)
    assert list(routes(dev.objects)) == ["Ingress"]
    assert routes(dev.objects)["Ingress"]["spec"]["tls"] == [{"secretName": "ml-tls"}]
    (warning,) = dev.warnings  # that TLS entry names no host: cert-manager would skip it
    assert "names no hosts and there is no ingress host" in warning
    assert list(routes(render_project(project, RenderOptions(), repo_url=REPO_URL, ref=COMMIT).objects)) == [
        "HTTPRoute"
    ]


def test_bad_route_settings_are_errors_with_their_position(tmp_path: Path) -> None:
    project = project_with(tmp_path, "")
    (project / "bodywork.prod.yaml").write_text(
        "pipeline:\n  gateway: {namespace: Gateways}\n  ingress:\n    annotations: {bad key: x, ok/key: 1}\n"
        "    tls: {hosts: [ML.example.com]}\n"
    )
    with pytest.raises(BodyworkError) as raised:
        render_project(project, RenderOptions(), env="prod", repo_url=REPO_URL, ref=COMMIT)
    assert [str(d).split("bodywork.prod.yaml:")[1] for d in raised.value.diagnostics] == [
        "2:3: error: pipeline.gateway: missing required field 'name'",
        "2:24: error: pipeline.gateway.namespace: 'Gateways' is not allowed (expected a DNS-1123 label: lower-case"
        " letters, digits and '-', starting and ending with a letter or digit)",
        "4:19: error: pipeline.ingress.annotations.bad key: name 'bad key' is not allowed (expected a label or"
        " annotation key: an optional DNS subdomain and '/', then letters, digits, '-', '_' and '.', letters or"
        " digits at both ends)",
        "4:39: error: pipeline.ingress.annotations.ok/key: expected a string, got the number 1: YAML reads 1 as a"
        ' number; quote it: "1"',
        "5:5: error: pipeline.ingress.tls: missing required field 'secret_name'",
        "5:19: error: pipeline.ingress.tls.hosts[0]: 'ML.example.com' is not allowed (expected a lower-case DNS name"
        " such as ml.example.com, or a wildcard *.example.com)",
    ]


# -- served: an app that answers only at / behind each route form ------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Iterator[int]:
    """A bodywork-style app in its own process on 127.0.0.1: 200 at /, else 404 naming the path it got."""
    script = tmp_path / "app.py"
    script.write_text(APP)
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": HOST})
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "lines, served",
    [
        ("", False),  # the plain Ingress forwards /<pipeline>/<stage>/ whole: an app that answers at / says 404
        (REWRITE, True),
        (GATEWAY, True),
    ],
    ids=["ingress", "ingress-nginx-rewrite", "httproute"],
)
def test_an_app_that_answers_at_root_behind_each_route(lines: str, served: bool, app: int, tmp_path: Path) -> None:
    objects = render(project_with(tmp_path, lines), ingress_host=HOST).objects
    (route,) = routes(objects).values()
    service = next(o for o in objects if o["kind"] == "Service")
    backends = {(service["metadata"]["name"], service["spec"]["ports"][0]["port"]): app}
    with route_proxy(route, backends) as proxy:
        if not served:
            assert get(proxy, "/train-and-serve/serve/") == (404, "/train-and-serve/serve/")
            return
        assert get(proxy, "/train-and-serve/serve/") == (200, "scored")
        assert get(proxy, "/train-and-serve/serve") == (200, "scored")
        assert get(proxy, "/train-and-serve/serve/?x=1") == (200, "scored")
        assert get(proxy, "/train-and-serve/serve/model/v1") == (404, "/model/v1")  # the rest of the path is kept
        assert get(proxy, "/train-and-serve/server/")[0] == 404  # a prefix of a segment is no match
        assert get(proxy, "/other/")[0] == 404
