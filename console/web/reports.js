// Citizen reports ("Segnala"): the list with a state filter, recording a
// contact taken by phone, e-mail or in person, and one report with its
// timeline, triage (optionally sent on to another node), the referral it
// became, and its reporter's contact shown only on an explicit click.
//   #/reports            the list
//   #/reports/new        record a contact
//   #/report/<id>        one report
import { t, enumLabel, enumValues } from './texts.js';
import {
  h, clear, field, select, checkboxGroup, timeEl, alertBox, errorWords, setFieldError, clearFieldErrors,
} from './ui.js';
import { api } from './api.js';
import { navigate, announce } from './state.js';

const filters = { state: 'REPORT_RECEIVED' };
const opts = (name) => [['', t('choose')], ...enumValues[name].map((v) => [v, enumLabel(name, v)])];

// The 112 reminder, shown the moment "immediate danger" is ticked.
function dangerNotice(id) {
  return h('div', { id, class: 'notice notice-error danger-112', role: 'alert', hidden: true }, t('rCall112'));
}

const triageLabel = (v) => (!v || v === 'TRIAGE_UNSPECIFIED' ? t('rNotTriaged') : enumLabel('Triage', v));

function summaryRow(s) {
  return h('tr', { 'data-id': s.reportId, 'data-state': s.state },
    h('th', { scope: 'row' }, h('a', { href: `#/report/${s.reportId}`, class: 'mono' }, s.reportId.slice(0, 8))),
    h('td', {}, timeEl(s.recordedAt)),
    h('td', { class: 'state' }, enumLabel('ReportState', s.state)),
    h('td', {}, triageLabel(s.triage)),
    h('td', {}, enumLabel('ContactChannel', s.channel)),
    h('td', {}, enumLabel('ReporterType', s.reporterType)),
    h('td', {}, s.province || t('none')),
    h('td', {}, s.immediateDanger ? h('span', { class: 'badge badge-emergency' }, t('rDangerShort')) : '',
      s.minorsSuspected ? [' ', h('span', { class: 'badge badge-minors' }, t('rMinorsShort'))] : ''),
    h('td', {}, s.routedTo || (s.originNode && s.originNode !== '' ? s.originNode : t('none'))),
    h('td', {}, s.referralId ? h('a', { href: `#/referral/${s.referralId}`, class: 'mono' }, s.referralId.slice(0, 8)) : t('none')));
}

export async function renderReports(main) {
  const heading = h('h1', { tabindex: '-1', id: 'reports-h' }, t('rTitle'));
  const stateSel = select([['', t('filterAll')], ...enumValues.ReportState.map((v) => [v, enumLabel('ReportState', v)])],
    { id: 'reports-filter-state', value: filters.state });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('filters') },
    field(t('filterState'), stateSel).wrap,
    h('button', { type: 'submit', class: 'secondary' }, t('applyFilters')));
  const status = h('div', { id: 'reports-status' });
  const count = h('p', { id: 'reports-count', class: 'muted', 'aria-live': 'polite' });
  const holder = h('div', { class: 'table-wrap' });
  clear(main, h('section', { 'aria-labelledby': 'reports-h' }, heading,
    h('p', {}, h('a', { href: '#/reports/new', id: 'report-new-link', class: 'button-link' }, t('rNew'))),
    form, status, count, holder));
  const load = async () => {
    try {
      const res = await api.reports({ state: filters.state });
      const items = res.reports || [];
      count.textContent = t('rCount', { n: items.length });
      clear(status);
      if (!items.length) { clear(holder, h('p', { id: 'no-reports' }, t('rNone'))); return; }
      clear(holder, h('table', { id: 'reports', class: 'list' },
        h('caption', { class: 'visually-hidden' }, heading.textContent),
        h('thead', {}, h('tr', {}, ['rColId', 'rColRecorded', 'colState', 'rColTriage', 'rColChannel', 'rColReporter',
          'rColProvince', 'rColFlags', 'rColWhere', 'colReferral'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, items.map(summaryRow))));
    } catch (e) {
      clear(status, alertBox(errorWords(e)));
    }
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); filters.state = stateSel.value; load(); });
  await load();
  heading.focus();
}

