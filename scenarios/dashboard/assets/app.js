// brickyard's live dashboard: draws the State the server streams
// (api/events) and, on a click, one device (api/device?id=ID). Plain
// JavaScript, no build step; every text goes in through textContent.
'use strict';

const $ = sel => document.querySelector(sel);

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

const svgNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

const colours = {
  pending: '#8c96a8', updated: '#1a7f37', rolled_back: '#d97706', bricked: '#b3261e',
  download_failed: '#7c3aed', unreachable: '#92400e', lost: '#111827',
  connected: '#1a7f37', connecting: '#d97706', disconnected: '#8c96a8', off: '#cbd2dc',
};
const palette = ['#2563eb', '#db2777', '#0891b2', '#65a30d', '#9333ea', '#ea580c'];
function colour(name) {
  if (colours[name]) return colours[name];
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return palette[h % palette.length];
}

const outcomeOrder = ['updated', 'pending', 'rolled_back', 'bricked', 'download_failed', 'unreachable', 'lost'];
function ordered(names, order) {
  return [...names].sort((a, b) => {
    const i = order.indexOf(a), j = order.indexOf(b);
    return (i < 0 ? 99 : i) - (j < 0 ? 99 : j) || a.localeCompare(b);
  });
}

const fmtSecs = s => s < 1 ? (s * 1000).toFixed(1) + ' ms' : s.toFixed(2) + ' s';
const fmtTime = s => {
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, x = s % 60;
  return (h ? h + 'h' : '') + (h || m ? String(m).padStart(h ? 2 : 1, '0') + 'm' : '') + String(x).padStart(h || m ? 2 : 1, '0') + 's';
};

