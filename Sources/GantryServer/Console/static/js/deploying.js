// Deploying (docs/api.md §7), shared by the environment page and the architecture canvas: the pending and
// drift badges, the Deploy / Redeploy and "Deploy all pending" buttons (a refused deploy shows the API's
// preflight checks), and a deployment's history — its revisions, polled every second while one is queued,
// applying or applied so the user sees it reach a final status, with Rollback on earlier ones — and its
// events timeline (Gantry's and the cluster's, newest first). A caller who may not deploy in the environment sees
// every one of those buttons marked as refused, with the sentence saying what they would need, before clicking.

import { api, seg } from './api.js';
import { h, replace, loading, errorAlert, errorDialog, timeEl, formatDate, toast, confirmDialog, plural } from './dom.js';
import { guardAction } from './access.js';

/** Statuses after which a revision never changes again. */
export const FINAL_STATUSES = new Set(['succeeded', 'failed', 'superseded']);
export const POLL_MS = 1000;

const DRIFT_LABELS = { image: 'image', replicas: 'replicas', cpuRequest: 'CPU request', memoryRequest: 'memory request', env: 'env' };
export const driftLabel = (fields) => fields.map((f) => DRIFT_LABELS[f] || f).join(', ');

export function revisionBadge(status) {
  return h('span', { class: `badge rv-${status}`, dataset: { status } }, status);
}

/** The "pending changes" and "drift" badges of a deployment (none when it is in step). */
export function deployBadges(dep) {
  const out = [];
  if (dep.pendingChanges) {
    out.push(h('span', {
      class: 'badge flag-pending', dataset: { flag: 'pending' },
      title: dep.currentRevision == null ? 'Never deployed: Deploy makes revision 1.' : `The catalog differs from revision ${dep.currentRevision}: deploy to apply the changes.`,
    }, dep.currentRevision == null ? 'not deployed' : 'pending changes'));
  }
  if (dep.drift && Array.isArray(dep.drift.fields)) {
    out.push(h('span', {
      class: 'badge flag-drift', dataset: { flag: 'drift', fields: dep.drift.fields.join(',') },
      title: `Detected ${formatDate(dep.drift.detectedAt)}: the live Deployment’s ${driftLabel(dep.drift.fields)} no longer match revision ${dep.currentRevision ?? '—'} (someone changed it on the cluster). Deploying again puts it back.`,
    }, `drift: ${driftLabel(dep.drift.fields)}`));
  }
  return out;
}

const DEPLOY_POLICY = 'deployments:deploy';

/** Deploying needs deployments:deploy on the environment: a caller without it sees the button refused (access.js). */
const guardDeploy = (button, environmentId, title) => guardAction(button, { policy: DEPLOY_POLICY, resource: environmentId, title });

/** Shows a refused deploy or rollback in a dialog: the API's message and, for 422 preflight_failed, each check. */
export function showDeployError(error, title) {
  const intro = error.code === 'preflight_failed' ? h('p', 'Nothing was queued: fix what the checks below name, then deploy again.') : null;
  return errorDialog({ title, error, intro, id: 'deploy-error' });
}

/** Deploy (when the catalog has pending changes) or a quieter Redeploy (same spec, a new revision). */
export function deployButton(dep, { onDeployed, small = true } = {}) {
  const pending = Boolean(dep.pendingChanges);
  const label = pending ? 'Deploy' : 'Redeploy';
  const button = h('button', {
    type: 'button', class: ['btn', small ? 'btn-small' : null, pending ? 'btn-primary' : 'btn-quiet'],
    dataset: { action: 'deploy', pending: String(pending) }, 'aria-label': `${label} ${dep.name}`,
    title: pending ? 'Make a new revision from the catalog and apply it to the cluster.' : 'Nothing is pending: apply the same spec again as a new revision.',
  }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = 'Deploying…';
    try {
      const { data: revision } = await api.post(`/deployments/${seg(dep.id)}/deploy`);
      toast(`${dep.name}: revision ${revision.number} queued.`);
      if (onDeployed) await onDeployed(revision);
    } catch (error) {
      showDeployError(error, `${dep.name} was not deployed`);
    } finally {
      if (button.isConnected) { button.disabled = false; button.textContent = label; }
    }
  });
  return guardDeploy(button, dep.environmentId, `${dep.name} was not deployed`);
}

