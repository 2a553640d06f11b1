"""The HTTP plumbing every contacts route goes through: the client-path guard and ``allow``, before the body."""

from __future__ import annotations

import json
from typing import Any

from chalice import Chalice, Response

from infra.local.apigw import proxy_event
from services.contacts.cases.repository import WriteConflict
from services.contacts.clients.models import NewClient
from services.contacts.http import respond
from services.contacts.identity import Identity

probe = Chalice(app_name="probe")
CLIENT_USER_OF_A = {"principalId": "u@a", "role": "client_user", "client_id": "a"}


def admin_only(who: Identity) -> None:
    who.require_admin()


@probe.route("/clients/{client_id}/probe", methods=["GET", "POST"])
def unchecked(client_id: str) -> Response:
    # No check of its own: the guard alone must keep other clients' users out.
    return respond(probe.current_request, lambda c: {"client_id": client_id, "body": c.request.method == "POST"})


@probe.route("/things", methods=["POST"])
def admin_thing() -> Response:
    return respond(probe.current_request, lambda c: c.body(NewClient), allow=admin_only)


@probe.route("/conflicted", methods=["POST"])
def conflicted() -> Response:
    # What a use case without a read-decide loop (adding a note) lets escape when DynamoDB cancels its transaction.
    def action(_: Any) -> None:
        raise WriteConflict(["None", "TransactionConflict"])

    return respond(probe.current_request, action, 201)


def call(method: str, path: str, authorizer: dict[str, str] | None, body: bytes | None = None) -> tuple[int, Any]:
    resource = path if path in ("/things", "/conflicted") else "/clients/{client_id}/probe"
    params = None if path in ("/things", "/conflicted") else {"client_id": path.split("/")[2]}
    event = proxy_event(
        method, path, resource=resource, path_params=params, headers={}, query={}, body=body, authorizer=authorizer
    )
    result = probe(event, None)
    return result["statusCode"], json.loads(result["body"])


def test_a_client_user_of_another_client_gets_404_on_reads_and_403_on_actions_on_any_client_route() -> None:
    assert call("GET", "/clients/a/probe", CLIENT_USER_OF_A)[0] == 200
    status, body = call("GET", "/clients/b/probe", CLIENT_USER_OF_A)
    assert (status, body["error"]["code"]) == (404, "client_not_found")
    status, body = call("POST", "/clients/b/probe", CLIENT_USER_OF_A, b"not json at all")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert call("GET", "/clients/b/probe", {"principalId": "c", "role": "collector"})[0] == 200


def test_allow_refuses_before_the_body_is_read() -> None:
    collector = {"principalId": "c", "role": "collector"}
    assert call("POST", "/things", collector, b"{broken")[0] == 403
    assert call("POST", "/things", {"principalId": "a", "role": "agency_admin"}, b"{broken")[0] == 400
    assert call("POST", "/things", None, b"{}")[0] == 401


def test_a_cancelled_transaction_the_use_case_did_not_retry_answers_409_concurrent_change_not_500() -> None:
    status, body = call("POST", "/conflicted", {"principalId": "a", "role": "agency_admin"}, b"{}")
    assert status == 409
    assert body["error"]["code"] == "concurrent_change"
    assert "retry" in body["error"]["message"]


def test_an_unhandled_exception_is_logged_like_the_services_lines_redacted_not_printed_raw(
    tmp_path: Any, monkeypatch: Any, capsys: Any
) -> None:
    # chalice printed the traceback of a request it answers with a 500 raw to standard output: unredacted in
    # CloudWatch, and lost with `finview up`'s console locally.
    from services.contacts.http import RestApi

    log_file = tmp_path / "lambda.log"
    monkeypatch.setenv("FINVIEW_LOG_FILE", str(log_file))
    api = RestApi(app_name="probe-500")

    @api.route("/boom", methods=["GET"])
    def boom() -> Response:
        raise RuntimeError("could not write the note for jane.doe@example.com")

    event = proxy_event(
        "GET", "/boom", resource="/boom", path_params=None, headers={}, query={}, body=None, authorizer=None
    )
    result = api(event, None)

    assert result["statusCode"] == 500
    (line,) = log_file.read_text().splitlines()
    logged = json.loads(line)
    assert logged["level"] == "ERROR" and logged["service"] == "contacts"
    assert logged["message"] == "Caught exception for path /boom"
    assert "RuntimeError" in logged["exception"] and "test_http.py" in logged["exception"]
    assert "jane.doe@example.com" not in line
    assert "jane.doe" not in capsys.readouterr().out
