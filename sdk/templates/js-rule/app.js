// An hrsync rule plugin in JavaScript: excludes employees whose employment
// type is in the configured list (default: "external").
//
// Build (from this folder; see sdk/README.md):
//
//   npm install @bytecodealliance/componentize-js
//   npx componentize-js app.js --wit ../../../wit -n rule -d http -d fetch-event -o exclude_types.wasm

import { getConfig } from 'hrsync:plugin/config@1.2.0';
import { require as requireField } from 'hrsync:plugin/fields@1.2.0';
import { log } from 'hrsync:plugin/log@1.2.0';

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    excluded_types: { type: 'array', items: { type: 'string' } },
  },
};

let excluded = null;

function settings() {
  if (excluded === null) {
    const config = JSON.parse(getConfig());
    const types = config.excluded_types ?? ['external'];
    if (!Array.isArray(types) || types.some((t) => typeof t !== 'string')) {
      // A typed `invalid-input` error naming the field.
      throw { tag: 'invalid-input', val: { field: 'excluded_types', message: 'must be a list of text' } };
    }
    excluded = new Set(types.map((t) => t.toLowerCase()));
    // Without employment types this rule would exclude nobody: the host
    // stops a run whose source never returns them.
    requireField('employment_type', `exclude ${types.join(', ')}`);
  }
  return excluded;
}

export const ruleApi = {
  describe() {
    return {
      name: 'js-exclude-types',
      version: '1.0.0',
      kind: 'rule',
      description: 'Excludes employees by employment type, written in JavaScript',
      configSchema: JSON.stringify(SCHEMA),
      secrets: [],
      requestedHosts: [],
    };
  },

  evaluate(batch) {
    const types = settings();
    const decisions = batch.map(({ employee }) => {
      const type = (employee.employmentType ?? '').toLowerCase();
      if (types.has(type)) {
        return { tag: 'exclude', val: `employment type ${employee.employmentType}` };
      }
      return { tag: 'keep' };
    });
    log('debug', `evaluated ${batch.length} employees`);
    return decisions;
  },
};
