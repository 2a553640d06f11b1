"""infra/ renders one deployable SAM template from the single definition; cfn-lint validates it offline."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.definition import STACK
from infra.template import build, function_id, queue_id, render

CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("build"))


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CFN_LINT, str(path)], capture_output=True, text=True, timeout=120)


def test_template_passes_cfn_lint(built: Path) -> None:
    result = _lint(built)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_does_catch_a_broken_template(built: Path, tmp_path: Path) -> None:
    template = json.loads(built.read_text())
    template["Resources"]["ContactsTable"]["Properties"]["BillingMode"] = "FREE"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(template))
    assert _lint(bad).returncode != 0


def test_code_folders_hold_the_app_and_the_packages_it_imports(built: Path) -> None:
    for service in ("contacts", "imports", "enrichment", "notifications"):
        code = built.parent / service
        assert (code / "app.py").read_text() == (Path("services") / service / "app.py").read_text()
        assert (code / "services" / service / "handlers.py").exists()
        assert (code / "shared" / "events.py").exists()
        assert "aws-lambda-powertools" in (code / "requirements.txt").read_text()


def test_every_consumer_reads_its_queue_with_partial_batch_failures_and_every_queue_has_a_dlq() -> None:
    resources: dict[str, Any] = render()["Resources"]
    for fn in STACK.functions:
        props = resources[function_id(fn)]["Properties"]
        assert props["Handler"] == f"app.{fn.handler}"
        if fn.trigger.kind == "sqs":
            sqs = props["Events"]["Queue"]["Properties"]
            assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            assert sqs["Queue"] == {"Fn::GetAtt": [queue_id(STACK.queue(fn.trigger.queue or "")), "Arn"]}
    for q in STACK.queues:
        redrive = resources[queue_id(q)]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == q.max_receive_count
    scheduled = [r for r in resources.values() if "Schedule" in r.get("Properties", {}).get("Events", {})]
    assert len(scheduled) == sum(f.trigger.kind == "schedule" for f in STACK.functions) >= 1


def test_functions_only_get_their_own_services_tables() -> None:
    resources = render()["Resources"]
    for fn in STACK.functions:
        env = resources[function_id(fn)]["Properties"]["Environment"]["Variables"]
        tables = {k for k in env if k.endswith("_TABLE")}
        assert tables == {t.env_var for t in STACK.tables if t.owner == fn.service}


def test_api_definition_has_every_chalice_route() -> None:
    from services.contacts.app import app

    swagger = render()["Resources"]["ContactsApi"]["Properties"]["DefinitionBody"]
    for path, methods in app.routes.items():
        for method in methods:
            assert method.lower() in swagger["paths"][path], f"{method} {path} missing from the API"


def test_chalice_apps_wire_exactly_the_functions_the_definition_declares() -> None:
    for service in ("contacts", "imports", "enrichment", "notifications"):
        app = importlib.import_module(f"services.{service}.app").app
        declared = {f.handler: f for f in STACK.functions if f.service == service and f.trigger.kind != "api"}
        wired = {s.name: s for s in app.event_sources}
        assert set(wired) == set(declared), service
        for name, fn in declared.items():
            source = wired[name]
            if fn.trigger.kind == "sqs":
                assert source.queue.endswith(fn.trigger.queue or "?"), (service, name)
                assert source.batch_size == fn.trigger.batch_size
            else:
                expression = source.schedule_expression
                text = expression if isinstance(expression, str) else expression.to_string()
                assert text == fn.trigger.schedule, (service, name)


def test_every_route_but_the_public_ones_requires_the_user_pool_authorizer() -> None:
    from infra.template import PUBLIC_PATHS

    resources = render()["Resources"]
    swagger = resources["ContactsApi"]["Properties"]["DefinitionBody"]
    assert resources["UserPool"]["Type"] == "AWS::Cognito::UserPool"
    checked = 0
    for path, methods in swagger["paths"].items():
        for method, operation in methods.items():
            if method == "options" or path in PUBLIC_PATHS:
                continue
            assert operation.get("security") == [{"CognitoAuthorizer": []}], f"{method} {path}"
            checked += 1
    assert checked >= 5


def test_every_dlq_has_an_alarm() -> None:
    resources = render()["Resources"]
    alarmed = {
        r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert alarmed == {name for name, r in resources.items() if name.endswith("Dlq")}


def test_a_function_that_continues_on_its_own_queue_may_send_to_it_and_no_other_may() -> None:
    resources = render()["Resources"]
    for fn in STACK.functions:
        policies = resources[function_id(fn)]["Properties"]["Policies"]
        sends = [p for p in policies if "SQSSendMessagePolicy" in p]
        if fn.continues_on_own_queue:
            queue = queue_id(STACK.queue(fn.trigger.queue or ""))
            assert sends == [{"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}}}]
        else:
            assert sends == []
    assert any(fn.continues_on_own_queue for fn in STACK.functions)


def test_code_folders_install_every_package_the_services_import(built: Path) -> None:
    """A package a service imports but its requirements.txt lacks fails the deployed function at import."""
    import ast
    import importlib.metadata
    import re

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    distributions = importlib.metadata.packages_distributions()
    lambda_runtime = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}
    first_party = {"finview"}
    for service in ("contacts", "imports", "enrichment", "notifications"):
        requirements = (built.parent / service / "requirements.txt").read_text().splitlines()
        installed = {norm(re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0]) for r in requirements if r}
        tops: set[str] = set()
        for folder in (Path("services") / service, Path("shared")):
            for path in folder.rglob("*.py"):
                for node in ast.walk(ast.parse(path.read_text())):
                    if isinstance(node, ast.Import):
                        tops.update(a.name.split(".")[0] for a in node.names)
                    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                        tops.add(node.module.split(".")[0])
        needed = {norm(d) for top in tops for d in distributions.get(top, [])} - lambda_runtime - first_party
        assert needed - installed == set(), f"{service}: requirements.txt lacks {sorted(needed - installed)}"
