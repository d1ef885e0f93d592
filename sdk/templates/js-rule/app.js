// @ts-check
// An hrsync rule plugin in JavaScript: excludes employees whose employment
// type is in the configured list (default: "external").
//
// Build, check and try it (see sdk/README.md; `hrsync plugin new` wrote this
// folder with the WIT files in wit/ and the SDK in hrsync-sdk/):
//
//   jco guest-types wit -n rule -o types
//   tsc -p jsconfig.json
//   componentize-js app.js --wit wit -n rule -d http -d fetch-event -o {{name}}.wasm
//   hrsync plugin test {{name}}.wasm --config installation.toml --employees employees.json

import { InvalidInput, Rule, config, exclude, exportRule, keep, log, require } from './hrsync-sdk/index.js';

/** @type {import('./hrsync-sdk/index.js').ConfigSpec} */
const CONFIG = {
  excluded_types: {
    type: 'array',
    items: { type: 'string' },
    default: ['external'],
    description: 'Employment types to leave out, ignoring case',
  },
};

class ExcludeTypes extends Rule {
  /** @type {import('./hrsync-sdk/index.js').PluginInfo} */
  static info = {
    name: '{{name}}',
    version: '0.1.0',
    description: 'Excludes employees by employment type, written in JavaScript',
    config: CONFIG,
  };

  constructor() {
    super();
    /** @type {unknown[]} */
    const types = config(CONFIG).excluded_types;
    if (types.some((t) => typeof t !== 'string')) {
      throw new InvalidInput('excluded_types', 'must be a list of text');
    }
    this.excluded = new Set(types.map((t) => String(t).toLowerCase()));
    // Without employment types this rule would exclude nobody: the host
    // stops a run whose source never returns them.
    require('employment_type', `exclude ${types.join(', ')}`);
  }

  /** @param {import('./hrsync-sdk/index.js').Subject} subject */
  evaluateOne(subject) {
    const type = (subject.employee.employmentType ?? '').toLowerCase();
    if (this.excluded.has(type)) {
      log.debug(`${subject.employee.hrId} excluded`);
      return exclude(`employment type ${subject.employee.employmentType}`);
    }
    return keep();
  }
}

export const ruleApi = exportRule(ExcludeTypes);
