"""Each service's typed settings: the only reader of the environment, validated at a Lambda's init, and every
variable it reads declared for its functions in the template (one declaration for the local stack and AWS)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from infra.definition import SERVICES, STACK, Names
from infra.template import function_id, render
from shared.settings import LAMBDA_MARKER, ServiceSettings, SettingsError, at_cold_start, load

ROOT = Path(__file__).resolve().parents[3]
# Given by the Lambda runtime itself, or only by the local stack (AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_DYNAMODB:
# moto; FINVIEW_LOG_FILE).
RUNTIME = {
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_LAMBDA_FUNCTION_NAME",
    "FINVIEW_LOG_FILE",
}
READS = re.compile(r"""(?:os\.environ\.get|os\.getenv|os\.environ\[|aws\.env)\(?\s*["']([A-Z0-9_]+)["']""")


def settings_model(service: str) -> type[ServiceSettings]:
    model: type[ServiceSettings] = importlib.import_module(f"services.{service}.settings").Settings
    return model


def shared_reads() -> set[str]:
    return {name for path in (ROOT / "shared").glob("*.py") for name in READS.findall(path.read_text())}


def test_every_variable_the_code_reads_is_declared_for_its_function_in_the_template() -> None:
    resources = render()["Resources"]
    for fn in STACK.functions:
        declared = set(resources[function_id(fn)]["Properties"]["Environment"]["Variables"])
        model = settings_model(fn.service)
        reads = (set(model.variables()) | shared_reads()) - RUNTIME - model.UNDECLARED
        assert reads - declared == set(), f"{fn.logical} reads {sorted(reads - declared)} but the template omits it"
    assert "ACTIVATION_BASE_URL" in settings_model("notifications").variables()
    assert "EVENT_BUS_NAME" in shared_reads()


def test_the_local_stack_and_the_template_give_each_function_the_same_variables() -> None:
    resources = render()["Resources"]
    for fn in STACK.functions:
        template_env = resources[function_id(fn)]["Properties"]["Environment"]["Variables"]
        assert set(STACK.env_for(fn.service, Names("t"))) == set(template_env), fn.logical


def test_activation_base_url_is_a_template_parameter() -> None:
    template = render()
    assert template["Parameters"]["ActivationBaseUrl"]["Default"].startswith("https://")
    env = template["Resources"][function_id(STACK.function("notifications", "on_bus_events"))]["Properties"]
    assert env["Environment"]["Variables"]["ACTIVATION_BASE_URL"] == {"Ref": "ActivationBaseUrl"}


def test_settings_py_is_the_only_module_of_a_service_that_reads_the_environment() -> None:
    readers = [
        path.relative_to(ROOT).as_posix()
        for service in SERVICES
        for path in (ROOT / "services" / service).rglob("*.py")
        if path.name != "settings.py" and (READS.search(path.read_text()) or "os.environ" in path.read_text())
    ]
    assert readers == []


@pytest.mark.parametrize("service", SERVICES)
def test_each_services_settings_load_from_the_declared_local_environment(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in STACK.env_for(service, Names("t")).items():
        monkeypatch.setenv(key, value)
    assert load(settings_model(service)).table == f"finview-t-{service}"  # type: ignore[attr-defined]


def test_a_missing_variable_fails_a_lambda_init_with_a_message_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in STACK.env_for("notifications", Names("t")).items():
        monkeypatch.setenv(key, value)
    model = settings_model("notifications")
    monkeypatch.delenv(LAMBDA_MARKER, raising=False)
    monkeypatch.delenv("NOTIFICATIONS_TABLE")
    assert at_cold_start(model) is None  # outside Lambda: checked at first use, not at import
    monkeypatch.setenv(LAMBDA_MARKER, "finview-prod-notifications-on_bus_events")
    with pytest.raises(SettingsError, match="NOTIFICATIONS_TABLE"):
        at_cold_start(model)
    monkeypatch.setenv("NOTIFICATIONS_TABLE", "finview-t-notifications")
    monkeypatch.setenv("ACTIVATION_BASE_URL", "app.finview.example")  # no scheme: links would not work
    with pytest.raises(SettingsError, match="ACTIVATION_BASE_URL"):
        at_cold_start(model)
    monkeypatch.setenv("ACTIVATION_BASE_URL", "https://app.example.org")
    settings = at_cold_start(model)
    assert settings is not None and settings.activation_base_url == "https://app.example.org"  # type: ignore[attr-defined]


def test_settings_are_read_once_and_again_when_a_variable_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """``load`` runs on every request of every thread (a table's name per item): it returns the same settings while
    the environment is unchanged, and reads them again when one of the model's variables changed (tests switch
    stages in one process)."""
    for key, value in STACK.env_for("notifications", Names("t")).items():
        monkeypatch.setenv(key, value)
    model = settings_model("notifications")
    first = load(model)
    assert load(model) is first
    monkeypatch.setenv("NOTIFICATIONS_TABLE", "finview-u-notifications")
    second = load(model)
    assert second is not first and second.table == "finview-u-notifications"  # type: ignore[attr-defined]
    monkeypatch.setenv("SOME_VARIABLE_NO_MODEL_READS", "x")
    assert load(model) is second


def test_function_sizes_name_functions_the_apps_wire() -> None:
    from infra.definition import SIZING

    wired = {(f.service, f.handler) for f in STACK.functions}
    assert set(SIZING) <= wired
    assert STACK.function("imports", "on_file_dropped").memory == 1769
