/* The engactivity wallboard: reads the public API of this server and shows it.
 *
 * Every refresh asks eight questions for the chosen account and timeframe:
 *   1. engactivity?timeframe=T&interval=I                 the account totals (tiles) and the chart
 *   2. engactivity?timeframe=T&skillIds=all               the skill table, and each skill's agents
 *   3. engactivity?timeframe=T&agentIds=all               the agent table
 *   4. queuehealth?timeframe=T&skillIds=all&interval=I    the queue panel's counts and rates, the
 *                                                         queue table and the queue size chart
 *   5. queuestate?skillIds=all                            visitors waiting and slots free, now
 *   6. sla?timeframe=T&histogram=0,S                      the share answered in under S seconds
 *   7. agentactivity?timeframe=T&agentIds=all             the agent states table
 *   8. agentactivity?timeframe=1&agentIds=all             the agents now: who was in which state
 *                                                         in the last minute
 * and shows the answers only when all eight have arrived, so the page never mixes times.
 * Names come from the account's configuration (skills, users, agentGroups, deleted ones
 * included), read at the first refresh of an account and then once a minute; an id without
 * a name is shown as the id ("Skill 7"), and without a configuration the page shows ids only.
 * No framework, no build step; uPlot (vendored) draws the charts.
 */
(function () {
  "use strict";

  const TIMEFRAMES = [15, 60, 240, 1440];
  const INTERVALS = [5, 15, 30, 60];
  const THRESHOLDS = [15, 30, 60, 120]; // service level: seconds a visitor may wait
  const DEFAULTS = { account: "demo", timeframe: 60, interval: 15, threshold: 30 };
  const REFRESH_MS = 5000;
  const PUSH_POLL_MS = 30000; // while the event streams are live, a poll only this often
  const PUSH_RETRY_MS = 30000; // after the streams failed: poll, and try them again after this
  const NAMES_REFRESH_MS = 60000;
  const REQUEST_TIMEOUT_MS = 15000;
  const BACKOFF_FIRST_MS = 2000;
  const BACKOFF_MAX_MS = 60000;
  const ACCOUNT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
  const STORAGE = {
    account: "engactivity.wallboard.account",
    key: "engactivity.wallboard.key",
    timeframe: "engactivity.wallboard.timeframe",
    interval: "engactivity.wallboard.interval",
    threshold: "engactivity.wallboard.threshold",
  };
  const SERIES = [
    { key: "connectedEngagements", label: "Connected", color: "#56B4E9" },
    { key: "totalInteractiveChats", label: "Interactive", color: "#E69F00" },
    { key: "totalNonInteractiveChats", label: "Non-interactive", color: "#CC79A7" },
  ];
  const AHT_COLOR = "#F0E442";
  const QUEUE_AVG_COLOR = "#009E73";
  const QUEUE_MAX_COLOR = "#D55E00";
  const NO_DATA = "—"; // shown for a value the API does not have (its -1, or nothing to average)
  const NOW_TIMEFRAME = 1; // minutes: the window of the agents now
  const STATE_IDS = { online: 2, backSoon: 3, away: 4, loggedIn: -1 }; // agentactivity's entry ids

  const $ = (id) => document.getElementById(id);
  const numberFormat = new Intl.NumberFormat();
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  const decimalFormat = new Intl.NumberFormat(undefined, {
    minimumFractionDigits: 1, maximumFractionDigits: 1,
  });
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
    threshold: DEFAULTS.threshold,
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
    again: false,             // new data was pushed during a refresh: refresh once more after it
    push: { stops: [], first: new Set(), live: false, retryAt: 0 },
    sort: {
      skills: { key: "connectedEngagements", dir: "descending" },
      agents: { key: "connectedEngagements", dir: "descending" },
      queue: { key: "waiting", dir: "descending" },
      states: { key: "loggedIn", dir: "descending" },
    },
  };

  /** The names of the account's ids, from its configuration; keys are ids as strings. */
  const names = {
    account: null, key: null, loadedAt: 0, loading: null, ticket: 0,
    skills: new Map(), agents: new Map(), groups: new Map(), groupOf: new Map(),
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
    state.threshold = intOr(url.get("threshold") || storageGet("threshold"), THRESHOLDS, DEFAULTS.threshold);
    state.skill = url.get("skill") || null;
    fitInterval();
  }

  function saveSettings() {
    storageSet("account", state.account);
    storageSet("key", state.key);
    storageSet("timeframe", state.timeframe);
    storageSet("interval", state.interval);
    storageSet("threshold", state.threshold);
    const url = new URL(window.location.href);
    url.searchParams.set("account", state.account);
    url.searchParams.set("timeframe", String(state.timeframe));
    url.searchParams.set("interval", String(state.interval));
    url.searchParams.set("threshold", String(state.threshold));
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
    if (seconds === null || !isFinite(seconds)) return NO_DATA;
    const s = Math.round(seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
  }

  /** A count that may be missing (null): the number, or an em dash. */
  function fmtCount(n) { return n === null ? NO_DATA : fmtInt(n); }

  /** A share from 0 to 1 as a whole percentage (half up), or an em dash for null. */
  function fmtPercent(share) { return share === null ? NO_DATA : `${Math.round(share * 100)}%`; }

  /** An average with one decimal (half up), or an em dash for null. */
  function fmtDecimal(n) { return n === null ? NO_DATA : decimalFormat.format(n); }

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

  async function getJSON(method, params, signal) {
    const query = new URLSearchParams({ ...params, v: "1" });
    const url = `/operations/api/account/${encodeURIComponent(state.account)}/${method}?${query}`;
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

  /** JSON with every `id` and `agentGroupId` as the exact text of its number (64-bit ids are
   *  beyond a double's integers), where the browser gives the reviver the source text. */
  function parseIds(text) {
    return JSON.parse(text, (key, value, context) => (
      (key === "id" || key === "agentGroupId") && typeof value === "number"
        ? (context && context.source) || String(value) : value));
  }

  async function getConfig(account, key, what, params) {
    const query = new URLSearchParams({ ...params, include_deleted: "true" });
    const url = `/api/account/${encodeURIComponent(account)}/configuration/le-users/${what}?${query}`;
    const headers = { Accept: "application/json" };
    if (key) headers.Authorization = `Bearer ${key}`;
    const response = await fetch(url, { headers, cache: "no-store", credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return { items: parseIds(await response.text()), revision: response.headers.get("ac-revision") };
  }

  /** The names of an account's skills, agents (full name, else nickname, else login name) and
   *  agent groups, deleted ones included: their ids are still in the older numbers. */
  async function fetchNames(account, key) {
    const [skills, users, groups] = await Promise.all([
      getConfig(account, key, "skills", { v: "1.0", select: "id,name" }),
      getConfig(account, key, "users", { v: "4.0", select: "id,fullName,nickname,loginName,memberOf" }),
      getConfig(account, key, "agentGroups", { v: "1.0", select: "id,name" }),
    ]);
    const named = (items, name) => new Map(items.filter((x) => name(x)).map((x) => [x.id, name(x)]));
    return {
      skills: named(skills.items, (x) => x.name),
      agents: named(users.items, (x) => x.fullName || x.nickname || x.loginName),
      groups: named(groups.items, (x) => x.name),
      groupOf: new Map(users.items.filter((x) => x.memberOf && x.memberOf.agentGroupId !== undefined)
        .map((x) => [x.id, x.memberOf.agentGroupId])),
      revision: skills.revision,
    };
  }

  function clearNames() {
    for (const map of [names.skills, names.agents, names.groups, names.groupOf]) map.clear();
    delete document.body.dataset.names;
  }

  /** Reads the names again when they are of another account or key, or a minute old; in the
   *  background: the numbers never wait for them. Without them (no configuration endpoint, a
   *  key that may not read it), ids are shown. */
  function refreshNames() {
    const { account, key } = state;
    const current = names.account === account && names.key === key;
    if (current && (names.loading || Date.now() - names.loadedAt < NAMES_REFRESH_MS)) return;
    if (!current) clearNames();
    const ticket = ++names.ticket; // a later read (another account) wins over this one
    Object.assign(names, { account, key, loadedAt: Date.now() });
    names.loading = fetchNames(account, key).then((found) => {
      if (ticket !== names.ticket) return;
      Object.assign(names, found);
      document.body.dataset.names = found.revision || "0";
    }, () => {
      if (ticket === names.ticket) document.body.dataset.names = "none";
    }).finally(() => {
      if (ticket !== names.ticket) return;
      names.loading = null;
      if (state.lastData && state.lastData.account === account) renderTables();
    });
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
    const { timeframe, interval, threshold, account } = state;
    const signal = controller.signal;
    refreshNames();
    try {
      const [series, skills, agents, queue, queueState, sla, activity, activityNow] = await Promise.all([
        getJSON("engactivity", { timeframe, interval }, signal),
        getJSON("engactivity", { timeframe, skillIds: "all" }, signal),
        getJSON("engactivity", { timeframe, agentIds: "all" }, signal),
        getJSON("queuehealth", { timeframe, skillIds: "all", interval }, signal),
        getJSON("queuestate", { skillIds: "all" }, signal),
        // The threshold is an edge, so the range below it is the waits under the threshold.
        getJSON("sla", { timeframe, histogram: `0,${threshold}` }, signal),
        getJSON("agentactivity", { timeframe, agentIds: "all" }, signal),
        // The shortest window the API has: the last 60 seconds (see agentsNow).
        getJSON("agentactivity", { timeframe: NOW_TIMEFRAME, agentIds: "all" }, signal),
      ]);
      if (generation !== state.generation) return;
      state.lastData = {
        series, skills, agents, queue, queueState, sla, activity, activityNow,
        timeframe, interval, threshold, account,
      };
      state.lastUpdated = new Date();
      state.failures = 0;
      state.retryAt = 0;
      document.body.dataset.state = "ok";
      clearError();
      render();
      state.refreshes += 1;
      document.body.dataset.rendered = `${account}/${timeframe}/${interval}`;
      document.body.dataset.threshold = String(threshold);
      document.body.dataset.refreshes = String(state.refreshes);
      startPush();
      const again = state.again;
      state.again = false;
      schedule(again ? 0 : (state.push.live ? PUSH_POLL_MS : REFRESH_MS));
    } catch (error) {
      if (generation !== state.generation) return;
      if (controller.signal.aborted && !timedOut) return;
      handleError(timedOut ? new NetworkError("timeout") : error);
    } finally {
      clearTimeout(watchdog);
      if (state.controller === controller) state.controller = null;
    }
  }

  // -- push: event streams tell when the data changed ------------------------------------
  // Three streams cover every kind of event the page shows (conversations, the queue and
  // its waits, agent states); a new answer on any of them refreshes the whole page at once
  // (the unchanged questions come from the server's answer cache). While they are live the
  // page polls only every 30 s; when one fails it polls every 5 s and tries again later.

  function pushQuestions() {
    const { timeframe, interval } = state;
    return [
      ["engactivity", { timeframe, interval }],
      ["queuehealth", { timeframe, skillIds: "all", interval }],
      ["agentactivity", { timeframe: NOW_TIMEFRAME, agentIds: "all" }],
    ];
  }

  function startPush() {
    const push = state.push;
    if (push.stops.length || !window.wallboardPush || Date.now() < push.retryAt) return;
    const headers = state.key ? { Authorization: `Bearer ${state.key}` } : {};
    push.first = new Set();
    for (const [method, params] of pushQuestions()) {
      const query = new URLSearchParams({ ...params, v: "1" });
      const url = `/operations/api/account/${encodeURIComponent(state.account)}/${method}?${query}`;
      push.stops.push(window.wallboardPush.watch(url, headers, () => pushed(method), pushFailed));
    }
  }

  function pushed(method) {
    const push = state.push;
    if (!push.first.has(method)) { // the answer at subscribing: the last poll has it
      push.first.add(method);
      if (push.first.size === push.stops.length) setPushLive(true);
      return;
    }
    if (state.stopped || document.hidden) return;
    if (state.controller) state.again = true; // after the refresh in flight
    else refresh();
  }

  function pushFailed() {
    stopPush();
    state.push.retryAt = Date.now() + PUSH_RETRY_MS;
    if (!state.stopped && !document.hidden && !state.controller) schedule(REFRESH_MS);
  }

  function stopPush() {
    for (const stopStream of state.push.stops) stopStream();
    state.push.stops = [];
    setPushLive(false);
  }

  function setPushLive(live) {
    state.push.live = live;
    document.body.dataset.push = live ? "live" : "polling";
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
    stopPush();
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
    renderQueue();
    renderAgentsNow();
    renderTables();
    renderStatus();
    fitNumbers();
  }

  function renderTables() {
    renderSkills();
    renderAgents();
    renderAgentStates();
    renderQueueSkills();
  }

  /** An agent's name too wide for its column is shown short ("Ana S."). */
  function fitNames(within = document) {
    for (const el of within.querySelectorAll(".grid .name[data-full]")) {
      setText(el, el.dataset.full);
      if (el.scrollWidth > el.clientWidth) setText(el, el.dataset.short);
    }
  }

  /** A large number too wide for its box (five digits in a narrow tile) is made smaller until
   *  it fits, rather than cut short; the style sheet's size is the largest it gets. */
  function fitNumbers() {
    for (const el of document.querySelectorAll(".tile .value, .stat dd, .now dd")) {
      el.style.fontSize = "";
      if (el.scrollWidth > el.clientWidth) {
        const size = parseFloat(getComputedStyle(el).fontSize);
        el.style.fontSize = `${Math.floor((size * el.clientWidth) / el.scrollWidth)}px`;
      }
    }
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

  // -- the queue panel ---------------------------------------------------------------------

  /** A gauge of the queue methods: the value, or null for their -1 ("no data"). */
  function gauge(value) { return typeof value === "number" && value >= 0 ? value : null; }

  /** What the queue panel and a queue table row show, from queuehealth metrics (m, absent when
   *  the span has no data for it) and queuestate values (current, absent when none is known).
   *  The API's averages and rate are 0 when there is nothing to divide; shown as missing here. */
  function queueValues(m, current) {
    const counted = m || { enteredQEng: 0, connectedEng: 0, abandonedEng: 0 };
    return {
      waiting: gauge(current && current.currentQueueSize),
      slots: gauge(current && current.currentAvailableSlots),
      enteredQEng: counted.enteredQEng,
      connectedEng: counted.connectedEng,
      abandonedEng: counted.abandonedEng,
      avgTimeToAnswer: m && m.connectedEng ? m.avgTimeToAnswer : null,
      abandonmentRate: m && m.connectedEng + m.abandonedEng ? m.abandonmentRate : null,
      averageQueueSize: gauge(m && m.averageQueueSize),
      maxQueueSize: gauge(m && m.maxQueueSize),
    };
  }

  /** The share of the chats answered in the span that waited less than `threshold` seconds:
   *  the `accumulated` share of the last range that ends at or before the threshold (the
   *  histogram asked for has it as an edge). Null when no chat was answered. */
  function slaShare(sla, threshold) {
    const ranges = (sla && sla.slaDataRange) || {};
    const edges = Object.keys(ranges).map(Number).sort((a, b) => a - b);
    const answered = edges.reduce((sum, edge) => sum + ranges[edge].chats, 0);
    if (!answered) return null;
    let share = null;
    for (let i = 0; i + 1 < edges.length; i++) {
      if (edges[i + 1] <= threshold) share = ranges[edges[i]].accumulated;
    }
    return share;
  }

  function renderQueue() {
    const data = state.lastData;
    const v = queueValues(data.queue.metricsTotals, data.queueState.totals);
    setText($("queue-waiting"), fmtCount(v.waiting));
    setText($("queue-slots"), fmtCount(v.slots));
    setText($("queue-sla-label"), `Answered < ${data.threshold} s`);
    setText($("queue-sla"), fmtPercent(slaShare(data.sla, data.threshold)));
    setText($("queue-ata"), fmtDuration(v.avgTimeToAnswer));
    setText($("queue-abandonment"), fmtPercent(v.abandonmentRate));
    setText($("queue-entered"), fmtInt(v.enteredQEng));
    setText($("queue-connected"), fmtInt(v.connectedEng));
    setText($("queue-abandoned"), fmtInt(v.abandonedEng));
    setText($("queue-chart-title"),
      `Queue size per ${data.interval} min, last ${fmtTimeframe(data.timeframe)}`);
    renderQueueChart(data.queue.metricsByIntervals || [], data.interval);
  }

  // -- the charts --------------------------------------------------------------------------

  function chartSize(box) {
    return { width: Math.max(200, box.clientWidth), height: Math.max(160, box.clientHeight) };
  }

  const AXIS_FONT = "600 16px system-ui, sans-serif";
  const AXIS_BASE = {
    stroke: "#E8ECF1",
    font: AXIS_FONT,
    labelFont: AXIS_FONT,
    grid: { stroke: "rgba(232,236,241,0.14)", width: 1 },
    ticks: { stroke: "rgba(232,236,241,0.3)", width: 1 },
  };
  const TIME_AXIS = {
    ...AXIS_BASE, values: (u, ticks) => ticks.map((t) => axisTimeFormat.format(new Date(t * 1000))),
  };

  /** A uPlot chart in the element `box`, resized with it. */
  function newChart(box, opts, seriesCount) {
    const made = new window.uPlot({
      ...chartSize(box), legend: { show: false }, cursor: { drag: { x: false, y: false } }, ...opts,
    }, Array.from({ length: seriesCount + 1 }, () => []), box);
    new ResizeObserver(() => made.setSize(chartSize(box))).observe(box);
    return made;
  }

  // The engagement chart: three counts on the left axis, the average handling time on the right.
  let chart = null;

  function makeChart() {
    const series = [{}];
    for (const s of SERIES) {
      series.push({ label: s.label, stroke: s.color, width: 3, scale: "n",
        points: { size: 7, fill: s.color }, value: (u, v) => (v === null ? NO_DATA : fmtInt(v)) });
    }
    series.push({ label: "Avg handling time", stroke: AHT_COLOR, width: 3, dash: [10, 6],
      scale: "s", points: { size: 7, fill: AHT_COLOR }, value: (u, v) => fmtDuration(v) });
    chart = newChart($("chart"), {
      series,
      scales: { x: { time: true }, n: { range: (u, min, max) => [0, Math.max(1, (max || 0) * 1.1)] },
        s: { range: (u, min, max) => [0, Math.max(60, (max || 0) * 1.1)] } },
      axes: [
        TIME_AXIS,
        { ...AXIS_BASE, scale: "n", label: "chats", size: 70,
          values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? fmtInt(t) : "")) },
        { ...AXIS_BASE, scale: "s", side: 1, label: "AHT", size: 80, // the legend says it in full
          grid: { show: false }, values: (u, ticks) => ticks.map((t) => fmtDuration(t)),
          incrs: [15, 30, 60, 120, 300, 600, 900, 1800, 3600] },
      ],
    }, 4);
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

  // The queue chart: queuehealth's metricsTotals per interval, as the API defines them: the
  // average queue size over all skills' samples (a skill's queue on average) and the sum of
  // each skill's largest sample. Gaps where no skill sent a sample (the API's -1). The same
  // numbers are in a table beside it for screen readers.
  let queueChart = null;

  function makeQueueChart() {
    queueChart = newChart($("queue-chart"), {
      series: [{},
        { label: "Waiting on average, all skills", stroke: QUEUE_AVG_COLOR, width: 3, scale: "q",
          points: { size: 7, fill: QUEUE_AVG_COLOR }, value: (u, v) => fmtDecimal(v) },
        { label: "Peak, the skills' maxima summed", stroke: QUEUE_MAX_COLOR, width: 3,
          dash: [10, 6], scale: "q", points: { size: 7, fill: QUEUE_MAX_COLOR },
          value: (u, v) => fmtCount(v) },
      ],
      scales: { x: { time: true }, q: { range: (u, min, max) => [0, Math.max(1, (max || 0) * 1.1)] } },
      axes: [
        TIME_AXIS,
        { ...AXIS_BASE, scale: "q", label: "visitors waiting", size: 70,
          values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? fmtInt(t) : "")) },
      ],
    }, 2);
  }

  /** Visitors waiting on average in all skills together: the skills' average queue sizes
   *  added up (the totals' average is one per skill sample, too small to set beside the
   *  skills' maxima summed); missing when no skill was sampled. */
  function waitingOnAverage(skills) {
    const sampled = Object.values(skills || {}).map((m) => gauge(m.averageQueueSize))
      .filter((v) => v !== null);
    return sampled.length ? sampled.reduce((a, b) => a + b, 0) : null;
  }

  function renderQueueChart(intervals, interval) {
    const rows = intervals.slice().reverse().map((r) => ({
      timestamp: r.timestamp,
      average: waitingOnAverage(r.metricsData.skillsMetrics),
      max: gauge(r.metricsData.metricsTotals.maxQueueSize),
    }));
    const box = $("queue-chart");
    box.dataset.points = String(rows.length);
    const last = rows.length ? rows[rows.length - 1] : null;
    box.setAttribute("aria-label", last
      ? `Chart of the queue size in ${rows.length} intervals of ${interval} minutes. Latest interval: ` +
        `${fmtDecimal(last.average)} visitors waiting on average in all skills, ` +
        `${fmtCount(last.max)} at most (the skills' maxima summed).`
      : "Chart of the queue size per interval: no data.");
    renderQueueChartTable(rows);
    if (!window.uPlot) return;
    if (!queueChart) makeQueueChart();
    queueChart.setData([
      rows.map((r) => r.timestamp / 1000), rows.map((r) => r.average), rows.map((r) => r.max),
    ]);
  }

  function renderQueueChartTable(rows) {
    const body = $("queue-chart-data").tBodies[0];
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.timestamp = String(r.timestamp);
      const head = document.createElement("th");
      head.scope = "row";
      head.textContent = axisTimeFormat.format(new Date(r.timestamp));
      tr.appendChild(head);
      for (const [value, text] of [[r.average, fmtDecimal(r.average)], [r.max, fmtCount(r.max)]]) {
        const td = document.createElement("td");
        td.dataset.value = value === null ? "" : String(value);
        td.textContent = text;
        tr.appendChild(td);
      }
      return tr;
    }));
  }

  // -- the tables: rows are kept and updated in place (no flicker, focus survives refreshes) --

  /** A skill's name, else its id ("Skill 7"); and as it reads inside a sentence. */
  function skillLabel(id) { return names.skills.get(id) || (id === "-1" ? "No skill" : `Skill ${id}`); }
  function skillPhrase(id) { return names.skills.get(id) || (id === "-1" ? "no skill" : `skill ${id}`); }
  function agentLabel(id) { return names.agents.get(id) || `Agent ${id}`; }
  /** "Ana Silva" as "Ana S.", for a column too narrow for the whole name; null for an id. */
  function agentShort(id) {
    const words = (names.agents.get(id) || "").trim().split(/\s+/);
    return words.length > 1 ? `${words[0]} ${words[words.length - 1][0]}.` : null;
  }
  /** The agent group of an agent: its name, else its id; null when the agent has none. */
  function agentGroup(id) {
    const group = names.groupOf.get(id);
    return group === undefined ? null : names.groups.get(group) || `Group ${group}`;
  }

  /** The number cells of each table, after the id; `v` holds a row's values (null: no data). */
  const ENGAGEMENT_CELLS = [
    (v) => fmtInt(v.connectedEngagements),
    (v) => fmtInt(v.totalInteractiveChats),
    (v) => fmtInt(v.totalNonInteractiveChats),
    (v) => fmtDuration(v.aht),
  ];
  const QUEUE_CELLS = [
    (v) => fmtCount(v.waiting),
    (v) => fmtCount(v.slots),
    (v) => fmtInt(v.enteredQEng),
    (v) => fmtInt(v.connectedEng),
    (v) => fmtInt(v.abandonedEng),
    (v) => fmtDuration(v.avgTimeToAnswer),
    (v) => fmtPercent(v.abandonmentRate),
    (v) => fmtDecimal(v.averageQueueSize),
    (v) => fmtCount(v.maxQueueSize),
  ];

  function rowsOf(map) {
    return Object.entries(map || {}).map(([id, value]) => {
      const m = value.metricsTotals || value;
      return { id, v: { ...m, aht: aht(m) } };
    });
  }

  /** One row per skill with queue data in the span or a current queue state. */
  function queueRows() {
    const data = state.lastData;
    const metrics = data.queue.skillsMetrics || {};
    const current = data.queueState.skills || {};
    const ids = new Set([...Object.keys(metrics), ...Object.keys(current)]);
    return Array.from(ids, (id) => ({ id, v: queueValues(metrics[id], current[id]) }));
  }

  function compareIds(a, b) {
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  /** The first column sorts by what it shows (names, or "Skill 7": numbers in it by value). */
  function sortRows(rows, sort, label) {
    const sign = sort.dir === "ascending" ? 1 : -1;
    const value = (row) => (row.v[sort.key] === null ? -1 : row.v[sort.key]); // no data sorts lowest
    return rows.sort((a, b) => {
      const c = sort.key === "id" ? collator.compare(label(a.id), label(b.id)) : value(a) - value(b);
      return c * sign || compareIds(a.id, b.id);
    });
  }

  function renderTable(table, rows, sort, filterText, label, selectable, cells, detail = null) {
    const tbody = table.tBodies[0];
    const needle = filterText.trim().toLowerCase();
    const matches = (id) => id.includes(needle) || label(id).toLowerCase().includes(needle) ||
      (detail !== null && (detail(id) || "").toLowerCase().includes(needle));
    const shown = sortRows(rows.filter((r) => !needle || matches(r.id)), sort, label);
    const existing = new Map();
    for (const tr of Array.from(tbody.rows)) existing.set(tr.dataset.id, tr);
    shown.forEach((row, index) => {
      let tr = existing.get(row.id);
      if (tr) existing.delete(row.id);
      else tr = makeRow(row.id, selectable, cells.length);
      setRowHead(tr.cells[0], row.id, label, selectable, detail);
      cells.forEach((cell, i) => {
        const out = cell(row.v); // a text, or { text, title } for a cell with a tooltip
        const td = tr.cells[i + 1];
        setText(td, typeof out === "string" ? out : out.text);
        const title = typeof out === "string" ? "" : out.title;
        if (td.title !== title) td.title = title;
        td.classList.toggle("has-title", title !== "");
      });
      if (selectable) {
        const selected = row.id === state.skill;
        tr.classList.toggle("selected", selected);
        tr.cells[0].querySelector("button").setAttribute("aria-pressed", String(selected));
      }
      if (tbody.rows[index] !== tr) tbody.insertBefore(tr, tbody.rows[index] || null);
    });
    for (const tr of existing.values()) tr.remove();
    fitNames(table);
    const empty = table.parentElement.querySelector(".empty");
    empty.hidden = shown.length > 0;
    if (!shown.length) {
      setText(empty, rows.length ? "No row matches the filter." : empty.dataset.none || empty.textContent);
    }
    for (const th of table.tHead.rows[0].cells) {
      th.setAttribute("aria-sort", th.dataset.key === sort.key ? sort.dir : "none");
    }
  }

  function makeRow(id, selectable, cellCount) {
    const tr = document.createElement("tr");
    tr.dataset.id = id;
    const head = document.createElement("th");
    head.scope = "row";
    const box = document.createElement("div");
    box.className = "head-cell";
    const name = document.createElement(selectable ? "button" : "span");
    name.className = selectable ? "link name" : "name";
    if (selectable) {
      name.type = "button";
      tr.classList.add("clickable");
      tr.addEventListener("click", () => selectSkill(state.skill === id ? null : id));
    }
    box.appendChild(name);
    head.appendChild(box);
    tr.appendChild(head);
    for (let i = 0; i < cellCount; i++) {
      const td = document.createElement("td");
      td.className = "num";
      tr.appendChild(td);
    }
    return tr;
  }

  /** A row's first cell: the name (or id), with the id in its tooltip, and after it, muted, a
   *  detail such as the agent's group. Set at every render: names arrive and change. */
  function setRowHead(head, id, label, selectable, detail) {
    const box = head.firstChild;
    const name = box.firstChild;
    const text = label(id);
    setText(name, text);
    const short = label === agentLabel ? agentShort(id) : null;
    if (short === null) delete name.dataset.full;
    else Object.assign(name.dataset, { full: text, short });
    name.classList.toggle("wraps", label === skillLabel);
    const title = selectable ? `Show the agents of ${skillPhrase(id)} (id ${id})` : `${text} (id ${id})`;
    if (name.title !== title) name.title = title;
    const more = detail === null ? null : detail(id);
    let extra = box.querySelector(".detail");
    if (more === null) {
      if (extra) extra.remove();
      return;
    }
    if (!extra) {
      extra = document.createElement("span");
      extra.className = "detail";
      box.appendChild(extra);
    }
    setText(extra, more);
  }

  function skillMap() {
    const data = state.lastData;
    return (data && data.skills.skillsMetricsPerAgent && data.skills.skillsMetricsPerAgent.metricsPerSkill) || {};
  }

  function renderSkills() {
    renderTable($("skills"), rowsOf(skillMap()), state.sort.skills, $("skill-filter").value,
      skillLabel, true, ENGAGEMENT_CELLS);
  }

  function renderAgents() {
    const data = state.lastData;
    let map;
    const chip = $("skill-chip");
    if (state.skill !== null) {
      const skill = skillMap()[state.skill];
      map = skill ? skill.metricsPerAgent : {};
      setText($("agents-title"), `Agents of ${skillPhrase(state.skill)}`);
      setText(chip, `${skillLabel(state.skill)} ✕`);
      chip.setAttribute("aria-label", `Show all agents, not only those of ${skillPhrase(state.skill)}`);
      chip.hidden = false;
    } else {
      map = data && data.agents.agentsMetrics ? data.agents.agentsMetrics.metricsPerAgent : {};
      setText($("agents-title"), "Agents");
      chip.hidden = true;
    }
    renderTable($("agents"), rowsOf(map), state.sort.agents, $("agent-filter").value,
      agentLabel, false, ENGAGEMENT_CELLS);
  }

  // -- the agents: their states, from agentactivity ------------------------------------------

  /** An agent's agentactivity entries by id (2 online, 3 back soon, 4 away, -1 logged in). */
  function entriesOf(entries) {
    const byId = {};
    for (const entry of entries || []) byId[entry.id] = entry;
    return byId;
  }

  /** Whole seconds in a state: the entry's `total` (0 when the entry is missing). */
  function seconds(entry, field = "total") {
    return entry && entry.value ? entry.value[field] : 0;
  }

  /** The agents now: of the agents the last minute's answer lists, those with at least one
   *  whole second in each state (its `total` > 0). An agent who changed state in that minute
   *  counts in each state it was in, so online + back soon + away can exceed logged in. */
  function agentsNow(answer) {
    const counts = { online: 0, backSoon: 0, away: 0, loggedIn: 0 };
    const perAgent = (answer && answer.agentsMetrics && answer.agentsMetrics.metricsPerAgent) || {};
    for (const entries of Object.values(perAgent)) {
      const byId = entriesOf(entries);
      for (const [name, id] of Object.entries(STATE_IDS)) {
        if (seconds(byId[id]) > 0) counts[name] += 1;
      }
    }
    return counts;
  }

  function renderAgentsNow() {
    const now = agentsNow(state.lastData.activityNow);
    setText($("now-online"), fmtInt(now.online));
    setText($("now-backsoon"), fmtInt(now.backSoon));
    setText($("now-away"), fmtInt(now.away));
    setText($("now-loggedin"), fmtInt(now.loggedIn));
  }

  /** An agent's row of the states table, over the timeframe; times in whole seconds. */
  function stateValues(entries) {
    const byId = entriesOf(entries);
    const loggedIn = seconds(byId[STATE_IDS.loggedIn]);
    const away = byId[STATE_IDS.away];
    return {
      online: seconds(byId[STATE_IDS.online]),
      backSoon: seconds(byId[STATE_IDS.backSoon]),
      away: seconds(away),
      reasons: ((away && away.reasons) || []).map((r) => ({ id: String(r.id), seconds: seconds(r) })),
      loggedIn,
      occupancy: loggedIn ? seconds(byId[STATE_IDS.loggedIn], "chatting") / loggedIn : null,
      fullCapacity: seconds(byId[STATE_IDS.loggedIn], "chattingInMaxConcurrency"),
    };
  }

  /** The tooltip of an away time: each away reason's time, in the API's order. */
  function reasonsTitle(reasons) {
    return reasons.map((r) => `Reason ${r.id}: ${fmtDuration(r.seconds)}`).join("\n");
  }

  const STATE_CELLS = [
    (v) => fmtDuration(v.online),
    (v) => fmtDuration(v.backSoon),
    (v) => ({ text: fmtDuration(v.away), title: reasonsTitle(v.reasons) }),
    (v) => fmtDuration(v.loggedIn),
    (v) => fmtPercent(v.occupancy),
    (v) => fmtDuration(v.fullCapacity),
  ];

  function renderAgentStates() {
    const data = state.lastData;
    const perAgent = (data && data.activity.agentsMetrics && data.activity.agentsMetrics.metricsPerAgent) || {};
    const rows = Object.entries(perAgent).map(([id, entries]) => ({ id, v: stateValues(entries) }));
    setText($("agent-states-title"), `Agent states, last ${fmtTimeframe(data.timeframe)}`);
    renderTable($("agent-states"), rows, state.sort.states, $("state-filter").value,
      agentLabel, false, STATE_CELLS, agentGroup);
  }

  function renderQueueSkills() {
    renderTable($("queue-skills"), queueRows(), state.sort.queue, $("queue-filter").value,
      skillLabel, false, QUEUE_CELLS);
  }

  /** Another account: show nothing rather than the previous account's numbers. */
  function resetView() {
    for (const el of document.querySelectorAll(".tile .value, .stat dd, .now dd")) setText(el, NO_DATA);
    for (const id of ["skills", "agents", "agent-states", "queue-skills", "queue-chart-data"]) {
      $(id).tBodies[0].replaceChildren();
    }
    if (chart) chart.setData([[], [], [], [], []]);
    if (queueChart) queueChart.setData([[], [], []]);
    delete document.body.dataset.rendered;
    delete document.body.dataset.threshold;
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
    for (const input of document.querySelectorAll("input[name=threshold]")) {
      input.checked = Number(input.value) === state.threshold;
    }
    setText($("title-account"), state.account);
  }

  function restart() {
    names.loadedAt = 0; // Show (or Retry) reads the names again too
    stopPush(); // the streams ask the old question
    state.push.retryAt = 0;
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
        clearNames();
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
    for (const input of document.querySelectorAll("input[name=threshold]")) {
      input.addEventListener("change", () => { state.threshold = Number(input.value); restart(); });
    }
    $("retry").addEventListener("click", restart);
    $("skill-chip").addEventListener("click", () => selectSkill(null));
    $("skill-filter").addEventListener("input", () => { if (state.lastData) renderSkills(); });
    $("agent-filter").addEventListener("input", () => { if (state.lastData) renderAgents(); });
    $("queue-filter").addEventListener("input", () => { if (state.lastData) renderQueueSkills(); });
    $("state-filter").addEventListener("input", () => { if (state.lastData) renderAgentStates(); });
    bindSorting("skills", "skills", renderSkills);
    bindSorting("agents", "agents", renderAgents);
    bindSorting("queue-skills", "queue", renderQueueSkills);
    bindSorting("agent-states", "states", renderAgentStates);
    window.addEventListener("resize", () => { fitNumbers(); fitNames(); });
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) {
        clearTimeout(state.timer);
        state.timer = null;
        stopPush();
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
