// Types of hrsync-sdk for JavaScript (index.js). The records are the WIT
// types, generated into types/ by `jco guest-types wit -n <world> -o types`,
// so `tsc` checks field names and enum values against wit/.
import type {
  Account,
  AccountDraft,
  AccountPage,
  AccountUpdate,
  Attribute,
  Capabilities,
  Change,
  ChangePage,
  DesiredAccount,
  Employee,
  EmployeePage,
  Manifest,
  ManagerLink,
  Membership,
  PersonRef,
  PluginError as WitPluginError,
  RejectedRecord,
  Team,
  TeamDraft,
  TeamPage,
  TeamRename,
  WebhookEvent,
  WebhookRequest,
} from 'hrsync:plugin/types@1.2.0';

export class PluginError extends Error {
  tag: WitPluginError['tag'];
  val: WitPluginError['val'];
  toWit(): WitPluginError;
}
export class Retryable extends PluginError { constructor(message: string, retryAfterMs?: number); }
export class RateLimited extends PluginError { constructor(message: string, retryAfterMs?: number); }
export class Conflict extends PluginError { constructor(message: string, existingId?: string); }
export class NotFound extends PluginError { constructor(message: string); }
export class InvalidInput extends PluginError { constructor(field: string, message: string); }
export class Unauthorized extends PluginError { constructor(message: string); }
export class Unsupported extends PluginError { constructor(message: string); }
export class Fatal extends PluginError { constructor(message: string); }

export function describeError(error: unknown): string;
export function asWitError(error: unknown): WitPluginError;
export function guarded<T>(call: () => T): T;

type Optional<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

export function employee(
  hrId: string | number,
  firstName: string,
  lastName: string,
  fields?: Partial<Omit<Employee, 'hrId' | 'firstName' | 'lastName'>>,
): Employee;
export function person(hrId: string | number, fields?: Partial<Omit<PersonRef, 'hrId'>>): PersonRef;
export function text(name: string, value: string): Attribute;
export function employeePage(
  employees: Employee[],
  rejected?: RejectedRecord[],
  options?: { nextPage?: string | number; cursor?: string },
): EmployeePage;
export function mapRecords<R>(
  records: Iterable<R>,
  toEmployee: (record: R) => Employee,
  hrIdOf?: (record: R) => unknown,
): { employees: Employee[]; rejected: RejectedRecord[] };
export function account(id: string | number, userName: string, fields?: Partial<Omit<Account, 'id' | 'userName'>>): Account;
export function team(id: string | number, name: string, fields?: Partial<Omit<Team, 'id' | 'name'>>): Team;

export interface FieldSpec {
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object';
  required?: boolean;
  default?: unknown;
  description?: string;
  enum?: unknown[];
  items?: object;
}
export type ConfigSpec = Record<string, FieldSpec>;
export function config(spec?: ConfigSpec): Record<string, any>;
export function schema(spec?: ConfigSpec): object;
export function secret(name: string): string;

export const log: {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
};
export function require(field: string, purpose: string): void;
export function unreadable(field: string, hint: string): void;
export function expect(field: string, values: string[], purpose: string): void;
export function label(field: string, text: string): void;
export function nowMillis(): number;
export function timeZone(): string;

export class Response {
  status: number;
  /** `GET https://...` (without the query), for messages. */
  request: string;
  headers: [string, string][];
  body: Uint8Array;
  readonly ok: boolean;
  header(name: string): string | undefined;
  text(): string;
  json(): any;
  retryAfterMs(): number | undefined;
  raiseForStatus(): Response;
}
export function statusError(status: number, detail: string, retryAfterMs?: number): PluginError;
export class Request {
  header(name: string, value: string): Request;
  bearer(token: string): Request;
  basic(user: string, password: string): Request;
  query(params: Record<string, string | number | boolean | null | undefined>): Request;
  json(body: unknown): Request;
  timeout(milliseconds: number): Request;
  send(): Response;
}
export const http: {
  get(url: string): Request;
  post(url: string): Request;
  put(url: string): Request;
  patch(url: string): Request;
  delete(url: string): Request;
};

export interface PluginInfo {
  name: string;
  version: string;
  description?: string;
  config?: ConfigSpec;
  /** `[name, description]` (required) or `[name, description, false]`. */
  secrets?: ([string, string] | [string, string, boolean])[];
  hosts?: string[];
}

export class Source {
  testConnection(): void;
  listEmployees(page: string | undefined, pageSize: number): EmployeePage;
  changesSince(cursor: string, page: string | undefined, pageSize: number): ChangePage;
  parseWebhook(request: WebhookRequest): WebhookEvent[];
}
export function exportSource(cls: (new () => Source) & { info: PluginInfo }): object;

export function capabilities(options?: {
  teams?: boolean;
  managers?: boolean;
  invites?: boolean;
  reactivation?: boolean;
  maxBatch?: number;
  matching?: string[];
}): Capabilities;

export class Target {
  testConnection(): void;
  listAccounts(page: string | undefined, pageSize: number): AccountPage;
  listTeams(page: string | undefined, pageSize: number): TeamPage;
  getAccounts(ids: string[]): Account[];
  apply(change: Change): string | undefined | void;
  applyBatch(changes: Change[]): ({ tag: 'ok'; val: { id?: string } } | { tag: 'err'; val: WitPluginError })[];
  createAccount?(draft: AccountDraft): string;
  updateAccount?(update: AccountUpdate): void;
  deactivateAccount?(id: string): void;
  reactivateAccount?(id: string): void;
  invite?(id: string): void;
  createTeam?(draft: TeamDraft): string;
  renameTeam?(rename: TeamRename): void;
  addMember?(membership: Membership): void;
  removeMember?(membership: Membership): void;
  linkManager?(link: ManagerLink): void;
}
export function exportTarget(
  cls: (new () => Target) & { info: PluginInfo; capabilities?: Capabilities; acceptedAttributes?: string[] },
): object;

export interface Subject {
  employee: Employee;
  desired?: DesiredAccount;
}
export type Decision =
  | { tag: 'keep' }
  | { tag: 'exclude'; val: string }
  | { tag: 'modify'; val: DesiredAccount }
  | { tag: 'reject'; val: string };
export function keep(): Decision;
export function exclude(reason: string): Decision;
export function modify(account: DesiredAccount): Decision;
export function reject(reason: string): Decision;
export function desired(subject: Subject): DesiredAccount;

export class Rule {
  evaluate(batch: Subject[]): Decision[];
  evaluateOne(subject: Subject): Decision;
}
export function exportRule(cls: (new () => Rule) & { info: PluginInfo }): object;

export type { Manifest, Optional };
