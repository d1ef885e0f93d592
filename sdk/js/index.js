// hrsync-sdk for JavaScript: write hrsync source, target and rule plugins
// with componentize-js. `hrsync plugin new NAME --lang js` copies this file
// (and index.d.ts) into the plugin's hrsync-sdk/ folder; componentize-js
// bundles it with the plugin. sdk/README.md has the whole guide.
//
//   import { Source, exportSource, http, config, secret, employee, employeePage } from './hrsync-sdk/index.js';
//
//   class TinyHr extends Source {
//     static info = { name: 'tiny-hr', version: '0.1.0', config: CONFIG, secrets: [['token', 'API token']],
//                     hosts: ['https://hr.example.com'] };
//     constructor() { super(); this.settings = config(CONFIG); this.token = secret('token'); }
//     listEmployees(page, pageSize) { ...; return employeePage(employees, rejected, { nextPage }); }
//   }
//   export const sourceApi = exportSource(TinyHr);
//
// Errors: throw `new Unauthorized('token revoked')`, `new InvalidInput('base_url', 'must be https')`,
// ... Any other exception — a TypeError, a failed JSON.parse — leaves as a
// `fatal` error naming its type, message and the lines of the plugin it
// came through: `TypeError: record.name is undefined (app.js line 40, in toEmployee)`.

import { getConfig, getSecret } from 'hrsync:plugin/config@1.2.0';
import { log as hostLog } from 'hrsync:plugin/log@1.2.0';
import { send } from 'hrsync:plugin/http@1.2.0';
import {
  require as requireField,
  unreadable as unreadableField,
  expect as expectValues,
  label as labelField,
  accepts,
} from 'hrsync:plugin/fields@1.2.0';
import { nowMillis as hostNowMillis, timeZone as hostTimeZone } from 'hrsync:plugin/clock@1.2.0';

// ---------------------------------------------------------------- errors

/** A typed plugin error; use one of the subclasses. */
export class PluginError extends Error {
  constructor(tag, val, message) {
    super(message);
    this.name = new.target.name;
    this.tag = tag;
    this.val = val;
  }
  /** The WIT `plugin-error` this is. */
  toWit() {
    return { tag: this.tag, val: this.val };
  }
}

/** Try again later (timeouts, 5xx). */
export class Retryable extends PluginError {
  constructor(message, retryAfterMs) {
    super('retryable', { message, retryAfterMs: toU64(retryAfterMs) }, message);
  }
}

/** Too many requests; the host waits `retryAfterMs` when given. */
export class RateLimited extends PluginError {
  constructor(message, retryAfterMs) {
    super('rate-limited', { message, retryAfterMs: toU64(retryAfterMs) }, message);
  }
}

/** The record already exists (with its id, when the API says). */
export class Conflict extends PluginError {
  constructor(message, existingId) {
    super('conflict', { message, existingId: existingId == null ? undefined : String(existingId) }, message);
  }
}

export class NotFound extends PluginError {
  constructor(message) {
    super('not-found', message, message);
  }
}

/** A value that cannot be used, naming its field. */
export class InvalidInput extends PluginError {
  constructor(field, message) {
    super('invalid-input', { field, message }, `${field}: ${message}`);
  }
}

/** Credentials missing, wrong or revoked. */
export class Unauthorized extends PluginError {
  constructor(message) {
    super('unauthorized', message, message);
  }
}

/** The plugin does not offer this function. */
export class Unsupported extends PluginError {
  constructor(message) {
    super('unsupported', message, message);
  }
}

/** Stop: retrying will not help. */
export class Fatal extends PluginError {
  constructor(message) {
    super('fatal', message, message);
  }
}

function toU64(ms) {
  return ms == null ? undefined : BigInt(Math.max(0, Math.round(ms)));
}

// The SDK's own frames and the engine's are not the author's.
const LIBRARY_FRAME = /hrsync-sdk\/index\.js|initializer\.js|^self-hosted|^\s*$/;
const FRAMES_SHOWN = 3;

/**
 * `TypeError: x is undefined (app.js line 12, in toEmployee)`: the error's
 * type and message and the innermost frames of the plugin's own code.
 */
