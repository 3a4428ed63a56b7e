// Environment page: live stats (refresh, auto-refresh every 15 s), the cost estimate (js/cost.js), cluster discovery
// and the deployments table with deploying (Deploy / Redeploy, Deploy all pending, pending and drift badges, each
// deployment's revisions and events in an expandable row; js/deploying.js) and the create / edit forms
// (js/deployform.js); the preview badge with Extend and the Clone form (js/previews.js).

import { api, seg } from '../api.js';
import { guardAction } from '../access.js';
import {
  h, replace, loading, errorAlert, emptyState, timeEl, formatDate, relativeTime, statusBadge, toast,
  plural, confirmDialog,
} from '../dom.js';
import { loadReferences, editEnvironmentDialog, deleteEnvironmentFlow, spaceName, registryLabel } from '../envforms.js';
import { clusterDiscovery, deploymentForm, editDeploymentDialog } from '../deployform.js';
import { deployBadges, deployButton, deployAllButton, deploymentHistory } from '../deploying.js';
import { previewBadge, cloneEnvironmentDialog } from '../previews.js';
import { environmentCostPanel } from '../cost.js';
import { navigate } from '../app.js';

const AUTO_REFRESH_MS = 15000;

const CLUSTER_TITLES = {
  cluster_unreachable: 'The cluster cannot be reached',
  cluster_auth_failed: 'The cluster refused the credentials',
  cluster_error: 'The cluster answered with an error',
  cluster_timeout: 'The cluster did not answer in time',
};

/** A banner for a live-query failure that names the space, never an empty panel. */
function clusterBanner(error, space, what) {
  if (!error.isClusterError) return errorAlert(error, { title: `Could not load ${what}.` });
  const spaceText = space ? `space “${space.name}”` : 'this environment’s space';
  return h('div', { class: 'alert alert-error banner cluster-error', role: 'alert', dataset: { errorCode: error.code } },
    h('div', { class: 'banner-body' },
      h('p', { class: 'alert-title' }, `${CLUSTER_TITLES[error.code] || 'Cluster error'} — ${spaceText}`),
      h('p', { class: 'alert-message' }, error.message),
      h('p', `Showing no ${what} until the cluster answers. Check the space under Settings → Spaces.`),
      error.requestId ? h('p', { class: 'request-id' }, 'Request ID: ', h('code', error.requestId)) : null));
}

function tile(label, value, id) {
  return h('div', { class: 'tile', id }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label));
}

