# The image of the `bodywork` command: the refresher chart (charts/bodywork-refresher) runs `bodywork refresh`
# in it, and CI pipelines can run `bodywork validate`, `render --check` or `publish` in it.
#
# Build with the repository root as the context (BuildKit, the default builder since Docker 23):
#   docker build --tag ghcr.io/bodywork-render/bodywork-render:0.1.0 .
# .github/workflows/release.yml builds and pushes it on a v* tag.
#
# Both stages start from python:3.12.12-slim-bookworm, pinned by the digest of its multi-platform index
# (.github/dependabot.yml proposes updates).

# --- build: the wheel of this repository ------------------------------------------------------------------------
FROM python:3.12.12-slim-bookworm@sha256:593bd06efe90efa80dc4eee3948be7c0fde4134606dd40d8dd8dbcade98e669c AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# What the wheel is built from: pyproject.toml and the folders it packs (its force-include table).
COPY pyproject.toml README.md ./
COPY bodywork_render/ bodywork_render/
COPY templates/ templates/
COPY schemas/ schemas/
COPY runner/ runner/
COPY examples/train-and-serve/ examples/train-and-serve/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# --- the image: the wheel installed, git and ssh, a non-root user -----------------------------------------------
FROM python:3.12.12-slim-bookworm@sha256:593bd06efe90efa80dc4eee3948be7c0fde4134606dd40d8dd8dbcade98e669c

LABEL org.opencontainers.image.title="bodywork-render" \
      org.opencontainers.image.description="The bodywork command: bodywork.yaml pipelines rendered into Kubernetes objects" \
      org.opencontainers.image.source="https://github.com/bodywork-render/bodywork-render" \
      org.opencontainers.image.licenses="Apache-2.0"

# git: refresh, publish and `render --ref` run it; openssh-client: ssh URLs; ca-certificates: https URLs.
# ssh refuses to start for a uid without a passwd entry, hence the named user 65532, whose home is the HOME
# that the refresher chart mounts an emptyDir on.
# Package versions are not pinned (DL3008): a Debian release's archive holds only the current version of each
# package, so a pin breaks the build at the next security update; the digest above fixes the rest of the base.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install --yes --no-install-recommends ca-certificates git openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 bodywork \
 && useradd --uid 65532 --gid 65532 --home-dir /home/bodywork --create-home --shell /usr/sbin/nologin bodywork

# The wheel is bind-mounted from the build stage, so no copy of it stays in a layer; no pip cache either.
# Its dependencies come from the index at build time, within the ranges pyproject.toml sets.
# pip compiles the bytecode now, as the root filesystem is read-only in the refresher's pod.
RUN --mount=type=bind,from=build,source=/dist,target=/dist \
    PIP_DISABLE_PIP_VERSION_CHECK=1 pip install --no-cache-dir /dist/*.whl

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /work

# Numeric, so that Kubernetes can enforce runAsNonRoot; 65532 is the usual "nonroot".
USER 65532:65532

ENTRYPOINT ["bodywork"]
CMD ["--help"]
