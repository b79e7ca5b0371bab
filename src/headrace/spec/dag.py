"""Graph logic over step names: order, cycles, what lies downstream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from headrace.errors import DefinitionError


def topological_order(upstream: Mapping[str, Iterable[str]]) -> list[str]:
    """Kahn's algorithm, stable in the mapping's insertion order.

    ``upstream`` maps each node to the nodes it depends on. An unknown dependency or a
    cycle raises DefinitionError naming the steps involved.
    """
    deps = {node: list(dict.fromkeys(parents)) for node, parents in upstream.items()}
    for node, parents in deps.items():
        for parent in parents:
            if parent not in deps:
                raise DefinitionError(f"depends on unknown step '{parent}'", step=node)
    remaining = {node: len(parents) for node, parents in deps.items()}
    children: dict[str, list[str]] = {node: [] for node in deps}
    for node, parents in deps.items():
        for parent in parents:
            children[parent].append(node)
    ready = [node for node, count in remaining.items() if count == 0]
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in children[node]:
            remaining[child] -= 1
            if remaining[child] == 0:
                ready.append(child)
    if len(order) != len(deps):
        cyclic = sorted(node for node, count in remaining.items() if count > 0)
        raise DefinitionError(
            f"the pipeline has a cycle through steps {', '.join(repr(n) for n in cyclic)}",
            step=cyclic[0],
        )
    return order


def downstream_of(upstream: Mapping[str, Iterable[str]], roots: Iterable[str]) -> set[str]:
    """Every node that depends, directly or transitively, on one of ``roots`` (roots excluded)."""
    children: dict[str, set[str]] = {node: set() for node in upstream}
    for node, parents in upstream.items():
        for parent in parents:
            children.setdefault(parent, set()).add(node)
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen
