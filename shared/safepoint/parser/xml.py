"""The one hardened lxml parser, the namespaces Safepoint reads, and qualified-name helpers.

Untrusted XML never reaches lxml before three checks on the raw bytes: a size limit,
strict UTF-8, and a prolog without a DOCTYPE. The parser itself is configured not to
resolve entities, load DTDs or touch the network, as a second line of defence.
"""

from __future__ import annotations

import re

from lxml import etree

from safepoint.errors import BpmnParseError, Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
FOX_NS = "http://www.camunda.com/fox"
"""The legacy namespace in which ``failedJobRetryTimeCycle`` is still accepted."""
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
"""Documents larger than this are refused before any parsing."""

_CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""Characters XML 1.0 never allows, not even as references: the mark of binary data."""
_SYNTAX_ERROR_POSITION = re.compile(r",? line \d+, column \d+$")


def bpmn(local_name: str) -> str:
    """The Clark-notation name ``{BPMN_NS}local_name``."""
    return f"{{{BPMN_NS}}}{local_name}"


def camunda(local_name: str) -> str:
    """The Clark-notation name ``{CAMUNDA_NS}local_name``."""
    return f"{{{CAMUNDA_NS}}}{local_name}"


def namespace_of(element: etree._Element) -> str:
    """The namespace URI of an element (empty when it has none)."""
    return etree.QName(element).namespace or ""


def local_name(element: etree._Element) -> str:
    """The local name of an element, without its namespace."""
    return etree.QName(element).localname


def children(element: etree._Element) -> list[etree._Element]:
    """The child elements of an element, in document order (no text or entity nodes)."""
    return [child for child in element if isinstance(child.tag, str)]


def text_of(element: etree._Element) -> str:
    """All the text inside an element, stripped of surrounding white space."""
    return "".join(text for text in element.itertext() if isinstance(text, str)).strip()


def line_of(element: etree._Element) -> int | None:
    """The 1-based line on which the element starts, if lxml knows it."""
    return _as_line(element.sourceline)


def _as_line(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def hardened_parser() -> etree.XMLParser:
    """A new parser that resolves nothing, loads nothing and fetches nothing."""
    return etree.XMLParser(
        encoding="utf-8",
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def read_document(xml: bytes, *, resource_name: str, max_bytes: int) -> etree._Element:
    """Parse untrusted bytes into the ``bpmn:definitions`` root element.

    Raises:
        BpmnParseError: the document is too large, not UTF-8, declares a DOCTYPE, is not
            well-formed XML, or its root is not ``definitions`` in the BPMN namespace.
    """

    def refuse(message: str, line: int | None = None, column: int | None = None) -> BpmnParseError:
        problem = Problem(message, line=line, resource_name=resource_name, column=column)
        return BpmnParseError([problem])

    if len(xml) > max_bytes:
        raise refuse(f"the document is {len(xml):,} bytes; the limit is {max_bytes:,}")
    try:
        text = xml.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = xml.count(b"\n", 0, exc.start) + 1
        raise refuse(
            f"the document is not UTF-8 text: invalid byte 0x{xml[exc.start]:02x} "
            f"at offset {exc.start}",
            line,
        ) from exc
    if not text.strip():
        raise refuse("the document is empty")
    control = _CONTROL_CHARACTER.search(text)
    if control is not None:
        raise refuse(
            f"the document is binary, not XML: control character "
            f"0x{ord(control.group()):02x} at offset {control.start()}",
            text.count("\n", 0, control.start()) + 1,
        )
    doctype_at = _doctype_offset(text)
    if doctype_at is not None:
        raise refuse("DOCTYPE declarations are not allowed", text.count("\n", 0, doctype_at) + 1)
    try:
        root = etree.fromstring(xml, hardened_parser())
    except etree.XMLSyntaxError as exc:
        message = _SYNTAX_ERROR_POSITION.sub("", exc.msg or str(exc))
        offset = exc.offset
        column = offset + 1 if isinstance(offset, int) else None
        raise refuse(
            f"the document is not well-formed XML: {message}", _as_line(exc.lineno), column
        ) from exc
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", None) or docinfo.internalDTD is not None:
        raise refuse("DOCTYPE declarations are not allowed")
    if root.tag != bpmn("definitions"):
        raise refuse(
            f"the root element is {root.tag!r}; expected 'definitions' in namespace {BPMN_NS!r}",
            line_of(root),
        )
    return root


def _doctype_offset(text: str) -> int | None:
    """Where a DOCTYPE declaration starts in the prolog, or None if there is none.

    A DOCTYPE may only stand in the prolog: after the XML declaration, white space,
    comments and processing instructions, before the root element.
    """
    position = 1 if text.startswith("\ufeff") else 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if text.startswith("<?", position):
            terminator = "?>"
        elif text.startswith("<!--", position):
            terminator = "-->"
        elif text[position : position + 9].upper() == "<!DOCTYPE":
            return position
        else:
            return None
        end = text.find(terminator, position + 2)
        if end < 0:
            return None
        position = end + len(terminator)
