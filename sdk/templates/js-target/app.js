// @ts-check
// An hrsync target plugin in JavaScript: keeps the users and teams of the
// tiny app (host/emulators/src/tiny.rs; `hrsync-lab emulate` serves it on
// http://127.0.0.1:7004, basic auth `api` / `tiny-app-key`).
//
// Build, check and try it (see sdk/README.md; `hrsync plugin new` wrote this
// folder with the WIT files in wit/ and the SDK in hrsync-sdk/):
//
//   jco guest-types wit -n target -o types
//   tsc -p jsconfig.json
//   componentize-js app.js --wit wit -n target -d http -d fetch-event -o {{name}}.wasm
//   TINY_APP_KEY=tiny-app-key hrsync plugin test {{name}}.wasm --config installation.toml --apply changes.json

import { Target, account, capabilities, config, exportTarget, http, secret, team, text } from './hrsync-sdk/index.js';

/** @typedef {import('hrsync:plugin/types@1.2.0').AttributeValue} AttributeValue */
/** @typedef {import('hrsync:plugin/types@1.2.0').AccountDraft} AccountDraft */
/** @typedef {import('hrsync:plugin/types@1.2.0').AccountUpdate} AccountUpdate */
/** @typedef {import('hrsync:plugin/types@1.2.0').TeamDraft} TeamDraft */
/** @typedef {import('hrsync:plugin/types@1.2.0').Membership} Membership */

/** @type {import('./hrsync-sdk/index.js').ConfigSpec} */
const CONFIG = {
  base_url: { type: 'string', required: true, description: "The app's address, e.g. https://app.example.com" },
};

/** @param {AttributeValue | undefined} value */
function plain(value) {
  return value === undefined ? null : value.val;
}

/** @param {any} user */
function toAccount(user) {
  return account(user.id, user.email, {
    externalId: user.external_id ?? undefined,
    email: user.email,
    firstName: user.first_name ?? undefined,
    lastName: user.last_name ?? undefined,
    active: user.active !== false,
    attributes: user.title ? [text('title', user.title)] : [],
  });
}

class TinyApp extends Target {
  /** @type {import('./hrsync-sdk/index.js').PluginInfo} */
  static info = {
    name: '{{name}}',
    version: '0.1.0',
    description: 'Users and teams of the tiny app',
    config: CONFIG,
    secrets: [['api_key', 'API key of the app']],
    hosts: ['http://127.0.0.1:7004'],
  };
  static capabilities = capabilities({ teams: true, reactivation: true, maxBatch: 50, matching: ['email', 'external-id'] });
  static acceptedAttributes = ['title'];

  constructor() {
    super();
    this.base = config(CONFIG).base_url;
    this.key = secret('api_key');
  }

  /** @param {import('./hrsync-sdk/index.js').Request} request */
  call(request) {
    return request.basic('api', this.key).send().raiseForStatus();
  }

  /**
   * @param {string | undefined} page
   * @param {number} pageSize
   */
  listAccounts(page, pageSize) {
    const offset = Number(page ?? 0);
    const body = this.call(http.get(`${this.base}/api/users`).query({ offset, limit: pageSize })).json();
    const more = offset + body.users.length < body.total;
    return { accounts: body.users.map(toAccount), nextPage: more ? String(offset + body.users.length) : undefined };
  }

  // The external id is how hrsync knows the teams it made ("hrsync:<name>");
  // teams without it are taken as made by hand and left alone.
  listTeams() {
    const body = this.call(http.get(`${this.base}/api/teams`)).json();
    const teams = body.teams.map((/** @type {any} */ t) =>
      team(t.id, t.name, { externalId: t.external_id ?? undefined, memberIds: t.member_ids }));
    return { teams, nextPage: undefined };
  }

  /** @param {AccountDraft} draft */
  createAccount(draft) {
    /** @type {Record<string, unknown>} */
    const user = {
      external_id: draft.externalId,
      email: draft.email ?? draft.userName,
      first_name: draft.firstName,
      last_name: draft.lastName,
    };
    for (const attribute of draft.attributes) user[attribute.name] = plain(attribute.value);
    return String(this.call(http.post(`${this.base}/api/users`).json(user)).json().id);
  }

  /** @param {AccountUpdate} update */
  updateAccount(update) {
    /** @type {Record<string, unknown>} */
    const fields = {};
    for (const change of update.changes) fields[change.field] = plain(change.after);
    this.call(http.patch(`${this.base}/api/users/${update.id}`).json(fields));
  }

  /** @param {string} id */
  deactivateAccount(id) {
    this.call(http.patch(`${this.base}/api/users/${id}`).json({ active: false }));
  }

  /** @param {string} id */
  reactivateAccount(id) {
    this.call(http.patch(`${this.base}/api/users/${id}`).json({ active: true }));
  }

  /** @param {TeamDraft} draft */
  createTeam(draft) {
    const body = { name: draft.name, external_id: draft.externalId };
    return String(this.call(http.post(`${this.base}/api/teams`).json(body)).json().id);
  }

  /** @param {Membership} membership */
  addMember(membership) {
    this.call(http.post(`${this.base}/api/teams/${membership.teamId}/members`).json({ user_id: membership.accountId }));
  }

  /** @param {Membership} membership */
  removeMember(membership) {
    this.call(http.delete(`${this.base}/api/teams/${membership.teamId}/members/${membership.accountId}`));
  }
}

export const targetApi = exportTarget(TinyApp);
