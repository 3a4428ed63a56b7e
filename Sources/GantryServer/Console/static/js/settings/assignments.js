// Settings › Assignments: who holds which role where (organization, project or environment scope).
//
// Projects are never all read (an organization may hold 10,000): the table names the projects its scopes
// mention (one GET each, unless the console already knows the name), and the form's project picker is a
// typeahead over GET /projects?q=…&limit=50.

import { api, seg } from '../api.js';
import { nameOf } from '../names.js';
import { h, replace, field, handleSubmit, option, toast, formActions, debounce } from '../dom.js';
import { listSection, table } from './section.js';

const PICKER_LIMIT = 50;

/** The names of the projects some scopes mention, read one by one (a missing one keeps its id). */
async function projectNamesOf(assignments, names) {
  const ids = new Set();
  for (const a of assignments) {
    const [kind, id] = a.scope.split(':');
    if (kind === 'project' && id && !names.has(id)) {
      const known = nameOf(id);
      if (known) names.set(id, known); else ids.add(id);
    }
  }
  await Promise.all([...ids].map((id) => api.get(`/projects/${seg(id)}`)
    .then(({ data }) => names.set(id, data.name))
    .catch(() => { /* not visible or gone: the id stands in */ })));
}

/**
 * A project picker for any number of projects: a search box and a select of the server's first matches
 * (GET /projects?q=…&limit=50, debounced, the previous request aborted). `onChange` runs when the choice changes.
 */
export function projectPicker({ onChange, names }) {
  const input = h('input', { type: 'search', name: 'projectQuery', placeholder: 'Type to search projects', autocomplete: 'off', 'aria-label': 'Search projects by name' });
  const select = h('select', { name: 'projectId' }, option('', 'Loading projects…'));
  const note = h('p', { class: 'hint', 'aria-live': 'polite' });
  let controller = null;
  async function fill() {
    if (controller) controller.abort();
    const mine = new AbortController();
    controller = mine;
    const q = input.value.trim();
    try {
      const page = await api.get('/projects', { query: { q, limit: PICKER_LIMIT }, signal: mine.signal });
      if (controller !== mine) return;
      const previous = select.value;
      for (const p of page.data) names.set(p.id, p.name);
      replace(select, option('', page.data.length ? 'Choose a project…' : (q ? `No project matches “${q}”` : 'No projects')),
        page.data.map((p) => option(p.id, p.name, p.id === previous)));
      note.textContent = page.nextCursor ? `The first ${PICKER_LIMIT} matches; type more of the name to narrow them down.` : '';
      if (select.value !== previous) onChange();
    } catch (error) {
      if (controller !== mine || error.name === 'AbortError') return;
      replace(select, option('', 'Could not load the projects'));
      note.textContent = error.message;
    }
  }
  input.addEventListener('input', debounce(fill, 250));
  input.addEventListener('keydown', (event) => { if (event.key === 'Enter') event.preventDefault(); });
  select.addEventListener('change', onChange);
  fill();
  return { select, input, note };
}

/** field() around a picker: the label names the select; the search box sits above it, the note below. */
export function projectField(label, picker) {
  const wrapper = field(label, picker.select);
  wrapper.classList.add('project-picker');
  wrapper.insertBefore(picker.input, picker.select);
  picker.select.after(picker.note);
  return wrapper;
}

export async function renderAssignments(ctx, host) {
  let users = [];
  let roles = [];
  const projectNames = new Map();
  const filterUser = ctx.query.userId || '';
  const userLabel = (id) => users.find((u) => u.id === id)?.email || id;
  const roleLabel = (id) => roles.find((r) => r.id === id)?.name || id;
  const envNames = new Map();
  const scopeLabel = (scope) => {
    if (scope === 'org') return 'whole organization';
    const [kind, id] = scope.split(':');
    if (kind === 'project') return `project ${projectNames.get(id) || id}`;
    if (kind === 'environment') return `environment ${envNames.get(id) || id}`;
    return scope;
  };
  const section = listSection({
    ctx, host, title: 'Role assignments', what: 'assignments', newLabel: 'Grant a role',
    intro: 'A grant applies to its scope and everything below it: a project grant covers its environments and their deployments.',
    emptyTitle: 'No assignments', emptyText: filterUser ? 'This member has no role yet.' : '',
    load: async () => {
      const [all, u, r] = await Promise.all([
        api.listAll('/assignments'), api.listAll('/users').catch(() => []), api.listAll('/roles').catch(() => []),
      ]);
      users = u; roles = r;
      const list = filterUser ? all.filter((a) => a.userId === filterUser) : all;
      await projectNamesOf(list, projectNames);
      return list;
    },
    path: (a) => `/assignments/${seg(a.id)}`,
    remove: {
      label: 'Remove', done: () => 'Assignment removed.',
      confirm: (a) => ({ title: 'Remove this role?', message: `${userLabel(a.userId)} loses ${roleLabel(a.roleId)} on ${scopeLabel(a.scope)}.`, confirmLabel: 'Remove' }),
    },
    render: (list, { actions }) => h('div',
      filterUser ? h('p', { class: 'meta' }, `Showing the roles of ${userLabel(filterUser)}. `, h('a', { href: '#/settings/assignments' }, 'Show everyone')) : null,
      table('assignments-table', ['Member', 'Role', 'Scope', ''],
        list.map((a) => h('tr', { dataset: { assignmentId: a.id } },
          h('td', userLabel(a.userId)), h('td', roleLabel(a.roleId)), h('td', scopeLabel(a.scope)),
          actions(a))))),
    form: (done, cancel) => {
      const scopeKind = h('select', { name: 'scopeKind' }, option('org', 'Whole organization'), option('project', 'A project'), option('environment', 'An environment'));
      const env = h('select', { name: 'environmentId' }, option('', 'Choose a project first'));
      const picker = projectPicker({ names: projectNames, onChange: () => loadEnvironments() });
      const project = picker.select;
      const projectWrapper = projectField('Project', picker);
      const envField = field('Environment', env);
      const sync = () => { projectWrapper.hidden = scopeKind.value === 'org'; envField.hidden = scopeKind.value !== 'environment'; };
      scopeKind.addEventListener('change', sync);
      let envFor = null;
      async function loadEnvironments() {
        if (envFor === project.value) return;
        envFor = project.value;
        replace(env, option('', 'Loading…'));
        if (!project.value) { replace(env, option('', 'Choose a project first')); return; }
        try {
          const chosen = project.value;
          const envs = await api.listAll(`/projects/${seg(chosen)}/environments`);
          if (chosen !== project.value) return;
          for (const e of envs) envNames.set(e.id, e.name);
          replace(env, option('', envs.length ? 'Choose an environment…' : 'No environments'), envs.map((e) => option(e.id, e.name)));
        } catch { replace(env, option('', 'Could not load the environments')); }
      }
      sync();
      const el = h('form', { class: 'panel', id: 'create-assignment-form', 'aria-label': 'Grant a role' },
        h('div', { class: 'form-grid' },
          field('Member', h('select', { name: 'userId', required: true }, option('', 'Choose a member…'), users.map((u) => option(u.id, u.email, u.id === filterUser)))),
          field('Role', h('select', { name: 'roleId', required: true }, option('', 'Choose a role…'), roles.map((r) => option(r.id, r.name)))),
          field('Scope', scopeKind), projectWrapper, envField),
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

