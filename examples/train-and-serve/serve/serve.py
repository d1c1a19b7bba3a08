"""Service stage `serve`: the trained model's predictions over HTTP.

    GET  /health    200 {"status": "ok", "model": {...metrics of the model...}}
    POST /predict   {"features": [[x1, ..., x10], ...]}  ->  200 {"predictions": [y, ...]}

A bad request gets 400 with {"error": "..."}. The model is read at start-up
from the shared storage written by the `train` stage: $BODYWORK_SHARED_DIR,
or `artifacts/` in the project folder when it is unset. The port is --port,
else $PORT, else 8000. SIGTERM or SIGINT stops the server cleanly: requests
in flight finish, then the process exits with code 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

import joblib

MODEL_FILE = "model.joblib"
METRICS_FILE = "metrics.json"
DEFAULT_PORT = 8000
MAX_BODY_BYTES = 1_000_000

log = logging.getLogger("serve")


def artifact_dir() -> Path:
    """The folder the `train` stage saved the model in."""
    configured = os.environ.get("BODYWORK_SHARED_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[1] / "artifacts"


class BadRequest(Exception):
    """The request cannot be answered; the message says why."""


def _reject_constant(name: str) -> float:
    raise BadRequest(f"{name} is not a number")


def parse_features(body: bytes, n_features: int) -> list[list[float]]:
    """The rows of features in a /predict request body, each checked for length and type."""
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadRequest(f"the body is not JSON: {error}") from None
    rows = document.get("features") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not rows:
        raise BadRequest('expected {"features": [[...], ...]} with at least one row')
    for index, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != n_features:
            raise BadRequest(f"row {index} must be a list of {n_features} numbers")
        if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in row):
            raise BadRequest(f"row {index} holds a value that is not a number")
        if not all(math.isfinite(value) for value in row):
            raise BadRequest(f"row {index} holds a value that is not finite")
    return rows


class ModelServer(ThreadingHTTPServer):
    """An HTTP server holding the model its handlers predict with."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], model: Any, metrics: dict[str, Any]) -> None:
        super().__init__(address, PredictionHandler)
        self.model = model
        self.metrics = metrics


class PredictionHandler(BaseHTTPRequestHandler):
    """Answers /health and /predict with JSON."""

    server: ModelServer

    @property
    def route(self) -> str:
        """The request path without the Ingress prefix (BODYWORK_ROUTE_PREFIX, e.g. /train-and-serve/serve)."""
        prefix = os.environ.get("BODYWORK_ROUTE_PREFIX", "").rstrip("/")
        if prefix and (self.path == prefix or self.path.startswith(prefix + "/")):
            return self.path[len(prefix) :] or "/"
        return self.path

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        if self.route == "/health":
            self._reply(HTTPStatus.OK, {"status": "ok", "model": self.server.metrics})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path}"})

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        if self.route != "/predict":
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path}"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY_BYTES:
                raise BadRequest(f"the body must hold 1 to {MAX_BODY_BYTES} bytes, with a Content-Length")
            rows = parse_features(self.rfile.read(length), self.server.metrics["n_features"])
        except (BadRequest, ValueError) as error:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        predictions = self.server.model.predict(rows)
        self._reply(HTTPStatus.OK, {"predictions": [round(float(value), 3) for value in predictions]})

    def _reply(self, status: HTTPStatus, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the signature of http.server
        log.info("%s %s", self.address_string(), format % args)


def load(folder: Path) -> tuple[Any, dict[str, Any]]:
    """The model and its metrics, as the `train` stage saved them."""
    model_path = folder / MODEL_FILE
    if not model_path.is_file():
        raise FileNotFoundError(f"no model at {model_path}: run the train stage first")
    metrics = json.loads((folder / METRICS_FILE).read_text())
    return joblib.load(model_path), metrics


def main(argv: list[str] | None = None) -> int:
    """Load the model and serve it until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description="Serve the trained model over HTTP.")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)), help="TCP port")
    options = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("BODYWORK_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    try:
        model, metrics = load(artifact_dir())
    except FileNotFoundError as error:
        log.error("%s", error)
        return 1
    server = ModelServer((options.host, options.port), model, metrics)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        # shutdown() waits for serve_forever(), which runs in this very thread: ask from another.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("serving the model (R2 %.3f) on %s:%d", metrics["r2"], options.host, options.port)
    with server:
        server.serve_forever()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
