// The livebar simulator's lock-screen page: draws /_sim/state, polls it every POLL_MS.
// Plain DOM, no dependencies; every user-supplied string goes through textContent.
"use strict";

const POLL_MS = 500;
const COLORS = {
  lime: "#a4e22f", green: "#34c759", cyan: "#32ade6", blue: "#0a84ff", purple: "#bf5af2",
  magenta: "#ff2d92", red: "#ff453a", orange: "#ff9f0a", yellow: "#ffd60a", gray: "#8e8e93",
};
const DEFAULT_COLOR = "blue";
const ENDS_SOON_SECONDS = 1800;  // show iOS's 8-hour limit coming in the last half hour
const GLYPHS = [
  ["checkmark", "✓"], ["xmark", "✕"], ["exclamationmark", "!"], ["arrow.up", "↑"],
  ["arrow.down", "↓"], ["gear", "⚙"], ["hammer", "⚒"], ["bolt", "ϟ"], ["clock", "◷"],
  ["timer", "◷"], ["cpu", "▦"], ["server", "▤"], ["cloud", "☁"], ["play", "▶"],
  ["pause", "❚❚"], ["shippingbox", "▣"], ["doc", "▯"], ["bell", "♪"], ["star", "★"],
  ["heart", "♥"], ["flame", "♨"], ["chart", "▁▃▅"], ["sparkles", "✦"],
];

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function colorOf(name) {
  return COLORS[name] || COLORS[DEFAULT_COLOR];
}

function glyphFor(symbol) {
  for (const [prefix, glyph] of GLYPHS) {
    if (symbol.startsWith(prefix)) return glyph;
  }
  return "●";
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 100) / 100);
}

