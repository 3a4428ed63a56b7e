// Pan and zoom: the viewport's translation and scale, applied once per animation frame.

const MIN_ZOOM = 0.08;
const MAX_ZOOM = 3;

/** `boxes()` answers what Fit shows; `onChange()` runs after each change is applied. */
export function createView({ svg, viewport, boxes, onChange }) {
  const view = { x: 0, y: 0, k: 1 };
  let frame = 0;

  function apply() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      viewport.setAttribute('transform', `translate(${view.x},${view.y}) scale(${view.k})`);
      svg.dataset.zoom = view.k.toFixed(3);
      onChange();
    });
  }

  /** Zooms by `factor` around the point (cx, cy) of the stage. */
  function zoomAt(factor, cx, cy) {
    const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, view.k * factor));
    const f = k / view.k;
    view.x = cx - (cx - view.x) * f;
    view.y = cy - (cy - view.y) * f;
    view.k = k;
    apply();
  }

  function stageSize() {
    const r = svg.getBoundingClientRect();
    return { w: r.width || 800, h: r.height || 500 };
  }

  /** Zooms by `factor` around the centre of the stage. */
  function zoomBy(factor) {
    const { w, h } = stageSize();
    zoomAt(factor, w / 2, h / 2);
  }

  function fit() {
    const all = boxes();
    const { w, h } = stageSize();
    if (!all.length) { view.x = 40; view.y = 40; view.k = 1; apply(); return; }
    const minX = Math.min(...all.map((b) => b.x));
    const minY = Math.min(...all.map((b) => b.y));
    const maxX = Math.max(...all.map((b) => b.x + b.w));
    const maxY = Math.max(...all.map((b) => b.y + b.h));
    const margin = 32;
    const k = Math.min(1, Math.max(MIN_ZOOM, Math.min((w - 2 * margin) / (maxX - minX || 1), (h - 2 * margin) / (maxY - minY || 1))));
    view.k = k;
    view.x = (w - (maxX - minX) * k) / 2 - minX * k;
    view.y = Math.max(margin, (h - (maxY - minY) * k) / 2) - minY * k;
    apply();
  }

  /** Back to 100 %. */
  function actualSize() { zoomBy(1 / view.k); }

  /** Pans to a translation. */
  function panTo(x, y) {
    view.x = x;
    view.y = y;
    apply();
  }

  /** A point of the page (clientX, clientY) in the drawing's coordinates. */
  function toWorld(clientX, clientY) {
    const r = svg.getBoundingClientRect();
    return { x: (clientX - r.left - view.x) / view.k, y: (clientY - r.top - view.y) / view.k };
  }

  return {
    get x() { return view.x; },
    get y() { return view.y; },
    get k() { return view.k; },
    zoomAt, zoomBy, fit, actualSize, panTo, toWorld,
  };
}
