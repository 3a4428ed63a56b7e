// Projects dashboard: one card per project, all from a single GET /projects/stats, and an "Expiring soon" strip
// of the preview environments due within a day (one GET /environments?expiringWithinHours=24).

import { api, seg } from '../api.js';
import { h, replace, loading, errorAlert, emptyState, field, handleSubmit, str, timeEl, plural, STATUSES, debounce, toast } from '../dom.js';
import { replaceQuery } from '../app.js';
import { previewBadge } from '../previews.js';

const EXPIRING_WITHIN_HOURS = 24;
const EXPIRING_SHOWN = 50;

/** The strip's list: each environment with its project and its badge (Extend keeps it a day longer). */
function expiringStrip(envs, more, projectName) {
  return h('section', { class: 'panel expiring', id: 'expiring-soon', 'aria-labelledby': 'expiring-title' },
    h('h2', { id: 'expiring-title' }, 'Expiring soon'),
    h('p', { class: 'meta' }, `Preview environments deleted within ${EXPIRING_WITHIN_HOURS} hours, with their deployments. Extend keeps one for another day.`),
    h('ul', { class: 'expiring-list' }, envs.map((env) => h('li', { dataset: { environmentId: env.id } },
      h('a', { href: `#/projects/${seg(env.projectId)}/environments/${seg(env.id)}` }, env.name),
      h('span', { class: 'muted' }, ` in ${projectName(env.projectId)} `),
      previewBadge(env)))),
    more ? h('p', { class: 'meta' }, `Showing the first ${EXPIRING_SHOWN}.`) : null);
}

export function statusBar(buckets, total) {
  const bar = h('div', { class: 'stackbar', role: 'img' });
  const parts = [];
  for (const status of STATUSES) {
    const count = buckets[status] || 0;
    if (!count) continue;
    parts.push(`${count} ${status}`);
    const segment = h('span', { class: `st-bg-${status}`, title: `${count} ${status}`, dataset: { status, count: String(count) } });
    segment.style.width = `${(count / total) * 100}%`;
    bar.append(segment);
  }
  bar.setAttribute('aria-label', parts.length ? `Deployment statuses: ${parts.join(', ')}` : 'No deployments');
  return bar;
}

function card(stat) {
  const href = `#/projects/${encodeURIComponent(stat.projectId)}`;
  const total = Object.values(stat.statusBuckets || {}).reduce((a, b) => a + b, 0);
  const legend = h('div', { class: 'legend' });
  for (const status of STATUSES) {
    const count = stat.statusBuckets[status] || 0;
    if (count) legend.append(h('span', { class: 'legend-item' }, h('span', { class: `swatch st-bg-${status}` }), `${count} ${status}`));
  }
  if (!total) legend.append(h('span', 'No deployments yet'));
  return h('article', { class: 'card', dataset: { projectId: stat.projectId } },
    h('h2', h('a', { href }, stat.name)),
    h('div', { class: 'counts' },
      h('div', { class: 'count' }, h('strong', { class: 'card-environments', dataset: { count: String(stat.environmentCount) } }, String(stat.environmentCount)),
        h('span', stat.environmentCount === 1 ? 'environment' : 'environments')),
      h('div', { class: 'count' }, h('strong', { class: 'card-services', dataset: { count: String(stat.serviceCount) } }, String(stat.serviceCount)),
        h('span', stat.serviceCount === 1 ? 'service' : 'services'))),
    statusBar(stat.statusBuckets, total || 1),
    legend,
    h('p', { class: 'meta card-last-deploy' }, 'Last deploy: ', timeEl(stat.lastDeployAt, { never: 'never' })),
    h('div', { class: 'card-links' },
      h('a', { href: `${href}/canvas`, 'aria-label': `Architecture canvas of ${stat.name}` }, 'Architecture')));
}

