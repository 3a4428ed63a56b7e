// Cost estimates (docs/api.md: getEnvironmentCost, getProjectCost): the environment page's Cost panel — hourly and
// monthly from the live pods' requests and the space's prices, per deployment — and the project page's one line
// from the catalog (replicas × requests). Estimates, not bills; a space without prices says where to set them.

import { api, seg } from './api.js';
import { h, replace, loading, timeEl, plural } from './dom.js';

/** "USD 54.75" (`digits` decimals). */
export function money(amount, currency, digits = 2) {
  return `${currency} ${Number(amount).toFixed(digits)}`;
}

const cores = (value) => Number(value).toFixed(3);
const gib = (value) => Number(value).toFixed(2);

const NO_PRICING = 'Set prices for this space in Settings → Spaces to see a cost estimate.';

/** True for the 409 that says the space has no pricing. */
const isNoPricing = (error) => error.status === 409 && error.details && error.details.field === 'pricing';

function costTable(rows, currency) {
  return h('div', { class: 'table-wrap' }, h('table', { id: 'cost-table' },
    h('thead', h('tr', h('th', { scope: 'col' }, 'Deployment'), h('th', { scope: 'col', class: 'num' }, 'Pods'),
      h('th', { scope: 'col', class: 'num' }, 'CPU cores'), h('th', { scope: 'col', class: 'num' }, 'Memory GiB'),
      h('th', { scope: 'col', class: 'num' }, `Hourly (${currency})`))),
    h('tbody', rows.map((row) => h('tr', { dataset: { deploymentName: row.name ?? '' } },
      h('td', row.name == null ? h('span', { class: 'muted', title: 'Pods in the namespace that no Gantry deployment owns' }, '(not Gantry)') : h('code', row.name)),
      h('td', { class: 'num cost-pods' }, String(row.pods)),
      h('td', { class: 'num cost-cpu' }, cores(row.cpuRequestedCores)),
      h('td', { class: 'num cost-memory' }, gib(row.memoryRequestedGiB)),
      h('td', { class: 'num cost-hourly' }, Number(row.hourly).toFixed(4)))))));
}

/**
 * The environment page's Cost panel: `GET /environments/{id}/cost` on load and on Refresh. Answers
 * {el, refresh}; `alive()` is the page's, so an answer after navigating away is dropped.
 */
export function environmentCostPanel(environmentId, { alive }) {
  const body = h('div', { id: 'environment-cost', 'aria-live': 'polite' }, loading('Estimating the cost…'));
  const refreshButton = h('button', { type: 'button', class: 'btn btn-small', id: 'refresh-cost' }, 'Refresh');
  const el = h('section', { class: 'panel', 'aria-labelledby': 'cost-title' },
    h('div', { class: 'panel-header' }, h('h2', { id: 'cost-title' }, 'Cost'), refreshButton),
    body);

  async function refresh() {
    refreshButton.disabled = true;
    try {
      const { data } = await api.get(`/environments/${seg(environmentId)}/cost`);
      if (!alive()) return;
      replace(body,
        h('div', { class: 'cost-totals' },
          h('p', { class: 'cost-figure', id: 'cost-monthly' }, h('strong', money(data.monthly, data.currency)), ' / month'),
          h('p', { class: 'cost-figure', id: 'cost-hourly' }, h('strong', money(data.hourly, data.currency, 4)), ' / hour')),
        h('p', { class: 'meta' }, `Requests: ${cores(data.cpuRequestedCores)} CPU cores, ${gib(data.memoryRequestedGiB)} GiB memory · `,
          h('span', { class: 'cost-note' }, 'estimated from requests, not a bill'), ' · observed ', timeEl(data.observedAt)),
        data.podsWithoutRequests > 0
          ? h('p', { class: 'alert alert-warning cost-unpriced', id: 'cost-without-requests' },
            `${plural(data.podsWithoutRequests, 'pod')} without requests: counted, not priced.`)
          : null,
        data.byDeployment.length ? costTable(data.byDeployment, data.currency) : h('p', { class: 'muted' }, 'No pods are running in this environment’s namespace.'));
    } catch (error) {
      if (!alive()) return;
      if (isNoPricing(error)) {
        replace(body, h('p', { class: 'alert alert-info', id: 'cost-no-pricing' }, NO_PRICING, ' ', h('a', { href: '#/settings/spaces' }, 'Open Settings → Spaces')));
      } else {
        replace(body, h('p', { class: 'alert alert-error', id: 'cost-error', role: 'alert', dataset: { errorCode: error.code || 'error' } },
          `No cost estimate: ${error.message}`, error.requestId ? h('span', { class: 'request-id' }, ` (request ${error.requestId})`) : null));
      }
    } finally {
      refreshButton.disabled = false;
    }
  }
  refreshButton.addEventListener('click', refresh);
  return { el, refresh };
}

/**
 * The project page's cost line from the catalog: `GET /projects/{id}/cost`. Hidden when no environment's space
 * has prices (currency null) or the caller cannot read it; spaces in different currencies say so in short.
 */
export function projectCostLine(projectId, { alive }) {
  const el = h('p', { class: 'meta project-cost', id: 'project-cost', hidden: true });
  async function refresh() {
    try {
      const { data } = await api.get(`/projects/${seg(projectId)}/cost`);
      if (!alive()) return;
      if (data.currency == null) { el.hidden = true; return; }
      replace(el, 'Estimated cost: ', h('strong', { id: 'project-cost-monthly' }, `${money(data.monthly, data.currency)} / month`),
        ' (from the catalog: replicas × requests)',
        data.deploymentsWithoutRequests > 0
          ? h('span', { id: 'project-cost-unpriced' }, ` · ${plural(data.deploymentsWithoutRequests, 'deployment')} without requests, not priced`)
          : null);
      el.dataset.currency = data.currency;
      el.hidden = false;
    } catch (error) {
      if (!alive()) return;
      if (error.status === 409 && error.details && error.details.field === 'currency') {
        replace(el, 'Estimated cost unavailable: this project’s spaces are priced in different currencies.');
        el.dataset.currency = '';
        el.hidden = false;
      } else {
        el.hidden = true; // a convenience line: the page works without it
      }
    }
  }
  return { el, refresh };
}
