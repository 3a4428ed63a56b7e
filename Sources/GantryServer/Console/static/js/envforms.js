// Environment create/edit forms and the delete flow (dry run, then confirm), shared by the project and
// environment pages.

import { api, seg } from './api.js';
import { h, field, handleSubmit, str, option, formActions, formDialog, deleteWithDryRun, plural, replace, toast, nextId } from './dom.js';

/** Spaces and integrations for the selects; a caller without the org-level read gets plain id inputs instead. */
export async function loadReferences() {
  const [spaces, integrations] = await Promise.allSettled([api.listAll('/spaces'), api.listAll('/integrations')]);
  return {
    spaces: spaces.status === 'fulfilled' ? spaces.value : null,
    spacesError: spaces.status === 'rejected' ? spaces.reason : null,
    integrations: integrations.status === 'fulfilled' ? integrations.value : null,
  };
}

export function spaceName(refs, id) {
  const space = refs && refs.spaces ? refs.spaces.find((s) => s.id === id) : null;
  return space ? space.name : id;
}

export function registryLabel(refs, env) {
  const parts = [];
  if (env.registryIntegrationId) {
    const integration = refs && refs.integrations ? refs.integrations.find((i) => i.id === env.registryIntegrationId) : null;
    parts.push(integration ? `${integration.name} (${integration.registry})` : env.registryIntegrationId);
  }
  if (env.registryUrl) parts.push(env.registryUrl);
  return parts.length ? parts.join(' · ') : '—';
}

/**
 * The environment form. With `env` it edits (PATCH with If-Match, only the changed fields), else it creates.
 * `onSaved(environment)` runs after success.
 */
