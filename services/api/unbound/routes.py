"""Events waiting for a binding: grouped by the input and the key they named, and one by one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from impactline.api.pagination import decode_cursor, encode_cursor, page_after
from impactline.api.responses import READ_ERRORS
from impactline.api.unbound.store import UnboundStore
from impactline.runtime.auth import Principal, require_scope

router = APIRouter(prefix="/v1/unbound", tags=["binding"])
Reader = Annotated[Principal, Depends(require_scope("read"))]
Status = Annotated[
    Literal["waiting", "bound"],
    Query(description="`waiting`: no binding found a CI yet; `bound`: replayed since."),
]
InputQuery = Annotated[
    str | None,
    Query(alias="input", description="Only this input: alertmanager, grafana, native, ..."),
]
HINT = (
    "Add an alias to the CI or a binding rule to the catalog (PUT /v1/catalog or "
    "`impactline catalog load`), then publish the waiting events with `impactline unbound "
    "replay`; `impactline bind explain` tries a payload first."
)


class UnboundKey(BaseModel):
    input: str = Field(description="The input the events came through.")
    key: str = Field(description="What they named their CI, as sent.")
    events: int
    first_seen: datetime
    last_seen: datetime
    reason: str = Field(description="Why the latest of them was not bound, step by step.")
    closest: list[str] = Field(description="The CI ids most like what they named.")
    latest_event_id: str
    latest_summary: str


class UnboundPage(BaseModel):
    status: str
    total_keys: int
    total_events: int
    items: list[UnboundKey]
    next: str | None = Field(description="URL of the next page, if any.")
    hint: str = HINT


class UnboundEventOut(BaseModel):
    event_id: str
    input: str
    key: str
    kind: str
    status: str
    received_at: datetime
    event_time: datetime | None
    state: str | None
    summary: str
    reason: str
    closest: list[str]
    catalog_version: int
    bound_ci_id: str | None
    bound_rule: str | None
    bound_at: datetime | None


class UnboundEventPage(BaseModel):
    items: list[UnboundEventOut]
    next: str | None


def unbound_store(request: Request) -> UnboundStore:
    store: UnboundStore = request.app.state.unbound_store
    return store


Store = Annotated[UnboundStore, Depends(unbound_store)]


@router.get(
    "",
    summary="Events waiting for a binding, per input and the key they named",
    description="Events no alias or binding rule found a catalog CI for, kept on the "
    "`unbound` topic. One item per input and key, sorted by input then key, with the count, "
    "when they were first and last seen, why the latest was not bound and the closest CI ids. "
    "`status=bound` lists what replays have bound since.",
    responses=READ_ERRORS,
)
async def list_unbound(
    request: Request,
    store: Store,
    _: Reader,
    status: Status = "waiting",
    input_name: InputQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="From the previous page's `next`.")] = None,
) -> UnboundPage:
    rows = await store.groups(status, input_name)
    items = [
        UnboundKey(
            input=r["input"],
            key=r["key"],
            events=r["events"],
            first_seen=r["first_seen"],
            last_seen=r["last_seen"],
            reason=r["reason"],
            closest=list(r["candidates"]),
            latest_event_id=r["event_id"],
            latest_summary=r["summary"],
        )
        for r in rows
    ]
    page = page_after([f"{i.input}\x1f{i.key}" for i in items], items, cursor, limit)
    next_url = None
    if page.next_cursor is not None:
        next_url = str(request.url.include_query_params(cursor=page.next_cursor, limit=limit))
    return UnboundPage(
        status=status,
        total_keys=len(items),
        total_events=sum(i.events for i in items),
        items=page.items,
        next=next_url,
    )


@router.get(
    "/events",
    summary="Unbound events one by one, oldest first",
    responses=READ_ERRORS,
)
async def list_unbound_events(
    request: Request,
    store: Store,
    _: Reader,
    status: Status = "waiting",
    input_name: InputQuery = None,
    key: Annotated[str | None, Query(description="Only events that named this key.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="From the previous page's `next`.")] = None,
) -> UnboundEventPage:
    after = None
    if cursor is not None:
        at, _, event_id = decode_cursor(cursor).partition("|")
        try:
            after = (datetime.fromisoformat(at), event_id)
        except ValueError:
            decode_cursor("")  # raises the invalid-cursor problem
    rows = await store.events(status, input_name, key, after, limit + 1)
    items = [
        UnboundEventOut(
            **{k: v for k, v in dict(r).items() if k != "candidates"}, closest=list(r["candidates"])
        )
        for r in rows[:limit]
    ]
    next_url = None
    if len(rows) > limit:
        last = items[-1]
        mark = encode_cursor(f"{last.received_at.isoformat()}|{last.event_id}")
        next_url = str(request.url.include_query_params(cursor=mark, limit=limit))
    return UnboundEventPage(items=items, next=next_url)
