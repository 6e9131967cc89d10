// Holds viewer_request.js, each dialect's build of it (build.mjs PARTS), info_request.js (the /_vf/info/*
// function) and their minified forms to what the cloudfront-js-2.0 runtime documents:
// ES 5.1 plus a few later features, modules by `import` only, no timers, network or dynamic code.
// The checker parses the code with acorn and walks every node against an allow-list: a construct that
// is not listed here (and in README.md's runtime notes) is refused, even if node would run it.
//
//   node functions/edge/check_runtime.mjs                 # every build's source and minified code
//   node functions/edge/check_runtime.mjs some.js ...     # other files
//
// Prints one line per problem (`file:line:col: message`) and exits non-zero when there is any.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as acorn from 'acorn';
import { assemble, build, INFO_KEEP, INFO_SOURCE_PATH, PARTS, SOURCE_PATH, TOKEN } from './build.mjs';

/** Modules the runtime provides (`cloudfront`: KeyValueStore helpers). */
export const MODULES = ['cloudfront', 'crypto', 'buffer', 'querystring'];

/** Globals the runtime documents, plus the config placeholder the CDK construct replaces. */
export const GLOBALS = new Set([
  'Object', 'Array', 'String', 'Number', 'Boolean', 'Math', 'JSON', 'Date', 'RegExp', 'Promise',
  'Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError',
  'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'isFinite', 'isNaN',
  'parseFloat', 'parseInt', 'NaN', 'Infinity', 'undefined', 'globalThis', 'atob', 'btoa', 'console',
  TOKEN,
]);

// ES 2022 and later built-in methods (the runtime documents features up to ES 12, that is ES 2021).
const LATER_METHODS = new Set(['hasOwn', 'at', 'findLast', 'findLastIndex', 'toSorted', 'toReversed', 'toSpliced', 'with']);

// Node types allowed anywhere; the ones with conditions are checked in `visit`.
const NODES = new Set([
  'Program', 'ImportDeclaration', 'ImportDefaultSpecifier',
  // statements: the ES 5.1 list, and let/const
  'VariableDeclaration', 'VariableDeclarator', 'ExpressionStatement', 'EmptyStatement', 'BlockStatement',
  'IfStatement', 'ForStatement', 'ForInStatement', 'WhileStatement', 'DoWhileStatement', 'ReturnStatement',
  'BreakStatement', 'ContinueStatement', 'ThrowStatement', 'TryStatement', 'CatchClause', 'SwitchStatement',
  'SwitchCase', 'LabeledStatement',
  // functions: ES 5.1, arrow functions, rest parameters; async/await (top-level declarations only)
  'FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression', 'RestElement', 'AwaitExpression',
  // expressions: ES 5.1 operators and ** ; template literals
  'Identifier', 'Literal', 'ThisExpression', 'ArrayExpression', 'ObjectExpression', 'Property',
  'MemberExpression', 'CallExpression', 'NewExpression', 'UnaryExpression', 'BinaryExpression',
  'LogicalExpression', 'ConditionalExpression', 'AssignmentExpression', 'UpdateExpression',
  'SequenceExpression', 'TemplateLiteral', 'TemplateElement',
]);

function children(node) {
  const out = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'loc') continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item && typeof item.type === 'string') out.push([key, item]);
    }
  }
  return out;
}

function declaredNames(ast) {
  const names = new Set();
  const bind = (p) => p && (p.type === 'RestElement' ? bind(p.argument) : p.type === 'Identifier' && names.add(p.name));
  (function walk(node) {
    if (node.type === 'VariableDeclarator' || node.type === 'ImportDefaultSpecifier') bind(node.id || node.local);
    if (/Function/.test(node.type)) {
      bind(node.id);
      node.params.forEach(bind);
    }
    if (node.type === 'CatchClause') bind(node.param);
    for (const [, child] of children(node)) walk(child);
  })(ast);
  return names;
}

