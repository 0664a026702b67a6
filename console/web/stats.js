// The node's statistics (operators; the node refuses partners): a period in
// days of Europe/Rome (`to` not included, as `mirctl stats`), every table
// of docs/STATISTICS.md as an HTML table with a bar chart of its row totals
// drawn here as SVG (no library, no inline style: the page's CSP), each
// table's CSV as the node rendered it, the time to placement, and the raw
// internal counts on request, marked as not for publication.
//   #/stats
import { t, currentLang } from './texts.js';
import { h, clear, field, alertBox, errorWords, setFieldError, clearFieldErrors, romeDate, timeEl } from './ui.js';
import { api } from './api.js';
import { announce } from './state.js';

const SVG = 'http://www.w3.org/2000/svg';
const DAY = /^\d{4}-\d{2}-\d{2}$/;

function s(tag, attrs = {}, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const k of kids) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}

function romeYear() {
  return new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Rome', year: 'numeric' }).format(new Date());
}

const number = (n) => new Intl.NumberFormat(currentLang() === 'en' ? 'en-GB' : 'it-IT').format(n);

// A count: its value, or "*" with the words for screen readers.
function cellContent(cell) {
  if (!cell || cell.hidden) {
    return [h('span', { 'aria-hidden': 'true' }, '*'), h('span', { class: 'visually-hidden' }, t('stHidden'))];
  }
  return number(Number(cell.value || 0));
}

const cellClass = (cell) => (!cell || cell.hidden ? 'num hidden-count' : 'num');

function countTable(table) {
  const columns = table.columnLabels || [];
  const one = columns.length === 1;
  return h('div', { class: 'table-wrap' }, h('table', { class: 'list stats-table', id: `stats-table-${table.name}`, 'data-name': table.name },
    h('caption', {}, table.title),
    h('thead', {}, h('tr', {},
      h('td', {}),
      columns.map((c) => h('th', { scope: 'col', class: 'num' }, c)),
      one ? null : h('th', { scope: 'col', class: 'num' }, t('stTotal')))),
    h('tbody', {}, (table.rows || []).map((r) => h('tr', {},
      h('th', { scope: 'row' }, r.label),
      (r.cells || []).map((c) => h('td', { class: cellClass(c) }, cellContent(c))),
      one ? null : h('td', { class: cellClass(r.total) }, cellContent(r.total))))),
    h('tfoot', {}, h('tr', {},
      h('th', { scope: 'row' }, t('stTotal')),
      one ? null : (table.columnTotals || []).map((c) => h('td', { class: cellClass(c) }, cellContent(c))),
      h('td', { class: cellClass(table.grandTotal) }, cellContent(table.grandTotal))))));
}

// Horizontal bars of the row totals; a hidden total has no bar, only "*".
function barChart(table) {
  const rows = table.rows || [];
  const titleId = `stats-chart-${table.name}-title`;
  const labelW = 200;
  const barW = 420;
  const rowH = 22;
  const height = Math.max(1, rows.length) * rowH + 8;
  const max = Math.max(1, ...rows.map((r) => (r.total && !r.total.hidden ? Number(r.total.value || 0) : 0)));
  const svg = s('svg', {
    class: 'stats-chart', viewBox: `0 0 ${labelW + barW + 70} ${height}`, role: 'img', 'aria-labelledby': titleId,
    'data-name': table.name, preserveAspectRatio: 'xMinYMin meet',
  }, s('title', { id: titleId }, t('stChartTitle', { title: table.title })));
  if (!rows.length) {
    svg.append(s('text', { x: 0, y: 16, class: 'chart-label' }, t('stNoRows')));
    return svg;
  }
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    const label = r.label.length > 28 ? `${r.label.slice(0, 27)}…` : r.label;
    svg.append(s('text', { x: labelW - 6, y: y + 14, class: 'chart-label', 'text-anchor': 'end' }, label));
    if (!r.total || r.total.hidden) {
      svg.append(s('text', { x: labelW + 4, y: y + 14, class: 'chart-value' }, '*'));
      return;
    }
    const v = Number(r.total.value || 0);
    const w = v > 0 ? Math.max(2, Math.round((v / max) * barW)) : 0;
    if (w) svg.append(s('rect', { x: labelW, y: y + 2, width: w, height: rowH - 6, class: 'chart-bar' }));
    svg.append(s('text', { x: labelW + w + 4, y: y + 14, class: 'chart-value' }, number(v)));
  });
  return svg;
}

function fileName(stats, table) {
  const day = (iso) => (iso || '').slice(0, 10);
  return `${stats.nodeId}-${table.name}-${day(stats.from)}-${day(stats.to)}${stats.suppressed ? '' : '-internal'}.csv`;
}

