"""``headrace init`` and ``headrace version``: making a home and saying which one is used."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click

from headrace import __version__
from headrace.cli import _output as out
from headrace.cli._errors import state

CONFIG_TEMPLATE = """\
# headrace settings for this home. Every key is optional; the environment
# variables named below override them.

# Metadata store: a SQLAlchemy URL (HEADRACE_METADATA_URL).
# Default: the SQLite file headrace.db in this folder.
# metadata_url: postgresql+psycopg://user@localhost:5432/headrace

# Artifact store: a folder or an fsspec URL such as s3://bucket/prefix
# (HEADRACE_ARTIFACT_URI). Default: the artifacts/ folder here.
# artifact_uri: s3://my-bucket/headrace

# The orchestrator that runs steps.
# orchestrator:
#   flavor: local
#   max_parallel: 4
"""


@click.command()
def init() -> None:
    """Create a .headrace/ home in the current folder: config.yaml with commented
    defaults, the SQLite metadata store and the artifact folder.

    Running it again creates only what is missing. With `headrace --home PATH init`
    the home is PATH instead.
    """
    from headrace.home import CONFIG_FILE, PROJECT_FOLDER, ensure_home, resolve_settings
    from headrace.store.artifacts import open_artifact_store
    from headrace.store.stores import open_metadata_store

    folder = state().home or (Path.cwd() / PROJECT_FOLDER)
    existed = folder.is_dir()
    ensure_home(folder)
    report = [("created" if not existed else "exists ", f"{folder}{os.sep}")]

    config = folder / CONFIG_FILE
    if config.exists():
        report.append(("exists ", f"{config}"))
    else:
        with open(config, "x", encoding="utf-8") as handle:
            handle.write(CONFIG_TEMPLATE)
        report.append(("created", f"{config}  (commented defaults)"))

    settings = resolve_settings(folder)
    sqlite = _sqlite_file(settings.metadata_url)
    had_db = sqlite.exists() if sqlite else False
    open_metadata_store(settings).close()
    verb = "exists " if (sqlite is None or had_db) else "created"
    report.append((verb, f"{mask_password(settings.metadata_url)}  (metadata store)"))

    local = _local_folder(settings.artifact_uri)
    had_artifacts = local.is_dir() if local else False
    open_artifact_store(settings.artifact_uri)
    verb = "exists " if (local is None or had_artifacts) else "created"
    report.append((verb, f"{settings.artifact_uri}{os.sep if local else ''}  (artifact store)"))

    for verb, what in report:
        click.echo(f"{out.style(verb, fg='green') if verb == 'created' else out.dim(verb)} {what}")
    env_home = os.environ.get("HEADRACE_HOME")
    if (
        state().home is None
        and env_home
        and Path(env_home).expanduser().resolve() != folder.resolve()
    ):
        click.echo(
            f"note: HEADRACE_HOME is set to {env_home}, so headrace uses that home, not this one",
            err=True,
        )


@click.command()
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also show the home in use, how it was found, and the stores.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the same facts as JSON.")
def version(verbose: bool, as_json: bool) -> None:
    """Show the headrace version; with --verbose, which home is in use and why."""
    facts: dict[str, Any] = {"headrace": __version__, "python": platform.python_version()}
    if verbose or as_json:
        facts.update(_home_facts())
    if as_json:
        out.echo_json(facts)
        return
    click.echo(f"headrace {__version__}")
    if not verbose:
        return
    rows = [
        ("python", f"{facts['python']} ({sys.executable})"),
        ("home", f"{facts['home']}  (from {facts['home_source']})"),
        ("config", facts["config"] or "none"),
        ("metadata", f"{facts['metadata_url']}  (from {facts['metadata_url_source']})"),
        ("artifacts", f"{facts['artifact_uri']}  (from {facts['artifact_uri_source']})"),
    ]
    for label, value in rows:
        click.echo(f"  {label:<10} {value}")


def _home_facts() -> dict[str, Any]:
    from headrace.home import CONFIG_FILE, find_home, read_config, resolve_settings

    chosen = state().home
    if chosen is not None:
        folder, source = chosen, "the --home option"
    else:
        folder, found_by = find_home()
        source = {
            "HEADRACE_HOME": "the HEADRACE_HOME variable",
            "project": "the nearest .headrace/ folder",
            "user default": "the per-user default",
        }.get(found_by, found_by)
    settings = resolve_settings(folder)
    config = read_config(folder)

    def origin(variable: str, key: str) -> str:
        if os.environ.get(variable):
            return f"the {variable} variable"
        return CONFIG_FILE if config.get(key) else "the home default"

    config_file = folder / CONFIG_FILE
    return {
        "home": str(folder),
        "home_source": source,
        "home_exists": folder.is_dir(),
        "config": str(config_file) if config_file.is_file() else None,
        "metadata_url": mask_password(settings.metadata_url),
        "metadata_url_source": origin("HEADRACE_METADATA_URL", "metadata_url"),
        "artifact_uri": mask_password(settings.artifact_uri),
        "artifact_uri_source": origin("HEADRACE_ARTIFACT_URI", "artifact_uri"),
    }


def mask_password(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _sqlite_file(url: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(url[len(prefix) :]) if url.startswith(prefix) and url != prefix else None


def _local_folder(uri: str) -> Path | None:
    if "://" not in uri:
        return Path(uri)
    return Path(urlsplit(uri).path) if uri.startswith("file://") else None
