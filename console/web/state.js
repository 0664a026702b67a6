// What the views share: who is signed in, the live-region announcer, and
// the list of listeners for server events.

export const session = {
  me: null,          // /api/me or /api/login answer
  identity: null,    // the stored {key, certificatePem, identity, notAfter}
  loginMessage: '',  // shown on the sign-in page (session expired, signed out)
};

export function isOperator() { return session.me?.role === 'operator'; }

export function navigate(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

// Polite announcements for screen readers (the #live region).
export function announce(text) {
  const live = document.getElementById('live');
  if (!live) return;
  live.textContent = '';
  // A new text node after a tick, so the same sentence is announced again.
  setTimeout(() => { live.textContent = text; }, 50);
}

const eventListeners = new Set();
export function onServerEvent(fn) { eventListeners.add(fn); return () => eventListeners.delete(fn); }
export function emitServerEvent(ev) { for (const fn of [...eventListeners]) fn(ev); }

// The person's own activity. Background refreshes stop once the person has
// been away for the session's idle time, so that they do not keep an
// unattended session open: the node then ends it, as it should.
let lastActivity = Date.now();
for (const type of ['pointerdown', 'keydown', 'wheel', 'touchstart']) {
  window.addEventListener(type, () => { lastActivity = Date.now(); }, { capture: true, passive: true });
}
export function personAway() {
  const idleS = Number(session.me?.idleTimeoutS || 900);
  return Date.now() - lastActivity > Math.max(60, idleS - 60) * 1000;
}