/**
 * "Deploy all pending" for an environment: POST /environments/{id}/deploy after a confirmation naming the
 * deployments. `pending` is the list of deployments with pendingChanges (for the label and the dialog).
 */
export function deployAllButton({ environment, pending, onDeployed, id }) {
  const count = pending.length;
  const button = h('button', {
    type: 'button', class: ['btn', 'btn-small', count ? 'btn-primary' : null], id, disabled: !count,
    dataset: { action: 'deploy-all', count: String(count) },
    title: count ? `Deploy ${plural(count, 'deployment')} with pending changes` : 'No deployment of this environment has pending changes.',
  }, count ? `Deploy all pending (${count})` : 'Deploy all pending');
  button.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: `Deploy ${plural(count, 'deployment')} in ${environment.name}?`,
      message: h('div', h('p', 'Each of these gets a new revision from its catalog spec:'),
        h('ul', { class: 'pending-list' }, pending.map((d) => h('li', h('code', d.name))))),
      confirmLabel: 'Deploy all',
    });
    if (!ok) return;
    button.disabled = true;
    try {
      const { data: revisions } = await api.post(`/environments/${seg(environment.id)}/deploy`);
      toast(revisions.length ? `${plural(revisions.length, 'revision')} queued in ${environment.name}.` : 'Nothing had pending changes any more.');
      if (onDeployed) await onDeployed(revisions);
    } catch (error) {
      showDeployError(error, `${environment.name} was not deployed`);
    } finally {
      if (button.isConnected) button.disabled = false;
    }
  });
  return guardDeploy(button, environment.id, `${environment.name} was not deployed`);
}

/**
 * Polls one revision (not yet final) every second until it reaches a final status: `onRead(revision)` after
 * every read, `onStatus(revision)` whenever its status changes, `onEnd()` once it stops polling by itself (final
 * status, 404, or `alive()` false). A network blip or a 5xx just waits for the next read. Returns a function that
 * stops it.
 */
export function watchRevision(revision, { alive = () => true, onRead, onStatus, onEnd }) {
  let stopped = false;
  let timer = null;
  let last = revision.status;
  const end = () => { if (onEnd) onEnd(); };
  const tick = async () => {
    if (stopped) return;
    if (!alive()) { end(); return; }
    try {
      const { data } = await api.get(`/deployments/${seg(revision.deploymentId)}/revisions/${revision.number}`);
      if (stopped) return;
      if (!alive()) { end(); return; }
      if (onRead) onRead(data);
      if (data.status !== last) { last = data.status; if (onStatus) await onStatus(data); }
      if (FINAL_STATUSES.has(data.status)) { end(); return; }
    } catch (error) {
      if (error && error.status === 404) { end(); return; }
    }
    if (stopped) return;
    if (alive()) timer = setTimeout(tick, POLL_MS);
    else end();
  };
  if (!FINAL_STATUSES.has(revision.status)) timer = setTimeout(tick, POLL_MS);
  return () => { stopped = true; clearTimeout(timer); };
}

/**
 * A deployment's history: revisions (newest first, "Load older" pages on) and the events timeline.
 * Returns {el, update(dep), add(revision), refresh(), destroy()}. `onChange(revision)` runs when a polled
 * revision changes status (the page re-reads the deployment: pendingChanges, currentRevision, status).
 */
