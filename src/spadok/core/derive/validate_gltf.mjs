// Validate glTF/GLB files with the Khronos glTF-Validator; one JSON line per file.
//
// Usage: node validate_gltf.mjs NODE_MODULES_DIR FILE [FILE...]
// The node_modules folder is passed in so the script works wherever the
// Python package is installed. Each output line is
// {"path", "errors", "warnings", "infos", "hints", "messages": [...], "fatal"?}.
import fs from 'fs';
import path from 'path';
import { createRequire } from 'module';

const [nodeModules, ...files] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(nodeModules), 'noop.js'));
const validator = require('gltf-validator');

const MAX_MESSAGES = 20;

async function validate(file) {
  const full = path.resolve(file);
  const data = new Uint8Array(fs.readFileSync(full));
  const report = await validator.validateBytes(data, {
    uri: path.basename(full),
    maxIssues: 1000,
    externalResourceFunction: (uri) =>
      new Promise((resolve, reject) => {
        const target = path.resolve(path.dirname(full), decodeURIComponent(uri));
        fs.readFile(target, (err, buf) => (err ? reject(err.toString()) : resolve(new Uint8Array(buf))));
      }),
  });
  const issues = report.issues;
  return {
    path: file,
    errors: issues.numErrors,
    warnings: issues.numWarnings,
    infos: issues.numInfos,
    hints: issues.numHints,
    messages: issues.messages.slice(0, MAX_MESSAGES).map((m) => ({
      code: m.code,
      message: m.message,
      severity: ['error', 'warning', 'info', 'hint'][m.severity] ?? String(m.severity),
      pointer: m.pointer ?? m.offset ?? null,
    })),
    info: report.info ?? null,
  };
}

for (const file of files) {
  let out;
  try {
    out = await validate(file);
  } catch (err) {
    out = { path: file, errors: 1, warnings: 0, infos: 0, hints: 0, fatal: String(err), messages: [] };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}
