// Service requests (a linguistic-cultural mediator, an identification
// interview) and the node's roster: the list with a state filter, a new
// request, one request with its timeline and the one next step its state
// allows, and the roster (opaque codes only, never names).
//   #/services            the list
//   #/services/new        a new request
//   #/services/roster     the roster: list, add, edit
//   #/service/<id>        one request
// The node is the authority: the page checks what it can first, then shows
// the node's refusal next to the field it names.
import { t, enumLabel, enumValues } from './texts.js';
import {
  h, clear, field, select, timeEl, alertBox, errorWords, setFieldError, clearFieldErrors,
} from './ui.js';
import { api } from './api.js';
import { navigate, announce } from './state.js';

const filters = { state: '' };
const opts = (name) => [['', t('choose')], ...enumValues[name].map((v) => [v, enumLabel(name, v)])];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LANGUAGE = /^[a-z]{3}$/;
const PROVINCE = /^[A-Z]{2}$/;
const ROSTER_CODE = /^[A-Z0-9-]{1,32}$/;
const bytes = (s) => new TextEncoder().encode(s).length;
const set = (v) => v && !/_UNSPECIFIED$/.test(v);

// "window_end" or "request.window_end" -> "windowEnd"; "languages[1]" -> "languages".
const camel = (name) => String(name || '').replace(/^(request|entry)\./, '').replace(/\[\d+\]$/, '')
  .replace(/_([a-z])/g, (_, c) => c.toUpperCase());

// <input type=datetime-local> (this computer's time) -> RFC 3339 UTC.
function isoOf(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace(/\.\d+Z$/, 'Z');
}

function windowText(s) {
  return [timeEl(s.windowStart), ' – ', timeEl(s.windowEnd)];
}

function summaryRow(s) {
  return h('tr', { 'data-id': s.requestId, 'data-state': s.state },
    h('th', { scope: 'row' }, h('a', { href: `#/service/${s.requestId}`, class: 'mono' }, s.requestId.slice(0, 8))),
    h('td', { class: 'state' }, enumLabel('ServiceRequestState', s.state)),
    h('td', {}, enumLabel('ServiceKind', s.kind)),
    h('td', {}, s.language || t('none')),
    h('td', {}, enumLabel('Attendance', s.attendance)),
    h('td', {}, s.province || t('none')),
    h('td', {}, windowText(s)),
    h('td', {}, s.rosterCode || (s.placedWith ? t('atNode', { node: s.placedWith }) : t('none'))),
    h('td', {}, s.scheduledAt ? timeEl(s.scheduledAt) : t('none')),
    h('td', {}, timeEl(s.createdAt)));
}

export async function renderServices(main) {
  const heading = h('h1', { tabindex: '-1', id: 'services-h' }, t('srTitle'));
  const stateSel = select([['', t('filterAll')], ...enumValues.ServiceRequestState.map((v) => [v, enumLabel('ServiceRequestState', v)])],
    { id: 'services-filter-state', value: filters.state });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('filters') },
    field(t('filterState'), stateSel).wrap,
    h('button', { type: 'submit', class: 'secondary', id: 'services-filter-apply' }, t('applyFilters')));
  const status = h('div', { id: 'services-status' });
  const count = h('p', { id: 'services-count', class: 'muted', 'aria-live': 'polite' });
  const holder = h('div', { class: 'table-wrap' });
  clear(main, h('section', { 'aria-labelledby': 'services-h' }, heading,
    h('p', { class: 'buttons' },
      h('a', { href: '#/services/new', id: 'service-new-link', class: 'button-link' }, t('srNew')), ' ',
      h('a', { href: '#/services/roster', id: 'roster-link', class: 'button-link' }, t('roTitle'))),
    form, status, count, holder));
  const load = async () => {
    try {
      const res = await api.serviceRequests({ state: filters.state });
      const items = res.requests || [];
      count.textContent = t('srCount', { n: items.length });
      clear(status);
      if (!items.length) { clear(holder, h('p', { id: 'no-services' }, t('srNone'))); return; }
      clear(holder, h('table', { id: 'services', class: 'list' },
        h('caption', { class: 'visually-hidden' }, heading.textContent),
        h('thead', {}, h('tr', {}, ['srColId', 'colState', 'srColKind', 'srColLanguage', 'srColAttendance',
          'srColProvince', 'srColWindow', 'srColRoster', 'srColScheduled', 'srColCreated'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, items.map(summaryRow))));
    } catch (e) {
      clear(status, alertBox(errorWords(e)));
    }
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); filters.state = stateSel.value; load(); });
  await load();
  heading.focus();
}

