"""The SMS request End User Messaging gets, checked against botocore's model of the service (moto has none)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from services.notifications import channels


def test_an_sms_with_a_configuration_set_goes_through_end_user_messaging(monkeypatch: pytest.MonkeyPatch) -> None:
    sms = boto3.session.Session().client(
        "pinpoint-sms-voice-v2", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(sms)
    expected = {
        "DestinationPhoneNumber": "+4915112345678",
        "MessageBody": "Bitte melden Sie sich. STOP: Abmelden",
        "MessageType": "TRANSACTIONAL",
        "ConfigurationSetName": "finview-prod-sms",
        "Context": {"message_id": "msg-1", "kind": "contact_request"},
    }
    stub.add_response("send_text_message", {"MessageId": "eum-1"}, expected)

    def client(service: str, **_: Any) -> Any:
        assert service == "pinpoint-sms-voice-v2"  # not SNS: its status would only reach CloudWatch Logs
        return sms

    monkeypatch.setattr(channels.aws, "client", client)
    with stub:
        sent = channels.send_sms(
            "+49 151 12345678",
            "Bitte melden Sie sich. STOP: Abmelden",
            configuration_set="finview-prod-sms",
            context={"message_id": "msg-1", "kind": "contact_request"},
        )
    stub.assert_no_pending_responses()
    assert sent == "eum-1"


def test_an_invalid_number_is_refused_before_end_user_messaging_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channels.aws, "client", lambda *_a, **_k: pytest.fail("no provider call"))
    with pytest.raises(channels.RecipientRefused):
        channels.send_sms("+49 123", "Hallo", configuration_set="finview-prod-sms")