export async function renderEnvironment(ctx) {
  const { projectId, envId } = ctx.params;
  replace(ctx.el, loading('Loading the environment…'));
  let env;
  let project;
  let refs;
  try {
    [env, project, refs] = await Promise.all([
      api.get(`/projects/${seg(projectId)}/environments/${seg(envId)}`).then((r) => r.data),
      api.get(`/projects/${seg(projectId)}`).then((r) => r.data),
      loadReferences(),
    ]);
  } catch (error) {
    if (!ctx.alive()) return;
    replace(ctx.el,
      h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/projects' }, 'Projects'), h('span', '/'),
        h('a', { href: `#/projects/${seg(projectId)}` }, 'Project')),
      errorAlert(error, { title: 'Could not load the environment.', onRetry: () => renderEnvironment(ctx) }));
    return;
  }
  if (!ctx.alive()) return;
  ctx.setTitle(`${env.name} · ${project.name}`);
  const space = refs.spaces ? refs.spaces.find((sp) => sp.id === env.spaceId) || null : null;

  const header = h('div', { class: 'page-header' });
  function renderHeader() {
    replace(header,
      h('div',
        h('div', { class: 'title-line' }, h('h1', { id: 'environment-name' }, env.name),
          previewBadge(env, { onExtended: (saved) => { env = saved; } })),
        h('p', { class: 'subtitle' }, 'Namespace ', h('code', env.namespace), ' on space ', h('strong', spaceName(refs, env.spaceId)),
          space ? [' ', h('span', { class: `badge ${space.status}` }, space.status)] : null),
        h('p', { class: 'meta' }, `Registry: ${registryLabel(refs, env)} · created by ${env.createdBy} `, timeEl(env.createdAt))),
      h('div', { class: 'btn-group' },
        h('a', { class: 'btn', href: `#/projects/${seg(projectId)}/canvas` }, 'Architecture canvas'),
        h('a', { class: 'btn', href: `#/settings/audit?environmentId=${seg(env.id)}` }, 'Audit log'),
        guardAction(h('button', {
          type: 'button', class: 'btn', id: 'clone-environment', onclick: async (event) => {
            // The copies are chosen from the current list: read it again first (it also refreshes the table).
            const button = event.currentTarget;
            button.disabled = true;
            try { await reloadDeployments(); } finally { button.disabled = false; }
            if (!ctx.alive()) return;
            cloneEnvironmentDialog({
              env, deployments, refs, onCloned: (created) => navigate(`/projects/${created.projectId}/environments/${created.id}`),
            });
          },
        }, 'Clone'), { policy: 'environments:write', resource: env.id, title: `${env.name} cannot be cloned` }),
        guardAction(h('button', {
          type: 'button', class: 'btn', id: 'edit-environment', onclick: () => editEnvironmentDialog({
            projectId, env, refs, onSaved: (saved) => { env = saved; renderHeader(); refreshStats(); },
          }),
        }, 'Edit'), { policy: 'environments:write', resource: env.id, title: `${env.name} cannot be changed` }),
        guardAction(h('button', {
          type: 'button', class: 'btn btn-danger', id: 'delete-environment', onclick: () => deleteEnvironmentFlow({
            projectId, env, onDeleted: () => navigate(`/projects/${projectId}`),
          }),
        }, 'Delete'), { policy: 'environments:delete', resource: env.id, title: `${env.name} cannot be deleted` })));
  }
  renderHeader();

  // Live stats
  const statsBody = h('div', { id: 'live-stats', 'aria-live': 'polite' }, loading('Reading the cluster…'));
  const statsBanner = h('div', { id: 'stats-banner' });
  const observed = h('p', { class: 'meta', id: 'stats-observed' });
  const refreshButton = h('button', { type: 'button', class: 'btn btn-small', id: 'refresh-stats' }, 'Refresh');
  const auto = h('input', { type: 'checkbox', id: 'auto-refresh', checked: true });
  const statsPanel = h('section', { class: 'panel', 'aria-labelledby': 'stats-title' },
    h('div', { class: 'panel-header' }, h('h2', { id: 'stats-title' }, 'Live stats'),
      h('div', { class: 'btn-group' }, h('label', { class: 'checkbox', for: 'auto-refresh' }, auto, 'Auto-refresh every 15 s'), refreshButton)),
    statsBanner, statsBody, observed);

  // Cost
  const cost = environmentCostPanel(env.id, { alive: ctx.alive });

  // Cluster discovery
  const discoveryBody = h('div', { id: 'cluster-discovery' }, loading('Discovering the cluster…'));
  const discoveryButton = h('button', { type: 'button', class: 'btn btn-small', id: 'refresh-discovery' }, 'Refresh');
  const discoveryPanel = h('section', { class: 'panel', 'aria-labelledby': 'discovery-title' },
    h('div', { class: 'panel-header' }, h('h2', { id: 'discovery-title' }, 'Cluster discovery'), discoveryButton),
    discoveryBody);

  // Deployments
  const deploymentsBody = h('div', { id: 'deployments' }, loading('Loading deployments…'));
  const newDeployment = guardAction(h('button', { type: 'button', class: 'btn btn-small', id: 'new-deployment', 'aria-expanded': 'false' }, 'New deployment'),
    { policy: 'deployments:write', resource: env.id, title: `No deployment can be created in ${env.name}` });
  const deployAllHost = h('span', { class: 'deploy-all-host' });
  const deploymentFormHost = h('div');
  const deploymentsPanel = h('section', { class: 'panel', 'aria-labelledby': 'deployments-title' },
    h('div', { class: 'panel-header' }, h('h2', { id: 'deployments-title' }, 'Deployments'), h('div', { class: 'btn-group' }, deployAllHost, newDeployment)),
    deploymentFormHost, deploymentsBody);

  replace(ctx.el,
    h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/projects' }, 'Projects'), h('span', { 'aria-hidden': 'true' }, '/'),
      h('a', { href: `#/projects/${seg(projectId)}` }, project.name), h('span', { 'aria-hidden': 'true' }, '/'), h('span', { 'aria-current': 'page' }, env.name)),
    header, statsPanel, cost.el, deploymentsPanel, discoveryPanel);

  // --- stats ---
  let lastStats = null;
  let statsInFlight = false;
  async function refreshStats() {
    if (statsInFlight) return;
    statsInFlight = true;
    refreshButton.disabled = true;
    try {
      const { data } = await api.get(`/environments/${seg(env.id)}/stats`);
      if (!ctx.alive()) return;
      lastStats = data;
      replace(statsBanner);
      renderStats(data, false);
    } catch (error) {
      if (!ctx.alive()) return;
      replace(statsBanner, clusterBanner(error, space || { name: spaceName(refs, env.spaceId) }, 'live stats'));
      if (lastStats) renderStats(lastStats, true);
      else replace(statsBody);
    } finally {
      statsInFlight = false;
      refreshButton.disabled = false;
    }
  }
  function renderStats(data, stale) {
    const tiles = h('div', { class: stale ? 'tiles stale' : 'tiles' },
      tile('Deployments', String(data.deploymentCount), 'stat-deployments'),
      tile('Running', String(data.runningCount), 'stat-running'),
      tile('Failed', String(data.failedCount), 'stat-failed'),
      tile('Pods', String(data.podCount), 'stat-pods'),
      tile('CPU requested', `${Number(data.cpuRequestedCores).toFixed(3)} cores`, 'stat-cpu'),
      tile('Memory requested', `${Number(data.memoryRequestedGB).toFixed(2)} GiB`, 'stat-memory'));
    const notes = [];
    if (!data.namespaceExists) {
      const create = h('button', { type: 'button', class: 'btn btn-small' }, `Create namespace ${env.namespace}`);
      create.addEventListener('click', async () => {
        create.disabled = true;
        try {
          await api.post(`/space-discovery/${seg(env.spaceId)}/namespaces`, { name: env.namespace });
          toast(`Namespace ${env.namespace} created.`);
          await refreshStats();
        } catch (error) {
          create.replaceWith(errorAlert(error, { title: 'The namespace could not be created.' }));
        }
      });
      notes.push(h('div', { class: 'alert alert-info', id: 'namespace-missing' }, h('p', `The namespace ${env.namespace} does not exist on the cluster yet, so every figure is zero.`), h('p', create)));
    }
    replace(statsBody, ...notes, tiles);
    replace(observed, stale ? 'Last good reading, observed ' : 'Observed ', h('time', { datetime: data.observedAt, title: formatDate(data.observedAt), id: 'observed-at' }, `${relativeTime(data.observedAt)} (${formatDate(data.observedAt)})`),
      auto.checked ? ' · refreshes every 15 s' : '');
  }
  refreshButton.addEventListener('click', refreshStats);
  let timer = null;
  function schedule() {
    clearInterval(timer);
    timer = auto.checked ? setInterval(() => { if (!document.hidden) refreshStats(); }, AUTO_REFRESH_MS) : null;
    if (lastStats) renderStats(lastStats, Boolean(statsBanner.firstChild));
  }
  auto.addEventListener('change', schedule);
  ctx.onCleanup(() => clearInterval(timer));

  // --- discovery (also what the deployment form offers for the ingress class and TLS issuer) ---
  const discovery = clusterDiscovery(env.id);
  async function refreshDiscovery() {
    discoveryButton.disabled = true;
    replace(discoveryBody, loading('Discovering the cluster…'));
    try {
      const data = await discovery.read();
      if (!ctx.alive()) return;
      const ingress = data.ingressControllers.length
        ? h('div', { class: 'table-wrap' }, h('table', { id: 'ingress-classes' },
          h('thead', h('tr', h('th', { scope: 'col' }, 'Ingress class'), h('th', { scope: 'col' }, 'Vendor'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Controller'))),
          h('tbody', data.ingressControllers.map((ic) => h('tr', { dataset: { className: ic.className } },
            h('td', h('code', ic.className), ic.isDefault ? [' ', h('span', { class: 'badge default plain', title: 'The cluster’s default IngressClass' }, 'default')] : null),
            h('td', ic.vendor),
            h('td', { class: 'hide-narrow' }, h('code', ic.controller)))))))
        : h('p', { class: 'muted' }, 'No IngressClass on this cluster.');
      const certs = data.certManagers.map((cm) => h('div', { class: 'cert-manager', dataset: { installed: String(cm.installed) } },
        h('p', h('strong', cm.name), ' ', cm.installed ? h('span', { class: 'badge ok' }, 'installed') : h('span', { class: 'badge st-unknown' }, 'not installed')),
        cm.installed
          ? (cm.issuers.length
            ? h('ul', { class: 'issuers' }, cm.issuers.map((issuer) => h('li', h('code', issuer.name), ` (${issuer.kind}) `,
              issuer.ready ? h('span', { class: 'badge ok' }, 'ready') : h('span', { class: 'badge bad' }, 'not ready'))))
            : h('p', { class: 'muted' }, 'No issuers.'))
          : h('p', { class: 'muted' }, 'The cert-manager.io API group is not served by this cluster.')));
      replace(discoveryBody, h('h3', 'Ingress controllers'), ingress, h('h3', { style: { marginTop: '1rem' } }, 'Certificates'), certs,
        h('p', { class: 'meta' }, 'Observed ', timeEl(data.observedAt)));
    } catch (error) {
      if (!ctx.alive()) return;
      replace(discoveryBody, clusterBanner(error, space || { name: spaceName(refs, env.spaceId) }, 'cluster details'));
    } finally {
      discoveryButton.disabled = false;
    }
  }
  discoveryButton.addEventListener('click', refreshDiscovery);

  // --- deployments ---
  /** deployment id → its history (revisions and events), kept while its row is open or a revision is watched. */
  const histories = new Map();
  const openHistory = new Set();
  ctx.onCleanup(() => { for (const history of histories.values()) history.destroy(); });
  let deployments = [];

  function historyFor(dep) {
    let history = histories.get(dep.id);
    if (!history) {
      // A revision that changes status changes the row (pending, revision, status) and the live stats.
      history = deploymentHistory({ dep, alive: ctx.alive, onChange: () => { refreshStats(); return reloadDeployments(); } });
      histories.set(dep.id, history);
    } else history.update(dep);
    return history;
  }

  /** Re-reads the list after a deploy, a status change or an edit (pending, drift, status, current revision). */
  let reloading = null;
  let reloadAgain = false;
  function reloadDeployments() {
    // One read at a time; a call during a read asks for one more afterwards, so no change is missed.
    if (reloading) { reloadAgain = true; return reloading; }
    reloading = (async () => {
      do { reloadAgain = false; await loadDeployments(); } while (reloadAgain && ctx.alive());
    })().finally(() => { reloading = null; });
    return reloading;
  }

  function showHistory(dep, revision) {
    openHistory.add(dep.id);
    const history = historyFor(dep);
    if (revision) history.add(revision);
  }

  function deploymentRow(d) {
    const open = openHistory.has(d.id);
    const historyId = `history-${d.id}`;
    const toggle = h('button', {
      type: 'button', class: 'btn btn-small', dataset: { action: 'history' }, 'aria-expanded': String(open), 'aria-controls': historyId,
      'aria-label': `History of ${d.name}`, onclick: () => {
        if (openHistory.has(d.id)) openHistory.delete(d.id); else showHistory(d);
        renderDeployments();
      },
    }, open ? 'Hide history' : 'History');
    const rows = [h('tr', { dataset: { deploymentId: d.id, pending: String(Boolean(d.pendingChanges)) }, class: d.drift ? 'row-drift' : null },
      h('td', h('code', d.name)),
      h('td', h('div', { class: 'dep-status' }, statusBadge(d.status), deployBadges(d))),
      h('td', { class: 'hide-narrow' }, h('code', d.image)),
      h('td', String(d.replicas)),
      h('td', { class: 'dep-revision' }, d.currentRevision == null ? h('span', { class: 'muted' }, '—') : `#${d.currentRevision}`),
      h('td', { class: 'hide-narrow' }, timeEl(d.lastDeployedAt)),
      h('td', { class: 'actions' },
        deployButton(d, { onDeployed: async (revision) => { showHistory(d, revision); await reloadDeployments(); } }),
        toggle,
        guardAction(h('button', {
          type: 'button', class: 'btn btn-small', dataset: { action: 'edit' }, 'aria-label': `Edit deployment ${d.name}`,
          onclick: () => editDeploymentDialog({ dep: d, getDiscovery: discovery.get, onSaved: () => reloadDeployments() }),
        }, 'Edit'), { policy: 'deployments:write', resource: env.id, title: `${d.name} cannot be changed` }),
        guardAction(h('button', {
          type: 'button', class: 'btn btn-small btn-danger', dataset: { action: 'delete' }, 'aria-label': `Delete deployment ${d.name}`,
          onclick: async () => {
            const ok = await confirmDialog({ title: `Delete ${d.name}?`, message: 'The deployment and its connections are removed from the catalog, and its objects are removed from the cluster.', confirmLabel: 'Delete deployment', danger: true });
            if (!ok) return;
            try {
              await api.del(`/deployments/${seg(d.id)}`, { ifMatch: d.version });
              toast(`Deployment ${d.name} deleted.`);
              await reloadDeployments();
            } catch (error) {
              toast(`${error.message}${error.requestId ? ` (request ${error.requestId})` : ''}`, { kind: 'error', timeout: 8000 });
            }
          },
        }, 'Delete'), { policy: 'deployments:delete', resource: env.id, title: `${d.name} cannot be deleted` })))];
    if (open) {
      rows.push(h('tr', { class: 'history-row', id: historyId, dataset: { historyFor: d.id } },
        h('td', { colspan: '7' }, historyFor(d).el)));
    }
    return rows;
  }

  function renderDeployments() {
    const pending = deployments.filter((d) => d.pendingChanges);
    replace(deployAllHost, deployAllButton({
      environment: env, pending, id: 'deploy-all',
      onDeployed: async (revisions) => {
        for (const revision of revisions) {
          const dep = deployments.find((d) => d.id === revision.deploymentId);
          if (dep) showHistory(dep, revision);
        }
        await reloadDeployments();
      },
    }));
    if (!deployments.length) {
      replace(deploymentsBody, emptyState('No deployments yet', 'Add a deployment: Gantry keeps its status in step with the Kubernetes Deployment of the same name in this namespace, and Deploy applies it.'));
      return;
    }
    const focusedAction = document.activeElement && deploymentsBody.contains(document.activeElement)
      ? { id: document.activeElement.closest('tr') && document.activeElement.closest('tr').dataset.deploymentId, action: document.activeElement.dataset.action }
      : null;
    const driftCount = deployments.filter((d) => d.drift).length;
    replace(deploymentsBody, h('div', { class: 'table-wrap' }, h('table', { id: 'deployments-table' },
      h('thead', h('tr', h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Image'),
        h('th', { scope: 'col' }, 'Replicas'), h('th', { scope: 'col' }, 'Revision'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Last deploy'),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', deployments.map(deploymentRow)),
      h('caption', { class: 'meta' }, plural(deployments.length, 'deployment'),
        pending.length ? ` · ${pending.length} with pending changes` : ' · all deployed',
        driftCount ? ` · ${driftCount} drifted on the cluster` : ''))));
    // Keep the keyboard where it was across a re-render.
    if (focusedAction && focusedAction.id) {
      const target = deploymentsBody.querySelector(`tr[data-deployment-id="${CSS.escape(focusedAction.id)}"] [data-action="${CSS.escape(focusedAction.action || '')}"]`);
      if (target) target.focus();
    }
  }

  async function loadDeployments() {
    try {
      deployments = await api.listAll(`/environments/${seg(env.id)}/deployments`);
    } catch (error) {
      if (!ctx.alive()) return;
      replace(deploymentsBody, errorAlert(error, { title: 'Could not load the deployments.', onRetry: loadDeployments }));
      return;
    }
    if (!ctx.alive()) return;
    for (const [id, history] of histories) {
      if (!deployments.some((d) => d.id === id)) { history.destroy(); histories.delete(id); openHistory.delete(id); }
    }
    renderDeployments();
  }

  function closeDeploymentForm() { replace(deploymentFormHost); newDeployment.setAttribute('aria-expanded', 'false'); newDeployment.focus(); }
  newDeployment.addEventListener('click', () => {
    if (deploymentFormHost.firstChild) { closeDeploymentForm(); return; }
    newDeployment.setAttribute('aria-expanded', 'true');
    const form = deploymentForm({
      environment: env, getDiscovery: discovery.get,
      onSaved: async (created) => {
        toast(`Deployment ${created.name} created: deploy it when ready.`);
        closeDeploymentForm();
        await reloadDeployments();
      },
      onCancel: closeDeploymentForm,
    });
    form.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeDeploymentForm(); });
    deploymentFormHost.append(form);
    form.querySelector('input[name=name]').focus();
  });

  schedule();
  await Promise.all([refreshStats(), cost.refresh(), refreshDiscovery(), reloadDeployments()]);
}
