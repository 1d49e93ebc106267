// Analytics as charts (uPlot, vendored): confidence over time per workflow, decisions that came
// to people, outcomes over time and their mix, approval and edit rates, time to decision, and
// the threshold moves of the adaptive level (from the audit trail; admins).

import { get, query, allPages, may } from "./api.js";
import { el, $, toast } from "./dom.js";

const PALETTE = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#f97316"];
const OUTCOMES = ["approved", "rejected", "expired", "escalated"];
let charts = [];
let generation = 0;

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function axes(yLabel, yValues) {
  const stroke = css("--muted") || "#666";
  const grid = { stroke: css("--line") || "#ddd", width: 1 };
  return [
    { stroke, grid, ticks: grid },
    { stroke, grid, ticks: grid, label: yLabel, values: yValues, size: 56 },
  ];
}

/** A chart in the analytics view: a titled figure; `data` is uPlot's [xs, ...ys]. */
function chart(title, description, series, data, { yLabel, yValues, bars = false, xValues, xRange, range } = {}) {
  const holder = el("div", { class: "plot" });
  const figure = el("figure", { class: "chart", role: "group", "aria-label": `${title}: ${description}` },
    el("figcaption", {}, el("strong", {}, title), el("span", { class: "muted" }, description)), holder);
  $("#analytics-charts").append(figure);
  if (!data[0].length) {
    holder.append(el("p", { class: "empty" }, "No data in this period."));
    return;
  }
  const opts = {
    width: Math.max(280, holder.clientWidth || 600),
    height: 220,
    series: [{}, ...series.map((s, i) => ({
      label: s, stroke: PALETTE[i % PALETTE.length], width: 2,
      fill: bars ? PALETTE[i % PALETTE.length] + "99" : undefined,
      paths: bars ? uPlot.paths.bars({ size: [0.6, 60] }) : undefined,
      points: { show: !bars },
      spanGaps: true,
    }))],
    axes: axes(yLabel, yValues),
    scales: { x: xRange ? { time: false, range: xRange } : { time: !xValues }, y: range ? { range } : {} },
  };
  if (xValues) opts.axes[0].values = xValues;
  charts.push(new uPlot(opts, data, holder));
}

/** Bucket starts (s) of `width` ms covering [from, to]. */
function buckets(from, to, width) {
  const xs = [];
  for (let t = Math.floor(from / width) * width; t <= to; t += width) xs.push(t / 1000);
  return xs;
}

const median = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};

