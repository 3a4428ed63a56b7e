// The one way the console talks to the Gantry API: a bearer token or the single sign-on session cookie, JSON in
// and out, and the error envelope ({"error": {code, message, details, requestId}}) turned into an ApiError with a
// message for a person.

import { rememberNames } from './names.js';

const TOKEN_KEY = 'gantry.token';
export const TOKEN_PATTERN = /^gnt_[A-Za-z0-9]{40}$/;
const CHANGES = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

let csrfToken = null;
/** Sign-ins and sign-outs so far (`session.generation`). */
let signIns = 0;

/**
 * How the console is signed in. A token lives in sessionStorage: gone when the tab closes, never in a cookie or
 * localStorage. A single sign-on session is the server's HttpOnly cookie (sent by the browser, never read here)
 * plus its CSRF value from GET /me, kept in memory only and sent as X-Gantry-CSRF with every change.
 */
export const session = {
  get token() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
  },
  /** Changes whenever who is signed in may have: what the console learnt about the caller's access keys on it. */
  get generation() { return signIns; },
  set(token) { csrfToken = null; signIns += 1; sessionStorage.setItem(TOKEN_KEY, token); },
  /** True when signed in with the session cookie (no token). */
  get cookie() { return !this.token && csrfToken !== null; },
  useCookie(csrf) { csrfToken = csrf || ''; signIns += 1; },
  clear() {
    csrfToken = null;
    signIns += 1;
    try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage unavailable */ }
  },
};

/** A failed request: HTTP status, the API's code and message, its details and the request id. */
export class ApiError extends Error {
  constructor({ status, code, message, details, requestId, retryAfter }) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details || null;
    this.requestId = requestId || null;
    this.retryAfter = retryAfter || null;
  }

  /** `details.fields` of a validation error as {field: message}. */
  get fieldErrors() {
    const out = {};
    const fields = this.details && Array.isArray(this.details.fields) ? this.details.fields : [];
    for (const f of fields) {
      if (f && f.field) out[f.field] = out[f.field] ? `${out[f.field]}; ${f.message}` : f.message;
    }
    if (this.code === 'conflict' && this.details && typeof this.details.field === 'string' && !out[this.details.field]) {
      out[this.details.field] = this.message;
    }
    return out;
  }

  get isClusterError() {
    return ['cluster_unreachable', 'cluster_auth_failed', 'cluster_error', 'cluster_timeout'].includes(this.code);
  }
}

const FALLBACK_MESSAGES = {
  0: 'Cannot reach the Gantry server. Check your connection and try again.',
  401: 'Your token is not accepted: it is unknown, expired or revoked.',
  403: 'You do not have permission to do this.',
  404: 'Not found: it does not exist, was deleted, or you cannot see it.',
  429: 'Too many requests; wait a moment and try again.',
  500: 'Something went wrong on the server.',
  502: 'The cluster could not be reached.',
  503: 'The service is unavailable; try again shortly.',
  504: 'The cluster did not answer in time.',
};

let unauthenticatedHandler = null;
/** Called (once per failing request) when the API answers 401: the app shows the sign-in page. */
export function onUnauthenticated(handler) { unauthenticatedHandler = handler; }

let forbiddenHandler = null;
/** Called with the ApiError of a 403 that names its policy, before it is thrown; it may reword the message. */
export function onForbidden(handler) { forbiddenHandler = handler; }

/** The headers that authenticate a request: the token, or the CSRF value for a change made with the cookie. */
function authHeaders(method, token) {
  if (token) return { Authorization: `Bearer ${token}` };
  if (csrfToken && CHANGES.has(method)) return { 'X-Gantry-CSRF': csrfToken };
  return {};
}

function buildURL(path, query) {
  const url = new URL(`/api${path}`, window.location.origin);
  if (query) {
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null || value === '') continue;
      url.searchParams.set(key, String(value));
    }
  }
  return url.pathname + url.search;
}