// A refusal in words next to the field it names (when the form has it),
// and in the form's status line.
// A step out of order is about this request, not a referral: its own words.
function words(e) {
  if (e.reason !== 'INVALID_TRANSITION') return errorWords(e);
  return [t('srInvalidTransition'), e.serverMessage ? t('nodeSays', { message: e.serverMessage }) : ''].join(' ').trim();
}

function showRefusal(e, inputFor, out) {
  const target = e.field ? inputFor(camel(e.field)) : null;
  if (target) { setFieldError(target, words(e)); target.focus(); }
  clear(out, alertBox(t('refusedBecause', { words: words(e) })));
}

export function renderNewService(main) {
  const heading = h('h1', { tabindex: '-1', id: 'service-new-h' }, t('srNewTitle'));
  const f = {};
  const sel = (name, enumName, attrs = {}) => (f[name] = select(opts(enumName), { id: `svc-${name}`, name, ...attrs }));
  const inp = (name, attrs = {}) => (f[name] = h('input', { id: `svc-${name}`, name, autocomplete: 'off', ...attrs }));
  sel('kind', 'ServiceKind', { required: true, value: 'SERVICE_KIND_MEDIATOR' });
  sel('attendance', 'Attendance', { required: true, value: 'ATTENDANCE_IN_PERSON' });
  sel('venue', 'InterviewVenue');
  sel('gender', 'Gender');
  f.sameGenderWanted = h('input', { type: 'checkbox', id: 'svc-sameGenderWanted', name: 'sameGenderWanted' });
  f.notes = h('textarea', { id: 'svc-notes', name: 'notes', rows: '4' });
  const venue = field(t('srVenue'), f.venue, t('srVenueHelp'));
  const syncVenue = () => { venue.wrap.hidden = f.kind.value !== 'SERVICE_KIND_IDENTIFICATION_INTERVIEW'; };
  f.kind.addEventListener('change', syncVenue);
  const formStatus = h('div', { id: 'service-new-status' });
  const save = h('button', { type: 'submit', class: 'primary', id: 'service-save' }, t('srSave'));
  // One id per request being made: sending again after a lost answer
  // creates it once.
  let requestId = crypto.randomUUID();
  const form = h('form', { id: 'service-form', novalidate: true, 'aria-labelledby': 'service-new-h' },
    h('fieldset', {}, h('legend', {}, t('srSecWhat')),
      field(t('srKind'), f.kind).wrap,
      field(t('srLanguage'), inp('language', { type: 'text', maxlength: '3', spellcheck: 'false' }), t('srLanguageHelp')).wrap,
      venue.wrap,
      h('div', { class: 'check field' }, f.sameGenderWanted, h('label', { for: 'svc-sameGenderWanted' }, t('srSameGender'))),
      field(t('srGender'), f.gender, t('srGenderHelp')).wrap),
    h('fieldset', {}, h('legend', {}, t('srSecWhereWhen')),
      field(t('srAttendance'), f.attendance).wrap,
      field(t('srProvince'), inp('province', { type: 'text', maxlength: '2', autocapitalize: 'characters' }), t('srProvinceHelp')).wrap,
      field(t('srWindowStart'), inp('windowStart', { type: 'datetime-local' }), t('srLocalTime')).wrap,
      field(t('srWindowEnd'), inp('windowEnd', { type: 'datetime-local' }), t('srLocalTime')).wrap),
    h('fieldset', {}, h('legend', {}, t('srSecWho')),
      field(t('srReferral'), inp('referralId', { type: 'text', spellcheck: 'false', class: 'mono' }), t('srReferralHelp')).wrap,
      field(t('srRequester'), inp('requester', { type: 'text', maxlength: '200' }), t('srRequesterHelp')).wrap,
      field(t('srNotes'), f.notes, t('srNotesHelp')).wrap),
    h('div', { class: 'buttons' }, save),
    formStatus);
  syncVenue();
  clear(main, h('p', {}, h('a', { href: '#/services' }, t('srBack'))), heading, form);
  heading.focus();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    clear(formStatus);
    const errors = [];
    const bad = (el, msg) => { setFieldError(el, msg); errors.push(el); };
    const interview = f.kind.value === 'SERVICE_KIND_IDENTIFICATION_INTERVIEW';
    if (!f.kind.value) bad(f.kind, t('errRequired'));
    const language = f.language.value.trim().toLowerCase();
    if (!language && f.kind.value === 'SERVICE_KIND_MEDIATOR') bad(f.language, t('errRequired'));
    else if (language && !LANGUAGE.test(language)) bad(f.language, t('errLanguage'));
    if (interview && !f.venue.value) bad(f.venue, t('errRequired'));
    if (f.sameGenderWanted.checked && (!f.gender.value || f.gender.value === 'GENDER_UNKNOWN')) bad(f.gender, t('srErrGender'));
    if (!f.attendance.value) bad(f.attendance, t('errRequired'));
    const province = f.province.value.trim().toUpperCase();
    if (!province && f.attendance.value === 'ATTENDANCE_IN_PERSON') bad(f.province, t('errRequired'));
    else if (province && !PROVINCE.test(province)) bad(f.province, t('srErrProvince'));
    const start = isoOf(f.windowStart.value);
    const end = isoOf(f.windowEnd.value);
    if (!start) bad(f.windowStart, t('errRequired'));
    if (!end) bad(f.windowEnd, t('errRequired'));
    else if (start && Date.parse(end) <= Date.parse(start)) bad(f.windowEnd, t('srErrWindow'));
    const referral = f.referralId.value.trim().toLowerCase();
    if (referral && !UUID.test(referral)) bad(f.referralId, t('rErrReferralId'));
    if (bytes(f.requester.value) > 200) bad(f.requester, t('rErrBytes', { n: 200 }));
    if (bytes(f.notes.value) > 2000) bad(f.notes, t('rErrBytes', { n: 2000 }));
    if (errors.length) {
      clear(formStatus, alertBox(t('errFormHasErrors', { n: errors.length })));
      errors[0].focus();
      return;
    }
    const request = {
      kind: f.kind.value, attendance: f.attendance.value, windowStart: start, windowEnd: end,
      sameGenderWanted: f.sameGenderWanted.checked,
    };
    if (language) request.language = language;
    if (province) request.province = province;
    if (interview) request.venue = f.venue.value;
    if (f.gender.value) request.gender = f.gender.value;
    if (referral) request.referralId = referral;
    if (f.requester.value.trim()) request.requester = f.requester.value.trim();
    if (f.notes.value.trim()) request.notes = f.notes.value.trim();
    save.disabled = true;
    try {
      const view = await api.createServiceRequest(requestId, request);
      const id = view.summary?.requestId || requestId;
      requestId = crypto.randomUUID();
      announce(t('srCreated', { id }));
      navigate(`#/service/${id}`);
    } catch (e) {
      save.disabled = false;
      showRefusal(e, (name) => f[name] || null, formStatus);
    }
  });
}

