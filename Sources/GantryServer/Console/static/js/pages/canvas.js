// Architecture canvas (SVG): environments as labelled groups, deployments as nodes coloured by status at their
// canvasPosition, connections as arrows, suggestions dotted. Drag a node to move it (PATCH canvasPosition with
// If-Match on drop); shift-drag or drag the handle to connect two nodes; pan, zoom, fit. Nodes without a stored
// position are laid out automatically and saved only once moved. The browser assembles the whole picture from
// the catalog endpoints. Deploying (js/deploying.js): nodes flag pending changes and drift; the side panel
// deploys, edits, and shows the selected service's revisions (with Rollback) and events; with nothing
// selected it has a "Deploy all pending" button per environment.

import { api, seg, ApiError } from '../api.js';
import { h, s, replace, clear, loading, errorAlert, toast, statusBadge, timeEl, plural, STATUSES, confirmDialog, option } from '../dom.js';
import { deployBadges, deployButton, deployAllButton, deploymentHistory, driftLabel, watchRevision } from '../deploying.js';
import { editDeploymentDialog } from '../deployform.js';

const NODE_W = 184;
const NODE_H = 62;
const GAP_X = 64;
const GAP_Y = 28;
const ENV_PAD = 22;
const ENV_HEAD = 46;
const ENV_GAP = 90;
const MIN_ZOOM = 0.08;
const MAX_ZOOM = 3;
const DRAG_THRESHOLD = 3;

const truncate = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** Longest-path layers of a directed graph (cycles broken by visit order). */
function layers(ids, edges) {
  const out = new Map(ids.map((id) => [id, []]));
  const indegree = new Map(ids.map((id) => [id, 0]));
  for (const [from, to] of edges) {
    if (!out.has(from) || !out.has(to) || from === to) continue;
    out.get(from).push(to);
    indegree.set(to, indegree.get(to) + 1);
  }
  const layer = new Map(ids.map((id) => [id, 0]));
  const queue = ids.filter((id) => indegree.get(id) === 0);
  const seen = new Set();
  while (queue.length || seen.size < ids.length) {
    if (!queue.length) {
      const next = ids.find((id) => !seen.has(id));
      indegree.set(next, 0);
      queue.push(next);
    }
    const id = queue.shift();
    if (seen.has(id)) continue;
    seen.add(id);
    for (const to of out.get(id)) {
      if (seen.has(to)) continue;
      layer.set(to, Math.max(layer.get(to), layer.get(id) + 1));
      indegree.set(to, indegree.get(to) - 1);
      if (indegree.get(to) <= 0) queue.push(to);
    }
  }
  return layer;
}

function bbox(nodes) {
  if (!nodes.length) return null;
  let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
  for (const n of nodes) {
    minX = Math.min(minX, n.x); minY = Math.min(minY, n.y);
    maxX = Math.max(maxX, n.x + NODE_W); maxY = Math.max(maxY, n.y + NODE_H);
  }
  return { minX, minY, maxX, maxY };
}

/** Places nodes without a stored position: per environment, layered columns following the connections. */
function autoLayout(groups) {
  const positioned = [];
  for (const g of groups) for (const n of g.nodes) if (n.positioned) positioned.push(n);
  const all = bbox(positioned);
  let cursorX = all ? all.maxX + ENV_GAP + ENV_PAD : ENV_PAD;
  const baseY = all ? all.minY : ENV_HEAD;
  for (const g of groups) {
    const free = g.nodes.filter((n) => !n.positioned);
    const own = bbox(g.nodes.filter((n) => n.positioned));
    if (!free.length) {
      if (!g.nodes.length) { g.slot = { x: cursorX, y: baseY }; cursorX += NODE_W + 2 * ENV_PAD + ENV_GAP; }
      continue;
    }
    const ids = free.map((n) => n.dep.id);
    const layer = layers(ids, g.connections.map((c) => [c.fromDeploymentId, c.toDeploymentId]));
    const perColumn = Math.max(5, Math.ceil(Math.sqrt(free.length) * 1.4));
    const columns = new Map();
    for (const n of [...free].sort((a, b) => a.dep.name.localeCompare(b.dep.name, undefined, { numeric: true }))) {
      const l = layer.get(n.dep.id) || 0;
      if (!columns.has(l)) columns.set(l, []);
      columns.get(l).push(n);
    }
    const origin = own ? { x: own.minX, y: own.maxY + GAP_Y + 12 } : { x: cursorX, y: baseY };
    let col = 0;
    for (const l of [...columns.keys()].sort((a, b) => a - b)) {
      const list = columns.get(l);
      for (let i = 0; i < list.length; i++) {
        if (i > 0 && i % perColumn === 0) col++;
        list[i].x = origin.x + col * (NODE_W + GAP_X);
        list[i].y = origin.y + (i % perColumn) * (NODE_H + GAP_Y);
      }
      col++;
    }
    if (!own) cursorX += col * (NODE_W + GAP_X) - GAP_X + 2 * ENV_PAD + ENV_GAP;
  }
}

