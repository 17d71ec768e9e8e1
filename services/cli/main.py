"""The `impactline` command: one entry point, one sub-command group per concern."""

import typer

from impactline.cli import (
    bind,
    calendar,
    catalog,
    change,
    deliveries,
    deploy,
    dev,
    dlq,
    keys,
    maintenance,
    run,
    schemas,
    serve,
    unbound,
)

app = typer.Typer(
    name="impactline",
    help="Turn configuration-item telemetry into live business experience-impact events.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(dev.app, name="dev")
app.add_typer(catalog.app, name="catalog")
app.add_typer(calendar.app, name="calendar")
app.add_typer(change.app, name="change")
app.add_typer(maintenance.app, name="maintenance")
app.add_typer(serve.app, name="serve")
app.add_typer(schemas.app, name="schemas")
app.add_typer(keys.app, name="keys")
app.add_typer(dlq.app, name="dlq")
app.add_typer(bind.app, name="bind")
app.add_typer(unbound.app, name="unbound")
app.add_typer(deliveries.app, name="deliveries")
app.add_typer(deploy.app, name="deploy")
app.command("run", help="Start everything with the demo catalog and scenario.")(run.run)

if __name__ == "__main__":
    app()
