"""Dead letters written by ingest: what each carries so it can be found, understood and replayed.

Every dead letter names its `source`: `ingest/<format>` for an item rejected from an HTTP body
(`ingest/native`, `ingest/alertmanager`, `ingest/cloudevents`, `ingest/changes`,
`ingest/feedback`) and `ingest/raw` for a message of the `raw` topic. The reason, the source and
where the input came from are also Kafka headers of the dead-letter message (`dl_reason`,
`dl_source`, `dl_original_topic`, `dl_original_partition`, `dl_original_offset`), so tools can
filter without parsing the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from impactline.core.contracts import DeadLetter
from impactline.ingest.adapters import Translation

HEADER_REASON_LIMIT = 1000
ROUTE_HEADER = "http-route"


def source_name(fmt: str) -> str:
    return f"ingest/{fmt}"


def http_dead_letters(
    translation: Translation, fmt: str, route: str, context: Mapping[str, str], when: datetime
) -> list[DeadLetter]:
    """One letter per rejected item of an HTTP body; `context` keeps what replay needs."""
    headers = {ROUTE_HEADER: route, **context}
    return [
        letter.model_copy(update={"original_headers": headers})
        for letter in translation.dead_letters(source_name(fmt), time=when)
    ]


def letter_headers(letter: DeadLetter) -> dict[str, str]:
    """Kafka headers naming the reason, the source and the original position of a letter."""
    headers = {
        "dl_reason": letter.reason[:HEADER_REASON_LIMIT],
        "dl_source": letter.source,
    }
    if letter.original_topic is not None:
        headers["dl_original_topic"] = letter.original_topic
    if letter.original_partition is not None:
        headers["dl_original_partition"] = str(letter.original_partition)
    if letter.original_offset is not None:
        headers["dl_original_offset"] = str(letter.original_offset)
    return headers