export function describeError(error) {
  if (!(error instanceof Error)) {
    return `uncaught ${typeof error} ${safeString(error)}`;
  }
  const frames = String(error.stack ?? '')
    .split('\n')
    .map(parseFrame)
    .filter((frame) => frame !== null);
  // Only the author's frames: an error the SDK throws about what the plugin
  // returned has none worth naming (the stack printed to the log has all).
  const shown = frames.filter((frame) => !LIBRARY_FRAME.test(frame.file)).slice(0, FRAMES_SHOWN);
  const places = shown.map((f) => `${f.file} line ${f.line}, in ${f.fn || '(top level)'}`).join('; ');
  const text = `${error.name}: ${error.message}`;
  return places ? `${text} (${places})` : text;
}

// SpiderMonkey: `toEmployee@file:///app.js:12:5` or `@app.js:3:1`.
function parseFrame(line) {
  const match = /^(.*)@(.*):(\d+):(\d+)$/.exec(line.trim());
  if (!match) return null;
  const file = match[2].replace(/^file:\/\//, '').replace(/^.*\/sources\//, '').replace(/^\/+/, '');
  return { fn: match[1], file, line: match[3] };
}

function safeString(value) {
  try {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return text === undefined ? String(value) : text.slice(0, 200);
  } catch {
    return String(value);
  }
}

/** The WIT error an exception means; prints the stack of one that is not a typed error. */
export function asWitError(error) {
  if (error instanceof PluginError) return error.toWit();
  if (error && typeof error === 'object' && typeof error.tag === 'string' && 'val' in error && !(error instanceof Error)) {
    return error; // already a plugin-error value
  }
  if (error instanceof Error) {
    console.error(`${error.name}: ${error.message}\n${error.stack ?? ''}`);
  }
  return { tag: 'fatal', val: describeError(error) };
}

/** Runs `call`; any exception leaves as a typed plugin-error. */
export function guarded(call) {
  try {
    return call();
  } catch (error) {
    throw asWitError(error);
  }
}

// ------------------------------------------------------------ type checks

const STATUSES = ['onboarding', 'active', 'leave', 'inactive'];

function fail(what, expected, value) {
  throw new TypeError(`${what} must be ${expected}, not ${describeValue(value)}`);
}

function describeValue(value) {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `${typeof value} ${safeString(value).slice(0, 60)}`;
}

function checkText(value, what, optional = false) {
  if (optional && value == null) return;
  if (typeof value !== 'string') fail(what, optional ? 'text or undefined' : 'text', value);
}

function checkList(value, what) {
  if (!Array.isArray(value)) fail(what, 'an array', value);
}

function checkEmployee(e, what) {
  if (e === null || typeof e !== 'object') fail(what, 'an employee object (employee(...))', e);
  checkText(e.hrId, `${what}.hrId`);
  checkText(e.firstName, `${what}.firstName`);
  checkText(e.lastName, `${what}.lastName`);
  if (!STATUSES.includes(e.status)) fail(`${what}.status`, `one of ${STATUSES.join(', ')}`, e.status);
  for (const name of ['email', 'preferredName', 'employmentType', 'jobTitle', 'department', 'team', 'office', 'hireDate', 'terminationDate', 'gender', 'language']) {
    checkText(e[name], `${what}.${name}`, true);
  }
  checkList(e.custom, `${what}.custom`);
}

function checkPage(page, what, listName, checkItem) {
  if (page === null || typeof page !== 'object') fail(what, 'a page object', page);
  checkList(page[listName], `${what}.${listName}`);
  page[listName].forEach((item, i) => checkItem(item, `${what}.${listName}[${i}]`));
  checkText(page.nextPage, `${what}.nextPage`, true);
  return page;
}

// --------------------------------------------------------------- records

const EMPLOYEE_FIELDS = ['hrId', 'email', 'firstName', 'lastName', 'preferredName', 'status', 'employmentType',
  'jobTitle', 'department', 'team', 'office', 'supervisor', 'hireDate', 'terminationDate', 'gender', 'language', 'custom'];
const PERSON_FIELDS = ['hrId', 'email', 'firstName', 'lastName'];
const ACCOUNT_FIELDS = ['id', 'externalId', 'userName', 'email', 'firstName', 'lastName', 'active', 'attributes', 'managerId'];
const TEAM_FIELDS = ['id', 'name', 'externalId', 'memberIds'];

/** A field the record does not have would be dropped in silence: it is named instead. */
function checkFields(fields, known, what) {
  for (const name of Object.keys(fields ?? {})) {
    if (!known.includes(name)) {
      const near = known.find((k) => k.toLowerCase() === name.toLowerCase().replace(/[_-]/g, ''));
      throw new TypeError(`${what} has no field ${JSON.stringify(name)}${near ? `; did you mean ${JSON.stringify(near)}?` : ` (fields: ${known.join(', ')})`}`);
    }
  }
}

/** An employee with the fields you have; dates are `YYYY-MM-DD`. */
export function employee(hrId, firstName, lastName, fields = {}) {
  checkFields(fields, EMPLOYEE_FIELDS, 'an employee');
  const record = {
    hrId: String(hrId),
    firstName,
    lastName,
    status: 'active',
    custom: [],
    ...fields,
  };
  checkEmployee(record, `employee ${hrId}`);
  return record;
}

/** Another employee by reference: the supervisor. */
export function person(hrId, fields = {}) {
  checkFields(fields, PERSON_FIELDS, 'a person');
  return { hrId: String(hrId), ...fields };
}

/** A custom text attribute (`custom.<name>` in rules). */
export function text(name, value) {
  return { name, value: { tag: 'text', val: String(value) } };
}

export function employeePage(employees, rejected = [], { nextPage, cursor } = {}) {
  return { employees, rejected, nextPage: nextPage == null ? undefined : String(nextPage), cursor };
}

/**
 * Maps each record with `toEmployee`; a record whose mapping throws is
 * rejected with the reason and the others go on: one bad record never
 * sinks a run. Returns `{ employees, rejected }`.
 */
export function mapRecords(records, toEmployee, hrIdOf = (record) => record?.id) {
  const employees = [];
  const rejected = [];
  for (const record of records) {
    try {
      const mapped = toEmployee(record);
      checkEmployee(mapped, 'toEmployee result');
      employees.push(mapped);
    } catch (error) {
      let hrId;
      try {
        const id = hrIdOf(record);
        hrId = id == null ? undefined : String(id);
      } catch {
        hrId = undefined;
      }
      rejected.push({ hrId, reason: describeError(error) });
    }
  }
  return { employees, rejected };
}

/** An account of the app as it is now; `id` is the app's own. */
export function account(id, userName, fields = {}) {
  checkFields(fields, ACCOUNT_FIELDS, 'an account');
  return { id: String(id), userName, active: true, attributes: [], ...fields };
}

export function team(id, name, fields = {}) {
  checkFields(fields, TEAM_FIELDS, 'a team');
  return { id: String(id), name, memberIds: [], ...fields };
}

// ------------------------------------------------------- config, secrets

/**
 * The installation's config, checked against `spec`:
 * `{ base_url: { type: 'string', required: true, description: '...' }, page_size: { type: 'integer', default: 100 } }`
 * (types `string`, `integer`, `number`, `boolean`, `array`, `object`;
 * `enum: [...]`). A missing required field, a wrong type or an unknown
 * field throws `InvalidInput` naming the field. Without a spec: the parsed JSON.
 */
export function config(spec) {
  const values = JSON.parse(getConfig());
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    throw new InvalidInput('config', 'must be an object');
  }
  if (!spec) return values;
  for (const name of Object.keys(values)) {
    if (!(name in spec)) {
      throw new InvalidInput(name, `unknown field; the config has ${Object.keys(spec).sort().join(', ') || 'no fields'}`);
    }
  }
  const result = {};
  for (const [name, field] of Object.entries(spec)) {
    const value = values[name];
    if (value === undefined || value === null) {
      if (field.required) throw new InvalidInput(name, 'is required');
      result[name] = field.default;
      continue;
    }
    const wrong = (expected) => new InvalidInput(name, `must be ${expected}, not ${safeString(value)}`);
    switch (field.type) {
      case 'string': if (typeof value !== 'string') throw wrong('text'); break;
      case 'integer': if (!Number.isInteger(value)) throw wrong('a whole number'); break;
      case 'number': if (typeof value !== 'number') throw wrong('a number'); break;
      case 'boolean': if (typeof value !== 'boolean') throw wrong('true or false'); break;
      case 'array': if (!Array.isArray(value)) throw wrong('a list'); break;
      case 'object': if (typeof value !== 'object' || Array.isArray(value)) throw wrong('an object'); break;
      default: break;
    }
    if (field.enum && !field.enum.includes(value)) {
      throw new InvalidInput(name, `must be one of ${field.enum.map((v) => JSON.stringify(v)).join(', ')}, not ${safeString(value)}`);
    }
    result[name] = value;
  }
  return result;
}

