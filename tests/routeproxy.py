"""A reverse proxy on 127.0.0.1 that routes as a rendered Ingress or HTTPRoute says, for the route tests.

It reads the rendered object, not paths of its own: an Ingress path of pathType Prefix matches whole
path segments and forwards the path unchanged, unless ingress-nginx's rewrite-target annotation is
set, whose path is a regular expression matched at the start of the path, case-insensitively, the
request path being replaced by the target with $1..$9 taken from the groups (nginx's `rewrite ...
break`); an HTTPRoute's PathPrefix match is a segment-wise prefix and its URLRewrite
ReplacePrefixMatch replaces the matched prefix. Hosts are matched; the query string is kept.
"""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REWRITE_TARGET = "nginx.ingress.kubernetes.io/rewrite-target"

Backend = tuple[str, int]
"""A Service's name and port, as a route's backend names them."""


def _segment_prefix(prefix: str, path: str) -> bool:
    prefix = prefix.rstrip("/") or "/"
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


def _expand(target: str, match: re.Match[str]) -> str:
    """nginx's rewrite target with $1..$9 replaced by the groups of the match."""
    return re.sub(r"\$(\d)", lambda ref: match.group(int(ref[1])) or "", target)


def ingress_target(ingress: Mapping[str, Any], host: str, path: str) -> tuple[Backend, str] | None:
    """The backend and upstream path of a request, as ingress-nginx routes it; None for no match (404)."""
    rewrite = ingress["metadata"].get("annotations", {}).get(REWRITE_TARGET)
    for rule in ingress["spec"]["rules"]:
        if rule.get("host", host) != host:
            continue
        for entry in rule["http"]["paths"]:
            backend = entry["backend"]["service"]
            target = (backend["name"], backend["port"]["number"])
            if rewrite is None:
                if entry["pathType"] == "Prefix" and _segment_prefix(entry["path"], path):
                    return target, path
                if entry["pathType"] == "Exact" and entry["path"] == path:
                    return target, path
                continue
            match = re.match(entry["path"], path, re.IGNORECASE)
            if match:
                return target, _expand(rewrite, match)
    return None


def http_route_target(route: Mapping[str, Any], host: str, path: str) -> tuple[Backend, str] | None:
    """The backend and upstream path of a request, as a Gateway API implementation routes it; None for 404."""
    hostnames = route["spec"].get("hostnames")
    if hostnames and host not in hostnames:
        return None
    for rule in route["spec"]["rules"]:
        for match in rule.get("matches", [{"path": {"type": "PathPrefix", "value": "/"}}]):
            prefix = match["path"]["value"]
            if match["path"]["type"] != "PathPrefix" or not _segment_prefix(prefix, path):
                continue
            upstream = path
            for f in rule.get("filters", []):
                rewrite = f.get("urlRewrite", {}).get("path", {}) if f["type"] == "URLRewrite" else {}
                if rewrite.get("type") == "ReplacePrefixMatch":
                    rest = path[len(prefix.rstrip("/")) :]
                    replacement = rewrite["replacePrefixMatch"]
                    if replacement.endswith("/") and rest.startswith("/"):
                        rest = rest[1:]
                    upstream = (replacement + rest) or "/"
            backend = rule["backendRefs"][0]
            return (backend["name"], backend["port"]), upstream
    return None


@contextmanager
def route_proxy(route: Mapping[str, Any], services: Mapping[Backend, int]) -> Iterator[int]:
    """A proxy routing as ``route`` (an Ingress or an HTTPRoute) to the local ports of ``services``; yields its port."""
    target_of = ingress_target if route["kind"] == "Ingress" else http_route_target

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            host = (self.headers.get("Host") or "").split(":")[0]
            found = target_of(route, host, path)
            if found is None or found[0] not in services:
                self.send_error(404, "no route")
                return
            backend, upstream = found
            connection = http.client.HTTPConnection("127.0.0.1", services[backend], timeout=10)
            try:
                connection.request("GET", upstream + (f"?{query}" if query else ""))
                answer = connection.getresponse()
                body = answer.read()
            finally:
                connection.close()
            self.send_response(answer.status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
