"""Walk a JSON document depth-first and hand every value to the rules, with its JSON path."""
from __future__ import annotations

from typing import Any, Iterator

from contracts.accessibility.model import Node

def walk(document: Any, root: str = "$") -> Iterator[Node]:
    """Yield a Node for DOCUMENT and every value inside it, in document order."""
    stack = [Node(root, None, document)]
    while stack:
        node = stack.pop()
        yield node
        value = node.value
        if isinstance(value, dict):
            children = [Node(child_path(node.path, key), str(key), item, node)
                        for key, item in value.items()]
        elif isinstance(value, list):
            children = [Node(f"{node.path}[{index}]", node.key, item, node)
                        for index, item in enumerate(value)]
        else:
            continue
        stack.extend(reversed(children))


def child_path(path: str, key: Any) -> str:
    """Return the JSON path of member KEY of the object at PATH (bracket form when needed)."""
    key = str(key)
    if key.isascii() and key.isidentifier():  # [A-Za-z_][A-Za-z0-9_]*
        return f"{path}.{key}"
    return f"{path}['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"
