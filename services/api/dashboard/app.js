// impactline dashboard: the service board, open incidents, business impact minutes and value
// stream figures, kept current by the live stream. Plain DOM, no framework, nothing fetched
// from anywhere but this API.
"use strict";

const KEY_STORE = "impactline.apiKey";
const PRIORITY_RANK = { P1: 1, P2: 2, P3: 3, P4: 4, P5: 5 };
const DAY_MS = 86400000;
const UNBOUND_POLL_MS = 15000; // unbound events do not come through the live stream

const model = {
  key: localStorage.getItem(KEY_STORE) || "",
  services: new Map(), // id -> ServiceStatus
  incidents: new Map(), // id -> Incident (+ calendar of its latest impact)
  deliveries: new Map(), // incident id -> Map(delivery id -> Delivery), what notify sent
  scrolled: false, // whether the incident named in the address (#incident-<id>) was shown
  asOf: null,
  lastEventId: null,
  stream: null,
};

// -- small helpers --------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "on") Object.entries(value).forEach(([ev, fn]) => node.addEventListener(ev, fn));
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const $ = (id) => document.getElementById(id);

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString("en-GB", {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: "UTC",
  }) + " UTC";
}

function fmtNumber(value, digits = 1) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-GB", { maximumFractionDigits: digits });
}

function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < DAY_MS / 1000) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function fmtPercent(ratio, digits = 2) {
  if (ratio === null || ratio === undefined) return "–";
  return `${(ratio * 100).toFixed(digits)}%`;
}

function weightLabel(period, weight) {
  if (weight === null || weight === undefined) return period || "unweighted";
  return `${period} ×${fmtNumber(weight, 2)}`;
}

function notice(text) {
  const box = $("notice");
  box.textContent = text || "";
  box.hidden = !text;
}

// Debounced jobs, so a burst of stream events causes one reload.
const timers = new Map();
function soon(name, fn, delayMs) {
  if (timers.has(name)) return;
  timers.set(name, setTimeout(() => { timers.delete(name); fn(); }, delayMs));
}

// -- the API ----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${model.key}`, Accept: "application/json", ...(options.headers || {}) },
  });
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) askForKey("That key was refused; enter a valid API key.");
    throw new ApiError(response.status, body);
  }
  return body;
}

async function allPages(path) {
  const items = [];
  let next = path;
  while (next) {
    const page = await api(next);
    items.push(...page.items);
    next = page.next;
    if (page.as_of) model.asOf = page.as_of;
  }
  return items;
}

// -- loading ----------------------------------------------------------------------------------

async function loadBoard() {
  const items = await allPages("/v1/service-status?limit=200");
  model.services = new Map(items.map((s) => [s.id, s]));
  fillScopes();
  renderBoard();
  renderIncidents();
}

async function loadIncidents() {
  const [open, acked, sent] = await Promise.all([
    allPages("/v1/incidents?state=open&limit=200"),
    allPages("/v1/incidents?state=acknowledged&limit=200"),
    api("/v1/deliveries?limit=500"),
  ]);
  sent.items.forEach(onDelivery);
  const next = new Map();
  for (const incident of [...open, ...acked]) {
    const known = model.incidents.get(incident.incident_id);
    next.set(incident.incident_id, { ...incident, calendar: known ? known.calendar : null });
  }
  model.incidents = next;
  renderIncidents();
}

