"use strict";
// Draws the waflens report from the aggregates embedded as JSON. Data reaches the page only through
// textContent and attribute setters, never as markup.
(function () {
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const G = D.grid;
  const SVG = "http://www.w3.org/2000/svg";
  const nf = new Intl.NumberFormat("en-US");
  const coarseCount = Math.max(1, Math.ceil(G.count / G.ratio));
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function when(ms) {
    return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + "Z";
  }
  function step(ms) {
    const m = ms / 60000;
    return m % 1440 === 0 ? m / 1440 + " d" : m % 60 === 0 ? m / 60 + " h" : m + " min";
  }

  function state() {
    const from = Number($("from").value), to = Number($("to").value), w = Number($("acl").value);
    return { from: Math.min(from, to - 1), to: Math.max(to, from + 1), w: w };
  }

  function timeline(sel) {
    const n = (sel.to - sel.from) * G.ratio, first = sel.from * G.ratio;
    const total = new Float64Array(n), blocked = new Float64Array(n), byAction = new Float64Array(D.actions.length);
    const blockIndex = D.actions.indexOf("BLOCK");
    const s = D.series;
    for (let i = 0; i < s.b.length; i++) {
      const b = s.b[i] - first;
      if (b < 0 || b >= n || (sel.w >= 0 && s.w[i] !== sel.w)) continue;
      total[b] += s.n[i];
      byAction[s.a[i]] += s.n[i];
      if (s.a[i] === blockIndex) blocked[b] += s.n[i];
    }
    return { total, blocked, byAction, first };
  }

  function drawTimeline(t) {
    const W = 960, H = 220, L = 56, R = 10, T = 10, B = 28;
    const box = $("timeline");
    box.replaceChildren();
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Requests and blocked over time" });
    const n = t.total.length;
    const max = Math.max(1, ...t.total);
    const x = (i) => L + ((W - L - R) * i) / Math.max(1, n - 1);
    const y = (v) => T + (H - T - B) * (1 - v / max);
    root.append(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
    root.append(svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
    root.append(svg("text", { x: L - 6, y: T + 10, "text-anchor": "end" }, nf.format(max)));
    root.append(svg("text", { x: L - 6, y: H - B, "text-anchor": "end" }, "0"));
    const ticks = Math.min(6, n);
    for (let k = 0; k < ticks; k++) {
      const i = Math.round((k * (n - 1)) / Math.max(1, ticks - 1));
      root.append(svg("text", { x: x(i), y: H - 8, "text-anchor": k === 0 ? "start" : k === ticks - 1 ? "end" : "middle" },
        when(G.start_ms + (t.first + i) * G.fine_ms)));
    }
    for (const [name, values] of [["requests", t.total], ["blocked", t.blocked]]) {
      const points = Array.from(values, (v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      root.append(svg("polyline", { class: name, points: points, "data-series": name }));
    }
    const legend = el("div", { class: "legend" });
    for (const [name, label] of [["requests", "Requests"], ["blocked", "Blocked"]]) {
      const item = el("span");
      const sw = el("span", { class: "swatch" });
      sw.style.background = `var(--${name})`;
      item.append(sw, document.createTextNode(label));
      legend.append(item);
    }
    box.append(root, legend);
    $("step").textContent = `(${step(G.fine_ms)} buckets)`;
  }

  function drawActions(t, total) {
    const box = $("actions");
    box.replaceChildren();
    const rowH = 24, W = 460, L = 90, R = 90;
    const root = svg("svg", { viewBox: `0 0 ${W} ${rowH * Math.max(1, D.actions.length) + 4}`, role: "img", "aria-label": "Requests by action" });
    const max = Math.max(1, ...t.byAction);
    D.actions.forEach((action, i) => {
      const v = t.byAction[i];
      const yy = i * rowH + 2;
      root.append(svg("text", { x: L - 6, y: yy + 15, "text-anchor": "end" }, action));
      const bar = svg("rect", { x: L, y: yy + 3, height: rowH - 8, width: ((W - L - R) * v) / max, rx: 2 });
      bar.style.fill = `var(--a-${/^[A-Z]+$/.test(action) ? action : "ALLOW"}, var(--bar))`;
      root.append(bar);
      const label = svg("text", { x: L + ((W - L - R) * v) / max + 6, y: yy + 15, "data-testid": "action-" + action, "data-value": String(v) }, nf.format(v));
      root.append(label);
    });
    box.append(root);
    const share = total ? (100 * (t.byAction[D.actions.indexOf("BLOCK")] || 0)) / total : 0;
    $("share").textContent = share.toFixed(1) + " %";
  }

  function facetSums(f, sel) {
    const n = new Float64Array(f.keys.length), x = new Float64Array(f.keys.length);
    for (let i = 0; i < f.c.length; i++) {
      if (f.c[i] < sel.from || f.c[i] >= sel.to || (sel.w >= 0 && f.w[i] !== sel.w)) continue;
      n[f.k[i]] += f.n[i];
      x[f.k[i]] += f.x[i];
    }
    return { n, x };
  }

  function drawFacet(f, sel) {
    const labels = Object.keys(f.labels);
    const card = el("div", { class: labels.length ? "card wide" : "card", "data-testid": "facet-" + f.name });
    card.append(el("h2", {}, f.title));
    const sums = facetSums(f, sel);
    const other = f.keys.length - 1;
    const order = [...Array(other).keys()].filter((k) => sums.n[k] > 0).sort((a, b) => sums.n[b] - sums.n[a] || a - b).slice(0, 10);
    if (sums.n[other] > 0) order.push(other);
    if (!order.length) {
      card.append(el("p", { class: "empty" }, "Nothing in this selection."));
      return card;
    }
    const showBlocked = f.events !== "blocked";
    const table = el("table");
    const head = el("tr");
    head.append(el("th", {}, "Key"));
    const titles = { team: "Team", layer: "Layer", oncall: "On-call" };
    for (const l of labels) head.append(el("th", {}, titles[l] || l));
    head.append(el("th", { class: "num" }, f.events === "blocked" ? "Blocked" : "Requests"));
    if (showBlocked) head.append(el("th", { class: "num" }, "Blocked"));
    table.append(el("thead"));
    table.firstChild.append(head);
    const body = el("tbody");
    const top = Math.max(1, ...order.map((k) => sums.n[k]));
    for (const k of order) {
      const row = el("tr", k === other ? { class: "other" } : {});
      const key = el("td", { class: "key" }, f.keys[k]);
      const meter = el("div", { class: "meter" });
      meter.style.width = ((100 * sums.n[k]) / top).toFixed(1) + "%";
      key.append(meter);
      row.append(key);
      for (const l of labels) row.append(el("td", {}, k === other ? "" : f.labels[l][k] ?? "—"));
      row.append(el("td", { class: "num" }, nf.format(sums.n[k])));
      if (showBlocked) row.append(el("td", { class: "num" }, nf.format(sums.x[k])));
      body.append(row);
    }
    table.append(body);
    card.append(table);
    return card;
  }

  function drawAlerts(sel) {
    const box = $("alerts");
    box.replaceChildren();
    const start = G.start_ms + sel.from * G.coarse_ms, end = G.start_ms + sel.to * G.coarse_ms;
    const rows = D.alerts.rows.filter((a) => a.window_start < end && a.window_end > start && (sel.w < 0 || a.w === sel.w));
    $("alerts-note").textContent = D.alerts.total > D.alerts.rows.length ? `(newest ${D.alerts.rows.length} of ${nf.format(D.alerts.total)})` : "";
    if (!rows.length) {
      box.append(el("p", { class: "empty", "data-testid": "no-alerts" }, "No alert would have fired."));
      return;
    }
    const table = el("table");
    const head = el("tr");
    for (const h of ["Rule", "Web ACL", "Window", "Team", "Value"]) head.append(el("th", {}, h));
    table.append(head);
    for (const a of rows.slice(0, 20)) {
      const row = el("tr", { "data-testid": "alert" });
      const value = Number.isInteger(a.value) ? nf.format(a.value) : a.value.toFixed(2);
      for (const v of [a.rule, a.acl, when(a.window_start), a.team ?? "—", value]) row.append(el("td", { class: "key" }, v));
      table.append(row);
    }
    box.append(table);
  }

  function draw() {
    const sel = state();
    const t = timeline(sel);
    const total = t.total.reduce((a, b) => a + b, 0);
    const blocked = t.blocked.reduce((a, b) => a + b, 0);
    $("total").textContent = nf.format(total);
    $("total").dataset.value = String(total);
    $("blocked").textContent = nf.format(blocked);
    $("blocked").dataset.value = String(blocked);
    drawTimeline(t);
    drawActions(t, total);
    drawAlerts(sel);
    $("facets").replaceChildren(...D.facets.map((f) => drawFacet(f, sel)));
    document.body.dataset.ready = "1";
  }

  function setup() {
    $("range").textContent = `${nf.format(D.events)} events, ${when(D.since_ms)} to ${when(D.until_ms)}`;
    for (let i = 0; i < coarseCount; i++) {
      $("from").append(el("option", { value: String(i) }, when(G.start_ms + i * G.coarse_ms)));
      $("to").append(el("option", { value: String(i + 1) }, when(G.start_ms + (i + 1) * G.coarse_ms)));
    }
    $("to").value = String(coarseCount);
    D.webacls.forEach((name, i) => $("acl").append(el("option", { value: String(i) }, name)));
    for (const id of ["from", "to", "acl"]) $(id).addEventListener("change", draw);
    $("reset").addEventListener("click", () => {
      $("from").value = "0";
      $("to").value = String(coarseCount);
      draw();
    });
    draw();
  }
  setup();
})();
