// Scale dashboard: polls the v6 API and draws the page. Vanilla JavaScript, no build step.
//
// Rules kept throughout: every value from the server is written with textContent or as an
// attribute value (never innerHTML), so user text (hostnames, titles, errors, logs) stays text;
// the status is polled with If-None-Match, so an unchanged document costs a 304 and no body;
// at most MAX_TILES node tiles are drawn (filter by state or hostname to see the others).
"use strict";

(() => {
  const body = document.body;
  const DASH_API = body.dataset.api;
  const STATUS_PERIOD_MS = Math.max(500, parseFloat(body.dataset.statusPeriod || "5") * 1000);
  const POLL_MS = Math.min(2000, STATUS_PERIOD_MS / 2);
  const LIST_EVERY = 2; // job lists every second poll
  const MAX_TILES = 120;
  const HISTORY = 150; // chart samples kept (one per status document)
  const TOKEN_KEY = "scale-token";
  const STATE_ORDER = [
    "DEGRADED", "OFFLINE", "PAUSED", "SCHEDULER_STOPPED", "DEPRECATED",
    "INITIAL_CLEANUP", "IMAGE_PULL", "READY",
  ];
  const STATE_TITLES = {
    DEPRECATED: "Deprecated", OFFLINE: "Offline", PAUSED: "Paused", SCHEDULER_STOPPED: "Scheduler Stopped",
    DEGRADED: "Degraded", INITIAL_CLEANUP: "Cleaning up", IMAGE_PULL: "Pulling image", READY: "Ready",
  };
  const RATES = [
    ["jobs_launched_per_sec", "Jobs launched"], ["jobs_finished_per_sec", "Jobs finished"],
    ["tasks_launched_per_sec", "Tasks launched"], ["tasks_finished_per_sec", "Tasks finished"],
    ["task_updates_per_sec", "Task updates"], ["new_offers_per_sec", "New offers"],
    ["offers_launched_per_sec", "Offers launched"],
  ];
  const RESOURCES = [["cpus", ""], ["mem", " MiB"], ["disk", " MiB"], ["gpus", ""]];
  const BAR_PARTS = ["running", "offered", "free", "unavailable"];
  const JOB_STATUSES = ["PENDING", "BLOCKED", "QUEUED", "RUNNING", "FAILED", "COMPLETED", "CANCELED"];
  const SVG_NS = "http://www.w3.org/2000/svg";
  const NO_SUCH_JOB = "9223372036854775807"; // the largest id: as a string, JSON keeps every digit

  const view = {
    status: null, statusEtag: null, summary: null, summaryEtag: null,
    running: [], failed: [], history: [], lastTimestamp: null,
    stateFilter: null, search: "", polls: 0, openJob: null,
    armed: {}, // node id -> when its Deprecate button was armed
  };
  const ARM_MS = 10000;

  // ---------------------------------------------------------------- DOM helpers

  const $ = (id) => document.getElementById(id);

  /** An element with attributes and children; strings become text nodes, never markup. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  function fmt(value, unit) {
    const n = Number(value || 0);
    const text = Math.abs(n) >= 100 ? Math.round(n).toLocaleString("en") : String(Math.round(n * 100) / 100);
    return text + (unit || "");
  }

  function duration(fromIso) {
    if (!fromIso) return "";
    let s = Math.max(0, Math.round((Date.now() - Date.parse(fromIso)) / 1000));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  function showMessage(text, isError) {
    const box = $("message");
    box.textContent = text;
    box.className = isError ? "error" : "info";
    box.hidden = !text;
  }

  // ---------------------------------------------------------------- HTTP

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  function headers(extra) {
    const h = Object.assign({ Accept: "application/json" }, extra || {});
    const t = token();
    if (t) h.Authorization = `Token ${t}`;
    return h;
  }

  async function errorText(response) {
    try {
      const data = await response.json();
      if (data && typeof data.detail === "string") return data.detail;
    } catch (_) { /* not JSON */ }
    return `HTTP ${response.status}`;
  }

  /** GET JSON; with an ETag, a 304 answers null ("unchanged"). */
  async function getJson(url, etag) {
    const response = await fetch(url, { headers: headers(etag ? { "If-None-Match": etag } : {}), cache: "no-store" });
    if (response.status === 304) return { unchanged: true };
    if (response.status === 204) return { data: null, etag: null };
    if (!response.ok) throw new Error(`${url}: ${await errorText(response)}`);
    return { data: await response.json(), etag: response.headers.get("ETag") };
  }

  /** A write with the session's token; throws Error(detail) on a non-2xx answer. */
  async function write(method, url, payload) {
    const response = await fetch(url, {
      method, headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(payload),
    });
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      renderAuth();
    }
    if (!response.ok) throw new Error(await errorText(response));
    return response;
  }

  async function act(what, method, url, payload) {
    try {
      await write(method, url, payload);
      showMessage(`${what}: done`, false);
      await poll(true);
    } catch (err) {
      showMessage(`${what}: ${err.message}`, true);
    }
  }

  // ---------------------------------------------------------------- polling

  async function poll(force) {
    const tasks = [pollStatus(), pollSummary()];
    if (force || view.polls % LIST_EVERY === 0) tasks.push(pollLists());
    view.polls += 1;
    const results = await Promise.allSettled(tasks);
    const failed = results.find((r) => r.status === "rejected");
    $("updated").textContent = failed ? `update failed: ${failed.reason.message}` : `updated ${new Date().toLocaleTimeString()}`;
    $("updated").className = failed ? "error" : "muted";
    if (view.openJob !== null) refreshJob().catch(() => {});
  }

  async function pollStatus() {
    const result = await getJson("/v6/status/", view.statusEtag);
    if (result.unchanged) { renderNodes(); return; } // durations still move on
    view.statusEtag = result.etag;
    view.status = result.data;
    if (view.status && view.status.timestamp !== view.lastTimestamp) {
      view.lastTimestamp = view.status.timestamp;
      view.history.push({ t: Date.parse(view.status.timestamp), m: view.status.scheduler.metrics });
      if (view.history.length > HISTORY) view.history.shift();
    }
    renderStatus();
  }

  async function pollSummary() {
    const result = await getJson(`${DASH_API}/summary/`, view.summaryEtag);
    if (result.unchanged) return;
    view.summaryEtag = result.etag;
    view.summary = result.data;
    renderSummary();
  }

  async function pollLists() {
    const [running, failed] = await Promise.all([
      getJson("/v6/jobs/?status=RUNNING&order=-started&page_size=25"),
      getJson("/v6/jobs/?status=FAILED&order=-last_modified&page_size=25"),
    ]);
    view.running = running.data ? running.data.results : [];
    view.failed = failed.data ? failed.data.results : [];
    renderLists();
  }

  // ---------------------------------------------------------------- status

  function renderStatus() {
    const s = view.status;
    const badge = $("scheduler-state");
    const toggle = $("scheduler-toggle");
    if (!s) {
      badge.textContent = "Offline";
      badge.dataset.state = "OFFLINE";
      badge.title = "The scheduler stored no status in the last 12 seconds";
      toggle.hidden = true;
      $("nodes").replaceChildren(el("p", { class: "muted" }, "The scheduler is offline."));
      return;
    }
    const state = s.scheduler.state;
    badge.textContent = state.title;
    badge.dataset.state = state.name;
    badge.title = state.description;
    toggle.hidden = !token();
    toggle.textContent = state.name === "PAUSED" ? "Resume scheduler" : "Pause scheduler";
    const warnings = s.scheduler.warnings || [];
    $("warnings-section").hidden = warnings.length === 0;
    $("scheduler-warnings").replaceChildren(
      ...warnings.map((w) => el("li", { class: "warning" }, el("strong", {}, w.title || w.name), " ",
        w.description || "", el("span", { class: "muted" }, ` for ${duration(w.started)}`))),
    );
    renderCluster(s);
    renderCharts();
    renderNodes();
  }

  function bar(values, unit) {
    const total = Number(values.total || 0);
    const wrap = el("div", { class: "bar", title: BAR_PARTS.map((p) => `${p} ${fmt(values[p], unit)}`).join(", ") });
    for (const part of BAR_PARTS) {
      const share = total > 0 ? (100 * Number(values[part] || 0)) / total : 0;
      if (share > 0) wrap.append(el("span", { class: `seg ${part}`, "data-share": share.toFixed(1) }));
    }
    // widths through the CSSOM (no inline style attribute: the page's CSP forbids them)
    for (const seg of wrap.children) seg.style.width = `${seg.dataset.share}%`;
    return wrap;
  }

  function resourceRows(resources) {
    return RESOURCES.map(([name, unit]) => {
      const values = resources[name] || {};
      return el("div", { class: "res" }, el("span", { class: "res-name" }, name), bar(values, unit),
        el("span", { class: "res-val" }, `${fmt(values.running, "")}/${fmt(values.total, unit)}`));
    });
  }

  function renderCluster(s) {
    $("cluster-resources").replaceChildren(...resourceRows(s.resources),
      el("div", { class: "legend" }, ...BAR_PARTS.map((p) => el("span", { class: `key ${p}` }, p))));
    const facts = [];
    for (const svc of s.system.services) {
      facts.push(el("dt", {}, svc.title), el("dd", { "data-service": svc.name },
        `${svc.actual_count} of ${svc.desired_count} handlers`));
    }
    const db = s.system.database_update;
    facts.push(el("dt", {}, "Database update"), el("dd", {}, db.is_completed ? `completed ${duration(db.completed)} ago` : "in progress"));
    const deps = s.dependencies || {};
    for (const [name, dep] of Object.entries(deps)) {
      facts.push(el("dt", {}, name.replace("_", " ")), el("dd", { class: dep.OK ? "" : "error" },
        dep.OK ? "OK" : (dep.errors || []).map((e) => Object.values(e).join(" ")).join("; ") || "not OK"));
    }
    facts.push(el("dt", {}, "Offers"), el("dd", {}, String(s.num_offers)));
    $("system-facts").replaceChildren(...facts);
  }

  // ---------------------------------------------------------------- charts

  function renderCharts() {
    const box = $("charts");
    if (!box.children.length) {
      for (const [key, title] of RATES) {
        box.append(el("figure", { class: "chart", "data-metric": key },
          el("figcaption", {}, title, " ", el("strong", { class: "now" }, "0")),
          (() => { const s = svg("svg", { viewBox: "0 0 150 40", preserveAspectRatio: "none", role: "img" });
            s.append(svg("polyline", { points: "", class: "line" })); return s; })()));
      }
    }
    for (const figure of box.children) {
      const key = figure.dataset.metric;
      const values = view.history.map((h) => Number(h.m[key] || 0));
      const max = Math.max(1, ...values);
      const points = values.map((v, i) => `${(i * 150) / Math.max(1, HISTORY - 1)},${40 - (38 * v) / max}`);
      figure.querySelector("polyline").setAttribute("points", points.join(" "));
      figure.querySelector(".now").textContent = fmt(values.length ? values[values.length - 1] : 0, "/s");
    }
  }

  // ---------------------------------------------------------------- nodes

  function renderNodes() {
    const s = view.status;
    if (!s) return;
    const nodes = s.nodes;
    const byState = {};
    for (const node of nodes) byState[node.state.name] = (byState[node.state.name] || 0) + 1;
    $("node-total").textContent = `(${nodes.length})`;
    const chips = [el("button", { class: `chip${view.stateFilter === null ? " on" : ""}`, "data-filter": "",
      onclick: () => { view.stateFilter = null; renderNodes(); } }, `All ${nodes.length}`)];
    for (const state of STATE_ORDER) {
      if (!byState[state]) continue;
      chips.push(el("button", { class: `chip state-${state}${view.stateFilter === state ? " on" : ""}`,
        "data-filter": state, onclick: () => { view.stateFilter = view.stateFilter === state ? null : state; renderNodes(); } },
      `${STATE_TITLES[state] || state} ${byState[state]}`));
    }
    $("state-filter").replaceChildren(...chips);
    const search = view.search.toLowerCase();
    const shown = nodes
      .filter((n) => (view.stateFilter === null || n.state.name === view.stateFilter)
        && (!search || n.hostname.toLowerCase().includes(search)))
      .sort((a, b) => STATE_ORDER.indexOf(a.state.name) - STATE_ORDER.indexOf(b.state.name)
        || a.hostname.localeCompare(b.hostname));
    const groups = [];
    let current = null;
    for (const node of shown.slice(0, MAX_TILES)) {
      if (!current || current.state !== node.state.name) {
        current = { state: node.state.name, box: el("div", { class: "tiles" }) };
        groups.push(el("div", { class: "group" }, el("h3", {}, STATE_TITLES[node.state.name] || node.state.name), current.box));
      }
      current.box.append(tile(node));
    }
    $("nodes").replaceChildren(...groups);
    const more = $("nodes-more");
    more.hidden = shown.length <= MAX_TILES;
    more.textContent = `${shown.length - MAX_TILES} more nodes not drawn: filter by state or hostname to see them.`;
  }

  function conditions(items, kind) {
    return items.map((c) => el("li", { class: kind, title: c.description || "" },
      el("strong", {}, c.title || c.name), ` for ${duration(c.started)}`));
  }

  function tile(node) {
    const exes = node.job_executions;
    const failed = exes.failed;
    const actions = [];
    if (token()) {
      const paused = node.state.name === "PAUSED";
      actions.push(el("button", { class: "action small", "data-action": paused ? "resume" : "pause",
        onclick: () => act(`${paused ? "Resume" : "Pause"} node ${node.hostname}`, "PATCH", `/v6/nodes/${node.id}/`,
          paused ? { is_paused: false } : { is_paused: true, pause_reason: "Paused from the dashboard" }) },
      paused ? "Resume" : "Pause"));
      if (node.is_active) {
        actions.push(el("button", { class: "action small danger", "data-action": "deprecate",
          onclick: () => {
            // Two clicks within ARM_MS: the first arms the button (kept across redraws), the second acts.
            if (!(view.armed[node.id] > Date.now() - ARM_MS)) { view.armed[node.id] = Date.now(); renderNodes(); return; }
            delete view.armed[node.id];
            act(`Deprecate node ${node.hostname}`, "PATCH", `/v6/nodes/${node.id}/`, { is_active: false });
          } }, view.armed[node.id] > Date.now() - ARM_MS ? "Really deprecate?" : "Deprecate"));
      }
    }
    return el("article", { class: `tile state-${node.state.name}`, "data-node": node.hostname, "data-node-id": node.id,
      "data-state": node.state.name, title: node.state.description },
    el("header", {}, el("span", { class: "host" }, node.hostname), el("span", { class: "state" }, node.state.title)),
    node.errors.length || node.warnings.length
      ? el("ul", { class: "conditions" }, conditions(node.errors, "error"), conditions(node.warnings, "warning")) : null,
    ...resourceRows(node.resources),
    el("p", { class: "counts3h", title: "running now; completed and failed in the last 3 hours" },
      el("span", { "data-count": "running" }, `▶ ${exes.running.total}`), " ",
      el("span", { "data-count": "completed" }, `✓ ${exes.completed.total}`), " ",
      el("span", { "data-count": "failed", title: "failed: data / algorithm / system" },
        `✗ ${failed.total} (${failed.data.total}/${failed.algorithm.total}/${failed.system.total})`)),
    actions.length ? el("div", { class: "tile-actions" }, actions) : null);
  }

  // ---------------------------------------------------------------- jobs

  function renderSummary() {
    const s = view.summary;
    if (!s) return;
    $("job-counts").replaceChildren(...JOB_STATUSES.map((status) => el("div", { class: `count status-${status}` },
      el("span", { class: "n", "data-job-count": status }, String(s.job_counts[status] || 0)), el("span", {}, status.toLowerCase()))));
    const rows = s.queue.map((q) => el("tr", { "data-job-type": q.job_type.name },
      el("td", {}, q.job_type.title || q.job_type.name, el("span", { class: "muted" }, ` ${q.job_type.name} ${q.job_type.version}`),
        q.is_paused ? el("span", { class: "badge", "data-state": "PAUSED" }, "paused") : null),
      el("td", { "data-queued": q.count }, String(q.count)),
      el("td", {}, duration(q.oldest)),
      el("td", {}, el("ul", { class: "plain reasons" },
        Object.entries(q.reasons).map(([reason, jobs]) => el("li", { class: "reason", "data-reason": reason }, `${reason}: ${jobs} job${jobs === 1 ? "" : "s"}`)),
        q.not_yet_considered ? el("li", { class: "muted" }, `not yet considered: ${q.not_yet_considered}`) : null))));
    $("queue-note").hidden = !s.reasons_sampled;
    $("queue-table").tBodies[0].replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, "Nothing is queued."))]));
    $("failure-groups").replaceChildren(...s.failures.map((f) => el("li", { "data-error": f.name },
      el("strong", {}, String(f.count)), " ", f.title || f.name, el("span", { class: "muted" }, ` (${f.category.toLowerCase()})`))));
  }

  function jobLink(job) {
    return el("a", { href: `#job-${job.id}`, "data-job": job.id, onclick: (ev) => { ev.preventDefault(); openJob(job.id); } }, `#${job.id}`);
  }

  function renderLists() {
    const signed = Boolean(token());
    $("running-table").tBodies[0].replaceChildren(...view.running.map((j) => el("tr", { "data-job-row": j.id },
      el("td", {}, jobLink(j)), el("td", {}, j.job_type.title || j.job_type.name), el("td", {}, j.node ? j.node.hostname : ""),
      el("td", {}, duration(j.started)),
      el("td", {}, signed ? el("button", { class: "action small", onclick: () => act(`Cancel job ${j.id}`, "POST", "/v6/jobs/cancel/", { job_ids: [j.id] }) }, "Cancel") : null))));
    $("failed-table").tBodies[0].replaceChildren(...view.failed.map((j) => el("tr", { "data-job-row": j.id },
      el("td", {}, jobLink(j)), el("td", {}, j.job_type.title || j.job_type.name), el("td", {}, j.error ? (j.error.title || j.error.name) : ""),
      el("td", {}, j.ended ? `${duration(j.ended)} ago` : ""),
      el("td", {}, signed ? el("button", { class: "action small", onclick: () => act(`Requeue job ${j.id}`, "POST", "/v6/jobs/requeue/", { job_ids: [j.id] }) }, "Requeue") : null))));
  }

  // ---------------------------------------------------------------- job detail

  async function openJob(id) {
    view.openJob = id;
    $("job-log").hidden = true;
    $("log-title").hidden = true;
    $("job-log").textContent = "";
    const dialog = $("job-dialog");
    if (!dialog.open) dialog.showModal();
    try { await refreshJob(); } catch (err) { showMessage(err.message, true); }
  }

  async function refreshJob() {
    const id = view.openJob;
    const [job, exes] = await Promise.all([getJson(`/v6/jobs/${id}/`), getJson(`/v6/jobs/${id}/executions/?page_size=100`)]);
    if (view.openJob !== id) return;
    const j = job.data;
    $("job-title").textContent = `Job #${j.id}: ${j.job_type.title || j.job_type.name} ${j.job_type.version}`;
    const facts = [["Status", j.status], ["Priority", j.priority], ["Tries", `${j.num_exes} of ${j.max_tries}`],
      ["Node", j.node ? j.node.hostname : ""], ["Error", j.error ? `${j.error.title || j.error.name} (${j.error.category})` : ""],
      ["Created", j.created], ["Ended", j.ended || ""]];
    if (j.queue_reasons) facts.push(["Waiting because", Object.entries(j.queue_reasons).map(([r, n]) => `${r} (${n} nodes)`).join(", ")]);
    $("job-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-fact": k }, String(v ?? ""))]));
    const signed = Boolean(token());
    $("job-cancel").hidden = !signed || ["COMPLETED", "CANCELED", "FAILED"].includes(j.status);
    $("job-requeue").hidden = !signed || !["CANCELED", "FAILED"].includes(j.status);
    const list = exes.data ? exes.data.results : [];
    const details = await Promise.all(list.map((e) => getJson(`/v6/jobs/${id}/executions/${e.exe_num}/`).then((r) => r.data)));
    if (view.openJob !== id) return;
    $("job-executions").replaceChildren(...details.map((e) => el("div", { class: "exe", "data-exe": e.id },
      el("p", {}, el("strong", {}, `Execution ${e.exe_num}`), ` ${e.status}`, e.node ? ` on ${e.node.hostname}` : "",
        e.exit_code !== null && e.exit_code !== undefined ? `, exit code ${e.exit_code}` : "",
        e.error ? `, ${e.error.title || e.error.name}` : "", " ",
        el("button", { class: "small", onclick: () => showLog(e.id) }, "Logs")),
      timeline(e))));
  }

  function timeline(exe) {
    const tasks = exe.task_results || [];
    if (!tasks.length) return el("p", { class: "muted" }, "No task has ended yet.");
    const times = tasks.flatMap((t) => [t.launched, t.started, t.ended]).filter(Boolean).map(Date.parse);
    const t0 = Math.min(...times);
    const span = Math.max(1, Math.max(...times) - t0);
    return el("div", { class: "timeline" }, tasks.map((t) => {
      const start = Date.parse(t.started || t.launched || t.ended);
      const end = Date.parse(t.ended);
      const seg = el("span", { class: `seg task-${t.status}` });
      const row = el("div", { class: "task" }, el("span", { class: "res-name" }, t.type), el("div", { class: "bar" }, seg),
        el("span", { class: "res-val" }, `${t.status}${t.exit_code !== null && t.exit_code !== undefined ? ` (${t.exit_code})` : ""} ${((end - start) / 1000).toFixed(1)}s`));
      seg.style.marginLeft = `${(100 * (start - t0)) / span}%`;
      seg.style.width = `${Math.max(1, (100 * (end - start)) / span)}%`;
      return row;
    }));
  }

  async function showLog(exeId) {
    const response = await fetch(`/v6/job-executions/${exeId}/logs/combined/`, { headers: headers({ Accept: "text/plain" }) });
    $("log-title").hidden = false;
    $("log-title").textContent = `Logs of execution ${exeId}`;
    $("job-log").hidden = false;
    $("job-log").textContent = response.ok ? await response.text() : await errorText(response);
  }

  // ---------------------------------------------------------------- sign-in

  function renderAuth() {
    const signed = Boolean(token());
    $("signin-open").hidden = signed;
    $("signout").hidden = !signed;
    $("signed-in").hidden = !signed;
    if (view.status) renderStatus();
    renderLists();
  }

  async function signIn(ev) {
    ev.preventDefault();
    const value = $("signin-token").value.trim();
    const error = $("signin-error");
    // Cancelling a job id no job can have is a write that changes nothing: it only proves that
    // the token may write (401 unknown, 403 read-only).
    const response = await fetch("/v6/jobs/cancel/", {
      method: "POST", headers: { "Content-Type": "application/json", Authorization: `Token ${value}` },
      body: `{"job_ids": [${NO_SUCH_JOB}]}`,
    });
    if (!response.ok) {
      error.textContent = await errorText(response);
      error.hidden = false;
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, value);
    error.hidden = true;
    $("signin-token").value = "";
    $("signin-dialog").close();
    renderAuth();
  }

  function init() {
    $("signin-open").addEventListener("click", () => $("signin-dialog").showModal());
    $("signin-cancel").addEventListener("click", () => $("signin-dialog").close());
    $("signin-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); renderAuth(); });
    $("scheduler-toggle").addEventListener("click", () => {
      const paused = view.status && view.status.scheduler.state.name === "PAUSED";
      act(paused ? "Resume scheduler" : "Pause scheduler", "PATCH", "/v6/scheduler/", { is_paused: !paused });
    });
    $("node-search").addEventListener("input", (ev) => { view.search = ev.target.value; renderNodes(); });
    $("job-close").addEventListener("click", () => { view.openJob = null; $("job-dialog").close(); });
    $("job-dialog").addEventListener("close", () => { view.openJob = null; });
    $("job-cancel").addEventListener("click", () => act(`Cancel job ${view.openJob}`, "POST", "/v6/jobs/cancel/", { job_ids: [view.openJob] }));
    $("job-requeue").addEventListener("click", () => act(`Requeue job ${view.openJob}`, "POST", "/v6/jobs/requeue/", { job_ids: [view.openJob] }));
    const hash = /^#job-(\d+)$/.exec(window.location.hash);
    if (hash) openJob(Number(hash[1]));
    renderAuth();
    poll(true);
    setInterval(() => { if (!document.hidden) poll(false); }, POLL_MS);
  }

  init();
})();
