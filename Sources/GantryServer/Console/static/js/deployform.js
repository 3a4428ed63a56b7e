// The deployment form (create inline on the environment page, edit in a dialog there and on the canvas):
// name, image, replicas, port, and the deploying fields of docs/api.md §7 — plain environment variables
// (rows), secret variables (write-only: names shown, values never), an Ingress whose class and TLS issuer
// are picked from the environment's cluster discovery, and an HTTP health check. Saving never deploys: it
// only sets `pendingChanges`, and the form says so.

import { api, seg, ApiError } from './api.js';
import { h, replace, field, handleSubmit, str, option, formActions, formDialog, toast, nextId } from './dom.js';

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * An environment's cluster discovery, where the form finds the ingress classes and TLS issuers: `get()` reads it
 * once and keeps it (a failed read is tried again next time), `read()` reads it again and keeps that.
 */
export function clusterDiscovery(environmentId) {
  let kept = null;
  const read = () => {
    const promise = api.get(`/environments/${seg(environmentId)}/cluster-discovery`).then((r) => r.data);
    kept = promise;
    promise.catch(() => { if (kept === promise) kept = null; });
    return promise;
  };
  return { get: () => kept || read(), read };
}

/** A validation error found before sending, shaped like the API's so it lands next to its field. */
function localError(fields) {
  return new ApiError({
    status: 400, code: 'validation_failed', message: 'Some fields need attention before this can be saved.',
    details: { fields: fields.map(([fieldName, message]) => ({ field: fieldName, message })) },
  });
}

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function normaliseIngress(ingress) {
  if (!ingress) return null;
  return { host: ingress.host, path: ingress.path || '/', className: ingress.className, tlsIssuer: ingress.tlsIssuer || null };
}

function normaliseHealthCheck(check) {
  if (!check) return null;
  return { path: check.path, port: check.port ?? null };
}

const NOT_A_VARIABLE_NAME = 'must be a variable name: letters, digits and _, not starting with a digit';

/**
 * One `name = value` row of a variables section, with its Remove button (`what` names the row for screen readers,
 * `action` is the button's data-action) and a place for its field error. Removing it runs `onRemoved()` and moves
 * the focus to a neighbouring row, else to `fallback`.
 */
