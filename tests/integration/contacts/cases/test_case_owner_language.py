"""A case owner's language: from the import file or set through the API, and the language its messages are in."""

from __future__ import annotations

from infra.provision import Provisioned
from services.contacts.cases import debtor_messages
from shared.events import ContactPointData, PostalAddress
from tests.integration.contacts.cases.support import Api, deliver, imported

OWNER, CASE = "owner-language", "case-language"
BERLIN = PostalAddress(street="Lindenstraße 5", postcode="10969", city="Berlin", country="DE")


def _import(client_id: str, language: str | None, case_id: str = CASE) -> None:
    event = imported(OWNER, client_id=client_id, case_ids=(case_id,), points=())
    event = event.model_copy(
        update={
            "case_owner": event.case_owner.model_copy(update={"language": language}),
            "contact_points": [ContactPointData(type="postal_address", value="Lindenstraße 5", address=BERLIN)],
        }
    )
    assert deliver(event)["batchItemFailures"] == []


def _message_language() -> str | None:
    return debtor_messages.debtor_message(CASE, "contact_request")[1].language


def test_the_language_comes_from_the_file_and_the_collector_changes_it(aws: Provisioned) -> None:
    api = Api()
    status, client = api.call("POST", "/clients", {"legal_name": "Stadtwerke"}, token="local-admin")
    assert status == 201
    _import(client["client_id"], "fr")
    assert api.call("GET", f"/case-owners/{OWNER}")[1]["case_owner"]["language"] == "fr"
    assert _message_language() == "fr"  # a French speaker living in Berlin

    status, changed = api.call("PATCH", f"/case-owners/{OWNER}", {"language": "en"})
    assert (status, changed["language"]) == (200, "en")
    assert _message_language() == "en"
    audit = api.call("GET", f"/case-owners/{OWNER}/audit")[1]["items"]
    assert any(e["action"] == "case_owner.changed" and e["after"] == {"language": "en"} for e in audit)

    status, refused = api.call("PATCH", f"/case-owners/{OWNER}", {"language": "english"})
    assert status == 422 and refused["error"]["field"] == "language"
    # Client users read their case owners; only the agency changes them.
    assert api.call("PATCH", f"/case-owners/{OWNER}", {"language": "de"}, token="client-a-user")[0] == 403

    status, cleared = api.call("PATCH", f"/case-owners/{OWNER}", {"language": None})
    assert (status, cleared["language"]) == (200, None)
    assert _message_language() == "de"  # unknown: the language of the country the debtor lives in

    # A later file names a language: learnt, since none is known; a third one does not override it.
    _import(client["client_id"], "it", "case-language-2")
    _import(client["client_id"], "es", "case-language-3")
    assert api.call("GET", f"/case-owners/{OWNER}")[1]["case_owner"]["language"] == "it"

