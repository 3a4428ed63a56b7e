// Drawing the canvas model in SVG: environments as labelled, dashed groups; deployments as nodes coloured by
// status (with the pending and drift flags); connections as arrows, straight or curved when both ways,
// suggestions dotted. Each model item keeps its element in `el`.

import { s, clear, plural } from '../dom.js';
import { driftLabel } from '../deploying.js';
import { NODE_W, NODE_H, ENV_PAD, ENV_HEAD, bbox } from './model.js';

const truncate = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** Where the segment from the centre of a node towards `p` leaves the node's box. */
export function boundaryPoint(node, p) {
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

const arrow = (conn) => `url(#arrow${conn.sourceHint === 'suggestion' ? '-suggestion' : ''})`;

/** The <svg> with its arrowheads and layers (environments, then connections, then services, then the draft line). */
export function canvasSvg(label) {
  const svg = s('svg', { id: 'canvas', role: 'group', 'aria-label': label, tabindex: '0', 'aria-describedby': 'canvas-help' });
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
  return { svg, viewport, envLayer, edgeLayer, nodeLayer, draft };
}

/** Draws `model` into the layers of canvasSvg(); the functions keep elements and model in step. */
export function createDrawing(model, { envLayer, edgeLayer, nodeLayer }) {
  function nodeClasses(node) {
    return ['node', `st-${node.dep.status}`, model.isSelected('node', node.dep.id) ? 'selected' : ''].filter(Boolean).join(' ');
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

  /** Draws a node again in place (its deployment changed), keeping the keyboard focus on it. */
  function redrawNode(node) {
    const old = node.el;
    const hadFocus = old && document.activeElement === old;
    const el = drawNode(node);
    if (old) old.replaceWith(el);
    if (hadFocus) el.focus({ preventScroll: true });
  }

  function placeNode(node) {
    node.el.setAttribute('transform', `translate(${node.x},${node.y})`);
    node.el.dataset.x = String(Math.round(node.x));
    node.el.dataset.y = String(Math.round(node.y));
  }

  function drawEdge(edge) {
    const { conn } = edge;
    const from = model.from(edge);
    const to = model.to(edge);
    const suggestion = conn.sourceHint === 'suggestion';
    const el = s('g', {
      class: `edge${suggestion ? ' suggestion' : ''}`, tabindex: '0', role: 'button',
      'aria-label': `Connection from ${from.dep.name} to ${to.dep.name}${suggestion ? ' (suggested)' : ''}`,
      dataset: { connectionId: conn.id, sourceHint: conn.sourceHint, from: conn.fromDeploymentId, to: conn.toDeploymentId },
    },
    s('title', `${from.dep.name} → ${to.dep.name}${conn.injectedVar ? ` (${conn.injectedVar})` : ''}${suggestion ? ' — suggested' : ''}`),
    s('path', { class: 'edge-hit' }),
    s('path', { class: 'edge-line', 'marker-end': arrow(conn) }));
    if (conn.injectedVar) el.append(s('text', { class: 'edge-label', 'text-anchor': 'middle' }, conn.injectedVar));
    edge.el = el;
    routeEdge(edge);
    return el;
  }

  function routeEdge(edge) {
    const { d, mid } = edgeGeometry(model.from(edge), model.to(edge), model.hasReverse(edge));
    if (!edge.parts || edge.parts.el !== edge.el) {
      edge.parts = { el: edge.el, paths: [...edge.el.querySelectorAll('path')], label: edge.el.querySelector('text') };
    }
    for (const path of edge.parts.paths) path.setAttribute('d', d);
    const { label } = edge.parts;
    if (label) { label.setAttribute('x', mid.x); label.setAttribute('y', mid.y - 6); }
  }

  /** A new connection: drawn, and the reverse one (if any) curved. */
  function addEdge(edge) {
    edgeLayer.append(drawEdge(edge));
    for (const other of model.to(edge).edges) if (other !== edge) routeEdge(other);
  }

  /** A removed connection (already out of the model): its reverse, if any, straight again. */
  function removeEdge(edge) {
    edge.el.remove();
    for (const other of model.from(edge).edges) routeEdge(other);
  }

  /** A connection changed (a suggestion accepted): drawn again in place. */
  function redrawEdge(edge) {
    const old = edge.el;
    old.replaceWith(drawEdge(edge));
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
    const pending = model.pending(group).length;
    return `namespace ${group.env.namespace} · ${plural(group.nodes.length, 'service')}${pending ? ` · ${pending} pending` : ''}`;
  }

  /** The group's pending count changed. */
  function relabelGroup(group) {
    if (!group.el) return;
    group.el.querySelector('.env-sub').textContent = groupSubText(group);
    group.labelWidth = 0;
    sizeGroup(group);
  }

  function sizeGroup(group) {
    const box = bbox(group.nodes) || { minX: group.slot.x, minY: group.slot.y, maxX: group.slot.x + NODE_W, maxY: group.slot.y + NODE_H };
    const [rect, label, sub, empty] = group.el.children;
    const x = box.minX - ENV_PAD;
    const y = box.minY - ENV_HEAD;
    // Wide enough for its label and sub-line: estimated until drawn, then measured once (a measurement forces a
    // layout, which would cost a frame on every pointer move of a drag among 300 services).
    let labelWidth = group.labelWidth;
    if (!labelWidth) {
      const measured = label.isConnected && Boolean(label.getComputedTextLength);
      const textWidth = (el, perChar) => Math.max(measured ? el.getComputedTextLength() : 0, el.textContent.length * perChar);
      labelWidth = Math.max(textWidth(label, 8.2), textWidth(sub, 6.4)) + 28;
      if (measured) group.labelWidth = labelWidth;
    }
    group.box = { x, y, w: Math.max(box.maxX - box.minX + 2 * ENV_PAD, labelWidth), h: box.maxY - box.minY + ENV_HEAD + ENV_PAD };
    rect.setAttribute('x', x); rect.setAttribute('y', y);
    rect.setAttribute('width', group.box.w); rect.setAttribute('height', group.box.h);
    label.setAttribute('x', x + 14); label.setAttribute('y', y + 20);
    sub.setAttribute('x', x + 14); sub.setAttribute('y', y + 36);
    if (empty) { empty.setAttribute('x', x + 14); empty.setAttribute('y', y + ENV_HEAD + 26); }
  }

  /** A node moved: its position, its connections, its environment's box. */
  function moveNode(node) {
    placeNode(node);
    for (const edge of node.edges) routeEdge(edge);
    sizeGroup(node.group);
  }

  /** Marks the item a selection names as selected (or not). */
  function highlight(selection, on) {
    const item = model.item(selection);
    if (!item || !item.el) return;
    item.el.classList.toggle('selected', on);
    if (selection.type === 'edge') item.el.querySelector('.edge-line').setAttribute('marker-end', on ? 'url(#arrow-selected)' : arrow(item.conn));
  }

  function drawAll() {
    clear(envLayer); clear(edgeLayer); clear(nodeLayer);
    const envFrag = document.createDocumentFragment();
    for (const g of model.groups) envFrag.append(drawGroup(g));
    envLayer.append(envFrag);
    const nodeFrag = document.createDocumentFragment();
    for (const node of model.nodes.values()) nodeFrag.append(drawNode(node));
    nodeLayer.append(nodeFrag);
    const edgeFrag = document.createDocumentFragment();
    for (const edge of model.edges.values()) edgeFrag.append(drawEdge(edge));
    edgeLayer.append(edgeFrag);
  }

  return { drawAll, redrawNode, moveNode, addEdge, removeEdge, redrawEdge, relabelGroup, highlight };
}
