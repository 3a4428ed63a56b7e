// What the settings tabs share: the list section (header, "New …" form, the table, and each row's Rename and
// Delete built from a description), tables and the permission hint.

import { api } from '../api.js';
import { h, replace, clear, loading, errorAlert, emptyState, field, handleSubmit, toast, formDialog, confirmDialog } from '../dom.js';

/** What a 403 on a whole list says (the section needs an organization-wide role); null for other errors. */
export function permissionHint(error, what) {
  if (error && error.status === 403) {
    return h('div', { class: 'alert alert-warning', role: 'alert' }, h('p', { class: 'alert-title' }, `You cannot see ${what}.`),
      h('p', error.message), h('p', 'This needs an organization-wide role that includes it (for example admin).'));
  }
  return null;
}

/** A table: headers are strings or {text, class}. */
export function table(id, headers, rows) {
  return h('div', { class: 'table-wrap' }, h('table', { id },
    h('thead', h('tr', headers.map((label) => (typeof label === 'string'
      ? h('th', { scope: 'col' }, label)
      : h('th', { scope: 'col', class: label.class || null }, label.text))))),
    h('tbody', rows)));
}

/**
 * A list with an optional create form: header, "New …" toggle, status area for row-action errors, the table.
 *
 * - `load()` reads the items; `render(items, row)` builds the table, where `row.reload()` reads the list again
 *   and `row.actions(item, ...controls)` is the row's actions cell: the given controls, then Rename and Delete.
 * - `path(item)` is the item's API path, for Rename and Delete.
 * - `rename: {done}`: a Rename button; its dialog sends `PATCH path {name}` with If-Match, then toasts `done`.
 * - `remove: {label, confirm(item), done(item), versioned, when(item), ariaLabel(item)}`: a danger button
 *   (`label`, default Delete; only where `when` says so) that asks `confirm(item)` → {title, message,
 *   confirmLabel}, sends `DELETE path` (with If-Match when `versioned`), toasts `done(item)` and reloads. A
 *   refusal shows in the section's status area.
 * - `form(done, cancel)` builds the create form.
 */
export function listSection({ ctx, host, title, intro, newLabel, load, render, form, emptyTitle, emptyText, what, path, rename, remove }) {
  const newButton = newLabel ? h('button', { type: 'button', class: 'btn btn-primary', 'aria-expanded': 'false' }, newLabel) : null;
  const formHost = h('div');
  const status = h('div', { class: 'section-status' });
  const list = h('div', loading());
  host.append(h('section', { class: 'panel' },
    h('div', { class: 'panel-header' }, h('div', h('h2', title), intro ? h('p', { class: 'meta' }, intro) : null), newButton),
    formHost, status, list));

  function closeForm() { replace(formHost); if (newButton) { newButton.setAttribute('aria-expanded', 'false'); newButton.focus(); } }
  function openForm() {
    if (formHost.firstChild) { closeForm(); return; }
    newButton.setAttribute('aria-expanded', 'true');
    const el = form(async () => { closeForm(); await reload(); }, closeForm);
    el.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeForm(); });
    formHost.append(el);
    const first = el.querySelector('input, select, textarea');
    if (first) first.focus();
  }
  if (newButton) newButton.addEventListener('click', openForm);

  /** Runs a row action; its error appears in the section's status area. */
  async function rowAction(action) {
    clear(status);
    try {
      await action();
    } catch (error) {
      status.append(errorAlert(error));
      status.scrollIntoView({ block: 'nearest' });
    }
  }

  function renameButton(item) {
    return h('button', {
      type: 'button', class: 'btn btn-small', onclick: () => renameDialog({
        title: `Rename ${item.name}`, current: item.name,
        save: async (name) => { await api.patch(path(item), { name }, { ifMatch: item.version }); toast(rename.done); await reload(); },
      }),
    }, 'Rename');
  }

  function removeButton(item) {
    const { label = 'Delete', confirm, done, versioned = false, ariaLabel } = remove;
    return h('button', {
      type: 'button', class: 'btn btn-small btn-danger', 'aria-label': ariaLabel ? ariaLabel(item) : null, onclick: () => rowAction(async () => {
        const { title: question = `${label} ${item.name}?`, message, confirmLabel } = confirm(item);
        if (!(await confirmDialog({ title: question, message, confirmLabel, danger: true }))) return;
        await api.del(path(item), { ifMatch: versioned ? item.version : undefined });
        toast(done(item));
        await reload();
      }),
    }, label);
  }

  const actions = (item, ...controls) => h('td', { class: 'actions' }, controls,
    rename ? renameButton(item) : null,
    remove && (!remove.when || remove.when(item)) ? removeButton(item) : null);

  async function reload() {
    clear(status);
    let items;
    try {
      items = await load();
    } catch (error) {
      if (!ctx.alive()) return;
      replace(list, permissionHint(error, what) || errorAlert(error, { title: `Could not load ${what}.`, onRetry: reload }));
      if (newButton) newButton.hidden = error.status === 403;
      return;
    }
    if (!ctx.alive()) return;
    if (!items.length) {
      replace(list, emptyState(emptyTitle, emptyText, newButton ? h('button', { type: 'button', class: 'btn btn-primary', onclick: openForm }, newLabel) : null));
      return;
    }
    replace(list, render(items, { reload, actions }));
  }
  return { reload, openForm };
}

function renameDialog({ title, current, save }) {
  const input = h('input', { type: 'text', name: 'name', required: true, value: current, autocomplete: 'off' });
  const form = h('form', { id: 'rename-form' }, field('Name', input));
  let ref;
  handleSubmit(form, async (data) => {
    const name = String(data.get('name') || '').trim();
    if (name !== current) await save(name);
    ref.close();
  });
  ref = formDialog({ title, form, submitLabel: 'Save' });
}