// Recording a contact taken by staff.
export function renderRecordReport(main) {
  const heading = h('h1', { tabindex: '-1', id: 'report-new-h' }, t('rNewTitle'));
  const f = {};
  const sel = (name, enumName, attrs = {}) => {
    f[name] = select(opts(enumName), { id: `rep-${name}`, name, ...attrs });
    return f[name];
  };
  const inp = (name, attrs = {}) => (f[name] = h('input', { id: `rep-${name}`, name, autocomplete: 'off', ...attrs }));
  const channels = enumValues.ContactChannel.filter((v) => v !== 'CHANNEL_WEB_FORM');
  f.channel = select([['', t('choose')], ...channels.map((v) => [v, enumLabel('ContactChannel', v)])],
    { id: 'rep-channel', name: 'channel', required: true, value: 'CHANNEL_PHONE' });
  const exploitation = checkboxGroup(t('rExploitation'), enumValues.ExploitationType.map((v) => [v, enumLabel('ExploitationType', v)]), 'suspectedExploitation');
  const danger = h('input', { type: 'checkbox', id: 'rep-immediateDanger', name: 'immediateDanger' });
  const notice = dangerNotice('rep-danger-112');
  danger.addEventListener('change', () => { notice.hidden = !danger.checked; });
  const minors = h('input', { type: 'checkbox', id: 'rep-minorsSuspected', name: 'minorsSuspected' });
  const description = h('textarea', { id: 'rep-description', name: 'description', rows: '6' });
  const contact = inp('contact', { type: 'text', maxlength: '200' });
  const formStatus = h('div', { id: 'report-new-status' });
  const save = h('button', { type: 'submit', class: 'primary', id: 'report-save' }, t('rSave'));
  // One id per report being recorded: sending again after a lost answer
  // records it once.
  let reportId = crypto.randomUUID();
  const form = h('form', { id: 'report-form', novalidate: true, 'aria-labelledby': 'report-new-h' },
    h('div', { class: 'check field' }, danger, h('label', { for: 'rep-immediateDanger' }, t('rDanger'))),
    notice,
    h('fieldset', {}, h('legend', {}, t('rSecContact')),
      field(t('rChannel'), f.channel).wrap,
      field(t('rReporter'), sel('reporterType', 'ReporterType', { required: true })).wrap,
      field(t('rReason'), sel('reason', 'ContactReason', { required: true })).wrap,
      field(t('rLanguage'), inp('language', { type: 'text', maxlength: '3', value: 'ita', spellcheck: 'false' }), t('rLanguageHelp')).wrap),
    h('fieldset', {}, h('legend', {}, t('rSecWhat')),
      exploitation.wrap,
      field(t('rPersons'), inp('persons', { type: 'number', min: '0', max: '1000', inputmode: 'numeric' })).wrap,
      h('div', { class: 'check' }, minors, h('label', { for: 'rep-minorsSuspected' }, t('rMinors'))),
      field(t('rDescription'), description, t('rDescriptionHelp')).wrap),
    h('fieldset', {}, h('legend', {}, t('rSecWhere')),
      field(t('rProvince'), inp('province', { type: 'text', maxlength: '2', autocapitalize: 'characters' }), t('rProvinceHelp')).wrap,
      field(t('rMunicipality'), inp('municipality', { type: 'text', maxlength: '100' })).wrap),
    h('fieldset', {}, h('legend', {}, t('rSecReporterContact')),
      field(t('rContact'), contact, t('rContactHelp')).wrap),
    h('div', { class: 'buttons' }, save),
    formStatus);
  clear(main, heading, form);
  heading.focus();

  const inputFor = (name) => {
    const camel = String(name).replace(/^report\./, '').replace(/_([a-z])/g, (_, c) => c.toUpperCase());
    if (camel === 'immediateDanger') return danger;
    if (camel === 'minorsSuspected') return minors;
    if (camel === 'description') return description;
    if (camel === 'suspectedExploitation') return exploitation.first;
    return f[camel] || null;
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    clear(formStatus);
    const errors = [];
    const bad = (el, msg) => { setFieldError(el, msg); errors.push(el); };
    for (const k of ['channel', 'reporterType', 'reason']) if (!f[k].value) bad(f[k], t('errRequired'));
    const language = f.language.value.trim().toLowerCase();
    if (!/^[a-z]{3}$/.test(language)) bad(f.language, t('errLanguage'));
    const province = f.province.value.trim().toUpperCase();
    if (province && !/^[A-Z]{2}$/.test(province)) bad(f.province, t('rErrProvince'));
    const persons = f.persons.value.trim();
    if (persons && !(/^\d{1,4}$/.test(persons) && Number(persons) <= 1000)) bad(f.persons, t('rErrPersons'));
    const bytes = (s) => new TextEncoder().encode(s).length;
    if (bytes(description.value) > 4000) bad(description, t('rErrBytes', { n: 4000 }));
    if (bytes(f.municipality.value) > 100) bad(f.municipality, t('rErrBytes', { n: 100 }));
    if (bytes(contact.value) > 200) bad(contact, t('rErrBytes', { n: 200 }));
    if (errors.length) {
      clear(formStatus, alertBox(t('errFormHasErrors', { n: errors.length })));
      errors[0].focus();
      return;
    }
    const report = {
      channel: f.channel.value, reporterType: f.reporterType.value, reason: f.reason.value, language,
      immediateDanger: danger.checked, minorsSuspected: minors.checked,
    };
    if (province) report.province = province;
    if (persons) report.persons = Number(persons);
    const ex = exploitation.values();
    if (ex.length) report.suspectedExploitation = ex;
    if (description.value.trim()) report.description = description.value.trim();
    if (f.municipality.value.trim()) report.municipality = f.municipality.value.trim();
    if (contact.value.trim()) report.contact = contact.value.trim();
    save.disabled = true;
    try {
      const view = await api.recordReport(reportId, report);
      const id = view.summary?.reportId || reportId;
      reportId = crypto.randomUUID();
      announce(t('rRecorded', { id }));
      navigate(`#/report/${id}`);
    } catch (e) {
      save.disabled = false;
      const target = e.field ? inputFor(e.field) : null;
      if (target) { setFieldError(target, errorWords(e)); target.focus(); }
      clear(formStatus, alertBox(t('refusedBecause', { words: errorWords(e) })));
    }
  });
}

