"""Peer: Prometheus Alertmanager and impactline take the same alert stream in the same run.

Alertmanager gets `POST /api/v2/alerts` and notifies a webhook this benchmark serves, grouped
per CI with group_wait = group_interval = 100 ms; impactline gets the same alerts as webhook
notifications on `POST /v1/alertmanager`. Both see first a paced stream (time from posting an
alert to its notification, or to its impact event) and then a closed loop (alerts/s accepted).
"""

from __future__ import annotations

import math

from bench.alertmanager import (
    GROUP_INTERVAL,
    GROUP_WAIT,
    AlertFeed,
    Alertmanager,
    Unavailable,
    Webhook,
    ensure_installed,
    version,
)
from bench.harness import BenchContext, bench_settings, catalog_for, running_system
from bench.load_phases import Pipeline
from bench.report import Figure, Section, ratio
from bench.workload import Poster, Sent, impactful_cis, paced, percentile, saturate, split

SENDERS = 8
BATCH = 100


def accepted_per_s(sent: Sent) -> float:
    return sum(n for _, n in sent.accepted_at) / max(1e-9, sent.ended - sent.started)


def delays_ms(sent: Sent, first: dict[str, float]) -> list[float]:
    return sorted((first[i] - t) * 1000 for i, t in sent.at.items() if i in first)


def nan_none(value: float) -> float | None:
    return None if math.isnan(value) else value


async def run(ctx: BenchContext) -> Section:
    section = Section("peer", "Peer: Prometheus Alertmanager on the same alert stream")
    try:
        exe = ensure_installed()
    except Unavailable as exc:
        section.skipped = str(exc)
        return section
    catalog_dir, catalog = catalog_for(ctx, 2_000, 20_000)
    targets = impactful_cis(catalog)
    # The warm-up of impactline uses its own CIs, so the alerts' CIs start out ok everywhere.
    warm_targets, alert_targets = targets[: len(targets) // 3], targets[len(targets) // 3 :]
    pipeline_rate = ctx.shared.get("pipeline_per_s") or 100.0
    rate = max(5.0, min(500.0, pipeline_rate / 2))
    paced_s, closed_s = ctx.scaled(10, 5), ctx.scaled(15, 6)
    groups = split(alert_targets, SENDERS)

    webhook = Webhook()
    await webhook.start()
    manager = Alertmanager(exe, ctx.workdir / "alertmanager", webhook.port)
    poster = Poster("", "", SENDERS)
    try:
        await manager.start()
        poster.url = manager.url
        feeds = [AlertFeed(g, f"am{n}", for_impactline=False) for n, g in enumerate(groups)]
        am_paced = await paced(poster, feeds, rate=rate, duration_s=paced_s, path="/api/v2/alerts")
        am_missing = await webhook.wait_for(list(am_paced.at), 15.0)
        am_delays = delays_ms(am_paced, webhook.first)
        am_closed = await saturate(
            poster, feeds, None, duration_s=closed_s, batch=BATCH, path="/api/v2/alerts"
        )
    finally:
        await poster.close()
        manager.stop()
        await webhook.stop()

    settings = bench_settings(ctx, "peer", catalog_dir)
    async with (
        running_system(settings, ctx.workdir / "logs-peer") as system,
        Pipeline(system, warm_targets, "w") as pipeline,
    ):
        await pipeline.warm_up()
        watch = pipeline._watch()
        feeds = [AlertFeed(g, f"il{n}", for_impactline=True) for n, g in enumerate(groups)]
        il_paced = await paced(
            pipeline.poster, feeds, rate=rate, duration_s=paced_s, path="/v1/alertmanager"
        )
        il_missing = await watch.wait_for(list(il_paced.at), 30.0)
        il_delays = delays_ms(il_paced, watch.first)
        for feed in feeds:
            feed.track = False
        il_closed = await saturate(
            pipeline.poster,
            feeds,
            None,
            duration_s=closed_s,
            batch=BATCH,
            path="/v1/alertmanager",
        )

    am_rate, il_rate = accepted_per_s(am_closed), accepted_per_s(il_closed)
    am_version = version(exe)
    section.add(
        Figure(
            "impactline_alerts_per_s",
            "impactline /v1/alertmanager, alerts accepted",
            il_rate,
            "alerts/s",
            f"Alertmanager {am_rate:,.0f} alerts/s: {ratio(il_rate, am_rate)}",
            "≥ Alertmanager",
            il_rate >= am_rate,
            note=f"batches of {BATCH}, {SENDERS} connections, whole system running",
        ),
        Figure(
            "alertmanager_alerts_per_s",
            f"Alertmanager {am_version} /api/v2/alerts, accepted",
            am_rate,
            "alerts/s",
            f"batches of {BATCH}, {SENDERS} connections",
        ),
    )
    for name, fraction in (("p50", 0.5), ("p99", 0.99)):
        il, am = percentile(il_delays, fraction), percentile(am_delays, fraction)
        section.add(
            Figure(
                f"impactline_{name}_ms",
                f"impactline: alert posted -> impact event, {name}",
                nan_none(il),
                "ms",
                f"Alertmanager posted -> webhook notification {am:,.0f} ms"
                if not math.isnan(am)
                else "",
                note=f"at {rate:,.0f} alerts/s" if name == "p50" else "",
            )
        )
    section.notes += [
        f"Alertmanager {am_version} (Debian package), 127.0.0.1, clustering off; route: "
        f"group_by [ci], group_wait {GROUP_WAIT}, group_interval {GROUP_INTERVAL}, "
        "repeat_interval 1h; one webhook receiver served by the benchmark.",
        f"Paced stream: {rate:,.0f} alerts/s for {paced_s:.0f} s to each (half the pipeline's "
        f"sustained rate, between 5 and 500); unmatched after the wait: Alertmanager "
        f"{am_missing}, impactline {il_missing}.",
        "Alertmanager's work ends at the notification; impactline's at the impact event, after "
        "correlation and impact scoring, with correlate and impact running on the same 2 cores.",
    ]
    section.details = {
        "alertmanager_version": am_version,
        "group_wait": GROUP_WAIT,
        "group_interval": GROUP_INTERVAL,
        "paced_rate": rate,
        "alertmanager": {
            "accepted_per_s": am_rate,
            "errors": dict(am_closed.errors),
            "notifications": webhook.notifications,
            "latency_ms": {
                "p50": percentile(am_delays, 0.5),
                "p95": percentile(am_delays, 0.95),
                "p99": percentile(am_delays, 0.99),
                "matched": len(am_delays),
            },
        },
        "impactline": {
            "accepted_per_s": il_rate,
            "errors": dict(il_closed.errors),
            "latency_ms": {
                "p50": percentile(il_delays, 0.5),
                "p95": percentile(il_delays, 0.95),
                "p99": percentile(il_delays, 0.99),
                "matched": len(il_delays),
            },
        },
    }
    return section
