// Validates an AsyncAPI document with the AsyncAPI Initiative's parser (@asyncapi/parser, pinned by
// package-lock.json): prints every diagnostic as one JSON line {severity, code, message, path} and exits 1
// when any is an error (severity 0). Usage: node check.mjs docs/asyncapi.yaml
import { readFileSync } from "node:fs";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const file = process.argv[2];
if (!file) {
  console.error("usage: node check.mjs <asyncapi document>");
  process.exit(2);
}
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(file, "utf8"), { source: file });
let errors = 0;
for (const d of diagnostics) {
  if (d.severity === DiagnosticSeverity.Error) errors += 1;
  console.log(JSON.stringify({ severity: d.severity, code: d.code, message: d.message, path: d.path.join(".") }));
}
console.log(JSON.stringify({ version: document ? document.version() : null, errors, diagnostics: diagnostics.length }));
process.exit(errors === 0 && document ? 0 : 1);
