"""Sending one delivery to its destination over HTTP, the way each vendor needs it.

The request bodies come from the pure builders in `impactline.core.delivery.vendors`; this
module adds the secrets, makes the calls (a ServiceNow or Jira record is looked up before it is
created, so a retried create does not open a second one) and judges the answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from impactline.core.contracts import DestinationKind
from impactline.core.delivery import Action, IncidentContext, explain
from impactline.core.delivery.destinations import Jira, ServiceNow, Slack
from impactline.core.delivery.explain import Explained
from impactline.core.delivery.vendors import (
    jira,
    opsgenie,
    pagerduty,
    servicenow,
    slack,
    teams,
    webhook,
)
from impactline.core.delivery.vendors.request import HttpRequest, Verdict, judge
from impactline.notify.rows import Delivery, Subject
from impactline.notify.secrets import Secrets
from impactline.runtime.clock import Clock

_STATES = {
    Action.TRIGGER: "open",
    Action.CREATE: "open",
    Action.UPDATE: "open",
    Action.ACKNOWLEDGE: "acknowledged",
    Action.RESOLVE: "resolved",
}


@dataclass(frozen=True, slots=True)
class Result:
    status: str  # sent | skipped | retry | refused
    reason: str
    external_ref: str | None = None
    display_ref: str | None = None
    retry_after_s: float | None = None
    state: str | None = None


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    text: str
    data: Any
    retry_after: str | None


class _Failed(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.reason)
        self.result = result


class Sender:
    """Sends deliveries to one destination; one per destination, sharing its HTTP client."""

    def __init__(
        self,
        name: str,
        destination: Any,
        secrets: Secrets,
        client: httpx.AsyncClient,
        clock: Clock,
        dashboard_url: str | None,
    ) -> None:
        self.name = name
        self.destination = destination
        self.secrets = secrets
        self.client = client
        self.clock = clock
        self.dashboard_url = dashboard_url

    def explain(self, delivery: Delivery, context: IncidentContext | None) -> Explained:
        return explain(delivery.notice, context, self.dashboard_url, Action(delivery.action))

    async def send(
        self, delivery: Delivery, context: IncidentContext | None, subject: Subject | None
    ) -> Result:
        action = Action(delivery.action)
        explained = self.explain(delivery, context)
        state = _STATES.get(action, subject.state if subject else "open")
        try:
            result = await self._send(delivery, action, explained, subject)
        except _Failed as failure:
            return failure.result
        return Result(
            result.status,
            result.reason,
            result.external_ref,
            result.display_ref,
            result.retry_after_s,
            state=state,
        )

    async def _send(
        self, delivery: Delivery, action: Action, explained: Explained, subject: Subject | None
    ) -> Result:
        kind = self.destination.kind
        name = self.name
        if kind is DestinationKind.PAGERDUTY:
            key = self.secrets.require(name, "routing_key")
            request = pagerduty.event(self.destination, key, action, delivery.subject, explained)
            await self._call(request)
            return Result("sent", "accepted", external_ref=pagerduty.dedup_key(delivery.subject))
        if kind is DestinationKind.OPSGENIE:
            key = self.secrets.require(name, "api_key")
            request = opsgenie.request(self.destination, key, action, delivery.subject, explained)
            await self._call(request)
            return Result("sent", "accepted", external_ref=opsgenie.alias(delivery.subject))
        if kind is DestinationKind.SLACK:
            return await self._slack(explained, subject)
        if kind is DestinationKind.TEAMS:
            await self._call(teams.post(self.secrets.require(name, "webhook_url"), explained))
            return Result("sent", "posted")
        if kind is DestinationKind.SERVICENOW:
            return await self._servicenow(delivery, action, explained, subject)
        if kind is DestinationKind.JIRA:
            return await self._jira(delivery, action, explained, subject)
        secret = self.secrets.require(name, "signing_secret")
        stamp = int(self.clock.now().timestamp())
        request = webhook.post(
            self.destination.url,
            secret,
            stamp,
            delivery.delivery_id,
            action,
            delivery.subject,
            explained,
        )
        await self._call(request)
        return Result("sent", "accepted")

    async def _slack(self, explained: Explained, subject: Subject | None) -> Result:
        destination: Slack = self.destination
        if not destination.updates_in_place:
            await self._call(
                slack.webhook_post(self.secrets.require(self.name, "webhook_url"), explained)
            )
            return Result("sent", "posted")
        token = self.secrets.require(self.name, "token")
        ref = subject.external_ref if subject else None
        if ref:
            request = slack.api_update(destination, token, ref, explained)
        else:
            request = slack.api_post(destination, token, explained)
        answer = await self._call(request)
        error = slack.api_error(answer.data)
        if error is not None:
            verdict = "refused" if error in slack.REFUSALS else "retry"
            raise _Failed(Result(verdict, f"Slack answered {error}"))
        return Result("sent", "updated" if ref else "posted", slack.posted_ref(answer.data) or ref)

    async def _servicenow(
        self, delivery: Delivery, action: Action, explained: Explained, subject: Subject | None
    ) -> Result:
        destination: ServiceNow = self.destination
        headers = servicenow.auth_headers(
            self.secrets.get(self.name, "username"),
            self.secrets.get(self.name, "password"),
            self.secrets.get(self.name, "token"),
        )
        record = _known(subject)
        if record is None:
            answer = await self._call(servicenow.lookup(destination, headers, delivery.subject))
            record = servicenow.found(answer.data)
        if record is None:
            if action in (Action.NOTE, Action.RESOLVE):
                return Result("skipped", "no ServiceNow record was opened for this impact")
            created = await self._call(
                servicenow.create(destination, headers, delivery.subject, explained)
            )
            record = servicenow.found(created.data)
            if record is None:
                raise _Failed(Result("retry", "ServiceNow answered without a sys_id"))
            return Result("sent", "created", record[0], record[1])
        request = servicenow.change(destination, headers, record[0], action, explained)
        await self._call(request)
        return Result("sent", "updated", record[0], record[1])

    async def _jira(
        self, delivery: Delivery, action: Action, explained: Explained, subject: Subject | None
    ) -> Result:
        destination: Jira = self.destination
        headers = jira.auth_headers(
            self.secrets.get(self.name, "email"), self.secrets.require(self.name, "api_token")
        )
        key = subject.external_ref if subject and subject.external_ref else None
        if key is None:
            answer = await self._call(jira.lookup(destination, headers, delivery.subject))
            key = jira.found(answer.data)
        if key is None:
            if action in (Action.NOTE, Action.RESOLVE):
                return Result("skipped", "no Jira request was opened for this impact")
            created = await self._call(
                jira.create(destination, headers, delivery.subject, explained)
            )
            key = jira.found(created.data)
            if key is None:
                raise _Failed(Result("retry", "Jira answered without an issue key"))
            return Result("sent", "created", key, key)
        await self._call(jira.change(destination, headers, key, action, explained))
        return Result("sent", "updated", key, key)

    async def _call(self, request: HttpRequest) -> _Answer:
        try:
            response = await self.client.request(
                request.method, request.url, headers=request.headers, content=request.content
            )
        except httpx.TimeoutException:
            raise _Failed(Result("retry", "no answer within the timeout")) from None
        except httpx.HTTPError as exc:
            reason = self.secrets.redact(f"{type(exc).__name__}: {exc}")
            raise _Failed(Result("retry", reason)) from None
        text = self.secrets.redact(response.text[:500])
        outcome = judge(response.status_code, " ".join(text.split()), _retry_after(response))
        if outcome.verdict is Verdict.RETRY:
            raise _Failed(Result("retry", outcome.reason, retry_after_s=outcome.retry_after_s))
        if outcome.verdict is Verdict.REFUSED:
            raise _Failed(Result("refused", outcome.reason))
        return _Answer(response.status_code, text, _json(response), _retry_after(response))


def _known(subject: Subject | None) -> tuple[str, str] | None:
    if subject is None or not subject.external_ref:
        return None
    return subject.external_ref, subject.display_ref or subject.external_ref


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def _retry_after(response: httpx.Response) -> str | None:
    return response.headers.get("retry-after")
