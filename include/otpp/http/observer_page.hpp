// The observer's page: one self-contained HTML document (no external
// resources), which draws what /api/events streams.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

namespace otpp::http {

// Text from the runtime is put in the page with textContent only (never as
// HTML), so a process name cannot inject markup.
inline constexpr const char* observer_page = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>otpp observer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f4f6fa; }
  header { background: #1d2330; color: #fff; padding: 8px 16px; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  #conn[data-state="live"]::before { content: "\25CF "; color: #3ecf6e; }
  #conn[data-state="reconnecting"]::before { content: "\25CF "; color: #e5534b; }
  main { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(420px, 1.3fr); gap: 16px; padding: 16px; }
  section { background: #fff; border-radius: 6px; padding: 12px; box-shadow: 0 1px 3px rgba(0,0,0,.12); overflow: auto; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  .tree ul { list-style: none; margin: 0; padding-left: 18px; border-left: 1px dashed #c4cad6; }
  .tree > ul { padding-left: 0; border: 0; }
  .node { display: inline-flex; gap: 6px; align-items: center; padding: 2px 6px; margin: 2px 0; border-radius: 4px; border: 1px solid #c4cad6; background: #fafbfd; cursor: pointer; }
  .node.supervisor { background: #e8eefc; border-color: #8aa4e6; font-weight: 600; }
  .node[data-status="restarting"], .node[data-status="stopped"] { border-style: dashed; opacity: .6; }
  .node.restarted { animation: flash 1.5s ease-out; }
  @keyframes flash { from { background: #ffd76a; } to { background: #fafbfd; } }
  .pid { font-family: ui-monospace, monospace; color: #53607a; }
  .badge { font-size: 11px; padding: 0 5px; border-radius: 8px; background: #eef0f4; color: #53607a; }
  .badge.restarts { background: #fde7c6; color: #8a5300; }
  button.kill { font-size: 11px; border: 1px solid #e5534b; color: #b3261e; background: #fff; border-radius: 4px; cursor: pointer; padding: 0 5px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eef0f4; white-space: nowrap; }
  th[data-sort] { cursor: pointer; user-select: none; }
  th[data-sort].sorted::after { content: " \25BC"; font-size: 10px; }
  th[data-sort].sorted.asc::after { content: " \25B2"; }
  td.num, th.num { text-align: right; }
  tr[data-pid] { cursor: pointer; }
  tr.selected { background: #e8eefc; }
  #detail dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
  #detail dt { color: #53607a; }
  #detail dd { margin: 0; font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
  .muted { color: #8892a6; }
</style>
</head>
<body>
<header>
  <h1>otpp observer</h1>
  <span id="conn" data-state="connecting">connecting</span>
  <span id="stats"></span>
</header>
<main>
  <section>
    <h2>Supervision trees</h2>
    <div id="trees" class="tree"><p class="muted">waiting for the first snapshot...</p></div>
    <h2 style="margin-top:16px">Process</h2>
    <div id="detail"><p class="muted">Select a process in a tree or in the table.</p></div>
  </section>
  <section>
    <h2>Processes <span id="count" class="muted"></span></h2>
    <table id="procs">
      <thead><tr>
        <th data-sort="pid">pid</th><th data-sort="name">name</th><th data-sort="status">status</th>
        <th data-sort="mailbox" class="num">mailbox</th><th data-sort="reductions" class="num">reductions</th>
        <th data-sort="memory" class="num">memory</th><th data-sort="scheduler" class="num">sched</th>
      </tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const api = (path, extra) =>
  path + "?" + [token ? "token=" + encodeURIComponent(token) : "", extra || ""].filter(Boolean).join("&");
let snap = null, sortKey = "mailbox", desc = true, selected = null;
const seen = new Map(); // tree path -> pid, to flash what restarted

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) if (k) e.append(k);
  return e;
}
async function kill(pid) {
  await fetch(api("api/kill", "pid=" + encodeURIComponent(pid)), { method: "POST" });
}
function select(pid) { selected = pid; renderTable(); loadDetail(); }

function treeNode(n, path, index) {
  const key = path + "/" + index + ":" + n.id; // siblings may share an id (simple_one_for_one)
  const before = seen.get(key);
  seen.set(key, n.pid);
  const box = el("span", { class: "node " + n.type, "data-id": n.id, "data-pid": n.pid || "",
                           "data-status": n.status, "data-restarts": String(n.restarts),
                           onclick: () => n.pid && select(n.pid) },
    el("span", { text: n.id }), el("span", { class: "pid", text: n.pid || "-" }),
    n.strategy ? el("span", { class: "badge", text: n.strategy }) : null,
    n.state ? el("span", { class: "badge", text: "state: " + n.state }) : null,
    n.status !== "running" ? el("span", { class: "badge", text: n.status }) : null,
    n.restarts ? el("span", { class: "badge restarts", text: "restarts " + n.restarts }) : null,
    n.pid && n.type === "worker" ? el("button", { class: "kill", "data-kill": n.pid, title: "kill " + n.pid,
      onclick: (ev) => { ev.stopPropagation(); kill(n.pid); }, text: "kill" }) : null);
  if (before !== undefined && before !== n.pid) box.classList.add("restarted");
  const li = el("li", {}, box);
  if (n.children && n.children.length)
    li.append(el("ul", {}, ...n.children.map((c, i) => treeNode(c, key, i))));
  return li;
}
let drawnTrees = "";
function renderTrees() {
  const json = JSON.stringify(snap.trees);
  if (json === drawnTrees) return; // unchanged: keep the nodes (and a click on them)
  drawnTrees = json;
  const root = document.getElementById("trees");
  root.replaceChildren(snap.trees.length ? el("ul", {}, ...snap.trees.map((t, i) => treeNode(t, "", i)))
                                         : el("p", { class: "muted", text: "no supervisor is running" }));
}
function renderStats() {
  const s = snap.stats, util = s.schedulers.map(x => x.utilisation < 0 ? null : Math.round(x.utilisation * 100) + "%");
  document.getElementById("stats").textContent =
    `processes ${s.processes} · spawns ${s.spawns} · exits ${s.exits.normal} normal, ${s.exits.shutdown} shutdown, ` +
    `${s.exits.killed} killed, ${s.exits.error} error · messages ${s.messages_received} · ` +
    `run queues ${s.schedulers.map(x => x.run_queue).join("/")}` +
    (util.every(u => u) ? ` · utilisation ${util.join("/")}` : "");
}
function renderTable() {
  if (!snap) return;
  const num = k => ["mailbox", "reductions", "memory", "scheduler"].includes(k);
  const rows = [...snap.processes].sort((a, b) => {
    const x = sortKey === "name" ? (a.name || a.label) : a[sortKey], y = sortKey === "name" ? (b.name || b.label) : b[sortKey];
    const c = num(sortKey) ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
    return desc ? -c : c;
  });
  document.getElementById("count").textContent =
    `(${snap.process_count}${snap.truncated ? ", the first " + snap.processes.length + " shown" : ""})`;
  document.querySelector("#procs tbody").replaceChildren(...rows.map(p =>
    el("tr", { "data-pid": p.pid, class: p.pid === selected ? "selected" : "", onclick: () => select(p.pid) },
      el("td", { class: "pid", text: p.pid }), el("td", { text: p.name || p.label }),
      el("td", { text: p.status + (p.waiting_on && p.status === "waiting" ? " (" + p.waiting_on + ")" : "") }),
      el("td", { class: "num", text: String(p.mailbox) }), el("td", { class: "num", text: String(p.reductions) }),
      el("td", { class: "num", text: (p.memory / 1024).toFixed(1) + " KiB" }),
      el("td", { class: "num", text: String(p.scheduler) }))));
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.classList.toggle("sorted", th.dataset.sort === sortKey);
    th.classList.toggle("asc", th.dataset.sort === sortKey && !desc);
  }
}
async function loadDetail() {
  const box = document.getElementById("detail");
  if (!selected) return;
  const pid = selected;
  const r = await fetch(api("api/process", "pid=" + encodeURIComponent(pid)));
  if (pid !== selected) return;
  if (!r.ok) { box.replaceChildren(el("p", { class: "muted", "data-pid": pid, text: pid + " has ended" })); return; }
  const d = await r.json();
  const rows = [["pid", d.pid], ["name", d.name], ["label", d.label],
    ["status", d.status + (d.waiting_on ? " (" + d.waiting_on + ")" : "")], ["mailbox", d.mailbox],
    ["reductions", d.reductions], ["memory", d.memory + " bytes (stack " + (d.stack_parked ? "parked in " + d.stack_parked : d.stack_resident) + " of " + d.stack_size + ")"],
    ["scheduler", d.scheduler], ["trap_exit", d.trap_exit], ["links", d.links.join(" ")],
    ["monitors", d.monitors.join(" ")], ["monitored by", d.monitored_by.join(" ")]];
  if (d.behaviour) rows.push(["behaviour", d.behaviour.behaviour + " " + d.behaviour.name],
    ["handled", d.behaviour.handled], ["suspended", d.behaviour.suspended],
    ...(d.behaviour.state_name ? [["current state", d.behaviour.state_name]] : []), ["state", d.behaviour.state]);
  box.replaceChildren(el("dl", { "data-pid": d.pid }, ...rows.flatMap(([k, v]) =>
      [el("dt", { text: k }), el("dd", { text: String(v) })])),
    el("p", {}, el("button", { class: "kill", "data-kill": d.pid, onclick: () => kill(d.pid), text: "kill " + d.pid })));
}
for (const th of document.querySelectorAll("th[data-sort]"))
  th.addEventListener("click", () => {
    desc = th.dataset.sort === sortKey ? !desc : true;
    sortKey = th.dataset.sort;
    renderTable();
  });
const conn = document.getElementById("conn");
const events = new EventSource(api("api/events"));
events.onopen = () => { conn.dataset.state = "live"; conn.textContent = "live"; };
events.onerror = () => { conn.dataset.state = "reconnecting"; conn.textContent = "reconnecting"; };
events.onmessage = (e) => {
  snap = JSON.parse(e.data);
  renderStats(); renderTrees(); renderTable();
  if (selected) loadDetail();
};
</script>
</body>
</html>
)html";

} // namespace otpp::http
