"""Schemathesis over the contacts API's served OpenAPI document, in CI: a bounded number of generated requests
per operation (positive and negative data), the built-in checks (no server error, documented status codes,
content types and response schemas, negative data refused, authentication enforced) except "positive data
accepted": a request the schema allows may still be refused for what a schema cannot say (a next_token this API
did not sign, a phone number that does not exist, a portfolio the client does not have). ``make fuzz`` runs the
same test with many more examples (FUZZ_EXAMPLES)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from infra.local.apigw import LocalApiGateway
from infra.provision import Provisioned
from tests.integration.contacts.support import ADMIN, API_FUNCTION

pytestmark = pytest.mark.integration
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))  # CI; `make fuzz` runs 300


def _fuzz(operation: Any, base_url: str) -> str | None:
    """The first failure schemathesis finds on ``operation``, or None."""
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, excluded_checks=[positive_data_acceptance])

    try:
        run()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        return f"{operation.label}: {exc}"
    return None


def test_contacts_api_conforms_to_its_openapi(aws: Provisioned) -> None:
    gateway = LocalApiGateway(API_FUNCTION, aws.region, aws.names.stage, {})
    url = gateway.serve()
    try:
        # The bearer token as schemathesis' auth, so its negative cases can leave it out (expecting 401).
        config = SchemathesisConfig.from_dict({"auth": {"openapi": {"bearerAuth": {"bearer": ADMIN}}}})
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) > 30
        failures = [f for f in (_fuzz(op, url) for op in operations) if f]
    finally:
        gateway.stop()
    assert not failures, "\n\n".join(failures)