/** The JSON Schema of a config spec (see `config`). */
export function schema(spec) {
  const properties = {};
  const required = [];
  for (const [name, field] of Object.entries(spec ?? {})) {
    const property = {};
    if (field.type) property.type = field.type;
    if (field.enum) property.enum = field.enum;
    if (field.items) property.items = field.items;
    if (field.description) property.description = field.description;
    if (field.default !== undefined) property.default = field.default;
    if (field.required) required.push(name);
    properties[name] = property;
  }
  const document = { type: 'object', additionalProperties: false, properties };
  if (required.length > 0) document.required = required;
  return document;
}

/** A secret the manifest declares. Never log it or put it in an error. */
export function secret(name) {
  try {
    return getSecret(name);
  } catch (error) {
    const value = error?.payload ?? error;
    if (value?.tag === 'missing') throw new Unauthorized(value.val);
    if (value?.tag === 'undeclared') throw new Fatal(value.val);
    throw error;
  }
}

// ---------------------------------------------------------- log, fields

export const log = {
  debug: (message) => hostLog('debug', String(message)),
  info: (message) => hostLog('info', String(message)),
  warn: (message) => hostLog('warn', String(message)),
  error: (message) => hostLog('error', String(message)),
};

/** A rule needs this employee field for `purpose`; the host stops a run whose source withholds it. */
export function require(field, purpose) {
  requireField(field, purpose);
}

