// Calls to mir-console's JSON API (docs/CONSOLE-API.md): same origin only,
// the session cookie, and on every POST the X-MIR-CSRF header.

export class ApiError extends Error {
  constructor(status, reason, message, field) {
    super(message || reason);
    this.status = status;
    this.reason = reason;      // ErrorReason name or a console reason
    this.serverMessage = message || '';
    this.field = field || '';
  }
}

let csrf = '';
let onSessionExpired = () => {};

export function setCsrf(token) { csrf = token || ''; }
export function setSessionExpiredHandler(fn) { onSessionExpired = fn; }

async function call(method, path, body, { expiredIsError = false } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET') {
    headers['X-MIR-CSRF'] = csrf;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'NETWORK', '');
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const e = data && data.error ? data.error : {};
    let reason = e.reason || '';
    if (!reason) reason = res.status === 403 ? 'FORBIDDEN' : res.status === 503 ? 'UNAVAILABLE' : `HTTP_${res.status}`;
    const err = new ApiError(res.status, reason, e.message, e.field);
    if (reason === 'SESSION_EXPIRED' && !expiredIsError) onSessionExpired();
    throw err;
  }
  return data ?? {};
}

export const api = {
  me: () => call('GET', '/api/me', undefined, { expiredIsError: true }),
  challenge: () => call('GET', '/api/login/challenge'),
  login: (statement, certificatePem, signature) =>
    call('POST', '/api/login', { statement, certificatePem, signature }),
  logout: () => call('POST', '/api/logout', {}, { expiredIsError: true }),
  list: (params) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v) q.set(k, v);
    const s = q.toString();
    return call('GET', `/api/referrals${s ? `?${s}` : ''}`);
  },
  get: (id) => call('GET', `/api/referrals/${encodeURIComponent(id)}`),
  prepare: (id, request) => call('POST', `/api/referrals/${encodeURIComponent(id)}/prepare`, request),
  prepareNew: (referral) => call('POST', '/api/referrals/prepare', { referral }),
  submit: (token, signatures) => call('POST', '/api/submit', { token, signatures }),
  circulate: (id, partners) => call('POST', `/api/referrals/${encodeURIComponent(id)}/circulate`, { partners }),
  deadLetters: () => call('GET', '/api/dead-letters'),
  requeue: (messageId) => call('POST', '/api/dead-letters/requeue', { messageId }),
  node: () => call('GET', '/api/node'),
  statistics: (params) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v) q.set(k, v);
    const s = q.toString();
    return call('GET', `/api/statistics${s ? `?${s}` : ''}`);
  },
  // Citizen reports
  reports: (params) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v) q.set(k, v);
    const s = q.toString();
    return call('GET', `/api/reports${s ? `?${s}` : ''}`);
  },
  report: (id, contact = false) => call('GET', `/api/reports/${encodeURIComponent(id)}${contact ? '?contact=1' : ''}`),
  recordReport: (reportId, report) => call('POST', '/api/reports', { reportId, report }),
  triageReport: (id, triage, routeTo) => call('POST', `/api/reports/${encodeURIComponent(id)}/triage`, { triage, routeTo }),
  linkReport: (id, referralId) => call('POST', `/api/reports/${encodeURIComponent(id)}/link`, { referralId }),
  // Service requests and the roster
  serviceRequests: (params) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v) q.set(k, v);
    const s = q.toString();
    return call('GET', `/api/service-requests${s ? `?${s}` : ''}`);
  },
  serviceRequest: (id) => call('GET', `/api/service-requests/${encodeURIComponent(id)}`),
  createServiceRequest: (requestId, request) => call('POST', '/api/service-requests', { requestId, request }),
  assignService: (id, rosterCode) => call('POST', `/api/service-requests/${encodeURIComponent(id)}/assign`, { rosterCode }),
  scheduleService: (id, at) => call('POST', `/api/service-requests/${encodeURIComponent(id)}/schedule`, { at }),
  completeService: (id, outcome) => call('POST', `/api/service-requests/${encodeURIComponent(id)}/complete`, { outcome }),
  cancelService: (id, reason) => call('POST', `/api/service-requests/${encodeURIComponent(id)}/cancel`, { reason }),
  placeService: (id, node) => call('POST', `/api/service-requests/${encodeURIComponent(id)}/place`, { node }),
  roster: () => call('GET', '/api/roster'),
  putRoster: (entry) => call('POST', '/api/roster', { entry }),
};
