# syntax=docker/dockerfile:1
# One image for every impactline process: `docker run IMAGE serve ingest|correlate|impact|api`.
# The build installs the package with pip from pyproject.toml, exactly as `make install` does
# locally (without the test extras).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/impactline
WORKDIR /src
# Only what the package build reads, so edits to docs or tests do not invalidate this layer.
COPY pyproject.toml README.md ./
COPY services ./services
RUN /opt/impactline/bin/pip install --upgrade pip \
 && /opt/impactline/bin/pip install .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="impactline" \
      org.opencontainers.image.description="CI telemetry to business experience-impact events" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric uid lets Kubernetes check runAsNonRoot and lets Compose hand it secret files.
RUN groupadd --system --gid 10001 impactline \
 && useradd --system --uid 10001 --gid impactline --home-dir /var/lib/impactline \
      --shell /usr/sbin/nologin impactline \
 && install -d -o impactline -g impactline /var/lib/impactline
COPY --from=builder /opt/impactline /opt/impactline
ENV PATH=/opt/impactline/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    IMPACTLINE_STATE_DIR=/var/lib/impactline/state
# Faust keeps its table directory under the working directory, so it must be writable.
WORKDIR /var/lib/impactline
USER 10001:10001
EXPOSE 8080 8081
# No HEALTHCHECK here: what "healthy" means differs per process. The image has python, so
# probes need no extra tools (see docker-compose.yml and deploy/k8s/base).
ENTRYPOINT ["impactline"]
CMD ["--help"]