// The table's CSV, as the node rendered it; raw counts with the marker
// line `mirctl stats --csv` writes.
function download(stats, table) {
  const text = stats.suppressed ? table.csv : `# internal, not for publication\n${table.csv}`;
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = h('a', { href: url, download: fileName(stats, table), hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  announce(t('stDownloaded', { file: fileName(stats, table) }));
}

function timeToPlacement(ttp) {
  const x = ttp || {};
  const items = [[t('stTtpN'), x.nHidden ? cellContent({ hidden: true }) : number(Number(x.n || 0))]];
  if (x.published) {
    items.push([t('stTtpMedian'), t('stHours', { n: number(Math.round(Number(x.medianHours || 0) * 10) / 10) })],
      [t('stTtpP90'), t('stHours', { n: number(Math.round(Number(x.p90Hours || 0) * 10) / 10) })]);
  }
  return h('section', { class: 'card', 'aria-labelledby': 'stats-ttp-h', id: 'stats-ttp' },
    h('h2', { id: 'stats-ttp-h' }, t('stTtpTitle')),
    h('p', {}, t('stTtpIntro')),
    h('dl', { class: 'fields' }, items.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    x.published ? null : h('p', { id: 'stats-ttp-unpublished' }, t('stTtpNotPublished')));
}

// National statistics: which node's months were summed, so a missing one shows.
function coverage(reports) {
  const months = new Map();
  reports.forEach((r) => months.set(r.nodeId, (months.get(r.nodeId) || 0) + 1));
  const items = [...months.keys()].sort().map((node) => h('li', {}, t('stCoverageNode', { node, n: months.get(node) })));
  return h('section', { class: 'card', 'aria-labelledby': 'stats-coverage-h', id: 'stats-coverage' },
    h('h2', { id: 'stats-coverage-h' }, t('stCoverageTitle')),
    items.length ? h('ul', {}, items) : h('p', {}, t('stCoverageNone')));
}

function renderResult(holder, stats) {
  const to = new Date(stats.to);
  const lastDay = new Date(to.getTime() - 12 * 3600 * 1000).toISOString();
  const parts = [
    h('p', { id: 'stats-period' },
      t(stats.national ? 'stNationalPeriod' : 'stPeriod', { node: stats.nodeId, from: romeDate(stats.from), to: romeDate(lastDay) }),
      ' ', h('span', { class: 'muted' }, t('stAt'), ' ', timeEl(stats.at))),
  ];
  if (stats.national) parts.push(coverage(stats.reports || []));
  if (stats.suppressed) {
    parts.push(h('p', { id: 'stats-legend', class: 'notice notice-info' }, t('stLegend', { k: stats.k || 11 })));
  } else {
    parts.push(h('div', { id: 'stats-raw-warning', class: 'notice notice-warning', role: 'status' }, t('stRawWarning')));
  }
  (stats.tables || []).forEach((table) => {
    const hid = `stats-${table.name}-h`;
    parts.push(h('section', { class: 'card stats-section', 'aria-labelledby': hid, id: `stats-${table.name}` },
      h('h2', { id: hid }, table.title),
      table.description ? h('p', { class: 'muted' }, table.description) : null,
      barChart(table),
      countTable(table),
      h('div', { class: 'buttons' }, h('button', {
        type: 'button', class: 'secondary', id: `stats-csv-${table.name}`,
        'aria-label': t('stCsvFor', { title: table.title }), onclick: () => download(stats, table),
      }, t('stCsv')))));
  });
  if (!stats.national) parts.push(timeToPlacement(stats.timeToPlacement));
  clear(holder, parts);
}

export async function renderStats(main) {
  const heading = h('h1', { tabindex: '-1', id: 'stats-h' }, t('stTitle'));
  const from = h('input', { type: 'date', id: 'stats-from', name: 'from', value: `${romeYear()}-01-01` });
  const to = h('input', { type: 'date', id: 'stats-to', name: 'to' });
  const raw = h('input', { type: 'checkbox', id: 'stats-raw', name: 'raw' });
  const national = h('input', { type: 'checkbox', id: 'stats-national', name: 'national' });
  const form = h('form', { class: 'filters', id: 'stats-form', 'aria-label': t('stPeriodLabel'), novalidate: true },
    field(t('stFrom'), from).wrap,
    field(t('stTo'), to, t('stToHelp')).wrap,
    h('div', { class: 'check national-toggle' }, national, h('label', { for: 'stats-national' }, t('stNational'))),
    h('div', { class: 'check raw-toggle' }, raw, h('label', { for: 'stats-raw' }, t('stRaw'))),
    h('button', { type: 'submit', class: 'primary', id: 'stats-show' }, t('stShow')));
  const status = h('div', { id: 'stats-status' });
  const holder = h('div', { id: 'stats-result', 'aria-live': 'polite', 'aria-busy': 'false' });
  clear(main, h('section', { 'aria-labelledby': 'stats-h' }, heading, h('p', {}, t('stIntro')), form, status, holder));
  heading.focus();

  const load = async () => {
    clearFieldErrors(form);
    clear(status);
    for (const input of [from, to]) {
      if (input.value && !DAY.test(input.value)) { setFieldError(input, t('stBadDay')); input.focus(); return; }
    }
    holder.setAttribute('aria-busy', 'true');
    clear(holder, h('p', {}, t('loading')));
    try {
      const stats = await api.statistics({
        from: from.value, to: to.value, raw: raw.checked ? '1' : '', national: national.checked ? '1' : '',
      });
      renderResult(holder, stats);
      announce(t('stShown'));
    } catch (e) {
      clear(holder);
      const input = e.field === 'from' ? from : e.field === 'to' ? to : null;
      if (input) { setFieldError(input, t('stBadDay')); input.focus(); }
      clear(status, alertBox(e.reason === 'ROLE_NOT_ALLOWED' ? t('stRefused') : errorWords(e)));
    } finally {
      holder.setAttribute('aria-busy', 'false');
    }
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  await load();
}
