/* The engactivity wallboard: reads the public engactivity API of this server and shows it.
 *
 * Every refresh asks three questions for the chosen account and timeframe:
 *   1. ?timeframe=T&interval=I        the account totals (tiles) and the chart
 *   2. ?timeframe=T&skillIds=all      the skill table, and each skill's agents
 *   3. ?timeframe=T&agentIds=all      the agent table
 * and shows the answers only when all three have arrived, so the page never mixes times.
 * No framework, no build step; uPlot (vendored) draws the chart.
 */
(function () {
  "use strict";

  const TIMEFRAMES = [15, 60, 240, 1440];
  const INTERVALS = [5, 15, 30, 60];
  const DEFAULTS = { account: "demo", timeframe: 60, interval: 15 };
  const REFRESH_MS = 5000;
  const REQUEST_TIMEOUT_MS = 15000;
  const BACKOFF_FIRST_MS = 2000;
  const BACKOFF_MAX_MS = 60000;
  const ACCOUNT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
  const STORAGE = {
    account: "engactivity.wallboard.account",
    key: "engactivity.wallboard.key",
    timeframe: "engactivity.wallboard.timeframe",
    interval: "engactivity.wallboard.interval",
  };
  const SERIES = [
    { key: "connectedEngagements", label: "Connected", color: "#56B4E9" },
    { key: "totalInteractiveChats", label: "Interactive", color: "#E69F00" },
    { key: "totalNonInteractiveChats", label: "Non-interactive", color: "#CC79A7" },
  ];
  const AHT_COLOR = "#F0E442";

  const $ = (id) => document.getElementById(id);
  const numberFormat = new Intl.NumberFormat();
  const clockFormat = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  const axisTimeFormat = new Intl.DateTimeFormat(undefined, {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });

  // -- state -------------------------------------------------------------------------------

  const state = {
    account: DEFAULTS.account,
    key: "",
    timeframe: DEFAULTS.timeframe,
    interval: DEFAULTS.interval,
    skill: null,              // the selected skill id (string), or null
    generation: 0,            // bumps on every refresh; late answers of older ones are dropped
    controller: null,         // aborts the refresh in flight
    timer: null,
    stopped: false,           // true after 400/401/403: wait for the user
    failures: 0,              // consecutive retryable failures, for the backoff
    retryAt: 0,               // epoch ms before which no request is sent (429 / errors)
    lastData: null,
    lastUpdated: null,
    refreshes: 0,
    sort: {
      skills: { key: "connectedEngagements", dir: "descending" },
      agents: { key: "connectedEngagements", dir: "descending" },
    },
  };

  function storageGet(name) {
    try { return window.localStorage.getItem(STORAGE[name]); } catch (e) { return null; }
  }
  function storageSet(name, value) {
    try {
      if (value === null || value === "") window.localStorage.removeItem(STORAGE[name]);
      else window.localStorage.setItem(STORAGE[name], String(value));
    } catch (e) { /* private mode: settings just do not persist */ }
  }

  function intOr(value, allowed, fallback) {
    const n = Number(value);
    return allowed.includes(n) ? n : fallback;
  }

  /** Intervals the API accepts for a timeframe: 5 <= I <= T and T divisible by I. */
  function validIntervals(timeframe) {
    return INTERVALS.filter((i) => i <= timeframe && timeframe % i === 0);
  }

  function fitInterval() {
    const valid = validIntervals(state.timeframe);
    if (!valid.includes(state.interval)) {
      state.interval = valid.filter((i) => i <= state.interval).pop() || valid[valid.length - 1];
    }
  }

  function loadSettings() {
    const url = new URLSearchParams(window.location.search);
    const account = url.get("account") || storageGet("account") || DEFAULTS.account;
    state.account = ACCOUNT_RE.test(account) ? account : DEFAULTS.account;
    state.key = storageGet("key") || "";
    state.timeframe = intOr(url.get("timeframe") || storageGet("timeframe"), TIMEFRAMES, DEFAULTS.timeframe);
    state.interval = intOr(url.get("interval") || storageGet("interval"), INTERVALS, DEFAULTS.interval);
    state.skill = url.get("skill") || null;
    fitInterval();
  }

  function saveSettings() {
    storageSet("account", state.account);
    storageSet("key", state.key);
    storageSet("timeframe", state.timeframe);
    storageSet("interval", state.interval);
    const url = new URL(window.location.href);
    url.searchParams.set("account", state.account);
    url.searchParams.set("timeframe", String(state.timeframe));
    url.searchParams.set("interval", String(state.interval));
    if (state.skill === null) url.searchParams.delete("skill");
    else url.searchParams.set("skill", state.skill);
    window.history.replaceState(null, "", url);
  }

  // -- formatting --------------------------------------------------------------------------

  function fmtInt(n) { return numberFormat.format(n); }

  /** Average handling time in seconds, or null when no chat closed. */
  function aht(m) {
    const chats = m.totalInteractiveChats + m.totalNonInteractiveChats;
    if (!chats) return null;
    return (m.totalHandlingTime + m.nonInteractiveTotalHandlingTime) / chats;
  }

  /** Seconds as m:ss (h:mm:ss from an hour on); an em dash for null. */
  function fmtDuration(seconds) {
    if (seconds === null || !isFinite(seconds)) return "—";
    const s = Math.round(seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
  }

  function fmtTimeframe(t) { return t < 60 ? `${t} min` : `${t / 60} h`; }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  // -- talking to the API ------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body, retryAfter) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
      this.retryAfter = retryAfter;
    }
  }

  class NetworkError extends Error {}

  async function getJSON(params, signal) {
    const query = new URLSearchParams({ ...params, v: "1" });
    const url = `/operations/api/account/${encodeURIComponent(state.account)}/engactivity?${query}`;
    const headers = { Accept: "application/json" };
    if (state.key) headers.Authorization = `Bearer ${state.key}`;
    let response;
    try {
      response = await fetch(url, { headers, signal, cache: "no-store", credentials: "same-origin" });
    } catch (e) {
      if (signal.aborted) throw e;
      throw new NetworkError(String(e && e.message ? e.message : e));
    }
    if (!response.ok) {
      let body = null;
      try { body = await response.json(); } catch (e) { /* not JSON: keep the status */ }
      const seconds = Number(response.headers.get("Retry-After"));
      throw new ApiError(response.status, body, isFinite(seconds) && seconds > 0 ? seconds : 0);
    }
    return response.json();
  }

  async function refresh() {
    clearTimeout(state.timer);
    state.timer = null;
    if (state.controller) state.controller.abort();
    const generation = ++state.generation;
    const controller = new AbortController();
    state.controller = controller;
    let timedOut = false;
    const watchdog = setTimeout(() => { timedOut = true; controller.abort(); }, REQUEST_TIMEOUT_MS);
    const { timeframe, interval, account } = state;
    try {
      const [series, skills, agents] = await Promise.all([
        getJSON({ timeframe, interval }, controller.signal),
        getJSON({ timeframe, skillIds: "all" }, controller.signal),
        getJSON({ timeframe, agentIds: "all" }, controller.signal),
      ]);
      if (generation !== state.generation) return;
      state.lastData = { series, skills, agents, timeframe, interval, account };
      state.lastUpdated = new Date();
      state.failures = 0;
      state.retryAt = 0;
      document.body.dataset.state = "ok";
      clearError();
      render();
      state.refreshes += 1;
      document.body.dataset.rendered = `${account}/${timeframe}/${interval}`;
      document.body.dataset.refreshes = String(state.refreshes);
      schedule(REFRESH_MS);
    } catch (error) {
      if (generation !== state.generation) return;
      if (controller.signal.aborted && !timedOut) return;
      handleError(timedOut ? new NetworkError("timeout") : error);
    } finally {
      clearTimeout(watchdog);
      if (state.controller === controller) state.controller = null;
    }
  }

  function schedule(delayMs) {
    clearTimeout(state.timer);
    state.timer = null;
    if (state.stopped || document.hidden) return;
    const wait = Math.max(delayMs, state.retryAt - Date.now(), 0);
    state.timer = setTimeout(refresh, wait);
  }

  function backoffMs(minimumMs) {
    state.failures += 1;
    const exponential = BACKOFF_FIRST_MS * 2 ** (state.failures - 1);
    const base = Math.min(BACKOFF_MAX_MS, Math.max(minimumMs, exponential));
    return Math.round(base * (1 + Math.random() * 0.2)); // jitter: wallboards do not sync up
  }

  function handleError(error) {
    document.body.dataset.state = "error";
    const account = state.account;
    if (error instanceof ApiError) {
      const detail = error.body && error.body.message ? ` The server said: ${error.body.message}` : "";
      if (error.status === 401) {
        stop("error-auth", "The key was refused (401).",
          `The server did not accept the key for account ${account}. Enter a valid key and press Show.${detail}`);
      } else if (error.status === 403) {
        stop("error-forbidden", "Not allowed (403).",
          `This key may not read account ${account}. Use a key for this account and press Show.${detail}`);
      } else if (error.status === 400) {
        stop("error-request", "The server refused the request (400).",
          `${error.message}. Check the account and press Show.`);
      } else if (error.status === 429) {
        const wait = backoffMs(error.retryAfter * 1000);
        retryLater("error-rate", "Too many requests (429).",
          `The server asked the wallboard to slow down; retrying in ${Math.round(wait / 1000)} s.`, wait);
      } else if (error.status === 503) {
        const wait = backoffMs(error.retryAfter * 1000);
        retryLater("error-unavailable", "The server is busy (503).",
          `Its store is not available right now; retrying in ${Math.round(wait / 1000)} s.`, wait);
      } else {
        const wait = backoffMs(0);
        retryLater("error-http", `The server answered ${error.status}.`,
          `${error.message}; retrying in ${Math.round(wait / 1000)} s.`, wait);
      }
    } else if (error instanceof NetworkError) {
      const wait = backoffMs(0);
      retryLater("error-network", "Cannot reach the server.",
        `The network or the server is down; retrying in ${Math.round(wait / 1000)} s.`, wait);
    } else {
      const wait = backoffMs(0);
      retryLater("error-other", "Something went wrong.",
        `${error && error.message ? error.message : error}; retrying in ${Math.round(wait / 1000)} s.`, wait);
      console.error(error);
    }
    renderStatus();
  }

  function stop(kind, title, text) {
    state.stopped = true;
    showError(kind, title, text);
  }

  function retryLater(kind, title, text, waitMs) {
    state.retryAt = Date.now() + waitMs;
    showError(kind, title, text);
    schedule(0);
  }

  function showError(kind, title, text) {
    const box = $("error");
    box.dataset.kind = kind;
    setText($("error-title"), title);
    setText($("error-text"), text);
    $("retry").hidden = false;
    box.hidden = false;
    $("main").classList.toggle("stale", state.lastData !== null);
  }

  function clearError() {
    const box = $("error");
    box.hidden = true;
    delete box.dataset.kind;
    $("main").classList.remove("stale");
  }

  // -- rendering ---------------------------------------------------------------------------

  function render() {
    const data = state.lastData;
    const totals = data.series.metricsTotals;
    setText($("total-connected"), fmtInt(totals.connectedEngagements));
    setText($("total-interactive"), fmtInt(totals.totalInteractiveChats));
    setText($("total-noninteractive"), fmtInt(totals.totalNonInteractiveChats));
    setText($("total-aht"), fmtDuration(aht(totals)));
    setText($("title-account"), data.account);
    document.title = `${data.account} · Engagement activity`;
    setText($("chart-title"), `Per ${data.interval}-minute interval, last ${fmtTimeframe(data.timeframe)}`);
    renderChart(data.series.metricsByIntervals || [], data.interval);
    renderSkills();
    renderAgents();
    renderStatus();
  }

  function renderStatus() {
    let text;
    if (!state.lastUpdated) text = document.hidden ? "Paused while the tab is hidden" : "Loading…";
    else {
      text = `Updated ${clockFormat.format(state.lastUpdated)}`;
      if (document.hidden) text += " · paused while hidden";
      else if (!$("error").hidden) text += " · not current";
    }
    setText($("updated"), text);
    const dot = $("live-dot");
    dot.className = "dot " + (document.body.dataset.state === "ok" && !document.hidden ? "live" : "idle");
  }

  // The chart: three counts on the left axis, the average handling time on the right.
  let chart = null;

  function chartSize() {
    const box = $("chart");
    return { width: Math.max(200, box.clientWidth), height: Math.max(160, box.clientHeight) };
  }

  function makeChart() {
    const axisFont = "600 16px system-ui, sans-serif";
    const axisBase = {
      stroke: "#E8ECF1",
      font: axisFont,
      labelFont: axisFont,
      grid: { stroke: "rgba(232,236,241,0.14)", width: 1 },
      ticks: { stroke: "rgba(232,236,241,0.3)", width: 1 },
    };
    const series = [{}];
    for (const s of SERIES) {
      series.push({ label: s.label, stroke: s.color, width: 3, scale: "n",
        points: { size: 7, fill: s.color }, value: (u, v) => (v === null ? "—" : fmtInt(v)) });
    }
    series.push({ label: "Avg handling time", stroke: AHT_COLOR, width: 3, dash: [10, 6],
      scale: "s", points: { size: 7, fill: AHT_COLOR }, value: (u, v) => fmtDuration(v) });
    const opts = {
      ...chartSize(),
      series,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, n: { range: (u, min, max) => [0, Math.max(1, (max || 0) * 1.1)] },
        s: { range: (u, min, max) => [0, Math.max(60, (max || 0) * 1.1)] } },
      axes: [
        { ...axisBase, values: (u, ticks) => ticks.map((t) => axisTimeFormat.format(new Date(t * 1000))) },
        { ...axisBase, scale: "n", label: "chats", size: 70,
          values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? fmtInt(t) : "")) },
        { ...axisBase, scale: "s", side: 1, label: "avg handling time", size: 80,
          grid: { show: false }, values: (u, ticks) => ticks.map((t) => fmtDuration(t)),
          incrs: [15, 30, 60, 120, 300, 600, 900, 1800, 3600] },
      ],
    };
    chart = new window.uPlot(opts, [[], [], [], [], []], $("chart"));
    new ResizeObserver(() => chart.setSize(chartSize())).observe($("chart"));
  }

  function renderChart(intervals, interval) {
    if (!window.uPlot) return;
    if (!chart) makeChart();
    const rows = intervals.slice().reverse(); // the API lists them newest first
    const data = [rows.map((r) => r.timestamp / 1000)];
    for (const s of SERIES) data.push(rows.map((r) => r.metricsData.metricsTotals[s.key]));
    data.push(rows.map((r) => aht(r.metricsData.metricsTotals)));
    chart.setData(data);
    const box = $("chart");
    box.dataset.points = String(rows.length);
    const last = rows.length ? rows[rows.length - 1].metricsData.metricsTotals : null;
    box.setAttribute("aria-label", last
      ? `Chart of ${rows.length} intervals of ${interval} minutes. Latest interval: ` +
        `${fmtInt(last.connectedEngagements)} connected, ${fmtInt(last.totalInteractiveChats)} interactive, ` +
        `${fmtInt(last.totalNonInteractiveChats)} non-interactive, average handling time ${fmtDuration(aht(last))}.`
      : "Chart of the metrics per interval: no data.");
  }

  // The tables: rows are kept and updated in place (no flicker, focus survives refreshes).

  function skillLabel(id) { return id === "-1" ? "No skill" : `Skill ${id}`; }
  function agentLabel(id) { return `Agent ${id}`; }

  function rowsOf(map) {
    return Object.entries(map || {}).map(([id, value]) => {
      const m = value.metricsTotals || value;
      return { id, m, aht: aht(m) };
    });
  }

  function compareIds(a, b) {
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  function sortRows(rows, sort) {
    const sign = sort.dir === "ascending" ? 1 : -1;
    return rows.sort((a, b) => {
      let c;
      if (sort.key === "id") c = compareIds(a.id, b.id);
      else if (sort.key === "aht") c = (a.aht === null ? -1 : a.aht) - (b.aht === null ? -1 : b.aht);
      else c = a.m[sort.key] - b.m[sort.key];
      return c * sign || compareIds(a.id, b.id);
    });
  }

  function renderTable(table, rows, sort, filterText, label, selectable) {
    const tbody = table.tBodies[0];
    const needle = filterText.trim().toLowerCase();
    const shown = sortRows(rows.filter((r) => !needle || r.id.includes(needle) ||
      label(r.id).toLowerCase().includes(needle)), sort);
    const existing = new Map();
    for (const tr of Array.from(tbody.rows)) existing.set(tr.dataset.id, tr);
    shown.forEach((row, index) => {
      let tr = existing.get(row.id);
      if (tr) existing.delete(row.id);
      else tr = makeRow(row.id, label, selectable);
      const cells = tr.cells;
      setText(cells[1], fmtInt(row.m.connectedEngagements));
      setText(cells[2], fmtInt(row.m.totalInteractiveChats));
      setText(cells[3], fmtInt(row.m.totalNonInteractiveChats));
      setText(cells[4], fmtDuration(row.aht));
      if (selectable) {
        const selected = row.id === state.skill;
        tr.classList.toggle("selected", selected);
        tr.cells[0].firstChild.setAttribute("aria-pressed", String(selected));
      }
      if (tbody.rows[index] !== tr) tbody.insertBefore(tr, tbody.rows[index] || null);
    });
    for (const tr of existing.values()) tr.remove();
    const empty = table.parentElement.querySelector(".empty");
    empty.hidden = shown.length > 0;
    if (!shown.length) {
      setText(empty, rows.length ? "No row matches the filter." : empty.dataset.none || empty.textContent);
    }
    for (const th of table.tHead.rows[0].cells) {
      th.setAttribute("aria-sort", th.dataset.key === sort.key ? sort.dir : "none");
    }
  }

  function makeRow(id, label, selectable) {
    const tr = document.createElement("tr");
    tr.dataset.id = id;
    const head = document.createElement("th");
    head.scope = "row";
    if (selectable) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = label(id);
      button.title = `Show the agents of ${label(id).toLowerCase()}`;
      head.appendChild(button);
      tr.classList.add("clickable");
      tr.addEventListener("click", () => selectSkill(state.skill === id ? null : id));
    } else {
      head.textContent = label(id);
    }
    tr.appendChild(head);
    for (let i = 0; i < 4; i++) {
      const td = document.createElement("td");
      td.className = "num";
      tr.appendChild(td);
    }
    return tr;
  }

  function skillMap() {
    const data = state.lastData;
    return (data && data.skills.skillsMetricsPerAgent && data.skills.skillsMetricsPerAgent.metricsPerSkill) || {};
  }

  function renderSkills() {
    renderTable($("skills"), rowsOf(skillMap()), state.sort.skills, $("skill-filter").value,
      skillLabel, true);
  }

  function renderAgents() {
    const data = state.lastData;
    let map;
    const chip = $("skill-chip");
    if (state.skill !== null) {
      const skill = skillMap()[state.skill];
      map = skill ? skill.metricsPerAgent : {};
      setText($("agents-title"), `Agents of ${skillLabel(state.skill).toLowerCase()}`);
      setText(chip, `${skillLabel(state.skill)} ✕`);
      chip.setAttribute("aria-label", `Show all agents, not only those of ${skillLabel(state.skill).toLowerCase()}`);
      chip.hidden = false;
    } else {
      map = data && data.agents.agentsMetrics ? data.agents.agentsMetrics.metricsPerAgent : {};
      setText($("agents-title"), "Agents");
      chip.hidden = true;
    }
    renderTable($("agents"), rowsOf(map), state.sort.agents, $("agent-filter").value,
      agentLabel, false);
  }

  /** Another account: show nothing rather than the previous account's numbers. */
  function resetView() {
    for (const el of document.querySelectorAll(".tile .value")) setText(el, "—");
    for (const id of ["skills", "agents"]) $(id).tBodies[0].replaceChildren();
    if (chart) chart.setData([[], [], [], [], []]);
    delete document.body.dataset.rendered;
  }

  function selectSkill(id) {
    state.skill = id;
    saveSettings();
    if (state.lastData) { renderSkills(); renderAgents(); }
  }

  // -- controls ----------------------------------------------------------------------------

  function syncControls() {
    $("account").value = state.account;
    $("key").value = state.key;
    for (const input of document.querySelectorAll("input[name=timeframe]")) {
      input.checked = Number(input.value) === state.timeframe;
    }
    const valid = validIntervals(state.timeframe);
    for (const input of document.querySelectorAll("input[name=interval]")) {
      const value = Number(input.value);
      input.disabled = !valid.includes(value);
      input.checked = value === state.interval;
      input.parentElement.title = input.disabled
        ? `A ${value}-minute interval does not fit a ${fmtTimeframe(state.timeframe)} timeframe` : "";
    }
    setText($("title-account"), state.account);
  }

  function restart() {
    state.stopped = false;
    state.failures = 0;
    state.retryAt = 0;
    clearError();
    saveSettings();
    syncControls();
    if (document.hidden) renderStatus();
    else refresh();
  }

  function bindSorting(tableId, sortName, render) {
    for (const th of $(tableId).tHead.rows[0].cells) {
      th.querySelector("button").addEventListener("click", () => {
        const sort = state.sort[sortName];
        if (sort.key === th.dataset.key) sort.dir = sort.dir === "ascending" ? "descending" : "ascending";
        else { sort.key = th.dataset.key; sort.dir = th.dataset.key === "id" ? "ascending" : "descending"; }
        render();
      });
    }
  }

  function bind() {
    $("settings").addEventListener("submit", (event) => {
      event.preventDefault();
      const account = $("account").value.trim();
      if (!ACCOUNT_RE.test(account)) { $("account").reportValidity(); return; }
      if (account !== state.account) {
        state.skill = null;
        state.lastData = null;
        state.lastUpdated = null;
        resetView();
      }
      state.account = account;
      state.key = $("key").value.trim();
      restart();
    });
    for (const input of document.querySelectorAll("input[name=timeframe]")) {
      input.addEventListener("change", () => {
        state.timeframe = Number(input.value);
        fitInterval();
        restart();
      });
    }
    for (const input of document.querySelectorAll("input[name=interval]")) {
      input.addEventListener("change", () => { state.interval = Number(input.value); restart(); });
    }
    $("retry").addEventListener("click", restart);
    $("skill-chip").addEventListener("click", () => selectSkill(null));
    $("skill-filter").addEventListener("input", () => { if (state.lastData) renderSkills(); });
    $("agent-filter").addEventListener("input", () => { if (state.lastData) renderAgents(); });
    bindSorting("skills", "skills", renderSkills);
    bindSorting("agents", "agents", renderAgents);
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) {
        clearTimeout(state.timer);
        state.timer = null;
        renderStatus();
      } else if (!state.stopped) {
        renderStatus();
        if (Date.now() >= state.retryAt) refresh(); // at once
        else schedule(0); // when the backoff (after a 429 or an error) allows
      }
    });
  }

  function start() {
    for (const p of document.querySelectorAll(".empty")) p.dataset.none = p.textContent;
    loadSettings();
    syncControls();
    saveSettings();
    bind();
    if (document.hidden) renderStatus();
    else refresh();
  }

  start();
})();