function kv(label, value, attrs = {}) {
  return h('div', { class: 'kv' }, h('dt', {}, label), h('dd', attrs, value));
}

function eventWords(e) {
  const kind = e.kind || 'KIND_UNSPECIFIED';
  const parts = [t(`srEvent.${kind}`)];
  if (e.rosterCode) parts.push(e.rosterCode);
  if (e.scheduledAt) parts.push(h('span', {}, timeEl(e.scheduledAt)));
  if (set(e.outcome)) parts.push(enumLabel('ServiceOutcome', e.outcome));
  if (set(e.cancelReason)) parts.push(enumLabel('ServiceCancelReason', e.cancelReason));
  if (set(e.state)) parts.push(enumLabel('ServiceRequestState', e.state));
  if (e.node) parts.push(t('atNode', { node: e.node }));
  const out = [];
  parts.forEach((p, i) => { if (i) out.push(' · '); out.push(p); });
  return out;
}

// The one next step the state allows (and cancelling while it is open).
function stepForms(s, id, draw, roster, events) {
  const sections = [];
  const section = (key, title, ...kids) => sections.push(h('section', { class: 'card', id: `service-${key}`, 'aria-labelledby': `service-${key}-h` },
    h('h2', { id: `service-${key}-h` }, title), ...kids));
  const stepForm = (key, input, label, help, button, call, done) => {
    const out = h('div', { id: `service-${key}-status` });
    const form = h('form', { id: `service-${key}-form`, novalidate: true },
      field(label, input, help).wrap,
      h('div', { class: 'buttons' }, h('button', { type: 'submit', class: key === 'cancel' || key === 'recall' ? 'secondary' : 'primary', id: `service-${key}-save` }, button)),
      out);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      clear(out);
      const value = input.value.trim();
      if (!value) { setFieldError(input, t('errRequired')); input.focus(); return; }
      try {
        const next = await call(value);
        announce(done);
        // The form is gone with the step: focus goes back to the heading.
        await draw(next);
        document.getElementById('service-h')?.focus();
      } catch (e) {
        showRefusal(e, () => input, out);
      }
    });
    return form;
  };
  if (s.placedWith) {
    // Its steps are taken where it is served; from here it can only be recalled.
    sections.push(h('section', { class: 'card', id: 'service-placed', 'aria-labelledby': 'service-placed-h' },
      h('h2', { id: 'service-placed-h' }, t('srPlacedTitle')), h('p', {}, t('srPlacedNote', { node: s.placedWith }))));
    if (!['SERVICE_DONE', 'SERVICE_CANCELLED'].includes(s.state)) {
      // Already asked and not answered yet: say so, and let staff ask again.
      const asked = events.filter((e) => e.kind === 'CANCEL_ASKED').at(-1);
      const reason = select(opts('ServiceCancelReason'), { id: 'service-recall-reason', name: 'reason' });
      section('recall', t('srRecallTitle'),
        asked ? h('p', { id: 'service-recall-pending' }, t('srRecallPending', { node: s.placedWith }), ' ', timeEl(asked.at)) : null,
        stepForm('recall', reason, t('srCancelReason'), t('srRecallHelp', { node: s.placedWith }),
          t(asked ? 'srRecallAgain' : 'srRecallSave'),
          (v) => api.cancelService(id, v), t('srRecallAsked', { node: s.placedWith })));
    }
    return sections;
  }
  if (s.state === 'SERVICE_REQUESTED') {
    const available = roster.filter((e) => e.available);
    const code = select([['', t('choose')], ...available.map((e) => [e.code,
      `${e.code} · ${enumLabel('RosterKind', e.kind)}${e.languages?.length ? ` · ${e.languages.join(', ')}` : ''}${e.provinces?.length ? ` · ${e.provinces.join(', ')}` : ''}`])],
    { id: 'service-assign-code', name: 'rosterCode' });
    section('assign', t('srAssignTitle'),
      available.length ? null : h('p', { class: 'help', id: 'service-roster-empty' }, t('srRosterEmpty'), ' ', h('a', { href: '#/services/roster' }, t('roTitle'))),
      stepForm('assign', code, t('srAssignCode'), t('srAssignHelp'), t('srAssignSave'),
        (v) => api.assignService(id, v), t('srAssigned')));
  } else if (s.state === 'SERVICE_ASSIGNED') {
    const at = h('input', { type: 'datetime-local', id: 'service-schedule-at', name: 'at' });
    const form = stepForm('schedule', at, t('srScheduleAt'), t('srScheduleHelp'), t('srScheduleSave'),
      () => api.scheduleService(id, isoOf(at.value)), t('srScheduled'));
    section('schedule', t('srScheduleTitle'), form);
  } else if (s.state === 'SERVICE_SCHEDULED') {
    const outcome = select(opts('ServiceOutcome'), { id: 'service-complete-outcome', name: 'outcome' });
    section('complete', t('srCompleteTitle'),
      stepForm('complete', outcome, t('srOutcome'), '', t('srCompleteSave'), (v) => api.completeService(id, v), t('srCompleted')));
  }
  if (s.state === 'SERVICE_REQUESTED') {
    const node = h('input', { type: 'text', id: 'service-place-node', name: 'node', autocomplete: 'off', spellcheck: 'false' });
    section('place', t('srPlaceTitle'),
      stepForm('place', node, t('srPlaceNode'), t('srPlaceHelp'), t('srPlaceSave'),
        (v) => api.placeService(id, v.toLowerCase()), t('srPlaced')));
  }
  if (['SERVICE_REQUESTED', 'SERVICE_ASSIGNED', 'SERVICE_SCHEDULED'].includes(s.state)) {
    const reason = select(opts('ServiceCancelReason'), { id: 'service-cancel-reason', name: 'reason' });
    section('cancel', t('srCancelTitle'),
      stepForm('cancel', reason, t('srCancelReason'), '', t('srCancelSave'), (v) => api.cancelService(id, v), t('srCancelled')));
  }
  return sections;
}

