// Settings: deployment spaces, registry integrations, cloud accounts, tokens, members, roles, assignments and
// the audit log. Credentials and kubeconfigs are write-only: the forms send them, nothing ever shows them back.

import { api, seg } from '../api.js';
import {
  h, replace, clear, loading, errorAlert, emptyState, field, handleSubmit, str, option, timeEl, formatDate, toast,
  openDialog, confirmDialog, copyText, plural, showFieldErrors, clearFieldErrors,
} from '../dom.js';
import { replaceQuery, navigate } from '../app.js';

const TABS = [
  ['spaces', 'Spaces'], ['integrations', 'Integrations'], ['cloud-accounts', 'Cloud accounts'], ['tokens', 'Tokens'],
  ['members', 'Members'], ['roles', 'Roles'], ['assignments', 'Assignments'], ['audit', 'Audit log'],
];

export async function renderSettings(ctx) {
  const tab = ctx.params.tab || 'spaces';
  const known = TABS.find(([id]) => id === tab);
  if (!known) { navigate('/settings/spaces'); return; }
  ctx.setTitle(`${known[1]} · Settings`);
  const body = h('div', { id: `settings-${tab}` });
  ctx.el.append(
    h('div', { class: 'page-header' }, h('div', h('h1', 'Settings'), h('p', { class: 'subtitle' }, `Organization ${ctx.me.organization.name}`))),
    h('nav', { class: 'tabs', 'aria-label': 'Settings sections' },
      TABS.map(([id, label]) => h('a', { href: `#/settings/${id}`, 'aria-current': id === tab ? 'page' : null }, label))),
    body);
  await RENDERERS[tab](ctx, body);
}

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces

function permissionHint(error, what) {
  if (error && error.status === 403) {
    return h('div', { class: 'alert alert-warning', role: 'alert' }, h('p', { class: 'alert-title' }, `You cannot see ${what}.`),
      h('p', error.message), h('p', 'This needs an organization-wide role that includes it (for example admin).'));
  }
  return null;
}

function table(id, headers, rows) {
  return h('div', { class: 'table-wrap' }, h('table', { id },
    h('thead', h('tr', headers.map((label) => (typeof label === 'string'
      ? h('th', { scope: 'col' }, label)
      : h('th', { scope: 'col', class: label.class || null }, label.text))))),
    h('tbody', rows)));
}

/**
 * A list with an optional create form: header, "New …" toggle, status area for row-action errors, the table.
 * `render(items, reload, status)` builds the table; `form(done)` builds the create form.
 */
function listSection({ ctx, host, title, intro, newLabel, load, render, form, emptyTitle, emptyText, what }) {
  const newButton = newLabel ? h('button', { type: 'button', class: 'btn btn-primary', 'aria-expanded': 'false' }, newLabel) : null;
  const formHost = h('div');
  const status = h('div', { class: 'section-status' });
  const list = h('div', loading());
  host.append(h('section', { class: 'panel' },
    h('div', { class: 'panel-header' }, h('div', h('h2', title), intro ? h('p', { class: 'meta' }, intro) : null), newButton),
    formHost, status, list));

  function closeForm() { replace(formHost); if (newButton) { newButton.setAttribute('aria-expanded', 'false'); newButton.focus(); } }
  function openForm() {
    if (formHost.firstChild) { closeForm(); return; }
    newButton.setAttribute('aria-expanded', 'true');
    const el = form(async () => { closeForm(); await reload(); }, closeForm);
    el.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeForm(); });
    formHost.append(el);
    const first = el.querySelector('input, select, textarea');
    if (first) first.focus();
  }
  if (newButton) newButton.addEventListener('click', openForm);

  async function reload() {
    clear(status);
    let items;
    try {
      items = await load();
    } catch (error) {
      if (!ctx.alive()) return;
      replace(list, permissionHint(error, what) || errorAlert(error, { title: `Could not load ${what}.`, onRetry: reload }));
      if (newButton) newButton.hidden = error.status === 403;
      return;
    }
    if (!ctx.alive()) return;
    if (!items.length) {
      replace(list, emptyState(emptyTitle, emptyText, newButton ? h('button', { type: 'button', class: 'btn btn-primary', onclick: openForm }, newLabel) : null));
      return;
    }
    replace(list, render(items, reload, status));
  }
  return { reload, status, openForm };
}

/** Runs a row action; its error appears in the section's status area. */
async function rowAction(status, action) {
  clear(status);
  try {
    await action();
  } catch (error) {
    status.append(errorAlert(error));
    status.scrollIntoView({ block: 'nearest' });
  }
}

function formActions(submitLabel, cancel) {
  return h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, submitLabel),
    cancel ? h('button', { type: 'button', class: 'btn', onclick: cancel }, 'Cancel') : null);
}

