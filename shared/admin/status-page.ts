import { createHash } from 'node:crypto';

/**
 * The status page: one self-contained HTML document (inline CSS and JavaScript, no framework, no build step, no
 * request to anything but the admin API it is served by). It draws a processor from `GET /api/processors/{name}/status`
 * (the `ProcessorStatus` of status-view.ts) like Axon Server's processor view, plus what that lacks: segments as a
 * bar of the hash space, lag in records and seconds per partition with its last hour, stalled partitions and pending
 * changes highlighted, parked keys, and the commands (split, merge, scale, pause, resume, reset), each behind a
 * confirmation dialog, followed through `GET /api/operations/{id}` until they end.
 *
 * Every value from the API reaches the DOM through `textContent` or `setAttribute`, never through HTML parsing: keys
 * and error messages are user data. The page asks for nothing but same-origin `fetch`, so it runs under the strict
 * Content-Security-Policy of {@link STATUS_PAGE_HEADERS}.
 */

const STYLE = String.raw`
:root {
  --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --panel: #ffffff; --page: #f3f5f8;
  --ok: #1f7a44; --warn: #9a5b00; --warn-bg: #fff4dc; --bad: #b42318; --bad-bg: #fde8e6;
  --accent: #2457c5; --seg: #dce7fb; --seg-ink: #12306e; --focus: #f0b400;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif;
  color: var(--ink); background: var(--page);
}
* { box-sizing: border-box; }
body { margin: 0; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 20px; padding: 10px 20px; background: #1d2330; color: #fff; }
header h1 { font-size: 18px; margin: 0; font-weight: 600; }
header label { display: flex; align-items: center; gap: 6px; }
header select { font: inherit; padding: 3px 6px; min-width: 14em; }
header .spacer { flex: 1; }
#updated { color: #c9d1e0; font-variant-numeric: tabular-nums; }
main { padding: 14px 20px 40px; display: grid; grid-template-columns: minmax(0, 1fr); gap: 14px; max-width: 1500px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
section > h2 { font-size: 15px; margin: 0 0 10px; }
h2 .sub { font-weight: 400; color: var(--muted); margin-left: 8px; }
button { font: inherit; padding: 4px 12px; border: 1px solid #9aa3b5; border-radius: 4px; background: #fff; color: var(--ink); cursor: pointer; }
button:hover:not(:disabled) { background: #eef2f9; }
button:disabled { opacity: .5; cursor: not-allowed; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { background: var(--bad); border-color: var(--bad); color: #fff; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
input, select { font: inherit; }
input[type=text], input[type=number] { padding: 3px 6px; border: 1px solid #9aa3b5; border-radius: 4px; }
.banner { margin: 0; padding: 10px 20px; background: var(--bad); color: #fff; display: flex; gap: 12px; align-items: center; }
.banner[hidden] { display: none; }
.banner button { background: transparent; color: #fff; border-color: #fff; }
.warnings { list-style: none; margin: 0; padding: 0; display: grid; gap: 6px; }
.warnings li { padding: 7px 10px; border-radius: 4px; background: var(--warn-bg); border-left: 4px solid var(--warn); }
.warnings li.stalled, .warnings li.coverage, .warnings li.expiredLease { background: var(--bad-bg); border-left-color: var(--bad); }
.warnings .kind { font-weight: 600; margin-right: 8px; text-transform: uppercase; font-size: 12px; letter-spacing: .03em; }
.ok-note { color: var(--ok); margin: 0; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin-bottom: 12px; }
.tile { border: 1px solid var(--line); border-radius: 4px; padding: 8px 10px; }
.tile .label { color: var(--muted); font-size: 12px; }
.tile .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.tile.bad .value { color: var(--bad); }
.tile.warn .value { color: var(--warn); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 12px; }
.chart figcaption { color: var(--muted); font-size: 12px; margin-bottom: 2px; }
.chart { margin: 0; }
svg.line { display: block; width: 100%; height: auto; overflow: visible; }
svg.line .area { fill: #dce7fb; }
svg.line .stroke { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
svg.line .axis { stroke: var(--line); stroke-width: 1; vector-effect: non-scaling-stroke; }
svg.line text { fill: var(--muted); font-size: 10px; }
svg.spark { display: inline-block; vertical-align: middle; }
svg.spark .stroke { fill: none; stroke: var(--accent); stroke-width: 1.25; }
svg.spark .area { fill: #dce7fb; }
.spark-cell { white-space: nowrap; }
.spark-peak { color: var(--muted); font-size: 11px; margin-left: 4px; }
.layout-meta { display: flex; flex-wrap: wrap; gap: 6px 18px; margin-bottom: 8px; color: var(--muted); }
.change { padding: 6px 10px; margin-bottom: 8px; background: var(--warn-bg); border-left: 4px solid var(--warn); border-radius: 4px; }
.bar { position: relative; height: 58px; border: 1px solid #9aa3b5; border-radius: 4px; background: #f7f8fa; overflow: hidden; }
.seg { position: absolute; top: 0; bottom: 0; border: 0; border-right: 1px solid #fff; border-radius: 0; padding: 4px 4px; background: var(--seg); color: var(--seg-ink);
  overflow: hidden; white-space: nowrap; text-overflow: clip; text-align: left; line-height: 1.25; min-width: 2px; }
.seg:hover:not(:disabled) { background: #c6d7f7; }
.seg .name { display: block; font-weight: 600; font-variant-numeric: tabular-nums; }
.seg .lag { display: block; font-size: 11px; color: #3b4d78; }
.seg.draining { background: repeating-linear-gradient(135deg, #ffe2a8 0 8px, #fff0cf 8px 16px); color: #5a3800; }
.seg.pending { box-shadow: inset 0 0 0 3px var(--warn); }
.seg[aria-pressed=true] { background: #2457c5; color: #fff; }
.seg[aria-pressed=true] .lag { color: #dfe7fb; }
.seg:focus-visible { outline: 3px solid var(--focus); outline-offset: -3px; z-index: 1; }
.scale { display: flex; justify-content: space-between; color: var(--muted); font-size: 11px; margin-top: 2px; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; color: var(--muted); font-size: 12px; margin-top: 6px; }
.legend .swatch { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: middle; border: 1px solid #9aa3b5; }
.swatch.active { background: var(--seg); }
.swatch.draining { background: repeating-linear-gradient(135deg, #ffe2a8 0 4px, #fff0cf 4px 8px); }
.swatch.pending { background: var(--seg); box-shadow: inset 0 0 0 2px var(--warn); }
.swatch.selected { background: var(--accent); }
.w-7 { width: 7em; } .w-10 { width: 10em; } .w-13 { width: 13em; } .w-15 { width: 15em; }
.commands { display: grid; gap: 10px; }
.row { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 10px; }
.row .label { min-width: 6.5em; color: var(--muted); }
fieldset { border: 1px solid var(--line); border-radius: 4px; margin: 0; padding: 8px 10px; }
legend { color: var(--muted); padding: 0 4px; }
.operation { position: fixed; right: 16px; bottom: 16px; max-width: min(520px, 90vw); padding: 10px 14px; border-radius: 6px;
  background: #eef2f9; border: 1px solid #9aa3b5; box-shadow: 0 6px 24px rgba(0,0,0,.18); z-index: 5; }
.operation .dismiss { float: right; margin-left: 12px; padding: 0 8px; }
.segment-commands { margin-top: 10px; }
.operation:empty { display: none; }
.operation[data-status=succeeded] { background: #e3f4e9; color: var(--ok); }
.operation[data-status=failed] { background: var(--bad-bg); color: var(--bad); }
.field-error { color: var(--bad); }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 7px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; }
tr.stalled td { background: var(--bad-bg); }
tr.stalled td:first-child { box-shadow: inset 4px 0 0 var(--bad); }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 11px; font-weight: 600; margin-left: 6px; }
.badge.bad { background: var(--bad); color: #fff; }
.badge.warn { background: var(--warn); color: #fff; }
.badge.ok { background: var(--ok); color: #fff; }
.muted { color: var(--muted); }
.expired { color: var(--bad); }
.mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 13px; overflow-wrap: anywhere; }
td.nowrap { white-space: nowrap; }
td.owner { min-width: 9em; max-width: 18em; }
details summary { cursor: pointer; color: var(--accent); }
.empty { color: var(--muted); margin: 0; }
dialog { border: 1px solid #9aa3b5; border-radius: 6px; padding: 0; max-width: min(680px, 94vw); box-shadow: 0 10px 40px rgba(0,0,0,.3); }
dialog::backdrop { background: rgba(20, 26, 38, .45); }
dialog form { padding: 16px 18px; margin: 0; }
dialog h2 { margin: 0 0 10px; font-size: 16px; }
dialog .actions { display: flex; justify-content: flex-end; gap: 10px; margin-top: 16px; }
`;

