// The canvas's side panel. Nothing selected: the project's environments, each with "Deploy all pending", and
// the suggested connections. A service: its flags, Deploy / Redeploy, Edit, details, its connections (with a
// picker for a new one) and its revisions and events. A connection: what it is, Accept and Delete.

import { seg } from '../api.js';
import { h, clear, replace, statusBadge, timeEl, plural, option } from '../dom.js';
import { deployBadges, deployButton, deployAllButton, deploymentHistory, watchRevision } from '../deploying.js';
import { clusterDiscovery, editDeploymentDialog } from '../deployform.js';
import { guardAction } from '../access.js';

/**
 * `project()` answers the project as last read; `act` has what the buttons do: focusNode(id),
 * accept(edge), deleteEdge(edge), connect(from, to), applyDeployment(node, dep), refreshDeployment(node),
 * refreshGroup(group).
 */
export function createSidePanel({ el, model, ctx, projectId, project, act }) {
  /** The selected service's history (revisions polled while in flight, events); one at a time. */
  let sideHistory = null;
  ctx.onCleanup(() => { if (sideHistory) sideHistory.history.destroy(); });
  function sideHistoryFor(node) {
    if (sideHistory && sideHistory.id === node.dep.id) { sideHistory.history.update(node.dep); return sideHistory.history; }
    if (sideHistory) sideHistory.history.destroy();
    const history = deploymentHistory({ dep: node.dep, alive: ctx.alive, compact: true, onChange: () => act.refreshDeployment(node) });
    sideHistory = { id: node.dep.id, history };
    return history;
  }
  function dropSideHistory() {
    if (sideHistory) { sideHistory.history.destroy(); sideHistory = null; }
  }

  /** environment id → its cluster discovery (clusterDiscovery), for the edit form. */
  const discoveries = new Map();
  function discoveryFor(env) {
    if (!discoveries.has(env.id)) discoveries.set(env.id, clusterDiscovery(env.id));
    return discoveries.get(env.id).get();
  }

  const environmentHref = (env) => `#/projects/${seg(projectId)}/environments/${seg(env.id)}`;

  /** A connection's actions follow the deployments' policies on its environment (a refused one says so; access.js). */
  const guardEdge = (button, edge, policy, title) => guardAction(button, { policy, resource: edge.group.env.id, title });

  function connectionRow(edge, perspective) {
    const { conn } = edge;
    const other = perspective === 'out' ? model.to(edge) : model.from(edge);
    return h('li', { dataset: { connectionId: conn.id } },
      h('span', perspective === 'out' ? '→ ' : '← ', h('button', { type: 'button', class: 'btn-link', onclick: () => act.focusNode(other.dep.id) }, other.dep.name),
        conn.sourceHint === 'suggestion' ? [' ', h('span', { class: 'badge plain st-pending' }, 'suggested')] : null),
      h('span', { class: 'btn-group' },
        conn.sourceHint === 'suggestion' ? guardEdge(h('button', { type: 'button', class: 'btn btn-small', onclick: () => act.accept(edge) }, 'Accept'),
          edge, 'deployments:write', 'The suggestion was not accepted') : null,
        guardEdge(h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Delete connection to ${other.dep.name}`, onclick: () => act.deleteEdge(edge) }, 'Delete'),
          edge, 'deployments:delete', 'The connection was not deleted')));
  }

  function renderOverview() {
    const { groups, nodes, edges } = model;
    const suggestions = model.suggestions();
    replace(el, h('h2', project().name),
      h('p', { class: 'meta' }, `${plural(groups.length, 'environment')}, ${plural(nodes.size, 'service')}, ${plural(edges.size, 'connection')}.`),
      groups.length ? h('ul', { class: 'conn-list env-list' }, groups.map((g) => h('li', { dataset: { environmentId: g.env.id } },
        h('span', h('a', { href: environmentHref(g.env) }, g.env.name), ' ',
          h('span', { class: 'meta' }, plural(g.nodes.length, 'service'))),
        deployAllButton({
          environment: g.env, pending: model.pending(g).map((n) => n.dep), id: `deploy-all-${g.env.id}`,
          onDeployed: async (revisions) => {
            for (const revision of revisions) {
              const stop = watchRevision(revision, { alive: ctx.alive, onStatus: () => { const n = nodes.get(revision.deploymentId); if (n) act.refreshDeployment(n); } });
              ctx.onCleanup(stop);
            }
            await act.refreshGroup(g);
          },
        })))) : h('p', 'This project has no environments yet. ', h('a', { href: `#/projects/${seg(projectId)}` }, 'Create one'), '.'),
      suggestions.length ? [h('h3', 'Suggested connections'), h('ul', { class: 'conn-list', id: 'suggestion-list' }, suggestions.map((e) => h('li', { dataset: { connectionId: e.conn.id } },
        h('span', `${model.from(e).dep.name} → ${model.to(e).dep.name}`),
        h('span', { class: 'btn-group' },
          guardEdge(h('button', { type: 'button', class: 'btn btn-small', onclick: () => act.accept(e) }, 'Accept'), e, 'deployments:write', 'The suggestion was not accepted'),
          guardEdge(h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: () => act.deleteEdge(e) }, 'Dismiss'), e, 'deployments:delete', 'The suggestion was not dismissed')))))] : null,
      h('p', { class: 'muted' }, 'Select a service or a connection to see its details.'));
  }

  function renderNode(node) {
    const { dep } = node;
    const outgoing = model.outgoing(node);
    const incoming = model.incoming(node);
    const candidates = node.group.nodes.filter((n) => n !== node && !outgoing.some((e) => e.conn.toDeploymentId === n.dep.id));
    const target = h('select', { id: 'connect-target', 'aria-label': `Connect ${dep.name} to` }, option('', 'Choose a service…'), candidates.map((n) => option(n.dep.id, n.dep.name)));
    const connectButton = guardAction(h('button', { type: 'button', class: 'btn btn-small btn-primary', onclick: () => { if (target.value) act.connect(node, model.nodes.get(target.value)); } }, 'Connect'),
      { policy: 'deployments:write', resource: node.group.env.id, title: 'No connection was made' });
    const history = sideHistoryFor(node);
    replace(el,
      h('h2', dep.name), h('div', { class: 'side-flags' }, statusBadge(dep.status), deployBadges(dep)),
      h('div', { class: 'btn-group side-actions' },
        deployButton(dep, { onDeployed: async (revision) => { history.add(revision); await act.refreshDeployment(node); } }),
        guardAction(h('button', {
          type: 'button', class: 'btn btn-small', dataset: { action: 'edit' }, 'aria-label': `Edit deployment ${dep.name}`,
          onclick: () => editDeploymentDialog({ dep, getDiscovery: () => discoveryFor(node.group.env), onSaved: (saved) => act.applyDeployment(node, saved) }),
        }, 'Edit'), { policy: 'deployments:write', resource: node.group.env.id, title: `${dep.name} cannot be changed` }),
        h('a', { class: 'btn btn-small', href: environmentHref(node.group.env) }, 'Environment')),
      h('dl',
        h('dt', 'Environment'), h('dd', h('a', { href: environmentHref(node.group.env) }, node.group.env.name)),
        h('dt', 'Image'), h('dd', h('code', dep.image)),
        h('dt', 'Replicas'), h('dd', String(dep.replicas)),
        h('dt', 'Port'), h('dd', dep.port == null ? '—' : String(dep.port)),
        h('dt', 'Revision'), h('dd', dep.currentRevision == null ? 'none yet' : `#${dep.currentRevision}`),
        h('dt', 'Last deploy'), h('dd', timeEl(dep.lastDeployedAt)),
        h('dt', 'Position'), h('dd', node.positioned ? `${Math.round(node.x)}, ${Math.round(node.y)}` : 'automatic (not saved until moved)')),
      h('h3', `Calls (${outgoing.length})`), outgoing.length ? h('ul', { class: 'conn-list' }, outgoing.map((e) => connectionRow(e, 'out'))) : h('p', { class: 'muted' }, 'None.'),
      h('h3', `Called by (${incoming.length})`), incoming.length ? h('ul', { class: 'conn-list' }, incoming.map((e) => connectionRow(e, 'in'))) : h('p', { class: 'muted' }, 'None.'),
      candidates.length ? h('div', { class: 'field' }, h('label', { for: 'connect-target' }, 'New connection'), h('div', { class: 'btn-group' }, target, connectButton)) : null,
      history.el);
  }

  function renderEdge(edge) {
    const { conn } = edge;
    replace(el,
      h('h2', `${model.from(edge).dep.name} → ${model.to(edge).dep.name}`),
      h('dl',
        h('dt', 'Kind'), h('dd', conn.sourceHint === 'suggestion' ? 'Suggested (not yet accepted)' : 'Manual'),
        h('dt', 'Injected variable'), h('dd', conn.injectedVar ? h('code', conn.injectedVar) : '—'),
        h('dt', 'Environment'), h('dd', edge.group.env.name),
        h('dt', 'Created'), h('dd', timeEl(conn.createdAt))),
      h('div', { class: 'btn-group' },
        conn.sourceHint === 'suggestion'
          ? guardEdge(h('button', { type: 'button', class: 'btn btn-primary', id: 'accept-connection', onclick: () => act.accept(edge) }, 'Accept suggestion'),
            edge, 'deployments:write', 'The suggestion was not accepted') : null,
        guardEdge(h('button', { type: 'button', class: 'btn btn-danger', id: 'delete-connection', onclick: () => act.deleteEdge(edge) }, 'Delete connection'),
          edge, 'deployments:delete', 'The connection was not deleted')));
  }

  /** Shows what model.selection names. */
  function render() {
    const { selection } = model;
    if (!selection || selection.type !== 'node') dropSideHistory();
    clear(el);
    if (!selection) renderOverview();
    else if (selection.type === 'node') renderNode(model.nodes.get(selection.id));
    else renderEdge(model.edges.get(selection.id));
  }

  return { render };
}
