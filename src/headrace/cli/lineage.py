"""``headrace lineage NAME[:VERSION]``: the artifacts and step runs around an artifact."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import click

from headrace.cli import _output as out
from headrace.cli._refs import ARTIFACT_REF, ArtifactRef, open_client
from headrace.cli._views import artifact_brief

if TYPE_CHECKING:
    from headrace.client import ArtifactVersion
    from headrace.store.records import LineageGraph, StepRunRecord


@click.command()
@click.argument("ref", metavar="NAME[:VERSION]", type=ARTIFACT_REF)
@click.option("--upstream", is_flag=True, help="Only where it came from.")
@click.option("--downstream", is_flag=True, help="Only what used it.")
@click.option("--json", "as_json", is_flag=True, help="Print the graph as JSON.")
@click.option("--dot", is_flag=True, help="Print the graph in Graphviz DOT.")
def lineage(ref: ArtifactRef, upstream: bool, downstream: bool, as_json: bool, dot: bool) -> None:
    """Show the lineage of an artifact version: upstream, the step runs and artifact
    versions that produced it (with each step's parameters); downstream, the step runs
    that used it and what they made. Both directions unless only one is asked for.

    \b
    Examples:
      headrace lineage model
      headrace lineage raw:1 --downstream
      headrace lineage model --dot | dot -Tsvg > lineage.svg
    """
    if as_json and dot:
        raise click.UsageError("--json and --dot cannot be combined")
    both = upstream == downstream
    client = open_client()
    artifact = ref.resolve(client)
    graphs: dict[str, LineageGraph] = {}
    view = client.lineage(artifact)
    if upstream or both:
        graphs["upstream"] = view.upstream().graph
    if downstream or both:
        graphs["downstream"] = view.downstream().graph
    if as_json:
        out.echo_json(
            {
                "artifact": artifact_brief(artifact.record),
                **{k: _graph_dict(g) for k, g in graphs.items()},
            }
        )
    elif dot:
        click.echo(to_dot(artifact, graphs.values()))
    else:
        _print_tree(artifact, graphs)


def _graph_dict(graph: LineageGraph) -> dict[str, Any]:
    return {
        "artifacts": [artifact_brief(r) for i, r in graph.artifacts.items() if i != graph.root],
        "step_runs": [_step_record(s) for s in graph.step_runs.values()],
        "edges": [{"source": e.source, "target": e.target, "name": e.name} for e in graph.edges],
    }


def _step_record(record: StepRunRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "run_id": record.run_id,
        "status": record.status,
        "cache_hit": record.cache_hit,
        "parameters": record.cache_components.get("parameters", {}),
        "code_hash": record.cache_components.get("code"),
    }


# -- text -------------------------------------------------------------------------------------


def _print_tree(artifact: ArtifactVersion, graphs: dict[str, LineageGraph]) -> None:
    glyphs = out.Glyphs()
    click.echo(f"{out.bold(f'{artifact.name}:{artifact.version}')}  {out.dim(artifact.hash[:12])}")
    for direction, graph in graphs.items():
        click.echo("")
        click.echo(out.bold(direction))
        lines = _tree(graph, upstream=direction == "upstream", glyphs=glyphs)
        for line in lines or [
            f"  (nothing {'produced' if direction == 'upstream' else 'used'} it)"
        ]:
            click.echo(line)


def _tree(graph: LineageGraph, *, upstream: bool, glyphs: out.Glyphs) -> list[str]:
    """Upstream: artifact -> the step run that produced it -> that step's inputs -> ...
    Downstream: artifact -> step runs that read it -> what they wrote -> ..."""
    children: dict[str, list[tuple[str, str]]] = {}
    for edge in graph.edges:
        parent, child = (edge.target, edge.source) if upstream else (edge.source, edge.target)
        children.setdefault(parent, []).append((child, edge.name))
    for kids in children.values():
        kids.sort(key=lambda kid: _sort_key(graph, kid[0]))
    lines: list[str] = []
    expanded: set[str] = set()

    def label(node: str, edge_name: str) -> str:
        if node in graph.artifacts:
            record = graph.artifacts[node]
            text = f"{record.name}:{record.version}  {out.dim(out.size(record.size))}"
            return text + (out.dim(f"  (as {edge_name})") if edge_name != record.name else "")
        step = graph.step_runs[node]
        text = f"{out.bold(step.name)}  run {step.run_id[:12]}  {out.status(step.status)}"
        if step.cache_hit:
            text += "  " + out.style("cache hit", fg="cyan")
        parameters = step.cache_components.get("parameters") or {}
        if parameters:
            text += "  " + out.dim(out.key_values(parameters, limit=30))
        return text

    def walk(node: str, edge_name: str, prefix: str, last: bool) -> None:
        kids = children.get(node, [])
        seen = node in expanded and bool(kids)
        suffix = out.dim("  (see above)") if seen else ""
        lines.append(
            prefix + (glyphs.last if last else glyphs.tee) + label(node, edge_name) + suffix
        )
        if seen:
            return
        expanded.add(node)
        below = prefix + (glyphs.blank if last else glyphs.pipe)
        for i, (kid, name) in enumerate(kids):
            walk(kid, name, below, i == len(kids) - 1)

    roots = children.get(graph.root, [])
    for i, (kid, name) in enumerate(roots):
        walk(kid, name, "", i == len(roots) - 1)
    return lines


def _sort_key(graph: LineageGraph, node: str) -> tuple[float, str]:
    if node in graph.step_runs:
        step = graph.step_runs[node]
        return (step.started_at or step.ended_at or 0.0, step.name)
    record = graph.artifacts[node]
    return (record.created_at, record.name)


# -- Graphviz ---------------------------------------------------------------------------------


def to_dot(artifact: ArtifactVersion, graphs: Iterable[LineageGraph]) -> str:
    """One DOT digraph of every graph: artifact versions as boxes (the starting one
    filled), step runs as ellipses, edges labelled with input and output names."""
    nodes: dict[str, str] = {}
    edges: dict[tuple[str, str, str], None] = {}
    for graph in graphs:
        for node_id, record in graph.artifacts.items():
            style = ', style="filled", fillcolor="lightblue"' if node_id == artifact.id else ""
            label = f"{record.name}:{record.version}\\n{record.hash[:12]}"
            nodes[node_id] = f'"{node_id}" [shape=box, label="{_escape(label)}"{style}];'
        for node_id, step in graph.step_runs.items():
            label = f"{step.name}\\nrun {step.run_id[:12]}"
            nodes[node_id] = f'"{node_id}" [shape=ellipse, label="{_escape(label)}"];'
        for edge in graph.edges:
            edges[(edge.source, edge.target, edge.name)] = None
    lines = [
        "digraph lineage {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    lines += [f"  {node}" for node in nodes.values()]
    lines += [
        f'  "{source}" -> "{target}" [label="{_escape(name)}"];' for source, target, name in edges
    ]
    lines.append("}")
    return "\n".join(lines)


def _escape(text: str) -> str:
    # Keep the \n line breaks we put in labels; escape quotes and other backslashes.
    return text.replace('"', '\\"')