export function deploymentHistory({ dep, alive = () => true, onChange, compact = false }) {
  let current = dep;
  let revisions = [];
  let cursor = null;
  let destroyed = false;
  let eventsSeq = 0;
  const pollers = new Map();
  const live = () => !destroyed && alive();

  const revList = h('ol', { class: 'revisions', 'aria-live': 'polite' });
  const revStatus = h('div', { class: 'revisions-status' }, loading('Loading revisions…'));
  const older = h('button', { type: 'button', class: 'btn btn-small', hidden: true }, 'Load older revisions');
  const eventsList = h('ol', { class: 'timeline' });
  const eventsStatus = h('div', { class: 'events-status' }, loading('Loading events…'));
  const eventsRefresh = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Refresh the events of ${dep.name}` }, 'Refresh');
  const el = h('div', { class: compact ? 'history compact' : 'history', dataset: { historyFor: dep.id } },
    h('section', { class: 'history-revisions', 'aria-label': `Revisions of ${dep.name}` },
      h('div', { class: 'history-head' }, h('h3', 'Revisions')), revStatus, revList, older),
    h('section', { class: 'history-events', 'aria-label': `Events of ${dep.name}` },
      h('div', { class: 'history-head' }, h('h3', 'Events'), eventsRefresh), eventsStatus, eventsList));

  // ---- revisions
  function sortRevisions() { revisions.sort((a, b) => b.number - a.number); }
  function upsert(revision) {
    const index = revisions.findIndex((r) => r.number === revision.number);
    if (index >= 0) revisions[index] = revision; else revisions.push(revision);
    sortRevisions();
  }

  function revisionItem(rev) {
    const newest = revisions.length ? revisions[0].number : 0;
    const isCurrent = current.currentRevision === rev.number;
    const canRollBack = rev.number < newest && !isCurrent;
    const times = [
      h('span', 'created ', timeEl(rev.createdAt)),
      rev.appliedAt ? h('span', 'applied ', timeEl(rev.appliedAt)) : null,
      rev.finishedAt ? h('span', 'finished ', timeEl(rev.finishedAt)) : null,
    ].filter(Boolean);
    return h('li', { class: ['revision', `rv-row-${rev.status}`], dataset: { number: String(rev.number), status: rev.status, rollbackOf: rev.rollbackOf == null ? '' : String(rev.rollbackOf) } },
      h('div', { class: 'rev-head' },
        h('strong', { class: 'rev-number' }, `#${rev.number}`),
        revisionBadge(rev.status),
        rev.rollbackOf != null ? h('span', { class: 'badge plain rollback-of', title: `A rollback to revision ${rev.rollbackOf}’s spec` }, `rollback of #${rev.rollbackOf}`) : null,
        isCurrent ? h('span', { class: 'badge plain current', title: 'The newest revision the cluster accepted' }, 'current') : null,
        FINAL_STATUSES.has(rev.status) ? null : h('span', { class: 'rev-live muted', role: 'status' }, 'watching…'),
        canRollBack ? guardDeploy(h('button', {
          type: 'button', class: 'btn btn-small rev-rollback', dataset: { action: 'rollback', revision: String(rev.number) },
          'aria-label': `Roll ${current.name} back to revision ${rev.number}`, onclick: () => rollback(rev),
        }, 'Roll back'), current.environmentId, `${current.name} was not rolled back`) : null),
      h('div', { class: 'rev-meta' },
        h('code', { class: 'rev-image' }, rev.image), h('span', plural(rev.replicas, 'replica')),
        h('span', { class: 'rev-by' }, 'by ', rev.createdBy), times),
      rev.message ? h('p', { class: rev.status === 'failed' ? 'rev-message failed' : 'rev-message' }, rev.message) : null);
  }

  function renderRevisions() {
    replace(revList, revisions.map(revisionItem));
    if (!revisions.length) replace(revStatus, h('p', { class: 'muted' }, 'No revisions yet: Deploy makes revision 1.'));
    else replace(revStatus);
    older.hidden = !cursor;
  }

  async function loadRevisions(more = false) {
    try {
      const result = await api.get(`/deployments/${seg(current.id)}/revisions`, { query: { limit: compact ? 5 : 10, cursor: more ? cursor : undefined } });
      if (!live()) return;
      if (!more) revisions = [];
      for (const rev of result.data) upsert(rev);
      cursor = result.nextCursor;
      renderRevisions();
      for (const rev of revisions) if (!FINAL_STATUSES.has(rev.status)) track(rev);
    } catch (error) {
      if (!live()) return;
      replace(revStatus, errorAlert(error, { title: 'Could not load the revisions.', onRetry: () => loadRevisions(more) }));
    }
  }
  older.addEventListener('click', () => loadRevisions(true));

  /** Follows one revision in flight (watchRevision) until it reaches a final status. */
  function track(rev) {
    if (pollers.has(rev.number) || !live()) return;
    pollers.set(rev.number, watchRevision(rev, {
      alive: live,
      onRead: (data) => {
        const before = revisions.find((r) => r.number === data.number);
        upsert(data);
        if (!before || before.status !== data.status || before.message !== data.message) { renderRevisions(); loadEvents(); }
      },
      // The page re-reads the deployment once the cluster took the revision, and again at its end.
      onStatus: (data) => {
        if (onChange && FINAL_STATUSES.has(data.status)) return onChange(data);
        if (onChange && data.status === 'applied') onChange(data); // not waited for: the polling goes on
      },
      onEnd: () => pollers.delete(rev.number),
    }));
  }

  async function rollback(rev) {
    const ok = await confirmDialog({
      title: `Roll ${current.name} back to revision ${rev.number}?`,
      message: h('div',
        h('p', `Gantry makes a new revision with revision ${rev.number}’s spec (image `, h('code', rev.image), `, ${plural(rev.replicas, 'replica')}) and deploys it.`),
        h('p', 'The catalog takes those values back too, secret variables included; the newer revisions stay in the history.')),
      confirmLabel: `Roll back to #${rev.number}`,
    });
    if (!ok) return;
    try {
      const { data: revision } = await api.post(`/deployments/${seg(current.id)}/rollback`, { revision: rev.number });
      toast(`${current.name}: revision ${revision.number} rolls back to #${rev.number}.`);
      add(revision);
      if (onChange) await onChange(revision);
    } catch (error) {
      showDeployError(error, `${current.name} was not rolled back`);
    }
  }

  function add(revision) {
    upsert(revision);
    renderRevisions();
    if (!FINAL_STATUSES.has(revision.status)) track(revision);
    // An older revision still in flight is superseded by this one: follow it to its end too.
    for (const rev of revisions) if (!FINAL_STATUSES.has(rev.status)) track(rev);
    loadEvents();
  }

  // ---- events
  function eventItem(ev) {
    const warning = ev.type === 'Warning';
    return h('li', { class: ['event', `src-${ev.source}`, warning ? 'event-warning' : null], dataset: { source: ev.source, type: ev.type, reason: ev.reason } },
      h('div', { class: 'event-head' },
        timeEl(ev.time),
        h('span', { class: `badge plain source source-${ev.source}`, title: ev.source === 'gantry' ? 'Recorded by Gantry' : 'A Kubernetes Event from the cluster' }, ev.source === 'gantry' ? 'Gantry' : 'Kubernetes'),
        warning ? h('span', { class: 'badge warn' }, 'Warning') : null,
        h('strong', { class: 'event-reason' }, ev.reason),
        ev.count > 1 ? h('span', { class: 'meta', title: `Seen ${ev.count} times` }, `×${ev.count}`) : null),
      h('p', { class: 'event-message' }, ev.message),
      ev.object ? h('code', { class: 'event-object' }, ev.object) : null);
  }

  async function loadEvents() {
    const seq = ++eventsSeq;
    eventsRefresh.disabled = true;
    try {
      const result = await api.get(`/deployments/${seg(current.id)}/events`);
      if (!live() || seq !== eventsSeq) return;
      const events = [...(result.data || [])].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
      const limit = compact ? 15 : 40;
      replace(eventsStatus,
        result.warning ? h('div', { class: 'alert alert-warning events-warning', role: 'status' },
          h('p', { class: 'alert-title' }, 'Showing Gantry’s own events only'), h('p', result.warning)) : null,
        events.length ? null : h('p', { class: 'muted' }, 'No events yet.'));
      replace(eventsList, events.slice(0, limit).map(eventItem),
        events.length > limit ? h('li', { class: 'meta' }, `${events.length - limit} older events not shown.`) : null);
    } catch (error) {
      if (!live() || seq !== eventsSeq) return;
      replace(eventsStatus, errorAlert(error, { title: 'Could not load the events.' }));
      replace(eventsList);
    } finally {
      if (seq === eventsSeq) eventsRefresh.disabled = false;
    }
  }
  eventsRefresh.addEventListener('click', loadEvents);

  function destroy() {
    destroyed = true;
    for (const stop of pollers.values()) stop();
    pollers.clear();
  }

  async function refresh() { await Promise.all([loadRevisions(), loadEvents()]); }
  refresh();

  return {
    el,
    add,
    refresh,
    destroy,
    /** Takes a newer copy of the deployment (for the "current" marker and Rollback buttons). */
    update(next) {
      const changed = next.currentRevision !== current.currentRevision;
      current = next;
      if (changed) renderRevisions();
    },
  };
}
