// The dashboard's browser script, a classic script that `npm run dashboard` compiles into script-text.ts.
// API values reach the DOM only as text or attributes, and are checked: these types are what it reads, not what it trusts.

/** GET /admin/series */
interface SeriesAnswer {
  from?: unknown;
  to?: unknown;
  minutes?: unknown;
}
/** GET /admin/flagged */
interface FlaggedAnswer {
  clients?: unknown;
}
interface FlaggedClient {
  id?: unknown;
  flaggedAt?: unknown;
  reasons?: unknown;
}
interface Reason {
  rule?: unknown;
  message?: unknown;
}
/** GET /admin/detection */
interface DetectionAnswer {
  budgets?: { maxContacts?: unknown; s2PeriodSeconds?: unknown; s2DeltaSeconds?: unknown } | null;
  quarantineBudget?: unknown;
  rules?: unknown;
  norm?: { hitRatio?: unknown; prior?: unknown; samples?: unknown } | null;
}

(() => {
  // Absolute on the origin: opened as http://admin:<token>@host/admin/, the document's URL keeps the
  // credentials, and fetch refuses any URL that resolves to one with them (the browser caches them anyway).
  const BASE = location.origin + (location.pathname.endsWith("/") ? location.pathname : location.pathname + "/");
  const REFRESH_MS = 30000;
  const MINUTE = 60000;
  // About a hundred bars at most per window.
  const WINDOWS = {
    hour: { minutes: 60, binMinutes: 1, label: "last hour, per minute" },
    day: { minutes: 1440, binMinutes: 15, label: "last day, per 15 minutes" },
    month: { minutes: 43200, binMinutes: 360, label: "last 30 days, per 6 hours" },
  };
  type WindowKey = keyof typeof WINDOWS;
  const isWindowKey = (key: string | undefined): key is WindowKey => key !== undefined && Object.hasOwn(WINDOWS, key);

  const FIELDS = ["syncs", "full", "incremental", "identifiers", "matches", "refusals", "flags"] as const;
  type Field = (typeof FIELDS)[number];
  type Counts = Record<Field, number>;
  type Minute = Partial<Record<Field | "at", unknown>>;
  interface Bin extends Counts {
    at: number;
  }
  interface Chart {
    key: Field;
    title: string;
    wide?: boolean;
    part?: Field;
    cls: string;
    partCls?: string;
    legend?: [cls: string, name: string][];
    tip: (b: Bin) => string;
  }
  const CHARTS: Chart[] = [
    { key: "syncs", title: "Syncs", wide: true, part: "full", cls: "soft", partCls: "",
      legend: [["", "full"], ["soft", "incremental"]],
      tip: (b) => fmt(b.syncs) + " syncs (" + fmt(b.full) + " full, " + fmt(b.incremental) + " incremental)" },
    { key: "identifiers", title: "Identifiers checked", cls: "", tip: (b) => fmt(b.identifiers) + " identifiers" },
    { key: "matches", title: "Matches", cls: "", tip: (b) => fmt(b.matches) + " matches" },
    { key: "refusals", title: "Refusals", cls: "warn", tip: (b) => fmt(b.refusals) + " refusals" },
    { key: "flags", title: "Flags", cls: "alert", tip: (b) => fmt(b.flags) + " clients flagged" },
  ];
  const SVG = "http://www.w3.org/2000/svg";
  const NUMBER = new Intl.NumberFormat("en-US");
  const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
  const PRECISE = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 6 });
  const ROUGH = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

  // The page's markup is fixed: an element these look up is always there.
  const $ = (testid: string) => required(document.querySelector<HTMLElement>('[data-testid="' + testid + '"]'), testid);
  const byId = (id: string) => required(document.getElementById(id), id);
  function required<T>(node: T | null, name: string): T {
    if (node === null) throw new Error("the page has no " + name);
    return node;
  }
  const num = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x : 0);
  const fmt = (x: unknown) => NUMBER.format(num(x));
  const percent = (ratio: number, digits: number) =>
    new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: digits }).format(ratio);
  const setText = (testid: string, text: string) => { $(testid).textContent = text; };
  const zeros = () => Object.fromEntries(FIELDS.map((f) => [f, 0])) as Counts;

  /** An element with attributes (and "text", its text), never parsed markup. */
  function el<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Record<string, string>, children?: (Node | string)[]) {
    const node = document.createElement(tag);
    if (props) for (const [k, v] of Object.entries(props)) {
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const child of children || []) node.append(child);
    return node;
  }
  function svg(tag: string, attrs: Record<string, string | number>, parent?: Element) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (parent) parent.append(node);
    return node;
  }

  function duration(seconds: unknown) {
    const units: [string, number][] = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];
    const parts: string[] = [];
    let rest = Math.round(num(seconds));
    for (const [name, size] of units) {
      if (rest >= size && parts.length < 2) { parts.push(Math.floor(rest / size) + " " + name); rest %= size; }
    }
    return parts.length ? parts.join(" ") : "0 s";
  }
  function ago(ms: number) {
    const minutes = Math.max(0, Math.round((Date.now() - ms) / MINUTE));
    if (minutes < 1) return "just now";
    if (minutes < 120) return minutes + " min ago";
    if (minutes < 48 * 60) return Math.round(minutes / 60) + " h ago";
    return Math.round(minutes / 1440) + " days ago";
  }
  const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const dayAndTime = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  const dayOnly = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
  const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

  // Loads are independent: one failing endpoint leaves the others' panels current. A sequence
  // number per panel drops an answer that a newer request of the same panel has overtaken.
  const latest: Record<string, number> = {};
  const errors = new Map<string, string>();
  async function load<T>(panel: string, path: string, render: (data: T) => void) {
    const mine = (latest[panel] = (latest[panel] || 0) + 1);
    try {
      const response = await fetch(BASE + path, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!response.ok) throw new Error(describeStatus(path, response.status));
      const data = (await response.json()) as T;
      if (latest[panel] !== mine) return;
      render(data);
      errors.delete(panel);
    } catch (error) {
      if (latest[panel] === mine) errors.set(panel, error instanceof Error ? error.message : String(error));
    }
    showErrors();
  }
  function describeStatus(path: string, status: number) {
    const endpoint = "/admin/" + path.split("?")[0];
    if (status === 401) return endpoint + ": not signed in (401); reload the page and sign in with a key (its id as user name, its secret as password)";
    if (status === 403) return endpoint + ": not for your role (403); operators see flagged clients and clear them";
    return endpoint + " answered HTTP " + status;
  }
  function showErrors() {
    const box = $("error");
    box.textContent = [...errors.values()].join("; ");
    box.hidden = errors.size === 0;
  }

  const fromHash = location.hash.slice(1);
  let windowKey: WindowKey = isWindowKey(fromHash) ? fromHash : "hour";

  function loadSeries() {
    const chosen = windowKey;
    return load<SeriesAnswer>("series", "series?minutes=" + WINDOWS[chosen].minutes, (data) => renderSeries(data, chosen));
  }
  const loadFlagged = () => load<FlaggedAnswer>("flagged", "flagged", renderFlagged);
  const loadDetection = () => load<DetectionAnswer>("detection", "detection", renderDetection);

  async function refresh() {
    await Promise.all([loadSeries(), loadFlagged(), loadDetection()]);
    setText("updated", "Updated " + new Date().toLocaleTimeString());
  }

  function renderSeries(data: SeriesAnswer, chosen: WindowKey) {
    const spec = WINDOWS[chosen];
    const minutes: Minute[] = Array.isArray(data.minutes) ? data.minutes : [];
    const to = num(data.to) || Date.now();
    const from = num(data.from) || to - spec.minutes * MINUTE;
    const totals = zeros();
    for (const m of minutes) for (const f of FIELDS) totals[f] += num(m[f]);

    for (const f of FIELDS) setText("total-" + f, fmt(totals[f]));
    setText("total-hit-ratio", totals.identifiers > 0 ? percent(totals.matches / totals.identifiers, 2) : "–");
    $("total-refusals").closest(".card")?.classList.toggle("warn", totals.refusals > 0);
    $("total-flags").closest(".card")?.classList.toggle("alert", totals.flags > 0);
    byId("window-label").textContent = "· " + spec.label;

    // Bins start on multiples of the bin size, so bars do not shift between refreshes.
    const binMs = spec.binMinutes * MINUTE;
    const start = Math.floor(from / binMs) * binMs;
    const count = Math.max(1, Math.ceil((to + 1 - start) / binMs));
    const bins: Bin[] = Array.from({ length: count }, (_, i) => ({ at: start + i * binMs, ...zeros() }));
    for (const m of minutes) {
      const bin = bins[Math.floor((num(m.at) - start) / binMs)];
      if (bin) for (const f of FIELDS) bin[f] += num(m[f]);
    }
    const charts = byId("charts");
    charts.replaceChildren(...CHARTS.map((chart) => drawChart(chart, bins, binMs, chosen)));
  }

  /** The top of the y axis: a round number whose half, the middle grid line, is a whole count too. */
  function niceCeiling(value: number) {
    if (value <= 10) return Math.max(2, 2 * Math.ceil(value / 2));
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 4, 5, 6, 8, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function drawChart(chart: Chart, bins: Bin[], binMs: number, chosen: WindowKey) {
    // Drawn at about the size it is shown, so that the labels keep the page's text size.
    const W = chart.wide ? 1180 : 580, H = 170, L = 46, R = 10, T = 10, B = 24;
    const plotW = W - L - R, plotH = H - T - B;
    const peak = Math.max(0, ...bins.map((b) => b[chart.key]));
    const top = niceCeiling(peak);
    const y = (v: number) => T + plotH - (v / top) * plotH;
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": chart.title });
    for (const v of [0, top / 2, top]) {
      svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid-line" }, root);
      const label = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, root);
      label.textContent = COMPACT.format(v);
    }
    const bw = plotW / bins.length;
    const gap = bw > 4 ? 1 : 0;
    bins.forEach((b, i) => {
      const value = b[chart.key];
      if (value <= 0) return;
      const x = L + i * bw + gap / 2;
      const width = Math.max(bw - gap, 0.75);
      const group = svg("g", {}, root);
      svg("rect", { x, width, y: y(value), height: y(0) - y(value), class: "bar " + chart.cls }, group);
      if (chart.part) {
        const part = Math.min(value, b[chart.part]);
        if (part > 0) svg("rect", { x, width, y: y(part), height: y(0) - y(part), class: "bar " + (chart.partCls ?? "") }, group);
      }
      const tip = svg("title", {}, group);
      tip.textContent = binLabel(b.at, binMs, chosen) + ": " + chart.tip(b);
    });
    if (peak === 0) {
      const empty = svg("text", { x: L + plotW / 2, y: T + plotH / 2, "text-anchor": "middle", class: "no-data" }, root);
      empty.textContent = "Nothing in this window";
    }
    const axisTime = chosen === "month" ? dayOnly : chosen === "day" ? dayAndTime : timeOnly;
    const ticks: [number, string][] = [[0, "start"], [Math.floor(bins.length / 2), "middle"], [bins.length, "end"]];
    const first = bins[0]?.at ?? 0;
    for (const [i, anchor] of ticks) {
      const label = svg("text", { x: L + i * bw, y: H - 6, "text-anchor": anchor, class: "axis" }, root);
      label.textContent = axisTime.format(new Date(first + i * binMs));
    }
    const heading = el("h3", {}, [chart.title, el("span", { class: "muted", text: "peak " + fmt(peak) })]);
    const children: Node[] = [heading, root];
    if (chart.legend) {
      children.push(el("div", { class: "legend" }, chart.legend.flatMap(([cls, name]) => [el("span", { class: "swatch " + (cls || "bar") }), name])));
    }
    return el("div", { class: "panel chart" + (chart.wide ? " wide" : ""), "data-testid": "chart-" + chart.key }, children);
  }

  function binLabel(at: number, binMs: number, chosen: WindowKey) {
    const format = chosen === "hour" ? timeOnly : dayAndTime;
    return format.format(new Date(at)) + " – " + timeOnly.format(new Date(at + binMs));
  }

  function renderFlagged(data: FlaggedAnswer) {
    const clients: FlaggedClient[] = (Array.isArray(data.clients) ? data.clients : []).slice();
    clients.sort((a, b) => num(b.flaggedAt) - num(a.flaggedAt));
    const rows = clients.map((client) => {
      const id = String(client.id);
      const reasons = (Array.isArray(client.reasons) ? (client.reasons as Reason[]) : []).map((r) =>
        el("li", { "data-testid": "reason" }, [
          el("span", { class: "rule", "data-testid": "reason-rule", text: String(r.rule) }),
          el("span", { "data-testid": "reason-message", text: String(r.message) }),
        ]),
      );
      const button = el("button", { type: "button", "data-testid": "clear", text: "Clear" });
      button.addEventListener("click", () => clearFlag(id, button));
      const when = num(client.flaggedAt);
      return el("tr", { "data-testid": "flagged-row", "data-client": id }, [
        el("td", { class: "id" }, [el("code", { text: id })]),
        el("td", { class: "when", title: full.format(new Date(when)) }, [
          el("div", { text: dayAndTime.format(new Date(when)) }),
          el("div", { class: "muted", text: ago(when) }),
        ]),
        el("td", {}, [el("ul", { class: "reasons" }, reasons)]),
        el("td", { class: "action" }, [button]),
      ]);
    });
    byId("flagged-body").replaceChildren(...rows);
    byId("flagged-empty").hidden = rows.length > 0;
    const count = $("flagged-count");
    count.textContent = String(rows.length);
    count.classList.toggle("zero", rows.length === 0);
  }

  async function clearFlag(id: string, button: HTMLButtonElement) {
    button.disabled = true;
    button.textContent = "Clearing…";
    try {
      // A client's pseudonym, "~<hex>", as the flagged list names it (or an identifier in hex).
      if (!/^~?[0-9a-fA-F]+$/.test(id)) throw new Error("not a client id: " + id);
      // JSON, so that a cross-site form can never forge this request: the browser would first ask.
      const response = await fetch(BASE + "clients/" + id + "/clear", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: "{}",
      });
      if (!response.ok) throw new Error(describeStatus("clients/" + id + "/clear", response.status));
      errors.delete("clear");
    } catch (error) {
      errors.set("clear", error instanceof Error ? error.message : String(error));
      button.disabled = false;
      button.textContent = "Clear";
    }
    showErrors();
    await Promise.all([loadFlagged(), loadSeries()]);
  }

  function renderDetection(data: DetectionAnswer) {
    const budgets = data.budgets || {};
    setText("budget-max-contacts", fmt(budgets.maxContacts));
    setText("budget-s2-period", fmt(budgets.s2PeriodSeconds) + " s (" + duration(budgets.s2PeriodSeconds) + ")");
    setText("budget-s2-delta", fmt(budgets.s2DeltaSeconds) + " s (" + duration(budgets.s2DeltaSeconds) + ")");
    setText("quarantine-budget", percent(num(data.quarantineBudget), 1));
    const rules = Object.entries(data.rules && typeof data.rules === "object" ? data.rules : {});
    $("rules").replaceChildren(
      ...rules.flatMap(([name, value]) => [
        el("dt", {}, [el("code", { text: name })]),
        el("dd", { "data-testid": "rule-" + name, text: PRECISE.format(num(value)) }),
      ]),
    );
    const norm = data.norm || {};
    const hitRatio = typeof norm.hitRatio === "number" ? percent(norm.hitRatio, 1) : "–";
    setText("norm-hit-ratio", norm.prior ? hitRatio + " (prior: too few syncs to learn from yet)" : hitRatio);
    // A weight that fades with age, not a count: one decimal says enough.
    setText("norm-samples", ROUGH.format(num(norm.samples)));
  }

  function markWindow() {
    for (const b of document.querySelectorAll<HTMLElement>("[data-window]")) b.setAttribute("aria-pressed", String(b.dataset.window === windowKey));
  }
  for (const b of document.querySelectorAll<HTMLElement>("[data-window]")) {
    b.addEventListener("click", () => {
      const key = b.dataset.window;
      if (!isWindowKey(key)) return;
      windowKey = key;
      history.replaceState(null, "", "#" + windowKey); // a reload keeps the window
      markWindow();
      loadSeries();
    });
  }
  byId("refresh").addEventListener("click", refresh);

  markWindow();
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
