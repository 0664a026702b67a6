// One referral: its fields, its timeline (business events apart from the
// transport proofs), and the actions the node allows now, each signed here.
import { t, enumLabel, has } from './texts.js';
import {
  h, clear, field, select, timeEl, alertBox, errorWords, setFieldError, clearFieldErrors, romeText, romeDate, uid,
} from './ui.js';
import { api } from './api.js';
import { session, onServerEvent, announce, isOperator, personAway } from './state.js';
import { signBytes, base64ToBytes, bytesToBase64 } from './keys.js';
import { readSignedBytes, checkToSign } from './envelope.js';
import { countdownText, isOverdue, isEmergency } from './alarm.js';

// Referral JSON field -> [label key, enum name or null]
const FIELD_LABELS = [
  ['referralId', 'fReferralId'], ['originNode', 'colOrigin'], ['destinationNode', 'colDestination'],
  ['urgency', 'fUrgency', 'Urgency'], ['ackDeadline', 'colDeadline', 'time'],
  ['personCode', 'fPersonCode'], ['originCaseRef', 'fCaseRef'],
  ['dangerLevel', 'fDanger', 'DangerLevel'], ['transferReasons', 'fTransferReasons', 'TransferReason'],
  ['excludedAreas', 'fExcludedAreas'], ['preferredAreas', 'fPreferredAreas'],
  ['requestedServices', 'fServices', 'Service'], ['gender', 'fGender', 'Gender'],
  ['ageBand', 'fAgeBand', 'AgeBand'], ['ageBasis', 'fAgeBasis', 'AgeBasis'],
  ['nationality', 'fNationality'], ['languages', 'fLanguages'], ['mediatorLanguage', 'fMediatorLanguage'],
  ['mediatorSameGender', 'fMediatorSameGender', 'bool'],
  ['exploitationTypes', 'fExploitation', 'ExploitationType'], ['labourSector', 'fLabourSector'],
  ['identificationStatus', 'fIdentification', 'IdentificationStatus'],
  ['programmePhase', 'fPhase', 'ProgrammePhase'], ['permitStatus', 'fPermit', 'PermitStatus'],
  ['asylumStatus', 'fAsylum', 'AsylumStatus'], ['judicialInvolvement', 'fJudicial', 'bool'],
  ['needs', 'fNeeds', 'Need'], ['dependents', 'fDependents', 'dependents'], ['consent', 'secConsent', 'consent'],
  ['notes', 'fNotes'],
];

