"""``headrace serve MODEL@ALIAS``: the model server in the foreground."""

from __future__ import annotations

import click

from headrace.cli._refs import open_client


@click.command()
@click.argument("target", metavar="MODEL@ALIAS")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="The port to listen on.",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.05),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="How often to check whether the alias moved to another version.",
)
@click.option(
    "--log-interval",
    type=click.FloatRange(min=0.05),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How often logged requests are written to the inference_log artifact.",
)
def serve(target: str, host: str, port: int, poll: float, log_interval: float) -> None:
    """Serve the version MODEL@ALIAS points at over HTTP: POST /predict, GET /health,
    GET /metrics. When the alias moves, the new version is loaded and swapped in
    without dropping requests. Needs the `serve` extra (FastAPI, uvicorn).

    \b
    Example:
      headrace serve churn@production --port 8080
      curl -d '{"records": [{"tenure_months": 3, ...}]}' localhost:8080/predict
    """
    from headrace.errors import MissingExtraError
    from headrace.serving.app import ModelServer, create_app, parse_target

    try:
        import uvicorn
    except ImportError as exc:
        raise MissingExtraError("uvicorn", "serve", purpose="serving models") from exc
    model, alias = parse_target(target)
    server = ModelServer(open_client(), model, alias, poll_interval=poll, log_interval=log_interval)
    app = create_app(server)
    current = server.current
    click.echo(
        f"serving {model}@{alias} (version {current.version}, {current.version_id[:12]}) "
        f"on http://{host}:{port}",
        err=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
