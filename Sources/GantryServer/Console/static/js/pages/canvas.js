// Architecture canvas (SVG): environments as labelled groups, deployments as nodes coloured by status at their
// canvasPosition, connections as arrows, suggestions dotted. Drag a node to move it (PATCH canvasPosition with
// If-Match on drop); shift-drag or drag the handle to connect two nodes; pan, zoom, fit. Nodes without a stored
// position are laid out automatically and saved only once moved. The browser assembles the whole picture from
// the catalog endpoints. Deploying (js/deploying.js): nodes flag pending changes and drift; the side panel
// deploys, edits, and shows the selected service's revisions (with Rollback) and events; with nothing
// selected it has a "Deploy all pending" button per environment.
//
// This page reads the catalog, talks to the API and wires the parts in js/canvas/: the model (state and its
// operations), the drawing, the view (pan and zoom), the gestures and the side panel.

import { api, seg, ApiError } from '../api.js';
import { h, replace, loading, errorAlert, toast, plural, STATUSES, confirmDialog } from '../dom.js';
import { CanvasModel } from '../canvas/model.js';
import { canvasSvg, createDrawing } from '../canvas/draw.js';
import { createView } from '../canvas/view.js';
import { attachGestures } from '../canvas/gestures.js';
import { createSidePanel } from '../canvas/side.js';