function valueEl(value, kind) {
  if (kind === 'time') return timeEl(value);
  if (kind === 'bool') return value ? t('yes') : t('no');
  if (kind === 'dependents') {
    const bands = (value.ageBands || []).map((b) => enumLabel('AgeBand', b)).join(', ');
    return `${value.count ?? 0}${bands ? ` (${bands})` : ''}`;
  }
  if (kind === 'consent') {
    return h('span', {}, value.given ? t('yes') : t('no'),
      value.givenAt ? [', ', timeEl(value.givenAt)] : null,
      !blank(value.method) ? `, ${enumLabel('ConsentMethod', value.method)}` : null,
      !blank(value.scope) ? `, ${enumLabel('ConsentScope', value.scope)}` : null,
      value.withdrawnAt ? [' — withdrawn ', timeEl(value.withdrawnAt)] : null);
  }
  if (Array.isArray(value)) return value.map((v) => (kind ? enumLabel(kind, v) : v)).join(', ');
  if (kind) return enumLabel(kind, value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

// Nothing to show: absent, empty, an enum left UNSPECIFIED, no dependents.
function blank(v) {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return !v.length;
  if (typeof v === 'string') return /_UNSPECIFIED$/.test(v);
  if (typeof v === 'object') return !Object.keys(v).length || (('count' in v) && !Number(v.count) && !(v.ageBands || []).length);
  return false;
}

function fieldsList(referral) {
  const rows = [];
  const known = new Set();
  for (const [key, label, kind] of FIELD_LABELS) {
    known.add(key);
    const v = referral[key];
    if (blank(v)) continue;
    rows.push(h('div', { class: 'kv', 'data-field': key }, h('dt', {}, t(label)), h('dd', {}, valueEl(v, kind))));
  }
  for (const [key, v] of Object.entries(referral)) {
    if (known.has(key) || key === 'sealed' || blank(v)) continue;
    rows.push(h('div', { class: 'kv', 'data-field': key }, h('dt', {}, key), h('dd', {}, valueEl(v))));
  }
  return h('dl', { id: 'referral-fields', class: 'fields' }, rows);
}

// This node is the region the national node routed the referral to (a
// SUBMITTED by neither the origin nor this node): rejecting it sends it back
// there and erases its sealed fields here (PROTOCOL.md §11.5).
function routedHere(view) {
  const s = view.summary; const me = session.me.node;
  return s.destinationNode === me && s.originNode !== me &&
    (view.timeline || []).some((e) => e.state === 'SUBMITTED' && e.senderNode !== s.originNode && e.senderNode !== me);
}

function timeline(events, originNode) {
  const sorted = [...(events || [])].sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || (a.sequence - b.sequence));
  return h('ol', { id: 'timeline', class: 'timeline' }, sorted.map((e) => h('li', { 'data-state': e.state, 'data-actor': e.actor },
    h('div', { class: 'event' },
      timeEl(e.at, true), ' ',
      h('strong', { class: 'event-state' }, e.state === 'SUBMITTED' && e.senderNode !== originNode
        ? t('routedOn') : enumLabel('ReferralState', e.state)), ' ',
      h('span', {}, t('by', { actor: e.actor })), ', ',
      h('span', {}, t('atNode', { node: e.senderNode })), ' ',
      h('span', { class: 'muted' }, `(${t('seq', { n: e.sequence })})`),
      e.reason ? h('div', { class: 'event-reason' }, t('reasonLabel', { reason: reasonWords(e.reason) })) : null),
    (e.delivery || []).length ? h('div', { class: 'proofs' },
      h('p', { class: 'proofs-title' }, t('delivery')),
      h('ul', {}, e.delivery.map((d) => h('li', { class: `proof proof-${(d.status || '').toLowerCase()}` },
        has(`proof.${d.status}`) ? t(`proof.${d.status}`, { peer: d.peerNode }) : `${d.status} ${d.peerNode}`,
        d.at ? [' — ', timeEl(d.at, true)] : null,
        d.lastError ? h('span', { class: 'muted' }, ` (${t('lastError', { error: d.lastError })})`) : null)))) : null)));
}

// "REJECTION_NO_PLACES: text" -> words
function reasonWords(reason) {
  return String(reason).replace(/\b([A-Z]+_[A-Z_]+)\b/g, (code) => enumLabel('Reason', code));
}

function reasonField(code) {
  if (code.startsWith('REJECTION_')) return 'rejectionReason';
  if (code.startsWith('CLOSURE_')) return 'closureReason';
  if (code.startsWith('WITHDRAWAL_')) return 'withdrawalReason';
  return null;
}

const dateToTs = (d) => `${d}T00:00:00Z`;
const localToTs = (v) => new Date(v).toISOString();

function nowLocalInput() {
  const d = new Date();
  d.setSeconds(0, 0);
  const off = d.getTimezoneOffset() * 60000;
  return new Date(d.getTime() - off).toISOString().slice(0, 16);
}

// One action: a button that opens its form; the form prepares, shows what
// will be signed in words, then signs and submits.
function actionBlock(view, action, reload) {
  const id = view.summary.referralId;
  const toState = action.kind === 'PLACEMENT_CONFIRMATION' ? 'PLACEMENT_CONFIRMED' : action.toState;
  const name = t(`action.${toState}`);
  const panelId = uid('action');
  const slug = toState.toLowerCase().replace(/_/g, '-');
  const open = h('button', {
    type: 'button', class: 'action', id: `action-${slug}`, 'aria-expanded': 'false', 'aria-controls': panelId,
  }, name);
  const panel = h('div', { id: panelId, class: 'action-panel', hidden: true });
  open.addEventListener('click', () => {
    const show = panel.hidden;
    panel.hidden = !show;
    open.setAttribute('aria-expanded', String(show));
    if (show) { buildForm(); panel.querySelector('select, input, textarea, button')?.focus(); }
  });

  function buildForm() {
    const inputs = {};
    const kids = [];
    const reasons = action.reasons || [];
    if (reasons.length) {
      inputs.reason = select([['', t('reasonChoose')], ...reasons.map((r) => [r, enumLabel('Reason', r)])],
        { id: `${slug}-reason`, required: true });
      kids.push(field(t('reasonField'), inputs.reason).wrap);
    }
    if (toState === 'SUBMITTED') {
      inputs.destination = h('input', { type: 'text', id: `${slug}-destination`, required: true, autocomplete: 'off', spellcheck: 'false' });
      if (action.destinations?.length) {
        const listId = `${slug}-destinations`;
        inputs.destination.setAttribute('list', listId);
        kids.push(h('datalist', { id: listId }, action.destinations.map((d) => h('option', { value: d }))));
      }
      kids.push(field(t('destinationNode'), inputs.destination).wrap);
    }
    if (toState === 'PLACEMENT_PROPOSED' || action.kind === 'PLACEMENT_CONFIRMATION') {
      inputs.project = h('input', { type: 'text', id: `${slug}-project`, required: true, maxlength: '200', autocomplete: 'off' });
      kids.push(field(t('projectRef'), inputs.project).wrap);
    }
    if (toState === 'PLACEMENT_PROPOSED') {
      inputs.date = h('input', { type: 'date', id: `${slug}-date`, required: true });
      kids.push(field(t('availableFrom'), inputs.date).wrap);
    }
    if (toState === 'TRANSFER_SCHEDULED') {
      inputs.date = h('input', { type: 'date', id: `${slug}-date`, required: true });
      kids.push(field(t('transferDate'), inputs.date).wrap);
    }
    if (action.kind === 'PLACEMENT_CONFIRMATION') {
      inputs.when = h('input', { type: 'datetime-local', id: `${slug}-when`, required: true, value: nowLocalInput() });
      kids.push(field(t('takenInChargeAt'), inputs.when).wrap);
    }
    if (action.freeText) {
      inputs.text = h('textarea', { id: `${slug}-text`, rows: '2', maxlength: '500' });
      kids.push(field(t('freeTextField'), inputs.text).wrap);
    }
    const status = h('div', { class: 'action-status' });
    const reviewBtn = h('button', { type: 'submit', class: 'primary', id: `${slug}-review` }, t('review'));
    const form = h('form', { class: 'action-form', novalidate: true, 'aria-label': name }, kids,
      h('div', { class: 'buttons' }, reviewBtn,
        h('button', { type: 'button', class: 'secondary', onclick: () => { panel.hidden = true; open.setAttribute('aria-expanded', 'false'); open.focus(); } }, t('cancel'))),
      status);
    clear(panel, form);

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      clear(status);
      // Validate next to each field.
      const errors = [];
      const need = (el, ok, msg) => { if (el && !ok) { setFieldError(el, msg); errors.push(el); } };
      need(inputs.reason, inputs.reason?.value, t('errRequired'));
      need(inputs.destination, /^[a-z0-9][a-z0-9-]{0,31}$/.test(inputs.destination?.value || ''), t('errNode'));
      need(inputs.project, inputs.project?.value.trim(), t('errRequired'));
      need(inputs.date, /^\d{4}-\d{2}-\d{2}$/.test(inputs.date?.value || ''), t('errDate'));
      need(inputs.when, inputs.when?.value && !Number.isNaN(Date.parse(inputs.when.value)), t('errDate'));
      const text = inputs.text?.value.trim() || '';
      need(inputs.text, [...text].length <= 500, t('errTooLong', { n: 500 }));
      if (inputs.text && /_OTHER$/.test(inputs.reason?.value || '') && !text) {
        setFieldError(inputs.text, t('errReasonTextOther')); errors.push(inputs.text);
      }
      if (errors.length) { errors[0].focus(); return; }

      // The request and its description in words.
      let request; const words = [];
      if (action.kind === 'PLACEMENT_CONFIRMATION') {
        const when = localToTs(inputs.when.value);
        request = { kind: 'PLACEMENT_CONFIRMATION', body: { referralId: id, projectRef: inputs.project.value.trim(), takenInChargeAt: when } };
        words.push(t('signAction.PLACEMENT_CONFIRMATION', { id, project: inputs.project.value.trim(), when: romeText(when) }));
      } else {
        const body = { referralId: id, toState };
        if (inputs.reason) body[reasonField(inputs.reason.value) || 'rejectionReason'] = inputs.reason.value;
        if (text) body.reasonText = text;
        if (toState === 'PLACEMENT_PROPOSED') body.placement = { projectRef: inputs.project.value.trim(), availableFrom: dateToTs(inputs.date.value) };
        if (toState === 'TRANSFER_SCHEDULED') body.transferDate = dateToTs(inputs.date.value);
        request = { kind: 'STATUS_CHANGE', body };
        if (toState === 'SUBMITTED') {
          request.destinationNode = inputs.destination.value;
          words.push(t('signAction.FORWARD', { id, node: inputs.destination.value }));
        } else {
          words.push(t('signAction.STATUS_CHANGE', {
            id, from: enumLabel('ReferralState', view.summary.state), to: enumLabel('ReferralState', toState),
          }));
        }
        if (inputs.reason) words.push(t('signReason', { reason: enumLabel('Reason', inputs.reason.value) }));
        if (toState === 'PLACEMENT_PROPOSED') words.push(t('signPlacement', { project: inputs.project.value.trim(), date: romeDate(dateToTs(inputs.date.value)) }));
        if (toState === 'TRANSFER_SCHEDULED') words.push(t('signTransfer', { date: romeDate(dateToTs(inputs.date.value)) }));
        if (toState === 'REJECTED' && routedHere(view)) words.push(t('signRejectRouted'));
      }
      if (text) words.push(t('signText', { text }));

      reviewBtn.disabled = true;
      let prepared; let items;
      try {
        prepared = await api.prepare(id, request);
        const bytes = (prepared.toSign || []).map(base64ToBytes);
        items = checkToSign(bytes.map(readSignedBytes), {
          identity: session.me.identity, kind: request.kind, referralId: id,
          toState: request.kind === 'STATUS_CHANGE' ? toState : null,
        });
        items.forEach((it, i) => { it.bytes = bytes[i]; });
      } catch (e) {
        reviewBtn.disabled = false;
        clear(status, alertBox(e.reason ? errorWords(e) : String(e.message || e)));
        return;
      }
      const recipients = items.map((it) => it.recipientNode).filter(Boolean);
      words.push(recipients.length
        ? t('signWith', { identity: session.me.identity, recipients: recipients.join(', ') })
        : t('signWithCount', { identity: session.me.identity, n: items.length }));
      const confirm = h('button', { type: 'button', class: 'primary', id: `${slug}-sign` }, t('signAndSend'));
      const review = h('div', { class: 'review', role: 'group', 'aria-labelledby': `${slug}-review-h` },
        h('p', { id: `${slug}-review-h`, class: 'review-title' }, t('toBeSigned')),
        h('ul', { class: 'review-words' }, words.map((w) => h('li', {}, w))),
        h('div', { class: 'buttons' }, confirm,
          h('button', { type: 'button', class: 'secondary', onclick: () => { reviewBtn.disabled = false; clear(status); reviewBtn.focus(); } }, t('cancel'))));
      clear(status, review);
      confirm.focus();
      confirm.addEventListener('click', async () => {
        confirm.disabled = true;
        const progress = h('p', { role: 'status' }, t('signing'));
        review.append(progress);
        try {
          const sigs = [];
          for (const it of items) sigs.push(bytesToBase64(await signBytes(session.identity.key, it.bytes)));
          const res = await api.submit(prepared.token, sigs);
          const msg = t('done', { state: enumLabel('ReferralState', res.state || toState) });
          announce(msg);
          await reload(msg);
        } catch (e) {
          progress.remove();
          clear(status, alertBox(t('refusedBecause', { words: errorWords(e) })));
          reviewBtn.disabled = false;
          reviewBtn.focus();
        }
      });
    });
  }
  return h('li', { class: 'action-item' }, open, panel);
}

