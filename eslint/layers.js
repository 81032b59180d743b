/**
 * `clawbridge/layers` — the layer table of ARCHITECTURE.md "Modules (src/)" as a lint rule.
 *
 * A module is a top-level entry of src/: a folder (`core/`, `relay/` …) or `app.ts`.
 * For every import in a file under src/ (static, `export … from`, `import()`, `import("…").T`)
 * whose target is another module, the rule checks:
 *
 * 1. Layers point downward only: (1) core/; (2) config/, mailbox/, gateway/, feishu/, cluster/;
 *    (3) nodes/; (4) relay/; (5) tasks/; (6) app.ts, http/, cli/, ops/, replica/; (7) demo/.
 *    Modules of layer 6 may import each other (the CLI starts the app, the app starts http/;
 *    ops/ — metrics, health monitor, ops listener — reads every part the app composes;
 *    replica/ composes the parts a replica runs for the roles it holds).
 * 2. Layer 2 is five siblings that never import each other; config/ imports only core/,
 *    and the adapters import config/ for its types only (`import type`, which is erased —
 *    `import { type X }` is not, under verbatimModuleSyntax).
 * 3. Only feishu/ imports the Feishu SDK `@larksuiteoapi/node-sdk`.
 * 4. No production module imports sim/; only demo/ does (tests are outside src/ and free).
 *    No module imports demo/, except cli/ with a dynamic `import()` — the sandbox and its
 *    stand-ins are never loaded by `clawbridge start`.
 * 5. Another module is entered through its index.ts only (STYLE.md "Layout we expect");
 *    relative imports of a module's own files are free.
 *
 * sim/ stands beside the layers, not in them: it is shipped with the package but is not the
 * bridge. Rule chosen for it: sim/ may import core/, config types (`import type`) and the
 * adapters whose other side it fakes — mailbox/, gateway/, feishu/ — through their index.ts
 * (it reuses their wire schemas so a fake speaks exactly the protocol the adapter parses).
 * It may not import nodes/, relay/, tasks/, app.ts, http/, cli/ or demo/: a stand-in that
 * depended on the bridge logic it stands in for could no longer check it. Nor may it import
 * the Feishu SDK: the emulator implements the wire protocol on its own so that the real SDK,
 * driven by tests, checks it.
 *
 * Files outside src/ (test/, bench/, config files) are not checked.
 */
import path from "node:path";

const SRC = path.resolve(import.meta.dirname, "../src");
const FEISHU_SDK = "@larksuiteoapi/node-sdk";
const DOC = "ARCHITECTURE.md Modules";

/** The layer of each module; sim/ is deliberately absent (see above). */
export const LAYERS = Object.freeze({
  core: 1,
  config: 2,
  mailbox: 2,
  gateway: 2,
  feishu: 2,
  cluster: 2,
  nodes: 3,
  relay: 4,
  tasks: 5,
  "app.ts": 6,
  http: 6,
  cli: 6,
  ops: 6,
  replica: 6,
  demo: 7,
});
// cluster/ is the Redis adapter of several replicas (leases, streams, shared limits).
const ADAPTERS = ["mailbox", "gateway", "feishu", "cluster"];
const SIM_MAY_IMPORT = ["core", "config", ...ADAPTERS];

/** How a module is named in messages: `relay/`, `app.ts`. */
function label(mod) {
  return mod.endsWith(".ts") ? mod : `${mod}/`;
}

function describe(mod) {
  return mod in LAYERS ? `${label(mod)} (layer ${LAYERS[mod]})` : label(mod);
}

/**
 * Where a path under src/ lies: its module and its path inside src/ (posix), or undefined
 * when the path is outside src/.
 */
function locate(absolute) {
  const rel = path.relative(SRC, absolute);
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) return undefined;
  const inner = rel.split(path.sep).join("/");
  const [first, ...rest] = inner.split("/");
  const mod = rest.length === 0 ? first.replace(/\.(?:[mc]?[jt]s)$/, ".ts") : first;
  return { mod, inner };
}

/** True when `inner` (a path inside src/) names the module's public entry. */
function isEntry(mod, inner) {
  if (mod.endsWith(".ts")) return true;
  const rest = inner.slice(mod.length).replace(/\.(?:[mc]?[jt]s)$/, "");
  return rest === "" || rest === "/" || rest === "/index";
}

function entryOf(mod) {
  return mod.endsWith(".ts") ? `src/${mod}` : `src/${mod}/index.ts`;
}

