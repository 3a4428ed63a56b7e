// Settings › Audit log: filters kept in the address, Load more, each entry's changes, Verify the chain, Export NDJSON.

import { api, seg } from '../api.js';
import { h, replace, clear, loading, errorAlert, emptyState, field, str, formatDate, toRFC3339, toast, plural, showFieldErrors, clearFieldErrors } from '../dom.js';
import { replaceQuery, navigate } from '../app.js';
import { permissionHint } from './section.js';

const AUDIT_FILTERS = [
  ['projectId', 'Project id', 'prj_…'], ['environmentId', 'Environment id', 'env_…'], ['deploymentId', 'Deployment id', 'dep_…'],
  ['actor', 'Actor email', 'someone@example.com'], ['action', 'Action', 'project.created'], ['resourceType', 'Resource type', 'environment'],
  ['resourceId', 'Resource id', ''],
];

function toLocalInput(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function describeChanges(changes) {
  if (!changes || typeof changes !== 'object') return null;
  const lines = Object.entries(changes).map(([key, value]) => {
    if (value && typeof value === 'object' && ('from' in value || 'to' in value)) return `${key}: ${JSON.stringify(value.from)} → ${JSON.stringify(value.to)}`;
    return `${key}: ${JSON.stringify(value)}`;
  });
  if (!lines.length) return null;
  return h('details', h('summary', plural(lines.length, 'change')), h('pre', { class: 'audit-changes' }, lines.join('\n')));
}

export async function renderAudit(ctx, host) {
  const filters = {};
  for (const [name] of AUDIT_FILTERS) if (ctx.query[name]) filters[name] = ctx.query[name];
  if (ctx.query.from) filters.from = ctx.query.from;
  if (ctx.query.to) filters.to = ctx.query.to;

  const form = h('form', { class: 'panel', id: 'audit-filters', 'aria-label': 'Filter the audit log' },
    h('div', { class: 'panel-header' }, h('h2', 'Audit log'),
      h('div', { class: 'btn-group' },
        h('button', { type: 'button', class: 'btn btn-small', id: 'verify-audit' }, 'Verify the chain'),
        h('button', { type: 'button', class: 'btn btn-small', id: 'export-audit' }, 'Export NDJSON'))),
    h('p', { class: 'meta' }, 'Every change, newest first. Filtering by a project or an environment includes everything below it.'),
    h('div', { class: 'form-grid' },
      AUDIT_FILTERS.map(([name, label, placeholder]) => field(label, h('input', { type: 'text', name, value: filters[name] || '', placeholder, autocomplete: 'off', spellcheck: 'false' }))),
      field('From', h('input', { type: 'datetime-local', name: 'from', value: toLocalInput(filters.from) })),
      field('To', h('input', { type: 'datetime-local', name: 'to', value: toLocalInput(filters.to) }))),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply filters'),
      h('button', { type: 'button', class: 'btn', id: 'clear-audit-filters' }, 'Clear')));
  const verifyHost = h('div');
  const results = h('div', { id: 'audit-results' });
  host.append(form, verifyHost, results);

  let cursor = null;
  let rows = [];
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'btn', id: 'audit-more' }, 'Load more');

  function row(entry) {
    const restore = entry.action === 'project.deleted'
      ? h('button', {
        type: 'button', class: 'btn btn-small', onclick: async (event) => {
          event.target.disabled = true;
          try {
            await api.post(`/projects/${seg(entry.resourceId)}/restore`);
            toast('Project restored.');
            navigate(`/projects/${entry.resourceId}`);
          } catch (error) {
            event.target.disabled = false;
            toast(`${error.message}${error.requestId ? ` (request ${error.requestId})` : ''}`, { kind: 'error', timeout: 8000 });
          }
        },
      }, 'Restore')
      : null;
    return h('tr', { dataset: { logId: entry.id, action: entry.action } },
      h('td', h('time', { datetime: entry.createdAt, title: formatDate(entry.createdAt) }, formatDate(entry.createdAt))),
      h('td', entry.actor.type === 'system' ? h('span', { class: 'badge plain' }, 'system') : entry.actor.email || entry.actor.id),
      h('td', h('code', entry.action)),
      h('td', h('span', { class: 'muted' }, `${entry.resourceType} `), h('code', entry.resourceId)),
      h('td', { class: 'hide-narrow' }, describeChanges(entry.changes)),
      h('td', { class: 'hide-narrow' }, entry.requestId ? h('code', { class: 'meta' }, entry.requestId) : '—'),
      h('td', { class: 'actions' }, restore));
  }

  async function load(append) {
    if (!append) { cursor = null; rows = []; replace(results, loading('Loading entries…')); }
    more.disabled = true;
    try {
      const page = await api.get('/audit-logs', { query: { ...filters, limit: 50, cursor } });
      if (!ctx.alive()) return;
      cursor = page.nextCursor;
      rows = rows.concat(page.data);
      if (!append) {
        clear(body);
        if (!rows.length) {
          replace(results, emptyState('No entries', Object.keys(filters).length ? 'Nothing matches these filters.' : 'Nothing has changed yet.'));
          return;
        }
        replace(results, h('div', { class: 'table-wrap' }, h('table', { id: 'audit-table' },
          h('thead', h('tr', ['When', 'Actor', 'Action', 'Resource'].map((t) => h('th', { scope: 'col' }, t)),
            h('th', { scope: 'col', class: 'hide-narrow' }, 'Changes'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Request'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
          body)), h('p', { class: 'form-actions' }, more));
      }
      for (const entry of page.data) body.append(row(entry));
      more.hidden = !cursor;
    } catch (error) {
      if (!ctx.alive()) return;
      if (append) toast(error.message, { kind: 'error' });
      else replace(results, permissionHint(error, 'the audit log') || errorAlert(error, { title: 'Could not load the audit log.', onRetry: () => load(false) }));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => load(true));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const data = new FormData(form);
    for (const key of Object.keys(filters)) delete filters[key];
    for (const [name] of AUDIT_FILTERS) { const v = str(data, name); if (v) filters[name] = v; }
    const from = toRFC3339(String(data.get('from') || ''));
    const to = toRFC3339(String(data.get('to') || ''));
    if (from) filters.from = from;
    if (to) filters.to = to;
    replaceQuery(filters);
    load(false).then(() => {
      const alert = results.querySelector('.alert[data-error-code="validation_failed"]');
      if (alert) {
        // Map query-parameter errors onto the filter fields as well.
        const fields = [...alert.querySelectorAll('li code')].map((c) => c.textContent);
        const errors = {};
        for (const name of fields) errors[name] = 'is invalid';
        showFieldErrors(form, errors);
      }
    });
  });
  form.querySelector('#clear-audit-filters').addEventListener('click', () => {
    form.reset();
    for (const input of form.querySelectorAll('input')) input.value = '';
    for (const key of Object.keys(filters)) delete filters[key];
    replaceQuery({});
    load(false);
  });
  form.querySelector('#verify-audit').addEventListener('click', async (event) => {
    event.target.disabled = true;
    replace(verifyHost, loading('Verifying the hash chain…'));
    try {
      const { data } = await api.get('/audit-logs/verify');
      replace(verifyHost, data.ok
        ? h('div', { class: 'alert alert-success', role: 'status' }, h('p', `The chain is intact: ${plural(data.entries, 'entry', 'entries')} verified.`))
        : h('div', { class: 'alert alert-error', role: 'alert' }, h('p', { class: 'alert-title' }, 'The chain does not verify.'),
          h('p', `After ${plural(data.entries, 'entry', 'entries')}, entry `, h('code', data.firstBadId || '?'), ' does not match its hash or link.')));
    } catch (error) {
      replace(verifyHost, errorAlert(error, { title: 'Could not verify the audit log.' }));
    } finally {
      event.target.disabled = false;
    }
  });
  form.querySelector('#export-audit').addEventListener('click', async (event) => {
    event.target.disabled = true;
    try {
      const response = await api.fetchRaw('/audit-logs/export', filters);
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: `gantry-audit-${new Date().toISOString().slice(0, 10)}.ndjson` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      replace(verifyHost, errorAlert(error, { title: 'Could not export the audit log.' }));
    } finally {
      event.target.disabled = false;
    }
  });
  await load(false);
}