function secretBox(title, token, note) {
  return h('div', { class: 'alert alert-success', role: 'status', id: 'new-token-secret' },
    h('p', { class: 'alert-title' }, title),
    h('p', note || 'Copy it now: it is shown only this once and cannot be retrieved later.'),
    h('div', { class: 'secret' }, h('code', { class: 'token-value' }, token),
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => copyText(token) }, 'Copy')));
}

/** An RFC 3339 UTC timestamp from a datetime-local value (interpreted in the browser's time zone). */
function toRFC3339(local) {
  if (!local) return undefined;
  const date = new Date(local);
  if (Number.isNaN(date.getTime())) return undefined;
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function toLocalInput(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function renameDialog({ title, current, save }) {
  const input = h('input', { type: 'text', name: 'name', required: true, value: current, autocomplete: 'off' });
  const form = h('form', { id: 'rename-form' }, field('Name', input));
  let ref;
  handleSubmit(form, async (data) => {
    const name = String(data.get('name') || '').trim();
    if (name !== current) await save(name);
    ref.close();
  });
  ref = openDialog({
    title, body: form,
    actions: [h('button', { type: 'button', class: 'btn', onclick: () => ref.close() }, 'Cancel'),
      h('button', { type: 'submit', class: 'btn btn-primary', form: 'rename-form' }, 'Save')],
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Spaces

const PROVIDER_LABELS = { kubeconfig: 'Kubeconfig', aws: 'Amazon EKS', gcp: 'Google GKE', azure: 'Azure AKS' };

function providerFields(provider, accounts) {
  const accountSelect = () => {
    const mine = (accounts || []).filter((a) => a.provider === provider);
    return field('Cloud account', h('select', { name: 'cloudAccountId', required: true },
      option('', mine.length ? 'Choose a cloud account…' : `No ${provider} cloud account yet`),
      mine.map((a) => option(a.id, a.name))), mine.length ? null : 'Add one under Cloud accounts first.');
  };
  const text = (name, label, hint, required = true) => field(label, h('input', { type: 'text', name, required, autocomplete: 'off', spellcheck: 'false' }), hint);
  switch (provider) {
    case 'kubeconfig': {
      const area = h('textarea', { name: 'kubeconfig', required: true, spellcheck: 'false', rows: 10, placeholder: 'apiVersion: v1\nkind: Config\n…' });
      const file = h('input', { type: 'file', accept: '.yaml,.yml,.conf,text/plain,application/x-yaml', 'aria-label': 'Load a kubeconfig file' });
      file.addEventListener('change', async () => { if (file.files[0]) area.value = await file.files[0].text(); });
      return [
        field('Kubeconfig', area, 'Inline data only (server, certificate-authority-data, token or client certificate data). exec, auth-provider and file paths are refused. It is sealed for the deployer and never shown again.'),
        h('div', { class: 'field' }, h('label', { class: 'checkbox' }, 'Or load a file: ', file)),
        text('context', 'Context', 'Optional: defaults to the file’s current-context.', false),
      ];
    }
    case 'aws':
      return [accountSelect(), text('config.clusterName', 'EKS cluster name'), text('config.region', 'Region', 'For example eu-west-1.')];
    case 'gcp':
      return [accountSelect(), text('config.clusterName', 'GKE cluster name'), text('config.region', 'Region or zone', 'For example europe-west1.'),
        text('config.projectId', 'Google Cloud project id', 'Optional: defaults to the service account’s project.', false)];
    case 'azure':
      return [accountSelect(), text('config.clusterName', 'AKS cluster name'), text('config.resourceGroup', 'Resource group'),
        text('config.subscriptionId', 'Subscription id', 'Optional: defaults to the cloud account’s subscription.', false)];
    default:
      return [];
  }
}

async function renderSpaces(ctx, host) {
  let accounts = null;
  const section = listSection({
    ctx, host, title: 'Deployment spaces', what: 'deployment spaces', newLabel: 'Register a space',
    intro: 'A space is a Kubernetes cluster Gantry deploys to: from a kubeconfig, or from EKS, GKE or AKS through a cloud account.',
    emptyTitle: 'No spaces yet', emptyText: 'Register a cluster to create environments on it.',
    load: () => api.listAll('/spaces'),
    render: (spaces, reload, status) => table('spaces-table', ['Name', 'Provider', { text: 'Server', class: 'hide-narrow' }, 'Status', { text: 'Settings', class: 'hide-narrow' }, ''],
      spaces.map((sp) => h('tr', { dataset: { spaceId: sp.id } },
        h('td', h('strong', sp.name), h('div', { class: 'meta mono' }, sp.id)),
        h('td', PROVIDER_LABELS[sp.provider] || sp.provider),
        h('td', { class: 'hide-narrow' }, sp.server ? h('code', sp.server) : h('span', { class: 'muted' }, 'not known yet')),
        h('td', h('span', { class: `badge ${sp.status}` }, sp.status)),
        h('td', { class: 'hide-narrow' }, Object.entries(sp.config || {}).map(([k, v]) => h('div', h('span', { class: 'muted' }, `${k}: `), v))),
        h('td', { class: 'actions' },
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => namespacesDialog(sp) }, 'Namespaces'),
          h('button', {
            type: 'button', class: 'btn btn-small', onclick: () => renameDialog({
              title: `Rename ${sp.name}`, current: sp.name,
              save: async (name) => { await api.patch(`/spaces/${seg(sp.id)}`, { name }, { ifMatch: sp.version }); toast('Space renamed.'); await reload(); },
            }),
          }, 'Rename'),
          h('button', {
            type: 'button', class: 'btn btn-small btn-danger', onclick: () => rowAction(status, async () => {
              if (!(await confirmDialog({ title: `Delete ${sp.name}?`, message: 'The space is removed from the catalog; the cluster is not touched. Environments that use it block the delete.', confirmLabel: 'Delete space', danger: true }))) return;
              await api.del(`/spaces/${seg(sp.id)}`, { ifMatch: sp.version });
              toast(`Space ${sp.name} deleted.`);
              await reload();
            }),
          }, 'Delete'))))),
    form: (done, cancel) => {
      const provider = h('select', { name: 'provider', required: true }, Object.entries(PROVIDER_LABELS).map(([id, label]) => option(id, label)));
      const dynamic = h('div', { class: 'provider-fields' });
      const fill = async () => {
        if (provider.value !== 'kubeconfig' && accounts === null) {
          try { accounts = await api.listAll('/cloud-accounts'); } catch { accounts = []; }
        }
        replace(dynamic, providerFields(provider.value, accounts));
      };
      provider.addEventListener('change', fill);
      fill();
      const el = h('form', { class: 'panel', id: 'create-space-form', 'aria-label': 'Register a space' },
        h('div', { class: 'form-grid' },
          field('Name', h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' }), 'Unique in the organization.'),
          field('Provider', provider)),
        dynamic, formActions('Register space', cancel));
      handleSubmit(el, async (data) => {
        const body = { name: String(data.get('name') || '').trim(), provider: provider.value };
        if (body.provider === 'kubeconfig') {
          body.kubeconfig = String(data.get('kubeconfig') || '');
          const context = str(data, 'context');
          if (context) body.context = context;
        } else {
          body.cloudAccountId = String(data.get('cloudAccountId') || '');
          body.config = {};
          for (const [key, value] of data.entries()) {
            if (key.startsWith('config.') && String(value).trim()) body.config[key.slice(7)] = String(value).trim();
          }
        }
        const { data: space } = await api.post('/spaces', body);
        toast(`Space ${space.name} registered.`);
        await done();
      });
      return el;
    },
  });
  await section.reload();
}

function namespacesDialog(space) {
  const body = h('div', loading('Asking the cluster…'));
  const ref = openDialog({ title: `Namespaces on ${space.name}`, body, actions: [h('button', { type: 'button', class: 'btn', onclick: () => ref.close() }, 'Close')] });
  api.get(`/space-discovery/${seg(space.id)}/namespaces`).then(({ data }) => {
    replace(body, data.length ? table('namespaces-table', ['Namespace', 'Phase', 'Environment'], data.map((ns) => h('tr',
      h('td', h('code', ns.name)), h('td', ns.phase), h('td', ns.environmentId ? h('code', ns.environmentId) : h('span', { class: 'muted' }, 'free')))))
      : h('p', 'The cluster has no namespaces.'));
  }).catch((error) => replace(body, errorAlert(error, { title: `Cannot list the namespaces of space “${space.name}”.` })));
}

// ---------------------------------------------------------------------------------------------------------------
// Cloud accounts

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

async function renderCloudAccounts(ctx, host) {
  const section = listSection({
    ctx, host, title: 'Cloud accounts', what: 'cloud accounts', newLabel: 'Add a cloud account',
    intro: 'Credentials for EKS, GKE and AKS spaces and cloud registries. They are write-only: sealed for the deployer and never shown again.',
    emptyTitle: 'No cloud accounts', emptyText: 'Add one to register EKS, GKE or AKS clusters.',
    load: () => api.listAll('/cloud-accounts'),
    render: (accounts, reload, status) => table('cloud-accounts-table', ['Name', 'Provider', { text: 'Created', class: 'hide-narrow' }, ''],
      accounts.map((a) => h('tr', { dataset: { cloudAccountId: a.id } },
        h('td', h('strong', a.name), h('div', { class: 'meta mono' }, a.id)),
        h('td', a.provider),
        h('td', { class: 'hide-narrow' }, timeEl(a.createdAt)),
        h('td', { class: 'actions' },
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => replaceCredentialsDialog(a, reload) }, 'Replace credentials'),
          h('button', {
            type: 'button', class: 'btn btn-small btn-danger', onclick: () => rowAction(status, async () => {
              if (!(await confirmDialog({ title: `Delete ${a.name}?`, message: 'Spaces and integrations that use it stop working.', confirmLabel: 'Delete account', danger: true }))) return;
              await api.del(`/cloud-accounts/${seg(a.id)}`, { ifMatch: a.version });
              toast(`Cloud account ${a.name} deleted.`);
              await reload();
            }),
          }, 'Delete'))))),
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
  ref = openDialog({
    title: `New credentials for ${account.name}`, body: form,
    actions: [h('button', { type: 'button', class: 'btn', onclick: () => ref.close() }, 'Cancel'),
      h('button', { type: 'submit', class: 'btn btn-primary', form: 'replace-credentials-form' }, 'Replace')],
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Integrations

async function renderIntegrations(ctx, host) {
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
    render: (items, reload, status) => table('integrations-table', ['Name', 'Kind', 'Registry', { text: 'Authentication', class: 'hide-narrow' }, ''],
      items.map((i) => h('tr', { dataset: { integrationId: i.id } },
        h('td', h('strong', i.name), h('div', { class: 'meta mono' }, i.id)),
        h('td', i.kind),
        h('td', h('code', i.registry)),
        h('td', { class: 'hide-narrow' }, i.cloudAccountId ? `cloud account ${accountName(i.cloudAccountId)}` : i.hasCredentials ? 'username and password (stored)' : h('span', { class: 'muted' }, 'anonymous')),
        h('td', { class: 'actions' },
          h('button', {
            type: 'button', class: 'btn btn-small', onclick: () => renameDialog({
              title: `Rename ${i.name}`, current: i.name,
              save: async (name) => { await api.patch(`/integrations/${seg(i.id)}`, { name }, { ifMatch: i.version }); toast('Integration renamed.'); await reload(); },
            }),
          }, 'Rename'),
          h('button', {
            type: 'button', class: 'btn btn-small btn-danger', onclick: () => rowAction(status, async () => {
              if (!(await confirmDialog({ title: `Delete ${i.name}?`, message: 'Environments that use it must be changed first.', confirmLabel: 'Delete integration', danger: true }))) return;
              await api.del(`/integrations/${seg(i.id)}`, { ifMatch: i.version });
              toast(`Integration ${i.name} deleted.`);
              await reload();
            }),
          }, 'Delete'))))),
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

// ---------------------------------------------------------------------------------------------------------------
// Tokens

function tokenState(t) {
  if (t.revokedAt) return h('span', { class: 'badge revoked' }, 'revoked');
  if (t.expiresAt && Date.parse(t.expiresAt) <= Date.now()) return h('span', { class: 'badge warn' }, 'expired');
  return h('span', { class: 'badge ok' }, 'active');
}

function tokenForm({ id, submitLabel, cancel, create }) {
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

async function renderTokens(ctx, host) {
  const section = listSection({
    ctx, host, title: 'Your tokens', what: 'your tokens', newLabel: 'New token',
    intro: 'Personal access tokens act as you. The secret is shown once, when the token is created.',
    emptyTitle: 'No tokens', emptyText: 'Create a token for the CLI or automation.',
    load: () => api.listAll('/tokens'),
    render: (tokens, reload, status) => table('tokens-table', ['Name', 'Status', { text: 'Created', class: 'hide-narrow' }, 'Expires', { text: 'Last used', class: 'hide-narrow' }, ''],
      tokens.map((t) => h('tr', { dataset: { tokenId: t.id } },
        h('td', h('strong', t.name), h('div', { class: 'meta mono' }, t.id)),
        h('td', tokenState(t)),
        h('td', { class: 'hide-narrow' }, timeEl(t.createdAt)),
        h('td', t.expiresAt ? h('time', { datetime: t.expiresAt, title: formatDate(t.expiresAt) }, formatDate(t.expiresAt)) : h('span', { class: 'muted' }, 'never')),
        h('td', { class: 'hide-narrow' }, timeEl(t.lastUsedAt)),
        h('td', { class: 'actions' }, t.revokedAt ? null : h('button', {
          type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Revoke token ${t.name}`, onclick: () => rowAction(status, async () => {
            if (!(await confirmDialog({ title: `Revoke ${t.name}?`, message: 'It stops working at once. If it is the token this console signed in with, you will be signed out.', confirmLabel: 'Revoke token', danger: true }))) return;
            await api.del(`/tokens/${seg(t.id)}`);
            toast(`Token ${t.name} revoked.`);
            await reload();
          }),
        }, 'Revoke'))))),
    form: (done, cancel) => tokenForm({
      id: 'create-token-form', submitLabel: 'Create token', cancel,
      create: async (body) => { const { data } = await api.post('/tokens', body); await section.reload(); return data; },
    }),
  });
  await section.reload();
}

// ---------------------------------------------------------------------------------------------------------------
// Members

async function renderMembers(ctx, host) {
  const section = listSection({
    ctx, host, title: 'Members', what: 'members', newLabel: 'Add a member',
    intro: 'People and service accounts of the organization. Grant them roles under Assignments.',
    emptyTitle: 'No members', emptyText: '',
    load: () => api.listAll('/users'),
    render: (users, reload, status) => table('members-table', ['Email', 'Name', ''],
      users.map((u) => h('tr', { dataset: { userId: u.id } },
        h('td', h('strong', u.email), u.id === ctx.me.user.id ? [' ', h('span', { class: 'badge plain default' }, 'you')] : null, h('div', { class: 'meta mono' }, u.id)),
        h('td', u.name),
        h('td', { class: 'actions' },
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => memberTokenDialog(u) }, 'Create token'),
          h('a', { class: 'btn btn-small', href: `#/settings/assignments?userId=${seg(u.id)}` }, 'Roles'),
          u.id === ctx.me.user.id ? null : h('button', {
            type: 'button', class: 'btn btn-small btn-danger', onclick: () => rowAction(status, async () => {
              if (!(await confirmDialog({ title: `Remove ${u.email}?`, message: 'The member loses access and their tokens stop working.', confirmLabel: 'Remove member', danger: true }))) return;
              await api.del(`/users/${seg(u.id)}`);
              toast(`${u.email} removed.`);
              await reload();
            }),
          }, 'Remove'))))),
    form: (done, cancel) => {
      const el = h('form', { class: 'panel', id: 'create-member-form', 'aria-label': 'Add a member' },
        h('div', { class: 'form-grid' },
          field('Email', h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off' })),
          field('Name', h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' }))),
        formActions('Add member', cancel));
      handleSubmit(el, async (data) => {
        const { data: user } = await api.post('/users', { email: String(data.get('email') || '').trim(), name: String(data.get('name') || '').trim() });
        toast(`${user.email} added. Give them a role under Assignments and a token to sign in.`);
        await done();
      });
      return el;
    },
  });
  await section.reload();
}

function memberTokenDialog(user) {
  let ref;
  const form = tokenForm({
    id: 'member-token-form', submitLabel: 'Create token',
    create: async (body) => (await api.post(`/users/${seg(user.id)}/tokens`, body)).data,
  });
  form.classList.remove('panel');
  ref = openDialog({ title: `New token for ${user.email}`, body: form, actions: [h('button', { type: 'button', class: 'btn', onclick: () => ref.close() }, 'Close')] });
}

// ---------------------------------------------------------------------------------------------------------------
// Roles

function policyPicker(policies, selected = []) {
  const groups = new Map();
  for (const policy of policies) {
    const [resource] = policy.split(':');
    if (!groups.has(resource)) groups.set(resource, []);
    groups.get(resource).push(policy);
  }
  return h('fieldset', { class: 'policy-picker' }, h('legend', 'Policies'),
    h('div', { class: 'form-grid' }, [...groups.entries()].map(([resource, list]) => h('div', { class: 'field' },
      h('strong', resource),
      list.map((policy) => h('div', h('label', { class: 'checkbox' },
        h('input', { type: 'checkbox', name: 'policies', value: policy, checked: selected.includes(policy) }), policy.split(':')[1])))))),
  );
}

function roleForm({ id, role, policies, submitLabel, cancel, save }) {
  const el = h('form', { class: role ? '' : 'panel', id, 'aria-label': submitLabel },
    h('div', { class: 'form-grid' },
      field('Name', h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off', value: role ? role.name : '' })),
      field('Description', h('input', { type: 'text', name: 'description', autocomplete: 'off', value: role ? role.description : '' }))),
    policyPicker(policies, role ? role.policies : []),
    cancel !== undefined ? formActions(submitLabel, cancel) : null);
  handleSubmit(el, async (data) => {
    await save({ name: String(data.get('name') || '').trim(), description: String(data.get('description') || ''), policies: data.getAll('policies').map(String) });
  });
  return el;
}

async function renderRoles(ctx, host) {
  let policies = [];
  const section = listSection({
    ctx, host, title: 'Roles', what: 'roles', newLabel: 'New role',
    intro: 'A role is a named set of policies. admin, developer and viewer are built in and cannot change.',
    emptyTitle: 'No roles', emptyText: '',
    load: async () => {
      const [roles, list] = await Promise.all([api.listAll('/roles'), api.get('/policies').then((r) => r.data)]);
      policies = list;
      return roles;
    },
    render: (roles, reload, status) => table('roles-table', ['Role', 'Policies', ''],
      roles.map((r) => h('tr', { dataset: { roleId: r.id } },
        h('td', h('strong', r.name), r.builtIn ? [' ', h('span', { class: 'badge plain' }, 'built-in')] : null,
          r.description ? h('div', { class: 'meta' }, r.description) : null, h('div', { class: 'meta mono' }, r.id)),
        h('td', h('details', h('summary', plural(r.policies.length, 'policy', 'policies')), h('p', { class: 'mono audit-changes' }, r.policies.join(', ')))),
        h('td', { class: 'actions' }, r.builtIn ? null : [
          h('button', {
            type: 'button', class: 'btn btn-small', onclick: () => {
              let ref;
              const form = roleForm({
                id: 'edit-role-form', role: r, policies, submitLabel: 'Save role',
                save: async (body) => { await api.put(`/roles/${seg(r.id)}`, body, { ifMatch: r.version }); ref.close(); toast('Role saved.'); await reload(); },
              });
              ref = openDialog({
                title: `Edit ${r.name}`, body: form,
                actions: [h('button', { type: 'button', class: 'btn', onclick: () => ref.close() }, 'Cancel'),
                  h('button', { type: 'submit', class: 'btn btn-primary', form: 'edit-role-form' }, 'Save role')],
              });
            },
          }, 'Edit'),
          h('button', {
            type: 'button', class: 'btn btn-small btn-danger', onclick: () => rowAction(status, async () => {
              if (!(await confirmDialog({ title: `Delete ${r.name}?`, message: 'Its assignments go with it.', confirmLabel: 'Delete role', danger: true }))) return;
              await api.del(`/roles/${seg(r.id)}`, { ifMatch: r.version });
              toast(`Role ${r.name} deleted.`);
              await reload();
            }),
          }, 'Delete')])))),
    form: (done, cancel) => roleForm({
      id: 'create-role-form', policies, submitLabel: 'Create role', cancel,
      save: async (body) => { await api.post('/roles', body); toast('Role created.'); await done(); },
    }),
  });
  await section.reload();
}

// ---------------------------------------------------------------------------------------------------------------
// Assignments

async function renderAssignments(ctx, host) {
  let users = [];
  let roles = [];
  let projects = [];
  const filterUser = ctx.query.userId || '';
  const userLabel = (id) => users.find((u) => u.id === id)?.email || id;
  const roleLabel = (id) => roles.find((r) => r.id === id)?.name || id;
  const envNames = new Map();
  const scopeLabel = (scope) => {
    if (scope === 'org') return 'whole organization';
    const [kind, id] = scope.split(':');
    if (kind === 'project') return `project ${projects.find((p) => p.id === id)?.name || id}`;
    if (kind === 'environment') return `environment ${envNames.get(id) || id}`;
    return scope;
  };
  const section = listSection({
    ctx, host, title: 'Role assignments', what: 'assignments', newLabel: 'Grant a role',
    intro: 'A grant applies to its scope and everything below it: a project grant covers its environments and their deployments.',
    emptyTitle: 'No assignments', emptyText: filterUser ? 'This member has no role yet.' : '',
    load: async () => {
      const [list, u, r, p] = await Promise.all([
        api.listAll('/assignments'), api.listAll('/users').catch(() => []), api.listAll('/roles').catch(() => []), api.listAll('/projects').catch(() => []),
      ]);
      users = u; roles = r; projects = p;
      return filterUser ? list.filter((a) => a.userId === filterUser) : list;
    },
    render: (list, reload, status) => h('div',
      filterUser ? h('p', { class: 'meta' }, `Showing the roles of ${userLabel(filterUser)}. `, h('a', { href: '#/settings/assignments' }, 'Show everyone')) : null,
      table('assignments-table', ['Member', 'Role', 'Scope', ''],
        list.map((a) => h('tr', { dataset: { assignmentId: a.id } },
          h('td', userLabel(a.userId)), h('td', roleLabel(a.roleId)), h('td', scopeLabel(a.scope)),
          h('td', { class: 'actions' }, h('button', {
            type: 'button', class: 'btn btn-small btn-danger', onclick: () => rowAction(status, async () => {
              if (!(await confirmDialog({ title: 'Remove this role?', message: `${userLabel(a.userId)} loses ${roleLabel(a.roleId)} on ${scopeLabel(a.scope)}.`, confirmLabel: 'Remove', danger: true }))) return;
              await api.del(`/assignments/${seg(a.id)}`);
              toast('Assignment removed.');
              await reload();
            }),
          }, 'Remove')))))),
    form: (done, cancel) => {
      const scopeKind = h('select', { name: 'scopeKind' }, option('org', 'Whole organization'), option('project', 'A project'), option('environment', 'An environment'));
      const project = h('select', { name: 'projectId' }, option('', 'Choose a project…'), projects.map((p) => option(p.id, p.name)));
      const env = h('select', { name: 'environmentId' }, option('', 'Choose a project first'));
      const projectField = field('Project', project);
      const envField = field('Environment', env);
      const sync = () => { projectField.hidden = scopeKind.value === 'org'; envField.hidden = scopeKind.value !== 'environment'; };
      scopeKind.addEventListener('change', sync);
      project.addEventListener('change', async () => {
        replace(env, option('', 'Loading…'));
        if (!project.value) { replace(env, option('', 'Choose a project first')); return; }
        try {
          const envs = await api.listAll(`/projects/${seg(project.value)}/environments`);
          for (const e of envs) envNames.set(e.id, e.name);
          replace(env, option('', envs.length ? 'Choose an environment…' : 'No environments'), envs.map((e) => option(e.id, e.name)));
        } catch { replace(env, option('', 'Could not load the environments')); }
      });
      sync();
      const el = h('form', { class: 'panel', id: 'create-assignment-form', 'aria-label': 'Grant a role' },
        h('div', { class: 'form-grid' },
          field('Member', h('select', { name: 'userId', required: true }, option('', 'Choose a member…'), users.map((u) => option(u.id, u.email, u.id === filterUser)))),
          field('Role', h('select', { name: 'roleId', required: true }, option('', 'Choose a role…'), roles.map((r) => option(r.id, r.name)))),
          field('Scope', scopeKind), projectField, envField),
        formActions('Grant role', cancel));
      handleSubmit(el, async (data) => {
        let scope = 'org';
        if (scopeKind.value === 'project') scope = `project:${project.value}`;
        if (scopeKind.value === 'environment') scope = `environment:${env.value}`;
        await api.post('/assignments', { userId: String(data.get('userId') || ''), roleId: String(data.get('roleId') || ''), scope });
        toast('Role granted.');
        await done();
      });
      return el;
    },
  });
  await section.reload();
}

// ---------------------------------------------------------------------------------------------------------------
// Audit log

const AUDIT_FILTERS = [
  ['projectId', 'Project id', 'prj_…'], ['environmentId', 'Environment id', 'env_…'], ['deploymentId', 'Deployment id', 'dep_…'],
  ['actor', 'Actor email', 'someone@example.com'], ['action', 'Action', 'project.created'], ['resourceType', 'Resource type', 'environment'],
  ['resourceId', 'Resource id', ''],
];

function describeChanges(changes) {
  if (!changes || typeof changes !== 'object') return null;
  const lines = Object.entries(changes).map(([key, value]) => {
    if (value && typeof value === 'object' && ('from' in value || 'to' in value)) return `${key}: ${JSON.stringify(value.from)} → ${JSON.stringify(value.to)}`;
    return `${key}: ${JSON.stringify(value)}`;
  });
  if (!lines.length) return null;
  return h('details', h('summary', plural(lines.length, 'change')), h('pre', { class: 'audit-changes' }, lines.join('\n')));
}

async function renderAudit(ctx, host) {
  const filters = {};
  for (const [name] of AUDIT_FILTERS) if (ctx.query[name]) filters[name] = ctx.query[name];
  if (ctx.query.from) filters.from = ctx.query.from;
  if (ctx.query.to) filters.to = ctx.query.to;

  const form = h('form', { class: 'panel', id: 'audit-filters', 'aria-label': 'Filter the audit log' },
    h('div', { class: 'panel-header' }, h('h2', 'Audit log'),
      h('div', { class: 'btn-group' },
        h('button', { type: 'button', class: 'btn btn-small', id: 'verify-audit' }, 'Verify the chain'),
        h('button', { type: 'button', class: 'btn btn-small', id: 'export-audit' }, 'Export NDJSON'))),
    h('p', { class: 'meta' }, 'Every change, newest first. Filtering by a project or an environment includes everything below it.'),
    h('div', { class: 'form-grid' },
      AUDIT_FILTERS.map(([name, label, placeholder]) => field(label, h('input', { type: 'text', name, value: filters[name] || '', placeholder, autocomplete: 'off', spellcheck: 'false' }))),
      field('From', h('input', { type: 'datetime-local', name: 'from', value: toLocalInput(filters.from) })),
      field('To', h('input', { type: 'datetime-local', name: 'to', value: toLocalInput(filters.to) }))),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply filters'),
      h('button', { type: 'button', class: 'btn', id: 'clear-audit-filters' }, 'Clear')));
  const verifyHost = h('div');
  const results = h('div', { id: 'audit-results' });
  host.append(form, verifyHost, results);

  let cursor = null;
  let rows = [];
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'btn', id: 'audit-more' }, 'Load more');

  function row(entry) {
    const restore = entry.action === 'project.deleted'
      ? h('button', {
        type: 'button', class: 'btn btn-small', onclick: async (event) => {
          event.target.disabled = true;
          try {
            await api.post(`/projects/${seg(entry.resourceId)}/restore`);
            toast('Project restored.');
            navigate(`/projects/${entry.resourceId}`);
          } catch (error) {
            event.target.disabled = false;
            toast(`${error.message}${error.requestId ? ` (request ${error.requestId})` : ''}`, { kind: 'error', timeout: 8000 });
          }
        },
      }, 'Restore')
      : null;
    return h('tr', { dataset: { logId: entry.id, action: entry.action } },
      h('td', h('time', { datetime: entry.createdAt, title: formatDate(entry.createdAt) }, formatDate(entry.createdAt))),
      h('td', entry.actor.type === 'system' ? h('span', { class: 'badge plain' }, 'system') : entry.actor.email || entry.actor.id),
      h('td', h('code', entry.action)),
      h('td', h('span', { class: 'muted' }, `${entry.resourceType} `), h('code', entry.resourceId)),
      h('td', { class: 'hide-narrow' }, describeChanges(entry.changes)),
      h('td', { class: 'hide-narrow' }, entry.requestId ? h('code', { class: 'meta' }, entry.requestId) : '—'),
      h('td', { class: 'actions' }, restore));
  }

  async function load(append) {
    if (!append) { cursor = null; rows = []; replace(results, loading('Loading entries…')); }
    more.disabled = true;
    try {
      const page = await api.get('/audit-logs', { query: { ...filters, limit: 50, cursor } });
      if (!ctx.alive()) return;
      cursor = page.nextCursor;
      rows = rows.concat(page.data);
      if (!append) {
        clear(body);
        if (!rows.length) {
          replace(results, emptyState('No entries', Object.keys(filters).length ? 'Nothing matches these filters.' : 'Nothing has changed yet.'));
          return;
        }
        replace(results, h('div', { class: 'table-wrap' }, h('table', { id: 'audit-table' },
          h('thead', h('tr', ['When', 'Actor', 'Action', 'Resource'].map((t) => h('th', { scope: 'col' }, t)),
            h('th', { scope: 'col', class: 'hide-narrow' }, 'Changes'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Request'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
          body)), h('p', { class: 'form-actions' }, more));
      }
      for (const entry of page.data) body.append(row(entry));
      more.hidden = !cursor;
    } catch (error) {
      if (!ctx.alive()) return;
      if (append) toast(error.message, { kind: 'error' });
      else replace(results, permissionHint(error, 'the audit log') || errorAlert(error, { title: 'Could not load the audit log.', onRetry: () => load(false) }));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => load(true));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const data = new FormData(form);
    for (const key of Object.keys(filters)) delete filters[key];
    for (const [name] of AUDIT_FILTERS) { const v = str(data, name); if (v) filters[name] = v; }
    const from = toRFC3339(String(data.get('from') || ''));
    const to = toRFC3339(String(data.get('to') || ''));
    if (from) filters.from = from;
    if (to) filters.to = to;
    replaceQuery(filters);
    load(false).then(() => {
      const alert = results.querySelector('.alert[data-error-code="validation_failed"]');
      if (alert) {
        // Map query-parameter errors onto the filter fields as well.
        const fields = [...alert.querySelectorAll('li code')].map((c) => c.textContent);
        const errors = {};
        for (const name of fields) errors[name] = 'is invalid';
        showFieldErrors(form, errors);
      }
    });
  });
  form.querySelector('#clear-audit-filters').addEventListener('click', () => {
    form.reset();
    for (const input of form.querySelectorAll('input')) input.value = '';
    for (const key of Object.keys(filters)) delete filters[key];
    replaceQuery({});
    load(false);
  });
  form.querySelector('#verify-audit').addEventListener('click', async (event) => {
    event.target.disabled = true;
    replace(verifyHost, loading('Verifying the hash chain…'));
    try {
      const { data } = await api.get('/audit-logs/verify');
      replace(verifyHost, data.ok
        ? h('div', { class: 'alert alert-success', role: 'status' }, h('p', `The chain is intact: ${plural(data.entries, 'entry', 'entries')} verified.`))
        : h('div', { class: 'alert alert-error', role: 'alert' }, h('p', { class: 'alert-title' }, 'The chain does not verify.'),
          h('p', `After ${plural(data.entries, 'entry', 'entries')}, entry `, h('code', data.firstBadId || '?'), ' does not match its hash or link.')));
    } catch (error) {
      replace(verifyHost, errorAlert(error, { title: 'Could not verify the audit log.' }));
    } finally {
      event.target.disabled = false;
    }
  });
  form.querySelector('#export-audit').addEventListener('click', async (event) => {
    event.target.disabled = true;
    try {
      const response = await api.fetchRaw('/audit-logs/export', filters);
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: `gantry-audit-${new Date().toISOString().slice(0, 10)}.ndjson` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      replace(verifyHost, errorAlert(error, { title: 'Could not export the audit log.' }));
    } finally {
      event.target.disabled = false;
    }
  });
  await load(false);
}

const RENDERERS = {
  spaces: renderSpaces,
  integrations: renderIntegrations,
  'cloud-accounts': renderCloudAccounts,
  tokens: renderTokens,
  members: renderMembers,
  roles: renderRoles,
  assignments: renderAssignments,
  audit: renderAudit,
};
