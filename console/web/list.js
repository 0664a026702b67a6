// The work list: inbound and outbound referrals, filters, emergencies on top
// with their countdown, live updates from /api/events.
import { t, enumLabel, enumValues } from './texts.js';
import { h, clear, field, select, timeEl, alertBox, errorWords } from './ui.js';
import { api } from './api.js';
import { session, onServerEvent, announce, isOperator, personAway } from './state.js';
import { isOverdue, isNear, isEmergency, countdownText, secondsLeft } from './alarm.js';

const filters = { direction: '', state: '', urgency: '', q: '', overdue: false };
const URGENCY_SHORT = (u) => u.replace(/^URGENCY_/, '');

export function directionOf(s) {
  const node = session.me?.node;
  if (s.originNode === node) return 'out';
  if (s.destinationNode === node) return 'in';
  return 'via';
}

function matches(s) {
  if (filters.state && s.state !== filters.state) return false;
  if (filters.urgency && URGENCY_SHORT(s.urgency || '') !== filters.urgency) return false;
  if (filters.direction === 'INBOUND' && directionOf(s) === 'out') return false;
  if (filters.direction === 'OUTBOUND' && directionOf(s) !== 'out') return false;
  if (filters.overdue && !isOverdue(s)) return false;
  const q = filters.q.trim().toLowerCase();
  if (q && !(s.referralId.startsWith(q) || s.originNode === q || s.destinationNode === q)) return false;
  return true;
}

// Overdue emergencies first (earliest deadline first), then those due soon,
// then the rest, most recently updated first.
function order(a, b) {
  const rank = (s) => (isOverdue(s) ? 0 : isNear(s) ? 1 : 2);
  const ra = rank(a); const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra < 2) return (secondsLeft(a) ?? 0) - (secondsLeft(b) ?? 0);
  return Date.parse(b.updatedAt || 0) - Date.parse(a.updatedAt || 0);
}

function row(s) {
  const overdue = isOverdue(s);
  const near = isNear(s);
  const dir = directionOf(s);
  const cls = overdue ? 'row-overdue' : near ? 'row-near' : '';
  return h('tr', { class: cls, 'data-id': s.referralId, 'data-state': s.state },
    h('th', { scope: 'row' }, h('a', { href: `#/referral/${s.referralId}`, class: 'mono' }, s.referralId)),
    h('td', {}, t(dir === 'in' ? 'dirIn' : dir === 'out' ? 'dirOut' : 'dirVia')),
    h('td', {}, isEmergency(s)
      ? h('span', { class: 'badge badge-emergency' }, enumLabel('Urgency', s.urgency))
      : enumLabel('Urgency', s.urgency)),
    h('td', { class: 'state' }, enumLabel('ReferralState', s.state)),
    h('td', {}, s.originNode),
    h('td', {}, s.destinationNode),
    h('td', {}, timeEl(s.updatedAt)),
    h('td', {}, s.ackDeadline && isEmergency(s)
      ? [timeEl(s.ackDeadline), (overdue || near)
        ? [' ', h('strong', { class: overdue ? 'countdown overdue' : 'countdown', 'data-id': s.referralId },
          overdue ? `${t('overdueMark')} — ` : '', countdownText(s))]
        : null]
      : t('none')));
}