function newRequestId() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return 'console-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Sends one request. Resolves to {status, data, nextCursor, etag, warning, requestId, body}; rejects with ApiError.
 * `warning` is the text of a `Warning: 199 - "…"` header (e.g. the cluster's events could not be read), else null.
 * Options: query, body (JSON), ifMatch (a version number or ETag), signal, token (override), quiet401.
 */
export async function request(method, path, options = {}) {
  const { query, body, ifMatch, signal, token = session.token, quiet401 = false, explain = true } = options;
  const headers = { Accept: 'application/json', 'X-Request-Id': newRequestId(), ...authHeaders(method, token) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (ifMatch !== undefined && ifMatch !== null) {
    headers['If-Match'] = typeof ifMatch === 'number' ? `"${ifMatch}"` : String(ifMatch);
  }
  let response;
  try {
    response = await fetch(buildURL(path, query), {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch (error) {
    if (error && error.name === 'AbortError') throw error;
    throw new ApiError({ status: 0, code: 'network', message: FALLBACK_MESSAGES[0], requestId: headers['X-Request-Id'] });
  }
  const requestId = response.headers.get('X-Request-Id') || headers['X-Request-Id'];
  let payload = null;
  if (response.status !== 204) {
    const text = await response.text();
    if (text) {
      try { payload = JSON.parse(text); } catch { payload = null; }
    }
  }
  if (!response.ok) {
    const envelope = payload && payload.error ? payload.error : {};
    const error = new ApiError({
      status: response.status,
      code: envelope.code || `http_${response.status}`,
      message: envelope.message || FALLBACK_MESSAGES[response.status] || `The request failed (HTTP ${response.status}).`,
      details: envelope.details,
      requestId: envelope.requestId || requestId,
      retryAfter: response.headers.get('Retry-After'),
    });
    if (response.status === 401 && !quiet401 && unauthenticatedHandler) unauthenticatedHandler(error);
    if (response.status === 403 && explain && forbiddenHandler && error.details && error.details.policy) {
      try { await forbiddenHandler(error); } catch { /* the API's own message stays */ }
    }
    throw error;
  }
  if (payload && payload.data) rememberNames(payload.data);
  return {
    status: response.status,
    data: payload ? payload.data : null,
    nextCursor: payload ? payload.nextCursor ?? null : null,
    etag: response.headers.get('ETag'),
    warning: warningText(response.headers.get('Warning')),
    requestId,
    body: payload,
  };
}

/** The quoted text of a `Warning` header (`199 - "cluster events unavailable: …"`), or the raw value. */
function warningText(header) {
  if (!header) return null;
  const quoted = /^\s*\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/.exec(header);
  return quoted ? quoted[1].replace(/\\(.)/g, '$1') : header;
}

/** Every page of a list, following nextCursor (200 per page). */
async function listAll(path, query = {}, options = {}) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 1000; page++) {
    const result = await request('GET', path, { ...options, query: { ...query, limit: 200, cursor } });
    items.push(...(result.data || []));
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return items;
}

export const api = {
  request,
  listAll,
  get: (path, options) => request('GET', path, options),
  post: (path, body, options = {}) => request('POST', path, { ...options, body }),
  patch: (path, body, options = {}) => request('PATCH', path, { ...options, body }),
  put: (path, body, options = {}) => request('PUT', path, { ...options, body }),
  del: (path, options) => request('DELETE', path, options),
  /** Raw fetch with the token or the session cookie, for streamed answers (audit export). */
  async fetchRaw(path, query) {
    const response = await fetch(buildURL(path, query), { headers: authHeaders('GET', session.token), credentials: 'same-origin' });
    if (!response.ok) {
      let envelope = {};
      try { envelope = (await response.json()).error || {}; } catch { /* not JSON */ }
      throw new ApiError({
        status: response.status, code: envelope.code || `http_${response.status}`,
        message: envelope.message || FALLBACK_MESSAGES[response.status] || `HTTP ${response.status}`,
        details: envelope.details, requestId: envelope.requestId || response.headers.get('X-Request-Id'),
      });
    }
    return response;
  },
};

/** Encodes a path segment (ids are URL-safe, but names are not). */
export const seg = (value) => encodeURIComponent(value);
