// Operators' pages: dead letters with requeue, and the node's status.
import { t } from './texts.js';
import { h, clear, timeEl, alertBox, errorWords, longDuration, romeText } from './ui.js';
import { api } from './api.js';
import { announce } from './state.js';

export async function renderDeadLetters(main) {
  const heading = h('h1', { tabindex: '-1', id: 'dead-h' }, t('deadTitle'));
  const status = h('div', { id: 'dead-status' });
  const holder = h('div', { class: 'table-wrap' }, h('p', {}, t('loading')));
  clear(main, h('section', { 'aria-labelledby': 'dead-h' }, heading, h('p', {}, t('deadIntro')), status, holder));
  heading.focus();

  const requeue = async (messageId) => {
    try {
      const res = await api.requeue(messageId);
      const msg = t('requeued', { n: Number(res.requeued || 0) });
      clear(status, alertBox(msg, 'success'));
      announce(msg);
      await load();
    } catch (e) {
      clear(status, alertBox(t('refusedBecause', { words: errorWords(e) })));
    }
  };
  const load = async () => {
    let res;
    try { res = await api.deadLetters(); } catch (e) { clear(holder, alertBox(errorWords(e))); return; }
    const rows = res.deadLetters || [];
    if (!rows.length) { clear(holder, h('p', { id: 'no-dead-letters' }, t('noDeadLetters'))); return; }
    clear(holder,
      h('table', { id: 'dead-letters', class: 'list' },
        h('caption', { class: 'visually-hidden' }, t('deadTitle')),
        h('thead', {}, h('tr', {}, ['colMessage', 'colReferral', 'colPeer', 'colAttempts', 'colQueued', 'colLastError', 'requeue']
          .map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, rows.map((d) => h('tr', { 'data-id': d.messageId },
          h('th', { scope: 'row', class: 'mono' }, d.messageId),
          h('td', {}, h('a', { href: `#/referral/${d.referralId}`, class: 'mono' }, d.referralId)),
          h('td', {}, d.peerNode),
          h('td', {}, String(d.attempts ?? 0)),
          h('td', {}, timeEl(d.enqueuedAt)),
          h('td', { class: 'wrap' }, d.lastError || t('none')),
          h('td', {}, h('button', {
            type: 'button', class: 'secondary', 'aria-label': `${t('requeue')} ${d.messageId}`, onclick: () => requeue(d.messageId),
          }, t('requeue'))))))),
      h('div', { class: 'buttons' }, h('button', { type: 'button', class: 'primary', id: 'requeue-all', onclick: () => requeue('') }, t('requeueAll'))));
  };
  await load();
}

export async function renderNode(main) {
  const heading = h('h1', { tabindex: '-1', id: 'node-h' }, t('navNode'));
  const holder = h('div', {}, h('p', {}, t('loading')));
  const refresh = h('button', { type: 'button', class: 'secondary', id: 'node-refresh' }, t('refresh'));
  clear(main, h('section', { 'aria-labelledby': 'node-h' }, heading, refresh, holder));
  heading.focus();

  const load = async () => {
    let n;
    try { n = await api.node(); } catch (e) { clear(holder, alertBox(errorWords(e))); return; }
    heading.textContent = t('nodeTitle', { node: n.nodeId || '' });
    const at = n.at || new Date().toISOString();
    const overdue = Number(n.emergenciesOverdue || 0);
    const kids = [h('p', { class: 'muted' }, t('nodeAt', { time: '' }), timeEl(at, true))];
    if (n.storeFailed) kids.push(alertBox(t('storeFailed')));
    else kids.push(h('p', { id: 'store-ok' }, t('storeOk')));
    if (overdue) kids.push(h('p', { class: 'notice notice-error', id: 'node-overdue' }, t('emergenciesOverdue', { n: overdue })));
    kids.push(h('h2', { id: 'peers-h' }, t('peers')),
      h('div', { class: 'table-wrap' }, h('table', { id: 'peers', class: 'list', 'aria-labelledby': 'peers-h' },
        h('thead', {}, h('tr', {}, ['colPeer', 'colReachable', 'colPending', 'colOldest', 'colDead', 'colDelivered']
          .map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, (n.peers || []).map((p) => {
          const reachable = Boolean(p.reachable);
          // Since the last change the node saw, or since the node started.
          const since = p.reachabilitySince || at;
          const oldest = Number(p.oldestPendingS || 0);
          return h('tr', { class: reachable ? '' : 'row-overdue', 'data-peer': p.peer },
            h('th', { scope: 'row' }, p.peer),
            h('td', {}, h('strong', {}, reachable ? t('reachableYes') : t('reachableNo')), ' ',
              h('span', { class: 'muted', title: since }, t('seenSince', { time: romeText(since) }))),
            h('td', {}, String(Number(p.pending || 0))),
            h('td', {}, oldest ? longDuration(oldest) : t('none')),
            h('td', {}, String(Number(p.deadLetters || 0))),
            h('td', {}, String(Number(p.delivered || 0))));
        })))),
      // Shown only while early messages wait (rare: one overtook another).
      (n.held || []).length ? [h('h2', { id: 'held-h' }, t('heldTitle')), h('p', { class: 'help' }, t('heldNote')),
        h('div', { class: 'table-wrap' }, h('table', { id: 'held', class: 'list', 'aria-labelledby': 'held-h' },
          h('thead', {}, h('tr', {}, ['colFromNode', 'colEarly', 'colOldest'].map((k) => h('th', { scope: 'col' }, t(k))))),
          h('tbody', {}, n.held.map((m) => h('tr', { 'data-node': m.node },
            h('th', { scope: 'row' }, m.node),
            h('td', {}, String(Number(m.count || 0))),
            h('td', {}, longDuration(Number(m.oldestS || 0))))))))] : null,
      h('h2', { id: 'certs-h' }, t('certificates')),
      h('div', { class: 'table-wrap' }, h('table', { id: 'certificates', class: 'list', 'aria-labelledby': 'certs-h' },
        h('thead', {}, h('tr', {}, ['colSubject', 'colExpires'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, (n.certificates || []).map((c) => {
          const left = Number(c.secondsLeft || 0);
          const expiry = new Date(Date.parse(at) + left * 1000).toISOString();
          return h('tr', { class: left < 0 ? 'row-overdue' : left < 30 * 86400 ? 'row-near' : '' },
            h('th', { scope: 'row' }, c.subject),
            h('td', {}, left < 0 ? h('strong', {}, t('expired')) : longDuration(left), ' (', timeEl(expiry), ')',
              left >= 0 && left < 30 * 86400 ? [' — ', h('strong', {}, t('renewSoon'))] : null));
        })))));
    clear(holder, kids);
  };
  refresh.addEventListener('click', load);
  await load();
}
