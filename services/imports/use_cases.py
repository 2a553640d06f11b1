"""Imports use cases fed by the bus (the service's own copies of its clients and their import settings), and the
check for imports stuck in ``processing``.

The file pipeline (a drop or a continuation → case files on the bus) is in ``pipeline``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.imports import pipeline, repository
from services.imports.matching import profile_keys, tag_for
from shared import bus, subject_requests
from shared.events import (
    CaseOwnersMerged,
    ClientRegistered,
    ClientSettingsChanged,
    ImportsSubjectAccessCompleted,
    ImportsSubjectErasureCompleted,
    SubjectAccessRequested,
    SubjectErasureRequested,
)


def on_client_registered(event: ClientRegistered) -> None:
    repository.put_client(event.client_id, event.legal_name)


def on_settings_changed(event: ClientSettingsChanged) -> None:
    repository.put_settings(event.client_id, event.settings)


def on_case_owners_merged(event: CaseOwnersMerged) -> None:
    """An accepted match review (contacts merged two case owners): later rows go to the surviving case owner, and
    the merged one's names count as its confirmed identities.

    Written to the match index only under the client's matching turn: an import that is matching would write its
    own copy of either profile over the merge. When an import has the turn, the merge waits as a pending item and
    that import takes it in before its next batch (``pipeline.apply_pending_merges``)."""
    client_id, worker = event.client_id, f"merge-{event.event_id}"
    tag = tag_for(worker, 0)
    repository.add_pending_merge(
        client_id, event.event_id, event.surviving_case_owner_id, event.merged_case_owner_id, tag
    )
    if repository.take_matching_turn(client_id, worker, MERGE_TURN_S):
        try:
            pipeline.apply_pending_merges(client_id)
        finally:
            repository.end_matching_turn(client_id, worker)


MERGE_TURN_S = 60  # the turn a merge takes: a few reads and writes; it lapses by itself if this worker dies


def on_subject_access_requested(event: SubjectAccessRequested) -> None:
    """What imports holds about the person (GDPR Art. 15): what matching knows of them and the rows of the imports
    that brought them, staged for them. Rejected rows name no case owner (they matched nobody): they expire by their
    retention class instead."""
    people = [event.case_owner_id, *event.merged_case_owner_ids]  # and the same person's earlier, merged files
    profiles = repository.DynamoMatchIndex(event.client_id).get_profiles(people)
    rows = [
        {"import_id": import_id, **subject_requests.without_keys(row)}
        for import_id in event.import_ids
        for person in people
        for row in repository.owner_rows(import_id, person)
    ]
    keys = {
        k
        for person in people
        for k in repository.keys_holding(
            event.client_id, person, profile_keys(profiles[person]) if person in profiles else ()
        )
    }
    section: dict[str, list[dict[str, Any]]] = {
        "match_profile": [profiles[p].to_item() for p in people if p in profiles],
        # The keys (folded names, e-mails, phones, …) that link the person's rows in a client's next files.
        "match_keys": [{"key": k} for k in sorted(keys)],
        "staged_rows": rows,
    }
    bus.publish(subject_requests.answer(ImportsSubjectAccessCompleted, event, "imports", section))


def on_subject_erasure_requested(event: SubjectErasureRequested) -> None:
    """Erase what imports holds about the person (GDPR Art. 17): the owner leaves every match key, so a new file
    does not silently link a row to them again; its match profile and staged rows go."""
    owner = event.case_owner_id
    counts: dict[str, int] = {}
    for person in (owner, *event.merged_case_owner_ids):  # and the same person's earlier, merged case owners
        profile = repository.DynamoMatchIndex(event.client_id).get_profiles([person]).get(person)
        rows = [r for import_id in event.import_ids for r in repository.owner_rows(import_id, person)]
        erased = repository.erase_owner(event.client_id, person, profile_keys(profile) if profile else set(), rows)
        counts = {k: counts.get(k, 0) + v for k, v in erased.items()}
    bus.publish(
        [
            ImportsSubjectErasureCompleted(
                event_id=subject_requests.answer_id(event.request_id, "imports"),
                correlation_id=event.correlation_id,
                request_id=event.request_id,
                case_owner_id=owner,
                service="imports",
                counts=counts,
            )
        ]
    )


# The pipeline records progress at least every batch of rows (seconds apart); half an hour without any is stuck:
# its message and continuations are gone, or every delivery dies before the first checkpoint.
STUCK_AFTER = timedelta(minutes=30)


def stuck_imports(now: datetime) -> list[str]:
    """The active imports without progress for ``STUCK_AFTER``; finished ones still listed as active are let go."""
    stuck = []
    for import_id in repository.active_imports():
        job = repository.get_job(import_id)
        if job is None or job["status"] in repository.FINAL:
            repository.forget_active(import_id)
            continue
        last = datetime.fromisoformat(str(job.get("updated_at") or job["received_at"]))
        if now - last > STUCK_AFTER:
            stuck.append(import_id)
    return stuck


# A job with no live lease and no progress for this long has lost its worker: a continuation message normally
# starts a run within seconds, and a job waiting for its client's matching turn looks again after TURN_WAIT_S.
ORPHANED_AFTER = timedelta(minutes=2)
MAX_RESUMED_PER_SWEEP = 100


def orphaned_imports(now: datetime) -> list[str]:
    """The active imports that no worker holds (lease absent or expired) and that made no progress for
    ``ORPHANED_AFTER``; the sweeper sends each a continuation. A live lease means a run is on it."""
    orphaned = []
    for import_id in repository.active_imports():
        job = repository.get_job(import_id)
        if job is None or job["status"] in repository.FINAL:
            continue
        if int(job.get("lease_until", 0)) >= int(now.timestamp()):
            continue
        last = datetime.fromisoformat(str(job.get("updated_at") or job["received_at"]))
        if now - last >= ORPHANED_AFTER:
            orphaned.append(import_id)
            if len(orphaned) >= MAX_RESUMED_PER_SWEEP:
                break
    return orphaned
