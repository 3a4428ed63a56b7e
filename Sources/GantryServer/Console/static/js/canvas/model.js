// The canvas's state: environments (groups), their deployments (nodes) at their positions, the connections
// between them (edges) and the selection, with the operations on them. Nodes without a stored canvasPosition
// are laid out here. Drawing (draw.js), pan and zoom (view.js) and gestures (gestures.js) sit beside it; the
// page (pages/canvas.js) talks to the API and wires them together.

export const NODE_W = 184;
export const NODE_H = 62;
export const ENV_PAD = 22;
export const ENV_HEAD = 46;
const GAP_X = 64;
const GAP_Y = 28;
const ENV_GAP = 90;

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

/** The box around some nodes, or null for none. */
export function bbox(nodes) {
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

/**
 * groups: [{env, nodes, connections, el, box, slot}]; nodes: id → {dep, group, x, y, positioned, el, edges:Set};
 * edges: id → {conn, group, el}; selection: null or {type: 'node'|'edge', id}. The `el` fields are the drawn
 * elements (draw.js sets them).
 */
export class CanvasModel {
  constructor() {
    this.groups = [];
    this.nodes = new Map();
    this.edges = new Map();
    this.selection = null;
  }

  /** Takes what the page read: [{env, deployments, connections}], one per environment. */
  load(loaded) {
    this.nodes.clear();
    this.edges.clear();
    this.groups = loaded.map(({ env, deployments, connections }) => {
      const group = { env, nodes: [], connections, el: null };
      for (const dep of deployments) {
        const node = {
          dep, group, positioned: Boolean(dep.canvasPosition),
          x: dep.canvasPosition ? dep.canvasPosition.x : 0, y: dep.canvasPosition ? dep.canvasPosition.y : 0,
          el: null, edges: new Set(),
        };
        this.nodes.set(dep.id, node);
        group.nodes.push(node);
      }
      return group;
    });
    autoLayout(this.groups);
    for (const g of this.groups) for (const conn of g.connections) this.addEdge(conn, g);
  }

  addEdge(conn, group) {
    const from = this.nodes.get(conn.fromDeploymentId);
    const to = this.nodes.get(conn.toDeploymentId);
    if (!from || !to) return null;
    const edge = { conn, group, el: null };
    this.edges.set(conn.id, edge);
    from.edges.add(edge);
    to.edges.add(edge);
    return edge;
  }

  /** A connection the API just created. */
  connect(conn, group) {
    group.connections.push(conn);
    return this.addEdge(conn, group);
  }

  removeEdge(edge) {
    this.edges.delete(edge.conn.id);
    this.from(edge).edges.delete(edge);
    this.to(edge).edges.delete(edge);
    edge.group.connections = edge.group.connections.filter((c) => c.id !== edge.conn.id);
  }

  from(edge) { return this.nodes.get(edge.conn.fromDeploymentId); }

  to(edge) { return this.nodes.get(edge.conn.toDeploymentId); }

  /** The connection runs both ways (it is then drawn curved). */
  hasReverse(edge) {
    const { fromDeploymentId: f, toDeploymentId: t } = edge.conn;
    for (const other of this.nodes.get(t).edges) if (other.conn.fromDeploymentId === t && other.conn.toDeploymentId === f) return true;
    return false;
  }

  outgoing(node) { return [...node.edges].filter((e) => e.conn.fromDeploymentId === node.dep.id); }

  incoming(node) { return [...node.edges].filter((e) => e.conn.toDeploymentId === node.dep.id); }

  suggestions() { return [...this.edges.values()].filter((e) => e.conn.sourceHint === 'suggestion'); }

  pending(group) { return group.nodes.filter((n) => n.dep.pendingChanges); }

  /** Takes a newer copy of a deployment. */
  update(node, fresh) { node.dep = { ...node.dep, ...fresh }; }

  /** The node or edge a selection names, or undefined. */
  item(selection) {
    if (!selection) return undefined;
    return selection.type === 'node' ? this.nodes.get(selection.id) : this.edges.get(selection.id);
  }

  isSelected(type, id) { return Boolean(this.selection && this.selection.type === type && this.selection.id === id); }

  /** The node under a point (world coordinates), other than `except`. */
  nodeAt(point, except) {
    for (const node of this.nodes.values()) {
      if (node === except) continue;
      if (point.x >= node.x && point.x <= node.x + NODE_W && point.y >= node.y && point.y <= node.y + NODE_H) return node;
    }
    return null;
  }

  /** The environments' boxes (as drawn), for fitting the view. */
  boxes() { return this.groups.map((g) => g.box).filter(Boolean); }
}