const SCRIPT = String.raw`
(function () {
  'use strict';

  var params = new URLSearchParams(location.search);
  var REFRESH_MS = Math.min(Math.max(Number(params.get('refresh')) || 5, 1), 300) * 1000;
  var OPERATION_POLL_MS = 1000;
  var HOUR_MS = 3600 * 1000;
  // The API lives next to the page, whatever prefix (an API Gateway stage, a proxy) the page is served under.
  var BASE = location.pathname.replace(/[^/]*$/, '');

  var state = {
    processors: [],
    processor: params.get('processor') || null,
    status: null,
    receivedAt: 0,
    error: null,
    failedAt: 0,
    selected: null,
    busy: false,
    openDetails: new Set()
  };

  // ---- DOM helpers: every value goes in as text or an attribute, never as HTML.

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, children) {
    var node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === 'text') node.textContent = String(value);
      else if (name === 'class') node.setAttribute('class', value);
      else if (name.slice(0, 2) === 'on') node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : String(value));
    });
  }

  function append(node, children) {
    if (children === null || children === undefined || children === false) return;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
    });
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function byTestId(id) {
    return document.querySelector('[data-testid="' + CSS.escape(id) + '"]');
  }

  /** Replaces a container's content, keeping keyboard focus on the element with the same data-testid. */
  function replace(container, children) {
    var active = document.activeElement;
    var focused = active && container.contains(active) ? active.getAttribute('data-testid') : null;
    container.replaceChildren();
    append(container, children);
    if (focused) {
      var again = byTestId(focused);
      if (again) again.focus();
    }
  }

  /** A details element that stays open across refreshes. */
  function details(id, summary, body) {
    var node = el('details', { 'data-testid': id, open: state.openDetails.has(id) }, [el('summary', { text: summary }), body]);
    node.addEventListener('toggle', function () {
      if (node.open) state.openDetails.add(id);
      else state.openDetails.delete(id);
    });
    return node;
  }

  // ---- Formatting.

  function num(n) {
    return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US');
  }

  function compact(n) {
    if (n === null || n === undefined) return '—';
    var abs = Math.abs(n);
    if (abs >= 1e9) return (n / 1e9).toFixed(abs >= 1e10 ? 0 : 1) + 'G';
    if (abs >= 1e6) return (n / 1e6).toFixed(abs >= 1e7 ? 0 : 1) + 'M';
    if (abs >= 1e3) return (n / 1e3).toFixed(abs >= 1e4 ? 0 : 1) + 'k';
    return String(Math.round(n * 10) / 10);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '—';
    var s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min' + (s % 60 ? ' ' + (s % 60) + ' s' : '');
    var h = Math.floor(m / 60);
    if (h < 48) return h + ' h' + (m % 60 ? ' ' + (m % 60) + ' min' : '');
    return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
  }

  /** The server's clock now: the status's 'at' moved on by the time since it arrived (no client clock skew). */
  function serverNow() {
    return state.status ? state.status.at + (Date.now() - state.receivedAt) : Date.now();
  }

  function ago(ms) {
    if (!ms) return '—';
    var delta = serverNow() - ms;
    return delta >= 0 ? duration(delta / 1000) + ' ago' : 'in ' + duration(-delta / 1000);
  }

  function iso(ms) {
    return ms ? new Date(ms).toISOString() : '';
  }

  function share(fraction) {
    if (!fraction) return '0';
    var parts = Math.round(1 / fraction);
    return Math.abs(parts * fraction - 1) < 1e-9 ? '1/' + parts : (fraction * 100).toFixed(2) + '%';
  }

  function describe(error) {
    if (!error) return 'unknown error';
    if (typeof error === 'string') return error;
    if (error.message) return (error.code ? error.code + ': ' : error.name ? error.name + ': ' : '') + error.message;
    return JSON.stringify(error);
  }

  // ---- The API.

  function ApiError(message, status, code) {
    this.message = message;
    this.status = status;
    this.code = code;
  }

  function api(method, path, body) {
    var init = { method: method, headers: { accept: 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    var url = path.charAt(0) === '/' ? (path.indexOf(BASE) === 0 ? path : BASE.replace(/\/$/, '') + path) : BASE + path;
    return fetch(url, init).then(
      function (response) {
        return response.text().then(function (text) {
          var data = null;
          try {
            data = text ? JSON.parse(text) : null;
          } catch (e) {
            data = null;
          }
          if (!response.ok) {
            var error = data && data.error;
            var message = error && error.message ? error.message : 'HTTP ' + response.status + (text ? ': ' + text.slice(0, 200) : '');
            throw new ApiError(message, response.status, error && error.code);
          }
          if (data === null) throw new ApiError('the admin API answered something that is not JSON', response.status);
          return data;
        });
      },
      function (cause) {
        throw new ApiError('cannot reach the admin API (' + (cause && cause.message ? cause.message : cause) + ')', 0);
      }
    );
  }

  function processorPath(suffix) {
    return 'api/processors/' + encodeURIComponent(state.processor) + suffix;
  }

  // ---- Refreshing.

  var timer = null;
  var inFlight = null;
  var again = false;

  function refresh() {
    if (inFlight) {
      again = true;
      return inFlight;
    }
    clearTimeout(timer);
    var processor = state.processor;
    inFlight = api('GET', 'api/processors')
      .then(function (list) {
        state.processors = Array.isArray(list.processors) ? list.processors : [];
        if (!state.processor && state.processors.length > 0) {
          state.processor = state.processors[0].name;
          processor = state.processor;
          rememberProcessor();
        }
        renderPicker();
        return processor ? api('GET', processorPath('/status')) : null;
      })
      .then(function (status) {
        // The picker moved on while this was in flight: this answer is about another processor.
        if (processor !== state.processor) return;
        state.status = status;
        state.receivedAt = Date.now();
        state.error = null;
        render();
      })
      .catch(function (error) {
        state.error = error;
        state.failedAt = Date.now();
      })
      .then(function () {
        inFlight = null;
        renderBanner();
        renderUpdated();
        if (again) {
          again = false;
          return refresh();
        }
        timer = setTimeout(refresh, REFRESH_MS);
      });
    return inFlight;
  }

  function rememberProcessor() {
    var url = new URL(location.href);
    url.searchParams.set('processor', state.processor);
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }

  // ---- Rendering.

  function renderUpdated() {
    var node = byId('updated');
    if (!state.receivedAt) node.textContent = state.error ? 'not loaded' : 'loading…';
    else node.textContent = (state.error ? 'last updated ' : 'updated ') + duration((Date.now() - state.receivedAt) / 1000) + ' ago';
    node.title = state.receivedAt ? new Date(state.receivedAt).toLocaleString() : '';
  }

  function renderBanner() {
    var banner = byId('banner');
    if (!state.error) {
      banner.hidden = true;
      return;
    }
    var kept = state.receivedAt
      ? 'Showing the data from ' + duration((state.failedAt - state.receivedAt) / 1000) + ' before; '
      : 'Nothing to show yet; ';
    replace(byId('banner-text'), [
      el('strong', { text: 'Refresh failed: ' }),
      describe(state.error),
      '. ' + kept + 'trying again every ' + duration(REFRESH_MS / 1000) + '.'
    ]);
    banner.hidden = false;
  }

  function renderPicker() {
    var select = byId('processor');
    var names = state.processors.map(function (p) {
      return p.name;
    });
    var options = state.processors.map(function (p) {
      var label =
        p.initialised === false
          ? p.name + ' (not initialised yet)'
          : p.name + ' (v' + p.layoutVersion + ', ' + p.segments + (p.segments === 1 ? ' segment' : ' segments') + (p.paused ? ', paused' : '') + ')';
      return el('option', { value: p.name, text: label });
    });
    if (state.processor && names.indexOf(state.processor) < 0) {
      options.unshift(el('option', { value: state.processor, text: state.processor + ' (not found)' }));
    }
    if (options.length === 0) options.push(el('option', { value: '', text: 'no processors', disabled: true }));
    var hadFocus = document.activeElement === select;
    select.replaceChildren.apply(select, options);
    select.value = state.processor || '';
    if (hadFocus) select.focus();
  }

  function render() {
    var s = state.status;
    if (!s) {
      replace(byId('warnings'), el('p', { class: 'empty', text: state.processor ? 'loading…' : 'No processor in the token table.' }));
      return;
    }
    if (state.selected && !findSegment(state.selected)) state.selected = null;
    renderWarnings(s);
    renderSummary(s);
    renderLayout(s);
    renderCommands(s);
    renderPartitions(s);
    renderParked(s);
    renderErrors(s);
    renderSkips(s);
    renderEventSources(s);
  }

  function renderWarnings(s) {
    var warnings = (s.warnings || []).slice();
    var has = function (kind) {
      return warnings.some(function (w) {
        return w.kind === kind;
      });
    };
    // What the page can see for itself is said even if the server left it out.
    s.partitions.forEach(function (p) {
      var said = warnings.some(function (w) {
        return w.kind === 'stalled' && w.topic === p.topic && w.partition === p.partition;
      });
      if (p.stalled && !said) warnings.push({ kind: 'stalled', topic: p.topic, partition: p.partition, message: p.id + ' is stalled: its position has not moved while it has lag' });
    });
    if (s.layout.change && !has('pendingChange')) warnings.push({ kind: 'pendingChange', message: s.layout.change.operation + ' of ' + s.layout.change.segment + ' under way' });
    if (s.eventSource.paused && !has('paused')) warnings.push({ kind: 'paused', message: 'the event source is paused: records wait in Kafka' });
    if (s.lagUnavailable && !has('lagUnavailable')) warnings.push({ kind: 'lagUnavailable', message: 'lag in records is unavailable: ' + s.lagUnavailable });
    if (warnings.length === 0) {
      replace(byId('warnings'), el('p', { class: 'ok-note', 'data-testid': 'no-warnings', text: 'No warnings: every partition moves, no change under way.' }));
      return;
    }
    replace(
      byId('warnings'),
      el(
        'ul',
        { class: 'warnings' },
        warnings.map(function (w) {
          return el('li', { class: w.kind, 'data-testid': 'warning-' + w.kind, 'data-partition': w.topic !== undefined ? w.topic + '-' + w.partition : null }, [
            el('span', { class: 'kind', text: w.kind.replace(/([A-Z])/g, ' $1') }),
            w.message
          ]);
        })
      )
    );
  }

  function tile(label, value, testid, tone, title) {
    return el('div', { class: 'tile' + (tone ? ' ' + tone : ''), title: title }, [
      el('div', { class: 'label', text: label }),
      el('div', { class: 'value', 'data-testid': testid, text: value })
    ]);
  }

  function renderSummary(s) {
    var t = s.totals;
    var tiles = el('div', { class: 'tiles' }, [
      tile('Layout version', 'v' + s.layout.version, 'total-layout-version'),
      tile('Segments', num(s.layout.segments.length), 'total-segments'),
      tile('Partitions', num(s.partitions.length), 'total-partitions'),
      tile('Lag (records)', t.recordLag === null ? 'n/a' : num(t.recordLag), 'total-record-lag', t.recordLag ? 'warn' : '', s.lagUnavailable || ''),
      tile('Max time lag', duration(t.maxTimeLagSeconds), 'total-time-lag', t.maxTimeLagSeconds > 60 ? 'warn' : ''),
      tile('Stalled partitions', num(t.stalledPartitions), 'total-stalled', t.stalledPartitions ? 'bad' : ''),
      tile('Parked keys', num(t.parkedKeys), 'total-parked', t.parkedKeys ? 'warn' : ''),
      tile('Event source', s.eventSource.paused ? 'paused' : 'running', 'event-source-state', s.eventSource.paused ? 'warn' : '')
    ]);
    var history = s.lagHistory || [];
    var totalRecords = history.map(function (sample) {
      var sum = null;
      Object.keys(sample.partitions).forEach(function (id) {
        var v = sample.partitions[id].recordLag;
        if (v !== null && v !== undefined) sum = (sum || 0) + v;
      });
      return [sample.at, sum];
    });
    var maxSeconds = history.map(function (sample) {
      var max = null;
      Object.keys(sample.partitions).forEach(function (id) {
        var v = sample.partitions[id].timeLagSeconds;
        if (v !== null && v !== undefined) max = Math.max(max === null ? 0 : max, v);
      });
      return [sample.at, max];
    });
    var charts = el('div', { class: 'charts' }, [
      el('figure', { class: 'chart' }, [el('figcaption', { text: 'Lag in records, all partitions, last hour' }), lineChart(totalRecords, chartWindow(s), 'chart-total-records', compact)]),
      el('figure', { class: 'chart' }, [el('figcaption', { text: 'Time lag, worst partition, last hour' }), lineChart(maxSeconds, chartWindow(s), 'chart-total-seconds', duration)])
    ]);
    replace(byId('summary'), [tiles, charts]);
  }

  /**
   * The time the charts span: the last hour, or less while the samples do not reach back that far (a fresh stack),
   * so a few minutes of history are a line rather than a dot at the right edge. At least a minute.
   */
  function chartWindow(s) {
    var end = s.at;
    var oldest = s.lagHistory && s.lagHistory.length ? s.lagHistory[0].at : end;
    return { start: Math.max(end - HOUR_MS, Math.min(oldest, end - 60 * 1000)), end: end };
  }

  /** Points [at, value|null] inside the window, as SVG coordinates; null values break the line. */
  function runs(points, window, width, height, max) {
    var start = window.start;
    var end = window.end;
    var span = Math.max(1, end - start);
    var out = [];
    var current = null;
    points.forEach(function (point) {
      if (point[0] < start || point[0] > end) return;
      if (point[1] === null || point[1] === undefined) {
        current = null;
        return;
      }
      var x = ((point[0] - start) / span) * width;
      var y = height - (max > 0 ? (point[1] / max) * height : 0);
      if (!current) out.push((current = []));
      current.push([x, y]);
    });
    return out;
  }

  function peak(points) {
    return points.reduce(function (max, point) {
      return point[1] !== null && point[1] !== undefined && point[1] > max ? point[1] : max;
    }, 0);
  }

  function shape(run, height, className) {
    var line = run.map(function (p) {
      return p[0].toFixed(1) + ',' + p[1].toFixed(1);
    });
    var first = run[0];
    var last = run[run.length - 1];
    var area = [first[0].toFixed(1) + ',' + height].concat(line, [last[0].toFixed(1) + ',' + height]);
    return [svg('polygon', { class: 'area', points: area.join(' ') }), svg('polyline', { class: className, points: line.join(' ') })];
  }

  function lineChart(points, window, testid, format) {
    var width = 600;
    var height = 90;
    var max = peak(points);
    var latest = points.length ? points[points.length - 1][1] : null;
    var span = (window.end - window.start) / 1000;
    var label = 'now ' + format(latest) + ', peak ' + format(max) + ' over the last ' + duration(span);
    var nodes = [
      svg('title', { text: label }),
      svg('line', { class: 'axis', x1: 0, y1: height, x2: width, y2: height }),
      svg('line', { class: 'axis', x1: 0, y1: 0, x2: width, y2: 0 }),
      svg('text', { x: 2, y: 10, text: 'peak ' + format(max) }),
      svg('text', { x: 0, y: height + 12, text: '−' + duration(span) }),
      svg('text', { x: width / 2, y: height + 12, 'text-anchor': 'middle', text: '−' + duration(span / 2) }),
      svg('text', { x: width, y: height + 12, 'text-anchor': 'end', text: 'now' })
    ];
    runs(points, window, width, height, max).forEach(function (run) {
      nodes = nodes.concat(shape(run, height, 'stroke'));
    });
    if (points.length === 0) nodes.push(svg('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', text: 'no samples yet' }));
    return svg('svg', { class: 'line', viewBox: '0 -4 ' + width + ' ' + (height + 20), role: 'img', 'aria-label': label, 'data-testid': testid, preserveAspectRatio: 'none' }, nodes);
  }

  function sparkline(points, window, testid, format) {
    var width = 90;
    var height = 22;
    var max = peak(points);
    var latest = points.length ? points[points.length - 1][1] : null;
    var label = 'last ' + duration((window.end - window.start) / 1000) + ': now ' + format(latest) + ', peak ' + format(max);
    var nodes = [svg('title', { text: label })];
    runs(points, window, width, height, max).forEach(function (run) {
      nodes = nodes.concat(shape(run, height, 'stroke'));
    });
    return el('span', { class: 'spark-cell' }, [
      svg('svg', { class: 'spark', width: width, height: height + 2, viewBox: '0 -1 ' + width + ' ' + (height + 2), role: 'img', 'aria-label': label, 'data-testid': testid }, nodes),
      el('span', { class: 'spark-peak', text: points.length ? '↑' + format(max) : 'no data' })
    ]);
  }

  function findSegment(name) {
    var segments = state.status ? state.status.layout.segments : [];
    for (var i = 0; i < segments.length; i++) if (segments[i].name === name) return segments[i];
    return null;
  }

  function sibling(segment) {
    if (!segment || segment.mask === 0) return null;
    var bit = (segment.mask + 1) / 2;
    var id = segment.id ^ bit;
    var segments = state.status.layout.segments;
    for (var i = 0; i < segments.length; i++) if (segments[i].id === id && segments[i].mask === segment.mask) return segments[i];
    return null;
  }

  function renderLayout(s) {
    var change = s.layout.change;
    var segments = s.layout.segments.slice().sort(function (a, b) {
      return a.start - b.start;
    });
    var covered = segments.reduce(function (sum, seg) {
      return sum + seg.fraction;
    }, 0);
    var meta = el('div', { class: 'layout-meta' }, [
      el('span', { 'data-testid': 'layout-version', text: 'layout v' + s.layout.version }),
      el('span', { text: segments.length + (segments.length === 1 ? ' segment' : ' segments') }),
      el('span', { text: 'covers ' + (covered * 100).toFixed(covered === 1 ? 0 : 3) + '% of the hash space', class: Math.abs(covered - 1) > 1e-9 ? 'expired' : '' }),
      el('span', { text: 'read ' + ago(s.at) })
    ]);
    var banner = change
      ? el('div', { class: 'change', 'data-testid': 'pending-change' }, [
          el('strong', { text: 'Change under way: ' }),
          change.operation + ' of ' + change.segment + ', started ' + ago(change.startedAt) + ' (' + change.id + ')'
        ])
      : null;
    var bar = el(
      'div',
      { class: 'bar', role: 'group', 'aria-label': 'Segments across the hash space; pick one for split or merge', 'data-testid': 'layout-bar', onkeydown: barKeys },
      segments.map(function (seg) {
        var pending = change && (change.segment === seg.name || seg.state === 'draining');
        var title = 'segment ' + seg.name + ': ' + share(seg.fraction) + ' of the hash space, ' + seg.state + (seg.recordLag === null ? '' : ', lag ' + num(seg.recordLag) + ' records') + (pending ? ', part of the change under way' : '');
        var button = el(
          'button',
          {
            type: 'button',
            class: 'seg ' + (seg.state === 'draining' ? 'draining' : 'active') + (pending ? ' pending' : ''),
            'data-testid': 'segment-' + seg.name,
            'data-state': seg.state,
            'aria-pressed': state.selected === seg.name ? 'true' : 'false',
            title: title,
            'aria-label': title,
            onclick: function () {
              select(state.selected === seg.name ? null : seg.name);
            }
          },
          [el('span', { class: 'name', text: seg.name }), el('span', { class: 'lag', text: seg.recordLag === null ? share(seg.fraction) : 'lag ' + compact(seg.recordLag) })]
        );
        button.style.left = seg.start * 100 + '%';
        button.style.width = seg.fraction * 100 + '%';
        return button;
      })
    );
    var scale = el('div', { class: 'scale', 'aria-hidden': 'true' }, ['0', '¼', '½', '¾', '1'].map(function (t) {
      return el('span', { text: t });
    }));
    var legend = el('div', { class: 'legend', 'aria-hidden': 'true' }, [
      el('span', {}, [el('span', { class: 'swatch active' }), 'active']),
      el('span', {}, [el('span', { class: 'swatch draining' }), 'draining']),
      el('span', {}, [el('span', { class: 'swatch pending' }), 'in the change under way']),
      el('span', {}, [el('span', { class: 'swatch selected' }), 'selected (click or Enter; ← → to move)'])
    ]);
    var list = details(
      'segment-list',
      'All segments as a table (' + segments.length + ')',
      el('div', { class: 'table-wrap' }, el('table', {}, [
        el('thead', {}, el('tr', {}, [el('th', { text: 'Segment' }), el('th', { text: 'Share' }), el('th', { text: 'State' }), el('th', { class: 'num', text: 'Lag (records)' }), el('th', { text: '' })])),
        el('tbody', {}, segments.map(function (seg) {
          return el('tr', {}, [
            el('td', { class: 'mono', text: seg.name }),
            el('td', { text: share(seg.fraction) }),
            el('td', { text: seg.state }),
            el('td', { class: 'num', text: num(seg.recordLag) }),
            el('td', {}, el('button', { type: 'button', 'data-testid': 'select-segment-' + seg.name, 'aria-pressed': state.selected === seg.name ? 'true' : 'false', onclick: function () {
              select(seg.name);
            }, text: state.selected === seg.name ? 'selected' : 'select' }))
          ]);
        }))
      ]))
    );
    replace(byId('layout'), [meta, banner, bar, scale, legend, list]);
  }

  function barKeys(event) {
    if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight' && event.key !== 'Home' && event.key !== 'End') return;
    var buttons = Array.prototype.slice.call(event.currentTarget.querySelectorAll('button.seg'));
    var at = buttons.indexOf(document.activeElement);
    var next = event.key === 'Home' ? 0 : event.key === 'End' ? buttons.length - 1 : at + (event.key === 'ArrowLeft' ? -1 : 1);
    if (next < 0 || next >= buttons.length) return;
    event.preventDefault();
    buttons[next].focus();
  }

  function select(name) {
    state.selected = name;
    if (state.status) {
      renderLayout(state.status);
      renderCommands(state.status);
    }
  }

  function renderCommands(s) {
    var seg = state.selected ? findSegment(state.selected) : null;
    var chosen = byId('selected-segment');
    chosen.textContent = seg ? seg.name + ' (' + share(seg.fraction) + ' of the hash space, ' + seg.state + ')' : 'none: click a segment in the bar';
    var changing = !!s.layout.change;
    byId('split').disabled = state.busy || !seg || changing;
    byId('merge').disabled = state.busy || !seg || seg.mask === 0 || changing;
    byId('merge').title = seg && seg.mask === 0 ? 'the whole hash space has nothing to merge with' : '';
    byId('scale').disabled = state.busy || changing;
    byId('pause').disabled = state.busy || s.eventSource.paused;
    byId('resume').disabled = state.busy || !s.eventSource.paused;
    byId('reset-preview').disabled = state.busy;
    var input = byId('scale-input');
    if (!input.value) input.placeholder = String(s.layout.segments.length);
    byId('commands-note').textContent = changing ? 'Split, merge and scale wait until the change under way ends.' : '';
  }

  function leaseText(p) {
    if (!p.owner || !p.leaseUntil) return el('span', { class: 'muted', text: 'released' });
    if (p.leaseLive) return el('span', { title: iso(p.leaseUntil), text: 'live, expires ' + ago(p.leaseUntil) });
    return el('span', { class: 'expired', title: iso(p.leaseUntil), text: 'expired ' + ago(p.leaseUntil) });
  }

  function renderPartitions(s) {
    var history = s.lagHistory || [];
    var head = el('thead', {}, el('tr', {}, [
      el('th', { text: 'Partition' }),
      el('th', { text: 'Owner' }),
      el('th', { class: 'num', text: 'Epoch' }),
      el('th', { text: 'Lease' }),
      el('th', { class: 'num', text: 'Position' }),
      el('th', { class: 'num', text: 'High water' }),
      el('th', { class: 'num', text: 'Lag (records)' }),
      el('th', { class: 'num', text: 'Lag (time)' }),
      el('th', { text: 'Records, 1 h' }),
      el('th', { text: 'Seconds, 1 h' }),
      el('th', { text: 'Replay' }),
      el('th', { class: 'num', text: 'Parked keys' }),
      el('th', { text: 'Per segment' })
    ]));
    var rows = s.partitions.map(function (p) {
      var records = history.map(function (sample) {
        var v = sample.partitions[p.id];
        return [sample.at, v ? v.recordLag : null];
      });
      var seconds = history.map(function (sample) {
        var v = sample.partitions[p.id];
        return [sample.at, v ? v.timeLagSeconds : null];
      });
      var replay = p.replay
        ? el('span', { 'data-testid': 'replay-' + p.id, title: 'reset ' + p.replay.resetId, text: 'replaying' + (p.replay.until === null ? '' : ' until ' + num(p.replay.until) + (p.position === null ? '' : ' (' + num(Math.max(0, p.replay.until - p.position)) + ' to go)')) })
        : el('span', { class: 'muted', text: '—' });
      var perSegment = details(
        'segments-of-' + p.id,
        p.segments.length + (p.segments.length === 1 ? ' segment' : ' segments'),
        el('table', {}, el('tbody', {}, p.segments.map(function (entry) {
          return el('tr', {}, [
            el('td', { class: 'mono', text: entry.segment }),
            el('td', { class: 'num', text: entry.next === null ? '—' : 'next ' + num(entry.next) }),
            el('td', { class: 'muted', text: entry.outOfOrderRanges ? entry.outOfOrderRanges + ' out-of-order ranges' : '' })
          ]);
        })))
      );
      return el('tr', { class: p.stalled ? 'stalled' : '', 'data-testid': 'partition-' + p.id, 'data-stalled': p.stalled ? 'true' : 'false' }, [
        el('td', { class: 'nowrap' }, [el('span', { class: 'mono', text: p.id }), p.stalled ? el('span', { class: 'badge bad', 'data-testid': 'stalled-' + p.id, text: 'STALLED' }) : null]),
        el('td', { class: 'mono owner', 'data-testid': 'owner-' + p.id, text: p.owner || '—' }),
        el('td', { class: 'num', text: num(p.epoch) }),
        el('td', { class: 'nowrap', 'data-testid': 'lease-' + p.id }, leaseText(p)),
        el('td', { class: 'num', 'data-testid': 'position-' + p.id, text: num(p.position) }),
        el('td', { class: 'num', 'data-testid': 'high-water-' + p.id, text: num(p.highWater) }),
        el('td', { class: 'num', 'data-testid': 'lag-records-' + p.id, title: p.recordLag === null ? s.lagUnavailable || 'unknown' : '', text: p.recordLag === null ? 'n/a' : num(p.recordLag) }),
        el('td', { class: 'num', 'data-testid': 'lag-seconds-' + p.id, title: p.lastRecordAt ? 'newest record handled: ' + iso(p.lastRecordAt) : '', text: p.timeLagSeconds === null ? 'n/a' : duration(p.timeLagSeconds) }),
        el('td', {}, sparkline(records, chartWindow(s), 'chart-records-' + p.id, compact)),
        el('td', {}, sparkline(seconds, chartWindow(s), 'chart-seconds-' + p.id, duration)),
        el('td', {}, replay),
        el('td', { class: 'num', text: num(p.parkedKeys) }),
        el('td', {}, perSegment)
      ]);
    });
    var body = rows.length ? el('tbody', {}, rows) : el('tbody', {}, el('tr', {}, el('td', { colspan: 13, class: 'empty', text: 'No partition has been seen yet: nothing was dispatched.' })));
    replace(byId('partitions'), el('div', { class: 'table-wrap' }, el('table', { 'data-testid': 'partitions-table' }, [head, body])));
  }

  function table(testid, headers, rows, empty) {
    if (rows.length === 0) return el('p', { class: 'empty', 'data-testid': testid + '-empty', text: empty });
    return el('div', { class: 'table-wrap' }, el('table', { 'data-testid': testid }, [
      el('thead', {}, el('tr', {}, headers.map(function (h) {
        return el('th', { class: h.charAt(0) === '#' ? 'num' : '', text: h.replace(/^#/, '') });
      }))),
      el('tbody', {}, rows)
    ]));
  }

  function renderParked(s) {
    var rows = s.parkedKeys.map(function (k) {
      var pending = k.parked - k.resolved;
      return el('tr', { 'data-testid': 'parked-' + k.topic + '-' + k.partition + '-' + k.digest }, [
        el('td', { class: 'mono', text: k.topic + '-' + k.partition }),
        el('td', { class: 'mono', 'data-testid': 'parked-key', text: k.key }),
        el('td', { class: 'num', text: num(pending) }),
        el('td', { class: 'num', text: num(k.resolved) }),
        el('td', { title: iso(k.since), text: ago(k.since) }),
        el('td', { title: iso(k.nextAttemptAt), text: pending > 0 ? ago(k.nextAttemptAt) : 'flows at the next batch' })
      ]);
    });
    byId('parked-count').textContent = s.parkedKeys.length ? '(' + s.parkedKeys.length + ')' : '';
    replace(byId('parked'), table('parked-keys', ['Partition', 'Key', '#Letters pending', '#Resolved', 'Parked since', 'Next redrive'], rows, 'No parked keys.'));
  }

  function renderErrors(s) {
    var rows = s.lastErrors.map(function (e, i) {
      return el('tr', { 'data-testid': 'error-' + i }, [
        el('td', { title: iso(e.at), text: ago(e.at) }),
        el('td', { class: 'mono', text: e.topic + '-' + e.partition + '@' + e.offset }),
        el('td', { class: 'mono', text: e.key }),
        el('td', {}, [el('strong', { text: e.error.name }), ': ', e.error.message])
      ]);
    });
    replace(byId('errors'), table('last-errors', ['When', 'Record', 'Key', 'Error'], rows, 'No handler errors.'));
  }

  function renderSkips(s) {
    var rows = s.skips.map(function (k) {
      return el('tr', {}, [
        el('td', { class: 'mono', text: k.topic + '-' + k.partition }),
        el('td', { class: 'num', text: num(k.from) }),
        el('td', { class: 'num', text: num(k.to) }),
        el('td', { class: 'num', text: num(k.to - k.from + 1) }),
        el('td', { title: iso(k.at), text: ago(k.at) })
      ]);
    });
    replace(byId('skips'), table('skips', ['Partition', '#From offset', '#To offset', '#Offsets', 'When'], rows, 'The event source skipped no offsets.'));
  }

  function renderEventSources(s) {
    var rows = s.eventSource.mappings.map(function (m) {
      return el('tr', {}, [
        el('td', { class: 'mono', text: m.topic }),
        el('td', { class: 'mono', text: m.id }),
        el('td', { text: m.state }),
        el('td', { title: iso(m.lastModified), text: ago(m.lastModified) })
      ]);
    });
    replace(byId('event-sources'), table('mappings', ['Topic', 'Mapping', 'State', 'Last modified'], rows, 'No event source mappings could be read (locally there are none).'));
  }

  // ---- The confirmation dialog.

  var dialog = null;

  function confirmAction(title, body, confirmLabel, danger) {
    dialog = dialog || byId('dialog');
    replace(byId('dialog-title'), title);
    replace(byId('dialog-body'), body);
    var confirm = byId('confirm');
    confirm.textContent = confirmLabel || 'Confirm';
    confirm.className = danger ? 'danger' : 'primary';
    dialog.returnValue = '';
    return new Promise(function (resolve) {
      dialog.addEventListener(
        'close',
        function () {
          resolve(dialog.returnValue === 'confirm');
        },
        { once: true }
      );
      dialog.showModal();
      byId('cancel').focus();
    });
  }

  function p(text) {
    return el('p', { text: text });
  }

  // ---- Commands.

  function setOperation(status, children) {
    var node = byId('operation');
    node.setAttribute('data-status', status);
    replace(node, children);
  }

  function dismissible() {
    var node = byId('operation');
    node.insertBefore(
      el('button', { type: 'button', class: 'dismiss', 'data-testid': 'dismiss-operation', 'aria-label': 'Dismiss', text: '×', onclick: function () {
        setOperation('', []);
      } }),
      node.firstChild
    );
  }

  function setBusy(busy) {
    state.busy = busy;
    if (state.status) renderCommands(state.status);
  }

  function wait(ms) {
    return new Promise(function (resolve) {
      setTimeout(resolve, ms);
    });
  }

  /** A line about an operation's result: its outcome and the layout it left when it says so, else its JSON, cut. */
  function summarize(value) {
    if (value === null || value === undefined) return '';
    if (typeof value === 'object' && !Array.isArray(value)) {
      var parts = [];
      if (typeof value.outcome === 'string') parts.push(value.outcome);
      var version = typeof value.layoutVersion === 'number' ? value.layoutVersion : value.layout && value.layout.version;
      if (typeof version === 'number') parts.push('layout v' + version);
      if (Array.isArray(value.segments) && value.segments.every(function (x) {
        return typeof x === 'string';
      })) parts.push('segments ' + value.segments.join(' '));
      if (parts.length) return parts.join(', ');
    }
    var text = typeof value === 'string' ? value : JSON.stringify(value);
    return text.length > 200 ? text.slice(0, 200) + '…' : text;
  }

  /** Sends a command, then follows its operation until it succeeds or fails. */
  function run(command, body, label) {
    var processor = state.processor;
    setBusy(true);
    setOperation('sending', label + ': sending…');
    return api('POST', processorPath('/' + command), body)
      .then(function (answer) {
        return follow(answer, processor === state.processor ? label : label + ' of ' + processor);
      })
      .catch(function (error) {
        setOperation('failed', [el('strong', { text: label + ' failed: ' }), describe(error)]);
        dismissible();
      })
      .then(function () {
        setBusy(false);
        return refresh();
      });
  }

  function follow(answer, label) {
    var url = answer.statusUrl || 'api/operations/' + encodeURIComponent(answer.operationId);
    var failures = 0;
    function show(op, note) {
      var status = op.status || 'accepted';
      var parts = [el('strong', { text: label + ': ' + status }), ' (operation ' + (op.id || answer.operationId) + ')'];
      if (status === 'succeeded' && op.result !== undefined) parts.push(el('div', { 'data-testid': 'operation-result', text: summarize(op.result) }));
      if (status === 'failed') parts.push(el('div', { text: describe(op.error) }));
      if (note) parts.push(el('div', { class: 'muted', text: note }));
      setOperation(status, parts);
      if (status === 'succeeded' || status === 'failed') dismissible();
      // A success says so for a while, then gets out of the way; a failure stays until dismissed.
      if (status === 'succeeded') {
        var shown = byId('operation').firstChild;
        setTimeout(function () {
          if (byId('operation').firstChild === shown) setOperation('', []);
        }, 20000);
      }
    }
    show(answer);
    function poll() {
      return wait(OPERATION_POLL_MS)
        .then(function () {
          return api('GET', url);
        })
        .then(
          function (op) {
            failures = 0;
            show(op);
            if (op.status === 'succeeded' || op.status === 'failed') return op;
            return poll();
          },
          function (error) {
            failures++;
            show({ id: answer.operationId, status: 'running' }, 'could not read the operation (' + describe(error) + '); trying again');
            if (failures >= 30) throw error;
            return poll();
          }
        );
    }
    return poll();
  }

  function onSplit() {
    var seg = findSegment(state.selected);
    if (!seg) return;
    confirmAction(
      'Split segment ' + seg.name + '?',
      [
        p('Processor ' + state.processor + ': segment ' + seg.name + ' (' + share(seg.fraction) + ' of the hash space) becomes two halves of ' + share(seg.fraction / 2) + ' each, with the same positions.'),
        p('The segment drains first (its records wait a moment), then the new layout applies; records keep flowing elsewhere.')
      ],
      'Split ' + seg.name
    ).then(function (ok) {
      if (ok) return run('split', { segment: seg.name }, 'split ' + seg.name);
    });
  }

  function onMerge() {
    var seg = findSegment(state.selected);
    if (!seg) return;
    var other = sibling(seg);
    confirmAction(
      'Merge segment ' + seg.name + '?',
      [
        p('Processor ' + state.processor + ': segment ' + seg.name + (other ? ' and its sibling ' + other.name + ' become one segment of ' + share(seg.fraction * 2) + ' of the hash space.' : ' merges with its sibling half, which is split further right now: the API will say what to merge first.')),
        p('Both halves drain first; the merged segment keeps both positions until the slower catches up, so nothing is handled twice.')
      ],
      'Merge ' + seg.name
    ).then(function (ok) {
      if (ok) return run('merge', { segment: seg.name }, 'merge ' + seg.name);
    });
  }

  function onScale() {
    var input = byId('scale-input');
    var error = byId('scale-error');
    var value = Number(input.value);
    if (!input.value || !Number.isInteger(value) || value < 1 || value > 2048) {
      error.textContent = 'Give a whole number of segments from 1 to 2,048.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    var from = state.status.layout.segments.length;
    confirmAction(
      'Scale to ' + value + ' segments?',
      [p('Processor ' + state.processor + ' goes from ' + from + ' to ' + value + ' balanced segments, by splits and merges one at a time.')],
      'Scale to ' + value
    ).then(function (ok) {
      if (ok) return run('scale', { segments: value }, 'scale to ' + value);
    });
  }

  function onPause() {
    confirmAction(
      'Pause ' + state.processor + '?',
      [p('Its event source mappings are disabled: records wait in Kafka and lag grows until it is resumed. Work in flight finishes.')],
      'Pause',
      true
    ).then(function (ok) {
      if (ok) return run('pause', {}, 'pause ' + state.processor);
    });
  }

  function onResume() {
    confirmAction('Resume ' + state.processor + '?', [p('Its event source mappings are enabled again and it reads on from its positions.')], 'Resume').then(function (ok) {
      if (ok) return run('resume', {}, 'resume ' + state.processor);
    });
  }

  function list(text) {
    return text
      .split(/[\s,]+/)
      .map(function (part) {
        return part.trim();
      })
      .filter(Boolean);
  }

  /** The reset request from the form, or a message saying which field is wrong. */
  function resetRequest() {
    var kind = byId('reset-to').value;
    var value = byId('reset-value').value.trim();
    var to;
    if (kind === 'earliest' || kind === 'latest') to = kind;
    else if (kind === 'datetime') {
      var when = Date.parse(value);
      if (!value || isNaN(when)) return { error: 'Give a date and time, e.g. 2025-06-01T12:00:00Z.' };
      to = new Date(when).toISOString();
    } else if (kind === 'offset') {
      if (!/^\d+$/.test(value)) return { error: 'Give the offset as a whole number of 0 or more.' };
      to = 'offset:' + value;
    } else {
      if (!/^-?\d+$/.test(value) || Number(value) === 0) return { error: 'Give the shift as a whole number other than 0, e.g. -1000 to go back 1,000 records.' };
      to = 'shift:' + value;
    }
    var request = { to: to, clearParked: byId('reset-clear-parked').checked };
    var partitions = list(byId('reset-partitions').value);
    var segments = list(byId('reset-segments').value);
    if (partitions.length) request.partitions = partitions;
    if (segments.length) request.segments = segments;
    return { request: request };
  }

  function syncResetValue() {
    var kind = byId('reset-to').value;
    var input = byId('reset-value');
    var needed = kind !== 'earliest' && kind !== 'latest';
    input.disabled = !needed;
    input.placeholder = kind === 'datetime' ? '2025-06-01T12:00:00Z' : kind === 'offset' ? 'e.g. 1200' : kind === 'shift' ? 'e.g. -1000' : '';
  }

  function onResetPreview() {
    var built = resetRequest();
    var error = byId('reset-error');
    if (built.error) {
      error.textContent = built.error;
      byId('reset-value').focus();
      return;
    }
    error.textContent = '';
    var request = built.request;
    var label = 'reset to ' + request.to;
    setBusy(true);
    setOperation('sending', label + ': dry run…');
    api('POST', processorPath('/reset'), Object.assign({}, request, { dryRun: true }))
      .then(function (answer) {
        setOperation('', []);
        var plan = answer.plan || { partitions: [], clearParked: request.clearParked };
        var total = plan.partitions.reduce(function (sum, entry) {
          return sum + (entry.records || 0);
        }, 0);
        var rows = plan.partitions.map(function (entry) {
          return el('tr', { 'data-testid': 'plan-' + entry.topic + '-' + entry.partition }, [
            el('td', { class: 'mono', text: entry.topic + '-' + entry.partition }),
            el('td', { class: 'num', text: num(entry.from) }),
            el('td', { class: 'num', text: num(entry.to) }),
            el('td', { class: 'num', text: num(entry.records) })
          ]);
        });
        return confirmAction(
          'Reset ' + state.processor + ' to ' + request.to + '?',
          [
            p('The dry run plans this; nothing has changed yet. Executing pauses the event source, moves the consumer group and the tokens, and resumes it.'),
            table('reset-plan', ['Partition', '#From', '#To', '#Records'], rows, 'The reset moves no partition.'),
            p('Records to handle again: ' + num(total) + '. Parked letters: ' + (plan.clearParked ? 'cleared.' : 'kept.'))
          ],
          'Execute reset',
          true
        ).then(function (ok) {
          if (ok) return run('reset', Object.assign({}, request, { dryRun: false }), label);
        });
      })
      .catch(function (failure) {
        setOperation('failed', [el('strong', { text: label + ' (dry run) failed: ' }), describe(failure)]);
        dismissible();
      })
      .then(function () {
        setBusy(false);
      });
  }

  // ---- Wiring.

  byId('processor').addEventListener('change', function (event) {
    var name = event.target.value;
    if (!name || name === state.processor) return;
    state.processor = name;
    state.status = null;
    state.receivedAt = 0;
    state.selected = null;
    rememberProcessor();
    render();
    refresh();
  });
  byId('refresh').addEventListener('click', function () {
    refresh();
  });
  byId('retry').addEventListener('click', function () {
    refresh();
  });
  byId('split').addEventListener('click', onSplit);
  byId('merge').addEventListener('click', onMerge);
  byId('scale').addEventListener('click', onScale);
  byId('pause').addEventListener('click', onPause);
  byId('resume').addEventListener('click', onResume);
  byId('reset-preview').addEventListener('click', onResetPreview);
  byId('reset-to').addEventListener('change', syncResetValue);
  byId('scale-input').addEventListener('keydown', function (event) {
    if (event.key === 'Enter') onScale();
  });
  syncResetValue();
  setInterval(renderUpdated, 1000);
  refresh();
})();
`;