/** A source: the HR system withheld this field; `hint` says how to release it. */
export function unreadable(field, hint) {
  unreadableField(field, hint);
}

/**
 * A rule compares `field` with these values (ignoring case): a value no
 * employee of a full read has — a typo such as `externl` — is noted in the
 * run's plan, naming the values the read had.
 */
export function expect(field, values, purpose) {
  expectValues(field, values.map(String), purpose);
}

/** A source: the custom field `field` (`custom.dynamic_87541`) is labelled `text` in the HR system. */
export function label(field, text) {
  labelField(field, text);
}

/** Milliseconds since the Unix epoch, from the host's clock. */
export function nowMillis() {
  return Number(hostNowMillis());
}

/** The integration's IANA time zone (`UTC` unless it sets one). */
export function timeZone() {
  return hostTimeZone();
}

// ------------------------------------------------------------------ http

const DETAIL_CHARS = 500;

export class Response {
  constructor(status, headers, body, request = '') {
    this.status = status;
    this.headers = headers;
    this.body = body;
    /** `GET https://...`, for messages. */
    this.request = request;
  }
  header(name) {
    const wanted = name.toLowerCase();
    const found = this.headers.find(([key]) => key.toLowerCase() === wanted);
    return found ? found[1] : undefined;
  }
  get ok() {
    return this.status >= 200 && this.status < 300;
  }
  text() {
    return new TextDecoder().decode(this.body);
  }
  /** The body as JSON; a body that is not JSON is a `Fatal` error. */
  json() {
    try {
      return JSON.parse(this.text());
    } catch (error) {
      const from = this.request ? ` to ${this.request}` : '';
      throw new Fatal(`the HTTP ${this.status} response${from} is not JSON (${error.message}): ${this.text().slice(0, 200)}`);
    }
  }
  /** `Retry-After` in milliseconds (the seconds form). */
  retryAfterMs() {
    const value = this.header('retry-after');
    return value && /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : undefined;
  }
  /** This response if 2xx, else throws the typed error its status means. */
  raiseForStatus() {
    if (this.ok) return this;
    throw statusError(this.status, this.text(), this.retryAfterMs());
  }
}

