"""Checkov scans the rendered SAM template: no failed check; every skipped one is skipped in the template with a reason.

Checkov lives in its own venv (``make .venv-scan/.installed``, pinned in pyproject's ``scan`` group) because it pins
boto3 and packaging older than the project does. One scan covers the real template and a deliberately weakened copy,
so the test also proves that checkov still fails what it should.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.template import render

ROOT = Path(__file__).resolve().parents[3]
CHECKOV = ROOT / ".venv-scan" / "bin" / "checkov"


def _weakened(template: dict[str, Any]) -> dict[str, Any]:
    weak = json.loads(json.dumps(template))
    bucket = weak["Resources"]["DropsBucket"]["Properties"]
    del bucket["VersioningConfiguration"]
    bucket["PublicAccessBlockConfiguration"]["BlockPublicAcls"] = False
    del weak["Resources"]["ImportsOnBusEvents"]["Metadata"]  # its skips, with their reasons
    return weak


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed: run `make {CHECKOV.parent.parent.name}/.installed` (make test does)")
    folder = tmp_path_factory.mktemp("scan")
    template = render()
    (folder / "template.json").write_text(json.dumps(template))
    (folder / "weakened.json").write_text(json.dumps(_weakened(template)))
    result = subprocess.run(
        [str(CHECKOV), "-d", str(folder), "--framework", "cloudformation", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "WARNING"},
    )
    report = json.loads(result.stdout)
    checks: dict[str, list[dict[str, Any]]] = {"failed": [], "skipped": [], "passed": [], "weak_failed": []}
    for kind in ("failed", "skipped", "passed"):
        for check in report["results"][f"{kind}_checks"]:
            weak = check["file_path"].endswith("weakened.json")
            if weak and kind == "failed":
                checks["weak_failed"].append(check)
            elif not weak:
                checks[kind].append(check)
    return checks


def _line(check: dict[str, Any]) -> str:
    return f"{check['check_id']} {check['check_name']} on {check['resource']}"


def test_checkov_finds_no_failed_check_in_the_template(scan: dict[str, list[dict[str, Any]]]) -> None:
    assert [_line(c) for c in scan["failed"]] == []
    assert len(scan["passed"]) >= 50


def test_every_skipped_check_is_skipped_in_the_template_with_a_one_line_reason(
    scan: dict[str, list[dict[str, Any]]],
) -> None:
    resources = render()["Resources"]
    assert scan["skipped"], "the template skips checks (see the reasons next to them)"
    for check in scan["skipped"]:
        logical = check["resource"].split(".")[-1]
        skips = resources[logical]["Metadata"]["checkov"]["skip"]
        reason = next(s["comment"] for s in skips if s["id"] == check["check_id"])
        assert 20 <= len(reason) <= 200 and "\n" not in reason, (check["check_id"], logical, reason)


def test_checkov_still_fails_a_weakened_template(scan: dict[str, list[dict[str, Any]]]) -> None:
    failed = {(c["check_id"], c["resource"]) for c in scan["weak_failed"]}
    assert ("CKV_AWS_21", "AWS::S3::Bucket.DropsBucket") in failed  # not versioned
    assert ("CKV_AWS_53", "AWS::S3::Bucket.DropsBucket") in failed  # public ACLs not blocked
    assert ("CKV_AWS_117", "AWS::Serverless::Function.ImportsOnBusEvents") in failed  # skip removed
