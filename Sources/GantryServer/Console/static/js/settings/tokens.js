// Settings › Tokens: your personal access tokens. The secret is shown once, when a token is created.

import { api, seg } from '../api.js';
import { h, replace, field, handleSubmit, timeEl, formatDate, toRFC3339, copyText, formActions } from '../dom.js';
import { listSection, table } from './section.js';

/** The new token's secret, shown once, with a Copy button. */
function secretBox(title, token) {
  return h('div', { class: 'alert alert-success', role: 'status', id: 'new-token-secret' },
    h('p', { class: 'alert-title' }, title),
    h('p', 'Copy it now: it is shown only this once and cannot be retrieved later.'),
    h('div', { class: 'secret' }, h('code', { class: 'token-value' }, token),
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => copyText(token) }, 'Copy')));
}

function tokenState(t) {
  if (t.revokedAt) return h('span', { class: 'badge revoked' }, 'revoked');
  if (t.expiresAt && Date.parse(t.expiresAt) <= Date.now()) return h('span', { class: 'badge warn' }, 'expired');
  return h('span', { class: 'badge ok' }, 'active');
}

/** Name and expiry; `create(body)` answers the new token, whose secret is then shown above the form. */
export function tokenForm({ id, submitLabel, cancel, create }) {
  const secretHost = h('div');
  const el = h('form', { class: 'panel', id, 'aria-label': submitLabel },
    secretHost,
    h('div', { class: 'form-grid' },
      field('Name', h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off', placeholder: 'laptop, CI…' })),
      field('Expires', h('input', { type: 'datetime-local', name: 'expiresAt' }), 'Optional: in your local time. Empty means it never expires.')),
    formActions(submitLabel, cancel));
  handleSubmit(el, async (data) => {
    const body = { name: String(data.get('name') || '').trim() };
    const expiresAt = toRFC3339(String(data.get('expiresAt') || ''));
    if (expiresAt) body.expiresAt = expiresAt;
    const created = await create(body);
    replace(secretHost, secretBox(`Token “${created.name}” created.`, created.token));
    el.reset();
  });
  return el;
}

export async function renderTokens(ctx, host) {
  const section = listSection({
    ctx, host, title: 'Your tokens', what: 'your tokens', newLabel: 'New token',
    intro: 'Personal access tokens act as you. The secret is shown once, when the token is created.',
    emptyTitle: 'No tokens', emptyText: 'Create a token for the CLI or automation.',
    load: () => api.listAll('/tokens'),
    path: (t) => `/tokens/${seg(t.id)}`,
    remove: {
      label: 'Revoke', when: (t) => !t.revokedAt, ariaLabel: (t) => `Revoke token ${t.name}`, done: (t) => `Token ${t.name} revoked.`,
      confirm: () => ({ message: 'It stops working at once. If it is the token this console signed in with, you will be signed out.', confirmLabel: 'Revoke token' }),
    },
    render: (tokens, { actions }) => table('tokens-table', ['Name', 'Status', { text: 'Created', class: 'hide-narrow' }, 'Expires', { text: 'Last used', class: 'hide-narrow' }, ''],
      tokens.map((t) => h('tr', { dataset: { tokenId: t.id } },
        h('td', h('strong', t.name), h('div', { class: 'meta mono' }, t.id)),
        h('td', tokenState(t)),
        h('td', { class: 'hide-narrow' }, timeEl(t.createdAt)),
        h('td', t.expiresAt ? h('time', { datetime: t.expiresAt, title: formatDate(t.expiresAt) }, formatDate(t.expiresAt)) : h('span', { class: 'muted' }, 'never')),
        h('td', { class: 'hide-narrow' }, timeEl(t.lastUsedAt)),
        actions(t)))),
    form: (done, cancel) => tokenForm({
      id: 'create-token-form', submitLabel: 'Create token', cancel,
      create: async (body) => { const { data } = await api.post('/tokens', body); await section.reload(); return data; },
    }),
  });
  await section.reload();
}
