"""`finview import FILE --client ID` against a running local stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import cli
from infra.local.stack import LocalStack
from services.imports import repository

pytestmark = pytest.mark.e2e
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "debtors.csv"


def test_import_command_uploads_follows_and_prints_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the CLI finds the stack through ./.finview/stack.json
    with LocalStack(stage="clitest") as stack:
        stack.write_state(tmp_path / ".finview")
        repository.put_client("acme", "ACME GmbH")
        code = cli.main(["import", str(SAMPLE), "--client", "acme", "--timeout", "60"])
        out, err = capsys.readouterr()
    assert code == 0
    assert "status: completed" in out and "rows rejected                 1" in out
    assert "row 5 (line 6): amount" in out
    assert "100%" in err and "uploaded s3://finview-clitest-drops/acme/" in err
