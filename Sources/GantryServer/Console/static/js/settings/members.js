// Settings › Members: the organization's people and service accounts, a token minted for one, their roles.

import { api, seg } from '../api.js';
import { h, field, handleSubmit, toast, openDialog, formActions } from '../dom.js';
import { listSection, table } from './section.js';
import { tokenForm } from './tokens.js';

export async function renderMembers(ctx, host) {
  const section = listSection({
    ctx, host, title: 'Members', what: 'members', newLabel: 'Add a member',
    intro: 'People and service accounts of the organization. Grant them roles under Assignments.',
    emptyTitle: 'No members', emptyText: '',
    load: () => api.listAll('/users'),
    path: (u) => `/users/${seg(u.id)}`,
    remove: {
      label: 'Remove', when: (u) => u.id !== ctx.me.user.id, done: (u) => `${u.email} removed.`,
      confirm: (u) => ({ title: `Remove ${u.email}?`, message: 'The member loses access and their tokens stop working.', confirmLabel: 'Remove member' }),
    },
    render: (users, { actions }) => table('members-table', ['Email', 'Name', ''],
      users.map((u) => h('tr', { dataset: { userId: u.id } },
        h('td', h('strong', u.email), u.id === ctx.me.user.id ? [' ', h('span', { class: 'badge plain default' }, 'you')] : null, h('div', { class: 'meta mono' }, u.id)),
        h('td', u.name),
        actions(u,
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => memberTokenDialog(u) }, 'Create token'),
          h('a', { class: 'btn btn-small', href: `#/settings/assignments?userId=${seg(u.id)}` }, 'Roles'))))),
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
