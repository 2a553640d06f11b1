"""The one layering rule, held by the imports: contacts' clients side never imports its cases side, and no
domain module knows about HTTP, Chalice or boto3 (domain errors get their HTTP status at the API edge)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_clients_side_of_contacts_never_imports_the_cases_side() -> None:
    clients = sorted((SERVICES / "contacts" / "clients").glob("*.py"))
    assert clients
    for path in clients:
        wrong = {m for m in imported_modules(path) if m.startswith("services.contacts.cases")}
        assert wrong == set(), f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_domain_modules_raise_domain_errors_and_know_nothing_of_http_or_aws() -> None:
    # The contact policy's domain is its rules and the time zones they read.
    policy = [SERVICES / "contacts" / "policy" / name for name in ("rules.py", "zones.py")]
    domains = sorted(SERVICES.rglob("domain.py")) + policy
    assert len(domains) >= 7
    for path in domains:
        wrong = {
            m
            for m in imported_modules(path)
            if m.split(".")[0] in {"boto3", "botocore", "chalice"} or m.startswith("shared.api")
        }
        assert wrong == set(), f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_handlers_hold_entry_points_only() -> None:
    """A handlers.py defines no use case of its own: its functions take the Lambda (event, context)."""
    for path in sorted(SERVICES.glob("*/handlers.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                args = [a.arg for a in node.args.args]
                assert args[-1:] == ["context"], f"{path.relative_to(ROOT)}: {node.name}({', '.join(args)})"
