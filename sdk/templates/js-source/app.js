// @ts-check
// An hrsync source plugin in JavaScript: reads the employees of the tiny HR
// system (host/emulators/src/tiny.rs; `hrsync-lab emulate` serves it on
// http://127.0.0.1:7003 with the bearer token `tiny-hr-token`).
//
// Build, check and try it (see sdk/README.md; `hrsync plugin new` wrote this
// folder with the WIT files in wit/ and the SDK in hrsync-sdk/):
//
//   jco guest-types wit -n source -o types
//   tsc -p jsconfig.json
//   componentize-js app.js --wit wit -n source -d http -d fetch-event -o {{name}}.wasm
//   TINY_HR_TOKEN=tiny-hr-token hrsync plugin test {{name}}.wasm --config installation.toml

import { Source, config, employee, employeePage, exportSource, http, mapRecords, person, secret } from './hrsync-sdk/index.js';

/** @typedef {import('hrsync:plugin/types@1.2.0').Employee} Employee */
/** @typedef {import('hrsync:plugin/types@1.2.0').EmployeeStatus} EmployeeStatus */

/** @type {import('./hrsync-sdk/index.js').ConfigSpec} */
const CONFIG = {
  base_url: { type: 'string', required: true, description: "The HR system's address, e.g. https://hr.example.com" },
  page_size: { type: 'integer', default: 100, description: 'Employees per request (1 to 100)' },
};

/** @type {Record<string, EmployeeStatus>} */
const STATUSES = { active: 'active', onboarding: 'onboarding', leave: 'leave', inactive: 'inactive' };

/**
 * One employee of the HR system's JSON; a record this throws for is
 * rejected with the reason, the others go on.
 * @param {any} record
 * @returns {Employee}
 */
function toEmployee(record) {
  const status = STATUSES[record.status ?? 'active'];
  if (!status) throw new RangeError(`unknown status ${JSON.stringify(record.status)}`);
  return employee(record.id, record.first_name, record.last_name, {
    email: record.email ?? undefined,
    status,
    department: record.department ?? undefined,
    jobTitle: record.title ?? undefined,
    supervisor: record.manager_id != null ? person(record.manager_id) : undefined,
    hireDate: record.hired_on ?? undefined,
  });
}

class TinyHr extends Source {
  /** @type {import('./hrsync-sdk/index.js').PluginInfo} */
  static info = {
    name: '{{name}}',
    version: '0.1.0',
    description: 'Employees of the tiny HR system',
    config: CONFIG,
    secrets: [['token', 'API token of the HR system']],
    hosts: ['http://127.0.0.1:7003'],
  };

  constructor() {
    super();
    this.settings = config(CONFIG);
    this.token = secret('token');
  }

  /**
   * @param {string | undefined} page
   * @param {number} pageSize
   */
  listEmployees(page, pageSize) {
    const body = http
      .get(`${this.settings.base_url}/api/employees`)
      .bearer(this.token)
      .query({ page: page ?? 1, per_page: Math.min(pageSize, this.settings.page_size) })
      .send()
      .raiseForStatus()
      .json();
    const { employees, rejected } = mapRecords(body.employees, toEmployee);
    return employeePage(employees, rejected, { nextPage: body.next_page ?? undefined });
  }
}

export const sourceApi = exportSource(TinyHr);
