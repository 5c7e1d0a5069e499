// The actions the case's state allows (GET /v1/cases/{id} `allowed_actions`, per role): the page draws only those.

// The API's action names (services/intake/act.py); a form of another name (a helper's own panel) is left alone.
export const API_ACTIONS = new Set([
  "accept", "return", "start", "progress", "resolve", "report_in", "reopen", "summon", "cancel", "comment", "redispatch",
  "claim", "hand_over", "reassign", "urge", "supervise_order", "reply_order", "request_extension", "decide_extension",
  "request_suspension", "decide_suspension", "resume", "verify", "rate",
]);

/** The API action a form posts, from its id: action-supervise-order → supervise_order. */
export function actionOfForm(id) {
  return String(id || "").replace(/^action-/, "").replace(/-/g, "_");
}

/** Whether any of `roles` may take `action` now; a case without the list (an older API) allows what it did. */
export function allows(c, roles, action) {
  const table = c.allowed_actions;
  if (!table) return true;
  return roles.some((role) => (table[role] || []).includes(action));
}

/** A filter for forms: keeps those whose action the case allows one of `roles`, and every form not an action. */
export function offeredTo(c, roles) {
  return (form) => {
    const action = actionOfForm(form && form.id);
    return !API_ACTIONS.has(action) || allows(c, roles, action);
  };
}