export async function renderService(main, id) {
  const heading = h('h1', { tabindex: '-1', id: 'service-h' }, t('srOneTitle', { id: id.slice(0, 8) }));
  const status = h('div', { id: 'service-status' });
  clear(main, h('p', {}, h('a', { href: '#/services' }, t('srBack'))), heading, status);
  let view;
  let roster = [];
  try {
    view = await api.serviceRequest(id);
    if (view.summary?.state === 'SERVICE_REQUESTED') roster = (await api.roster()).entries || [];
  } catch (e) {
    clear(status, alertBox(errorWords(e)));
    heading.focus();
    return;
  }
  const draw = async (v) => {
    const s = v.summary || {};
    const r = v.request || {};
    if (s.state === 'SERVICE_REQUESTED' && !roster.length) {
      try { roster = (await api.roster()).entries || []; } catch { roster = []; }
    }
    const holder = h('div', { id: 'service-body' });
    holder.append(h('section', { class: 'card', 'aria-labelledby': 'service-sum-h' },
      h('h2', { id: 'service-sum-h' }, t('summary')),
      h('dl', { class: 'fields', id: 'service-summary' },
        kv(t('srColId'), s.requestId, { class: 'mono' }),
        kv(t('colState'), enumLabel('ServiceRequestState', s.state), { id: 'service-state', 'data-state': s.state }),
        kv(t('srKind'), enumLabel('ServiceKind', s.kind)),
        kv(t('srLanguage'), s.language || t('none')),
        set(r.venue) ? kv(t('srVenue'), enumLabel('InterviewVenue', r.venue)) : null,
        r.sameGenderWanted ? kv(t('srSameGender'), enumLabel('Gender', r.gender)) : null,
        kv(t('srAttendance'), enumLabel('Attendance', s.attendance)),
        kv(t('srProvince'), s.province || t('none')),
        kv(t('srColWindow'), windowText(s)),
        kv(t('srColCreated'), timeEl(s.createdAt)),
        kv(t('srOrigin'), s.originNode || t('none')),
        s.placedFrom ? kv(t('srPlacedFrom'), s.placedFrom, { id: 'service-placed-from' }) : null,
        s.placedWith ? kv(t('srPlacedWith'), s.placedWith, { id: 'service-placed-with' }) : null,
        s.rosterCode ? kv(t('srColRoster'), s.rosterCode, { id: 'service-roster-code' }) : null,
        s.scheduledAt ? kv(t('srColScheduled'), timeEl(s.scheduledAt), { id: 'service-scheduled-at' }) : null,
        set(s.outcome) ? kv(t('srOutcome'), enumLabel('ServiceOutcome', s.outcome)) : null,
        set(s.cancelReason) ? kv(t('srCancelReason'), enumLabel('ServiceCancelReason', s.cancelReason)) : null,
        s.referralId ? kv(t('colReferral'), h('a', { href: `#/referral/${s.referralId}`, class: 'mono' }, s.referralId)) : null)));
    holder.append(h('section', { class: 'card', 'aria-labelledby': 'service-who-h' },
      h('h2', { id: 'service-who-h' }, t('srSecWho')),
      h('dl', { class: 'fields', id: 'service-fields' },
        kv(t('srRequesterShown'), r.requester || t('none')),
        kv(t('srNotesShown'), r.notes || t('none'), { class: 'pre' }))));
    const events = [...(v.events || [])].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    for (const sec of stepForms(s, id, draw, roster, events)) holder.append(sec);
    holder.append(h('section', { class: 'card', 'aria-labelledby': 'service-tl-h' }, h('h2', { id: 'service-tl-h' }, t('timeline')),
      h('ol', { id: 'service-timeline', class: 'timeline' }, events.map((e) => h('li', { 'data-kind': e.kind },
        h('div', { class: 'event' }, h('strong', { class: 'event-state' }, eventWords(e)), ' — ', timeEl(e.at, true), ' ',
          h('span', { class: 'muted' }, t('by', { actor: e.actor || t('none') }))))))));
    const old = document.getElementById('service-body');
    if (old) old.replaceWith(holder); else main.append(holder);
  };
  await draw(view);
  heading.focus();
}

