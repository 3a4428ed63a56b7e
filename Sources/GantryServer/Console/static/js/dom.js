// Small DOM helpers: element builders (text is always set as text, never parsed as HTML), formatting,
// dialogs, toasts and the error rendering every page shares.

import { ApiError } from './api.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (key === 'text') el.textContent = value;
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === 'value' && 'value' in el && !(el instanceof SVGElement)) el.value = value;
    else if (key === 'checked' || key === 'selected' || key === 'disabled' || key === 'required' || key === 'hidden' || key === 'open') {
      el[key] = Boolean(value);
      if (value === true) el.setAttribute(key, '');
    } else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** h('button', {class: 'btn', onclick}, 'Save') */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  // The attributes object is optional: a node, text or array in its place is the first child.
  if (attrs !== null && attrs !== undefined && (attrs instanceof Node || typeof attrs !== 'object' || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  apply(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

export const STATUSES = ['running', 'deploying', 'degraded', 'failed', 'stopped', 'pending', 'unknown'];

const relative = typeof Intl !== 'undefined' && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }) : null;

export function relativeTime(iso, now = Date.now()) {
  if (!iso) return 'never';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return String(iso);
  const seconds = Math.round((then - now) / 1000);
  const abs = Math.abs(seconds);
  const steps = [[60, 'second', 1], [3600, 'minute', 60], [86400, 'hour', 3600], [86400 * 30, 'day', 86400],
    [86400 * 365, 'month', 86400 * 30], [Infinity, 'year', 86400 * 365]];
  for (const [limit, unit, size] of steps) {
    if (abs < limit) {
      const value = Math.round(seconds / size);
      if (unit === 'second' && abs < 10) return 'just now';
      return relative ? relative.format(value, unit) : `${Math.abs(value)} ${unit}s ${value < 0 ? 'ago' : 'from now'}`;
    }
  }
  return iso;
}

export function formatDate(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** <time> with the relative form shown and the exact one in the tooltip. */
export function timeEl(iso, { prefix = '', never = 'never' } = {}) {
  if (!iso) return h('span', { class: 'muted' }, never);
  return h('time', { datetime: iso, title: formatDate(iso) }, prefix + relativeTime(iso));
}

/** An RFC 3339 UTC timestamp from a datetime-local value (interpreted in the browser's time zone). */
export function toRFC3339(local) {
  if (!local) return undefined;
  const date = new Date(local);
  if (Number.isNaN(date.getTime())) return undefined;
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

export function statusBadge(status) {
  return h('span', { class: `badge st-${status}`, dataset: { status } }, status);
}

/** Debounce a function: it runs once the calls stop for `ms`. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// ---------------------------------------------------------------------------
// Errors, toasts, loading and empty states
// ---------------------------------------------------------------------------

/** Describes an error for a person: the API's message, field errors, what blocks a delete, the request id. */
export function errorAlert(error, { title, kind = 'error', onRetry } = {}) {
  const box = h('div', { class: `alert alert-${kind}`, role: 'alert', dataset: { errorCode: error && error.code ? error.code : 'error' } });
  if (title) box.append(h('p', { class: 'alert-title' }, title));
  const message = error instanceof ApiError || (error && error.message) ? error.message : String(error);
  box.append(h('p', { class: 'alert-message' }, message));
  if (error instanceof ApiError) {
    const fields = error.details && Array.isArray(error.details.fields) ? error.details.fields : [];
    if (fields.length) box.append(h('ul', fields.map((f) => h('li', h('code', f.field), ' ', f.message))));
    if (error.code === 'has_children' && error.details) box.append(h('p', { class: 'blockers' }, describeChildren(error.details)));
    const checks = error.code === 'preflight_failed' && error.details && Array.isArray(error.details.checks) ? error.details.checks : [];
    if (checks.length) box.append(h('ul', { class: 'preflight-checks' }, checks.map((c) => h('li', { dataset: { check: c.check || '' } }, c.message))));
    if (error.code === 'rate_limited' && error.retryAfter) box.append(h('p', `Retry after ${plural(Number(error.retryAfter), 'second')}.`));
    if (error.requestId) box.append(h('p', { class: 'request-id' }, 'Request ID: ', h('code', error.requestId)));
  }
  if (onRetry) box.append(h('p', h('button', { type: 'button', class: 'btn btn-small', onclick: onRetry }, 'Try again')));
  return box;
}

/** "Blocked by 2 environments and 5 deployments." from has_children details or a dry run. */
export function describeChildren(details) {
  const parts = [];
  if (typeof details.environmentCount === 'number' && details.environmentCount > 0) parts.push(plural(details.environmentCount, 'live environment'));
  if (typeof details.deploymentCount === 'number' && details.deploymentCount > 0) parts.push(plural(details.deploymentCount, 'live deployment'));
  if (!parts.length) {
    for (const [key, value] of Object.entries(details)) {
      if (typeof value === 'number' && value > 0) parts.push(`${value} ${key.replace(/Count$/, '')}`);
    }
  }
  return parts.length ? `Blocked by ${parts.join(' and ')}. Delete ${parts.length > 1 ? 'them' : 'it'} first.` : 'Live children block this.';
}

export function toast(message, { kind = 'info', timeout = 4500 } = {}) {
  const region = document.getElementById('toasts');
  if (!region) return;
  const el = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  region.append(el);
  setTimeout(() => el.remove(), timeout);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

export function emptyState(title, text, ...actions) {
  return h('div', { class: 'empty' }, h('h2', title), text ? h('p', text) : null, actions.length ? h('div', { class: 'btn-group', style: { justifyContent: 'center' } }, actions) : null);
}

// ---------------------------------------------------------------------------
// Forms
// ---------------------------------------------------------------------------

let uid = 0;
export const nextId = (prefix = 'f') => `${prefix}-${++uid}`;

/**
 * A labelled field. `control` is an input/select/textarea (its name is the API field name, so validation
 * errors land next to it). Returns the wrapper; wrapper.control is the control.
 */
export function field(labelText, control, hint) {
  const id = control.id || nextId('field');
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const wrapper = h('div', { class: 'field', dataset: { field: control.name || '' } }, h('label', { for: id }, labelText), control, hintEl, error);
  wrapper.control = control;
  return wrapper;
}

/** Shows field errors (from ApiError.fieldErrors) next to the matching controls; returns those it could not place. */
export function showFieldErrors(form, errors) {
  clearFieldErrors(form);
  const unplaced = {};
  for (const [name, message] of Object.entries(errors)) {
    const full = name.replace(/^body\./, '');
    const control = form.querySelector(`[name="${CSS.escape(full)}"]`) || form.querySelector(`[name="${CSS.escape(full.split(/[.[]/)[0])}"]`);
    const wrapper = control && control.closest('.field');
    const errorEl = wrapper && wrapper.querySelector('.field-error');
    if (!errorEl) { unplaced[name] = message; continue; }
    errorEl.textContent = message;
    errorEl.hidden = false;
    control.setAttribute('aria-invalid', 'true');
    const described = (control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    if (!described.includes(errorEl.id)) control.setAttribute('aria-describedby', [...described, errorEl.id].join(' '));
  }
  return unplaced;
}

export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) { el.hidden = true; el.textContent = ''; }
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
}

/**
 * Wires a form: on submit it clears old errors, disables the submit button, runs `action`, and on an ApiError
 * shows the message in `statusEl` (an .alert inside the form) and field errors next to their fields.
 */
export function handleSubmit(form, action, { statusEl } = {}) {
  const status = statusEl || h('div', { class: 'form-status' });
  if (!statusEl) form.prepend(status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    clear(status);
    const buttons = [...form.querySelectorAll('button[type="submit"]')];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await action(new FormData(form), form);
    } catch (error) {
      if (error instanceof ApiError) showFieldErrors(form, error.fieldErrors);
      status.append(errorAlert(error));
      const first = form.querySelector('[aria-invalid="true"]');
      if (first) first.focus();
      else if (status.scrollIntoView) status.scrollIntoView({ block: 'nearest' }); // long forms (in a dialog): show the message
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
  return status;
}

export function option(value, label, selected = false) {
  return h('option', { value, selected }, label);
}

/** Trimmed string value of a FormData entry, or undefined when empty. */
export function str(data, name) {
  const value = data.get(name);
  if (value === null || value === undefined) return undefined;
  const trimmed = String(value).trim();
  return trimmed === '' ? undefined : trimmed;
}

// ---------------------------------------------------------------------------
// Dialogs
// ---------------------------------------------------------------------------

/**
 * A modal <dialog> (Escape closes it, focus stays inside). `body` is a node; `actions` are buttons; the
 * returned object has close() and the element. Closing removes it from the page.
 */
export function openDialog({ title, body, actions = [], onClose, label }) {
  const titleId = nextId('dialog-title');
  const dialog = h('dialog', { 'aria-labelledby': titleId, 'aria-label': label },
    h('div', { class: 'dialog-body' }, h('h2', { id: titleId }, title), body),
    h('div', { class: 'dialog-actions' }, actions));
  const opener = document.activeElement;
  const close = () => { if (dialog.open) dialog.close(); };
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (onClose) onClose();
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  const focusable = dialog.querySelector('[autofocus], input, select, textarea, .dialog-actions .btn-primary, .dialog-actions .btn-danger, .dialog-actions button');
  if (focusable) focusable.focus();
  return { dialog, close };
}

/** An error in a dialog titled `title`, with `intro` (optional) above its alert and a Close button; `id` names the body. */
export function errorDialog({ title, error, intro = null, id }) {
  let ref;
  const close = h('button', { type: 'button', class: 'btn btn-primary', onclick: () => ref.close() }, 'Close');
  ref = openDialog({ title, body: h('div', { class: id, id }, intro, errorAlert(error)), actions: [close] });
  close.focus();
  return ref;
}

/** A form's submit button (`submitLabel`) and, with `cancel`, a Cancel button that calls it. */
export function formActions(submitLabel, cancel) {
  return h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, submitLabel),
    cancel ? h('button', { type: 'button', class: 'btn', onclick: cancel }, 'Cancel') : null);
}

/**
 * A dialog around a form (which has an id): Cancel, and a submit button for the form labelled `submitLabel`,
 * in place of the form's own actions (formActions), which it drops.
 */
export function formDialog({ title, form, submitLabel }) {
  const own = form.querySelector(':scope > .form-actions');
  if (own) own.remove();
  const ref = openDialog({
    title, body: form,
    actions: [h('button', { type: 'button', class: 'btn', onclick: () => ref.close() }, 'Cancel'),
      h('button', { type: 'submit', class: 'btn btn-primary', form: form.id }, submitLabel)],
  });
  return ref;
}

/** Asks for confirmation; resolves true or false. */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    let answered = false;
    const finish = (value) => { answered = true; resolve(value); ref.close(); };
    const ref = openDialog({
      title,
      body: typeof message === 'string' ? h('p', message) : message,
      actions: [
        h('button', { type: 'button', class: 'btn', onclick: () => finish(false) }, 'Cancel'),
        h('button', { type: 'button', class: danger ? 'btn btn-danger btn-solid' : 'btn btn-primary', onclick: () => finish(true) }, confirmLabel),
      ],
      onClose: () => { if (!answered) resolve(false); },
    });
  });
}

