// The console's entry point: session, shell and the hash router (#/projects/…), so the server serves only files.

import { api, onForbidden, onUnauthenticated, session } from './api.js';
import { explainRefusal } from './access.js';
import { h, loading, errorAlert, replace, toast } from './dom.js';
import { renderSignIn } from './pages/signin.js';
import { renderDashboard } from './pages/dashboard.js';
import { renderProject } from './pages/project.js';
import { renderEnvironment } from './pages/environment.js';
import { renderCanvas } from './pages/canvas.js';
import { renderSettings } from './pages/settings.js';

/** What the app knows about the caller: GET /me. */
export const state = { me: null };

const routes = [
  { pattern: '/projects', render: renderDashboard, nav: 'projects', title: 'Projects' },
  { pattern: '/projects/:projectId', render: renderProject, nav: 'projects', title: 'Project' },
  { pattern: '/projects/:projectId/canvas', render: renderCanvas, nav: 'projects', title: 'Architecture', wide: true },
  { pattern: '/projects/:projectId/environments/:envId', render: renderEnvironment, nav: 'projects', title: 'Environment' },
  { pattern: '/settings', render: renderSettings, nav: 'settings', title: 'Settings' },
  { pattern: '/settings/:tab', render: renderSettings, nav: 'settings', title: 'Settings' },
];

function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const route of routes) {
    const pattern = route.pattern.split('/').filter(Boolean);
    if (pattern.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < pattern.length; i++) {
      if (pattern[i].startsWith(':')) params[pattern[i].slice(1)] = decodeURIComponent(parts[i]);
      else if (pattern[i] !== parts[i]) { ok = false; break; }
    }
    if (ok) return { route, params };
  }
  return null;
}

