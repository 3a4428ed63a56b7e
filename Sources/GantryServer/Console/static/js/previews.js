// Preview environments (docs/api.md: cloneEnvironment, expiresAt), shared by the dashboard, the project page and
// the environment page: the "Preview · expires in 5 h · Extend" badge of a cloned or expiring environment (Extend
// moves expiresAt to 24 hours from now) and the Clone form (POST /environments/{id}/clone).

import { api, seg, ApiError } from './api.js';
import { h, field, handleSubmit, str, option, formActions, formDialog, formatDate, replace, toast, nextId } from './dom.js';

export const EXTEND_HOURS = 24;
export const DEFAULT_TTL_HOURS = 48;

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "expires in 35 min", "expires in 5 h", "expires in 2 d", or "expiring now" once the time has passed. */
export function expiryText(expiresAt, now = Date.now()) {
  const left = Date.parse(expiresAt) - now;
  if (Number.isNaN(left)) return `expires ${expiresAt}`;
  if (left <= 0) return 'expiring now';
  const minutes = Math.ceil(left / MINUTE);
  if (minutes < 60) return `expires in ${minutes} min`;
  const hours = Math.round(left / HOUR);
  if (hours < 48) return `expires in ${hours} h`;
  return `expires in ${Math.round(left / DAY)} d`;
}

/** Whether an environment gets a badge: a clone, or one with an expiry. */
export const isPreview = (env) => Boolean(env && (env.clonedFromId || env.expiresAt));

/** An RFC 3339 UTC timestamp `hours` from now, without milliseconds. */
const hoursFromNow = (hours) => new Date(Date.now() + hours * HOUR).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Sets an environment's expiresAt (PATCH with If-Match from its version). A stale version (412: someone changed
 * the environment meanwhile) is read again and the change sent once more. Answers the saved environment.
 */
export async function setExpiry(env, expiresAt) {
  const path = `/projects/${seg(env.projectId)}/environments/${seg(env.id)}`;
  try {
    return (await api.patch(path, { expiresAt }, { ifMatch: env.version })).data;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 412) throw error;
    const { data: fresh } = await api.get(path);
    return (await api.patch(path, { expiresAt }, { ifMatch: fresh.version })).data;
  }
}

/**
 * The badge of a preview environment, or null when `env` is neither a clone nor expiring. Extend (only when it
 * expires) moves expiresAt to 24 hours from now, updates the badge in place and calls `onExtended(saved)`.
 */
export function previewBadge(env, { onExtended } = {}) {
  if (!isPreview(env)) return null;
  let current = env;
  const expiry = h('span', { class: 'preview-expiry' });
  const extend = h('button', {
    type: 'button', class: 'btn-link preview-extend', dataset: { action: 'extend' },
    'aria-label': `Extend ${env.name} by ${EXTEND_HOURS} hours`, title: `Keep it for ${EXTEND_HOURS} hours from now`,
  }, 'Extend');
  const badge = h('span', { class: 'preview-badge', dataset: { environmentId: env.id } });

  function render() {
    const parts = [];
    if (current.clonedFromId) parts.push(h('span', { class: 'preview-label' }, 'Preview'));
    if (current.expiresAt) {
      expiry.textContent = expiryText(current.expiresAt);
      expiry.title = `Deleted at ${formatDate(current.expiresAt)}`;
      parts.push(expiry, extend);
    }
    badge.dataset.expiresAt = current.expiresAt || '';
    badge.classList.toggle('expiring', Boolean(current.expiresAt) && Date.parse(current.expiresAt) - Date.now() < HOUR);
    replace(badge, parts.map((part, i) => [i ? h('span', { class: 'preview-sep', 'aria-hidden': 'true' }, ' · ') : null, part]));
  }

  extend.addEventListener('click', async () => {
    extend.disabled = true;
    try {
      current = await setExpiry(current, hoursFromNow(EXTEND_HOURS));
      render();
      toast(`${current.name} now expires ${formatDate(current.expiresAt)}.`);
      if (onExtended) await onExtended(current);
    } catch (error) {
      toast(`${current.name} was not extended: ${error.message}${error.requestId ? ` (request ${error.requestId})` : ''}`, { kind: 'error', timeout: 8000 });
    } finally {
      extend.disabled = false;
    }
  });
  render();
  return badge;
}

/** A DNS-1123 label from free text: lower case, [a-z0-9-], no leading or trailing dash, at most 63 characters. */
function dnsLabel(text) {
  return text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
}

/**
 * The Clone form for `env` (whose live deployments are `deployments`): new name and namespace (suggested from the
 * name until edited), the space (the source's by default), a TTL in hours (48 by default; empty: no expiry), which
 * deployments to copy (all by default), an image override for each, and "Deploy now". `onCloned(environment)` runs
 * after the 201.
 */
