// Sign in by pasting a personal access token (kept in sessionStorage for this tab only), or, when the server has
// single sign-on configured (GET /auth/config answers 200), with the identity provider through /auth/login.

import { api, session, TOKEN_PATTERN } from '../api.js';
import { h, errorAlert, field, clear } from '../dom.js';

export function renderSignIn(container, { message, onSignedIn }) {
  const input = h('input', {
    type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'gnt_…', 'aria-required': 'true',
  });
  const status = h('div', { class: 'form-status', id: 'signin-status' });
  if (message) status.append(h('div', { class: 'alert alert-warning', role: 'alert', id: 'signin-message' }, h('p', message)));
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h('form', { class: 'panel', id: 'signin-form', novalidate: true },
    status,
    field('Personal access token', input,
      'A token looks like gnt_ followed by 40 letters and digits. It stays in this browser tab only (sessionStorage) and is forgotten when you close it.'),
    h('div', { class: 'form-actions' }, button));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(status);
    const token = input.value.trim();
    if (!TOKEN_PATTERN.test(token)) {
      input.setAttribute('aria-invalid', 'true');
      status.append(h('div', { class: 'alert alert-error', role: 'alert' },
        h('p', 'That is not a Gantry token: it should be gnt_ followed by 40 letters and digits.')));
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    button.disabled = true;
    try {
      const me = (await api.get('/me', { token, quiet401: true })).data;
      session.set(token);
      await onSignedIn(me);
    } catch (error) {
      const shown = error.status === 401
        ? Object.assign(error, { message: 'This token was not accepted: it is unknown, revoked or expired.' })
        : error;
      status.append(errorAlert(shown, { title: 'Sign-in failed.' }));
      input.focus();
    } finally {
      button.disabled = false;
    }
  });

  const sso = h('div', { class: 'signin-sso', id: 'signin-sso-panel', hidden: true },
    h('button', { type: 'button', class: 'btn btn-primary', id: 'signin-sso', onclick: () => window.location.assign('/auth/login') },
      'Sign in with SSO'),
    h('p', { class: 'signin-or muted' }, 'or'));
  container.append(h('section', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('div', { class: 'logo' }, h('img', { src: '/console/favicon.svg', alt: '', width: 40, height: 40 }), h('h1', { id: 'signin-title' }, 'Sign in to Gantry')),
    sso,
    h('p', { class: 'muted' }, 'Paste a personal access token. An administrator can create one for you under Settings → Members, and you can create more under Settings → Tokens.'),
    form));
  input.focus();
  showSingleSignOn(sso);
}

/** Shows the SSO button when the server offers single sign-on (GET /auth/config → 200; 404 when it does not). */
async function showSingleSignOn(panel) {
  try {
    const response = await fetch('/auth/config', { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' });
    if (response.ok && panel.isConnected) panel.hidden = false;
  } catch { /* no SSO offered or the server is unreachable: token sign-in stays */ }
}
