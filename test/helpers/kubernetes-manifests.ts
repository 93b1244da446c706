import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { ServiceMonitor, type IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { REPO_ROOT } from './paths.js';
import { tempDir } from './temp-dir.js';

/* The manifests of deploy/kubernetes (and its replicas/ example), loaded and checked the same way by both tests. */

/** Per kind: kubernetes-models' class (schema validation) and its interface (excess-property check by tsc). */
export const KINDS: Record<string, { validate: (doc: unknown) => void; module: string; type: string }> = {
  Deployment: { validate: (d) => { new Deployment(d as IDeployment).validate(); }, module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  Service: { validate: (d) => { new Service(d as IService).validate(); }, module: 'kubernetes-models/v1/Service', type: 'IService' },
  ConfigMap: { validate: (d) => { new ConfigMap(d as IConfigMap).validate(); }, module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  Secret: { validate: (d) => { new Secret(d as ISecret).validate(); }, module: 'kubernetes-models/v1/Secret', type: 'ISecret' },
  NetworkPolicy: { validate: (d) => { new NetworkPolicy(d as INetworkPolicy).validate(); }, module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy', type: 'INetworkPolicy' },
  ServiceMonitor: { validate: (d) => { new ServiceMonitor(d as IServiceMonitor).validate(); }, module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor', type: 'IServiceMonitor' },
};

export interface Loaded { file: string; index: number; kind: string; doc: unknown }

/** Every document of every .yaml file directly in `dir`, each file starting with a comment. */
export function loadManifests(dir: string): Loaded[] {
  const out: Loaded[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    assert.ok(text.trimStart().startsWith('#'), `${file} starts with a comment saying what it is`);
    parseAllDocuments(text).forEach((document, index) => {
      assert.deepEqual(document.errors, [], `${file} #${index}: YAML errors`);
      assert.deepEqual(document.warnings, [], `${file} #${index}: YAML warnings`);
      const doc: unknown = document.toJS();
      if (doc === null) return;
      const kind = (doc as { kind?: unknown }).kind;
      assert.ok(typeof kind === 'string', `${file} #${index}: no kind`);
      out.push({ file, index, kind, doc });
    });
  }
  return out;
}

/**
 * Writes one .ts file per document (`doc<i>.ts`, each typed with its kubernetes-models interface),
 * plus `extra` files, into a temporary folder that sees the repository's node_modules, and runs tsc
 * (one program) over them; returns the diagnostics per file name ('(global)' for the rest).
 */
export async function typeCheckDocuments(docs: readonly Loaded[], extra: Record<string, string> = {}): Promise<Map<string, string[]>> {
  const dir = await tempDir();
  await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const files: Record<string, string> = { ...Object.fromEntries(docs.map((d, i) => [`doc${i}.ts`, source(d.kind, d.doc)])), ...extra };
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return typeCheck(files, dir);
}

function typeCheck(files: Record<string, string>, dir: string): Map<string, string[]> {
  const names = Object.keys(files).map((name) => path.join(dir, name));
  const program = ts.createProgram(names, {
    noEmit: true, strict: true, exactOptionalPropertyTypes: true, skipLibCheck: true,
    module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, target: ts.ScriptTarget.ES2022, types: [],
  });
  const result = new Map<string, string[]>(Object.keys(files).map((n) => [n, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const name = d.file ? path.basename(d.file.fileName) : '(global)';
    const list = result.get(name) ?? [];
    list.push(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    result.set(name, list);
  }
  return result;
}

export const source = (kind: string, doc: unknown): string => {
  const k = KINDS[kind];
  assert.ok(k, `no model for kind ${kind}`);
  return `import type { ${k.type} } from '${k.module}';\nexport const doc: ${k.type} = ${JSON.stringify(doc, null, 2)};\n`;
};

/** Every string in a value, keys of objects included, and JSON inside strings opened too. */
export function strings(value: unknown): string[] {
  if (typeof value === 'string') {
    try {
      const inner: unknown = JSON.parse(value);
      if (typeof inner === 'object' && inner !== null) return strings(inner);
    } catch { /* not JSON */ }
    return [value];
  }
  if (Array.isArray(value)) return value.flatMap(strings);
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => [k, ...strings(v)]);
  return [];
}