async function loadIncident(id) {
  try {
    const [incident, sent] = await Promise.all([
      api(`/v1/incidents/${encodeURIComponent(id)}`),
      api(`/v1/deliveries?incident_id=${encodeURIComponent(id)}&limit=200`),
    ]);
    sent.items.forEach(onDelivery);
    if (incident.state === "resolved") model.incidents.delete(id);
    else {
      const known = model.incidents.get(id) || {};
      // The read model is the authority on an incident's minutes and priority: the sum of
      // every episode charged to it or to an incident merged into it (docs/correlation.md).
      model.incidents.set(id, {
        ...incident,
        business_impact_minutes: Math.max(incident.business_impact_minutes, known.business_impact_minutes || 0),
        priority: best(known.priority, incident.priority),
        high_visibility: incident.high_visibility || !!known.high_visibility,
        calendar: known.calendar || null,
      });
    }
    renderIncidents();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
}

async function loadChart() {
  const end = new Date(model.asOf || Date.now());
  const until = new Date(Math.ceil(end.getTime() / DAY_MS) * DAY_MS);
  const since = new Date(until.getTime() - 30 * DAY_MS);
  const domain = $("domain").value;
  const query = new URLSearchParams({ since: since.toISOString(), until: until.toISOString(), buckets: "30" });
  if (domain) query.set("domain", domain);
  renderChart(await api(`/v1/impact/minutes?${query}`));
}

async function loadValueStream() {
  const scope = $("vs-scope").value;
  if (!scope) return;
  const [kind, name] = scope.split(":");
  const until = new Date(model.asOf || Date.now());
  const since = new Date(until.getTime() - Number($("vs-window").value) * DAY_MS);
  const query = new URLSearchParams({ [kind]: name, since: since.toISOString(), until: until.toISOString() });
  renderValueStream(await api(`/v1/value-stream?${query}`));
}

// Events no alias or binding rule found a CI for: what they named and the closest CIs.
async function loadUnbound() {
  renderUnbound(await api("/v1/unbound?limit=50"));
}

async function loadAll() {
  if (!model.key) return askForKey();
  try {
    await loadBoard();
    await loadIncidents();
    await Promise.all([loadChart(), loadValueStream(), loadUnbound()]);
    notice("");
  } catch (error) {
    notice(`Could not load the dashboard: ${error.message}`);
  }
}

function refreshLater() {
  soon("board", () => loadBoard().catch(report), 3000);
  soon("chart", () => loadChart().catch(report), 4000);
  soon("value-stream", () => loadValueStream().catch(report), 5000);
}

function report(error) { notice(error.message); }

// -- the live stream ----------------------------------------------------------------------------

async function connectStream() {
  if (model.stream) model.stream.abort();
  const controller = new AbortController();
  model.stream = controller;
  setLive("wait", "connecting");
  let delay = 1000;
  while (!controller.signal.aborted) {
    try {
      const headers = { Authorization: `Bearer ${model.key}`, Accept: "text/event-stream" };
      if (model.lastEventId) headers["Last-Event-ID"] = model.lastEventId;
      const response = await fetch("/v1/stream", { headers, signal: controller.signal });
      if (response.status === 401 || response.status === 403) {
        setLive("off", "no access");
        return askForKey("The key cannot read the live stream.");
      }
      if (!response.ok) throw new Error(`stream answered ${response.status}`);
      await readEvents(response.body, (frame) => {
        delay = 1000;
        onFrame(frame);
      });
    } catch (error) {
      if (controller.signal.aborted) return;
    }
    setLive("wait", "reconnecting");
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 15000);
  }
}

async function readEvents(body, onFrameParsed) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const frame = { id: null, event: "message", data: [] };
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const at = line.indexOf(":");
        const field = at < 0 ? line : line.slice(0, at);
        const text = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
        if (field === "id") frame.id = text;
        else if (field === "event") frame.event = text;
        else if (field === "data") frame.data.push(text);
      }
      if (frame.data.length || frame.id) onFrameParsed({ ...frame, data: frame.data.join("\n") });
    }
  }
}

function onFrame(frame) {
  if (frame.id) model.lastEventId = frame.id;
  if (frame.event === "ready") return setLive("on", "live");
  if (frame.event === "reset") return loadAll();
  if (!frame.data) return;
  const data = JSON.parse(frame.data);
  if (frame.event === "impact") onImpact(data);
  else if (frame.event === "incident") onIncident(data);
  else if (frame.event === "service-health") onHealth(data);
  else if (frame.event === "delivery") {
    onDelivery(data);
    renderIncidents();
  }
}