export function environmentForm({ projectId, env, refs, onSaved, onCancel }) {
  const editing = Boolean(env);
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 100, autocomplete: 'off', value: env ? env.name : '' });
  let space;
  if (refs.spaces) {
    space = h('select', { name: 'spaceId', required: true },
      option('', refs.spaces.length ? 'Choose a space…' : 'No spaces registered yet'),
      refs.spaces.map((sp) => option(sp.id, `${sp.name} (${sp.provider}${sp.status !== 'active' ? `, ${sp.status}` : ''})`, env && env.spaceId === sp.id)));
  } else {
    space = h('input', { type: 'text', name: 'spaceId', required: true, placeholder: 'spc_…', value: env ? env.spaceId : '', autocomplete: 'off' });
  }
  const listId = nextId('namespaces');
  const namespaces = h('datalist', { id: listId });
  const namespace = h('input', {
    type: 'text', name: 'namespace', required: true, maxlength: 63, autocomplete: 'off', list: listId,
    value: env ? env.namespace : '', spellcheck: 'false',
  });
  const integration = h('select', { name: 'registryIntegrationId' },
    option('', 'None'),
    (refs.integrations || []).map((i) => option(i.id, `${i.name} (${i.kind}, ${i.registry})`, env && env.registryIntegrationId === i.id)));
  if (env && env.registryIntegrationId && !(refs.integrations || []).some((i) => i.id === env.registryIntegrationId)) {
    integration.append(option(env.registryIntegrationId, env.registryIntegrationId, true));
  }
  const registryUrl = h('input', { type: 'text', name: 'registryUrl', autocomplete: 'off', placeholder: 'registry.example.com/team', value: env && env.registryUrl ? env.registryUrl : '' });

  // Suggest the cluster's namespaces once a space is chosen (needs runtime access; silent otherwise).
  let lookup = 0;
  async function suggestNamespaces() {
    const spaceId = space.value;
    const mine = ++lookup;
    replace(namespaces);
    if (!spaceId || !refs.spaces) return;
    try {
      const { data } = await api.get(`/space-discovery/${seg(spaceId)}/namespaces`);
      if (mine !== lookup) return;
      for (const ns of data) {
        if (!ns.environmentId) namespaces.append(h('option', { value: ns.name }, `${ns.name} (${ns.phase})`));
      }
    } catch { /* discovery is a convenience only */ }
  }
  space.addEventListener('change', suggestNamespaces);

  const noSpaces = refs.spaces && refs.spaces.length === 0 && !editing
    ? h('div', { class: 'alert alert-info' }, h('p', 'An environment needs a deployment space. ', h('a', { href: '#/settings/spaces' }, 'Register a space'), ' first.'))
    : null;

  const form = h('form', { class: editing ? 'env-form' : 'panel env-form', id: editing ? 'edit-environment-form' : 'create-environment-form', 'aria-label': editing ? 'Edit environment' : 'Create an environment' },
    editing ? null : h('h2', 'New environment'),
    noSpaces,
    h('div', { class: 'form-grid' },
      field('Name', name, 'Unique in this project.'),
      field('Deployment space', space, refs.spaces ? null : 'You cannot list spaces; paste the space id.'),
      field('Namespace', namespace, 'A DNS-1123 label such as shop-prod; not kube-system, kube-public or kube-node-lease.'),
      field('Registry integration', integration, 'Optional.'),
      field('Registry URL', registryUrl, 'Optional: host[:port]/path without https://.')),
    namespaces,
    formActions(editing ? 'Save changes' : 'Create environment', onCancel));

  handleSubmit(form, async (data) => {
    const values = {
      name: String(data.get('name') || '').trim(),
      spaceId: String(data.get('spaceId') || '').trim(),
      namespace: String(data.get('namespace') || '').trim(),
      registryIntegrationId: str(data, 'registryIntegrationId') ?? null,
      registryUrl: str(data, 'registryUrl') ?? null,
    };
    let saved;
    if (editing) {
      const body = {};
      for (const [key, value] of Object.entries(values)) if ((env[key] ?? null) !== value) body[key] = value;
      if (!Object.keys(body).length) { onSaved(env); return; }
      saved = (await api.patch(`/projects/${seg(projectId)}/environments/${seg(env.id)}`, body, { ifMatch: env.version })).data;
    } else {
      const body = { name: values.name, spaceId: values.spaceId, namespace: values.namespace };
      if (values.registryIntegrationId) body.registryIntegrationId = values.registryIntegrationId;
      if (values.registryUrl) body.registryUrl = values.registryUrl;
      saved = (await api.post(`/projects/${seg(projectId)}/environments`, body)).data;
    }
    await onSaved(saved);
  });
  if (env) suggestNamespaces();
  return form;
}

export function editEnvironmentDialog({ projectId, env, refs, onSaved }) {
  let ref;
  const form = environmentForm({
    projectId, env, refs,
    onSaved: async (saved) => { ref.close(); toast(`Environment “${saved.name}” saved.`); await onSaved(saved); },
  });
  ref = formDialog({ title: `Edit ${env.name}`, form, submitLabel: 'Save changes' });
  return ref;
}

/**
 * Deleting an environment: a dry run first says whether it can go; a refused delete (409 has_children)
 * says what blocks it.
 */
export async function deleteEnvironmentFlow({ projectId, env, onDeleted }) {
  const path = `/projects/${seg(projectId)}/environments/${seg(env.id)}`;
  await deleteWithDryRun({
    title: `Delete ${env.name}?`,
    confirmLabel: 'Delete environment',
    check: () => api.del(path, { query: { dryRun: true } }),
    remove: () => api.del(path, { ifMatch: env.version }),
    deletable: () => `The environment ${env.name} (namespace ${env.namespace}) will be deleted. Nothing runs in it any more, so nothing else is affected.`,
    blocked: (preview) => [`${env.name} cannot be deleted yet: it still has ${plural(preview.deploymentCount, 'live deployment')}.`, 'Delete its deployments first.'],
    refusedTitle: `${env.name} cannot be deleted.`,
    onDeleted: async () => {
      toast(`Environment “${env.name}” deleted.`);
      await onDeleted();
    },
  });
}
