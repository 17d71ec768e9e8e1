// impactline dashboard: the what-if form (a failure simulated by the live engine's code, its
// impact curve and priority) and the risk calendar of a service. Uses el, svg, api, $, fmtNumber
// and model from app.js.
"use strict";

const WHATIF_W = 560, WHATIF_H = 180, WHATIF_PAD = 34;

async function loadWhatIf() {
  const cis = await api("/v1/what-if/cis");
  const select = $("whatif-cis");
  const chosen = new Set([...select.selectedOptions].map((o) => o.value));
  select.replaceChildren(...cis.items.map((ci) => el("option", {
    value: ci.id, selected: chosen.has(ci.id), title: ci.services.join(", ") || "no business service",
  }, ci.services.length ? `${ci.id} → ${ci.services.length} service(s)` : ci.id)));
  const services = await api("/v1/services?limit=200");
  const risk = $("risk-service");
  const current = risk.value;
  risk.replaceChildren(...services.items.map((s) => el("option", { value: s.id }, s.name)));
  if (current) risk.value = current;
  if (!$("whatif-start").value) {
    const at = new Date(model.asOf || Date.now());
    at.setUTCMinutes(0, 0, 0);
    $("whatif-start").value = at.toISOString().slice(0, 16);
  }
  await loadRiskCalendar();
}

async function simulateWhatIf(event) {
  event.preventDefault();
  const cis = [...$("whatif-cis").selectedOptions].map((o) => ({ ci_id: o.value, state: $("whatif-state").value }));
  const result = $("whatif-result");
  if (!cis.length) { result.replaceChildren(el("p", { class: "empty" }, "Pick at least one CI.")); return; }
  result.replaceChildren(el("p", { class: "empty" }, "Simulating…"));
  try {
    const answer = await api("/v1/what-if", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        cis, start: `${$("whatif-start").value}:00Z`, duration: `PT${Number($("whatif-minutes").value)}M`,
      }),
    });
    renderWhatIf(answer);
  } catch (error) {
    const detail = error.message;
    result.replaceChildren(el("p", { class: "error" }, detail));
  }
}

function renderWhatIf(answer) {
  const result = $("whatif-result");
  if (!answer.services.length) {
    result.replaceChildren(el("p", { class: "empty" }, "No business service would be hurt."));
    return;
  }
  const visibility = answer.high_visibility ? el("span", { class: "flag visibility", id: "whatif-visibility" }, "HIGH VISIBILITY") : null;
  const summary = el("p", { class: "whatif-summary" },
    el("span", { class: `priority ${answer.worst_priority}`, id: "whatif-priority" }, answer.worst_priority || "–"), " ",
    visibility, " ",
    el("strong", { id: "whatif-minutes-total" }, fmtNumber(answer.business_impact_minutes, 0)),
    ` business impact minutes, ${answer.users_affected} people, ${answer.services.length} service(s)`);
  const rows = answer.services.map((s) => el("tr", {},
    el("td", {}, s.service_name),
    el("td", {}, s.periods.map((p) => `${p.period} ×${fmtNumber(p.weight, 2)} (${fmtNumber(p.minutes, 0)} min)`).join(", ")),
    el("td", {}, String(s.users_affected)),
    el("td", { class: "num" }, fmtNumber(s.business_impact_minutes, 0)),
    el("td", {}, el("span", { class: `priority ${s.worst_priority}` }, s.worst_priority || "–"),
      s.high_visibility ? " ★" : "")));
  const table = el("table", { class: "whatif-table" },
    el("tr", {}, ...["service", "periods", "people", "minutes", "priority"].map((h) => el("th", {}, h))), rows);
  result.replaceChildren(summary, curve(answer), table);
}

// The impact rate of every service over the window, stacked by time: one line per service.
function curve(answer) {
  const start = Date.parse(answer.start), end = Date.parse(answer.end);
  const span = Math.max(end - start, 1);
  const top = Math.max(1, ...answer.services.flatMap((s) => s.curve.map((p) => p.impact_rate)));
  const x = (t) => WHATIF_PAD + ((Date.parse(t) - start) / span) * (WHATIF_W - 2 * WHATIF_PAD);
  const y = (v) => WHATIF_H - 20 - (v / top) * (WHATIF_H - 40);
  const colours = ["#c62828", "#0b57d0", "#8e24aa", "#1a7f37", "#b35c00"];
  const chart = svg("svg", {
    id: "whatif-curve", viewBox: `0 0 ${WHATIF_W} ${WHATIF_H}`, role: "img",
    "aria-label": "impact rate over the simulated window",
  });
  chart.append(svg("line", { x1: WHATIF_PAD, y1: y(0), x2: WHATIF_W - WHATIF_PAD, y2: y(0), class: "axis" }));
  chart.append(svg("text", { x: 2, y: y(top) + 4, class: "tick" }, fmtNumber(top, 0)));
  chart.append(svg("text", { x: WHATIF_PAD, y: WHATIF_H - 4, class: "tick" }, answer.start.slice(11, 16)));
  chart.append(svg("text", { x: WHATIF_W - WHATIF_PAD - 30, y: WHATIF_H - 4, class: "tick" }, answer.end.slice(11, 16)));
  answer.services.forEach((s, n) => {
    // A step line: the rate holds until the next impact event.
    let d = "", last = null;
    for (const p of s.curve) {
      const px = x(p.time).toFixed(1), py = y(p.impact_rate).toFixed(1);
      d += d ? ` H${px} V${py}` : `M${px} ${py}`;
      last = p;
    }
    const path = svg("path", { d, class: "rate", stroke: colours[n % colours.length], "data-service": s.service_id });
    path.append(svg("title", {}, `${s.service_name}: peak ${fmtNumber(s.peak_impact_rate)} /min, ${s.worst_priority}`));
    chart.append(path);
    if (last) chart.append(svg("text", { x: WHATIF_PAD + 4, y: 14 + 12 * n, class: "legend", fill: colours[n % colours.length] }, s.service_name));
  });
  return chart;
}

async function loadRiskCalendar() {
  const service = $("risk-service").value;
  if (!service) return;
  const from = (model.asOf || new Date().toISOString()).slice(0, 10);
  const doc = await api(`/v1/services/${encodeURIComponent(service)}/risk-calendar?days=30&from=${from}`);
  const cells = doc.days.map((d) => el("div", {
    class: `risk-day level-${d.level}`,
    title: `${d.day}: ${d.peak_period || "no calendar"} ×${fmtNumber(d.peak_weight, 2)}, ${d.users} people; a full outage at its worst: ${fmtNumber(d.peak_impact_rate)} /min`,
  }, el("span", { class: "risk-date" }, d.day.slice(8, 10)), el("span", { class: "risk-period" }, d.peak_period || "")));
  $("risk-calendar").replaceChildren(...cells);
}

document.addEventListener("DOMContentLoaded", () => {
  $("whatif-form").addEventListener("submit", simulateWhatIf);
  $("risk-service").addEventListener("change", () => loadRiskCalendar().catch(report));
  if (model.key) loadWhatIf().catch(report);
  $("key-form").addEventListener("submit", () => setTimeout(() => loadWhatIf().catch(report), 0));
});