/** Where the segment from the centre of a node towards `p` leaves the node's box. */
function boundaryPoint(node, p) {
  const cx = node.x + NODE_W / 2;
  const cy = node.y + NODE_H / 2;
  const dx = p.x - cx;
  const dy = p.y - cy;
  if (dx === 0 && dy === 0) return { x: cx, y: cy };
  const hw = NODE_W / 2 + 3;
  const hh = NODE_H / 2 + 3;
  const scale = Math.min(dx ? hw / Math.abs(dx) : Infinity, dy ? hh / Math.abs(dy) : Infinity);
  if (scale >= 1) return { x: cx, y: cy };
  return { x: cx + dx * scale, y: cy + dy * scale };
}

function edgeGeometry(a, b, curved) {
  const ac = { x: a.x + NODE_W / 2, y: a.y + NODE_H / 2 };
  const bc = { x: b.x + NODE_W / 2, y: b.y + NODE_H / 2 };
  if (!curved) {
    const start = boundaryPoint(a, bc);
    const end = boundaryPoint(b, ac);
    return { d: `M${start.x},${start.y} L${end.x},${end.y}`, mid: { x: (start.x + end.x) / 2, y: (start.y + end.y) / 2 } };
  }
  const mx = (ac.x + bc.x) / 2;
  const my = (ac.y + bc.y) / 2;
  const len = Math.hypot(bc.x - ac.x, bc.y - ac.y) || 1;
  const off = 36;
  const control = { x: mx - ((bc.y - ac.y) / len) * off, y: my + ((bc.x - ac.x) / len) * off };
  const start = boundaryPoint(a, control);
  const end = boundaryPoint(b, control);
  return { d: `M${start.x},${start.y} Q${control.x},${control.y} ${end.x},${end.y}`, mid: { x: (start.x + 2 * control.x + end.x) / 4, y: (start.y + 2 * control.y + end.y) / 4 } };
}