const FIELDS = [
  ['channel', 'rChannel', 'ContactChannel'], ['reporterType', 'rReporter', 'ReporterType'],
  ['reason', 'rReason', 'ContactReason'], ['language', 'rLanguage'], ['province', 'rProvince'],
  ['municipality', 'rMunicipality'], ['suspectedExploitation', 'rExploitation', 'ExploitationType'],
  ['persons', 'rPersons'], ['minorsSuspected', 'rMinors', 'bool'], ['immediateDanger', 'rDangerField', 'bool'],
  ['description', 'rDescription'],
];

function fieldsOf(report) {
  const rows = [];
  for (const [key, label, kind] of FIELDS) {
    let v = report[key];
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) continue;
    if (typeof v === 'string' && /_UNSPECIFIED$/.test(v)) continue;
    if (kind === 'bool') v = v ? t('yes') : t('no');
    else if (Array.isArray(v)) v = v.map((x) => enumLabel(kind, x)).join(', ');
    else if (kind) v = enumLabel(kind, v);
    rows.push(h('div', { class: 'kv', 'data-field': key }, h('dt', {}, t(label)), h('dd', { class: key === 'description' ? 'pre' : '' }, String(v))));
  }
  return h('dl', { id: 'report-fields', class: 'fields' }, rows);
}

function eventWords(e) {
  const kind = e.kind || 'KIND_UNSPECIFIED';
  const parts = [t(`rEvent.${kind}`)];
  if (e.triage && e.triage !== 'TRIAGE_UNSPECIFIED') parts.push(enumLabel('Triage', e.triage));
  if (e.node) parts.push(t('atNode', { node: e.node }));
  if (e.referralId) parts.push(e.referralId);
  return parts.join(' · ');
}