// A delivery from the list (`updated_at`) or the stream (`time`, `version`): keep the newest.
function onDelivery(delivery) {
  if (!delivery.incident_id) return;
  const byId = model.deliveries.get(delivery.incident_id) || new Map();
  const known = byId.get(delivery.delivery_id);
  const updated = delivery.updated_at || delivery.time;
  if (known && new Date(known.updated) > new Date(updated)) return;
  if (known && delivery.version !== undefined && known.version > delivery.version) return;
  byId.set(delivery.delivery_id, { ...delivery, updated, version: delivery.version ?? known?.version ?? 0 });
  model.deliveries.set(delivery.incident_id, byId);
}

function advanceClock(time) {
  if (!model.asOf || new Date(time) > new Date(model.asOf)) model.asOf = time;
  renderClock();
}

function best(a, b) {
  if (!a) return b || null;
  if (!b) return a;
  return PRIORITY_RANK[a] <= PRIORITY_RANK[b] ? a : b;
}

function onImpact(event) {
  advanceClock(event.time);
  const service = model.services.get(event.service_id);
  if (service) {
    service.state = event.state;
    service.impact_rate = event.state === "ok" ? 0 : event.impact_rate;
    service.impact = {
      ...(service.impact || {}), time: event.time, state: event.state, reason: event.reason,
      incident_id: event.incident_id, users_affected: event.users_affected,
      impact_rate: event.impact_rate, business_impact_minutes: event.business_impact_minutes,
      calendar_period: event.calendar ? event.calendar.period : null,
      calendar_weight: event.calendar ? event.calendar.weight : null,
      priority: event.priority, high_visibility: event.high_visibility,
    };
    if (event.calendar && service.calendar) {
      service.calendar = { ...service.calendar, period: event.calendar.period, weight: event.calendar.weight };
    }
    renderBoard();
  }
  // Every incident charged now (a merge's survivor, two causes sharing a service) takes the
  // priority at once; the minutes come from the read model, which adds up every episode.
  const charged = (event.incident_ids && event.incident_ids.length)
    ? event.incident_ids : (event.incident_id ? [event.incident_id] : []);
  let changed = false;
  for (const id of charged) {
    const incident = model.incidents.get(id);
    if (incident) {
      incident.priority = best(incident.priority, event.priority);
      incident.high_visibility = incident.high_visibility || event.high_visibility;
      if (event.calendar) incident.calendar = event.calendar;
      changed = true;
    }
    if (incident || event.state !== "ok") {
      soon(`incident:${id}`, () => loadIncident(id).catch(report), incident ? 1500 : 500);
    }
  }
  if (changed) renderIncidents();
  refreshLater();
}

function onIncident(event) {
  advanceClock(event.time);
  if (event.state === "resolved") {
    model.incidents.delete(event.incident_id);
  } else {
    const known = model.incidents.get(event.incident_id) || {
      priority: null, high_visibility: false, business_impact_minutes: 0, calendar: null,
    };
    model.incidents.set(event.incident_id, {
      ...known,
      incident_id: event.incident_id,
      state: event.state,
      opened_at: event.opened_at,
      updated_at: event.time,
      affected_services: event.affected_services,
      member_cis: event.member_cis,
      root_cause_candidates: event.root_cause_candidates,
      suspect_changes: event.suspect_changes,
    });
    // The priority and impact minutes come from impact events; fetch the read model's view.
    soon(`incident:${event.incident_id}`, () => loadIncident(event.incident_id).catch(report), 1500);
  }
  renderIncidents();
  refreshLater();
}

function onHealth(event) {
  advanceClock(event.time);
  const service = model.services.get(event.service_id);
  if (!service) return;
  service.state = event.state;
  service.state_since = event.time;
  service.incident_id = event.state === "ok" ? null : event.incident_id;
  if (event.state === "ok") service.impact_rate = 0;
  renderBoard();
}

function setLive(kind, text) {
  const badge = $("live");
  badge.className = `live ${kind}`;
  badge.textContent = text;
}

// -- incident actions ---------------------------------------------------------------------------