/** The current hash as {path, query}. */
export function currentLocation() {
  const raw = window.location.hash.replace(/^#/, '') || '/projects';
  const [path, search = ''] = raw.split('?');
  const clean = !path || path === '/' ? '/projects' : path.replace(/\/+$/, '');
  return { path: clean, query: Object.fromEntries(new URLSearchParams(search)) };
}

export function navigate(path, query) {
  const search = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString() : '';
  const hash = `#${path}${search ? `?${search}` : ''}`;
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

/** Rewrites the hash's query without a new render (search boxes, filters). */
export function replaceQuery(query) {
  const { path } = currentLocation();
  const search = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();
  history.replaceState(null, '', `#${path}${search ? `?${search}` : ''}`);
}

const main = () => document.getElementById('main');
let cleanups = [];
let renderSeq = 0;
let signInMessage = null;
/** This page load's one GET /me with the session cookie alone (single sign-on): a 200 means a session. */
let cookieCheck = null;

async function checkCookieSession() {
  try {
    const me = (await api.get('/me', { quiet401: true })).data;
    if (session.token) return;
    session.useCookie(me.csrfToken);
    state.me = me;
  } catch (error) {
    if (error.status !== 401) console.info('No single sign-on session:', error.message);
  }
}

function runCleanups() {
  for (const fn of cleanups.splice(0)) {
    try { fn(); } catch (error) { console.warn('cleanup failed', error); }
  }
}

function setShell(visible) {
  document.getElementById('topbar').hidden = !visible;
  if (visible && state.me) {
    document.getElementById('whoami-org').textContent = state.me.organization.name;
    const user = document.getElementById('whoami-user');
    user.textContent = state.me.user.email;
    user.title = state.me.user.name || state.me.user.email;
  }
}

function showSignIn(message) {
  runCleanups();
  renderSeq++;
  setShell(false);
  const container = replace(main(), h('div'));
  main().classList.remove('wide');
  document.title = 'Sign in · Gantry';
  renderSignIn(container, {
    message,
    onSignedIn: async (me) => {
      state.me = me;
      signInMessage = null;
      await route();
    },
  });
}

/** Renders the page of the current hash. */
export async function route() {
  const seq = ++renderSeq;
  runCleanups();
  if (!session.token && !session.cookie) {
    if (!cookieCheck) cookieCheck = checkCookieSession();
    replace(main(), loading('Signing in…'));
    await cookieCheck;
    if (seq !== renderSeq) return;
    if (!session.cookie) { showSignIn(signInMessage); return; }
  }
  if (!state.me) {
    replace(main(), loading('Signing in…'));
    try {
      state.me = (await api.get('/me', { quiet401: true })).data;
    } catch (error) {
      if (seq !== renderSeq) return;
      if (error.status === 401) {
        const cookie = session.cookie;
        session.clear();
        showSignIn(cookie ? SESSION_ENDED : TOKEN_ENDED);
      } else {
        replace(main(), errorAlert(error, { title: 'Could not load your account.', onRetry: () => route() }));
      }
      return;
    }
    if (seq !== renderSeq) return;
  }
  setShell(true);
  const { path, query } = currentLocation();
  const found = match(path);
  const container = h('div', { class: 'page' });
  const root = main();
  replace(root, container);
  for (const link of document.querySelectorAll('.mainnav a')) {
    if (found && link.dataset.nav === found.route.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!found) {
    root.classList.remove('wide');
    document.title = 'Not found · Gantry';
    container.append(h('div', { class: 'empty' }, h('h1', 'Page not found'), h('p', 'There is no console page at this address.'),
      h('a', { class: 'btn', href: '#/projects' }, 'Go to projects')));
    return;
  }
  root.classList.toggle('wide', Boolean(found.route.wide));
  container.classList.toggle('canvas-page', Boolean(found.route.wide));
  document.title = `${found.route.title} · Gantry`;
  const ctx = {
    params: found.params,
    query,
    el: container,
    me: state.me,
    /** True while this render is the current one (false once the user navigated away). */
    alive: () => seq === renderSeq,
    onCleanup: (fn) => { if (seq === renderSeq) cleanups.push(fn); else fn(); },
    setTitle: (title) => { if (seq === renderSeq) document.title = `${title} · Gantry`; },
  };
  try {
    await found.route.render(ctx);
  } catch (error) {
    if (!ctx.alive()) return;
    console.warn('render failed', error);
    replace(container, errorAlert(error, { title: 'This page could not be shown.', onRetry: () => route() }));
  }
}

const TOKEN_ENDED = 'Your session ended: the token was revoked, has expired, or is unknown. Paste a valid token to sign in again.';
const SESSION_ENDED = 'Your single sign-on session ended (signed out, expired or revoked). Sign in again.';

/** Forgets the token or the single sign-on session. After an explicit sign-out the next sign-in starts at the
 * dashboard; after a 401 it returns to the page the user was on. */
function signOut(message, { keepLocation = false } = {}) {
  session.clear();
  state.me = null;
  signInMessage = message || null;
  if (!keepLocation && window.location.hash && window.location.hash !== '#/projects') history.replaceState(null, '', '#/projects');
  showSignIn(signInMessage);
}

onUnauthenticated(() => {
  if (session.token) signOut(TOKEN_ENDED, { keepLocation: true });
  else if (session.cookie) signOut(SESSION_ENDED, { keepLocation: true });
});

onForbidden(explainRefusal);

/** The header's Sign out: a single sign-on session is ended on the server (POST /auth/logout) first. */
async function signOutClicked() {
  const button = document.getElementById('signout');
  if (session.cookie) {
    button.disabled = true;
    try {
      const response = await fetch('/auth/logout', { method: 'POST', credentials: 'same-origin', cache: 'no-store' });
      if (!response.ok && response.status !== 404) throw new Error(`HTTP ${response.status}`);
    } catch (error) {
      button.disabled = false;
      toast(`Sign-out failed (${error.message}); try again.`, { kind: 'error' });
      return;
    }
    button.disabled = false;
  }
  signOut('You are signed out.');
}

function start() {
  document.getElementById('signout').addEventListener('click', () => signOutClicked());
  document.getElementById('skip-link').addEventListener('click', () => {
    const target = document.querySelector('#main h1') || main();
    if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
    target.focus();
  });
  window.addEventListener('hashchange', () => route());
  route();
}

start();
