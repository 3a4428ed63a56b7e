// Names the console has seen for IDs (projects, environments, deployments), so a message can say
// "environment production" instead of "environment env_…". Filled from every API answer; never sent anywhere.

const known = new Map();
const NAMED = /^(prj|env|dep)_/;

function remember(item) {
  if (item && typeof item === 'object' && typeof item.id === 'string' && NAMED.test(item.id) && typeof item.name === 'string') {
    known.set(item.id, item.name);
  }
}

/** Records the names in an API answer's `data` (one object, or a list of them). */
export function rememberNames(data) {
  if (Array.isArray(data)) data.forEach(remember);
  else remember(data);
}

/** The name seen for an ID, or null. */
export function nameOf(id) {
  return known.get(id) ?? null;
}
