// Builds the front-end into app/static/dist (git-ignored) from the npm packages.
// GOV.UK Frontend is compiled with the Arial font stack and without the GDS Transport font
// or the crown: those belong to gov.uk alone.
import { compile } from "sass";
import { mkdirSync, copyFileSync, writeFileSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "app", "static", "dist");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const css = compile(path.join(root, "app", "assets", "app.scss"), {
  loadPaths: [path.join(root, "node_modules")],
  style: "compressed",
  quietDeps: true,
  silenceDeprecations: ["import"],
}).css;
if (/GDS Transport|govuk-crest|crown/i.test(css)) {
  throw new Error("Compiled CSS must not reference the GDS Transport font or the crown");
}
writeFileSync(path.join(out, "app.css"), css);

const copies = {
  "htmx.min.js": "node_modules/htmx.org/dist/htmx.min.js",
  "govuk-frontend.min.js": "node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js",
  "app.js": "app/assets/app.js",
  "favicon.svg": "app/assets/favicon.svg",
};
const manifest = {};
for (const [name, source] of Object.entries(copies)) {
  const target = path.join(out, name);
  copyFileSync(path.join(root, source), target);
  manifest[name] = "sha384-" + createHash("sha384").update(readFileSync(target)).digest("base64");
}
writeFileSync(path.join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`assets built into ${path.relative(root, out)}: ${Object.keys(manifest).join(", ")}, app.css`);
