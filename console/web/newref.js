// A new referral (operators): codes and bands only, consent required; the
// console validates and seals, the page shows what will be signed, signs.
import { t, enumLabel, enumValues } from './texts.js';
import {
  h, clear, field, select, checkboxGroup, alertBox, errorWords, setFieldError, clearFieldErrors, uid, romeDate,
} from './ui.js';
import { api } from './api.js';
import { session, navigate, announce } from './state.js';
import { signBytes, base64ToBytes, bytesToBase64 } from './keys.js';
import { readSignedBytes, checkToSign } from './envelope.js';

const opts = (name) => [['', t('choose')], ...enumValues[name].map((v) => [v, enumLabel(name, v)])];
const checks = (name) => enumValues[name].map((v) => [v, enumLabel(name, v)]);
const codes = (s) => s.split(/[\s,]+/).filter(Boolean);

export function renderNew(main) {
  const heading = h('h1', { tabindex: '-1', id: 'new-h' }, t('newTitle'));
  const f = {};
  const inp = (name, attrs = {}) => (f[name] = h('input', { id: `new-${name}`, name, autocomplete: 'off', 'data-field': name, ...attrs }));
  const sel = (name, enumName, attrs = {}) => {
    f[name] = select(opts(enumName), { id: `new-${name}`, name, ...attrs });
    f[name].dataset.field = name;
    return f[name];
  };
  const groups = {
    transferReasons: checkboxGroup(t('fTransferReasons'), checks('TransferReason'), 'transferReasons'),
    requestedServices: checkboxGroup(t('fServices'), checks('Service'), 'requestedServices'),
    exploitationTypes: checkboxGroup(t('fExploitation'), checks('ExploitationType'), 'exploitationTypes'),
    needs: checkboxGroup(t('fNeeds'), checks('Need'), 'needs'),
  };
  const consentGiven = h('input', { type: 'checkbox', id: 'new-consent', name: 'consent', 'data-field': 'consent' });
  const notes = h('textarea', { id: 'new-notes', name: 'notes', rows: '4', 'data-field': 'notes' });
  const notesCount = h('p', { id: 'new-notes-count', class: 'help', 'aria-live': 'polite' }, t('notesCount', { n: 0 }));
  notes.addEventListener('input', () => { notesCount.textContent = t('notesCount', { n: [...notes.value].length }); });
  const today = new Date().toISOString().slice(0, 10);

  const formStatus = h('div', { id: 'new-status' });
  const prepareBtn = h('button', { type: 'submit', class: 'primary', id: 'new-prepare' }, t('prepareNew'));
  const form = h('form', { id: 'new-form', novalidate: true, 'aria-labelledby': 'new-h' },
    h('fieldset', {}, h('legend', {}, t('secDestination')),
      field(t('fDestination'), inp('destinationNode', { type: 'text', required: true, spellcheck: 'false' }), t('fDestinationHelp')).wrap,
      field(t('fUrgency'), sel('urgency', 'Urgency', { required: true })).wrap,
      field(t('fDanger'), sel('dangerLevel', 'DangerLevel')).wrap,
      groups.transferReasons.wrap,
      groups.requestedServices.wrap),
    h('fieldset', {}, h('legend', {}, t('secPerson')),
      field(t('fPersonCode'), inp('personCode', { type: 'text', required: true, maxlength: '200' })).wrap,
      field(t('fCaseRef'), inp('originCaseRef', { type: 'text', maxlength: '200' })).wrap,
      field(t('fGender'), sel('gender', 'Gender')).wrap,
      field(t('fAgeBand'), sel('ageBand', 'AgeBand')).wrap,
      field(t('fAgeBasis'), sel('ageBasis', 'AgeBasis')).wrap,
      field(t('fNationality'), inp('nationality', { type: 'text', maxlength: '2', autocapitalize: 'characters' })).wrap,
      field(t('fLanguages'), inp('languages', { type: 'text' })).wrap,
      field(t('fMediatorLanguage'), inp('mediatorLanguage', { type: 'text', maxlength: '3' })).wrap,
      h('div', { class: 'check' }, inp('mediatorSameGender', { type: 'checkbox' }), h('label', { for: 'new-mediatorSameGender' }, t('fMediatorSameGender'))),
      field(t('fDependents'), inp('dependents', { type: 'number', min: '0', max: '99', inputmode: 'numeric' })).wrap),
    h('fieldset', {}, h('legend', {}, t('secNeeds')),
      groups.exploitationTypes.wrap,
      field(t('fLabourSector'), inp('labourSector', { type: 'text', maxlength: '200' })).wrap,
      field(t('fIdentification'), sel('identificationStatus', 'IdentificationStatus')).wrap,
      field(t('fPhase'), sel('programmePhase', 'ProgrammePhase')).wrap,
      field(t('fPermit'), sel('permitStatus', 'PermitStatus')).wrap,
      field(t('fAsylum'), sel('asylumStatus', 'AsylumStatus')).wrap,
      h('div', { class: 'check' }, inp('judicialInvolvement', { type: 'checkbox' }), h('label', { for: 'new-judicialInvolvement' }, t('fJudicial'))),
      groups.needs.wrap,
      h('div', { class: 'field' }, h('label', { for: 'new-notes' }, t('fNotes')), notes, notesCount)),
    h('fieldset', { id: 'consent-fieldset' }, h('legend', {}, t('secConsent')),
      h('div', { class: 'check field' }, consentGiven, h('label', { for: 'new-consent' }, t('fConsentGiven'))),
      field(t('fConsentAt'), inp('consentAt', { type: 'date', value: today, max: today })).wrap,
      field(t('fConsentMethod'), sel('consentMethod', 'ConsentMethod')).wrap,
      field(t('fConsentScope'), sel('consentScope', 'ConsentScope')).wrap),
    h('div', { class: 'buttons' }, prepareBtn),
    formStatus);
  notes.setAttribute('aria-describedby', 'new-notes-count');
  f.consentScope.value = 'CONSENT_SCOPE_REFERRAL_AND_ROUTING';

  clear(main, heading, h('p', {}, t('newIntro')), form);
  heading.focus();

  // Server field names (snake or camel, maybe dotted) -> our input.
  const inputFor = (name) => {
    const camel = String(name).replace(/_([a-z])/g, (_, c) => c.toUpperCase());
    const [first, second] = camel.split(/[.[]/);
    if (first === 'consent') {
      if (second === 'givenAt') return f.consentAt;
      if (second === 'method') return f.consentMethod;
      if (second === 'scope') return f.consentScope;
      return consentGiven;
    }
    if (first === 'destinationNode' || first === 'destination') return f.destinationNode;
    if (first === 'notes') return notes;
    if (groups[first]) return groups[first].first;
    return f[first] || null;
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    clear(formStatus);
    const errors = [];
    const bad = (el, msg) => { setFieldError(el, msg); errors.push(el); };
    const dest = f.destinationNode.value.trim();
    if (!dest) bad(f.destinationNode, t('errRequired'));
    else if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(dest)) bad(f.destinationNode, t('errNode'));
    if (!f.urgency.value) bad(f.urgency, t('errRequired'));
    if (!f.personCode.value.trim()) bad(f.personCode, t('errRequired'));
    const nat = f.nationality.value.trim();
    if (nat && !/^[A-Z]{2}$/.test(nat)) bad(f.nationality, t('errNationality'));
    const langs = codes(f.languages.value);
    if (langs.some((l) => !/^[a-z]{3}$/.test(l))) bad(f.languages, t('errLanguage'));
    const med = f.mediatorLanguage.value.trim();
    if (med && !/^[a-z]{3}$/.test(med)) bad(f.mediatorLanguage, t('errLanguage'));
    const dep = f.dependents.value.trim();
    if (dep && !/^\d{1,2}$/.test(dep)) bad(f.dependents, t('errCount'));
    if ([...notes.value].length > 2000) bad(notes, t('errTooLong', { n: 2000 }));
    if (!consentGiven.checked) bad(consentGiven, t('errConsent'));
    if (errors.length) {
      clear(formStatus, alertBox(t('errFormHasErrors', { n: errors.length })));
      errors[0].focus();
      return;
    }

    const referral = {
      destinationNode: dest,
      personCode: f.personCode.value.trim(),
      urgency: f.urgency.value,
      consent: {
        given: true,
        givenAt: `${f.consentAt.value || today}T00:00:00Z`,
        ...(f.consentMethod.value ? { method: f.consentMethod.value } : {}),
        ...(f.consentScope.value ? { scope: f.consentScope.value } : {}),
      },
    };
    const put = (k, v) => { if (v !== '' && v !== undefined && !(Array.isArray(v) && !v.length) && v !== false) referral[k] = v; };
    put('originCaseRef', f.originCaseRef.value.trim());
    for (const k of ['dangerLevel', 'gender', 'ageBand', 'ageBasis', 'identificationStatus', 'programmePhase', 'permitStatus', 'asylumStatus']) put(k, f[k].value);
    for (const [k, g] of Object.entries(groups)) put(k, g.values());
    put('nationality', nat);
    put('languages', langs);
    put('mediatorLanguage', med);
    put('mediatorSameGender', f.mediatorSameGender.checked);
    put('judicialInvolvement', f.judicialInvolvement.checked);
    put('labourSector', f.labourSector.value.trim());
    if (dep) referral.dependents = { count: Number(dep) };
    put('notes', notes.value.trim());

    prepareBtn.disabled = true;
    let prepared; let items;
    try {
      prepared = await api.prepareNew(referral);
      const bytes = (prepared.toSign || []).map(base64ToBytes);
      items = checkToSign(bytes.map(readSignedBytes), { identity: session.me.identity, kind: 'REFERRAL' });
      if (items.length !== 1) throw new Error('expected one envelope');
      items[0].bytes = bytes[0];
    } catch (e) {
      prepareBtn.disabled = false;
      const target = e.field ? inputFor(e.field) : null;
      if (target) {
        setFieldError(target, errorWords(e));
        clear(formStatus, alertBox(t('errFormHasErrors', { n: 1 })));
        target.focus();
      } else {
        clear(formStatus, alertBox(e.reason ? t('refusedBecause', { words: errorWords(e) }) : String(e.message || e)));
      }
      return;
    }
    const words = t('signNewReferral', {
      origin: session.me.node, destination: dest, urgency: enumLabel('Urgency', referral.urgency),
      code: referral.personCode,
      method: referral.consent.method ? enumLabel('ConsentMethod', referral.consent.method) : '',
      date: romeDate(`${f.consentAt.value || today}T00:00:00Z`),
    });
    const confirm = h('button', { type: 'button', class: 'primary', id: 'new-sign' }, t('signAndSend'));
    const reviewId = uid('review');
    const review = h('div', { class: 'review', role: 'group', 'aria-labelledby': reviewId },
      h('p', { id: reviewId, class: 'review-title' }, t('toBeSigned')),
      h('ul', { class: 'review-words' }, h('li', {}, words),
        h('li', {}, t('signWith', { identity: session.me.identity, recipients: items[0].recipientNode || dest }))),
      h('div', { class: 'buttons' }, confirm,
        h('button', { type: 'button', class: 'secondary', onclick: () => { prepareBtn.disabled = false; clear(formStatus); prepareBtn.focus(); } }, t('cancel'))));
    clear(formStatus, review);
    confirm.focus();
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      review.append(h('p', { role: 'status' }, t('signing')));
      try {
        const sig = bytesToBase64(await signBytes(session.identity.key, items[0].bytes));
        const res = await api.submit(prepared.token, [sig]);
        const msg = t('submitted', { id: res.referralId, state: enumLabel('ReferralState', res.state) });
        announce(msg);
        navigate(`#/referral/${res.referralId}`);
      } catch (e) {
        clear(formStatus, alertBox(t('refusedBecause', { words: errorWords(e) })));
        prepareBtn.disabled = false;
        const target = e.field ? inputFor(e.field) : null;
        if (target) { setFieldError(target, errorWords(e)); target.focus(); } else prepareBtn.focus();
      }
    });
  });
}