export async function renderList(main) {
  const partner = !isOperator();
  const heading = h('h1', { tabindex: '-1', id: 'list-h' }, t(partner ? 'listTitlePartner' : 'listTitle'));
  const dirSel = select([['', t('filterAll')], ['INBOUND', t('direction.INBOUND')], ['OUTBOUND', t('direction.OUTBOUND')]],
    { id: 'filter-direction', value: filters.direction });
  const stateSel = select([['', t('filterAll')], ...Object.keys(enumLabelsOf('ReferralState')).map((v) => [v, enumLabel('ReferralState', v)])],
    { id: 'filter-state', value: filters.state });
  const urgSel = select([['', t('filterAll')], ...enumValues.Urgency.map((v) => [URGENCY_SHORT(v), enumLabel('Urgency', v)])],
    { id: 'filter-urgency', value: filters.urgency });
  const q = h('input', { type: 'search', id: 'filter-q', value: filters.q, autocomplete: 'off' });
  const overdue = h('input', { type: 'checkbox', id: 'filter-overdue' });
  overdue.checked = filters.overdue;
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('filters') },
    field(t('filterDirection'), dirSel).wrap,
    field(t('filterState'), stateSel).wrap,
    field(t('filterUrgency'), urgSel).wrap,
    field(t('filterQuery'), q).wrap,
    h('div', { class: 'check' }, overdue, h('label', { for: 'filter-overdue' }, t('filterOverdue'))),
    h('button', { type: 'submit', class: 'secondary' }, t('applyFilters')));
  const status = h('div', { id: 'list-status' });
  const count = h('p', { id: 'list-count', class: 'muted', 'aria-live': 'polite' });
  const tableHolder = h('div', { class: 'table-wrap' });
  clear(main, h('section', { 'aria-labelledby': 'list-h' }, heading, form, status, count, tableHolder));

  let items = [];
  const draw = () => {
    const shown = items.filter(matches).sort(order);
    count.textContent = t('referralsCount', { n: shown.length });
    if (!shown.length) { clear(tableHolder, h('p', { id: 'no-referrals' }, t('noReferrals'))); return; }
    clear(tableHolder, h('table', { id: 'referrals', class: 'list' },
      h('caption', { class: 'visually-hidden' }, heading.textContent),
      h('thead', {}, h('tr', {}, ['colId', 'colDirection', 'colUrgency', 'colState', 'colOrigin', 'colDestination', 'colUpdated', 'colDeadline']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, shown.map(row))));
  };
  const load = async () => {
    try {
      const res = await api.list({
        direction: filters.direction, state: filters.state, urgency: filters.urgency,
        q: filters.q.trim(), overdue: filters.overdue ? '1' : '',
      });
      items = res.referrals || [];
      clear(status);
      draw();
    } catch (e) {
      clear(status, alertBox(errorWords(e)));
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    Object.assign(filters, {
      direction: dirSel.value, state: stateSel.value, urgency: urgSel.value, q: q.value, overdue: overdue.checked,
    });
    load();
  });

  let pending = null;
  const stop = onServerEvent((ev) => {
    const s = ev.referral;
    if (s) {
      const i = items.findIndex((x) => x.referralId === s.referralId);
      if (i >= 0) items[i] = s; else items.push(s);
      draw();
      announce(t('liveUpdated', { id: s.referralId, state: enumLabel('ReferralState', s.state) }));
    }
    // And ask again shortly, for what the event does not carry.
    clearTimeout(pending);
    if (!personAway()) pending = setTimeout(load, 400);
  });
  const tick = setInterval(() => {
    for (const el of tableHolder.querySelectorAll('.countdown')) {
      const s = items.find((x) => x.referralId === el.dataset.id);
      if (s) el.textContent = (isOverdue(s) ? `${t('overdueMark')} — ` : '') + countdownText(s);
    }
    // A deadline that passes while the page is open moves the row up.
    if (items.some((s) => isEmergency(s) && !s.overdue && isOverdue(s) && !tableHolder.querySelector(`tr.row-overdue[data-id="${s.referralId}"]`))) draw();
  }, 1000);
  // Live events update the list; a quiet refresh catches up on any missed
  // while the connection was being re-established.
  const poll = setInterval(() => { if (!personAway()) load(); }, 30000);
  await load();
  heading.focus();
  return () => { stop(); clearInterval(tick); clearInterval(poll); clearTimeout(pending); };
}

function enumLabelsOf(name) {
  return Object.fromEntries(enumValues[name].map((v) => [v, true]));
}
