// "Why can't I?": a 403 names the policy and the scope it checked (details.policy, details.scope); this asks
// GET /access/explain about it and rewords the error as "You need deployments:deploy on environment production;
// roles that grant it: admin, developer." Buttons for actions the caller may not take ask the same question before
// the click (guardAction) and say so on the button.

import { request, seg, session } from './api.js';
import { errorDialog } from './dom.js';
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
 * Rewords a 403 ApiError in place with the explanation (error.message). An explanation that cannot be had leaves the
 * API's own message. The API just refused, so what the console knew about this question is asked again.
 */
export async function explainRefusal(error) {
  const { policy, scope } = error.details || {};
  if (typeof policy !== 'string' || !policy) return error;
  const sentence = await refusalFor(policy, parseScope(scope).id, { fresh: true });
  if (sentence) error.message = sentence;
  return error;
}

/** How long an answer about an action is trusted: roles can change while a page is open. */
const ANSWER_TTL_MS = 30000;
const answers = new Map();
const SCOPE_KINDS = { prj: 'project', env: 'environment', dep: 'deployment' };

/** The scope ("environment:env_…", "org") that GET /access/explain's `resource` ('org' or an ID) names. */
function scopeOf(resource) {
  const kind = SCOPE_KINDS[String(resource).slice(0, 3)];
  return kind ? `${kind}:${resource}` : 'org';
}

/**
 * Whether the signed-in caller may do `policy` on `resource` ('org', or a project, environment or deployment ID):
 * a promise of null (allowed, or the console cannot tell) or of the sentence saying what they need. GET
 * /access/explain is asked once per question per 30 s, however many buttons ask, again after anyone signs in or out,
 * and always when `fresh`.
 */
export function refusalFor(policy, resource, { fresh = false } = {}) {
  const key = `${session.generation} ${policy} ${resource}`;
  const known = answers.get(key);
  if (!fresh && known && known.expires > Date.now()) return known.answer;
  const answer = request('GET', '/access/explain', { query: { action: policy, resource }, quiet401: true, explain: false })
    .then(async ({ data }) => (data && data.allowed === false
      ? explanationText(policy, await describeScope(scopeOf(resource)), data.reason) : null))
    // Unknown is not refused: the click then gets the API's 403, explained as before.
    .catch(() => null);
  if (answers.size > 500) answers.clear();
  answers.set(key, { answer, expires: Date.now() + ANSWER_TTL_MS });
  return answer;
}

/**
 * Marks a button whose action the caller may not take, once the answer says so (`data-denied` "true"; "false" once
 * the answer is anything else): dimmed, still focusable and clickable (a disabled button shows no tooltip), the
 * sentence as its tooltip, and a click shows the sentence in a dialog titled `title` instead of starting the action.
 * A deployment's actions ask about its environment: grants stop at environment scope, and a page of rows then asks
 * one question instead of one per row.
 */
export function guardAction(button, { policy, resource, within, title }) {
  // Allowed on the parent (`within`) is allowed on the resource, since grants are inherited downward: a page of many
  // rows asks once for the parent and asks per row only a caller whose grants are narrower.
  const answer = within ? refusalFor(policy, within).then((sentence) => (sentence ? refusalFor(policy, resource) : null)) : refusalFor(policy, resource);
  answer.then((sentence) => {
    button.dataset.denied = String(Boolean(sentence));
    if (!sentence) return;
    button.setAttribute('aria-disabled', 'true');
    button.classList.add('btn-denied');
    button.title = sentence;
  });
  button.addEventListener('click', (event) => {
    if (button.dataset.denied !== 'true') return;
    event.stopImmediatePropagation();
    event.preventDefault();
    errorDialog({ title, error: { message: button.title, code: 'forbidden' }, id: 'refusal' });
  }, { capture: true });
  return button;
}