function circulateBlock(view, reload) {
  const id = view.summary.referralId;
  const node = session.me.node;
  const input = h('input', { type: 'text', id: 'circulate-partners', placeholder: `mir://${node}/partner/…`, autocomplete: 'off', spellcheck: 'false' });
  const status = h('div', {});
  const form = h('form', { id: 'circulate-form', novalidate: true, 'aria-labelledby': 'circulate-h' },
    h('h2', { id: 'circulate-h' }, t('circulateTitle')), h('p', {}, t('circulateIntro')),
    field(t('circulatePartners', { node }), input).wrap,
    h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'secondary', id: 'circulate-button' }, t('circulateButton'))),
    status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    clear(status);
    const partners = input.value.split(/[\s,]+/).filter(Boolean);
    const re = new RegExp(`^mir://${node}/partner/[a-z0-9][a-z0-9-]{0,31}$`);
    if (!partners.length || !partners.every((p) => re.test(p))) {
      setFieldError(input, t('errPartnerUri', { node }));
      input.focus();
      return;
    }
    try {
      await api.circulate(id, partners);
      const msg = t('circulated', { partners: partners.join(', ') });
      announce(msg);
      await reload(msg);
    } catch (e) {
      if (e.field) setFieldError(input, errorWords(e));
      else clear(status, alertBox(t('refusedBecause', { words: errorWords(e) })));
    }
  });
  return h('section', { class: 'card' }, form);
}