export async function renderReport(main, id) {
  const heading = h('h1', { tabindex: '-1', id: 'report-h' }, t('rOneTitle', { id: id.slice(0, 8) }));
  const status = h('div', { id: 'report-status' });
  clear(main, h('p', {}, h('a', { href: '#/reports' }, t('rBack'))), heading, status);
  let view;
  try {
    view = await api.report(id);
  } catch (e) {
    clear(status, alertBox(errorWords(e)));
    heading.focus();
    return;
  }
  const draw = (v, contactShown) => {
    const s = v.summary || {};
    const r = v.report || {};
    const holder = h('div', { id: 'report-body' });
    if (r.immediateDanger) holder.append(h('div', { class: 'notice notice-error', role: 'status' }, t('rCall112')));
    holder.append(h('section', { class: 'card', 'aria-labelledby': 'report-sum-h' },
      h('h2', { id: 'report-sum-h' }, t('summary')),
      h('dl', { class: 'fields' },
        h('div', { class: 'kv' }, h('dt', {}, t('rColId')), h('dd', { class: 'mono' }, s.reportId)),
        h('div', { class: 'kv' }, h('dt', {}, t('colState')), h('dd', { id: 'report-state', 'data-state': s.state }, enumLabel('ReportState', s.state))),
        h('div', { class: 'kv' }, h('dt', {}, t('rColTriage')), h('dd', {}, triageLabel(s.triage))),
        h('div', { class: 'kv' }, h('dt', {}, t('rColRecorded')), h('dd', {}, timeEl(s.recordedAt))),
        h('div', { class: 'kv' }, h('dt', {}, t('rOrigin')), h('dd', {}, s.originNode || t('none'))),
        s.routedTo ? h('div', { class: 'kv' }, h('dt', {}, t('rRoutedTo')), h('dd', {}, s.routedTo)) : null,
        s.referralId ? h('div', { class: 'kv' }, h('dt', {}, t('colReferral')), h('dd', {}, h('a', { href: `#/referral/${s.referralId}`, class: 'mono', id: 'report-referral' }, s.referralId))) : null)));
    holder.append(h('section', { class: 'card', 'aria-labelledby': 'report-f-h' }, h('h2', { id: 'report-f-h' }, t('fields')), fieldsOf(r)));

    // The contact: only on an explicit click, and the node records who asked.
    const contactBox = h('div', { id: 'report-contact' });
    if (!s.hasContact) contactBox.append(h('p', {}, t('rAnonymous')));
    else if (contactShown) contactBox.append(h('p', {}, h('strong', {}, `${t('rContact')}: `), h('span', { id: 'report-contact-value' }, r.contact || t('none'))));
    else {
      contactBox.append(h('p', { class: 'help' }, t('rContactNote')),
        h('button', {
          type: 'button', class: 'secondary', id: 'report-show-contact',
          onclick: async () => {
            try { draw(await api.report(id, true), true); document.getElementById('report-contact-value')?.focus(); } catch (e) { clear(contactBox, alertBox(errorWords(e))); }
          },
        }, t('rShowContact')));
    }
    holder.append(h('section', { class: 'card', 'aria-labelledby': 'report-c-h' }, h('h2', { id: 'report-c-h' }, t('rSecReporterContact')), contactBox));

    // Triage, once.
    if (s.state === 'REPORT_RECEIVED') {
      const triage = select(opts('Triage'), { id: 'report-triage', name: 'triage' });
      const routeTo = h('input', { type: 'text', id: 'report-route-to', name: 'routeTo', autocomplete: 'off', spellcheck: 'false' });
      const out = h('div', { id: 'report-triage-status' });
      const form = h('form', { id: 'report-triage-form', novalidate: true },
        field(t('rTriage'), triage).wrap,
        field(t('rRouteTo'), routeTo, t('rRouteToHelp')).wrap,
        h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary', id: 'report-triage-save' }, t('rTriageSave'))), out);
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearFieldErrors(form);
        if (!triage.value) { setFieldError(triage, t('errRequired')); triage.focus(); return; }
        const to = routeTo.value.trim();
        if (to && !/^[a-z0-9][a-z0-9-]{0,31}$/.test(to)) { setFieldError(routeTo, t('errNode')); routeTo.focus(); return; }
        try {
          const next = await api.triageReport(id, triage.value, to);
          announce(t('rTriaged'));
          draw(next, false);
        } catch (e) {
          if (e.field === 'route_to' || e.field === 'routeTo') setFieldError(routeTo, errorWords(e));
          clear(out, alertBox(t('refusedBecause', { words: errorWords(e) })));
        }
      });
      holder.append(h('section', { class: 'card', 'aria-labelledby': 'report-t-h' }, h('h2', { id: 'report-t-h' }, t('rTriageTitle')), form));
    }
    // The referral it became, once: a pertinent report kept here.
    if (!s.referralId && s.state === 'REPORT_TRIAGED' && ['TRIAGE_PERTINENT', 'TRIAGE_QUALIFIED'].includes(s.triage)) {
      const ref = h('input', { type: 'text', id: 'report-link-id', name: 'referralId', autocomplete: 'off', spellcheck: 'false', class: 'mono' });
      const out = h('div', { id: 'report-link-status' });
      const form = h('form', { id: 'report-link-form', novalidate: true },
        field(t('rLinkId'), ref, t('rLinkHelp')).wrap,
        h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'secondary', id: 'report-link-save' }, t('rLinkSave'))), out);
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearFieldErrors(form);
        const value = ref.value.trim().toLowerCase();
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)) { setFieldError(ref, t('rErrReferralId')); ref.focus(); return; }
        try {
          const next = await api.linkReport(id, value);
          announce(t('rLinked'));
          draw(next, false);
        } catch (e) {
          clear(out, alertBox(t('refusedBecause', { words: errorWords(e) })));
        }
      });
      holder.append(h('section', { class: 'card', 'aria-labelledby': 'report-l-h' }, h('h2', { id: 'report-l-h' }, t('rLinkTitle')), form));
    }
    const events = [...(v.events || [])].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    holder.append(h('section', { class: 'card', 'aria-labelledby': 'report-tl-h' }, h('h2', { id: 'report-tl-h' }, t('timeline')),
      h('ol', { id: 'report-timeline', class: 'timeline' }, events.map((e) => h('li', { 'data-kind': e.kind },
        h('div', { class: 'event' }, h('strong', { class: 'event-state' }, eventWords(e)), ' — ', timeEl(e.at, true), ' ',
          h('span', { class: 'muted' }, t('by', { actor: e.actor || t('none') }))))))));
    const old = document.getElementById('report-body');
    if (old) old.replaceWith(holder); else main.append(holder);
  };
  draw(view, false);
  heading.focus();
}