/**
 * Deleting with a dry run first (docs/api.md's `?dryRun=true`): `check()` answers the preview, and the
 * dialog either explains what will go (`deletable(preview)`) or what blocks it (`blocked(preview)`, a list
 * of paragraphs) and hides the button. Confirming calls `remove()`, then `onDeleted()`; a refused delete
 * (409 has_children, e.g. a child created meanwhile) is shown with `refusedTitle`.
 */
export async function deleteWithDryRun({ title, confirmLabel, check, remove, deletable, blocked, refusedTitle = 'The delete failed.', onDeleted }) {
  const body = h('div', loading('Checking what the delete would do…'));
  const confirm = h('button', { type: 'button', class: 'btn btn-danger btn-solid', disabled: true, id: 'confirm-delete' }, confirmLabel);
  const ref = openDialog({ title, body, actions: [h('button', { type: 'button', class: 'btn', onclick: () => ref.close() }, 'Cancel'), confirm] });
  try {
    const { data: preview } = await check();
    if (preview.deletable) {
      replace(body, h('p', deletable(preview)));
      confirm.disabled = false;
      confirm.focus();
    } else {
      replace(body, h('div', { class: 'alert alert-warning', role: 'alert', id: 'delete-blocked' }, blocked(preview).map((text) => h('p', text))));
      confirm.hidden = true;
    }
  } catch (error) {
    replace(body, errorAlert(error, { title: 'The delete could not be checked.' }));
  }
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    try {
      await remove();
      ref.close();
      await onDeleted();
    } catch (error) {
      replace(body, errorAlert(error, { title: error.code === 'has_children' ? refusedTitle : 'The delete failed.' }));
      confirm.hidden = error.code === 'has_children';
      confirm.disabled = false;
    }
  });
}

/** Copies text to the clipboard, with a toast saying whether it worked. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    toast('Copied to the clipboard.');
  } catch {
    toast('Copy failed: select the text and copy it by hand.', { kind: 'error' });
  }
}