/** The problems of `code` as `line:col: message` strings (none: the runtime supports all of it). */
export function check(code) {
  let ast;
  try {
    ast = acorn.parse(code, { ecmaVersion: 2022, sourceType: 'module', locations: true });
  } catch (error) {
    return [`${error.loc ? `${error.loc.line}:${error.loc.column}` : '0:0'}: does not parse: ${error.message}`];
  }
  const problems = [];
  const declared = declaredNames(ast);
  const asyncNames = new Set(
    ast.body.filter((n) => n.type === 'FunctionDeclaration' && n.async).map((n) => n.id.name)
  );
  const refuse = (node, message) => problems.push(`${node.loc.start.line}:${node.loc.start.column}: ${message}`);

  function visit(node, parent, key, fn) {
    if (!NODES.has(node.type)) return refuse(node, `${node.type} is not supported by cloudfront-js-2.0`);
    switch (node.type) {
      case 'ImportDeclaration':
        if (!MODULES.includes(node.source.value)) refuse(node, `module '${node.source.value}' is not a runtime module`);
        if (node.specifiers.length !== 1 || node.specifiers[0].type !== 'ImportDefaultSpecifier')
          refuse(node, 'import only a default binding (import x from "module")');
        break;
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        if (node.generator) refuse(node, 'generators are not supported');
        if (node.async && !(node.type === 'FunctionDeclaration' && parent.type === 'Program'))
          refuse(node, 'async functions only as top-level declarations (no async closures or arguments)');
        for (const p of node.params) {
          if (p.type !== 'Identifier' && !(p.type === 'RestElement' && p.argument.type === 'Identifier'))
            refuse(p, 'parameters are plain names or ...rest (no defaults or destructuring)');
        }
        break;
      case 'AwaitExpression':
        if (!fn || !fn.async) refuse(node, 'await outside an async function');
        break;
      case 'Property':
        if (node.kind !== 'init' || node.method || node.shorthand || node.computed)
          refuse(node, 'object literal entries are `key: value` (no shorthand, methods, accessors or computed keys)');
        break;
      case 'LogicalExpression':
        if (node.operator === '??') refuse(node, '?? is not supported');
        break;
      case 'AssignmentExpression':
        if (['??=', '||=', '&&='].includes(node.operator)) refuse(node, `${node.operator} is not supported`);
        break;
      case 'Literal':
        if (node.bigint !== undefined) refuse(node, 'BigInt literals are not supported');
        if (node.regex) {
          if (/[^gim]/.test(node.regex.flags)) refuse(node, `regular expression flags '${node.regex.flags}': only g, i, m`);
          if (/\(\?<|\\[pPk]\{?|\\u\{/.test(node.regex.pattern))
            refuse(node, 'regular expression uses lookbehind, named groups, \\p{} or \\u{}');
        }
        break;
      case 'MemberExpression':
        if (!node.computed && LATER_METHODS.has(node.property.name))
          refuse(node, `'${node.property.name}' is newer than the runtime's built-ins`);
        break;
      case 'Identifier': {
        const declaration = (parent.type === 'MemberExpression' && key === 'property' && !parent.computed) ||
          (parent.type === 'Property' && key === 'key') ||
          /Statement$/.test(parent.type) && key === 'label';
        if (declaration) break;
        if (!declared.has(node.name) && !GLOBALS.has(node.name))
          refuse(node, `'${node.name}' is not a global of the runtime`);
        const binding = parent.type === 'FunctionDeclaration' && key === 'id';
        if (asyncNames.has(node.name) && !binding && !(parent.type === 'CallExpression' && key === 'callee'))
          refuse(node, `async function '${node.name}' may only be called, not passed or stored`);
        break;
      }
      default:
    }
    const inner = /Function/.test(node.type) ? node : fn;
    for (const [k, child] of children(node)) visit(child, node, k, inner);
  }
  visit(ast, null, null, null);

  const handler = ast.body.find((n) => n.type === 'FunctionDeclaration' && n.id.name === 'handler');
  if (!handler) problems.push('0:0: no top-level function handler(event)');
  return problems;
}

async function main(files) {
  const targets = files.length
    ? files.map((f) => [f, fs.readFileSync(f, 'utf8')])
    : [
        [path.relative(process.cwd(), SOURCE_PATH), fs.readFileSync(SOURCE_PATH, 'utf8')],
        ['minified build', await build()],
      ];
  if (!files.length) {
    for (const dialect of Object.keys(PARTS)) {
      const source = assemble(dialect, true);
      targets.push([`${dialect} build (prefixed)`, source], [`${dialect} minified build (prefixed)`, await build(source)]);
    }
    const info = fs.readFileSync(INFO_SOURCE_PATH, 'utf8');
    targets.push([path.relative(process.cwd(), INFO_SOURCE_PATH), info], ['info minified build', await build(info, INFO_KEEP)]);
  }
  let count = 0;
  for (const [name, code] of targets) {
    for (const problem of check(code)) {
      console.log(`${name}:${problem}`);
      count += 1;
    }
  }
  console.log(`runtime check: ${targets.length} files; ${count} problems`);
  process.exitCode = count ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