const TERMINAL = new Set(['CLOSED_POSITIVE', 'REJECTED', 'CLOSED_NEGATIVE', 'WITHDRAWN']);

export async function renderReferral(main, id) {
  const heading = h('h1', { tabindex: '-1', id: 'referral-h' }, t('referralTitle', { id }));
  const body = h('div', {}, h('p', {}, t('loading')));
  clear(main, h('p', {}, h('a', { href: '#/list' }, `← ${t('backToList')}`)), heading, body);
  heading.focus();

  // The last success notice stays through live redraws while the state it
  // reported is still the state shown.
  let notice = null;
  const draw = async (message) => {
    let res;
    try {
      res = await api.get(id);
    } catch (e) {
      clear(body, alertBox(errorWords(e)));
      return;
    }
    const view = res.view || res;
    const s = view.summary || {};
    const kids = [];
    if (message) notice = { text: message, state: s.state };
    else if (notice && notice.state !== s.state) notice = null;
    if (notice) kids.push(alertBox(notice.text, 'success'));
    const emergency = isEmergency(s);
    kids.push(h('section', { class: 'card', 'aria-labelledby': 'summary-h' },
      h('h2', { id: 'summary-h' }, t('summary')),
      h('dl', { class: 'fields', id: 'summary' },
        h('div', { class: 'kv' }, h('dt', {}, t('colState')), h('dd', { id: 'referral-state', 'data-state': s.state }, enumLabel('ReferralState', s.state))),
        h('div', { class: 'kv' }, h('dt', {}, t('colUrgency')), h('dd', {}, emergency ? h('span', { class: 'badge badge-emergency' }, enumLabel('Urgency', s.urgency)) : enumLabel('Urgency', s.urgency))),
        h('div', { class: 'kv' }, h('dt', {}, t('colOrigin')), h('dd', {}, s.originNode)),
        h('div', { class: 'kv' }, h('dt', {}, t('colDestination')), h('dd', {}, s.destinationNode)),
        s.ackDeadline && emergency ? h('div', { class: 'kv' }, h('dt', {}, t('colDeadline')), h('dd', {}, timeEl(s.ackDeadline),
          isOverdue(s) ? [' ', h('strong', { class: 'countdown overdue' }, `${t('overdueMark')} — ${countdownText(s)}`)] : null)) : null,
        h('div', { class: 'kv' }, h('dt', {}, t('colUpdated')), h('dd', {}, timeEl(s.updatedAt, true))))));

    // Actions the node allows now.
    const actions = res.actions || [];
    kids.push(h('section', { class: 'card', 'aria-labelledby': 'actions-h' },
      h('h2', { id: 'actions-h' }, t('actions')),
      actions.length
        ? h('ul', { class: 'actions', id: 'actions' }, actions.map((a) => actionBlock(view, a, draw)))
        : h('p', { id: 'no-actions' }, t('noActions'))));
    if (isOperator() && s.destinationNode === session.me.node && !TERMINAL.has(s.state)) kids.push(circulateBlock(view, draw));

    const fieldsKids = [h('h2', { id: 'fields-h' }, t('fields'))];
    if (!isOperator()) fieldsKids.push(h('p', { class: 'muted' }, t('partnerFieldsNote')));
    if (view.sealedState && has(`sealed.${view.sealedState}`)) fieldsKids.push(h('p', { class: 'notice notice-info', id: 'sealed-state' }, t(`sealed.${view.sealedState}`)));
    fieldsKids.push(fieldsList(view.referral || {}));
    kids.push(h('section', { class: 'card', 'aria-labelledby': 'fields-h' }, fieldsKids));

    kids.push(h('section', { class: 'card', 'aria-labelledby': 'timeline-h' },
      h('h2', { id: 'timeline-h' }, t('timeline')), h('p', { class: 'muted' }, t('timelineNote')), timeline(view.timeline, s.originNode)));
    const focused = document.activeElement?.id;
    clear(body, kids);
    if (message) body.querySelector('.notice-success')?.setAttribute('tabindex', '-1');
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
    else if (message) body.querySelector('.notice-success')?.focus();
  };
  await draw();

  let pending = null;
  // Not redrawn while the person is filling in or reviewing something.
  const busy = () => main.querySelector('.action-panel:not([hidden])') ||
    document.getElementById('circulate-partners')?.value;
  const stop = onServerEvent((ev) => {
    if (ev.referral?.referralId !== id && ev.event?.referralId !== id) return;
    if (busy() || personAway()) return;
    clearTimeout(pending);
    pending = setTimeout(() => draw(), 300);
  });
  // Besides the live events, a quiet refresh now and then: an event missed
  // while the connection was being re-established is caught up.
  const poll = setInterval(() => {
    if (!busy() && !personAway()) draw();
  }, 20000);
  return () => { stop(); clearTimeout(pending); clearInterval(poll); };
}
