// Assembles the site root from wasm-bindgen's output, the stylesheet and
// public/: the layout the server and leptos expect.
//
//   node scripts/site.mjs <bindgen-dir> <site-root> <server-dir> <fast|best>
//
// <site-root>/           public/'s files (favicon.ico ...)
// <site-root>/pkg/       authwatch.<hash>.js, .wasm and .css, each also as
//                        .br and .gz beside it; wasm-bindgen's snippets/
// <site-root>/hash.txt   the hashes, in leptos's hash-file format
// <server-dir>/hash.txt  the same file: leptos reads it from the directory
//                        of the running server executable (HydrationScripts,
//                        HashedStylesheet), when LEPTOS_HASH_FILES is true
//
// The hash is cargo-leptos's: base64url of the file's MD5, unpadded, so a
// name changes exactly when the content does and the server may tell
// browsers to keep it forever. The compressed files are written once per
// name; files of earlier builds are removed from pkg/ once the new ones are
// in place. `fast` (development builds) compresses at lower levels: a debug
// wasm is tens of megabytes.
//
// Node's zlib does brotli (and gzip, for development builds), and node is
// already needed (npm, wasm-opt, Playwright); GNU gzip is on every machine:
// nothing else has to be installed.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const NAME = "authwatch";
const [bindgenDir, siteRoot, serverDir, level] = process.argv.slice(2);
if (!serverDir || !["fast", "best"].includes(level)) {
  console.error("usage: node scripts/site.mjs <bindgen-dir> <site-root> <server-dir> <fast|best>");
  process.exit(2);
}
const best = level === "best";
const pkgDir = path.join(siteRoot, "pkg");
fs.mkdirSync(pkgDir, { recursive: true });

const hashOf = (bytes) => createHash("md5").update(bytes).digest("base64url");

/** Writes `bytes` as pkg/authwatch.<hash>.<ext> with its .br and .gz; returns the hash. */
function publish(ext, bytes, text) {
  const hash = hashOf(bytes);
  const file = path.join(pkgDir, `${NAME}.${hash}.${ext}`);
  if (!fs.existsSync(file)) {
    const mode = text ? zlib.constants.BROTLI_MODE_TEXT : zlib.constants.BROTLI_MODE_GENERIC;
    const br = zlib.brotliCompressSync(bytes, {
      params: {
        [zlib.constants.BROTLI_PARAM_MODE]: mode,
        [zlib.constants.BROTLI_PARAM_QUALITY]: best ? zlib.constants.BROTLI_MAX_QUALITY : 4,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    });
    // GNU gzip -9 where it counts: a little smaller than zlib's level 9,
    // and the size scripts/bundle-size.sh reports and budgets.
    const gz = best
      ? execFileSync("gzip", ["-9", "-n", "-c"], { input: bytes, maxBuffer: 1 << 30 })
      : zlib.gzipSync(bytes, { level: 4 });
    // The plain file last: its presence says the three are complete.
    fs.writeFileSync(`${file}.br`, br);
    fs.writeFileSync(`${file}.gz`, gz);
    fs.writeFileSync(`${file}.tmp`, bytes);
    fs.renameSync(`${file}.tmp`, file);
  }
  return hash;
}

const wasm = publish("wasm", fs.readFileSync(path.join(bindgenDir, `${NAME}_bg.wasm`)), false);
// The loader's default address for the wasm, used when it is given none
// (leptos always gives one): the hashed name, so the file stays self-consistent.
const js = fs
  .readFileSync(path.join(bindgenDir, `${NAME}.js`), "utf8")
  .replaceAll(`'${NAME}_bg.wasm'`, `'${NAME}.${wasm}.wasm'`);
const jsHash = publish("js", Buffer.from(js), true);
const css = publish("css", fs.readFileSync("style/main.css"), true);

const snippets = path.join(bindgenDir, "snippets");
fs.rmSync(path.join(pkgDir, "snippets"), { recursive: true, force: true });
if (fs.existsSync(snippets)) {
  fs.cpSync(snippets, path.join(pkgDir, "snippets"), { recursive: true });
}
fs.cpSync("public", siteRoot, { recursive: true });

const hashFile = `js: ${jsHash}\nwasm: ${wasm}\ncss: ${css}\n`;
for (const dir of [siteRoot, serverDir]) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "hash.txt.tmp"), hashFile);
  fs.renameSync(path.join(dir, "hash.txt.tmp"), path.join(dir, "hash.txt"));
}

// Earlier builds' files, and anything cargo-leptos left (unhashed names).
const current = new Set([`${jsHash}.js`, `${wasm}.wasm`, `${css}.css`]);
for (const entry of fs.readdirSync(pkgDir)) {
  const match = entry.match(new RegExp(`^${NAME}(?:_bg)?\\.(?:(.+)\\.)?(js|wasm|css)(?:\\.(?:br|gz|tmp))?$`))
    ?? entry.match(new RegExp(`^${NAME}(?:_bg)?(?:\\.wasm)?\\.d\\.ts$`));
  if (match && !current.has(`${match[1]}.${match[2]}`)) {
    fs.rmSync(path.join(pkgDir, entry));
  }
}
process.stdout.write(hashFile);
