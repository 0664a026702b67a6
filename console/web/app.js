// The console's page: hash routes, the header, the live event stream.
//   #/login            sign in (first time: import certificate and key)
//   #/list             work list
//   #/referral/<id>    one referral
//   #/new              new referral (operators)
//   #/dead-letters     dead letters (operators)
//   #/node             node status (operators)
//   #/reports          citizen reports (operators); #/reports/new, #/report/<id>
//   #/services         service requests (operators); #/services/new,
//                      #/services/roster, #/service/<id>
//   #/stats            the node's statistics (operators; the node refuses partners)
import { t, setLang, currentLang } from './texts.js';
import { h, clear, alertBox } from './ui.js';
import { api, setCsrf, setSessionExpiredHandler } from './api.js';
import { session, navigate, isOperator, emitServerEvent } from './state.js';
import { loadIdentity } from './keys.js';
import { renderLogin, logout } from './login.js';
import { renderList } from './list.js';
import { renderReferral } from './referral.js';
import { renderNew } from './newref.js';
import { renderDeadLetters, renderNode } from './admin.js';
import { renderReports, renderRecordReport, renderReport } from './reports.js';
import { renderStats } from './stats.js';
import { renderServices, renderNewService, renderService, renderRoster } from './services.js';
import { startAlarm, stopAlarm } from './alarm.js';

const main = document.getElementById('main');
let cleanup = null;
let events = null;
let eventsRetry = null;

function renderChrome() {
  document.title = t('appTitle');
  document.documentElement.lang = currentLang();
  const skip = document.getElementById('skip');
  clear(skip, t('skipToMain'));
  // Not a hash change: the hash is the router's.
  skip.onclick = (ev) => { ev.preventDefault(); main.focus(); };
  const lang = h('button', {
    type: 'button', id: 'lang-switch', class: 'link-button', lang: currentLang() === 'it' ? 'en' : 'it',
    'aria-label': t('langSwitchLabel'),
    onclick: () => { setLang(currentLang() === 'it' ? 'en' : 'it'); renderChrome(); route(); },
  }, t('langSwitch'));
  const header = document.getElementById('header');
  const me = session.me;
  const bar = [h('p', { class: 'brand' }, h('a', { href: me ? '#/list' : '#/login' }, 'MIR Exchange'),
    me ? h('span', { class: 'node-name' }, ` · ${me.node}`) : null)];
  if (me) {
    bar.push(h('p', { class: 'whoami', id: 'whoami' }, t('signedInAs', { identity: me.identity })));
  }
  bar.push(h('div', { class: 'header-buttons' }, lang,
    me ? h('button', { type: 'button', id: 'logout', class: 'link-button', onclick: () => logout() }, t('logout')) : null));
  clear(header, h('div', { class: 'bar' }, bar));
  const nav = document.getElementById('nav');
  if (!me) { clear(nav); nav.hidden = true; return; }
  nav.hidden = false;
  nav.setAttribute('aria-label', t('navMain'));
  const links = [['#/list', isOperator() ? 'navList' : 'navListPartner']];
  if (isOperator()) links.push(['#/new', 'navNew'], ['#/reports', 'navReports'], ['#/services', 'navServices'], ['#/stats', 'navStats'], ['#/dead-letters', 'navDeadLetters'], ['#/node', 'navNode']);
  clear(nav, h('ul', {}, links.map(([href, key]) => h('li', {}, h('a', { href, id: `nav-${href.slice(2)}` }, t(key))))));
  markCurrent();
}

