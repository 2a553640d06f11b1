"""The bureau's base URL, API key and price come from Secrets Manager (moto's server), validated."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from pydantic import ValidationError

from infra.provision import Provisioned
from services.enrichment import use_cases
from services.enrichment.bureau import HttpBureau, load_secret
from tests.integration.enrichment.test_bureau import API_KEY, FakeBureau, search
from tests.integration.support import client


def test_bureau_secret_is_read_from_secrets_manager(aws: Provisioned) -> None:
    name = f"finview/{aws.names.stage}/bureau"
    value = {"base_url": "https://bureau.example/v1", "api_key": "k-123", "price_per_search": "0.80"}
    client(aws, "secretsmanager").create_secret(Name=name, SecretString=json.dumps(value))
    secret = load_secret(name)
    assert secret.base_url == "https://bureau.example/v1" and secret.price_per_search == Decimal("0.80")
    assert secret.api_key.get_secret_value() == "k-123" and "k-123" not in repr(secret)


def test_a_malformed_bureau_secret_is_refused(aws: Provisioned) -> None:
    name = f"finview/{aws.names.stage}/bad-bureau"
    bad = {"base_url": "ftp://bureau.example", "api_key": "", "price_per_search": "-1"}
    client(aws, "secretsmanager").create_secret(Name=name, SecretString=json.dumps(bad))
    with pytest.raises(ValidationError) as info:
        load_secret(name)
    assert {e["loc"][0] for e in info.value.errors()} == {"base_url", "api_key", "price_per_search"}


def test_the_schedule_uses_the_bureau_named_by_its_settings(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> None:
    bureau = FakeBureau()
    thread = threading.Thread(target=bureau.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        name = f"finview/{aws.names.stage}/live-bureau"
        value = {"base_url": bureau.url, "api_key": API_KEY, "price_per_search": "0.80"}
        client(aws, "secretsmanager").create_secret(Name=name, SecretString=json.dumps(value))
        monkeypatch.setenv("ENRICHMENT_PROVIDER", "bureau")
        monkeypatch.setenv("ENRICHMENT_BUREAU_SECRET", name)
        provider = use_cases.provider()
        assert isinstance(provider, HttpBureau) and provider.quote(search("found-1")) == Decimal("0.80")
        assert provider.search(search("found-1", "phone")).outcome == "found"
    finally:
        bureau.shutdown()
        bureau.server_close()
        thread.join(timeout=5)