async function command(incidentId, verb, button) {
  button.disabled = true;
  button.textContent = verb === "ack" ? "Acknowledging…" : "Resolving…";
  try {
    await api(`/v1/incidents/${encodeURIComponent(incidentId)}/${verb}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ note: "from the dashboard" }),
    });
    notice("");
  } catch (error) {
    button.disabled = false;
    button.textContent = verb === "ack" ? "Acknowledge" : "Resolve";
    notice(error.status === 403
      ? "Acknowledging and resolving needs a key with the admin scope."
      : `Could not ${verb === "ack" ? "acknowledge" : "resolve"} ${incidentId}: ${error.message}`);
  }
}

// -- rendering ----------------------------------------------------------------------------------

function renderClock() {
  $("clock").textContent = model.asOf ? `as of ${fmtTime(model.asOf)}` : "";
}

function inDomain(serviceIds) {
  const domain = $("domain").value;
  if (!domain) return true;
  return serviceIds.some((id) => (model.services.get(id) || {}).business_domain === domain);
}

function incidentOrder(a, b) {
  const pa = PRIORITY_RANK[a.priority] || 9;
  const pb = PRIORITY_RANK[b.priority] || 9;
  if (pa !== pb) return pa - pb;
  if (a.high_visibility !== b.high_visibility) return a.high_visibility ? -1 : 1;
  return new Date(b.opened_at) - new Date(a.opened_at);
}

function incidentCalendar(incident) {
  if (incident.calendar) return incident.calendar;
  for (const id of incident.affected_services || []) {
    const service = model.services.get(id);
    const impact = service && service.impact;
    if (impact && impact.incident_id === incident.incident_id && impact.calendar_weight !== null) {
      return { period: impact.calendar_period, weight: impact.calendar_weight };
    }
  }
  return null;
}

function renderIncidents() {
  const list = [...model.incidents.values()].filter((i) => inDomain(i.affected_services || []));
  list.sort(incidentOrder);
  $("incident-count").textContent = list.length ? String(list.length) : "";
  const box = $("incidents");
  box.replaceChildren();
  if (!list.length) box.append(el("p", { class: "empty" }, "No open incidents."));
  for (const incident of list) box.append(incidentCard(incident));
  revealLinkedIncident();
}

// Messages from notify link to `/#incident-<id>`: show that card once it is there.
function revealLinkedIncident() {
  if (model.scrolled || !location.hash.startsWith("#incident-")) return;
  const card = document.getElementById(location.hash.slice(1));
  if (!card) return;
  model.scrolled = true;
  card.classList.add("linked");
  card.scrollIntoView({ block: "center" });
}

// What reached pagers, chat and ITSM tools: the latest delivery of each alert or record
// (subject) at each destination.
function deliveryLine(incident) {
  const sent = [...(model.deliveries.get(incident.incident_id) || new Map()).values()];
  if (!sent.length) return null;
  const latest = new Map();
  for (const d of sent.sort((a, b) => new Date(a.created_at) - new Date(b.created_at))) {
    latest.set(`${d.destination} ${d.subject}`, d);
  }
  const chips = [...latest.values()].map((d) => el("span", {
    class: `delivery ${d.status}`,
    title: d.last_error ? `${d.attempts} attempt(s): ${d.last_error}` : `${d.attempts} attempt(s)`,
    dataset: { destination: d.destination, action: d.action, status: d.status },
  }, `${d.destination} ${d.action}${d.external_ref && d.kind !== "pagerduty" && d.kind !== "opsgenie" ? ` ${d.external_ref}` : ""} \u00b7 ${d.status}`));
  return el("div", { class: "detail deliveries" }, el("span", { class: "label" }, "Delivered: "), chips);
}

function incidentCard(incident) {
  const priority = incident.priority || "–";
  const calendar = incidentCalendar(incident);
  const names = (incident.affected_services || []).map((id) => (model.services.get(id) || { name: id }).name);
  const flags = el("span", { class: "flags" },
    incident.high_visibility ? el("span", { class: "flag visibility" }, "high visibility") : null,
    calendar && calendar.weight !== 1 ? el("span", { class: "flag weight" }, weightLabel(calendar.period, calendar.weight)) : null,
    incident.state === "acknowledged" ? el("span", { class: "flag acked" }, "acknowledged") : null,
  );
  const actions = el("div", { class: "actions" });
  if (incident.state === "open") {
    const ack = el("button", { type: "button", "data-action": "ack" }, "Acknowledge");
    ack.addEventListener("click", () => command(incident.incident_id, "ack", ack));
    actions.append(ack);
  }
  const resolve = el("button", { type: "button", class: "quiet", "data-action": "resolve" }, "Resolve");
  resolve.addEventListener("click", () => command(incident.incident_id, "resolve", resolve));
  actions.append(resolve);
  const suspects = incident.suspect_changes || [];
  return el("article", {
    class: `incident ${priority}`,
    id: `incident-${incident.incident_id}`,
    dataset: { incident: incident.incident_id, state: incident.state, priority },
  },
  el("div", { class: `priority ${priority}`, title: "Priority from business impact" }, priority),
  el("div", {},
    el("span", { class: "title" }, names.join(", ") || "No business service yet"), flags,
    el("div", { class: "meta" },
      `opened ${fmtTime(incident.opened_at)} · `,
      el("strong", {}, fmtNumber(incident.business_impact_minutes)), " business impact minutes",
      sharedNote(incident),
      calendar && calendar.weight === 1 ? ` · ${weightLabel(calendar.period, calendar.weight)}` : "")),
  actions,
  byServiceLine(incident),
  el("div", { class: "detail" },
    el("span", { class: "label" }, "Root cause: "),
    (incident.root_cause_candidates || []).join(", ") || "unknown",
    el("span", { class: "label" }, "   CIs: "), (incident.member_cis || []).join(", ")),
  el("div", { class: "detail" },
    el("span", { class: "label" }, "Suspect changes: "),
    suspects.length ? "" : "none",
    suspects.length ? el("ul", { class: "suspects" }, suspects.map((c) =>
      el("li", {}, `${c.kind} on ${c.ci_id} at ${fmtTime(c.time)}${c.summary ? `: ${c.summary}` : ""}`,
        assessedNote(c, incident)))) : null),
  deliveryLine(incident),
  );
}

// A change recorded with its risk assessment: what it was assessed to cost beside what the
// incident has cost so far, from the card's own figures so a live update keeps them together.
function assessedNote(change, incident) {
  const a = change.assessment;
  if (!a) return null;
  const worst = a.worst_case_business_impact_minutes;
  const soFar = incident.business_impact_minutes || 0;
  const periods = (a.periods || []).length ? `, crossing ${a.periods.join(", ")}` : "";
  const share = worst > 0 && soFar <= worst ? ` (${fmtPercent(soFar / worst, 0)} of the worst case)` : "";
  const beyond = soFar > worst;
  return el("div", { class: `assessed${beyond ? " beyond" : ""}` },
    `assessed worst case ${fmtNumber(worst, 0)} business impact minutes ` +
    `(expected ${fmtNumber(a.expected_business_impact_minutes, 0)})${periods}; ` +
    `this incident so far ${fmtNumber(soFar, 0)}${share}${beyond ? ", beyond the assessed worst case" : ""}`);
}

// Minutes also charged to another incident (two causes of one service), and merges.
function sharedNote(incident) {
  const notes = [];
  if (incident.shared_impact_minutes > 0) {
    const others = (incident.shared_with || []).map(shortId).join(", ");
    notes.push(`${fmtNumber(incident.shared_impact_minutes)} shared with ${others}`);
  }
  if ((incident.absorbed || []).length) notes.push(`merged from ${incident.absorbed.map(shortId).join(", ")}`);
  return notes.length ? ` (${notes.join("; ")})` : "";
}

function byServiceLine(incident) {
  const rows = incident.impact_by_service || [];
  if (rows.length < 2 && !rows.some((r) => r.shared_impact_minutes > 0)) return null;
  return el("div", { class: "detail" },
    el("span", { class: "label" }, "Impact by service: "),
    rows.map((r) => {
      const name = (model.services.get(r.service_id) || { name: r.service_id }).name;
      const shared = r.shared_impact_minutes > 0 ? `, ${fmtNumber(r.shared_impact_minutes)} shared` : "";
      return `${name} ${fmtNumber(r.business_impact_minutes)}${shared}`;
    }).join(" · "));
}

function shortId(id) {
  return id.slice(0, 8);
}

function renderUnbound(page) {
  $("unbound-count").textContent = page.total_events ? String(page.total_events) : "";
  const box = $("unbound");
  box.replaceChildren();
  if (!page.items.length) {
    box.append(el("p", { class: "empty" }, "Every event was bound to a catalog CI."));
    return;
  }
  const rows = page.items.map((item) => el("tr", { dataset: { input: item.input, key: item.key } },
    el("td", {}, item.input),
    el("td", { class: "key", title: item.reason }, item.key),
    el("td", { class: "num" }, String(item.events)),
    el("td", {}, fmtTime(item.last_seen)),
    el("td", {}, item.closest.join(", ") || "–")));
  box.append(
    el("table", { class: "unbound" },
      el("thead", {}, el("tr", {},
        el("th", {}, "Input"), el("th", {}, "Named"), el("th", { class: "num" }, "Events"),
        el("th", {}, "Last seen"), el("th", {}, "Closest CIs"))),
      el("tbody", {}, rows)),
    el("p", { class: "hint" }, page.hint));
}

function gauge(xla) {
  const score = Math.max(0, Math.min(100, xla.score));
  const color = score >= xla.target ? "var(--ok)" : score >= xla.target - 15 ? "var(--degraded)" : "var(--down)";
  const r = 22;
  const arc = (fraction) => {
    const angle = Math.PI * (1 - fraction);
    return `M ${28 - r} 30 A ${r} ${r} 0 0 1 ${(28 + r * Math.cos(angle)).toFixed(2)} ${(30 - r * Math.sin(angle)).toFixed(2)}`;
  };
  const node = svg("svg", { class: "gauge", width: 56, height: 40, viewBox: "0 0 56 40", role: "img" },
    svg("title", {}, `XLA ${score.toFixed(1)} (target ${xla.target})`),
    svg("path", { d: arc(1), class: "track", fill: "none", "stroke-width": 6 }));
  if (score > 0) node.append(svg("path", { d: arc(score / 100), stroke: color, fill: "none", "stroke-width": 6 }));
  node.append(svg("text", { x: 28, y: 34, "text-anchor": "middle" }, Math.round(score)));
  return node;
}

function renderBoard() {
  renderClock();
  const domain = $("domain").value;
  const list = [...model.services.values()].filter((s) => !domain || s.business_domain === domain);
  const rank = { down: 0, degraded: 1, unknown: 2, ok: 3 };
  list.sort((a, b) => rank[a.state] - rank[b.state] || a.tier - b.tier || a.name.localeCompare(b.name));
  $("board-sub").textContent = `XLA and error budget over 30 days · ${list.length} services`;
  const box = $("services");
  box.replaceChildren();
  for (const s of list) {
    const cal = s.calendar;
    const budgetUsed = Math.max(0, s.error_budget.consumed);
    const bar = el("span", { class: budgetUsed >= 1 ? "over" : budgetUsed >= 0.5 ? "warn" : "" });
    bar.style.width = `${Math.min(100, budgetUsed * 100).toFixed(1)}%`;
    box.append(el("div", { class: `service ${s.state}`, dataset: { service: s.id, state: s.state } },
      el("div", { class: "name" }, s.name),
      gauge(s.xla),
      el("div", { class: "domain" }, `${s.business_domain} · tier ${s.tier} · ${s.users} users`),
      el("div", {}, el("span", { class: `state ${s.state}` }, s.state)),
      el("div", { class: "facts" },
        el("span", {}, el("span", { class: "label" }, "impact "), `${fmtNumber(s.impact_rate)}/min`,
          s.state !== "ok" && s.impact ? ` · ${fmtNumber(s.impact.business_impact_minutes)} min` : ""),
        cal ? el("span", { class: cal.weight !== 1 ? "period weighted" : "period", dataset: { weight: cal.weight } },
          weightLabel(cal.period, cal.weight)) : el("span", { class: "label" }, "no calendar"),
        el("span", {}, el("span", { class: "label" }, "budget "), `${fmtPercent(budgetUsed, 0)} used`)),
      el("div", { class: "budget", title: `Error budget used over 30 days (SLO ${fmtPercent(s.error_budget.slo, 2)})` }, bar)));
  }
}

function renderChart(series) {
  const box = $("chart");
  box.replaceChildren();
  const share = series.total_minutes > 0 ? series.weighted_minutes / series.total_minutes : null;
  $("chart-sub").textContent = `30 days per day · ${fmtNumber(series.total_minutes)} minutes` +
    (share === null ? "" : ` · ${fmtPercent(share, 0)} in weighted periods`);
  const W = 640, H = 190, left = 44, bottom = 22, top = 10;
  const peak = Math.max(...series.buckets.map((b) => b.minutes), 0);
  const scale = peak > 0 ? niceCeiling(peak) : 1;
  const plotH = H - bottom - top;
  const slot = (W - left - 4) / series.buckets.length;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Business impact minutes per day" });
  for (const k of [0, 0.5, 1]) {
    const y = top + plotH * (1 - k);
    chart.append(svg("line", { x1: left, x2: W - 4, y1: y, y2: y, class: "axis" }));
    chart.append(svg("text", { x: left - 6, y: y + 3, "text-anchor": "end" }, fmtNumber(scale * k, 0)));
  }
  series.buckets.forEach((b, i) => {
    const x = left + i * slot + 1;
    const width = Math.max(slot - 2, 1);
    const plainH = ((b.minutes - b.weighted_minutes) / scale) * plotH;
    const weightedH = (b.weighted_minutes / scale) * plotH;
    const title = `${fmtTime(b.start)}: ${fmtNumber(b.minutes)} minutes (${fmtNumber(b.weighted_minutes)} weighted)`;
    if (plainH > 0) chart.append(svg("rect", { x, width, y: top + plotH - plainH, height: plainH, class: "plain" }, svg("title", {}, title)));
    if (weightedH > 0) chart.append(svg("rect", { x, width, y: top + plotH - plainH - weightedH, height: weightedH, class: "weighted" }, svg("title", {}, title)));
    if (i % 5 === 0) {
      const day = new Date(b.start).toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
      chart.append(svg("text", { x: x + width / 2, y: H - 6, "text-anchor": "middle" }, day));
    }
  });
  box.append(chart, el("div", { class: "legend" },
    el("span", {}, el("span", { class: "swatch plain" }), "weight 1"),
    el("span", {}, el("span", { class: "swatch weighted" }), "weighted calendar periods (weight ≠ 1)")));
  if (peak === 0) box.append(el("p", { class: "empty" }, "No business impact in these 30 days."));
}

function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function renderValueStream(vs) {
  const box = $("value-stream");
  const stat = (label, spread) => el("div", { class: "stat" },
    el("div", { class: "small" }, label),
    el("div", { class: "big" }, fmtDuration(spread.median_seconds)),
    el("div", { class: "small" }, `p90 ${fmtDuration(spread.p90_seconds)} · ${spread.count} incidents`));
  const rows = vs.services.map((s) => el("tr", {},
    el("td", {}, s.name),
    el("td", { class: s.slo_met === false ? "miss" : s.slo_met ? "met" : "" }, fmtPercent(s.availability, 3)),
    el("td", {}, fmtPercent(s.slo, 2)),
    el("td", {}, fmtPercent(s.budget_consumed, 0)),
    el("td", {}, fmtNumber(s.business_impact_minutes))));
  const spenders = vs.budget_incidents.map((b) => el("tr", {},
    el("td", {}, b.incident_id ? b.incident_id.slice(0, 8) : "outside incidents"),
    el("td", {}, b.service_id),
    el("td", {}, b.priority || "–"),
    el("td", {}, fmtNumber(b.unavailable_minutes)),
    el("td", {}, fmtPercent(b.budget_share, 1))));
  const periods = Object.entries(vs.impact_by_period).sort((a, b) => b[1] - a[1])
    .map(([name, minutes]) => `${name} ${fmtNumber(minutes)}`).join(" · ");
  box.replaceChildren(
    el("div", { class: "stats" },
      stat("Time to detect", vs.time_to_detect),
      stat("Time to acknowledge", vs.time_to_acknowledge),
      stat("Time to resolve", vs.time_to_resolve)),
    el("p", { class: "share" },
      el("strong", {}, vs.weighted_share === null ? "No business impact" : `${fmtPercent(vs.weighted_share, 0)} of ${fmtNumber(vs.business_impact_minutes)} business impact minutes`),
      vs.weighted_share === null ? " in this window." : " fell in weighted calendar periods.",
      periods ? el("span", { class: "label" }, ` (${periods})`) : null),
    el("table", {},
      el("thead", {}, el("tr", {}, ["Service", "Availability", "SLO", "Budget used", "Impact min"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)),
    el("div", { class: "section-label" }, "Incidents that spent error budget"),
    spenders.length
      ? el("table", {},
        el("thead", {}, el("tr", {}, ["Incident", "Service", "Priority", "Unavailable min", "Budget"].map((h) => el("th", {}, h)))),
        el("tbody", {}, spenders))
      : el("p", { class: "empty" }, "None in this window."),
  );
}

function fillScopes() {
  const domains = [...new Set([...model.services.values()].map((s) => s.business_domain))].sort();
  const filter = $("domain");
  const chosen = filter.value;
  filter.replaceChildren(el("option", { value: "" }, "All domains"),
    ...domains.map((d) => el("option", { value: d, selected: d === chosen }, d)));
  const scope = $("vs-scope");
  const current = scope.value || (domains.includes("finance") ? "domain:finance" : `domain:${domains[0] || ""}`);
  const services = [...model.services.values()].sort((a, b) => a.name.localeCompare(b.name));
  scope.replaceChildren(
    el("optgroup", { label: "Business domain" }, domains.map((d) => el("option", { value: `domain:${d}`, selected: `domain:${d}` === current }, d))),
    el("optgroup", { label: "Business service" }, services.map((s) => el("option", { value: `service:${s.id}`, selected: `service:${s.id}` === current }, s.name))));
}

// -- the key ------------------------------------------------------------------------------------

function askForKey(message) {
  $("key-panel").hidden = false;
  if (message) notice(message);
  $("key-input").focus();
}

function start() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    model.key = $("key-input").value.trim();
    localStorage.setItem(KEY_STORE, model.key);
    $("key-input").value = "";
    $("key-panel").hidden = true;
    notice("");
    loadAll().then(connectStream);
  });
  $("key-forget").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORE);
    model.key = "";
    if (model.stream) model.stream.abort();
    setLive("off", "offline");
    askForKey();
  });
  $("key-button").addEventListener("click", () => askForKey());
  $("domain").addEventListener("change", () => {
    renderBoard();
    renderIncidents();
    const domain = $("domain").value;
    if (domain) $("vs-scope").value = `domain:${domain}`;
    loadChart().catch(report);
    loadValueStream().catch(report);
  });
  $("vs-scope").addEventListener("change", () => loadValueStream().catch(report));
  $("vs-window").addEventListener("change", () => loadValueStream().catch(report));
  if (!model.key) return askForKey();
  loadAll().then(connectStream);
  setInterval(() => { if (model.key) loadUnbound().catch(report); }, UNBOUND_POLL_MS);
}

document.addEventListener("DOMContentLoaded", start);
