// Settings › Spaces: the Kubernetes clusters Gantry deploys to, from a kubeconfig or through a cloud account, and
// what their capacity costs (pricing, for the cost estimates of js/cost.js).

import { api, seg } from '../api.js';
import { h, replace, loading, errorAlert, field, handleSubmit, str, option, toast, openDialog, formActions, formDialog } from '../dom.js';
import { listSection, table } from './section.js';

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

/** The row's pricing: "USD 0.04 / core-hour · 0.005 / GiB-hour", or "not set". */
function pricingText(pricing) {
  if (!pricing) return h('span', { class: 'muted' }, 'not set');
  return h('span', { class: 'space-pricing' }, `${pricing.currency} ${pricing.cpuCoreHour} / core-hour · ${pricing.memoryGiBHour} / GiB-hour`);
}

/**
 * The space's prices in a dialog: CPU core-hour, memory GiB-hour and currency (USD by default), sent as `pricing`
 * with If-Match; "Remove prices" sends `pricing: null`. `onSaved()` runs after either.
 */
function pricingDialog(space, onSaved) {
  const current = space.pricing;
  const price = (name, value) => h('input', { type: 'number', name, required: true, min: 0, max: 1000000, step: 'any', inputmode: 'decimal', value: value == null ? '' : String(value) });
  const currency = h('input', { type: 'text', name: 'pricing.currency', required: true, pattern: '[A-Z]{3}', maxlength: 3, autocomplete: 'off', spellcheck: 'false', value: current ? current.currency : 'USD' });
  const remove = current ? h('button', { type: 'button', class: 'btn btn-small btn-danger', id: 'remove-pricing' }, 'Remove prices') : null;
  const form = h('form', { class: 'pricing-form', id: 'space-pricing-form', 'aria-label': `Prices of ${space.name}` },
    h('p', { class: 'hint' }, 'What one requested CPU core and one requested GiB of memory cost per hour on this cluster. Cost estimates multiply the pods’ requests by these prices; they are estimates, not bills.'),
    h('div', { class: 'form-grid' },
      field('CPU core-hour', price('pricing.cpuCoreHour', current && current.cpuCoreHour), 'Price of one CPU core for an hour, e.g. 0.04.'),
      field('Memory GiB-hour', price('pricing.memoryGiBHour', current && current.memoryGiBHour), 'Price of one GiB for an hour, e.g. 0.005.'),
      field('Currency', currency, 'An ISO 4217 code such as USD or EUR.')),
    remove ? h('p', remove, ' ', h('span', { class: 'hint' }, 'Cost estimates then stop for environments on this space.')) : null);
  let ref;
  const save = async (pricing) => {
    await api.patch(`/spaces/${seg(space.id)}`, { pricing }, { ifMatch: space.version });
    ref.close();
    toast(pricing ? `Prices of ${space.name} saved.` : `Prices of ${space.name} removed.`);
    await onSaved();
  };
  const status = handleSubmit(form, (data) => save({
    cpuCoreHour: Number(str(data, 'pricing.cpuCoreHour')),
    memoryGiBHour: Number(str(data, 'pricing.memoryGiBHour')),
    currency: (str(data, 'pricing.currency') || 'USD').toUpperCase(),
  }));
  if (remove) {
    remove.addEventListener('click', async () => {
      replace(status);
      remove.disabled = true;
      try { await save(null); } catch (error) { status.append(errorAlert(error)); remove.disabled = false; }
    });
  }
  ref = formDialog({ title: `Prices of ${space.name}`, form, submitLabel: 'Save prices' });
}

export async function renderSpaces(ctx, host) {
  let accounts = null;
  const section = listSection({
    ctx, host, title: 'Deployment spaces', what: 'deployment spaces', newLabel: 'Register a space',
    intro: 'A space is a Kubernetes cluster Gantry deploys to: from a kubeconfig, or from EKS, GKE or AKS through a cloud account.',
    emptyTitle: 'No spaces yet', emptyText: 'Register a cluster to create environments on it.',
    load: () => api.listAll('/spaces'),
    path: (sp) => `/spaces/${seg(sp.id)}`,
    rename: { done: 'Space renamed.' },
    remove: {
      versioned: true, done: (sp) => `Space ${sp.name} deleted.`,
      confirm: () => ({ message: 'The space is removed from the catalog; the cluster is not touched. Environments that use it block the delete.', confirmLabel: 'Delete space' }),
    },
    render: (spaces, { actions, reload }) => table('spaces-table', ['Name', 'Provider', { text: 'Server', class: 'hide-narrow' }, 'Status', 'Pricing', { text: 'Settings', class: 'hide-narrow' }, ''],
      spaces.map((sp) => h('tr', { dataset: { spaceId: sp.id } },
        h('td', h('strong', sp.name), h('div', { class: 'meta mono' }, sp.id)),
        h('td', PROVIDER_LABELS[sp.provider] || sp.provider),
        h('td', { class: 'hide-narrow' }, sp.server ? h('code', sp.server) : h('span', { class: 'muted' }, 'not known yet')),
        h('td', h('span', { class: `badge ${sp.status}` }, sp.status)),
        h('td', { class: 'pricing-cell' }, pricingText(sp.pricing)),
        h('td', { class: 'hide-narrow' }, Object.entries(sp.config || {}).map(([k, v]) => h('div', h('span', { class: 'muted' }, `${k}: `), v))),
        actions(sp,
          h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'pricing' }, 'aria-label': `Prices of ${sp.name}`, onclick: () => pricingDialog(sp, reload) }, 'Pricing'),
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => namespacesDialog(sp) }, 'Namespaces'))))),
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