// The roster: opaque codes, the languages spoken and the provinces served in
// person; an entry is added, or replaced by one with its code.
export async function renderRoster(main) {
  const heading = h('h1', { tabindex: '-1', id: 'roster-h' }, t('roTitle'));
  const status = h('div', { id: 'roster-status' });
  const holder = h('div', { class: 'table-wrap' });
  const f = {
    code: h('input', { type: 'text', id: 'roster-code', name: 'code', maxlength: '32', autocomplete: 'off', spellcheck: 'false', class: 'mono' }),
    kind: select(opts('RosterKind'), { id: 'roster-kind', name: 'kind', value: 'ROSTER_MEDIATOR' }),
    languages: h('input', { type: 'text', id: 'roster-languages', name: 'languages', autocomplete: 'off', spellcheck: 'false' }),
    provinces: h('input', { type: 'text', id: 'roster-provinces', name: 'provinces', autocomplete: 'off', spellcheck: 'false' }),
    available: h('input', { type: 'checkbox', id: 'roster-available', name: 'available', checked: true }),
    gender: select(opts('Gender'), { id: 'roster-gender', name: 'gender' }),
  };
  const out = h('div', { id: 'roster-form-status' });
  const form = h('form', { id: 'roster-form', novalidate: true, 'aria-labelledby': 'roster-form-h' },
    h('h2', { id: 'roster-form-h' }, t('roFormTitle')),
    field(t('roCode'), f.code, t('roCodeHelp')).wrap,
    field(t('roKind'), f.kind).wrap,
    field(t('roLanguages'), f.languages, t('roLanguagesHelp')).wrap,
    field(t('roProvinces'), f.provinces, t('roProvincesHelp')).wrap,
    h('div', { class: 'check field' }, f.available, h('label', { for: 'roster-available' }, t('roAvailable'))),
    field(t('roGender'), f.gender, t('roGenderHelp')).wrap,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', id: 'roster-save' }, t('roSave'))),
    out);
  clear(main, h('p', {}, h('a', { href: '#/services' }, t('srBack'))),
    h('section', { 'aria-labelledby': 'roster-h' }, heading, h('p', { class: 'help' }, t('roIntro')), status, holder),
    h('section', { class: 'card' }, form));
  const list = (text) => text.split(/[\s,;]+/).filter(Boolean);
  const edit = (e) => {
    f.code.value = e.code;
    f.kind.value = e.kind;
    f.languages.value = (e.languages || []).join(', ');
    f.provinces.value = (e.provinces || []).join(', ');
    f.available.checked = !!e.available;
    f.gender.value = set(e.gender) ? e.gender : '';
    clearFieldErrors(form);
    clear(out);
    f.code.focus();
  };
  const load = async () => {
    try {
      const entries = (await api.roster()).entries || [];
      clear(status);
      if (!entries.length) { clear(holder, h('p', { id: 'no-roster' }, t('roNone'))); return; }
      clear(holder, h('table', { id: 'roster', class: 'list' },
        h('caption', { class: 'visually-hidden' }, heading.textContent),
        h('thead', {}, h('tr', {}, ['roCode', 'roKind', 'roLanguages', 'roProvinces', 'roAvailable', 'roGender', 'roEdit']
          .map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, entries.map((e) => h('tr', { 'data-code': e.code },
          h('th', { scope: 'row', class: 'mono' }, e.code),
          h('td', {}, enumLabel('RosterKind', e.kind)),
          h('td', {}, (e.languages || []).join(', ') || t('none')),
          h('td', {}, (e.provinces || []).join(', ') || t('none')),
          h('td', {}, e.available ? t('yes') : t('no')),
          h('td', {}, set(e.gender) ? enumLabel('Gender', e.gender) : t('none')),
          h('td', {}, h('button', {
            type: 'button', class: 'link-button', id: `roster-edit-${e.code}`,
            'aria-label': t('roEditLabel', { code: e.code }), onclick: () => edit(e),
          }, t('roEdit'))))))));
    } catch (e) {
      clear(status, alertBox(errorWords(e)));
    }
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    clear(out);
    const errors = [];
    const bad = (el, msg) => { setFieldError(el, msg); errors.push(el); };
    const code = f.code.value.trim().toUpperCase();
    if (!ROSTER_CODE.test(code)) bad(f.code, t('roErrCode'));
    if (!f.kind.value) bad(f.kind, t('errRequired'));
    const languages = list(f.languages.value.toLowerCase());
    if (languages.some((l) => !LANGUAGE.test(l))) bad(f.languages, t('errLanguage'));
    else if (!languages.length && f.kind.value === 'ROSTER_MEDIATOR') bad(f.languages, t('roErrLanguages'));
    const provinces = list(f.provinces.value.toUpperCase());
    if (provinces.some((p) => !PROVINCE.test(p))) bad(f.provinces, t('srErrProvince'));
    if (errors.length) {
      clear(out, alertBox(t('errFormHasErrors', { n: errors.length })));
      errors[0].focus();
      return;
    }
    const entry = { code, kind: f.kind.value, languages, provinces, available: f.available.checked };
    if (f.gender.value) entry.gender = f.gender.value;
    try {
      const saved = await api.putRoster(entry);
      announce(t('roSaved', { code: saved.code || code }));
      clear(out, alertBox(t('roSaved', { code: saved.code || code }), 'success'));
      await load();
    } catch (e) {
      showRefusal(e, (name) => f[name] || null, out);
    }
  });
  await load();
  heading.focus();
}
