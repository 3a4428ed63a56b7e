// Settings › Cloud accounts: AWS, Google Cloud and Azure credentials, write-only (sent once, never shown).

import { api, seg } from '../api.js';
import { h, replace, field, handleSubmit, option, timeEl, toast, formDialog, formActions } from '../dom.js';
import { listSection, table } from './section.js';

const CREDENTIAL_FIELDS = {
  aws: [['accessKeyId', 'Access key id', true], ['secretAccessKey', 'Secret access key', true], ['sessionToken', 'Session token', false], ['roleArn', 'Role ARN to assume', false]],
  gcp: [['serviceAccountJson', 'Service account key (JSON)', true]],
  azure: [['tenantId', 'Tenant id', true], ['clientId', 'Client id', true], ['clientSecret', 'Client secret', true], ['subscriptionId', 'Subscription id', true]],
};

function credentialFields(provider) {
  return CREDENTIAL_FIELDS[provider].map(([name, label, required]) => {
    const secret = /secret|token|Json/i.test(name);
    const control = name === 'serviceAccountJson'
      ? h('textarea', { name: `credentials.${name}`, required, spellcheck: 'false', rows: 6 })
      : h('input', { type: secret ? 'password' : 'text', name: `credentials.${name}`, required, autocomplete: 'off', spellcheck: 'false' });
    return field(label, control, required ? null : 'Optional.');
  });
}

function readCredentials(data) {
  const out = {};
  for (const [key, value] of data.entries()) {
    if (key.startsWith('credentials.') && String(value).trim()) out[key.slice(12)] = String(value).trim();
  }
  return out;
}

export async function renderCloudAccounts(ctx, host) {
  const section = listSection({
    ctx, host, title: 'Cloud accounts', what: 'cloud accounts', newLabel: 'Add a cloud account',
    intro: 'Credentials for EKS, GKE and AKS spaces and cloud registries. They are write-only: sealed for the deployer and never shown again.',
    emptyTitle: 'No cloud accounts', emptyText: 'Add one to register EKS, GKE or AKS clusters.',
    load: () => api.listAll('/cloud-accounts'),
    path: (a) => `/cloud-accounts/${seg(a.id)}`,
    remove: {
      versioned: true, done: (a) => `Cloud account ${a.name} deleted.`,
      confirm: () => ({ message: 'Spaces and integrations that use it stop working.', confirmLabel: 'Delete account' }),
    },
    render: (accounts, { reload, actions }) => table('cloud-accounts-table', ['Name', 'Provider', { text: 'Created', class: 'hide-narrow' }, ''],
      accounts.map((a) => h('tr', { dataset: { cloudAccountId: a.id } },
        h('td', h('strong', a.name), h('div', { class: 'meta mono' }, a.id)),
        h('td', a.provider),
        h('td', { class: 'hide-narrow' }, timeEl(a.createdAt)),
        actions(a, h('button', { type: 'button', class: 'btn btn-small', onclick: () => replaceCredentialsDialog(a, reload) }, 'Replace credentials'))))),
    form: (done, cancel) => {
      const provider = h('select', { name: 'provider', required: true }, option('aws', 'AWS'), option('gcp', 'Google Cloud'), option('azure', 'Azure'));
      const dynamic = h('div', { class: 'form-grid' }, credentialFields('aws'));
      provider.addEventListener('change', () => replace(dynamic, credentialFields(provider.value)));
      const el = h('form', { class: 'panel', id: 'create-cloud-account-form', 'aria-label': 'Add a cloud account' },
        h('div', { class: 'form-grid' }, field('Name', h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' })), field('Provider', provider)),
        h('fieldset', h('legend', 'Credentials (write-only)'), dynamic),
        formActions('Add account', cancel));
      handleSubmit(el, async (data) => {
        await api.post('/cloud-accounts', { name: String(data.get('name') || '').trim(), provider: provider.value, credentials: readCredentials(data) });
        toast('Cloud account added.');
        await done();
      });
      return el;
    },
  });
  await section.reload();
}

function replaceCredentialsDialog(account, reload) {
  const form = h('form', { id: 'replace-credentials-form' }, h('p', { class: 'meta' }, 'The old credentials are replaced; neither is ever shown.'),
    h('div', { class: 'form-grid' }, credentialFields(account.provider)));
  let ref;
  handleSubmit(form, async (data) => {
    await api.patch(`/cloud-accounts/${seg(account.id)}`, { credentials: readCredentials(data) }, { ifMatch: account.version });
    ref.close();
    toast('Credentials replaced.');
    await reload();
  });
  ref = formDialog({ title: `New credentials for ${account.name}`, form, submitLabel: 'Replace' });
}
