"""`impactline dev`: the local Kafka broker and PostgreSQL server, in the background."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from impactline.runtime.embedded import (
    EmbeddedServerError,
    ensure_infrastructure,
    infrastructure_status,
    install,
    mask_password,
    stop_infrastructure,
)
from impactline.runtime.settings import Settings

app = typer.Typer(
    help="Run the embedded Kafka broker and PostgreSQL server for development.",
    no_args_is_help=True,
)
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _progress(line: str) -> None:
    console.print(f"[dim]{line}[/dim]")


@app.command()
def up() -> None:
    """Start Kafka and PostgreSQL (or reuse running ones) and print how to reach them.

    A server configured with KAFKA_BOOTSTRAP_SERVERS or DATABASE_URL is used as it is.
    """
    settings = Settings()
    try:
        infra = asyncio.run(ensure_infrastructure(settings, progress=_progress))
    except EmbeddedServerError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"KAFKA_BOOTSTRAP_SERVERS={infra.bootstrap}")
    console.print(f"DATABASE_URL={mask_password(infra.database_url)}")
    if not settings.database_url:
        password_file = settings.state_dir / "postgres" / "password"
        console.print(f"[dim]the database password is in {password_file}[/dim]")
    console.print("[dim]stop them with `impactline dev down`[/dim]")


@app.command()
def down() -> None:
    """Stop the embedded Kafka broker and PostgreSQL server."""
    stopped = asyncio.run(stop_infrastructure(settings=Settings()))
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command()
def status() -> None:
    """Show whether each embedded server runs; exit status 1 when one is stopped."""
    settings = Settings()
    all_running = True
    for server in infrastructure_status(settings):
        configured = {
            "kafka": settings.kafka_bootstrap_servers,
            "postgres": settings.database_url,
        }[server.name]
        if configured and not server.running:
            console.print(f"{server.name:<9} external  {mask_password(configured)}")
            continue
        if server.running:
            ports = " ".join(f"{name}={port}" for name, port in server.ports.items())
            console.print(f"{server.name:<9} running   pid {server.pid}  {ports}  {server.address}")
        else:
            all_running = False
            console.print(f"{server.name:<9} stopped   log: {server.log_file}")
    if not all_running:
        raise typer.Exit(1)


@app.command("install")
def install_command() -> None:
    """Download the Kafka jars and make sure a PostgreSQL server is installed; start nothing."""
    try:
        install(Settings(), progress=_progress)
    except EmbeddedServerError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc


if __name__ == "__main__":
    app()