/** @type {import("eslint").Rule.RuleModule} */
export const layersRule = {
  meta: {
    type: "problem",
    docs: {
      description:
        "Imports follow the layer table of ARCHITECTURE.md (Modules) and enter modules by index.ts",
    },
    schema: [],
    messages: {
      upward: "{{from}} may not import {{to}}: imports point downward only — " + DOC,
      siblings:
        "{{from}} may not import {{to}}: config/ and the adapters mailbox/, gateway/, feishu/ never import each other — " +
        DOC,
      configOnlyCore: "config/ imports only core/, not {{to}} — " + DOC,
      configTypes:
        "{{from}} may import only types from config/: write `import type { … }` (erased at build) — " + DOC,
      feishuSdk: "{{from}} may not import the Feishu SDK ({{specifier}}): only feishu/ knows Feishu — " + DOC,
      sim:
        "{{from}} may not import sim/: production code never loads the stand-ins; only demo/ and tests may — " +
        DOC,
      demo: "{{from}} may not import demo/: only cli/ loads the sandbox, with a dynamic import() — " + DOC,
      demoStatic:
        "cli/ may load demo/ only with a dynamic import(), so that the other commands never load the sandbox — " +
        DOC,
      simScope:
        "sim/ may import only core/, config types and the adapters it fakes (mailbox/, gateway/, feishu/), not {{to}}: " +
        "a stand-in must not depend on the bridge it stands in for — eslint/layers.js",
      deep: "{{from}} may not reach inside {{to}}: import from {{entry}}, not src/{{target}} — a module's index.ts is its public surface (STYLE.md Layout)",
      unknown:
        "src/{{mod}} is not in the layer table: give it a layer in ARCHITECTURE.md Modules and eslint/layers.js",
    },
  },

  create(context) {
    const here = locate(context.filename);
    if (!here) return {};
    const from = here.mod;
    const fromSim = from === "sim";

    /**
     * @param {import("estree").Node} node what to report on
     * @param {string} specifier the import's module specifier
     * @param {{ typeOnly: boolean, dynamic: boolean }} how
     */
    function check(node, specifier, how) {
      if (specifier === FEISHU_SDK || specifier.startsWith(`${FEISHU_SDK}/`)) {
        if (from !== "feishu")
          context.report({ node, messageId: "feishuSdk", data: { from: label(from), specifier } });
        return;
      }
      if (!specifier.startsWith(".")) return;
      const target = locate(path.resolve(path.dirname(context.filename), specifier));
      if (!target || target.mod === from) return;
      const to = target.mod;
      const data = { from: describe(from), to: describe(to) };

      if (to === "sim") {
        if (from !== "demo") context.report({ node, messageId: "sim", data: { from: label(from) } });
        return;
      }
      if (to === "demo") {
        if (from !== "cli") context.report({ node, messageId: "demo", data: { from: label(from) } });
        else if (!how.dynamic) context.report({ node, messageId: "demoStatic" });
        return;
      }
      if (!(to in LAYERS)) {
        context.report({ node, messageId: "unknown", data: { mod: to } });
        return;
      }
      if (!isEntry(to, target.inner)) {
        context.report({
          node,
          messageId: "deep",
          data: { from: label(from), to: label(to), entry: entryOf(to), target: target.inner },
        });
        // The layer checks below still apply: report both when both are broken.
      }

      if (fromSim) {
        if (!SIM_MAY_IMPORT.includes(to))
          context.report({ node, messageId: "simScope", data: { to: label(to) } });
        else if (to === "config" && !how.typeOnly)
          context.report({ node, messageId: "configTypes", data: { from: label(from) } });
        return;
      }
      if (!(from in LAYERS)) return; // reported once, on the Program
      const a = LAYERS[from];
      const b = LAYERS[to];
      if (b > a) context.report({ node, messageId: "upward", data });
      else if (a === 2 && b === 2) {
        if (from === "config") context.report({ node, messageId: "configOnlyCore", data: { to: label(to) } });
        else if (to !== "config") context.report({ node, messageId: "siblings", data });
        else if (!how.typeOnly)
          context.report({ node, messageId: "configTypes", data: { from: label(from) } });
      }
    }

    function staticSource(source) {
      if (!source) return undefined;
      if (source.type === "Literal" && typeof source.value === "string") return source.value;
      if (source.type === "TemplateLiteral" && source.expressions.length === 0)
        return source.quasis[0].value.cooked;
      return undefined;
    }

    function visit(node, source, how) {
      const specifier = staticSource(source);
      if (specifier !== undefined) check(node, specifier, how);
    }

    return {
      Program(node) {
        if (!fromSim && !(from in LAYERS))
          context.report({ node, messageId: "unknown", data: { mod: from } });
      },
      ImportDeclaration(node) {
        visit(node, node.source, { typeOnly: node.importKind === "type", dynamic: false });
      },
      ExportNamedDeclaration(node) {
        visit(node, node.source, { typeOnly: node.exportKind === "type", dynamic: false });
      },
      ExportAllDeclaration(node) {
        visit(node, node.source, { typeOnly: node.exportKind === "type", dynamic: false });
      },
      ImportExpression(node) {
        visit(node, node.source, { typeOnly: false, dynamic: true });
      },
      TSImportType(node) {
        // `import("../x/index.js").T`: typescript-eslint 8.x has `source` (a string literal);
        // older 8.x releases have only `argument` (a TSLiteralType) — read `source` first so
        // the deprecated getter is never touched when it is there.
        const source =
          "source" in node && node.source
            ? node.source
            : node.argument?.type === "TSLiteralType"
              ? node.argument.literal
              : node.argument;
        visit(node, source, { typeOnly: true, dynamic: false });
      },
    };
  },
};

/** The local plugin: `clawbridge/layers`. */
export default {
  meta: { name: "clawbridge-layers" },
  rules: { layers: layersRule },
};
