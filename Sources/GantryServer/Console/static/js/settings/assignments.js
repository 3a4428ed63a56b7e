// Settings › Assignments: who holds which role where (organization, project or environment scope).

import { api, seg } from '../api.js';
import { h, replace, field, handleSubmit, option, toast, formActions } from '../dom.js';
import { listSection, table } from './section.js';

export async function renderAssignments(ctx, host) {
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