const BODY = String.raw`
<header>
  <h1>Tidemark</h1>
  <label>Processor <select id="processor" data-testid="processor-picker"></select></label>
  <span class="spacer"></span>
  <span id="updated" data-testid="updated" aria-live="off">loading…</span>
  <button type="button" id="refresh" data-testid="refresh">Refresh now</button>
</header>
<div id="banner" class="banner" data-testid="error-banner" role="alert" hidden>
  <span id="banner-text"></span>
  <button type="button" id="retry" data-testid="retry">Try again</button>
</div>
<main>
  <section aria-labelledby="warnings-h"><h2 id="warnings-h">Warnings</h2><div id="warnings" data-testid="warnings"><p class="empty">loading…</p></div></section>
  <section aria-labelledby="summary-h"><h2 id="summary-h">At a glance</h2><div id="summary"></div></section>
  <section aria-labelledby="layout-h"><h2 id="layout-h">Layout <span class="sub">segments as slices of the hash space</span></h2><div id="layout"></div>
    <div class="row segment-commands"><span class="label">Segment</span><span id="selected-segment" data-testid="selected-segment">none: click a segment in the bar</span>
      <button type="button" id="split" data-testid="split" disabled>Split…</button>
      <button type="button" id="merge" data-testid="merge" disabled>Merge with sibling…</button>
      <span id="commands-note" class="muted"></span></div>
  </section>
  <section aria-labelledby="partitions-h"><h2 id="partitions-h">Partitions <span class="sub">stalled ones are red</span></h2><div id="partitions"></div></section>
  <section aria-labelledby="commands-h">
    <h2 id="commands-h">Commands <span class="sub">each asks for confirmation first; split and merge are under the layout</span></h2>
    <div class="commands">
      <div class="row"><label class="label" for="scale-input">Scale to</label>
        <input id="scale-input" data-testid="scale-input" type="number" min="1" max="2048" step="1" inputmode="numeric" aria-describedby="scale-error" class="w-7">
        <span>segments</span>
        <button type="button" id="scale" data-testid="scale" disabled>Scale…</button>
        <span id="scale-error" data-testid="scale-error" class="field-error" role="alert"></span></div>
      <div class="row"><span class="label">Event source</span>
        <button type="button" id="pause" data-testid="pause" disabled>Pause…</button>
        <button type="button" id="resume" data-testid="resume" disabled>Resume…</button></div>
      <fieldset>
        <legend>Reset (replay): a dry run shows the plan before anything changes</legend>
        <div class="row">
          <label for="reset-to">To</label>
          <select id="reset-to" data-testid="reset-to">
            <option value="earliest">earliest</option>
            <option value="latest">latest</option>
            <option value="datetime">a date and time</option>
            <option value="offset">an offset</option>
            <option value="shift">a shift by n records</option>
          </select>
          <input id="reset-value" data-testid="reset-value" type="text" aria-label="Reset target value" aria-describedby="reset-error" class="w-13">
          <label for="reset-partitions">Partitions</label>
          <input id="reset-partitions" data-testid="reset-partitions" type="text" placeholder="all, or orders-0, orders-1" class="w-15">
          <label for="reset-segments">Segments</label>
          <input id="reset-segments" data-testid="reset-segments" type="text" placeholder="all, or 0/1, 1/1" class="w-10">
          <label><input id="reset-clear-parked" data-testid="reset-clear-parked" type="checkbox"> clear parked letters</label>
          <button type="button" id="reset-preview" data-testid="reset-preview" disabled>Preview reset…</button>
        </div>
        <div id="reset-error" data-testid="reset-error" class="field-error" role="alert"></div>
      </fieldset>
    </div>
  </section>
  <section aria-labelledby="parked-h"><h2 id="parked-h">Parked keys <span id="parked-count" class="sub"></span></h2><div id="parked"></div></section>
  <section aria-labelledby="errors-h"><h2 id="errors-h">Last errors</h2><div id="errors"></div></section>
  <section aria-labelledby="skips-h"><h2 id="skips-h">Offsets the event source skipped</h2><div id="skips"></div></section>
  <section aria-labelledby="es-h"><h2 id="es-h">Event source mappings</h2><div id="event-sources"></div></section>
</main>
<div id="operation" class="operation" data-testid="operation-status" role="status" aria-live="polite"></div>
<dialog id="dialog" data-testid="confirm-dialog" aria-labelledby="dialog-title">
  <form method="dialog">
    <h2 id="dialog-title"></h2>
    <div id="dialog-body"></div>
    <div class="actions">
      <button type="submit" value="cancel" id="cancel" data-testid="cancel">Cancel</button>
      <button type="submit" value="confirm" id="confirm" data-testid="confirm" class="primary">Confirm</button>
    </div>
  </form>
</dialog>
`;

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The page: one HTML document, UTF-8. Serve it at `GET /` of the admin API with {@link STATUS_PAGE_HEADERS}. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tidemark status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;

/**
 * The headers to serve {@link STATUS_PAGE_HTML} with: its content type, and a Content-Security-Policy that allows
 * exactly its own inline script and style (by hash) and same-origin `fetch`, so even a value that slipped past
 * escaping could not run or load anything.
 */
export const STATUS_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': [
    "default-src 'none'",
    `script-src ${sha256(SCRIPT)}`,
    // Segment widths are set from script through the CSSOM, which style-src does not restrict; the markup has no
    // style attributes.
    `style-src ${sha256(STYLE)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
});