export async function renderCanvas(ctx) {
  const projectId = ctx.params.projectId;
  replace(ctx.el, h('div', { class: 'canvas-top' }, loading('Loading the architecture…')));

  let project;
  let groups;
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
  project = fetched.project;
  ctx.setTitle(`Architecture · ${project.name}`);

  // ------------------------------------------------------------------ model
  /** id → {dep, group, x, y, positioned, el, edges:Set} */
  const nodes = new Map();
  /** id → {conn, el, group} */
  const edges = new Map();

  function buildModel(loaded) {
    nodes.clear();
    edges.clear();
    groups = loaded.map(({ env, deployments, connections }) => {
      const group = { env, nodes: [], connections, el: null };
      for (const dep of deployments) {
        const node = {
          dep, group, positioned: Boolean(dep.canvasPosition),
          x: dep.canvasPosition ? dep.canvasPosition.x : 0, y: dep.canvasPosition ? dep.canvasPosition.y : 0,
          el: null, edges: new Set(),
        };
        nodes.set(dep.id, node);
        group.nodes.push(node);
      }
      return group;
    });
    autoLayout(groups);
    for (const g of groups) for (const conn of g.connections) addEdgeModel(conn, g);
  }
  function addEdgeModel(conn, group) {
    const from = nodes.get(conn.fromDeploymentId);
    const to = nodes.get(conn.toDeploymentId);
    if (!from || !to) return null;
    const edge = { conn, group, el: null };
    edges.set(conn.id, edge);
    from.edges.add(edge);
    to.edges.add(edge);
    return edge;
  }
  buildModel(fetched.loaded);

  // ------------------------------------------------------------------ DOM
  const svg = s('svg', { id: 'canvas', role: 'group', 'aria-label': `Architecture of ${project.name}`, tabindex: '0', 'aria-describedby': 'canvas-help' });
  const defs = s('defs',
    ['', 'suggestion', 'selected'].map((kind) => s('marker', {
      id: `arrow${kind ? `-${kind}` : ''}`, viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '10', markerHeight: '10',
      markerUnits: 'userSpaceOnUse', orient: 'auto',
    }, s('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrowhead ${kind}` }))));
  const viewport = s('g', { id: 'viewport' });
  const envLayer = s('g', { class: 'layer-envs' });
  const edgeLayer = s('g', { class: 'layer-edges' });
  const nodeLayer = s('g', { class: 'layer-nodes' });
  const draft = s('path', { class: 'draft-line', d: '', visibility: 'hidden' });
  viewport.append(envLayer, edgeLayer, nodeLayer, draft);
  svg.append(defs, viewport);

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

  // ------------------------------------------------------------------ drawing
  function nodeClasses(node) {
    return ['node', `st-${node.dep.status}`, selection && selection.type === 'node' && selection.id === node.dep.id ? 'selected' : ''].filter(Boolean).join(' ');
  }

  function drawNode(node) {
    const { dep } = node;
    const flags = [dep.pendingChanges ? 'pending changes' : null, dep.drift ? `drifted (${driftLabel(dep.drift.fields || [])})` : null].filter(Boolean);
    const el = s('g', {
      class: nodeClasses(node), tabindex: '0', role: 'button',
      'aria-label': `${dep.name}, ${dep.status}${flags.length ? `, ${flags.join(', ')}` : ''}, in ${node.group.env.name}`,
      dataset: { deploymentId: dep.id, environmentId: node.group.env.id, status: dep.status, pending: String(Boolean(dep.pendingChanges)), drift: dep.drift ? 'true' : 'false' },
    },
    s('title', `${dep.name} (${dep.status})\n${dep.image}${flags.length ? `\n${flags.join('; ')}` : ''}`),
    s('rect', { class: 'node-box', width: NODE_W, height: NODE_H, rx: 9 }),
    s('rect', { class: `node-stripe st-fill-${dep.status}`, x: 1, y: 1, width: 6, height: NODE_H - 2, rx: 3 }),
    s('text', { class: 'node-name', x: 16, y: 22 }, truncate(dep.name, 21)),
    s('circle', { class: `st-fill-${dep.status}`, cx: 20, cy: 39, r: 4.5 }),
    s('text', { class: `node-status`, x: 29, y: 43 }, dep.status),
    s('text', { class: 'node-sub', x: 16, y: 56 }, truncate(dep.image, 27)),
    dep.pendingChanges || dep.drift ? s('text', { class: 'node-flags', x: NODE_W - 12, y: 43, 'text-anchor': 'end' },
      dep.pendingChanges ? s('tspan', { class: 'flag-pending' }, 'pending') : null,
      dep.pendingChanges && dep.drift ? ' · ' : null,
      dep.drift ? s('tspan', { class: 'flag-drift' }, 'drift') : null) : null,
    s('circle', { class: 'handle', cx: NODE_W, cy: NODE_H / 2, r: 7.5 }, s('title', `Drag to connect ${dep.name} to another service`)));
    node.el = el;
    placeNode(node);
    return el;
  }

  function placeNode(node) {
    node.el.setAttribute('transform', `translate(${node.x},${node.y})`);
    node.el.dataset.x = String(Math.round(node.x));
    node.el.dataset.y = String(Math.round(node.y));
  }

  function hasReverse(edge) {
    const { fromDeploymentId: f, toDeploymentId: t } = edge.conn;
    for (const other of nodes.get(t).edges) if (other.conn.fromDeploymentId === t && other.conn.toDeploymentId === f) return true;
    return false;
  }

  function drawEdge(edge) {
    const { conn } = edge;
    const from = nodes.get(conn.fromDeploymentId);
    const to = nodes.get(conn.toDeploymentId);
    const suggestion = conn.sourceHint === 'suggestion';
    const el = s('g', {
      class: `edge${suggestion ? ' suggestion' : ''}`, tabindex: '0', role: 'button',
      'aria-label': `Connection from ${from.dep.name} to ${to.dep.name}${suggestion ? ' (suggested)' : ''}`,
      dataset: { connectionId: conn.id, sourceHint: conn.sourceHint, from: conn.fromDeploymentId, to: conn.toDeploymentId },
    },
    s('title', `${from.dep.name} → ${to.dep.name}${conn.injectedVar ? ` (${conn.injectedVar})` : ''}${suggestion ? ' — suggested' : ''}`),
    s('path', { class: 'edge-hit' }),
    s('path', { class: 'edge-line', 'marker-end': `url(#arrow${suggestion ? '-suggestion' : ''})` }));
    if (conn.injectedVar) el.append(s('text', { class: 'edge-label', 'text-anchor': 'middle' }, conn.injectedVar));
    edge.el = el;
    routeEdge(edge);
    return el;
  }

  function routeEdge(edge) {
    const from = nodes.get(edge.conn.fromDeploymentId);
    const to = nodes.get(edge.conn.toDeploymentId);
    const { d, mid } = edgeGeometry(from, to, hasReverse(edge));
    for (const path of edge.el.querySelectorAll('path')) path.setAttribute('d', d);
    const label = edge.el.querySelector('text');
    if (label) { label.setAttribute('x', mid.x); label.setAttribute('y', mid.y - 6); }
  }

  function drawGroup(group) {
    const el = s('g', { class: 'env-group', dataset: { environmentId: group.env.id } },
      s('rect', { class: 'env-box', rx: 14 }),
      s('text', { class: 'env-label' }, group.env.name),
      s('text', { class: 'env-sub' }, groupSubText(group)));
    if (!group.nodes.length) el.append(s('text', { class: 'env-empty' }, 'No deployments yet'));
    group.el = el;
    sizeGroup(group);
    return el;
  }

  function groupSubText(group) {
    const pending = group.nodes.filter((n) => n.dep.pendingChanges).length;
    return `namespace ${group.env.namespace} · ${plural(group.nodes.length, 'service')}${pending ? ` · ${pending} pending` : ''}`;
  }

  function sizeGroup(group) {
    const box = bbox(group.nodes) || { minX: group.slot.x, minY: group.slot.y, maxX: group.slot.x + NODE_W, maxY: group.slot.y + NODE_H };
    const [rect, label, sub, empty] = group.el.children;
    const x = box.minX - ENV_PAD;
    const y = box.minY - ENV_HEAD;
    // Wide enough for its label and sub-line (measured once drawn; estimated before that).
    const textWidth = (el, perChar) => Math.max(el.isConnected && el.getComputedTextLength ? el.getComputedTextLength() : 0, el.textContent.length * perChar);
    const labelWidth = Math.max(textWidth(label, 8.2), textWidth(sub, 6.4)) + 28;
    group.box = { x, y, w: Math.max(box.maxX - box.minX + 2 * ENV_PAD, labelWidth), h: box.maxY - box.minY + ENV_HEAD + ENV_PAD };
    rect.setAttribute('x', x); rect.setAttribute('y', y);
    rect.setAttribute('width', group.box.w); rect.setAttribute('height', group.box.h);
    label.setAttribute('x', x + 14); label.setAttribute('y', y + 20);
    sub.setAttribute('x', x + 14); sub.setAttribute('y', y + 36);
    if (empty) { empty.setAttribute('x', x + 14); empty.setAttribute('y', y + ENV_HEAD + 26); }
  }

  function drawAll() {
    clear(envLayer); clear(edgeLayer); clear(nodeLayer);
    const envFrag = document.createDocumentFragment();
    for (const g of groups) envFrag.append(drawGroup(g));
    envLayer.append(envFrag);
    const nodeFrag = document.createDocumentFragment();
    for (const node of nodes.values()) nodeFrag.append(drawNode(node));
    nodeLayer.append(nodeFrag);
    const edgeFrag = document.createDocumentFragment();
    for (const edge of edges.values()) edgeFrag.append(drawEdge(edge));
    edgeLayer.append(edgeFrag);
    updateStatus();
  }

  // ------------------------------------------------------------------ view (pan / zoom)
  const view = { x: 0, y: 0, k: 1 };
  let frame = 0;
  function applyView() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      viewport.setAttribute('transform', `translate(${view.x},${view.y}) scale(${view.k})`);
      svg.dataset.zoom = view.k.toFixed(3);
      updateStatus();
    });
  }
  function zoomAt(factor, cx, cy) {
    const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, view.k * factor));
    const f = k / view.k;
    view.x = cx - (cx - view.x) * f;
    view.y = cy - (cy - view.y) * f;
    view.k = k;
    applyView();
  }
  function stageSize() {
    const r = svg.getBoundingClientRect();
    return { w: r.width || 800, h: r.height || 500 };
  }
  function fitToScreen() {
    const boxes = groups.map((g) => g.box).filter(Boolean);
    const { w, h: hh } = stageSize();
    if (!boxes.length) { view.x = 40; view.y = 40; view.k = 1; applyView(); return; }
    const minX = Math.min(...boxes.map((b) => b.x));
    const minY = Math.min(...boxes.map((b) => b.y));
    const maxX = Math.max(...boxes.map((b) => b.x + b.w));
    const maxY = Math.max(...boxes.map((b) => b.y + b.h));
    const margin = 32;
    const k = Math.min(1, Math.max(MIN_ZOOM, Math.min((w - 2 * margin) / (maxX - minX || 1), (hh - 2 * margin) / (maxY - minY || 1))));
    view.k = k;
    view.x = (w - (maxX - minX) * k) / 2 - minX * k;
    view.y = Math.max(margin, (hh - (maxY - minY) * k) / 2) - minY * k;
    applyView();
  }
  function toWorld(clientX, clientY) {
    const r = svg.getBoundingClientRect();
    return { x: (clientX - r.left - view.x) / view.k, y: (clientY - r.top - view.y) / view.k };
  }
  zoomIn.addEventListener('click', () => { const { w, h: hh } = stageSize(); zoomAt(1.25, w / 2, hh / 2); });
  zoomOut.addEventListener('click', () => { const { w, h: hh } = stageSize(); zoomAt(0.8, w / 2, hh / 2); });
  fit.addEventListener('click', fitToScreen);
  actual.addEventListener('click', () => { const { w, h: hh } = stageSize(); zoomAt(1 / view.k, w / 2, hh / 2); });
  svg.addEventListener('wheel', (event) => {
    event.preventDefault();
    const r = svg.getBoundingClientRect();
    const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    zoomAt(Math.exp(-delta * 0.0015), event.clientX - r.left, event.clientY - r.top);
  }, { passive: false });

  let saving = 0;
  let lastMessage = '';
  function updateStatus(message) {
    if (message !== undefined) lastMessage = message;
    statusLine.textContent = `${plural(nodes.size, 'service')} · ${plural(edges.size, 'connection')} · ${Math.round(view.k * 100)}%${saving ? ' · saving…' : ''}${lastMessage ? ` · ${lastMessage}` : ''}`;
  }

  // ------------------------------------------------------------------ selection and side panel
  let selection = null; // {type: 'node'|'edge', id}
  function select(next) {
    if (selection) {
      const old = selection.type === 'node' ? nodes.get(selection.id) : edges.get(selection.id);
      if (old && old.el) {
        old.el.classList.remove('selected');
        if (selection.type === 'edge') old.el.querySelector('.edge-line').setAttribute('marker-end', `url(#arrow${old.conn.sourceHint === 'suggestion' ? '-suggestion' : ''})`);
      }
    }
    selection = next;
    if (selection) {
      const item = selection.type === 'node' ? nodes.get(selection.id) : edges.get(selection.id);
      if (!item) { selection = null; renderSide(); return; }
      item.el.classList.add('selected');
      if (selection.type === 'edge') item.el.querySelector('.edge-line').setAttribute('marker-end', 'url(#arrow-selected)');
    }
    renderSide();
  }

  function connectionRow(edge, perspective) {
    const { conn } = edge;
    const other = nodes.get(perspective === 'out' ? conn.toDeploymentId : conn.fromDeploymentId);
    return h('li', { dataset: { connectionId: conn.id } },
      h('span', perspective === 'out' ? '→ ' : '← ', h('button', { type: 'button', class: 'btn-link', onclick: () => focusNode(other.dep.id) }, other.dep.name),
        conn.sourceHint === 'suggestion' ? [' ', h('span', { class: 'badge plain st-pending' }, 'suggested')] : null),
      h('span', { class: 'btn-group' },
        conn.sourceHint === 'suggestion' ? h('button', { type: 'button', class: 'btn btn-small', onclick: () => acceptEdge(edge) }, 'Accept') : null,
        h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `Delete connection to ${other.dep.name}`, onclick: () => deleteEdge(edge) }, 'Delete')));
  }

  // ------------------------------------------------------------------ deploying
  /** The selected service's history (revisions polled while in flight, events); one at a time. */
  let sideHistory = null;
  ctx.onCleanup(() => { if (sideHistory) sideHistory.history.destroy(); });
  function sideHistoryFor(node) {
    if (sideHistory && sideHistory.id === node.dep.id) { sideHistory.history.update(node.dep); return sideHistory.history; }
    if (sideHistory) sideHistory.history.destroy();
    const history = deploymentHistory({ dep: node.dep, alive: ctx.alive, compact: true, onChange: () => refreshDeployment(node) });
    sideHistory = { id: node.dep.id, history };
    return history;
  }
  function dropSideHistory() {
    if (sideHistory) { sideHistory.history.destroy(); sideHistory = null; }
  }

  const discoveries = new Map();
  function discoveryFor(env) {
    if (!discoveries.has(env.id)) {
      const promise = api.get(`/environments/${seg(env.id)}/cluster-discovery`).then((r) => r.data);
      promise.catch(() => discoveries.delete(env.id));
      discoveries.set(env.id, promise);
    }
    return discoveries.get(env.id);
  }

  /** Takes a newer copy of a deployment: the node's flags and status, the group's pending count, the side panel. */
  function applyDeployment(node, fresh) {
    if (!nodes.has(node.dep.id)) return;
    node.dep = { ...node.dep, ...fresh };
    if (!(gesture && gesture.node === node)) {
      const old = node.el;
      const hadFocus = old && document.activeElement === old;
      const el = drawNode(node);
      if (old) old.replaceWith(el);
      if (hadFocus) el.focus({ preventScroll: true });
    }
    if (node.group.el) { node.group.el.querySelector('.env-sub').textContent = groupSubText(node.group); sizeGroup(node.group); }
    if (!selection || (selection.type === 'node' && selection.id === node.dep.id)) renderSide();
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
        const node = nodes.get(dep.id);
        if (node) applyDeployment(node, dep);
      }
      renderSide();
    } catch (error) {
      if (ctx.alive()) reportError(`Could not re-read ${group.env.name}`, error);
    }
  }

  function renderSide() {
    if (!selection || selection.type !== 'node') dropSideHistory();
    clear(side);
    if (!selection) {
      const suggestions = [...edges.values()].filter((e) => e.conn.sourceHint === 'suggestion');
      replace(side, h('h2', project.name),
        h('p', { class: 'meta' }, `${plural(groups.length, 'environment')}, ${plural(nodes.size, 'service')}, ${plural(edges.size, 'connection')}.`),
        groups.length ? h('ul', { class: 'conn-list env-list' }, groups.map((g) => h('li', { dataset: { environmentId: g.env.id } },
          h('span', h('a', { href: `#/projects/${seg(projectId)}/environments/${seg(g.env.id)}` }, g.env.name), ' ',
            h('span', { class: 'meta' }, plural(g.nodes.length, 'service'))),
          deployAllButton({
            environment: g.env, pending: g.nodes.filter((n) => n.dep.pendingChanges).map((n) => n.dep), id: `deploy-all-${g.env.id}`,
            onDeployed: async (revisions) => {
              for (const revision of revisions) {
                const stop = watchRevision(revision, { alive: ctx.alive, onStatus: () => { const n = nodes.get(revision.deploymentId); if (n) refreshDeployment(n); } });
                ctx.onCleanup(stop);
              }
              await refreshGroup(g);
            },
          })))) : h('p', 'This project has no environments yet. ', h('a', { href: `#/projects/${seg(projectId)}` }, 'Create one'), '.'),
        suggestions.length ? [h('h3', 'Suggested connections'), h('ul', { class: 'conn-list', id: 'suggestion-list' }, suggestions.map((e) => h('li', { dataset: { connectionId: e.conn.id } },
          h('span', `${nodes.get(e.conn.fromDeploymentId).dep.name} → ${nodes.get(e.conn.toDeploymentId).dep.name}`),
          h('span', { class: 'btn-group' }, h('button', { type: 'button', class: 'btn btn-small', onclick: () => acceptEdge(e) }, 'Accept'),
            h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: () => deleteEdge(e) }, 'Dismiss')))))] : null,
        h('p', { class: 'muted' }, 'Select a service or a connection to see its details.'));
      return;
    }
    if (selection.type === 'node') {
      const node = nodes.get(selection.id);
      const { dep } = node;
      const outgoing = [...node.edges].filter((e) => e.conn.fromDeploymentId === dep.id);
      const incoming = [...node.edges].filter((e) => e.conn.toDeploymentId === dep.id);
      const candidates = node.group.nodes.filter((n) => n !== node && !outgoing.some((e) => e.conn.toDeploymentId === n.dep.id));
      const target = h('select', { id: 'connect-target', 'aria-label': `Connect ${dep.name} to` }, option('', 'Choose a service…'), candidates.map((n) => option(n.dep.id, n.dep.name)));
      const connectButton = h('button', { type: 'button', class: 'btn btn-small btn-primary', onclick: () => { if (target.value) createConnection(node, nodes.get(target.value)); } }, 'Connect');
      const history = sideHistoryFor(node);
      replace(side,
        h('h2', dep.name), h('div', { class: 'side-flags' }, statusBadge(dep.status), deployBadges(dep)),
        h('div', { class: 'btn-group side-actions' },
          deployButton(dep, { onDeployed: async (revision) => { history.add(revision); await refreshDeployment(node); } }),
          h('button', {
            type: 'button', class: 'btn btn-small', dataset: { action: 'edit' }, 'aria-label': `Edit deployment ${dep.name}`,
            onclick: () => editDeploymentDialog({ dep, getDiscovery: () => discoveryFor(node.group.env), onSaved: (saved) => applyDeployment(node, saved) }),
          }, 'Edit'),
          h('a', { class: 'btn btn-small', href: `#/projects/${seg(projectId)}/environments/${seg(node.group.env.id)}` }, 'Environment')),
        h('dl',
          h('dt', 'Environment'), h('dd', h('a', { href: `#/projects/${seg(projectId)}/environments/${seg(node.group.env.id)}` }, node.group.env.name)),
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
      return;
    }
    const edge = edges.get(selection.id);
    const { conn } = edge;
    replace(side, 
      h('h2', `${nodes.get(conn.fromDeploymentId).dep.name} → ${nodes.get(conn.toDeploymentId).dep.name}`),
      h('dl',
        h('dt', 'Kind'), h('dd', conn.sourceHint === 'suggestion' ? 'Suggested (not yet accepted)' : 'Manual'),
        h('dt', 'Injected variable'), h('dd', conn.injectedVar ? h('code', conn.injectedVar) : '—'),
        h('dt', 'Environment'), h('dd', edge.group.env.name),
        h('dt', 'Created'), h('dd', timeEl(conn.createdAt))),
      h('div', { class: 'btn-group' },
        conn.sourceHint === 'suggestion' ? h('button', { type: 'button', class: 'btn btn-primary', id: 'accept-connection', onclick: () => acceptEdge(edge) }, 'Accept suggestion') : null,
        h('button', { type: 'button', class: 'btn btn-danger', id: 'delete-connection', onclick: () => deleteEdge(edge) }, 'Delete connection')));
  }

  function focusNode(id) {
    const node = nodes.get(id);
    if (!node) return;
    select({ type: 'node', id });
    node.el.focus({ preventScroll: true });
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
        node.dep = { ...node.dep, ...fresh };
        result = await api.patch(path, { canvasPosition: position }, { ifMatch: fresh.version });
      }
      node.dep = { ...node.dep, ...result.data };
      node.positioned = true;
      node.el.dataset.savedX = String(position.x);
      node.el.dataset.savedY = String(position.y);
      updateStatus(`${node.dep.name} moved`);
    } catch (error) {
      if (previous) { node.x = previous.x; node.y = previous.y; placeNode(node); afterMove(node); }
      reportError(`Could not save the position of ${node.dep.name}`, error);
    } finally {
      saving--;
      node.el.classList.remove('saving');
      updateStatus();
      if (selection && selection.type === 'node' && selection.id === node.dep.id) renderSide();
    }
  }

  function afterMove(node) {
    for (const edge of node.edges) routeEdge(edge);
    sizeGroup(node.group);
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
      from.group.connections.push(conn);
      const edge = addEdgeModel(conn, from.group);
      edgeLayer.append(drawEdge(edge));
      for (const other of to.edges) if (other !== edge) routeEdge(other);
      toast(`Connected ${from.dep.name} → ${to.dep.name}.`);
      updateStatus(`connected ${from.dep.name} → ${to.dep.name}`);
      refreshDeployment(from);
      select({ type: 'edge', id: conn.id });
    } catch (error) {
      reportError('Could not connect', error);
    }
  }

  function removeEdge(edge) {
    edges.delete(edge.conn.id);
    nodes.get(edge.conn.fromDeploymentId).edges.delete(edge);
    nodes.get(edge.conn.toDeploymentId).edges.delete(edge);
    edge.group.connections = edge.group.connections.filter((c) => c.id !== edge.conn.id);
    edge.el.remove();
    for (const other of nodes.get(edge.conn.fromDeploymentId).edges) routeEdge(other);
  }

  async function deleteEdge(edge) {
    const from = nodes.get(edge.conn.fromDeploymentId).dep.name;
    const to = nodes.get(edge.conn.toDeploymentId).dep.name;
    const ok = await confirmDialog({ title: 'Delete this connection?', message: `${from} → ${to} will be removed.`, confirmLabel: 'Delete connection', danger: true });
    if (!ok) return;
    try {
      await api.del(`/connections/${seg(edge.conn.id)}`);
      removeEdge(edge);
      if (selection && selection.type === 'edge' && selection.id === edge.conn.id) selection = null;
      renderSide();
      toast(`Connection ${from} → ${to} deleted.`);
      if (nodes.has(edge.conn.fromDeploymentId)) refreshDeployment(nodes.get(edge.conn.fromDeploymentId));
      updateStatus(`deleted ${from} → ${to}`);
    } catch (error) {
      reportError('Could not delete the connection', error);
    }
  }

  async function acceptEdge(edge) {
    try {
      const { data: conn } = await api.post(`/connections/${seg(edge.conn.id)}/accept`);
      edge.conn = conn;
      const fresh = drawEdge(edge);
      edgeLayer.querySelector(`[data-connection-id="${CSS.escape(conn.id)}"]`)?.replaceWith(fresh);
      if (selection && selection.type === 'edge' && selection.id === conn.id) select({ type: 'edge', id: conn.id });
      else renderSide();
      toast('Suggestion accepted.');
      if (nodes.has(conn.fromDeploymentId)) refreshDeployment(nodes.get(conn.fromDeploymentId));
    } catch (error) {
      reportError('Could not accept the suggestion', error);
    }
  }

  // ------------------------------------------------------------------ pointer interaction
  let gesture = null;
  let dropTarget = null;

  function nodeAt(point, except) {
    for (const node of nodes.values()) {
      if (node === except) continue;
      if (point.x >= node.x && point.x <= node.x + NODE_W && point.y >= node.y && point.y <= node.y + NODE_H) return node;
    }
    return null;
  }

  function setDropTarget(node) {
    if (dropTarget === node) return;
    if (dropTarget) dropTarget.el.classList.remove('drop-target');
    dropTarget = node;
    if (dropTarget) dropTarget.el.classList.add('drop-target');
  }

  svg.addEventListener('pointerdown', (event) => {
    if (event.button !== 0 || gesture) return;
    const nodeEl = event.target.closest('.node');
    const edgeEl = event.target.closest('.edge');
    const start = { x: event.clientX, y: event.clientY };
    if (nodeEl) {
      const node = nodes.get(nodeEl.dataset.deploymentId);
      nodeEl.focus({ preventScroll: true });
      if (event.shiftKey || event.target.closest('.handle')) {
        gesture = { type: 'connect', node, start };
        svg.classList.add('connecting');
      } else {
        gesture = { type: 'drag', node, start, origin: { x: node.x, y: node.y }, moved: false };
      }
    } else if (edgeEl) {
      edgeEl.focus({ preventScroll: true });
      select({ type: 'edge', id: edgeEl.dataset.connectionId });
      return;
    } else {
      gesture = { type: 'pan', start, origin: { x: view.x, y: view.y }, moved: false };
    }
    svg.setPointerCapture(event.pointerId);
    event.preventDefault();
  });

  function moveGesture(event) {
    if (!gesture) return;
    const dx = event.clientX - gesture.start.x;
    const dy = event.clientY - gesture.start.y;
    if (gesture.type === 'pan') {
      if (!gesture.moved && Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
      gesture.moved = true;
      svg.classList.add('panning');
      view.x = gesture.origin.x + dx;
      view.y = gesture.origin.y + dy;
      applyView();
    } else if (gesture.type === 'drag') {
      if (!gesture.moved && Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
      if (!gesture.moved) {
        gesture.moved = true;
        gesture.node.el.classList.add('dragging');
        nodeLayer.append(gesture.node.el); // on top of the others
        gesture.node.el.focus({ preventScroll: true });
      }
      gesture.node.x = gesture.origin.x + dx / view.k;
      gesture.node.y = gesture.origin.y + dy / view.k;
      placeNode(gesture.node);
      afterMove(gesture.node);
    } else if (gesture.type === 'connect') {
      const from = gesture.node;
      const p = toWorld(event.clientX, event.clientY);
      const a = boundaryPoint(from, p);
      draft.setAttribute('d', `M${a.x},${a.y} L${p.x},${p.y}`);
      draft.setAttribute('visibility', 'visible');
      setDropTarget(nodeAt(p, from));
    }
  }

  function endGesture(event, cancelled) {
    if (!gesture) return;
    moveGesture(event);
    const g = gesture;
    gesture = null;
    svg.classList.remove('panning', 'connecting');
    if (svg.hasPointerCapture(event.pointerId)) svg.releasePointerCapture(event.pointerId);
    if (g.type === 'pan') {
      if (!g.moved) select(null);
    } else if (g.type === 'drag') {
      g.node.el.classList.remove('dragging');
      if (cancelled && g.moved) {
        g.node.x = g.origin.x; g.node.y = g.origin.y; placeNode(g.node); afterMove(g.node);
      } else if (g.moved) {
        savePosition(g.node, g.origin);
      } else {
        select({ type: 'node', id: g.node.dep.id });
      }
    } else if (g.type === 'connect') {
      draft.setAttribute('visibility', 'hidden');
      const target = dropTarget;
      setDropTarget(null);
      if (!cancelled && target) createConnection(g.node, target);
      else if (!cancelled) select({ type: 'node', id: g.node.dep.id });
    }
  }

  svg.addEventListener('pointermove', moveGesture);
  svg.addEventListener('pointerup', (event) => endGesture(event, false));
  svg.addEventListener('pointercancel', (event) => endGesture(event, true));
  svg.addEventListener('lostpointercapture', (event) => { if (gesture) endGesture(event, false); });

  // ------------------------------------------------------------------ keyboard
  const pendingSaves = new Map();
  svg.addEventListener('keydown', (event) => {
    const nodeEl = event.target.closest && event.target.closest('.node');
    const edgeEl = event.target.closest && event.target.closest('.edge');
    const { w, h: hh } = stageSize();
    if (nodeEl && event.key.startsWith('Arrow')) {
      event.preventDefault();
      const node = nodes.get(nodeEl.dataset.deploymentId);
      const step = event.shiftKey ? 50 : 10;
      if (!pendingSaves.has(node)) pendingSaves.set(node, { origin: { x: node.x, y: node.y }, timer: 0 });
      const pending = pendingSaves.get(node);
      if (event.key === 'ArrowLeft') node.x -= step;
      if (event.key === 'ArrowRight') node.x += step;
      if (event.key === 'ArrowUp') node.y -= step;
      if (event.key === 'ArrowDown') node.y += step;
      placeNode(node);
      afterMove(node);
      clearTimeout(pending.timer);
      pending.timer = setTimeout(() => { pendingSaves.delete(node); savePosition(node, pending.origin); }, 600);
      return;
    }
    if ((event.key === 'Enter' || event.key === ' ') && (nodeEl || edgeEl)) {
      event.preventDefault();
      if (nodeEl) select({ type: 'node', id: nodeEl.dataset.deploymentId });
      else select({ type: 'edge', id: edgeEl.dataset.connectionId });
      return;
    }
    if ((event.key === 'Delete' || event.key === 'Backspace') && edgeEl) {
      event.preventDefault();
      const edge = edges.get(edgeEl.dataset.connectionId);
      if (edge) deleteEdge(edge);
      return;
    }
    if (event.key === 'Escape') { select(null); return; }
    if (event.key === '+' || event.key === '=') { event.preventDefault(); zoomAt(1.25, w / 2, hh / 2); }
    else if (event.key === '-' || event.key === '_') { event.preventDefault(); zoomAt(0.8, w / 2, hh / 2); }
    else if (event.key === '0') { event.preventDefault(); fitToScreen(); }
    else if (event.key === '1') { event.preventDefault(); zoomAt(1 / view.k, w / 2, hh / 2); }
  });
  ctx.onCleanup(() => { for (const pending of pendingSaves.values()) clearTimeout(pending.timer); });

  // ------------------------------------------------------------------ refresh
  refresh.addEventListener('click', async () => {
    refresh.disabled = true;
    try {
      const next = await fetchModel();
      if (!ctx.alive()) return;
      project = next.project;
      buildModel(next.loaded);
      drawAll();
      select(selection && (selection.type === 'node' ? nodes.has(selection.id) : edges.has(selection.id)) ? selection : null);
      toast('Canvas refreshed.');
    } catch (error) {
      reportError('Could not refresh', error);
    } finally {
      refresh.disabled = false;
    }
  });

  drawAll();
  renderSide();
  svg.dataset.ready = 'true';
  requestAnimationFrame(() => { if (ctx.alive()) fitToScreen(); });
  const onResize = () => updateStatus();
  window.addEventListener('resize', onResize);
  ctx.onCleanup(() => window.removeEventListener('resize', onResize));
}