function kvRow({ nameInput, valueInput, what, action, fallback, onRemoved }) {
  const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Remove this ${what}`, dataset: { action } }, 'Remove');
  const error = h('p', { class: 'field-error', id: nextId('kv-error'), hidden: true });
  const row = h('div', { class: 'kv-row field' }, h('div', { class: 'kv-inputs' }, nameInput, h('span', { class: 'kv-eq', 'aria-hidden': 'true' }, '='), valueInput, remove), error);
  remove.addEventListener('click', () => {
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    if (onRemoved) onRemoved();
    (next ? next.querySelector('input') : fallback).focus();
  });
  return row;
}

// ---------------------------------------------------------------------------------------------------------
// Plain variables

function envSection(initial) {
  const rows = h('div', { class: 'kv-rows', id: nextId('env-rows') });
  const add = h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'add-env' } }, 'Add variable');
  const section = h('fieldset', { class: 'env-vars' },
    h('legend', 'Environment variables'),
    h('p', { class: 'hint' }, 'Plain values, visible to anyone who can read the deployment. Use secret variables for passwords and keys.'),
    rows, add);

  function renumber() {
    [...rows.children].forEach((row, index) => {
      const [nameInput, valueInput] = row.querySelectorAll('input');
      nameInput.name = `env[${index}].name`;
      valueInput.name = `env[${index}].value`;
      row.dataset.field = nameInput.name;
    });
  }
  function addRow(variable = { name: '', value: '' }, focus = false) {
    const nameInput = h('input', { type: 'text', value: variable.name, autocomplete: 'off', spellcheck: 'false', placeholder: 'NAME', 'aria-label': 'Variable name', class: 'kv-name' });
    const valueInput = h('input', { type: 'text', value: variable.value, autocomplete: 'off', spellcheck: 'false', placeholder: 'value', 'aria-label': 'Value', class: 'kv-value' });
    rows.append(kvRow({ nameInput, valueInput, what: 'variable', action: 'remove-env', fallback: add, onRemoved: renumber }));
    renumber();
    if (focus) nameInput.focus();
  }
  add.addEventListener('click', () => addRow(undefined, true));
  for (const variable of initial || []) addRow(variable);

  return {
    el: section,
    /** [{name, value}] and the problems found. */
    collect() {
      const values = [];
      const problems = [];
      [...rows.children].forEach((row, index) => {
        const [nameInput, valueInput] = row.querySelectorAll('input');
        const name = nameInput.value.trim();
        if (!name && !valueInput.value) return;
        if (!VARIABLE_NAME.test(name)) problems.push([`env[${index}].name`, NOT_A_VARIABLE_NAME]);
        values.push({ name, value: valueInput.value });
      });
      return { values, problems };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Secret variables: write-only

function secretSection(storedNames) {
  const stored = storedNames || [];
  let replacing = stored.length === 0; // nothing stored: the rows are simply the new set
  const rows = h('div', { class: 'kv-rows secret-rows' });
  const add = h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'add-secret' } }, 'Add secret variable');
  const storedLine = h('div', { class: 'secret-stored', id: nextId('secret-stored') });
  const change = h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'change-secrets' } }, 'Change secret variables');
  const keep = h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'keep-secrets' } }, 'Keep the stored values');
  const explain = h('p', { class: 'hint secret-explain' });
  const editor = h('div', { class: 'secret-editor' }, explain, rows, h('div', { class: 'btn-group' }, add, stored.length ? keep : null));
  const section = h('fieldset', { class: 'secret-env' },
    h('legend', 'Secret variables'),
    h('p', { class: 'hint' }, 'Write-only: Gantry stores the values sealed and never shows them again — not here, not in the API, the audit log or events. They reach the container from a Kubernetes Secret.'),
    storedLine, editor);

  function render() {
    if (stored.length) {
      replace(storedLine, h('p', 'Stored: ', stored.map((name, i) => [i ? ' ' : '', h('code', { class: 'secret-name' }, name)]), ' ',
        h('span', { class: 'muted' }, '(values hidden)')), replacing ? null : change);
    } else {
      replace(storedLine, h('p', { class: 'muted' }, 'None stored.'));
    }
    editor.hidden = !replacing;
    explain.textContent = stored.length
      ? 'Saving replaces every secret variable at once. Keep a row for each one you want, with its value (the old values cannot be shown, so type them again); leave no rows to remove them all.'
      : 'Add a name and a value for each secret.';
  }
  function addRow(name = '', focus = false) {
    const nameInput = h('input', { type: 'text', value: name, autocomplete: 'off', spellcheck: 'false', placeholder: 'NAME', 'aria-label': 'Secret name', class: 'kv-name' });
    const valueInput = h('input', { type: 'password', autocomplete: 'new-password', placeholder: name ? 'new value' : 'value', 'aria-label': name ? `New value for ${name}` : 'Secret value', class: 'kv-value' });
    const row = kvRow({ nameInput, valueInput, what: 'secret variable', action: 'remove-secret', fallback: add });
    const rename = () => { nameInput.name = `secretEnv.${nameInput.value.trim() || '_'}`; row.dataset.field = nameInput.name; };
    nameInput.addEventListener('input', rename);
    rename();
    rows.append(row);
    if (focus) (name ? valueInput : nameInput).focus();
  }
  add.addEventListener('click', () => addRow('', true));
  change.addEventListener('click', () => {
    replacing = true;
    replace(rows);
    for (const name of stored) addRow(name);
    render();
    const first = rows.querySelector('input[type=password]');
    if (first) first.focus();
  });
  keep.addEventListener('click', () => {
    replacing = false;
    replace(rows);
    render();
    change.focus();
  });
  render();

  return {
    el: section,
    /** {values: map or undefined (unchanged), problems}. */
    collect() {
      if (!replacing) return { values: undefined, problems: [] };
      const values = {};
      const problems = [];
      for (const row of rows.children) {
        const [nameInput, valueInput] = row.querySelectorAll('input');
        const name = nameInput.value.trim();
        if (!name && !valueInput.value) continue;
        if (!VARIABLE_NAME.test(name)) problems.push([nameInput.name, NOT_A_VARIABLE_NAME]);
        else if (Object.hasOwn(values, name)) problems.push([nameInput.name, `'${name}' is listed twice`]);
        else if (!valueInput.value) problems.push([nameInput.name, `type the value of ${name} (the stored one cannot be shown), or remove the row`]);
        values[name] = valueInput.value;
      }
      if (!stored.length && !Object.keys(values).length) return { values: undefined, problems };
      return { values, problems };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Ingress and health check

function ingressSection(current, getDiscovery) {
  const enabled = h('input', { type: 'checkbox', name: 'ingressEnabled', checked: Boolean(current), dataset: { action: 'toggle-ingress' } });
  const host = h('input', { type: 'text', name: 'ingress.host', autocomplete: 'off', spellcheck: 'false', placeholder: 'shop.example.com', value: current ? current.host : '' });
  const path = h('input', { type: 'text', name: 'ingress.path', autocomplete: 'off', spellcheck: 'false', value: current ? current.path || '/' : '/' });
  let className = h('select', { name: 'ingress.className', disabled: true }, option('', 'Reading the cluster’s ingress classes…'));
  let issuer = h('select', { name: 'ingress.tlsIssuer', disabled: true }, option('', 'Reading the cluster’s issuers…'));
  const classField = field('Ingress class', className, 'From the cluster’s IngressClasses; its default is preselected.');
  const issuerField = field('TLS certificate', issuer, 'A ready cert-manager ClusterIssuer issues a certificate for the host.');
  const body = h('div', { class: 'form-grid ingress-fields' },
    field('Host', host, 'A DNS name that points at the ingress controller.'), field('Path', path, 'Path prefix; “/” routes everything.'),
    classField, issuerField);
  const section = h('fieldset', { class: 'ingress' },
    h('legend', 'Ingress'),
    h('label', { class: 'checkbox' }, enabled, 'Expose this deployment over HTTP through an Ingress'),
    h('p', { class: 'hint' }, 'Needs a port: the Ingress routes to the deployment’s Service on that port.'),
    body);
  const sync = () => { body.hidden = !enabled.checked; host.required = enabled.checked; };
  enabled.addEventListener('change', () => { sync(); if (enabled.checked) host.focus(); });
  sync();

  function swapControl(wrapper, oldControl, newControl, hint) {
    newControl.id = oldControl.id;
    if (oldControl.hasAttribute('aria-describedby')) newControl.setAttribute('aria-describedby', oldControl.getAttribute('aria-describedby'));
    oldControl.replaceWith(newControl);
    const hintEl = wrapper.querySelector('.hint');
    if (hintEl && hint) hintEl.textContent = hint;
    return newControl;
  }

  const ready = (async () => {
    let discovery;
    try {
      discovery = await getDiscovery();
    } catch (error) {
      // Without discovery the names are typed; preflight still checks them on deploy.
      className = swapControl(classField, className, h('input', { type: 'text', name: 'ingress.className', autocomplete: 'off', spellcheck: 'false', value: current ? current.className : '', placeholder: 'nginx' }),
        `The cluster’s IngressClasses could not be read (${error.message}); type the class name.`);
      issuer = swapControl(issuerField, issuer, h('input', { type: 'text', name: 'ingress.tlsIssuer', autocomplete: 'off', spellcheck: 'false', value: current && current.tlsIssuer ? current.tlsIssuer : '', placeholder: 'letsencrypt (empty: no TLS)' }),
        'The cluster’s issuers could not be read; type a ClusterIssuer name, or leave it empty for no TLS.');
      return;
    }
    const classes = discovery.ingressControllers || [];
    const wanted = current ? current.className : (classes.find((c) => c.isDefault) || classes[0] || {}).className;
    replace(className, classes.map((c) => option(c.className, `${c.className} (${c.vendor})${c.isDefault ? ' — default' : ''}`, c.className === wanted)));
    if (current && !classes.some((c) => c.className === current.className)) className.append(option(current.className, `${current.className} (not on the cluster)`, true));
    if (!className.options.length) {
      className.append(option('', 'No IngressClass on this cluster'));
      classField.querySelector('.hint').textContent = 'The cluster has no IngressClass: install an ingress controller first.';
    }
    className.disabled = false;

    const manager = (discovery.certManagers || [])[0];
    const issuers = manager && manager.installed ? manager.issuers.filter((i) => i.kind === 'ClusterIssuer' && i.ready) : [];
    const currentIssuer = current && current.tlsIssuer ? current.tlsIssuer : '';
    replace(issuer, option('', 'No TLS (plain HTTP)', !currentIssuer), issuers.map((i) => option(i.name, `${i.name} (ClusterIssuer)`, i.name === currentIssuer)));
    if (currentIssuer && !issuers.some((i) => i.name === currentIssuer)) issuer.append(option(currentIssuer, `${currentIssuer} (not a ready ClusterIssuer)`, true));
    if (!manager || !manager.installed) issuerField.querySelector('.hint').textContent = 'cert-manager is not installed on the cluster, so TLS certificates cannot be issued.';
    else if (!issuers.length) issuerField.querySelector('.hint').textContent = 'cert-manager has no ready ClusterIssuer.';
    issuer.disabled = false;
  })();

  return {
    el: section,
    ready,
    collect() {
      if (!enabled.checked) return { value: null, problems: [] };
      const value = { host: host.value.trim(), path: path.value.trim() || '/', className: className.value.trim() };
      const tls = issuer.value.trim();
      if (tls) value.tlsIssuer = tls;
      const problems = [];
      if (!value.host) problems.push(['ingress.host', 'enter the host name the Ingress answers for']);
      if (!value.className) problems.push(['ingress.className', 'choose an IngressClass']);
      return { value, problems };
    },
  };
}

function healthSection(current) {
  const enabled = h('input', { type: 'checkbox', name: 'healthCheckEnabled', checked: Boolean(current), dataset: { action: 'toggle-health' } });
  const path = h('input', { type: 'text', name: 'healthCheck.path', autocomplete: 'off', spellcheck: 'false', placeholder: '/healthz', value: current ? current.path : '' });
  const port = h('input', { type: 'number', name: 'healthCheck.port', min: 1, max: 65535, value: current && current.port != null ? String(current.port) : '' });
  const body = h('div', { class: 'form-grid' }, field('Path', path, 'Answers 2xx or 3xx when the container is ready.'), field('Port', port, 'Optional: defaults to the deployment’s port.'));
  const section = h('fieldset', { class: 'health-check' },
    h('legend', 'Health check'),
    h('label', { class: 'checkbox' }, enabled, 'Probe readiness over HTTP'),
    body);
  const sync = () => { body.hidden = !enabled.checked; path.required = enabled.checked; };
  enabled.addEventListener('change', () => { sync(); if (enabled.checked) path.focus(); });
  sync();
  return {
    el: section,
    collect() {
      if (!enabled.checked) return { value: null, problems: [] };
      const value = { path: path.value.trim() };
      if (port.value.trim() !== '') value.port = Number(port.value);
      return { value, problems: value.path ? [] : [['healthCheck.path', 'enter the path to probe, such as /healthz']] };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The form

/**
 * A deployment form. With `dep` it edits (PATCH with If-Match, only the changed fields); else it creates in
 * `environment`. `getDiscovery()` answers the environment's cluster discovery (a promise). `onSaved(deployment)`
 * runs after success.
 */
export function deploymentForm({ environment, dep, getDiscovery, onSaved, onCancel }) {
  const editing = Boolean(dep);
  const name = editing ? null : h('input', { type: 'text', name: 'name', required: true, maxlength: 63, autocomplete: 'off', spellcheck: 'false' });
  const image = h('input', { type: 'text', name: 'image', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'nginx:1.27', value: dep ? dep.image : '' });
  const replicas = h('input', { type: 'number', name: 'replicas', min: 0, max: 1000, value: dep ? String(dep.replicas) : '1' });
  const port = h('input', { type: 'number', name: 'port', min: 1, max: 65535, value: dep && dep.port != null ? String(dep.port) : '' });
  const envVars = envSection(dep ? dep.env : []);
  const secrets = secretSection(dep ? dep.secretEnvNames : []);
  const ingress = ingressSection(dep ? normaliseIngress(dep.ingress) : null, getDiscovery);
  const health = healthSection(dep ? normaliseHealthCheck(dep.healthCheck) : null);

  const form = h('form', {
    class: 'deployment-form', id: editing ? 'edit-deployment-form' : 'create-deployment-form',
    'aria-label': editing ? `Edit deployment ${dep.name}` : 'Create a deployment', autocomplete: 'off',
  },
  h('div', { class: 'form-grid' },
    name ? field('Name', name, 'A DNS-1123 label: the Kubernetes Deployment’s name.') : null,
    field('Image', image),
    field('Replicas', replicas),
    field('Port', port, 'Optional; an Ingress needs one.')),
  h('div', { class: 'deploy-sections' }, envVars.el, secrets.el, ingress.el, health.el),
  h('p', { class: 'hint save-note' }, editing
    ? 'Saving changes the catalog only: the deployment shows “pending changes” until you deploy it.'
    : 'Creating does not deploy: use Deploy once it is listed.'),
  formActions(editing ? 'Save changes' : 'Create deployment', onCancel));

  handleSubmit(form, async (data) => {
    const env = envVars.collect();
    const secret = secrets.collect();
    const ing = ingress.collect();
    const hc = health.collect();
    const problems = [...env.problems, ...secret.problems, ...ing.problems, ...hc.problems];
    if (problems.length) throw localError(problems);
    const values = {
      image: String(data.get('image') || '').trim(),
      replicas: str(data, 'replicas') === undefined ? undefined : Number(str(data, 'replicas')),
      port: str(data, 'port') === undefined ? null : Number(str(data, 'port')),
      env: env.values,
      ingress: ing.value,
      healthCheck: hc.value,
    };
    let saved;
    if (editing) {
      const body = {};
      if (values.image !== dep.image) body.image = values.image;
      if (values.replicas !== undefined && values.replicas !== dep.replicas) body.replicas = values.replicas;
      if (values.port !== (dep.port ?? null)) body.port = values.port;
      if (!same(values.env, dep.env || [])) body.env = values.env;
      if (secret.values !== undefined) body.secretEnv = secret.values;
      if (!same(normaliseIngress(values.ingress), normaliseIngress(dep.ingress))) body.ingress = values.ingress;
      if (!same(normaliseHealthCheck(values.healthCheck), normaliseHealthCheck(dep.healthCheck))) body.healthCheck = values.healthCheck;
      if (!Object.keys(body).length) { await onSaved(dep, false); return; }
      saved = (await api.patch(`/deployments/${seg(dep.id)}`, body, { ifMatch: dep.version })).data;
    } else {
      const body = { name: String(data.get('name') || '').trim(), image: values.image };
      if (values.replicas !== undefined) body.replicas = values.replicas;
      if (values.port !== null) body.port = values.port;
      if (values.env.length) body.env = values.env;
      if (secret.values && Object.keys(secret.values).length) body.secretEnv = secret.values;
      if (values.ingress) body.ingress = values.ingress;
      if (values.healthCheck) body.healthCheck = values.healthCheck;
      saved = (await api.post(`/environments/${seg(environment.id)}/deployments`, body)).data;
    }
    await onSaved(saved, true);
  });
  form.ready = ingress.ready;
  return form;
}

/** Edits a deployment in a dialog; `onSaved(deployment)` runs after a save that changed something. */
export function editDeploymentDialog({ dep, getDiscovery, onSaved }) {
  let ref;
  const form = deploymentForm({
    dep, getDiscovery,
    onSaved: async (saved, changed) => {
      ref.close();
      if (!changed) { toast('Nothing changed.'); return; }
      toast(saved.pendingChanges ? `${saved.name} saved: it has pending changes until you deploy it.` : `${saved.name} saved.`);
      await onSaved(saved);
    },
  });
  ref = formDialog({ title: `Edit ${dep.name}`, form, submitLabel: 'Save changes' });
  ref.dialog.classList.add('dialog-wide');
  return ref;
}
