"""The contacts API's edge against hostile requests (hardening items 1, 2, 8, 9): every one gets a specific 4xx
in the error contract, none a 500 or another route."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from infra.provision import Provisioned
from tests.integration.contacts.support import Api

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("param", ["x%3Fy", "x%23y", "x%2Fy"])
def test_an_encoded_reserved_character_stays_inside_its_path_parameter(aws: Provisioned, param: str) -> None:
    reply = Api(aws).call("GET", f"/cases/{param}/notes")
    assert reply.status == 404, reply.body
    assert reply.error["code"] == "case_not_found"
    decoded = param.replace("%3F", "?").replace("%23", "#").replace("%2F", "/")
    assert reply.error["message"] == f"case {decoded!r} does not exist"


def test_over_http_the_path_is_routed_before_it_is_decoded(aws: Provisioned) -> None:
    gateway = Api(aws).gateway()
    url = gateway.serve()
    try:
        request = urllib.request.Request(f"{url}/cases/x%3Fy/notes", headers={"Authorization": "Bearer local-admin"})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
    finally:
        gateway.stop()
    assert answer.value.code == 404
    assert json.loads(answer.value.read())["error"]["message"] == "case 'x?y' does not exist"
