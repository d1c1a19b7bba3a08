"""Batch stage `train`: fit a regression model to scikit-learn's diabetes data and save it.

The artifacts go to the pipeline's shared storage, the folder named by
$BODYWORK_SHARED_DIR (a volume in the cluster, a local folder under `bodywork
run`), or to `artifacts/` in the project folder (beside bodywork.yaml) when it
is unset; the folder is created if missing. Two files are written, each atomically:

- model.joblib: the fitted scikit-learn pipeline;
- metrics.json: its scores on held-out data and what the service needs to
  check its input (the number and names of the features).

The stage fails (exit code 1) when the model explains less than MIN_R2 of the
variance of held-out data, so that a bad model never reaches the service.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import joblib
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

MODEL_FILE = "model.joblib"
METRICS_FILE = "metrics.json"
MIN_R2 = 0.3
SEED = 42

log = logging.getLogger("train")


def artifact_dir() -> Path:
    """The folder shared with the `serve` stage."""
    configured = os.environ.get("BODYWORK_SHARED_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[1] / "artifacts"


def train() -> tuple[Pipeline, dict[str, Any]]:
    """Fit the model on 80% of the data; score it on the other 20%."""
    data = load_diabetes()
    x_train, x_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.2, random_state=SEED)
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=(0.01, 0.1, 1.0, 10.0, 100.0)))
    model.fit(x_train, y_train)
    predicted = model.predict(x_test)
    metrics = {
        "r2": round(float(r2_score(y_test, predicted)), 4),
        "mean_absolute_error": round(float(mean_absolute_error(y_test, predicted)), 2),
        "n_train": len(x_train),
        "n_test": len(x_test),
        "n_features": int(data.data.shape[1]),
        "feature_names": list(data.feature_names),
        "target_range": [float(data.target.min()), float(data.target.max())],
        "commit": os.environ.get("BODYWORK_COMMIT", "unknown"),
    }
    return model, metrics


def _write_atomically(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, so a reader never sees half a file."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def save(model: Pipeline, metrics: dict[str, Any], folder: Path) -> None:
    """Save the model and its metrics into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder / MODEL_FILE, lambda path: joblib.dump(model, path))
    _write_atomically(folder / METRICS_FILE, lambda path: path.write_text(json.dumps(metrics, indent=2) + "\n"))


def main() -> int:
    """Train, check, save."""
    logging.basicConfig(
        level=os.environ.get("BODYWORK_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    model, metrics = train()
    log.info("held-out R2 %.3f, mean absolute error %.1f", metrics["r2"], metrics["mean_absolute_error"])
    if metrics["r2"] < MIN_R2:
        log.error("R2 %.3f is below the minimum of %.2f: the model is not saved", metrics["r2"], MIN_R2)
        return 1
    folder = artifact_dir()
    save(model, metrics, folder)
    log.info("saved %s and %s in %s", MODEL_FILE, METRICS_FILE, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
