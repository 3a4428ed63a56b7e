// Settings › Roles: built-in and custom roles with their policies; custom ones are created, edited and deleted.

import { api, seg } from '../api.js';
import { h, field, handleSubmit, toast, formDialog, plural, formActions } from '../dom.js';
import { listSection, table } from './section.js';

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
    formActions(submitLabel, cancel));
  handleSubmit(el, async (data) => {
    await save({ name: String(data.get('name') || '').trim(), description: String(data.get('description') || ''), policies: data.getAll('policies').map(String) });
  });
  return el;
}

export async function renderRoles(ctx, host) {
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
    path: (r) => `/roles/${seg(r.id)}`,
    remove: {
      versioned: true, when: (r) => !r.builtIn, done: (r) => `Role ${r.name} deleted.`,
      confirm: () => ({ message: 'Its assignments go with it.', confirmLabel: 'Delete role' }),
    },
    render: (roles, { reload, actions }) => table('roles-table', ['Role', 'Policies', ''],
      roles.map((r) => h('tr', { dataset: { roleId: r.id } },
        h('td', h('strong', r.name), r.builtIn ? [' ', h('span', { class: 'badge plain' }, 'built-in')] : null,
          r.description ? h('div', { class: 'meta' }, r.description) : null, h('div', { class: 'meta mono' }, r.id)),
        h('td', h('details', h('summary', plural(r.policies.length, 'policy', 'policies')), h('p', { class: 'mono audit-changes' }, r.policies.join(', ')))),
        actions(r, r.builtIn ? null : h('button', {
          type: 'button', class: 'btn btn-small', onclick: () => {
            let ref;
            const form = roleForm({
              id: 'edit-role-form', role: r, policies, submitLabel: 'Save role',
              save: async (body) => { await api.put(`/roles/${seg(r.id)}`, body, { ifMatch: r.version }); ref.close(); toast('Role saved.'); await reload(); },
            });
            ref = formDialog({ title: `Edit ${r.name}`, form, submitLabel: 'Save role' });
          },
        }, 'Edit'))))),
    form: (done, cancel) => roleForm({
      id: 'create-role-form', policies, submitLabel: 'Create role', cancel,
      save: async (body) => { await api.post('/roles', body); toast('Role created.'); await done(); },
    }),
  });
  await section.reload();
}

