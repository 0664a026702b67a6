// Sign-in: the first time, import certificate and key (PEM files); then sign
// the node's challenge with the stored key (docs/CONSOLE-API.md, "Sign-in").
import { t } from './texts.js';
import { h, clear, field, alertBox, setFieldError, clearFieldErrors, romeDate, errorWords } from './ui.js';
import { api, setCsrf } from './api.js';
import { session, navigate } from './state.js';
import {
  loadIdentity, importIdentity, forgetIdentity, signBytes, loginSignedBytes,
  statementOrigin, bytesToBase64, KeyError,
} from './keys.js';

async function signIn(record) {
  const { statement } = await api.challenge();
  const origin = statementOrigin(statement || '');
  if (origin !== location.origin) {
    throw new KeyError('errOriginMismatch', origin || '?');
  }
  const sig = await signBytes(record.key, loginSignedBytes(statement));
  const me = await api.login(statement, record.certificatePem, bytesToBase64(sig));
  setCsrf(me.csrf);
  session.me = me;
  session.identity = record;
  session.loginMessage = '';
}

function keyErrorText(e) {
  if (e instanceof KeyError) {
    if (e.code === 'errOriginMismatch') return t('errOriginMismatch', { origin: e.detail });
    return t(e.code, { detail: e.detail });
  }
  return errorWords(e);
}

export async function renderLogin(main, { onSignedIn }) {
  const record = await loadIdentity();
  const status = h('div', { id: 'login-status', 'aria-live': 'assertive' });
  const heading = h('h1', { tabindex: '-1' }, t('loginTitle'));
  const kids = [heading, h('p', {}, t('loginIntro'))];
  if (session.loginMessage) kids.push(alertBox(session.loginMessage, 'info'));
  kids.push(status);

  const busy = (button, on) => {
    button.disabled = on;
    if (on) clear(status, h('p', { role: 'status' }, t('signingIn')));
  };
  const fail = (e) => clear(status, alertBox(keyErrorText(e)));

  if (record) {
    const expired = new Date(record.notAfter) < new Date();
    const btn = h('button', { type: 'submit', id: 'sign-in', class: 'primary' }, t('signInButton'));
    const form = h('form', { id: 'login-form', class: 'card', novalidate: true },
      h('p', { id: 'stored-identity' }, t('storedIdentity', { identity: record.identity }), ' ',
        h('span', { class: 'muted' }, t('storedValidUntil', { date: romeDate(record.notAfter) }))),
      expired ? alertBox(t('certExpiredLocal', { date: romeDate(record.notAfter) }), 'warning') : null,
      h('div', { class: 'buttons' }, btn,
        h('button', {
          type: 'button', id: 'forget-identity', class: 'secondary',
          onclick: async () => {
            await forgetIdentity();
            session.loginMessage = t('forgetConfirm');
            renderLogin(main, { onSignedIn });
          },
        }, t('forgetButton'))));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      busy(btn, true);
      try {
        await signIn(record);
        onSignedIn();
      } catch (e) {
        fail(e);
      } finally {
        btn.disabled = false;
      }
    });
    kids.push(form);
  } else {
    const cert = field(t('certFile'), h('input', { type: 'file', id: 'cert-file', accept: '.crt,.pem,.cer', required: true }));
    const key = field(t('keyFile'), h('input', { type: 'file', id: 'key-file', accept: '.key,.pem', required: true }));
    const btn = h('button', { type: 'submit', id: 'import-identity', class: 'primary' }, t('importButton'));
    const form = h('form', { id: 'import-form', class: 'card', novalidate: true },
      h('h2', {}, t('importTitle')), h('p', {}, t('importIntro')), cert.wrap, key.wrap,
      h('div', { class: 'buttons' }, btn));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearFieldErrors(form);
      clear(status);
      const cf = cert.input.files[0];
      const kf = key.input.files[0];
      if (!cf) setFieldError(cert.input, t('errNoCertFile'));
      if (!kf) setFieldError(key.input, t('errNoKeyFile'));
      if (!cf || !kf) { (cf ? key.input : cert.input).focus(); return; }
      busy(btn, true);
      let rec;
      try {
        rec = await importIdentity(await cf.text(), await kf.text());
      } catch (e) {
        clear(status);
        btn.disabled = false;
        const target = e instanceof KeyError && ['errNotCert', 'errNoIdentity'].includes(e.code) ? cert.input : key.input;
        setFieldError(target, keyErrorText(e));
        target.focus();
        return;
      }
      key.input.value = '';
      try {
        await signIn(rec);
        onSignedIn();
      } catch (e) {
        btn.disabled = false;
        await renderLogin(main, { onSignedIn });
        const st = document.getElementById('login-status');
        if (st) clear(st, alertBox(keyErrorText(e)));
      }
    });
    kids.push(form);
  }
  clear(main, h('section', { class: 'login', 'aria-labelledby': 'login-h' }, kids));
  heading.id = 'login-h';
  heading.focus();
}

export async function logout() {
  try { await api.logout(); } catch { /* the session is over either way */ }
  setCsrf('');
  session.me = null;
  session.loginMessage = t('loggedOut');
  navigate('#/login');
}
