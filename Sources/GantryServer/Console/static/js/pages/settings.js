// Settings: one tab per resource, each in its own module under js/settings/ (deployment spaces, registry
// integrations, cloud accounts, tokens, members, roles, assignments and the audit log). Credentials and
// kubeconfigs are write-only: the forms send them, nothing ever shows them back.

import { h } from '../dom.js';
import { navigate } from '../app.js';
import { renderSpaces } from '../settings/spaces.js';
import { renderIntegrations } from '../settings/integrations.js';
import { renderCloudAccounts } from '../settings/cloud-accounts.js';
import { renderTokens } from '../settings/tokens.js';
import { renderMembers } from '../settings/members.js';
import { renderRoles } from '../settings/roles.js';
import { renderAssignments } from '../settings/assignments.js';
import { renderAudit } from '../settings/audit.js';

/** [address, label, renderer(ctx, host)], in the order of the tab bar. */
const TABS = [
  ['spaces', 'Spaces', renderSpaces], ['integrations', 'Integrations', renderIntegrations],
  ['cloud-accounts', 'Cloud accounts', renderCloudAccounts], ['tokens', 'Tokens', renderTokens],
  ['members', 'Members', renderMembers], ['roles', 'Roles', renderRoles],
  ['assignments', 'Assignments', renderAssignments], ['audit', 'Audit log', renderAudit],
];

export async function renderSettings(ctx) {
  const tab = ctx.params.tab || 'spaces';
  const known = TABS.find(([id]) => id === tab);
  if (!known) { navigate('/settings/spaces'); return; }
  const [, title, render] = known;
  ctx.setTitle(`${title} · Settings`);
  const body = h('div', { id: `settings-${tab}` });
  ctx.el.append(
    h('div', { class: 'page-header' }, h('div', h('h1', 'Settings'), h('p', { class: 'subtitle' }, `Organization ${ctx.me.organization.name}`))),
    h('nav', { class: 'tabs', 'aria-label': 'Settings sections' },
      TABS.map(([id, label]) => h('a', { href: `#/settings/${id}`, 'aria-current': id === tab ? 'page' : null }, label))),
    body);
  await render(ctx, body);
}
