// Pointer, wheel and keyboard on the canvas: drag a service to move it, shift-drag (or drag its handle) onto
// another to connect them, drag the background to pan, wheel to zoom; arrow keys move the focused service,
// Enter selects, Delete removes a focused connection, + − 0 1 zoom, Escape clears the selection. What the
// gestures mean for the API is the page's: `select(selection)`, `save(node, origin)` after a move,
// `connect(from, to)`, `deleteEdge(edge)`.

import { boundaryPoint } from './draw.js';

const DRAG_THRESHOLD = 3;
const KEY_STEP = 10;
const KEY_STEP_SHIFT = 50;
const KEY_SAVE_DELAY = 600;

export function attachGestures({ svg, nodeLayer, draft, model, drawing, view, onCleanup, select, save, connect, deleteEdge }) {
  let gesture = null;
  let dropTarget = null;

  function setDropTarget(node) {
    if (dropTarget === node) return;
    if (dropTarget) dropTarget.el.classList.remove('drop-target');
    dropTarget = node;
    if (dropTarget) dropTarget.el.classList.add('drop-target');
  }

  svg.addEventListener('wheel', (event) => {
    event.preventDefault();
    const r = svg.getBoundingClientRect();
    const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    view.zoomAt(Math.exp(-delta * 0.0015), event.clientX - r.left, event.clientY - r.top);
  }, { passive: false });

  svg.addEventListener('pointerdown', (event) => {
    if (event.button !== 0 || gesture) return;
    const nodeEl = event.target.closest('.node');
    const edgeEl = event.target.closest('.edge');
    const start = { x: event.clientX, y: event.clientY };
    if (nodeEl) {
      const node = model.nodes.get(nodeEl.dataset.deploymentId);
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
      view.panTo(gesture.origin.x + dx, gesture.origin.y + dy);
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
      scheduleMove(gesture.node);
    } else if (gesture.type === 'connect') {
      const from = gesture.node;
      const p = view.toWorld(event.clientX, event.clientY);
      const a = boundaryPoint(from, p);
      draft.setAttribute('d', `M${a.x},${a.y} L${p.x},${p.y}`);
      draft.setAttribute('visibility', 'visible');
      setDropTarget(model.nodeAt(p, from));
    }
  }

  function endGesture(event, cancelled) {
    if (!gesture) return;
    moveGesture(event);
    flushMove();
    const g = gesture;
    gesture = null;
    svg.classList.remove('panning', 'connecting');
    if (svg.hasPointerCapture(event.pointerId)) svg.releasePointerCapture(event.pointerId);
    if (g.type === 'pan') {
      if (!g.moved) select(null);
    } else if (g.type === 'drag') {
      g.node.el.classList.remove('dragging');
      if (cancelled && g.moved) {
        g.node.x = g.origin.x; g.node.y = g.origin.y; drawing.moveNode(g.node);
      } else if (g.moved) {
        save(g.node, g.origin);
      } else {
        select({ type: 'node', id: g.node.dep.id });
      }
    } else if (g.type === 'connect') {
      draft.setAttribute('visibility', 'hidden');
      const target = dropTarget;
      setDropTarget(null);
      if (!cancelled && target) connect(g.node, target);
      else if (!cancelled) select({ type: 'node', id: g.node.dep.id });
    }
  }

  // A dragged service is drawn once per frame, however many pointer moves arrive in between.
  let moveFrame = 0;
  let movePending = null;
  function scheduleMove(node) {
    movePending = node;
    if (!moveFrame) moveFrame = requestAnimationFrame(flushMove);
  }
  function flushMove() {
    if (moveFrame) cancelAnimationFrame(moveFrame);
    moveFrame = 0;
    const node = movePending;
    movePending = null;
    if (node) drawing.moveNode(node);
  }
  onCleanup(() => { if (moveFrame) cancelAnimationFrame(moveFrame); });

  svg.addEventListener('pointermove', moveGesture);
  svg.addEventListener('pointerup', (event) => endGesture(event, false));
  svg.addEventListener('pointercancel', (event) => endGesture(event, true));
  svg.addEventListener('lostpointercapture', (event) => { if (gesture) endGesture(event, false); });

  // Arrow keys move a service; it is saved once the keys rest.
  const pendingSaves = new Map();
  svg.addEventListener('keydown', (event) => {
    const nodeEl = event.target.closest && event.target.closest('.node');
    const edgeEl = event.target.closest && event.target.closest('.edge');
    if (nodeEl && event.key.startsWith('Arrow')) {
      event.preventDefault();
      const node = model.nodes.get(nodeEl.dataset.deploymentId);
      const step = event.shiftKey ? KEY_STEP_SHIFT : KEY_STEP;
      if (!pendingSaves.has(node)) pendingSaves.set(node, { origin: { x: node.x, y: node.y }, timer: 0 });
      const pending = pendingSaves.get(node);
      if (event.key === 'ArrowLeft') node.x -= step;
      if (event.key === 'ArrowRight') node.x += step;
      if (event.key === 'ArrowUp') node.y -= step;
      if (event.key === 'ArrowDown') node.y += step;
      drawing.moveNode(node);
      clearTimeout(pending.timer);
      pending.timer = setTimeout(() => { pendingSaves.delete(node); save(node, pending.origin); }, KEY_SAVE_DELAY);
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
      const edge = model.edges.get(edgeEl.dataset.connectionId);
      if (edge) deleteEdge(edge);
      return;
    }
    if (event.key === 'Escape') { select(null); return; }
    if (event.key === '+' || event.key === '=') { event.preventDefault(); view.zoomBy(1.25); }
    else if (event.key === '-' || event.key === '_') { event.preventDefault(); view.zoomBy(0.8); }
    else if (event.key === '0') { event.preventDefault(); view.fit(); }
    else if (event.key === '1') { event.preventDefault(); view.actualSize(); }
  });
  onCleanup(() => { for (const pending of pendingSaves.values()) clearTimeout(pending.timer); });

  return {
    /** The node is being dragged: it is not to be drawn again under the pointer. */
    holds: (node) => Boolean(gesture && gesture.node === node),
  };
}
