// Projects dashboard: one card per project from GET /projects/stats, a page at a time, and an "Expiring soon"
// strip of the preview environments due within a day (one GET /environments?expiringWithinHours=24).
//
// Built for 10,000 projects: the first page (PAGE_SIZE cards) is painted as soon as it arrives, the next pages
// follow the stats call's nextCursor when the "Load more" row scrolls near (or is clicked), and the search box
// asks the server (q, debounced, the previous request aborted). Only the pages near the viewport hold their
// cards: a page scrolled far away is emptied to a placeholder of its height and drawn again from memory when it
// comes back, so the DOM holds a page or two of cards however far the list goes.

import { api, seg } from '../api.js';
import { guardAction } from '../access.js';
import { nameOf } from '../names.js';
import { h, replace, clear, loading, errorAlert, emptyState, field, handleSubmit, str, timeEl, plural, STATUSES, debounce, toast } from '../dom.js';
import { replaceQuery } from '../app.js';
import { previewBadge } from '../previews.js';

const EXPIRING_WITHIN_HOURS = 24;
const EXPIRING_SHOWN = 50;
/** Cards per request: a multiple of 1–6 so full pages tile the grid without a gap at any column count. */
export const PAGE_SIZE = 60;
/** How far outside the viewport a page keeps its cards (and how early the next page is asked for). */
const KEEP_MARGIN = '400px 0px';
const PREFETCH_MARGIN = '800px 0px';

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
  const newButton = guardAction(h('button', { type: 'button', class: 'btn btn-primary', id: 'new-project', 'aria-expanded': 'false' }, 'New project'),
    { policy: 'projects:write', resource: 'org', title: 'No project can be created' });
  const formHost = h('div');
  const results = h('div', { id: 'project-cards' });
  const summary = h('p', { class: 'meta', id: 'project-summary', role: 'status', 'aria-live': 'polite' });
  const expiring = h('div');
  const projectNames = new Map();

  ctx.el.append(
    h('div', { class: 'page-header' }, h('div', h('h1', 'Projects'), h('p', { class: 'subtitle' }, 'Each project groups environments and the services deployed to them.')),
      newButton),
    h('div', { class: 'toolbar' }, h('div', { class: 'search' }, search), summary),
    formHost,
    expiring,
    results);

  // ---------------------------------------------------------------- the list: pages of cards, windowed
  /**
   * The list on screen, one per search: its pages ({items, el, collapsed}), the next cursor, the request in
   * flight (aborted by the next search) and the "Load more" row.
   */
  let list = null;
  let firstPainted = false;

  /** Pages near the viewport keep their cards; the others are emptied to their height (no layout read: the
   * observer hands over the box) and drawn again when they come back. */
  const keeper = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const page = entry.target.gantryPage;
      if (!page || !list || !list.pages.includes(page)) continue;
      if (entry.isIntersecting && page.collapsed) expandPage(page);
      else if (!entry.isIntersecting && !page.collapsed && !page.el.contains(document.activeElement)) collapsePage(page, entry.boundingClientRect.height);
    }
  }, { rootMargin: KEEP_MARGIN });
  /** The "Load more" row coming near the viewport asks for the next page. */
  const prefetcher = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadMore();
  }, { rootMargin: PREFETCH_MARGIN });
  const onResize = debounce(resizeCollapsed, 150);
  window.addEventListener('resize', onResize);
  ctx.onCleanup(() => {
    keeper.disconnect();
    prefetcher.disconnect();
    window.removeEventListener('resize', onResize);
    if (list) list.controller.abort();
  });

  function collapsePage(page, height) {
    page.collapsed = true;
    page.el.style.height = `${height}px`;
    clear(page.el);
    page.el.dataset.collapsed = 'true';
  }

  function expandPage(page) {
    page.collapsed = false;
    page.el.append(...page.items.map(card));
    page.el.style.height = '';
    delete page.el.dataset.collapsed;
  }

  /** After a width change the emptied pages take the height a drawn page of theirs would have now. */
  function resizeCollapsed() {
    if (!list) return;
    const drawn = list.pages.find((p) => !p.collapsed && p.items.length === PAGE_SIZE);
    if (!drawn) return;
    const columns = getComputedStyle(drawn.el).gridTemplateColumns.split(' ').filter(Boolean).length || 1;
    const rowsOf = (n) => Math.ceil(n / columns);
    const gap = parseFloat(getComputedStyle(drawn.el).rowGap) || 0;
    const rowHeight = (drawn.el.getBoundingClientRect().height + gap) / rowsOf(PAGE_SIZE);
    for (const page of list.pages) {
      if (page.collapsed) page.el.style.height = `${rowsOf(page.items.length) * rowHeight - gap}px`;
    }
  }

  function addPage(items) {
    const el = h('div', { class: 'cards cards-page', dataset: { page: String(list.pages.length) } }, items.map(card));
    const page = { items, el, collapsed: false };
    el.gantryPage = page;
    list.pages.push(page);
    list.pagesEl.append(el);
    keeper.observe(el);
  }

  function shownCount() {
    return list.pages.reduce((n, p) => n + p.items.length, 0);
  }

  function updateSummary() {
    const n = shownCount();
    const matching = list.q ? ` matching “${list.q}”` : '';
    summary.textContent = list.cursor ? `Showing ${plural(n, 'project')}${matching}; more load as you scroll` : `${plural(n, 'project')}${matching}`;
  }

  function updateFooter() {
    list.footer.hidden = !list.cursor;
    list.moreButton.disabled = list.loading;
    list.moreButton.textContent = list.loading ? 'Loading more projects…' : 'Load more projects';
    // Observed again, the row reports at once whether it is still near the viewport (then the next page comes).
    prefetcher.unobserve(list.footer);
    if (list.cursor && !list.loading && !list.failed) prefetcher.observe(list.footer);
  }

  async function fetchPage(target, cursor) {
    const page = await api.get('/projects/stats', { query: { q: target.q, limit: PAGE_SIZE, cursor }, signal: target.controller.signal });
    for (const stat of page.data) projectNames.set(stat.projectId, stat.name);
    return page;
  }

  /** A new list (first load, a search, a new project): its first page painted as soon as it arrives. */
  async function load() {
    if (list) { list.controller.abort(); for (const p of list.pages) keeper.unobserve(p.el); prefetcher.disconnect(); }
    const mine = { q, controller: new AbortController(), pages: [], cursor: null, loading: true, failed: false };
    list = mine;
    if (!results.firstChild) replace(results, loading('Loading projects…'));
    results.setAttribute('aria-busy', 'true');
    try {
      let page;
      try {
        page = await fetchPage(mine, undefined);
      } catch (error) {
        if (list !== mine || !ctx.alive() || error.name === 'AbortError') return;
        replace(results, errorAlert(error, { title: 'Could not load the projects.', onRetry: load }));
        summary.textContent = '';
        return;
      }
      if (list !== mine || !ctx.alive()) return;
      mine.loading = false;
      mine.cursor = page.nextCursor;
      if (!page.data.length) {
        summary.textContent = mine.q ? `No projects matching “${mine.q}”` : plural(0, 'project');
        replace(results, mine.q
          ? emptyState('No matching projects', `No project name contains “${mine.q}”.`,
            h('button', { type: 'button', class: 'btn', onclick: () => { search.value = ''; q = ''; replaceQuery({}); load(); } }, 'Clear the search'))
          : emptyState('No projects yet',
            'Start by creating a project. Then register a deployment space (a Kubernetes cluster) under Settings → Spaces and add an environment to the project.',
            h('button', { type: 'button', class: 'btn btn-primary', onclick: () => openForm() }, 'Create your first project'),
            h('a', { class: 'btn', href: '#/settings/spaces' }, 'Register a space')));
        return;
      }
      mine.pagesEl = h('div', { class: 'card-pages' });
      mine.moreButton = h('button', { type: 'button', class: 'btn', onclick: () => loadMore() }, 'Load more projects');
      mine.moreStatus = h('div');
      mine.footer = h('div', { class: 'cards-more', id: 'project-cards-more' }, mine.moreStatus, mine.moreButton);
      replace(results, mine.pagesEl, mine.footer);
      addPage(page.data);
      // The first cards are in the document: what tests/python/test_console_scale.py times (Performance API).
      performance.mark(firstPainted ? 'gantry:search-cards' : 'gantry:first-cards', { detail: { count: page.data.length, q: mine.q } });
      firstPainted = true;
      updateSummary();
      updateFooter();
    } finally {
      if (list === mine) results.removeAttribute('aria-busy');
    }
  }

  /** The next page after the cursor, appended (once at a time; nothing after the last page). */
  async function loadMore() {
    const mine = list;
    if (!mine || mine.loading || !mine.cursor || !ctx.alive()) return;
    mine.loading = true;
    mine.failed = false;
    clear(mine.moreStatus);
    updateFooter();
    try {
      const page = await fetchPage(mine, mine.cursor);
      if (list !== mine || !ctx.alive()) return;
      mine.cursor = page.nextCursor;
      if (page.data.length) addPage(page.data);
    } catch (error) {
      if (list !== mine || !ctx.alive() || error.name === 'AbortError') return;
      mine.failed = true;
      replace(mine.moreStatus, errorAlert(error, { title: 'Could not load more projects.', onRetry: () => loadMore() }));
    } finally {
      if (list === mine) {
        mine.loading = false;
        updateSummary();
        updateFooter();
      }
    }
  }

  search.addEventListener('input', debounce(() => {
    const next = search.value.trim();
    if (next === q && list && list.q === next) return;
    q = next;
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

  /** The name of an expiring environment's project: from the cards, from an earlier answer, else one GET. */
  async function learnProjectNames(ids) {
    const missing = [...new Set(ids)].filter((id) => !projectNames.has(id) && !nameOf(id));
    await Promise.all(missing.map((id) => api.get(`/projects/${seg(id)}`)
      .then(({ data }) => projectNames.set(id, data.name))
      .catch(() => { /* the id stands in */ })));
  }

  /** The strip, once the first cards are in (they name most projects); nothing when none is due or on an error. */
  async function loadExpiring(cards) {
    let page;
    try {
      page = await api.get('/environments', { query: { expiringWithinHours: EXPIRING_WITHIN_HOURS, limit: EXPIRING_SHOWN } });
    } catch {
      return; // a convenience: the cards are the page
    }
    await cards;
    if (!ctx.alive() || !page.data.length) return;
    await learnProjectNames(page.data.map((env) => env.projectId));
    if (!ctx.alive()) return;
    replace(expiring, expiringStrip(page.data, Boolean(page.nextCursor), (id) => projectNames.get(id) || nameOf(id) || id));
  }

  newButton.addEventListener('click', openForm);
  if (ctx.query.new === '1') openForm();
  const cards = load();
  await Promise.all([cards, loadExpiring(cards)]);
}
