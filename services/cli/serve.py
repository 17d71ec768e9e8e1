"""`impactline serve`: run one process of the system in the foreground."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from impactline.runtime.settings import Settings

app = typer.Typer(help="Run one impactline process in the foreground.", no_args_is_help=True)

HostOpt = Annotated[str, typer.Option(help="Address to listen on.")]
LogOpt = Annotated[str, typer.Option(help="Log level: debug, info, warning, error.")]


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def ingest(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
    host: HostOpt = "127.0.0.1",
    log_level: LogOpt = "info",
) -> None:
    """The HTTP ingest API: POST /v1/events."""
    import uvicorn

    from impactline.ingest.app import create_app

    _logging(log_level)
    uvicorn.run(create_app(Settings()), host=host, port=port, log_level=log_level)


@app.command()
def api(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    host: HostOpt = "127.0.0.1",
    log_level: LogOpt = "info",
) -> None:
    """The query API: GET /v1/services, GET/PUT /v1/catalog."""
    import uvicorn

    from impactline.api.app import create_app

    _logging(log_level)
    uvicorn.run(create_app(Settings()), host=host, port=port, log_level=log_level)


@app.command()
def correlate(log_level: LogOpt = "info") -> None:
    """The correlate stream worker: CI states to business service health."""
    from impactline.correlate.app import create_app
    from impactline.runtime.streams import run_worker

    _logging(log_level)
    run_worker(create_app(Settings()), log_level)


@app.command()
def impact(log_level: LogOpt = "info") -> None:
    """The impact stream worker: service health to experience-impact events and the ledger."""
    from impactline.impact.app import create_app
    from impactline.runtime.streams import run_worker

    _logging(log_level)
    run_worker(create_app(Settings()), log_level)
