"""``headrace gc``: remove temporary files and artifact bytes no version references."""

from __future__ import annotations

import click

from headrace.cli import _output as out
from headrace.cli._refs import open_client

DEFAULT_GRACE = 3600.0


@click.command()
@click.option(
    "--dry-run/--delete",
    default=True,
    show_default=True,
    help="Only report what would be removed (the default), or remove it.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=DEFAULT_GRACE,
    show_default=True,
    metavar="SECONDS",
    help="Keep anything written more recently than this (a run may be storing it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was found as JSON.")
def gc(dry_run: bool, grace: float, as_json: bool) -> None:
    """Find leftover temporary files and artifact bytes that no artifact version
    references, and with --delete remove them. Prints counts and bytes.

    \b
    Examples:
      headrace gc
      headrace gc --delete
    """
    from headrace.store.stores import open_stores

    stores = open_stores(open_client().settings)
    report = stores.artifacts.gc(
        stores.metadata.referenced_hashes(), dry_run=dry_run, grace_seconds=grace
    )
    if as_json:
        out.echo_json(
            {
                "dry_run": report.dry_run,
                "temporary": report.temporary,
                "unreferenced": report.unreferenced,
                "bytes": report.bytes_freed,
            }
        )
        return
    verb = "would remove" if report.dry_run else "removed"
    click.echo(
        f"{verb} {len(report.temporary)} temporary "
        f"{'entry' if len(report.temporary) == 1 else 'entries'} and "
        f"{len(report.unreferenced)} unreferenced artifact "
        f"{'object' if len(report.unreferenced) == 1 else 'objects'}: "
        f"{out.size(report.bytes_freed)} ({report.bytes_freed} bytes)"
    )
    if report.dry_run and (report.temporary or report.unreferenced):
        click.echo("run `headrace gc --delete` to remove them")