export async function renderCanvas(ctx) {
  const projectId = ctx.params.projectId;
  replace(ctx.el, h('div', { class: 'canvas-top' }, loading('Loading the architecture…')));

  async function fetchModel() {
    const [p, envs] = await Promise.all([
      api.get(`/projects/${seg(projectId)}`).then((r) => r.data),
      api.listAll(`/projects/${seg(projectId)}/environments`),
    ]);
    const loaded = await Promise.all(envs.map(async (env) => {
      const [deployments, connections] = await Promise.all([
        api.listAll(`/environments/${seg(env.id)}/deployments`),
        api.listAll(`/environments/${seg(env.id)}/connections`),
      ]);
      return { env, deployments, connections };
    }));
    return { project: p, loaded };
  }

  let fetched;
  try {
    fetched = await fetchModel();
  } catch (error) {
    if (!ctx.alive()) return;
    replace(ctx.el, h('div', { class: 'canvas-top' },
      h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/projects' }, 'Projects'), h('span', '/'), h('a', { href: `#/projects/${seg(projectId)}` }, 'Project'))),
    h('div', { style: { padding: '1.25rem' } }, errorAlert(error, { title: 'Could not load the architecture.', onRetry: () => { replace(ctx.el); renderCanvas(ctx); } })));
    return;
  }
  if (!ctx.alive()) return;
  let project = fetched.project;
  ctx.setTitle(`Architecture · ${project.name}`);

  const model = new CanvasModel();
  model.load(fetched.loaded);

  // ------------------------------------------------------------------ DOM
  const layers = canvasSvg(`Architecture of ${project.name}`);
  const { svg } = layers;
  const side = h('aside', { class: 'canvas-side', id: 'canvas-side', 'aria-label': 'Details', 'aria-live': 'polite' });
  const statusLine = h('div', { class: 'canvas-status', id: 'canvas-status', 'aria-live': 'polite' });
  const zoomIn = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': 'Zoom in', title: 'Zoom in (+)' }, '+');
  const zoomOut = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': 'Zoom out', title: 'Zoom out (−)' }, '−');
  const fit = h('button', { type: 'button', class: 'btn btn-small', id: 'fit-canvas', 'aria-label': 'Fit to screen', title: 'Fit to screen (0)' }, 'Fit');
  const actual = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': 'Zoom to 100%', title: 'Actual size (1)' }, '1:1');
  const stage = h('div', { class: 'canvas-stage', id: 'canvas-stage' }, svg, h('div', { class: 'canvas-zoom' }, zoomIn, zoomOut, fit, actual), statusLine);
  const refresh = h('button', { type: 'button', class: 'btn btn-small', id: 'refresh-canvas' }, 'Refresh');
  const legend = h('div', { class: 'canvas-legend', 'aria-label': 'Status colours' },
    STATUSES.map((st) => h('span', { class: 'legend-item' }, h('span', { class: `swatch st-bg-${st}` }), st)),
    h('span', { class: 'legend-item' }, '⋯ suggestion'));

  replace(ctx.el,
    h('div', { class: 'canvas-top' },
      h('div',
        h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/projects' }, 'Projects'), h('span', { 'aria-hidden': 'true' }, '/'),
          h('a', { href: `#/projects/${seg(projectId)}` }, project.name), h('span', { 'aria-hidden': 'true' }, '/'), h('span', { 'aria-current': 'page' }, 'Architecture')),
        h('h1', `Architecture of ${project.name}`)),
      legend, refresh,
      h('p', { class: 'canvas-help', id: 'canvas-help' },
        'Drag a service to move it. Shift-drag from a service, or drag its round handle, onto another service to connect them. ',
        'Drag the background to pan, scroll to zoom. Keyboard: Tab to a service, arrow keys move it (Shift for bigger steps), Enter shows details; ',
        '+ and − zoom, 0 fits, Delete removes a focused connection.')),
    h('div', { class: 'canvas-body' }, stage, side));

  const drawing = createDrawing(model, layers);
  const view = createView({ svg, viewport: layers.viewport, boxes: () => model.boxes(), onChange: () => updateStatus() });
  zoomIn.addEventListener('click', () => view.zoomBy(1.25));
  zoomOut.addEventListener('click', () => view.zoomBy(0.8));
  fit.addEventListener('click', () => view.fit());
  actual.addEventListener('click', () => view.actualSize());

  let saving = 0;
  let lastMessage = '';
  function updateStatus(message) {
    if (message !== undefined) lastMessage = message;
    const text = `${plural(model.nodes.size, 'service')} · ${plural(model.edges.size, 'connection')} · ${Math.round(view.k * 100)}%${saving ? ' · saving…' : ''}${lastMessage ? ` · ${lastMessage}` : ''}`;
    if (statusLine.textContent !== text) statusLine.textContent = text; // once per frame while panning: only a change
  }

  // ------------------------------------------------------------------ selection and side panel
  const panel = createSidePanel({
    el: side, model, ctx, projectId, project: () => project,
    act: { focusNode, accept: acceptEdge, deleteEdge, connect: createConnection, applyDeployment, refreshDeployment, refreshGroup },
  });
  const renderSide = () => panel.render();

  /** Selects a node or an edge ({type, id}) or nothing (null); one that is gone selects nothing. */
  function select(next) {
    drawing.highlight(model.selection, false);
    model.selection = next && model.item(next) ? next : null;
    drawing.highlight(model.selection, true);
    renderSide();
  }

  function focusNode(id) {
    const node = model.nodes.get(id);
    if (!node) return;
    select({ type: 'node', id });
    node.el.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------------ deploying
  /** Takes a newer copy of a deployment into the model and its node (flags and status). */
  function updateNode(node, fresh) {
    model.update(node, fresh);
    if (!gestures.holds(node)) drawing.redrawNode(node);
  }

  /** updateNode, then the group's pending count and the side panel where it shows the deployment (or the counts). */
  function applyDeployment(node, fresh) {
    if (!model.nodes.has(node.dep.id)) return;
    updateNode(node, fresh);
    drawing.relabelGroup(node.group);
    if (!model.selection || model.isSelected('node', node.dep.id)) renderSide();
  }

  async function refreshDeployment(node) {
    try {
      const { data } = await api.get(`/deployments/${seg(node.dep.id)}`);
      if (ctx.alive()) applyDeployment(node, data);
    } catch (error) {
      if (ctx.alive() && error.status !== 404) reportError(`Could not re-read ${node.dep.name}`, error);
    }
  }

  async function refreshGroup(group) {
    try {
      const fresh = await api.listAll(`/environments/${seg(group.env.id)}/deployments`);
      if (!ctx.alive()) return;
      for (const dep of fresh) {
        const node = model.nodes.get(dep.id);
        if (node) updateNode(node, dep);
      }
      drawing.relabelGroup(group); // the count and the side panel once for the whole environment
      renderSide();
    } catch (error) {
      if (ctx.alive()) reportError(`Could not re-read ${group.env.name}`, error);
    }
  }

  // ------------------------------------------------------------------ mutations
  function reportError(prefix, error) {
    const text = `${prefix}: ${error.message}${error instanceof ApiError && error.requestId ? ` (request ${error.requestId})` : ''}`;
    toast(text, { kind: 'error', timeout: 8000 });
    updateStatus(prefix.toLowerCase());
  }

  async function savePosition(node, previous) {
    const position = { x: Math.round(node.x), y: Math.round(node.y) };
    node.el.classList.add('saving');
    saving++;
    updateStatus();
    const path = `/deployments/${seg(node.dep.id)}`;
    try {
      let result;
      try {
        result = await api.patch(path, { canvasPosition: position }, { ifMatch: node.dep.version });
      } catch (error) {
        if (!(error instanceof ApiError) || error.code !== 'precondition_failed') throw error;
        // Someone changed the deployment meanwhile: take the new version and move it anyway (a position is ours to set).
        const fresh = (await api.get(path)).data;
        model.update(node, fresh);
        result = await api.patch(path, { canvasPosition: position }, { ifMatch: fresh.version });
      }
      model.update(node, result.data);
      node.positioned = true;
      node.el.dataset.savedX = String(position.x);
      node.el.dataset.savedY = String(position.y);
      updateStatus(`${node.dep.name} moved`);
    } catch (error) {
      if (previous) { node.x = previous.x; node.y = previous.y; drawing.moveNode(node); }
      reportError(`Could not save the position of ${node.dep.name}`, error);
    } finally {
      saving--;
      node.el.classList.remove('saving');
      updateStatus();
      if (model.isSelected('node', node.dep.id)) renderSide();
    }
  }

  async function createConnection(from, to) {
    if (!to || from === to) return;
    if (from.group !== to.group) {
      toast('Connections join services of the same environment.', { kind: 'error' });
      return;
    }
    try {
      const { data: conn } = await api.post(`/environments/${seg(from.group.env.id)}/connections`, {
        fromDeploymentId: from.dep.id, toDeploymentId: to.dep.id,
      });
      drawing.addEdge(model.connect(conn, from.group));
      toast(`Connected ${from.dep.name} → ${to.dep.name}.`);
      updateStatus(`connected ${from.dep.name} → ${to.dep.name}`);
      refreshDeployment(from);
      select({ type: 'edge', id: conn.id });
    } catch (error) {
      reportError('Could not connect', error);
    }
  }

  async function deleteEdge(edge) {
    const from = model.from(edge).dep.name;
    const to = model.to(edge).dep.name;
    const ok = await confirmDialog({ title: 'Delete this connection?', message: `${from} → ${to} will be removed.`, confirmLabel: 'Delete connection', danger: true });
    if (!ok) return;
    try {
      await api.del(`/connections/${seg(edge.conn.id)}`);
      model.removeEdge(edge);
      drawing.removeEdge(edge);
      if (model.isSelected('edge', edge.conn.id)) model.selection = null;
      renderSide();
      toast(`Connection ${from} → ${to} deleted.`);
      if (model.nodes.has(edge.conn.fromDeploymentId)) refreshDeployment(model.from(edge));
      updateStatus(`deleted ${from} → ${to}`);
    } catch (error) {
      reportError('Could not delete the connection', error);
    }
  }

  async function acceptEdge(edge) {
    try {
      const { data: conn } = await api.post(`/connections/${seg(edge.conn.id)}/accept`);
      edge.conn = conn;
      drawing.redrawEdge(edge);
      if (model.isSelected('edge', conn.id)) select({ type: 'edge', id: conn.id });
      else renderSide();
      toast('Suggestion accepted.');
      if (model.nodes.has(conn.fromDeploymentId)) refreshDeployment(model.from(edge));
    } catch (error) {
      reportError('Could not accept the suggestion', error);
    }
  }

  const gestures = attachGestures({
    svg, nodeLayer: layers.nodeLayer, draft: layers.draft, model, drawing, view, onCleanup: ctx.onCleanup,
    select, save: savePosition, connect: createConnection, deleteEdge,
  });

  // ------------------------------------------------------------------ refresh
  refresh.addEventListener('click', async () => {
    refresh.disabled = true;
    try {
      const next = await fetchModel();
      if (!ctx.alive()) return;
      project = next.project;
      model.load(next.loaded);
      drawing.drawAll();
      updateStatus();
      select(model.item(model.selection) ? model.selection : null);
      toast('Canvas refreshed.');
    } catch (error) {
      reportError('Could not refresh', error);
    } finally {
      refresh.disabled = false;
    }
  });

  drawing.drawAll();
  updateStatus();
  renderSide();
  svg.dataset.ready = 'true';
  requestAnimationFrame(() => { if (ctx.alive()) view.fit(); });
  const onResize = () => updateStatus();
  window.addEventListener('resize', onResize);
  ctx.onCleanup(() => window.removeEventListener('resize', onResize));
}