// chart draws one line per name of series[*][key] over time.
function chart(box, series, key, order, legend, now) {
  box.replaceChildren();
  const W = 640, H = 180, pad = 4;
  const names = new Set();
  for (const p of series) for (const n of Object.keys(p[key] || {})) names.add(n);
  let top = 1;
  for (const p of series) for (const v of Object.values(p[key] || {})) top = Math.max(top, v);
  const t0 = series.length ? series[0].t : 0, t1 = series.length ? series[series.length - 1].t : 1;
  const x = t => pad + (W - 2 * pad) * (t1 > t0 ? (t - t0) / (t1 - t0) : 1);
  const y = v => H - pad - (H - 2 * pad) * v / top;
  for (const n of ordered(names, order)) {
    const pts = series.map(p => x(p.t).toFixed(1) + ',' + y((p[key] || {})[n] || 0).toFixed(1)).join(' ');
    box.append(svg('polyline', {points: pts, fill: 'none', stroke: colour(n), 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke', 'data-name': n}));
  }
  const label = svg('text', {x: pad + 2, y: 14});
  label.textContent = top + ' devices';
  const end = svg('text', {x: W - 70, y: H - 8});
  end.textContent = fmtTime(t1);
  box.append(label, end);
  for (const n of Object.keys(now || {})) names.add(n);
  legend.replaceChildren(...ordered(names, order).map(n => {
    const s = el('span', {text: n + ' ' + ((now || {})[n] || 0), 'data-name': n});
    s.style.setProperty('--c', colour(n));
    return s;
  }));
}

// rows fills a table's body, or says "none" in it.
// groupCharts draws one small chart per board and wave, from the points
// that hold the groups.
function groupCharts(box, series) {
  const pts = series.filter(p => p.groups);
  const names = [];
  for (const p of pts) for (const g of p.groups) if (!names.includes(g.name)) names.push(g.name);
  box.replaceChildren(...names.map(name => {
    const svgBox = svg('svg', {class: 'chart', viewBox: '0 0 640 180', preserveAspectRatio: 'none', 'data-group': name});
    const legend = el('div', {class: 'legend'});
    const sub = pts.map(p => ({t: p.t, outcomes: (p.groups.find(g => g.name === name) || {outcomes: {}}).outcomes}));
    chart(svgBox, sub, 'outcomes', outcomeOrder, legend, sub.length ? sub[sub.length - 1].outcomes : {});
    return el('figure', {}, el('figcaption', {text: name}), svgBox, legend);
  }));
}

function rows(table, items, cells) {
  const body = table.tBodies[0];
  if (!items.length) {
    const cols = table.tHead.rows.length ? table.tHead.rows[0].cells.length : 1;
    body.replaceChildren(el('tr', {class: 'none'}, el('td', {colspan: String(cols), text: 'none'})));
    return;
  }
  body.replaceChildren(...items.map(it => el('tr', {}, ...cells(it))));
}
const td = (text, cls) => el('td', cls ? {class: cls, text: String(text)} : {text: String(text)});
const devLink = id => el('td', {}, el('a', {href: '#device=' + encodeURIComponent(id), class: 'dev', text: id}));

// outcomeTable fills a table of groups (boards, waves) by outcome.
function outcomeTable(table, groups, what) {
  table.closest('.scroll').hidden = !groups.length;
  const names = new Set();
  for (const g of groups) for (const n of Object.keys(g.outcomes)) names.add(n);
  const cols = ordered(names, outcomeOrder);
  table.tHead.replaceChildren(el('tr', {}, el('th', {text: what}), ...cols.map(c => el('th', {class: 'num', text: c})), el('th', {class: 'num', text: 'total'})));
  rows(table, groups, g => [td(g.name), ...cols.map(c => td(g.outcomes[c] || 0, 'num')),
    td(Object.values(g.outcomes).reduce((a, b) => a + b, 0), 'num')]);
}

let deviceID = null, lastState = null;

function render(s) {
  lastState = s;
  document.title = 'brickyard: ' + s.title;
  $('#title').textContent = s.title;
  const st = $('#status');
  st.className = 'status ' + (s.final ? 'final' : 'live');
  st.textContent = s.final ? 'finished: the final state' : 'live';
  st.dataset.version = s.version;
  $('#devices').textContent = s.devices;
  $('#elapsed').textContent = fmtTime(s.elapsed_s);
  for (const n of ['updated', 'rolled_back', 'bricked']) $('#n-' + n).textContent = (s.outcomes || {})[n] || 0;
  $('#n-connected').textContent = (s.conn || {}).connected || 0;
  chart($('#chart-outcomes'), s.series || [], 'outcomes', outcomeOrder, $('#legend-outcomes'), s.outcomes);
  chart($('#chart-conn'), s.series || [], 'conn', ['connected', 'connecting', 'disconnected', 'off'], $('#legend-conn'), s.conn);
  const l = s.links;
  $('#links').replaceChildren(...[['sessions opened', l.up], ['failed dials', l.failed], ['sessions lost', l.lost], ['reconnects', l.reconnects]]
    .flatMap(([k, v]) => [el('dt', {text: k}), el('dd', {text: String(v)})]));
  rows($('#phase-table'), Object.entries(s.phases || {}).sort((a, b) => b[1] - a[1]), ([p, n]) => [td(p), td(n, 'num')]);
  groupCharts($('#group-charts'), s.series || []);
  outcomeTable($('#board-table'), s.boards || [], 'board');
  outcomeTable($('#bywave-table'), s.by_wave || [], 'wave');
  if (s.plan) $('#plan').textContent = s.plan;
  const ab = $('#aborted');
  ab.hidden = !s.aborted;
  ab.textContent = s.aborted ? 'aborted: ' + s.aborted : '';
  rows($('#wave-table'), s.waves || [], w => [td(w.name), td(w.size, 'num'), td(w.done, 'num'), td(w.failed, 'num'),
    td(w.aborted ? 'aborted it' : w.closed ? 'closed' : w.opened ? 'open' : 'waiting')]);
  rows($('#latency-table'), s.latency || [], t => [td(t.type), td(t.count, 'num'), td(fmtSecs(t.p50_s), 'num'),
    td(fmtSecs(t.p90_s), 'num'), td(fmtSecs(t.p99_s), 'num'), td(fmtSecs(t.max_s), 'num')]);
  rows($('#message-table'), s.messages || [], m => [td(m.type), td(m.received, 'num'), td(m.sent, 'num')]);
  rows($('#error-table'), s.errors || [], e => [td(e.other ? 'other codes' : e.code), td(e.n, 'num')]);
  rows($('#failing-table'), s.failing || [], d => [devLink(d.id), td(d.board), td(d.wave || ''), td(d.version), td(d.outcome), td(d.phase), td(d.conn)]);
  rows($('#slowest-table'), s.slowest || [], d => [devLink(d.id), td(d.seconds.toFixed(1), 'num'), td(d.result)]);
  if (deviceID) loadDevice(deviceID);
}

let loading = null;
async function loadDevice(id) {
  if (loading === id) return;
  loading = id;
  try {
    const r = await fetch('api/device?id=' + encodeURIComponent(id), {cache: 'no-store'});
    if (id !== deviceID) return;
    const sec = $('#device');
    sec.hidden = false;
    $('#device-id').textContent = id;
    if (!r.ok) {
      $('#device-facts').replaceChildren(el('dt', {text: 'error'}), el('dd', {text: (await r.text()).trim()}));
      return;
    }
    const v = await r.json();
    const d = v.device;
    const facts = [['board', d.board], ['version', d.version], ['outcome', d.outcome], ['phase', d.phase], ['connection', d.conn],
      ['boots', d.boots], ['wave', d.wave || '–'], ['received', v.received], ['sent', v.sent], ['sessions', v.sessions]];
    if (v.update) facts.push(['update', v.update.seconds.toFixed(1) + ' s, ' + v.update.result]);
    $('#device-facts').replaceChildren(...facts.flatMap(([k, x]) => [el('dt', {text: k}), el('dd', {text: String(x), 'data-field': k})]));
    rows($('#device-events'), v.events, e => [td(e.t.toFixed(3), 'num'), td(e.kind), td(e.detail, 'detail')]);
    rows($('#device-messages'), v.messages, m => [td(m.t.toFixed(3), 'num'), td(m.dir), td(m.record), td(m.type || ''), td(m.body || ''),
      td(m.msg_id || ''), td(m.err_code || '')]);
    sec.dataset.loaded = id;
  } catch (e) {
    $('#device-facts').replaceChildren(el('dt', {text: 'error'}), el('dd', {text: String(e)}));
  } finally {
    if (loading === id) loading = null;
  }
}

function fromHash() {
  const m = location.hash.match(/^#device=(.+)$/);
  deviceID = m ? decodeURIComponent(m[1]) : null;
  if (deviceID) loadDevice(deviceID);
  else $('#device').hidden = true;
}
window.addEventListener('hashchange', fromHash);
$('#device-close').addEventListener('click', e => { e.preventDefault(); history.replaceState(null, '', location.pathname); fromHash(); });
fromHash();

const events = new EventSource('api/events');
events.addEventListener('state', e => render(JSON.parse(e.data)));
events.onerror = () => {
  const st = $('#status');
  if (lastState && lastState.final) {
    st.className = 'status final';
    st.textContent = 'finished; the server has gone: the final state';
  } else {
    st.className = 'status gone';
    st.textContent = 'no connection to brickyard: retrying';
  }
};
