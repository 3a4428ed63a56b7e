// Project page: its environments (create, edit, delete with the API's messages inline; preview badges with
// Extend), the estimated cost from the catalog, rename, delete (dry run first) and restore.

import { api, seg } from '../api.js';
import { guardAction } from '../access.js';
import { h, replace, loading, errorAlert, emptyState, field, handleSubmit, timeEl, deleteWithDryRun, toast, plural } from '../dom.js';
import { loadReferences, environmentForm, editEnvironmentDialog, deleteEnvironmentFlow, spaceName, registryLabel } from '../envforms.js';
import { previewBadge } from '../previews.js';
import { projectCostLine } from '../cost.js';

export async function renderProject(ctx) {
  const projectId = ctx.params.projectId;
  const path = `/projects/${seg(projectId)}`;
  replace(ctx.el, loading('Loading the project…'));

  let project;
  let refs;
  try {
    [project, refs] = await Promise.all([api.get(path).then((r) => r.data), loadReferences()]);
  } catch (error) {
    if (!ctx.alive()) return;
    replace(ctx.el,
      h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/projects' }, 'Projects')),
      errorAlert(error, { title: error.status === 404 ? 'This project does not exist, was deleted, or is not visible to you.' : 'Could not load the project.', onRetry: () => renderProject(ctx) }),
      deletedProjectHelp(projectId, ctx));
    return;
  }
  if (!ctx.alive()) return;
  ctx.setTitle(project.name);

  const title = h('h1', { id: 'project-name' }, project.name);
  const description = h('p', { class: 'subtitle', id: 'project-description' }, project.description || 'No description.');
  const meta = h('p', { class: 'meta' });
  const cost = projectCostLine(projectId, { alive: ctx.alive });
  const headerStatus = h('div');
  const editHost = h('div');
  const envSection = h('section', { class: 'panel', 'aria-labelledby': 'environments-title' });

  function renderMeta() {
    title.textContent = project.name;
    description.textContent = project.description || 'No description.';
    replace(meta, `Created by ${project.createdBy} `, timeEl(project.createdAt), ' · updated ', timeEl(project.updatedAt), ` · version ${project.version}`);
    ctx.setTitle(project.name);
  }
  renderMeta();

  const editButton = guardAction(h('button', { type: 'button', class: 'btn', id: 'edit-project', 'aria-expanded': 'false' }, 'Rename / edit'),
    { policy: 'projects:write', resource: projectId, title: `${project.name} cannot be changed` });
  const deleteButton = guardAction(h('button', { type: 'button', class: 'btn btn-danger', id: 'delete-project' }, 'Delete project'),
    { policy: 'projects:delete', resource: projectId, title: `${project.name} cannot be deleted` });

  replace(ctx.el,
    h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/projects' }, 'Projects'), h('span', { 'aria-hidden': 'true' }, '/'), h('span', { 'aria-current': 'page' }, project.name)),
    h('div', { class: 'page-header' },
      h('div', title, description, meta, cost.el),
      h('div', { class: 'btn-group' },
        h('a', { class: 'btn btn-primary', href: `#/projects/${seg(projectId)}/canvas` }, 'Architecture canvas'),
        h('a', { class: 'btn', href: `#/settings/audit?projectId=${seg(projectId)}` }, 'Audit log'),
        editButton, deleteButton)),
    headerStatus,
    editHost,
    envSection);

  // Rename / edit description
  function closeEdit() { replace(editHost); editButton.setAttribute('aria-expanded', 'false'); editButton.focus(); }
  editButton.addEventListener('click', () => {
    if (editHost.firstChild) { closeEdit(); return; }
    editButton.setAttribute('aria-expanded', 'true');
    const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 100, value: project.name, autocomplete: 'off' });
    const desc = h('input', { type: 'text', name: 'description', value: project.description, autocomplete: 'off' });
    const form = h('form', { class: 'panel', id: 'edit-project-form', 'aria-label': 'Edit the project' },
      h('div', { class: 'form-grid' }, field('Name', name), field('Description', desc)),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save'), h('button', { type: 'button', class: 'btn', onclick: closeEdit }, 'Cancel')));
    handleSubmit(form, async (data) => {
      const body = {};
      const newName = String(data.get('name') || '').trim();
      const newDesc = String(data.get('description') ?? '');
      if (newName !== project.name) body.name = newName;
      if (newDesc !== project.description) body.description = newDesc;
      if (Object.keys(body).length) {
        project = (await api.patch(path, body, { ifMatch: project.version })).data;
        toast('Project saved.');
      }
      renderMeta();
      closeEdit();
    });
    form.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeEdit(); });
    editHost.append(form);
    name.focus();
  });

  // Delete (dry run first), then offer restore.
  deleteButton.addEventListener('click', () => deleteWithDryRun({
    title: `Delete ${project.name}?`,
    confirmLabel: 'Delete project',
    check: () => api.del(path, { query: { dryRun: true } }),
    remove: () => api.del(path, { ifMatch: project.version }),
    deletable: () => `${project.name} has no live environments or deployments. It will be deleted and can be restored within 30 days.`,
    blocked: (preview) => {
      const blockers = [];
      if (preview.environmentCount) blockers.push(plural(preview.environmentCount, 'live environment'));
      if (preview.deploymentCount) blockers.push(plural(preview.deploymentCount, 'live deployment'));
      return [`${project.name} cannot be deleted yet: it still has ${blockers.join(' and ')}.`, 'Delete its environments (and their deployments) first.'];
    },
    onDeleted: showDeleted,
  }));

  function showDeleted() {
    const restore = h('button', { type: 'button', class: 'btn btn-primary', id: 'restore-project' }, 'Restore project');
    const status = h('div');
    replace(ctx.el,
      h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/projects' }, 'Projects')),
      h('div', { class: 'alert alert-info', role: 'status', id: 'project-deleted' },
        h('p', { class: 'alert-title' }, `Project ${project.name} was deleted.`),
        h('p', 'It no longer appears in lists or stats. You can restore it within 30 days, as long as no other project takes its name.'),
        h('div', { class: 'btn-group' }, restore, h('a', { class: 'btn', href: '#/projects' }, 'Back to projects'))),
      status);
    restore.focus();
    restore.addEventListener('click', async () => {
      restore.disabled = true;
      replace(status);
      try {
        await api.post(`${path}/restore`);
        toast(`Project “${project.name}” restored.`);
        replace(ctx.el);
        await renderProject(ctx);
      } catch (error) {
        status.append(errorAlert(error, { title: 'The project could not be restored.' }));
        restore.disabled = false;
      }
    });
  }

  // Environments
  const newEnvButton = guardAction(h('button', { type: 'button', class: 'btn btn-primary', id: 'new-environment', 'aria-expanded': 'false' }, 'New environment'),
    { policy: 'environments:write', resource: projectId, title: 'No environment can be created here' });
  const envFormHost = h('div');
  const envList = h('div', { id: 'environment-list' });
  replace(envSection,
    h('div', { class: 'panel-header' }, h('h2', { id: 'environments-title' }, 'Environments'), newEnvButton),
    refs.spacesError && refs.spacesError.status === 403
      ? h('p', { class: 'meta' }, 'You cannot list deployment spaces, so spaces are shown by id.') : null,
    envFormHost,
    envList);

  function closeEnvForm() { replace(envFormHost); newEnvButton.setAttribute('aria-expanded', 'false'); newEnvButton.focus(); }
  function openEnvForm() {
    if (envFormHost.firstChild) { envFormHost.querySelector('input').focus(); return; }
    newEnvButton.setAttribute('aria-expanded', 'true');
    const form = environmentForm({
      projectId, refs,
      onSaved: async (env) => { toast(`Environment “${env.name}” created.`); closeEnvForm(); await loadEnvironments(); },
      onCancel: closeEnvForm,
    });
    form.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeEnvForm(); });
    envFormHost.append(form);
    form.querySelector('input').focus();
  }
  newEnvButton.addEventListener('click', openEnvForm);

  /** The environments table and the cost line (which the environments change). */
  function loadEnvironments() {
    return Promise.all([loadEnvironmentList(), cost.refresh()]);
  }

  async function loadEnvironmentList() {
    replace(envList, loading('Loading environments…'));
    let envs;
    try {
      envs = await api.listAll(`${path}/environments`);
    } catch (error) {
      if (!ctx.alive()) return;
      replace(envList, errorAlert(error, { title: 'Could not load the environments.', onRetry: loadEnvironments }));
      return;
    }
    if (!ctx.alive()) return;
    if (!envs.length) {
      replace(envList, emptyState('No environments yet',
        'An environment binds this project to a namespace on a deployment space (a Kubernetes cluster), with an optional container registry.',
        guardAction(h('button', { type: 'button', class: 'btn btn-primary', onclick: openEnvForm }, 'Create an environment'),
          { policy: 'environments:write', resource: projectId, title: 'No environment can be created here' })));
      return;
    }
    const rows = envs.map((env) => {
      const envHref = `#/projects/${seg(projectId)}/environments/${seg(env.id)}`;
      return h('tr', { dataset: { environmentId: env.id } },
        h('td', h('div', { class: 'title-line' }, h('a', { href: envHref }, env.name), previewBadge(env, { onExtended: (saved) => { Object.assign(env, saved); } }))),
        h('td', spaceName(refs, env.spaceId)),
        h('td', h('code', env.namespace)),
        h('td', { class: 'hide-narrow' }, registryLabel(refs, env)),
        h('td', { class: 'actions' },
          guardAction(h('button', {
            type: 'button', class: 'btn btn-small', 'aria-label': `Edit ${env.name}`,
            onclick: () => editEnvironmentDialog({ projectId, env, refs, onSaved: loadEnvironments }),
          }, 'Edit'), { policy: 'environments:write', resource: env.id, within: projectId, title: `${env.name} cannot be changed` }),
          guardAction(h('button', {
            type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Delete ${env.name}`,
            onclick: () => deleteEnvironmentFlow({ projectId, env, onDeleted: loadEnvironments }),
          }, 'Delete'), { policy: 'environments:delete', resource: env.id, within: projectId, title: `${env.name} cannot be deleted` })));
    });
    replace(envList, h('div', { class: 'table-wrap' }, h('table', { id: 'environments-table' },
      h('caption', { class: 'meta' }, plural(envs.length, 'environment')),
      h('thead', h('tr', h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Space'), h('th', { scope: 'col' }, 'Namespace'),
        h('th', { scope: 'col', class: 'hide-narrow' }, 'Registry'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', rows))));
  }
  await loadEnvironments();
}

/** When a project is gone, say how to get it back. */
function deletedProjectHelp(projectId, ctx) {
  const status = h('div');
  const restore = h('button', { type: 'button', class: 'btn', id: 'restore-project' }, 'Try to restore it');
  restore.addEventListener('click', async () => {
    replace(status);
    try {
      await api.post(`/projects/${seg(projectId)}/restore`);
      toast('Project restored.');
      replace(ctx.el);
      await renderProject(ctx);
    } catch (error) {
      status.append(errorAlert(error, { title: 'It could not be restored.' }));
    }
  });
  return h('div', h('p', { class: 'muted' }, 'A deleted project can be restored within 30 days.'), restore, status);
}

