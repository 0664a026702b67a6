// DOM helpers (no innerHTML: every text goes in as text), times in
// Europe/Rome with UTC in the title, and error messages in words.
import { t, has, currentLang } from './texts.js';

// h('p', {class: 'x', onclick: fn}, 'text', child, ...)
export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

export function clear(el, ...kids) {
  el.replaceChildren();
  append(el, kids);
  return el;
}

let idCounter = 0;
export function uid(prefix = 'f') { idCounter += 1; return `${prefix}-${idCounter}`; }

// ---- times ------------------------------------------------------------------

function fmt(opts) {
  return new Intl.DateTimeFormat(currentLang() === 'en' ? 'en-GB' : 'it-IT',
    { timeZone: 'Europe/Rome', ...opts });
}

export function romeText(iso, withSeconds = false) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return fmt({ dateStyle: 'short', timeStyle: withSeconds ? 'medium' : 'short' }).format(d);
}

export function romeDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return fmt({ dateStyle: 'medium' }).format(d);
}

export function utcText(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '').replace(/Z$/, '')} UTC`;
}

// <time> shown in Europe/Rome, UTC in its title.
export function timeEl(iso, withSeconds = false) {
  if (!iso) return h('span', {}, t('none'));
  return h('time', { datetime: iso, title: utcText(iso) }, romeText(iso, withSeconds));
}

// "1:05:09" / "4:12" for a duration in seconds.
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

// "3d 4h" style, for certificates and queues.
export function longDuration(seconds) {
  let s = Math.abs(Math.floor(Number(seconds) || 0));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const mm = Math.floor(s / 60);
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${mm}m`;
  return `${mm}m ${s - mm * 60}s`;
}

// ---- errors -----------------------------------------------------------------

// An ApiError (or any error) in words: the reason explained, and the node's
// own sentence when it adds something.
export function errorWords(err) {
  const reason = err?.reason || '';
  const words = has(`reason.${reason}`) ? t(`reason.${reason}`) : '';
  const msg = err?.serverMessage || (!words ? err?.message || String(err) : '');
  const parts = [];
  if (words) parts.push(words);
  if (msg && msg !== words) parts.push(t('nodeSays', { message: msg }));
  return parts.join(' ');
}

// A paragraph that screen readers announce: role=alert.
export function alertBox(text, kind = 'error') {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

// Field errors: <p id=... class=field-error> next to the field, tied by
// aria-describedby, aria-invalid on the field.
export function setFieldError(input, message) {
  const errId = `${input.id}-error`;
  let p = document.getElementById(errId);
  const holder = input.closest('.field') || input.parentElement;
  if (!message) {
    if (p) p.remove();
    input.removeAttribute('aria-invalid');
    const rest = (input.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== errId);
    if (rest.length) input.setAttribute('aria-describedby', rest.join(' '));
    else input.removeAttribute('aria-describedby');
    return;
  }
  if (!p) {
    p = h('p', { id: errId, class: 'field-error' });
    holder.append(p);
  }
  p.textContent = message;
  input.setAttribute('aria-invalid', 'true');
  const ids = new Set((input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean));
  ids.add(errId);
  input.setAttribute('aria-describedby', [...ids].join(' '));
}

export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) setFieldError(el, '');
}

// A labelled field: returns {wrap, input}.
export function field(label, input, help) {
  const id = input.id || uid('f');
  input.id = id;
  const kids = [h('label', { for: id }, label)];
  if (help) {
    const helpId = `${id}-help`;
    kids.push(h('p', { id: helpId, class: 'help' }, help));
    input.setAttribute('aria-describedby', helpId);
  }
  kids.push(input);
  return { wrap: h('div', { class: 'field' }, kids), input };
}

export function select(options, { id, name, required, value } = {}) {
  const s = h('select', { id, name, required });
  for (const [v, label] of options) {
    const o = h('option', { value: v }, label);
    if (v === value) o.selected = true;
    s.append(o);
  }
  return s;
}

// A fieldset of checkboxes; returns {wrap, values()}.
export function checkboxGroup(legend, options, name) {
  const boxes = options.map(([v, label]) => {
    const id = uid(name);
    const cb = h('input', { type: 'checkbox', id, name, value: v });
    return { cb, el: h('div', { class: 'check' }, cb, h('label', { for: id }, label)) };
  });
  const wrap = h('fieldset', { class: 'group', 'data-field': name }, h('legend', {}, legend), boxes.map((b) => b.el));
  return { wrap, values: () => boxes.filter((b) => b.cb.checked).map((b) => b.cb.value), first: boxes[0]?.cb };
}
