// Settings › Integrations: the container registries environments pull from. Passwords are write-only.

import { api, seg } from '../api.js';
import { h, field, handleSubmit, str, option, toast, formActions } from '../dom.js';
import { listSection, table } from './section.js';

export async function renderIntegrations(ctx, host) {
  let accounts = null;
  const accountName = (id) => (accounts || []).find((a) => a.id === id)?.name || id;
  const section = listSection({
    ctx, host, title: 'Registry integrations', what: 'integrations', newLabel: 'Add an integration',
    intro: 'Container registries environments pull from. Username and password are write-only; ECR, GAR and ACR may use a cloud account instead.',
    emptyTitle: 'No integrations', emptyText: 'Add a registry to attach it to environments.',
    load: async () => {
      const [items, acc] = await Promise.all([api.listAll('/integrations'), api.listAll('/cloud-accounts').catch(() => [])]);
      accounts = acc;
      return items;
    },
    path: (i) => `/integrations/${seg(i.id)}`,
    rename: { done: 'Integration renamed.' },
    remove: {
      versioned: true, done: (i) => `Integration ${i.name} deleted.`,
      confirm: () => ({ message: 'Environments that use it must be changed first.', confirmLabel: 'Delete integration' }),
    },
    render: (items, { actions }) => table('integrations-table', ['Name', 'Kind', 'Registry', { text: 'Authentication', class: 'hide-narrow' }, ''],
      items.map((i) => h('tr', { dataset: { integrationId: i.id } },
        h('td', h('strong', i.name), h('div', { class: 'meta mono' }, i.id)),
        h('td', i.kind),
        h('td', h('code', i.registry)),
        h('td', { class: 'hide-narrow' }, i.cloudAccountId ? `cloud account ${accountName(i.cloudAccountId)}` : i.hasCredentials ? 'username and password (stored)' : h('span', { class: 'muted' }, 'anonymous')),
        actions(i)))),
    form: (done, cancel) => {
      const kind = h('select', { name: 'kind', required: true }, ['dockerhub', 'ghcr', 'ecr', 'gar', 'acr', 'generic'].map((k) => option(k, k)));
      const account = h('select', { name: 'cloudAccountId' }, option('', 'None'), (accounts || []).map((a) => option(a.id, `${a.name} (${a.provider})`)));
      const el = h('form', { class: 'panel', id: 'create-integration-form', 'aria-label': 'Add an integration' },
        h('div', { class: 'form-grid' },
          field('Name', h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' })),
          field('Kind', kind),
          field('Registry host', h('input', { type: 'text', name: 'registry', required: true, autocomplete: 'off', placeholder: 'ghcr.io' })),
          field('Cloud account', account, 'For ecr, gar and acr instead of a password.')),
        h('fieldset', h('legend', 'Credentials (optional, write-only)'), h('div', { class: 'form-grid' },
          field('Username', h('input', { type: 'text', name: 'username', autocomplete: 'off' })),
          field('Password or token', h('input', { type: 'password', name: 'password', autocomplete: 'new-password' })))),
        formActions('Add integration', cancel));
      handleSubmit(el, async (data) => {
        const body = { name: String(data.get('name') || '').trim(), kind: kind.value, registry: String(data.get('registry') || '').trim() };
        const cloudAccountId = str(data, 'cloudAccountId');
        if (cloudAccountId) body.cloudAccountId = cloudAccountId;
        const username = str(data, 'username');
        const password = data.get('password') ? String(data.get('password')) : undefined;
        if (username || password) body.credentials = { username: username || '', password: password || '' };
        await api.post('/integrations', body);
        toast('Integration added.');
        await done();
      });
      return el;
    },
  });
  await section.reload();
}