function markCurrent() {
  const base = location.hash.split('/').slice(0, 2).join('/');
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === base) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function startEvents() {
  stopEvents();
  const status = document.getElementById('live-status');
  events = new EventSource('/api/events');
  events.onopen = () => { if (status) { status.textContent = t('liveOn'); status.dataset.live = 'on'; } };
  events.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch { return; }
    // How many events this tab received (the browser test reads it).
    try { sessionStorage.setItem('mir-events', String(Number(sessionStorage.getItem('mir-events') || 0) + 1)); } catch { /* not counted */ }
    emitServerEvent(ev);
  };
  events.onerror = async () => {
    if (status) { status.textContent = t('liveOff'); status.dataset.live = 'off'; }
    if (events && events.readyState === EventSource.CLOSED) {
      // Closed for good (e.g. the session ended): find out why, retry.
      stopEvents();
      try {
        await api.me();
        eventsRetry = setTimeout(startEvents, 3000);
      } catch (e) {
        if (e.reason === 'SESSION_EXPIRED' || e.status === 401) sessionExpired();
        else eventsRetry = setTimeout(startEvents, 3000);
      }
    }
  };
}

function stopEvents() {
  clearTimeout(eventsRetry);
  if (events) events.close();
  events = null;
}

function sessionExpired() {
  if (!session.me) return;
  session.me = null;
  setCsrf('');
  session.loginMessage = t('sessionExpired');
  navigate('#/login');
}
setSessionExpiredHandler(sessionExpired);

async function route() {
  if (cleanup) { try { cleanup(); } catch { /* the old view is gone */ } cleanup = null; }
  const hash = location.hash.startsWith('#/') ? location.hash : '#/list';
  const [, page, arg] = hash.split('/');
  if (!session.me) {
    stopEvents();
    stopAlarm();
    renderChrome();
    if (page !== 'login') { navigate('#/login'); return; }
    await renderLogin(main, {
      onSignedIn: () => {
        renderChrome();
        startEvents();
        startAlarm();
        navigate('#/list');
      },
    });
    return;
  }
  markCurrent();
  // A partner cannot make a referral; the node's operators-only calls (dead
  // letters, node status) are left to the node to refuse, in words.
  if (['new', 'reports', 'report', 'services', 'service'].includes(page) && !isOperator()) {
    clear(main, h('h1', { tabindex: '-1', id: 'denied-h' }, t('navList')), alertBox(t('operatorsOnly')));
    main.querySelector('h1').focus();
    return;
  }
  switch (page) {
    case 'login': navigate('#/list'); return;
    case 'list': cleanup = await renderList(main); return;
    case 'referral': cleanup = await renderReferral(main, decodeURIComponent(arg || '')); return;
    case 'new': renderNew(main); return;
    case 'dead-letters': await renderDeadLetters(main); return;
    case 'node': await renderNode(main); return;
    case 'stats': await renderStats(main); return;
    case 'reports':
      if (arg === 'new') renderRecordReport(main); else await renderReports(main);
      return;
    case 'report': await renderReport(main, decodeURIComponent(arg || '')); return;
    case 'services':
      if (arg === 'new') renderNewService(main);
      else if (arg === 'roster') await renderRoster(main);
      else await renderServices(main);
      return;
    case 'service': await renderService(main, decodeURIComponent(arg || '')); return;
    default:
      clear(main, h('h1', { tabindex: '-1' }, t('notFound')));
  }
}

// Each page's title names it (WCAG 2.4.2), after the route has drawn it.
function titleFromHeading() {
  const h1 = main.querySelector('h1');
  document.title = h1 ? `${h1.textContent} — ${t('appTitle')}` : t('appTitle');
}
new MutationObserver(titleFromHeading).observe(main, { childList: true, subtree: true, characterData: true });

async function start() {
  renderChrome();
  window.addEventListener('hashchange', route);
  // A session still open (a reload) goes on without signing in again.
  try {
    const me = await api.me();
    session.me = me;
    setCsrf(me.csrf);
    session.identity = await loadIdentity();
    if (!session.identity || session.identity.identity !== me.identity) {
      // The key that signs actions is not here: sign in again with it.
      session.me = null;
    }
  } catch {
    session.me = null;
  }
  renderChrome();
  if (session.me) { startEvents(); startAlarm(); }
  await route();
}

start();
