"""The check behind the least-privilege test: a call outside a function's grants is reported, one inside is not."""

from __future__ import annotations

from infra.definition import STACK, Names
from tests.aws_calls import Call, refused

NAMES = Names("unit")


def test_a_consumer_of_bus_events_may_not_read_the_drop_bucket_but_the_drop_function_may() -> None:
    read = {"Bucket": NAMES.bucket("drops"), "Key": "acme/file.csv", "VersionId": "v1"}
    dropped = next(f for f in STACK.functions if f.logical == "ImportsOnFileDropped")
    consumer = next(f for f in STACK.functions if f.logical == "ImportsOnBusEvents")
    assert refused([Call(dropped, "s3", "GetObject", read)], NAMES) == []
    assert refused([Call(consumer, "s3", "GetObject", read)], NAMES) == [
        "ImportsOnBusEvents: s3:GetObjectVersion on objects drops"
    ]


def test_transactions_need_each_of_their_item_actions_on_the_functions_own_table() -> None:
    consumer = next(f for f in STACK.functions if f.logical == "ImportsOnBusEvents")
    own = NAMES.table("imports")
    transaction = {"TransactItems": [{"Update": {"TableName": own}}, {"ConditionCheck": {"TableName": own}}]}
    assert refused([Call(consumer, "dynamodb", "TransactWriteItems", transaction)], NAMES) == [
        "ImportsOnBusEvents: dynamodb:ConditionCheckItem on table imports"
    ]
    other = {"TableName": NAMES.table("contacts"), "Key": {}}
    assert refused([Call(consumer, "dynamodb", "GetItem", other)], NAMES) == [
        "ImportsOnBusEvents: dynamodb:GetItem on table contacts"
    ]


def test_sms_only_to_phone_numbers_and_mail_only_from_the_sender() -> None:
    notifications = next(f for f in STACK.functions if f.logical == "NotificationsOnBusEvents")
    ok = [
        Call(notifications, "sns", "Publish", {"PhoneNumber": "+4915112345678", "Message": "x"}),
        Call(notifications, "ses", "SendEmail", {"Source": "no-reply@finview.example"}),
    ]
    assert refused(ok, NAMES) == []
    topic = Call(notifications, "sns", "Publish", {"TopicArn": "arn:aws:sns:eu-west-1:1:x", "Message": "x"})
    verify = Call(notifications, "ses", "VerifyEmailIdentity", {"EmailAddress": "x@y.example"})
    assert refused([topic, verify], NAMES) == [
        "NotificationsOnBusEvents: ses:VerifyEmailIdentity on any",
        "NotificationsOnBusEvents: sns:Publish on any",
    ]
