"""infra.local.fidelity.request_ids_where_tagged: moto writes its request id into a response body only where the
body has moto's ``<RequestId>`` tag, with moto's answers for every body, and no longer scans the others."""

from __future__ import annotations

import json
import types
from typing import Any

import pytest
from moto.core import responses
from moto.core.responses import BaseResponse
from moto.moto_api._internal import mock_random

from infra.local import fidelity

EVENT = json.dumps({"detail": {"members": [{"case_id": f"c-{i}", "text": "<p>Hallo</p>"} for i in range(50)]}})
BODIES: list[Any] = [
    json.dumps({"Messages": [{"Body": EVENT}] * 10}),  # an SQS ReceiveMessage's JSON: no tag anywhere
    "<PublishResponse><ResponseMetadata><RequestId>old</RequestId></ResponseMetadata></PublishResponse>",
    "<A><RequestId>1</RequestId><B/><RequestId>2</RequestId></A>",  # greedy, on one line
    "<A><RequestId>1</RequestId>\n<RequestId>2</RequestId></A>",
    "<RequestId>opened only",
    "<requestid>x</requestid>",  # another case: not moto's tag
    "",
    b"<RequestId>bytes</RequestId>",  # not a string: moto's substitution fails and is ignored
    None,
    {"a": 1},
]
HEADERS: list[dict[str, Any]] = [{}, {"status": 201}, {"status": "200", "content-type": "application/json"}]


@pytest.fixture(autouse=True)
def _installed() -> None:
    assert fidelity.request_ids_where_tagged() is True


def test_every_body_and_header_comes_back_as_moto_makes_it() -> None:
    assert fidelity.response_id_sources() == fidelity.PINNED_RESPONSE_ID_SOURCES
    original = fidelity._ORIGINALS["BaseResponse._enrich_response"]
    for body in BODIES:
        for headers in HEADERS:
            mock_random.seed(7)
            theirs = original(dict(headers), body)
            mock_random.seed(7)
            ours = BaseResponse._enrich_response(dict(headers), body)
            assert ours == theirs, (headers, body)
            assert "x-amzn-requestid" in ours[0]
    mock_random.seed(7)
    headers, body = BaseResponse._enrich_response({}, BODIES[1])
    assert f"<RequestId>{headers['x-amzn-requestid']}</RequestId>" in body  # the id written where the tag is


def test_a_body_without_the_tag_is_not_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto ran its look-behind substitution over every body: ten searches for these ten JSON bodies."""
    searched: list[str] = []

    def sub(pattern: str, repl: str, string: Any, *args: Any) -> Any:
        searched.append(pattern)
        return __import__("re").sub(pattern, repl, string, *args)

    monkeypatch.setattr(responses, "re", types.SimpleNamespace(sub=sub))
    for _ in range(10):
        BaseResponse._enrich_response({"status": "200"}, BODIES[0])
    assert searched == []  # before: 10
    BaseResponse._enrich_response({}, BODIES[1])
    assert len(searched) == 1  # an XML body with the tag still gets moto's own substitution