export async function reload() {
  const mine = ++generation;
  if (typeof uPlot === "undefined") {
    toast("The chart library did not load.", false);
    return;
  }
  const hours = Number($("#analytics-hours").value);
  const bucket = hours > 48 ? "day" : "hour";
  const width = bucket === "day" ? 86400000 : 3600000;
  const now = Date.now();
  const from = now - hours * 3600000;
  let confidence, decided, audit;
  try {
    [confidence, decided, audit] = await Promise.all([
      get("/api/brain/hitl/analytics/confidence" + query({ hours, bucket })),
      allPages("/api/brain/hitl/decisions/history", { from: new Date(from).toISOString() }),
      may("admin") ? get("/api/hitl/audit?limit=1000") : Promise.resolve(null),
    ]);
  } catch (e) {
    toast(`Analytics: ${e.message}`, false);
    return;
  }
  if (mine !== generation) return; // a later reload draws
  for (const c of charts) c.destroy();
  charts = [];
  $("#analytics-charts").replaceChildren();
  const xs = buckets(from, now, width);
  const index = (ms) => Math.floor((ms - Math.floor(from / width) * width) / width);
  const per = bucket === "day" ? "day" : "hour";

  // Confidence and volume of what came to people, per workflow.
  const flows = Object.keys(confidence.workflows || {}).filter((w) => confidence.workflows[w].length);
  const avg = flows.map(() => xs.map(() => null));
  const count = flows.map(() => xs.map(() => 0));
  flows.forEach((w, i) => {
    for (const b of confidence.workflows[w]) {
      const k = index(Date.parse(b.start));
      if (k >= 0 && k < xs.length) { avg[i][k] = b.average; count[i][k] = b.count; }
    }
  });
  chart("Confidence over time", `average confidence per ${per} of the decisions that came to people, per workflow`,
    flows, [flows.length ? xs : [], ...avg], { yLabel: "confidence", range: [0, 1] });
  chart("Decisions to people", `decisions parked per ${per}, per workflow (throughput of the inbox)`,
    flows, [flows.length ? xs : [], ...count], { yLabel: "decisions" });

  // Outcomes, rates and time to decision, from the decided decisions of the period.
  const byOutcome = OUTCOMES.map(() => xs.map(() => 0));
  const approved = xs.map(() => 0), rejected = xs.map(() => 0), edited = xs.map(() => 0);
  const waits = xs.map(() => []);
  const mix = OUTCOMES.map(() => 0);
  for (const d of decided) {
    const k = index(Date.parse(d.decided_at));
    const o = OUTCOMES.indexOf(d.status);
    if (o >= 0) mix[o] += 1;
    if (k < 0 || k >= xs.length || o < 0) continue;
    byOutcome[o][k] += 1;
    if (d.status === "approved") { approved[k] += 1; if (d.edited) edited[k] += 1; }
    if (d.status === "rejected") rejected[k] += 1;
    if (d.decided_by && (d.status === "approved" || d.status === "rejected")) {
      const wait = (Date.parse(d.decided_at) - Date.parse(d.created_at)) / 1000;
      if (!Number.isNaN(wait)) waits[k].push(wait);
    }
  }
  const any = decided.length > 0;
  chart("Outcomes over time", `decisions decided per ${per}, by outcome`, OUTCOMES, [any ? xs : [], ...byOutcome], { yLabel: "decisions" });
  chart("Outcome mix", `all ${decided.length} decisions decided in the period`, ["decisions"],
    [any ? OUTCOMES.map((_, i) => i) : [], mix],
    { yLabel: "decisions", bars: true, xRange: [-0.5, OUTCOMES.length - 0.5],
      xValues: (u, splits) => splits.map((i) => (Number.isInteger(i) ? OUTCOMES[i] ?? "" : "")) });
  const rate = (a, b) => xs.map((_, k) => (b[k] > 0 ? a[k] / b[k] : null));
  const decidedByPeople = xs.map((_, k) => approved[k] + rejected[k]);
  chart("Approval and edit rates", `approved of approved + rejected, and edited of approved, per ${per}`,
    ["approval rate", "edit rate"], [any ? xs : [], rate(approved, decidedByPeople), rate(edited, approved)],
    { yLabel: "rate", range: [0, 1], yValues: (u, splits) => splits.map((v) => `${Math.round(v * 100)} %`) });
  chart("Time to decision", `median seconds from parked to a person's verdict, per ${per}`, ["median"],
    [any ? xs : [], waits.map(median)], { yLabel: "seconds" });

  // Threshold moves (the adaptive level's and people's), from the audit trail.
  if (audit) {
    const moves = audit.entries.filter((e) => e.field === "confidence_threshold").reverse();
    const ids = [...new Set(moves.map((m) => m.workflow_id))];
    const times = [...new Set(moves.map((m) => Date.parse(m.at) / 1000))].sort((a, b) => a - b);
    const ys = ids.map((id) => times.map((t) => {
      const m = moves.find((x) => x.workflow_id === id && Date.parse(x.at) / 1000 === t);
      return m ? Number(m.after) : null;
    }));
    chart("Threshold moves", `confidence thresholds as changed (${moves.length} changes in the audit trail, by the adaptive level or by people)`,
      ids, [times, ...ys], { yLabel: "threshold", range: [0, 1] });
  }
}

export function setup() {
  $("#analytics-hours").addEventListener("change", reload);
  let timer = null;
  window.addEventListener("resize", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { for (const c of charts) c.setSize({ width: Math.max(280, c.root.parentElement.clientWidth), height: 220 }); }, 200);
  });
}
