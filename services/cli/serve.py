"""`impactline serve`: run one process of the system in the foreground."""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Annotated

import typer

from impactline.runtime.settings import Settings
from impactline.runtime.supervisor import stop_with_supervisor

app = typer.Typer(help="Run one impactline process in the foreground.", no_args_is_help=True)


@app.callback()
def _serve() -> None:
    # A process started by `impactline run` or the tests ends with the process that started it.
    stop_with_supervisor()


HostOpt = Annotated[str, typer.Option(help="Address to listen on.")]
LogOpt = Annotated[str, typer.Option(help="Log level: debug, info, warning, error.")]


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _http(module: str, host: str, port: int, log_level: str) -> None:
    """Serve `impactline.<module>.app.create_app` with uvicorn."""
    import uvicorn

    from impactline.runtime.http_limits import HttpLimits, header_timeout_protocol

    _logging(log_level)
    create_app = import_module(f"impactline.{module}.app").create_app
    limits = HttpLimits()
    # No access log: a line per request is a cost on the hot path; /metrics and traces cover it.
    uvicorn.run(
        create_app(Settings()),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        http=header_timeout_protocol(limits.header_timeout_s),
    )


def _stream(module: str, log_level: str, worker_id: str | None) -> None:
    """Run `impactline.<module>.app.create_process` until SIGINT/SIGTERM."""
    from impactline.runtime.stream import run_stream

    _logging(log_level)
    settings = Settings()
    if worker_id:
        settings = settings.model_copy(update={"worker_id": worker_id})
    run_stream(import_module(f"impactline.{module}.app").create_process(settings), log_level)


WorkerIdOpt = Annotated[
    str | None,
    typer.Option(
        help="Stable name of this worker among its group (default: IMPACTLINE_WORKER_ID, else "
        "host name and process id). A restart under the same name takes over at once."
    ),
]


@app.command()
def ingest(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
    host: HostOpt = "127.0.0.1",
    log_level: LogOpt = "info",
) -> None:
    """The HTTP ingest API: POST /v1/events and the other input formats."""
    _http("ingest", host, port, log_level)


@app.command()
def api(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    host: HostOpt = "127.0.0.1",
    log_level: LogOpt = "info",
) -> None:
    """The query API and dashboard: services, incidents, catalog."""
    _http("api", host, port, log_level)


@app.command()
def correlate(log_level: LogOpt = "info", worker_id: WorkerIdOpt = None) -> None:
    """The correlate stream worker: CI telemetry to incidents and business service health."""
    _stream("correlate", log_level, worker_id)


@app.command()
def impact(log_level: LogOpt = "info", worker_id: WorkerIdOpt = None) -> None:
    """The impact stream worker: service health to experience-impact events and the ledger."""
    _stream("impact", log_level, worker_id)


@app.command()
def notify(
    port: Annotated[
        int, typer.Option(help="Port of the back-sync, health and metrics API.")
    ] = 8082,
    host: HostOpt = "127.0.0.1",
    log_level: LogOpt = "info",
) -> None:
    """The delivery service: alerts and ITSM records to PagerDuty, Opsgenie, Slack, Teams,
    ServiceNow, Jira and webhooks (route file: IMPACTLINE_NOTIFY_ROUTES), and their
    acknowledgements back."""
    _http("notify", host, port, log_level)
