// "Why can't I?": a 403 names the policy and the scope it checked (details.policy, details.scope); this asks
// GET /access/explain about it and rewords the error as "You need deployments:deploy on environment production;
// roles that grant it: admin, developer."

import { request, seg } from './api.js';
import { nameOf } from './names.js';

const KINDS = { project: 'projects', environment: 'environments', deployment: 'deployments' };

/** "environment:env_…" → {kind: 'environment', id: 'env_…'}; "org" → {kind: 'org', id: 'org'}. */
export function parseScope(scope) {
  if (typeof scope !== 'string' || !scope || scope === 'org') return { kind: 'org', id: 'org' };
  const at = scope.indexOf(':');
  if (at < 0) return { kind: 'org', id: 'org' };
  return { kind: scope.slice(0, at), id: scope.slice(at + 1) };
}

/** The name of a project/environment/deployment: one the console has seen, else a quiet read, else null. */
async function lookUpName(kind, id) {
  const seen = nameOf(id);
  if (seen) return seen;
  if (!KINDS[kind]) return null;
  try {
    const answer = await request('GET', `/${KINDS[kind]}/${seg(id)}`, { quiet401: true, explain: false });
    return answer.data && typeof answer.data.name === 'string' ? answer.data.name : null;
  } catch {
    return null;
  }
}

/** "environment production", "project Shop", "the organization"; the ID when no name is known. */
export async function describeScope(scope) {
  const { kind, id } = parseScope(scope);
  if (kind === 'org') return 'the organization';
  return `${kind} ${(await lookUpName(kind, id)) || id}`;
}

/** The sentence shown for a refusal, from the policy, the scope and the explanation's `reason`. */
export function explanationText(policy, where, reason) {
  const roles = typeof reason === 'string' ? /(?:^|;\s*)((?:roles that grant it|no role of the organization holds it)[^;]*?)\.?\s*$/.exec(reason) : null;
  if (roles) return `You need ${policy} on ${where}; ${roles[1]}.`;
  if (reason) return `You need ${policy} on ${where}. ${reason}`;
  return `You need ${policy} on ${where}.`;
}

/**
 * Rewords a 403 ApiError in place with the explanation (error.message; error.explanation keeps the raw answer).
 * An explanation that cannot be had leaves the API's own message.
 */
export async function explainRefusal(error) {
  const { policy, scope } = error.details || {};
  if (typeof policy !== 'string' || !policy) return error;
  const { id } = parseScope(scope);
  const answer = await request('GET', '/access/explain', { query: { action: policy, resource: id }, quiet401: true, explain: false });
  const explanation = answer.data || {};
  if (explanation.allowed) return error;
  error.explanation = explanation;
  error.message = explanationText(policy, await describeScope(scope), explanation.reason);
  return error;
}
