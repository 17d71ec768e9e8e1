"""A generic webhook: the notice as a CloudEvents 1.0 JSON event (structured mode), signed.

Headers: `Impactline-Signature` (see `signing`), `Impactline-Delivery` and `Idempotency-Key`
(the delivery id: a receiver that sees it twice has seen a retry), `Content-Type:
application/cloudevents+json`.
"""

from __future__ import annotations

import json
from typing import Any

from impactline.core.delivery.explain import Explained
from impactline.core.delivery.notice import Action
from impactline.core.delivery.signing import DELIVERY_HEADER, SIGNATURE_HEADER, sign
from impactline.core.delivery.vendors.request import HttpRequest

CONTENT_TYPE = "application/cloudevents+json"


def event(delivery_id: str, action: Action, subject: str, explained: Explained) -> dict[str, Any]:
    notice = explained.notice
    return {
        "specversion": "1.0",
        "id": delivery_id,
        "source": "impactline/notify",
        "type": f"io.impactline.notify.{notice.source.value}.{action.value}",
        "time": notice.time.isoformat(),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": {
            "action": action.value,
            "title": explained.title,
            "facts": {fact.label: fact.value for fact in explained.facts},
            "link": explained.link,
            "notice": notice.model_dump(mode="json"),
        },
    }


def post(
    url: str,
    secret: str,
    timestamp: int,
    delivery_id: str,
    action: Action,
    subject: str,
    explained: Explained,
) -> HttpRequest:
    body = json.dumps(event(delivery_id, action, subject, explained), separators=(",", ":"))
    content = body.encode()
    headers = {
        "Content-Type": CONTENT_TYPE,
        SIGNATURE_HEADER: sign(secret, timestamp, content),
        DELIVERY_HEADER: delivery_id,
        "Idempotency-Key": delivery_id,
    }
    return HttpRequest("POST", url, headers, content)