function formatDuration(seconds) {
  const total = Math.max(0, Math.ceil(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

function percentOf(cs) {
  if (typeof cs.percentage === "number") return Math.max(0, Math.min(100, cs.percentage));
  if (typeof cs.value === "number" && typeof cs.upper_limit === "number" && cs.upper_limit > 0) {
    return Math.max(0, Math.min(100, (cs.value / cs.upper_limit) * 100));
  }
  return 0;
}

function renderIcon(icon, accent) {
  const node = el("span", "la-icon");
  node.dataset.symbol = icon.symbol;
  node.style.setProperty("--icon", icon.color ? colorOf(icon.color) : accent);
  node.append(el("span", "la-icon-glyph", glyphFor(icon.symbol)), el("span", "la-icon-name", icon.symbol));
  return node;
}

function renderSteps(cs, accent) {
  const count = Math.max(1, cs.number_of_steps || 1);
  const done = Math.min(count, Math.max(0, cs.current_step || 0));
  const box = el("div", "la-steps");
  box.dataset.steps = String(count);
  box.dataset.current = String(done);
  for (let i = 0; i < count; i += 1) {
    const step = el("span", "la-step");
    step.dataset.step = String(i + 1);
    if (i < done) {
      step.dataset.filled = "true";
      const colors = cs.step_colors || [];
      step.style.background = colors[i] ? colorOf(colors[i]) : accent;
    } else if (i === done) {
      step.dataset.filled = "false";
      step.dataset.current = "true";
      step.style.setProperty("--current", cs.step_color ? colorOf(cs.step_color) : accent);
    } else {
      step.dataset.filled = "false";
    }
    box.append(step);
  }
  const label = el("div", "la-step-label", `Step ${done} of ${count}`);
  const wrap = el("div", "la-body");
  wrap.append(box, label);
  return wrap;
}

function renderProgress(cs, accent) {
  const percent = percentOf(cs);
  const wrap = el("div", "la-body la-progress");
  wrap.dataset.percentage = String(Math.round(percent));
  const bar = el("div", "la-bar");
  const fill = el("div", "la-fill");
  fill.style.width = `${percent}%`;
  fill.style.background = accent;
  bar.append(fill);
  const row = el("div", "la-progress-row");
  row.append(el("span", "la-percentage", `${Math.round(percent)}%`));
  if (typeof cs.percentage !== "number" && typeof cs.value === "number") {
    row.append(el("span", "la-value", `${formatNumber(cs.value)} / ${formatNumber(cs.upper_limit)}`));
  }
  wrap.append(bar, row);
  return wrap;
}

function renderMetrics(cs) {
  const list = el("ul", "la-body la-metrics");
  for (const metric of cs.metrics || []) {
    const item = el("li", "la-metric");
    item.style.setProperty("--metric", metric.color ? colorOf(metric.color) : "#fff");
    item.append(
      el("span", "la-metric-value", `${metric.value}${metric.unit ? ` ${metric.unit}` : ""}`),
      el("span", "la-metric-label", metric.label),
    );
    list.append(item);
  }
  return list;
}

function renderValue(cs, accent) {
  const wrap = el("div", "la-body la-value-type");
  const readout = typeof cs.value === "number" ? formatNumber(cs.value) : String(cs.value ?? "");
  const node = el("span", "la-readout", readout);
  node.style.color = accent;
  wrap.append(node);
  return wrap;
}

function renderTimer(cs) {
  const wrap = el("div", "la-body la-timer");
  const label = cs.duration_seconds ? formatDuration(cs.duration_seconds) : "0:00";
  wrap.append(el("span", "la-timer-value", label));
  wrap.append(el("span", "la-timer-mode", cs.counts_down === false ? "elapsed" : "countdown"));
  return wrap;
}

function renderActions(card) {
  const actions = [card.action, card.secondary_action].filter(Boolean);
  const box = el("div", "la-actions");
  for (const action of actions) {
    const button = el("span", "la-action", action.title);
    button.dataset.type = action.type;
    button.title = action.url;
    box.append(button);
  }
  return box;
}

function renderActivity(card) {
  const cs = card.content_state || {};
  const type = cs.type || "progress";
  const accent = colorOf(cs.color);
  const failed = cs.color === "red";
  const node = el("article", "la");
  node.dataset.activityId = card.activity_id;
  node.dataset.state = card.state;
  node.dataset.type = type;
  node.dataset.color = cs.color || DEFAULT_COLOR;
  if (card.stream_key) node.dataset.streamKey = card.stream_key;
  if (card.rotated_from) node.dataset.rotatedFrom = card.rotated_from;
  if (failed) node.classList.add("la-failed");
  if (card.state === "expired") node.classList.add("la-expired");
  node.style.setProperty("--accent", accent);

  const head = el("header", "la-head");
  if (cs.icon) head.append(renderIcon(cs.icon, accent));
  const text = el("div", "la-text");
  text.append(el("div", "la-title", cs.title || ""));
  if (cs.subtitle) text.append(el("div", "la-subtitle", cs.subtitle));
  head.append(text);
  if (cs.badge) {
    const badge = el("span", "la-badge", cs.badge.title);
    badge.style.setProperty("--badge", cs.badge.color ? colorOf(cs.badge.color) : accent);
    head.append(badge);
  }
  node.append(head);

  if (type === "segmented_progress") node.append(renderSteps(cs, accent));
  else if (type === "progress") node.append(renderProgress(cs, accent));
  else if (type === "metrics" || type === "stats") node.append(renderMetrics(cs));
  else if (type === "timer") node.append(renderTimer(cs));
  else if (type === "alert") node.append(el("p", "la-body la-message", cs.message || ""));
  else if (type === "value") node.append(renderValue(cs, accent));

  const foot = el("footer", "la-foot");
  let stateText = "Live";
  if (card.state === "expired") {
    stateText = "Ended by iOS · 8-hour limit";
    if (typeof card.dismiss_in === "number") {
      stateText += ` · leaves in ${formatDuration(card.dismiss_in)}`;
    }
  } else if (card.state !== "active") {
    stateText = failed ? "Failed" : "Ended";
    if (typeof card.dismiss_in === "number") {
      stateText += ` · dismisses in ${formatDuration(card.dismiss_in)}`;
    }
  } else if (failed) {
    stateText = "Failing";
  }
  if (card.state === "active" && typeof card.ends_in === "number" && card.ends_in <= ENDS_SOON_SECONDS) {
    stateText += ` · iOS ends it in ${formatDuration(card.ends_in)}`;
  }
  const state = el("span", "la-state", stateText);
  state.dataset.state = card.state;
  foot.append(state, renderActions(card));
  node.append(foot);
  return node;
}

function renderNotification(push) {
  const node = el("article", "notification");
  node.dataset.notificationId = String(push.id);
  node.dataset.interruptionLevel = push.interruption_level || "active";
  if (push.interruption_level === "passive") node.classList.add("n-passive");
  if (push.replaced) node.dataset.replaced = String(push.replaced);
  const head = el("header", "n-head");
  head.append(el("span", "n-app", "ActivitySmith"));
  if (push.interruption_level === "time-sensitive") head.append(el("span", "n-level", "Time Sensitive"));
  head.append(el("span", "n-time", push.replaced ? "updated" : "now"));
  const body = el("div", "n-body");
  body.append(el("div", "n-title", push.title));
  if (push.subtitle) body.append(el("div", "n-subtitle", push.subtitle));
  if (push.message) body.append(el("div", "n-message", push.message));
  const row = el("div", "n-row");
  const icon = el("span", "n-icon", push.icon ? "◉" : "AS");
  if (push.icon) {  // never fetched: the page loads nothing from elsewhere
    icon.classList.add("n-icon-custom");
    icon.dataset.iconUrl = push.icon;
    icon.title = push.icon;
  }
  row.append(icon, body);
  if (push.media) {
    const media = el("span", "n-media", "▣");
    media.title = push.media;
    media.dataset.url = push.media;
    row.append(media);
  }
  node.append(head, row);
  if (push.actions && push.actions.length) {
    const actions = el("div", "n-actions");
    for (const action of push.actions) actions.append(el("span", "n-action", action.title));
    node.append(actions);
  }
  return node;
}

function setMeter(name, value, limit) {
  const meter = document.querySelector(`[data-meter="${name}"]`);
  meter.dataset.value = String(value);
  meter.dataset.limit = String(limit);
  const ratio = limit > 0 ? Math.min(1, value / limit) : 0;
  const fill = meter.querySelector(".meter-fill");
  fill.style.width = `${ratio * 100}%`;
  meter.classList.toggle("meter-full", value >= limit);
  meter.classList.toggle("meter-high", ratio >= 0.75);
}

function renderBudgetRow(row, budget) {
  const tr = el("tr", "budget-activity");
  tr.dataset.activityId = row.activity_id;
  tr.dataset.updates = String(row.updates);
  tr.dataset.throttled = String(row.throttled);
  tr.dataset.warning = String(row.warnings > 0);
  tr.dataset.state = row.state;
  const name = el("td", "b-name");
  name.append(el("div", "b-title", row.title || row.activity_id));
  name.append(el("div", "b-id", row.stream_key ? `stream ${row.stream_key}` : row.activity_id));
  const updates = el("td", "b-updates", `${row.updates} / ${budget.updates}`);
  if (row.updates > budget.updates) updates.classList.add("over");
  const rate = el("td", "b-rate", `${formatNumber(Math.round(row.updates_per_minute * 10) / 10)}/min`);
  const status = el("td", "b-status");
  if (row.throttled) {
    status.append(el("span", "pill pill-bad", `throttled ${formatDuration(row.throttled_for)}`));
  } else if (row.warnings > 0) {
    status.append(el("span", "pill pill-warn", "warned"));
  } else {
    status.append(el("span", "pill pill-ok", row.state === "active" ? "showing" : row.state));
  }
  if (row.warnings > 0) status.append(el("span", "pill pill-warn", `⚠ ${row.warnings}`));
  if (row.dropped > 0) status.append(el("span", "b-dropped", `${row.dropped} not shown`));
  tr.append(name, updates, rate, status);
  return tr;
}

function summarize(entry) {
  const body = entry.body;
  if (entry.fault) return entry.fault === "dropped" ? "connection dropped" : "injected failure";
  const response = entry.response || {};
  if (entry.status >= 400) return response.message || response.error || "";
  if (body && body.content_state) {
    const cs = body.content_state;
    const parts = [cs.title];
    if (typeof cs.current_step === "number") parts.push(`step ${cs.current_step}/${cs.number_of_steps ?? "?"}`);
    if (typeof cs.percentage === "number") parts.push(`${formatNumber(cs.percentage)}%`);
    else if (typeof cs.value === "number" && typeof cs.upper_limit === "number") parts.push(`${formatNumber(cs.value)}/${formatNumber(cs.upper_limit)}`);
    else if (cs.value !== undefined) parts.push(String(cs.value));
    if (response.operation) parts.push(response.operation);
    if (response.warning) parts.push("⚠ warning");
    return parts.join(" · ");
  }
  if (body && body.title) return body.title;
  return response.operation || "";
}

function renderLogEntry(entry) {
  const li = el("li", "log-entry");
  li.dataset.status = entry.status === null ? "dropped" : String(entry.status);
  const time = new Date(entry.at);
  li.append(
    el("span", "log-time", time.toLocaleTimeString([], { hour12: false })),
    el("span", "log-status", entry.status === null ? "—" : entry.status),
    el("span", "log-method", entry.method),
    el("span", "log-path", entry.path.replace(/^\/(live-activity\/)?/, "")),
    el("span", "log-summary", summarize(entry)),
  );
  if (entry.status === null || entry.status >= 500) li.classList.add("log-fault");
  else if (entry.status >= 400) li.classList.add("log-error");
  if (entry.response && entry.response.warning) li.classList.add("log-warning");
  return li;
}

function text(selector, value) {
  document.querySelector(selector).textContent = String(value);
}

function render(state) {
  const now = new Date(state.now);
  text("[data-clock-time]", now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false }));
  text("[data-clock-date]", now.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long" }));

  const activities = document.querySelector("[data-activities]");
  activities.replaceChildren(...state.phone.activities.map(renderActivity));
  const notifications = document.querySelector("[data-notifications]");
  notifications.replaceChildren(...state.phone.notifications.map(renderNotification));
  const empty = !state.phone.activities.length && !state.phone.notifications.length;
  document.querySelector("[data-empty]").hidden = !empty;

  const account = state.account;
  text('[data-field="window"]', formatNumber(account.rate_window));
  text('[data-field="requests"]', account.requests_in_window);
  text('[data-field="limit"]', account.rate_limit);
  setMeter("requests", account.requests_in_window, account.rate_limit);
  text('[data-field="active"]', account.active_activities);
  text('[data-field="max-active"]', account.max_activities);
  setMeter("activities", account.active_activities, account.max_activities);

  const faults = state.faults;
  const notes = [];
  if (faults.down) notes.push("API DOWN: every request is dropped");
  if (faults.fail_next) notes.push(`next ${faults.fail_next} request(s) fail with ${faults.status}`);
  if (faults.drop_next) notes.push(`next ${faults.drop_next} request(s) dropped`);
  if (faults.delay) notes.push(`${faults.delay} s delay`);
  if (account.billing_blocked) notes.push(`billing blocked (${account.billing_blocked}): new sends get 402`);
  const faultsNode = document.querySelector("[data-faults]");
  faultsNode.textContent = notes.join(" · ");
  faultsNode.hidden = !notes.length;
  faultsNode.dataset.down = String(faults.down);

  const budget = state.budget;
  text('[data-field="budget-rule"]', `> ${budget.updates} updates and more than 1 per ${formatNumber(budget.interval / 60)} min → throttled`);
  const rows = document.querySelector("[data-budget-rows]");
  rows.replaceChildren(...state.activities.map((row) => renderBudgetRow(row, budget)));
  document.querySelector("[data-log]").replaceChildren(...state.requests.map(renderLogEntry));
}

async function poll() {
  const status = document.querySelector("[data-connection]");
  try {
    const response = await fetch("/_sim/state", { cache: "no-store" });
    render(await response.json());
    status.textContent = "live";
    status.dataset.ok = "true";
  } catch (error) {
    status.textContent = "disconnected";
    status.dataset.ok = "false";
  }
  setTimeout(poll, POLL_MS);
}

render(JSON.parse(document.getElementById("initial-state").textContent));
setTimeout(poll, POLL_MS);