export function cloneForm({ env, deployments, refs, onCloned, onCancel }) {
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 100, autocomplete: 'off', placeholder: `${env.name}-pr-42` });
  const namespace = h('input', { type: 'text', name: 'namespace', required: true, maxlength: 63, autocomplete: 'off', spellcheck: 'false' });
  let namespaceEdited = false;
  name.addEventListener('input', () => {
    if (!namespaceEdited) namespace.value = name.value.trim() ? dnsLabel(`${env.namespace}-${name.value}`) : '';
  });
  namespace.addEventListener('input', () => { namespaceEdited = namespace.value !== ''; });
  const ttl = h('input', { type: 'number', name: 'ttlHours', min: 1, max: 720, step: 1, value: String(DEFAULT_TTL_HOURS) });
  const spaces = refs && refs.spaces ? refs.spaces.filter((sp) => sp.id === env.spaceId || sp.status !== 'revoked') : null;
  const space = spaces && spaces.length > 1
    ? h('select', { name: 'spaceId' }, spaces.map((sp) => option(sp.id, sp.id === env.spaceId ? `${sp.name} (same as ${env.name})` : sp.name, sp.id === env.spaceId)))
    : null;
  const deploy = h('input', { type: 'checkbox', name: 'deploy', value: 'true' });

  const rows = deployments.map((dep) => {
    const boxId = nextId('clone-dep');
    const box = h('input', { type: 'checkbox', name: 'deploymentIds', value: dep.id, id: boxId, checked: true, dataset: { deploymentName: dep.name } });
    const image = h('input', {
      type: 'text', name: `overrides.${dep.name}.image`, autocomplete: 'off', spellcheck: 'false', placeholder: dep.image,
      'aria-label': `Image for ${dep.name} (empty: ${dep.image})`, dataset: { deploymentName: dep.name },
    });
    box.addEventListener('change', () => { image.disabled = !box.checked; });
    return h('div', { class: 'clone-dep', dataset: { deploymentId: dep.id } },
      h('label', { class: 'checkbox', for: boxId }, box, h('code', dep.name)), image);
  });
  const copyField = h('div', { class: 'field', dataset: { field: 'deploymentIds' } },
    rows.length ? h('div', { class: 'clone-deps' }, rows) : h('p', { class: 'muted' }, `${env.name} has no deployments: the clone starts empty.`),
    h('p', { class: 'field-error', id: nextId('clone-deps-error'), hidden: true }));

  const form = h('form', { class: 'clone-form', id: 'clone-environment-form', 'aria-label': `Clone ${env.name}`, autocomplete: 'off' },
    h('div', { class: 'form-grid' },
      field('Name', name, 'The new environment’s name, unique in this project.'),
      field('Namespace', namespace, 'A DNS-1123 label not used by another environment on the space.'),
      space ? field('Deployment space', space) : null,
      field('Expires after (hours)', ttl, 'Deleted with its deployments after this long (1–720). Empty: it does not expire.')),
    h('fieldset', { class: 'clone-copy' },
      h('legend', 'Deployments to copy'),
      h('p', { class: 'hint' }, 'Each copy keeps its spec, secret variables and connections; its ingress host gets the new name as a prefix. Type an image to use a different one.'),
      copyField),
    h('label', { class: 'checkbox' }, deploy, 'Deploy now (revision 1 of every copy)'),
    formActions('Clone environment', onCancel));

  handleSubmit(form, async (data) => {
    const body = { name: String(data.get('name') || '').trim(), namespace: String(data.get('namespace') || '').trim() };
    const spaceId = str(data, 'spaceId');
    if (spaceId && spaceId !== env.spaceId) body.spaceId = spaceId;
    const hours = str(data, 'ttlHours');
    if (hours !== undefined) body.ttlHours = Number(hours);
    const chosen = data.getAll('deploymentIds').map(String);
    if (chosen.length !== deployments.length) body.deploymentIds = chosen;
    const overrides = {};
    for (const dep of deployments) {
      const image = chosen.includes(dep.id) ? str(data, `overrides.${dep.name}.image`) : undefined;
      if (image) overrides[dep.name] = { image };
    }
    if (Object.keys(overrides).length) body.overrides = overrides;
    if (deploy.checked) body.deploy = true;
    const { data: created } = await api.post(`/environments/${seg(env.id)}/clone`, body);
    await onCloned(created);
  });
  return form;
}

/** The Clone form in a dialog; after the 201 the dialog closes and `onCloned(environment)` runs. */
export function cloneEnvironmentDialog({ env, deployments, refs, onCloned }) {
  let ref;
  const form = cloneForm({
    env, deployments, refs,
    onCloned: async (created) => {
      ref.close();
      toast(`${created.name} cloned from ${env.name}${created.expiresAt ? `; it expires ${formatDate(created.expiresAt)}` : ''}.`);
      await onCloned(created);
    },
  });
  ref = formDialog({ title: `Clone ${env.name}`, form, submitLabel: 'Clone environment' });
  ref.dialog.classList.add('dialog-wide');
  return ref;
}