/**
 * The typed error an HTTP status means: 401/403 Unauthorized, 404/410
 * NotFound, 409 Conflict, 400/422 InvalidInput, 429 RateLimited and
 * 408/5xx Retryable (with Retry-After), anything else Fatal.
 */
export function statusError(status, detail, retryAfterMs) {
  const message = `HTTP ${status}: ${String(detail).trim().slice(0, DETAIL_CHARS)}`;
  if (status === 401 || status === 403) return new Unauthorized(message);
  if (status === 404 || status === 410) return new NotFound(message);
  if (status === 409) return new Conflict(message);
  if (status === 400 || status === 422) return new InvalidInput('request', message);
  if (status === 429) return new RateLimited(message, retryAfterMs);
  if (status === 408 || (status >= 500 && status <= 599)) return new Retryable(message, retryAfterMs);
  return new Fatal(message);
}

export class Request {
  constructor(method, url) {
    this.method = method;
    this.url = url;
    this.headers = [];
    this.body = undefined;
    this.timeoutMs = undefined;
  }
  header(name, value) {
    this.headers.push([name, value]);
    return this;
  }
  bearer(token) {
    return this.header('authorization', `Bearer ${token}`);
  }
  /** HTTP basic authentication (RFC 7617). */
  basic(user, password) {
    return this.header('authorization', `Basic ${base64(`${user}:${password}`)}`);
  }
  /** Adds query parameters (percent-encoded; `undefined` and `null` left out). */
  query(params) {
    const pairs = Object.entries(params)
      .filter(([, value]) => value != null)
      .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
    if (pairs.length > 0) this.url += (this.url.includes('?') ? '&' : '?') + pairs.join('&');
    return this;
  }
  /** A JSON body, with `content-type: application/json`. */
  json(body) {
    this.body = new TextEncoder().encode(JSON.stringify(body));
    return this.header('content-type', 'application/json');
  }
  /** Shorter than the installation's timeout; the host never allows longer. */
  timeout(milliseconds) {
    this.timeoutMs = milliseconds;
    return this;
  }
  /**
   * Sends the request. Transport failures throw typed errors (denied →
   * Fatal, timeout and connection failures → Retryable); HTTP error
   * statuses are returned: see `Response.raiseForStatus`.
   */
  send() {
    const headers = [...this.headers];
    if (!headers.some(([key]) => key.toLowerCase() === 'accept')) headers.push(['accept', 'application/json']);
    let response;
    try {
      response = send({ method: this.method, url: this.url, headers, body: this.body, timeoutMs: this.timeoutMs });
    } catch (error) {
      throw transportError(error?.payload ?? error);
    }
    const target = this.url.split('?')[0];
    return new Response(response.status, response.headers, response.body, `${this.method.toUpperCase()} ${target}`);
  }
}

