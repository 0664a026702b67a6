// The emergency alarm: an EMERGENCY_24H referral not taken into evaluation by
// its acknowledgement deadline (PROTOCOL.md §10.2) raises a banner and a
// sound (WebAudio, no file) on every page until the person acknowledges it.
import { t, enumLabel } from './texts.js';
import { h, clear, duration, timeEl, romeText } from './ui.js';
import { api } from './api.js';
import { session, onServerEvent, personAway } from './state.js';

const NEAR_S = 10 * 60;   // "due soon" within ten minutes
const ACK_KEY = 'mir-alarm-acked';

let emergencies = new Map();   // id -> ReferralSummary
let timer = null;
let poll = null;
let soundTimer = null;
let audio = null;
let stopEvents = null;

export function isEmergency(s) { return s?.urgency === 'URGENCY_EMERGENCY_24H'; }

function awaitingAck(s) { return s.state === 'SUBMITTED' || s.state === 'RECEIVED'; }

export function secondsLeft(s) {
  if (!s.ackDeadline) return null;
  return (Date.parse(s.ackDeadline) - Date.now()) / 1000;
}

// Overdue: the node says so, or the deadline has passed here meanwhile.
export function isOverdue(s) {
  if (!isEmergency(s) || !awaitingAck(s)) return false;
  if (s.overdue) return true;
  const left = secondsLeft(s);
  return left !== null && left <= 0;
}

export function isNear(s) {
  if (!isEmergency(s) || !awaitingAck(s) || isOverdue(s)) return false;
  const left = secondsLeft(s);
  return left !== null && left <= NEAR_S;
}

// "scade tra 4:12" / "scaduta da 0:35"
export function countdownText(s) {
  const left = secondsLeft(s);
  if (left === null) return isOverdue(s) ? t('overdueMark') : '';
  return left > 0 ? t('dueIn', { time: duration(left) }) : t('overdueBy', { time: duration(-left) });
}

function acked() {
  try { return new Set(JSON.parse(localStorage.getItem(ACK_KEY) || '[]')); } catch { return new Set(); }
}

function saveAcked(set) {
  try { localStorage.setItem(ACK_KEY, JSON.stringify([...set].slice(-500))); } catch { /* kept for this page only */ }
}

function unacknowledged() {
  const a = acked();
  return [...emergencies.values()].filter((s) => isOverdue(s) && !a.has(s.referralId));
}

// ---- sound ------------------------------------------------------------------

function ensureAudio() {
  try {
    if (!audio) audio = new AudioContext();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
  } catch { audio = null; }
}

function beep() {
  if (!audio || audio.state !== 'running') return;
  const now = audio.currentTime;
  for (const [i, freq] of [[0, 880], [1, 660], [2, 880]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'square';
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + i * 0.25);
    gain.gain.exponentialRampToValueAtTime(0.2, now + i * 0.25 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.25 + 0.2);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + i * 0.25);
    osc.stop(now + i * 0.25 + 0.22);
  }
}

function setSound(on) {
  const banner = document.getElementById('alarm-banner');
  if (on && !soundTimer) {
    ensureAudio();
    beep();
    soundTimer = setInterval(beep, 2000);
  } else if (!on && soundTimer) {
    clearInterval(soundTimer);
    soundTimer = null;
  }
  if (!banner) return;
  // 'on' only when the browser really plays it; 'blocked' until the page
  // has had a click or a key (browsers' autoplay rule), said in the banner.
  const playing = Boolean(audio && audio.state === 'running');
  banner.dataset.sound = !on ? 'off' : playing ? 'on' : 'blocked';
  const hint = banner.querySelector('.alarm-sound-hint');
  if (hint) hint.hidden = !on || playing;
}

// ---- banner -----------------------------------------------------------------

let shownIds = '';

function render() {
  const region = document.getElementById('alarm');
  if (!region) return;
  const list = unacknowledged().sort((a, b) => Date.parse(a.ackDeadline || 0) - Date.parse(b.ackDeadline || 0));
  const ids = list.map((s) => s.referralId).join(',');
  if (!list.length) {
    if (shownIds) { clear(region); shownIds = ''; }
    setSound(false);
    return;
  }
  if (ids !== shownIds) {
    shownIds = ids;
    const ack = h('button', { type: 'button', id: 'alarm-ack', class: 'alarm-ack' }, t('alarmAck'));
    ack.addEventListener('click', () => {
      const a = acked();
      for (const s of list) a.add(s.referralId);
      saveAcked(a);
      setSound(false);
      clear(region, h('p', { class: 'notice notice-info', role: 'status', id: 'alarm-acked' },
        t('alarmAcked', { time: romeText(new Date().toISOString(), true) })));
      shownIds = '';
      const main = document.getElementById('main');
      if (main) main.focus();
    });
    const banner = h('div', { id: 'alarm-banner', class: 'alarm-banner', role: 'region', 'aria-label': t('alarmTitle') },
      h('p', { class: 'alarm-title' }, h('span', { class: 'alarm-icon', 'aria-hidden': 'true' }, '⚠'), ' ', t('alarmTitle')),
      h('p', {}, t('alarmText')),
      h('ul', { class: 'alarm-list' }, list.map((s) => h('li', { 'data-id': s.referralId },
        h('a', { href: `#/referral/${s.referralId}` }, s.referralId), ' — ',
        `${s.originNode} → ${s.destinationNode}, ${enumLabel('ReferralState', s.state)}, `,
        h('strong', { class: 'countdown', 'data-id': s.referralId }, countdownText(s)),
        s.ackDeadline ? [' (', timeEl(s.ackDeadline, true), ')'] : null))),
      h('p', { class: 'alarm-sound-hint', hidden: true }, t('alarmSoundBlocked')),
      ack);
    clear(region, banner);
    // Announced once (assertive) when the set changes, not at every tick.
    const live = document.getElementById('alert-live');
    if (live) live.textContent = `${t('alarmTitle')}: ${list.map((s) => s.referralId).join(', ')}`;
  } else {
    for (const el of region.querySelectorAll('.countdown')) {
      const s = emergencies.get(el.dataset.id);
      if (s) el.textContent = countdownText(s);
    }
  }
  setSound(true);
}

export function emergencyList() { return [...emergencies.values()]; }

export async function refreshEmergencies({ background = false } = {}) {
  if (!session.me || (background && personAway())) return;
  try {
    const res = await api.list({ urgency: 'EMERGENCY_24H' });
    const next = new Map();
    for (const s of res.referrals || []) if (isEmergency(s)) next.set(s.referralId, s);
    emergencies = next;
    render();
  } catch { /* the list page shows errors; the alarm tries again */ }
}

export function updateEmergency(summary) {
  if (!summary || !isEmergency(summary)) return;
  emergencies.set(summary.referralId, summary);
  render();
}

export function startAlarm() {
  stopAlarm();
  document.addEventListener('pointerdown', ensureAudio, { capture: true });
  document.addEventListener('keydown', ensureAudio, { capture: true });
  ensureAudio();
  refreshEmergencies();
  timer = setInterval(render, 1000);
  poll = setInterval(() => refreshEmergencies({ background: true }), 15000);
  stopEvents = onServerEvent((ev) => { if (ev.referral) updateEmergency(ev.referral); });
}

export function stopAlarm() {
  clearInterval(timer);
  clearInterval(poll);
  timer = null;
  poll = null;
  if (stopEvents) stopEvents();
  stopEvents = null;
  setSound(false);
  emergencies = new Map();
  shownIds = '';
  const region = document.getElementById('alarm');
  if (region) clear(region);
}
