"""The BPMN parser: untrusted BPMN 2.0 XML (Camunda 7 flavour) in, the frozen model out.

The only package that imports lxml. ``parse_definitions`` either returns the whole model
or raises ``BpmnParseError`` listing every problem found, each with its line.
"""

from __future__ import annotations

from safepoint.model import Definitions
from safepoint.parser.definitions import build_definitions
from safepoint.parser.elements import ELEMENT_PARSERS
from safepoint.parser.xml import DEFAULT_MAX_BYTES, read_document

__all__ = ["DEFAULT_MAX_BYTES", "ELEMENT_PARSERS", "parse_definitions"]


def parse_definitions(
    xml: bytes, *, resource_name: str = "process.bpmn", max_bytes: int = DEFAULT_MAX_BYTES
) -> Definitions:
    """Parse a BPMN document into its executable processes and messages.

    A pure function: nothing is resolved, fetched or executed. ``resource_name`` is the
    name problems are reported under; documents over ``max_bytes`` are refused unread.

    Raises:
        BpmnParseError: with every problem found (line, element id, message), never
            just the first one.
    """
    root = read_document(xml, resource_name=resource_name, max_bytes=max_bytes)
    return build_definitions(root, resource_name)