function transportError(error) {
  switch (error?.tag) {
    case 'denied': return new Fatal(error.val);
    case 'timeout':
    case 'transport': return new Retryable(error.val);
    case 'too-large': return new Fatal(`response larger than the host's cap of ${error.val} bytes`);
    case 'invalid-request': return new Fatal(`invalid request: ${error.val}`);
    default: return new Fatal(`HTTP failed: ${safeString(error)}`);
  }
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64(textValue) {
  const bytes = new TextEncoder().encode(textValue);
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const [a, b = 0, c = 0] = [bytes[i], bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | (b << 8) | c;
    out += BASE64[(n >> 18) & 63] + BASE64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? BASE64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? BASE64[n & 63] : '=';
  }
  return out;
}

export const http = {
  get: (url) => new Request('get', url),
  post: (url) => new Request('post', url),
  put: (url) => new Request('put', url),
  patch: (url) => new Request('patch', url),
  delete: (url) => new Request('delete', url),
};

// ------------------------------------------------------- the three kinds

function manifest(cls, kind) {
  const info = cls.info;
  if (!info || typeof info.name !== 'string' || typeof info.version !== 'string') {
    throw new TypeError(`${cls.name}.info must be { name, version, ... }`);
  }
  return {
    name: info.name,
    version: info.version,
    kind,
    description: info.description ?? '',
    configSchema: JSON.stringify(schema(info.config)),
    secrets: (info.secrets ?? []).map(([name, description, required = true]) => ({ name, description, required })),
    requestedHosts: info.hosts ?? [],
  };
}

/** The plugin object, built on the first call that needs it; a failed build is retried on the next call. */
function instanceOf(cls, base) {
  if (typeof cls !== 'function' || !(cls.prototype instanceof base)) {
    throw new TypeError(`export takes a class extending ${base.name}`);
  }
  let plugin = null;
  return () => {
    if (plugin === null) plugin = new cls();
    return plugin;
  };
}

/** An HR system. Defaults as the Rust SDK's. */
export class Source {
  /** By default reads one employee. */
  testConnection() {
    this.listEmployees(undefined, 1);
  }
  listEmployees(page, pageSize) {
    throw new Unsupported('listEmployees is not written yet');
  }
  /** By default unsupported: the host then does full reads. */
  changesSince(cursor, page, pageSize) {
    throw new Unsupported('incremental reads');
  }
  parseWebhook(request) {
    throw new Unsupported('webhooks');
  }
}

/** The object componentize-js exports as `sourceApi`. */
export function exportSource(cls) {
  const instance = instanceOf(cls, Source);
  const described = manifest(cls, 'source');
  const checked = (page, what) => {
    checkPage(page, what, 'employees', checkEmployee);
    checkList(page.rejected, `${what}.rejected`);
    return page;
  };
  return {
    describe: () => described,
    testConnection: () =>
      guarded(() => {
        const plugin = instance();
        // The default reads a page: checked like any other.
        if (plugin.testConnection === Source.prototype.testConnection) {
          checked(plugin.listEmployees(undefined, 1), 'listEmployees result');
        } else {
          plugin.testConnection();
        }
      }),
    listEmployees: (page, pageSize) =>
      guarded(() => checked(instance().listEmployees(page, pageSize), 'listEmployees result')),
    changesSince: (cursor, page, pageSize) =>
      guarded(() => {
        const read = checked(instance().changesSince(cursor, page, pageSize), 'changesSince result');
        checkList(read.removed, 'changesSince result.removed');
        return read;
      }),
    parseWebhook: (request) => guarded(() => instance().parseWebhook(request)),
  };
}

/**
 * What the app supports; `matching` are the account fields existing
 * accounts are matched by, preferred first.
 */
export function capabilities({ teams = false, managers = false, invites = false, reactivation = true, maxBatch = 50, matching = ['email'] } = {}) {
  return { teams, managers, invites, reactivation, maxBatch, matchingAttributes: matching };
}

const CHANGE_METHODS = {
  'create-account': 'createAccount',
  'update-account': 'updateAccount',
  'deactivate-account': 'deactivateAccount',
  'reactivate-account': 'reactivateAccount',
  invite: 'invite',
  'create-team': 'createTeam',
  'rename-team': 'renameTeam',
  'add-member': 'addMember',
  'remove-member': 'removeMember',
  'link-manager': 'linkManager',
};

/**
 * A downstream app. `apply` hands each change to the method of its kind
 * (`createAccount(draft)` returns the new id, `updateAccount(update)`,
 * `deactivateAccount(id)`, ...); a kind you did not write is Unsupported
 * for that change alone, and one change that throws fails alone.
 */
export class Target {
  /** By default lists one account. */
  testConnection() {
    this.listAccounts(undefined, 1);
  }
  listAccounts(page, pageSize) {
    throw new Unsupported('listAccounts is not written yet');
  }
  /** By default: no teams. */
  listTeams(page, pageSize) {
    return { teams: [], nextPage: undefined };
  }
  /** By default unsupported: the host then lists every account instead. */
  getAccounts(ids) {
    throw new Unsupported('this target cannot look accounts up by id');
  }
  apply(change) {
    const method = CHANGE_METHODS[change.tag];
    if (!method || typeof this[method] !== 'function') throw new Unsupported(`change ${change.tag}`);
    return this[method](change.val);
  }
  /** One outcome per change, in order. */
  applyBatch(changes) {
    return changes.map((change) => {
      try {
        const created = this.apply(change);
        if (created != null && typeof created !== 'string') {
          throw new TypeError(`apply must return the new id as text or undefined, not ${describeValue(created)}`);
        }
        return { tag: 'ok', val: { id: created ?? undefined } };
      } catch (error) {
        return { tag: 'err', val: asWitError(error) };
      }
    });
  }
}

/** The object componentize-js exports as `targetApi`. */
export function exportTarget(cls) {
  const instance = instanceOf(cls, Target);
  const described = manifest(cls, 'target');
  const caps = cls.capabilities ?? capabilities();
  const accepted = cls.acceptedAttributes;
  return {
    describe: () => described,
    getCapabilities: () => {
      if (Array.isArray(accepted)) accepts(accepted);
      return caps;
    },
    testConnection: () => guarded(() => { instance().testConnection(); }),
    listAccounts: (page, pageSize) =>
      guarded(() => checkPage(instance().listAccounts(page, pageSize), 'listAccounts result', 'accounts', () => {})),
    getAccounts: (ids) => guarded(() => instance().getAccounts(ids)),
    listTeams: (page, pageSize) =>
      guarded(() => checkPage(instance().listTeams(page, pageSize), 'listTeams result', 'teams', () => {})),
    applyBatch: (changes) => {
      try {
        const outcomes = instance().applyBatch(changes);
        if (!Array.isArray(outcomes) || outcomes.length !== changes.length) {
          throw new TypeError(`applyBatch must return one outcome per change (${changes.length})`);
        }
        return outcomes;
      } catch (error) {
        const failed = asWitError(error);
        return changes.map(() => ({ tag: 'err', val: failed }));
      }
    },
  };
}

/** In scope; the desired account stays as it came in. */
export const keep = () => ({ tag: 'keep' });
/** Out of scope, with the reason shown in the run log. */
export const exclude = (reason) => ({ tag: 'exclude', val: String(reason) });
/** In scope, with a changed desired account (see `desired`). */
export const modify = (account) => ({ tag: 'modify', val: account });
/** This rule cannot decide: the employee is left as is this run, and reported. */
export const reject = (reason) => ({ tag: 'reject', val: String(reason) });

/** The desired account so far: what earlier rules made, else the default one. */
export function desired(subject) {
  if (subject.desired) return subject.desired;
  const e = subject.employee;
  return {
    externalId: e.hrId,
    userName: e.email ?? '',
    email: e.email,
    firstName: e.firstName,
    lastName: e.lastName,
    attributes: [],
    createOnly: [],
    teams: [],
    managerHrId: e.supervisor?.hrId,
  };
}

const DECISIONS = ['keep', 'exclude', 'modify', 'reject'];

/**
 * A step of the rule pipeline: `evaluate(batch)` by default calls
 * `evaluateOne(subject)` for each; a subject whose `evaluateOne` throws is
 * rejected with the reason, the others go on — except a typed error
 * (`throw new Fatal(...)`), which fails the batch.
 */
export class Rule {
  evaluate(batch) {
    return batch.map((subject) => {
      try {
        const decision = this.evaluateOne(subject);
        if (!decision || !DECISIONS.includes(decision.tag)) {
          fail('evaluateOne result', 'keep(), exclude(reason), modify(account) or reject(reason)', decision);
        }
        return decision;
      } catch (error) {
        // A typed error is the plugin's to give: the whole batch fails.
        if (error instanceof PluginError) throw error;
        return reject(describeError(error));
      }
    });
  }
  evaluateOne(subject) {
    return keep();
  }
}

/** The object componentize-js exports as `ruleApi`. */
export function exportRule(cls) {
  const instance = instanceOf(cls, Rule);
  const described = manifest(cls, 'rule');
  return {
    describe: () => described,
    evaluate: (batch) =>
      guarded(() => {
        const decisions = instance().evaluate(batch);
        if (!Array.isArray(decisions) || decisions.length !== batch.length) {
          throw new TypeError(`evaluate must return an array of one decision per subject (${batch.length})`);
        }
        decisions.forEach((decision, i) => {
          if (!decision || !DECISIONS.includes(decision.tag)) {
            fail(`evaluate result[${i}]`, 'keep(), exclude(reason), modify(account) or reject(reason)', decision);
          }
        });
        return decisions;
      }),
  };
}
