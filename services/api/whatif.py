"""What-if routes: a hypothetical failure simulated by the live engine's code, a planned
change assessed against the business calendar, and a service's risk calendar
(docs/what-if.md)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from impactline.api.responses import READ_ERRORS, problem
from impactline.api.routes_services import current_snapshot
from impactline.core.correlation import parse_duration
from impactline.core.states import State
from impactline.core.whatif import Condition, WhatIfError, WhatIfModel, simulate
from impactline.core.whatif.change_risk import ChangePlan, assess_change
from impactline.core.whatif.documents import (
    ChangeAssessmentDoc,
    SimulationDoc,
    assessment_document,
    simulation_document,
)
from impactline.core.whatif.risk_calendar import RiskDay, risk_calendar
from impactline.runtime.auth import Principal, require_scope
from impactline.runtime.problems import Problem, validation_problem
from impactline.runtime.whatif import whatif_model

router = APIRouter(tags=["what-if"])
Reader = Annotated[Principal, Depends(require_scope("read"))]
_INDEX = re.compile(r"\[(\d+)\]")
# These POST routes compute and record nothing: a `read` key may call them. The marker tells
# the security suite to hold them to the read scope instead of a write scope.
READ_ONLY = {"x-impactline-read-only": True}


class CiCondition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ci_id: str = Field(min_length=1, max_length=200, examples=["db-gl-01"])
    state: Literal["down", "degraded"] = "down"


def _length(value: object) -> timedelta:
    return parse_duration(value)


class WhatIfRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cis: list[CiCondition] = Field(min_length=1, max_length=50)
    start: AwareDatetime = Field(description="When the CIs fail (with a UTC offset).")
    duration: timedelta = Field(
        description="How long they stay failed: ISO 8601 (`PT2H`) or `2h`, `90m`.",
        examples=["PT2H"],
    )

    @field_validator("duration", "outage", mode="before", check_fields=False)
    @classmethod
    def _duration(cls, value: object) -> object:
        return None if value is None else _length(value)

    def conditions(self) -> tuple[Condition, ...]:
        return tuple(Condition(c.ci_id, State(c.state)) for c in self.cis)


class ChangeAssessRequest(WhatIfRequest):
    risk: float = Field(1.0, ge=0.0, le=1.0, description="Probability that the change fails.")
    outage: timedelta | None = Field(
        None, description="How long the CIs would be out if it fails; default: the window."
    )
    search_from: AwareDatetime | None = Field(
        None, description="Search alternatives from this time; default: now."
    )
    days: int = Field(14, ge=1, le=90, description="Days to search for alternative windows.")
    proposals: int = Field(5, ge=1, le=50)


class CiChoice(BaseModel):
    id: str
    name: str
    services: list[str] = Field(description="Business services a failure of it can reach.")


class CiChoices(BaseModel):
    catalog_version: int
    items: list[CiChoice]


class RiskDayDoc(BaseModel):
    day: date
    level: int = Field(ge=0, le=4, description="0 calmest to 4 riskiest of the days shown.")
    peak_impact_rate: float = Field(description="Impact rate of a full outage at its worst.")
    peak_period: str | None
    peak_weight: float | None
    users: int
    periods: list[dict[str, float | str]]


class RiskCalendarDoc(BaseModel):
    service_id: str
    catalog_version: int
    days: list[RiskDayDoc]


def _problem(error: WhatIfError) -> Problem:
    loc: list[str | int] = ["body"]
    for part in error.field.split("."):
        name, *indexes = _INDEX.split(part)
        loc.append(name)
        loc.extend(int(i) for i in indexes if i)
    return validation_problem([{"loc": tuple(loc), "msg": error.message}])


async def _model(request: Request) -> WhatIfModel:
    snapshot = await current_snapshot(request)
    cache: dict[int, WhatIfModel] = request.app.state.__dict__.setdefault("whatif_models", {})
    model = cache.get(snapshot.version)
    if model is None:
        model = await asyncio.to_thread(
            whatif_model, request.app.state.settings, snapshot.catalog, snapshot.version
        )
        cache.clear()
        cache[snapshot.version] = model
    return model


@router.get(
    "/v1/what-if/cis",
    summary="CIs a what-if can name",
    description="Every CI of the current catalog with the business services it can reach.",
    responses={**READ_ERRORS, 404: problem("No catalog stored yet")},
)
async def what_if_cis(request: Request, _: Reader) -> CiChoices:
    model = await _model(request)
    graph = model.catalog.graph
    items = [
        CiChoice(
            id=ci.id,
            name=ci.name or ci.id,
            services=sorted(graph.services_affected_by(ci.id)) if ci.id in graph else [],
        )
        for ci in sorted(model.catalog.cis.values(), key=lambda c: c.id)
    ]
    return CiChoices(catalog_version=model.catalog_version, items=items)


@router.post(
    "/v1/what-if",
    openapi_extra=READ_ONLY,
    summary="Simulate a failure",
    description="What the live system would publish if the CIs were in the given states from "
    "`start` for `duration`: affected services, users, personas, calendar periods, the impact "
    "curve (every impact event), business impact minutes, priority and visibility.",
    responses={**READ_ERRORS, 404: problem("No catalog stored yet")},
)
async def what_if(request: Request, body: WhatIfRequest, _: Reader) -> SimulationDoc:
    model = await _model(request)
    try:
        result = await asyncio.to_thread(
            simulate, model, body.conditions(), body.start, body.duration
        )
    except WhatIfError as error:
        raise _problem(error) from None
    return simulation_document(result)


@router.post(
    "/v1/changes/assess",
    openapi_extra=READ_ONLY,
    summary="Assess a planned change",
    description="Expected (risk x assumed outage) and worst-case business impact minutes of "
    "a planned window, the periods it crosses, the people it would hit, and the least harmful "
    "windows of the same length in the next `days`, ranked and explained. Pass the answer as "
    "`assessment` when recording the change (`/v1/changes`) to keep it with the change.",
    responses={**READ_ERRORS, 404: problem("No catalog stored yet")},
)
async def assess(request: Request, body: ChangeAssessRequest, _: Reader) -> ChangeAssessmentDoc:
    model = await _model(request)
    plan = ChangePlan(
        conditions=body.conditions(),
        start=body.start,
        duration=body.duration,
        risk=body.risk,
        outage=body.outage,
        days=body.days,
        proposals=body.proposals,
    )
    now = request.app.state.clock.now()
    try:
        result = await asyncio.to_thread(assess_change, model, plan, body.search_from or now)
    except WhatIfError as error:
        raise _problem(error) from None
    return assessment_document(result, assessed_at=now, catalog_version=model.catalog_version)


@router.get(
    "/v1/services/{service_id}/risk-calendar",
    summary="Risk calendar of a service",
    description="For each day, the impact rate a full outage would have at the day's worst "
    "moment (calendar weight x people reached), with its period and a level 0-4 for colouring.",
    responses={**READ_ERRORS, 404: problem("No such service or no catalog")},
)
async def service_risk_calendar(
    request: Request,
    service_id: str,
    _: Reader,
    days: Annotated[int, Query(ge=1, le=92, description="Days to show.")] = 30,
    start: Annotated[
        date | None, Query(alias="from", description="First day (default: today, UTC).")
    ] = None,
) -> RiskCalendarDoc:
    model = await _model(request)
    if service_id not in model.catalog.services:
        raise Problem(404, "No such service", f"no business service {service_id!r}")
    first = start or request.app.state.clock.now().astimezone(UTC).date()
    try:
        found = await asyncio.to_thread(risk_calendar, model.engine(), service_id, first, days)
    except WhatIfError as error:
        raise _problem(error) from None
    return RiskCalendarDoc(
        service_id=service_id,
        catalog_version=model.catalog_version,
        days=[_day(d) for d in found],
    )


def _day(d: RiskDay) -> RiskDayDoc:
    return RiskDayDoc(
        day=d.day,
        level=d.level,
        peak_impact_rate=d.peak_rate,
        peak_period=d.peak_period,
        peak_weight=d.peak_weight,
        users=d.users,
        periods=[{"period": p, "weight": w, "hours": h} for p, w, h in d.periods],
    )
