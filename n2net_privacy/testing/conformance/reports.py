"""A run's report as JUnit XML (one test case per check) and as JSON, for CI systems.

The JUnit layout is the one Jenkins, GitLab and GitHub test reporters read:
``<testsuites>`` holding one ``<testsuite>``, one ``<testcase>`` per check
with a ``<failure message=...>`` or ``<skipped message=...>`` child, and the
check's contract sentence as a ``contract`` property.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from n2net_privacy._version import __version__
from n2net_privacy.testing.conformance.model import Report, Verdict

__all__ = ["SUITE_NAME", "json_report", "junit_xml"]

SUITE_NAME = "n2net-privacy conformance"
_CLASSNAME = "n2net.conformance"


def junit_xml(report: Report) -> bytes:
    """The report as JUnit XML, UTF-8 with an XML declaration."""
    total = sum(result.duration_s for result in report.results)
    counts = {
        "tests": str(len(report.results)),
        "failures": str(report.count(Verdict.FAILED)),
        "errors": "0",
        "skipped": str(report.count(Verdict.SKIPPED)),
        "time": f"{total:.3f}",
    }
    root = ET.Element("testsuites", {"name": SUITE_NAME, **counts})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, **counts})
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", {"name": "target", "value": report.target})
    ET.SubElement(properties, "property", {"name": "kit_version", "value": __version__})
    for result in report.results:
        case = ET.SubElement(suite, "testcase", {
            "classname": _CLASSNAME, "name": result.name, "time": f"{result.duration_s:.3f}",
        })
        case_properties = ET.SubElement(case, "properties")
        ET.SubElement(case_properties, "property", {"name": "contract", "value": result.contract})
        if result.verdict is Verdict.FAILED:
            failure = ET.SubElement(case, "failure", {"message": result.message})
            failure.text = f"{result.message}\n\nContract: {result.contract}"
        elif result.verdict is Verdict.SKIPPED:
            ET.SubElement(case, "skipped", {"message": result.message})
        elif result.message:
            ET.SubElement(case, "system-out").text = result.message
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text + b"\n"


def json_report(report: Report) -> bytes:
    """The report as JSON: the target, the counts and one object per check."""
    document = {
        "kit": SUITE_NAME,
        "version": __version__,
        "target": report.target,
        "passed": report.count(Verdict.PASSED),
        "failed": report.count(Verdict.FAILED),
        "skipped": report.count(Verdict.SKIPPED),
        "checks": [
            {
                "name": result.name,
                "verdict": result.verdict.value,
                "message": result.message,
                "duration_s": round(result.duration_s, 6),
                "contract": result.contract,
            }
            for result in report.results
        ],
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