export async function renderDashboard(ctx) {
  let q = ctx.query.q || '';
  const search = h('input', { type: 'search', name: 'q', value: q, placeholder: 'Search projects', 'aria-label': 'Search projects by name', id: 'project-search' });
  const newButton = h('button', { type: 'button', class: 'btn btn-primary', id: 'new-project', 'aria-expanded': 'false' }, 'New project');
  const formHost = h('div');
  const results = h('div', { id: 'project-cards', 'aria-live': 'polite' });
  const summary = h('p', { class: 'meta', id: 'project-summary' });
  const expiring = h('div');
  const projectNames = new Map();

  ctx.el.append(
    h('div', { class: 'page-header' }, h('div', h('h1', 'Projects'), h('p', { class: 'subtitle' }, 'Each project groups environments and the services deployed to them.')),
      newButton),
    h('div', { class: 'toolbar' }, h('div', { class: 'search' }, search), summary),
    formHost,
    expiring,
    results);

  let seq = 0;
  async function load() {
    const mine = ++seq;
    if (!results.firstChild) replace(results, loading('Loading projects…'));
    results.setAttribute('aria-busy', 'true');
    try {
      const { data } = await api.get('/projects/stats', { query: { q } });
      if (mine !== seq || !ctx.alive()) return;
      for (const stat of data) projectNames.set(stat.projectId, stat.name);
      summary.textContent = q ? `${plural(data.length, 'project')} matching “${q}”` : plural(data.length, 'project');
      if (!data.length) {
        replace(results, q
          ? emptyState('No matching projects', `No project name contains “${q}”.`,
            h('button', { type: 'button', class: 'btn', onclick: () => { search.value = ''; q = ''; replaceQuery({}); load(); } }, 'Clear the search'))
          : emptyState('No projects yet',
            'Start by creating a project. Then register a deployment space (a Kubernetes cluster) under Settings → Spaces and add an environment to the project.',
            h('button', { type: 'button', class: 'btn btn-primary', onclick: () => openForm() }, 'Create your first project'),
            h('a', { class: 'btn', href: '#/settings/spaces' }, 'Register a space')));
      } else {
        replace(results, h('div', { class: 'cards' }, data.map(card)));
      }
    } catch (error) {
      if (mine !== seq || !ctx.alive()) return;
      replace(results, errorAlert(error, { title: 'Could not load the projects.', onRetry: load }));
    } finally {
      results.removeAttribute('aria-busy');
    }
  }

  search.addEventListener('input', debounce(() => {
    q = search.value.trim();
    replaceQuery(q ? { q } : {});
    load();
  }, 250));

  function closeForm() {
    replace(formHost);
    newButton.setAttribute('aria-expanded', 'false');
    newButton.focus();
  }

  function openForm() {
    if (formHost.firstChild) { formHost.querySelector('input').focus(); return; }
    newButton.setAttribute('aria-expanded', 'true');
    const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 100, autocomplete: 'off' });
    const description = h('input', { type: 'text', name: 'description', autocomplete: 'off' });
    const form = h('form', { class: 'panel', id: 'create-project-form', 'aria-label': 'Create a project' },
      h('h2', 'New project'),
      h('div', { class: 'form-grid' }, field('Name', name, '1–100 characters, unique in the organization.'), field('Description', description, 'Optional.')),
      h('div', { class: 'form-actions' },
        h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create project'),
        h('button', { type: 'button', class: 'btn', onclick: closeForm }, 'Cancel')));
    form.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeForm(); });
    handleSubmit(form, async (data) => {
      const body = { name: String(data.get('name') || '') };
      const text = str(data, 'description');
      if (text) body.description = text;
      const { data: project } = await api.post('/projects', body);
      toast(`Project “${project.name}” created.`);
      closeForm();
      await load();
    });
    formHost.append(form);
    name.focus();
  }

  /** The strip, once the first cards are in (they name the projects); nothing when none is due or on an error. */
  async function loadExpiring(cards) {
    let page;
    try {
      page = await api.get('/environments', { query: { expiringWithinHours: EXPIRING_WITHIN_HOURS, limit: EXPIRING_SHOWN } });
    } catch {
      return; // a convenience: the cards are the page
    }
    await cards;
    if (!ctx.alive() || !page.data.length) return;
    replace(expiring, expiringStrip(page.data, Boolean(page.nextCursor), (id) => projectNames.get(id) || id));
  }

  newButton.addEventListener('click', openForm);
  if (ctx.query.new === '1') openForm();
  const cards = load();
  await Promise.all([cards, loadExpiring(cards)]);
}
