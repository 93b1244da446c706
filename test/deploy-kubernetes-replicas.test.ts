import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import { saltPlatformPassword } from '../src/accounts/platform-secret.js';
import { assembleConfig } from '../src/config/assemble.js';
import { formatProblem } from '../src/config/problems.js';
import { KINDS, loadManifests, strings, typeCheckDocuments, type Loaded } from './helpers/kubernetes-manifests.js';
import { REPO_ROOT } from './helpers/paths.js';
import { tempDir } from './helpers/temp-dir.js';

/*
 * deploy/kubernetes/replicas: three keepd pods sharing one login throttle in Redis (issue 16),
 * checked like deploy/kubernetes itself (kubernetes-models, tsc), and against it: the replicas'
 * Deployment is the single one with only the documented differences.
 */

const BASE = loadManifests(path.join(REPO_ROOT, 'deploy', 'kubernetes'));
const DOCS = loadManifests(path.join(REPO_ROOT, 'deploy', 'kubernetes', 'replicas'));

interface Typed { Deployment: IDeployment; Service: IService; Secret: ISecret; NetworkPolicy: INetworkPolicy }

function named<K extends keyof Typed>(docs: Loaded[], kind: K, name: string): Typed[K] {
  const found = docs.filter((d) => d.kind === kind && (d.doc as { metadata?: { name?: string } }).metadata?.name === name);
  assert.equal(found.length, 1, `one ${kind} ${name}`);
  return (found[0] as Loaded).doc as Typed[K];
}

describe('deploy/kubernetes/replicas', () => {
  it('holds the keepd Deployment, Redis (Deployment, Service, NetworkPolicy) and its example Secret', () => {
    assert.deepEqual(DOCS.map((d) => `${d.kind}/${(d.doc as { metadata: { name: string } }).metadata.name}`).sort(), [
      'Deployment/keepd', 'Deployment/keepd-redis', 'NetworkPolicy/keepd-redis', 'Secret/keepd-redis', 'Service/keepd-redis',
    ]);
  });

  for (const d of DOCS) {
    it(`${d.file} #${d.index} (${d.kind}) passes kubernetes-models' schema validation`, () => {
      (KINDS[d.kind] as { validate: (doc: unknown) => void }).validate(d.doc);
    });
  }

  it('every document type-checks against its kubernetes-models interface with no unknown field', async () => {
    const diagnostics = await typeCheckDocuments(DOCS);
    assert.deepEqual(diagnostics.get('(global)') ?? [], []);
    DOCS.forEach((d, i) => assert.deepEqual(diagnostics.get(`doc${i}.ts`), [], `${d.file} #${d.index} (${d.kind})`));
  });

  it('the keepd Deployment is ../deployment.yaml with 3 replicas, spread over nodes, and keepd-redis projected as 30-throttle-store.json', () => {
    const single = named(BASE, 'Deployment', 'keepd');
    const replicas = structuredClone(named(DOCS, 'Deployment', 'keepd'));
    assert.equal(single.spec?.replicas, 1);
    assert.equal(replicas.spec?.replicas, 3);
    const pod = replicas.spec.template.spec;
    assert.equal(pod?.topologySpreadConstraints?.[0]?.topologyKey, 'kubernetes.io/hostname');
    const sources = pod.volumes?.find((v) => v.name === 'keepconfig')?.projected?.sources ?? [];
    const redis = sources.pop();
    assert.deepEqual(redis?.secret, { name: 'keepd-redis', items: [{ key: 'throttle-store.json', path: '30-throttle-store.json' }] });
    const names = sources.flatMap((s) => (s.configMap ?? s.secret)?.items?.map((i) => i.path) ?? []).filter((p) => p.endsWith('.json'));
    assert.ok(names.every((name) => name < '30-throttle-store.json'), 'read last, after the files it adds to');
    replicas.spec.replicas = 1;
    delete pod.topologySpreadConstraints;
    assert.deepEqual(replicas, single, 'nothing else differs');
  });

  it('Redis: reachable as keepd-redis:6379 by keepd\'s pods only, password from the Secret\'s redis.conf, nothing persisted, hardened', () => {
    const service = named(DOCS, 'Service', 'keepd-redis');
    assert.deepEqual(service.spec?.ports?.map((p) => [p.port, p.targetPort]), [[6379, 'redis']]);
    const deployment = named(DOCS, 'Deployment', 'keepd-redis');
    assert.deepEqual(service.spec.selector, deployment.spec?.selector.matchLabels);
    const pod = deployment.spec?.template.spec;
    assert.ok(pod);
    const container = pod.containers[0];
    assert.equal(container?.ports?.find((p) => p.name === 'redis')?.containerPort, 6379);
    const command = container.command ?? [];
    assert.equal(command[0], 'redis-server');
    assert.equal(command[1], '/etc/redis/redis.conf');
    assert.deepEqual(command.slice(command.indexOf('--save'), command.indexOf('--save') + 4), ['--save', '', '--appendonly', 'no']);
    assert.ok(!command.some((word) => /requirepass|<|password/i.test(word)), 'no password on the command line');
    assert.equal(container.volumeMounts?.find((m) => m.name === 'config')?.mountPath, '/etc/redis');
    assert.deepEqual(pod.volumes?.find((v) => v.name === 'config')?.secret?.items, [{ key: 'redis.conf', path: 'redis.conf' }]);
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities?.drop, ['ALL']);
    assert.equal(pod.securityContext?.runAsNonRoot, true);

    const policy = named(DOCS, 'NetworkPolicy', 'keepd-redis');
    assert.deepEqual(policy.spec?.podSelector, deployment.spec?.selector);
    assert.deepEqual(policy.spec?.ingress, [{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'keepd' } } }], ports: [{ protocol: 'TCP', port: 6379 }] }]);
  });

  it('the example Secret holds placeholders only, and its throttle-store.json is a configuration keepd accepts once they are filled in', async () => {
    const secret = named(DOCS, 'Secret', 'keepd-redis');
    assert.equal(secret.data, undefined, 'stringData only');
    const data = secret.stringData ?? {};
    assert.deepEqual(Object.keys(data).sort(), ['redis.conf', 'throttle-store.json']);
    for (const text of strings(data)) assert.doesNotMatch(text, /[0-9a-f]{16,}:[0-9a-f]{16,}|-----BEGIN|[A-Za-z0-9+/=_-]{24,}/i, text);
    assert.match(data['redis.conf'] ?? '', /^requirepass "<[^<>]+>"\n$/);

    const filled = (data['throttle-store.json'] ?? '').replace(/<[^<>]+>/g, 'example-password');
    const result = await assembleConfig(await tempDir({ '30-throttle-store.json': filled }), {}, saltPlatformPassword);
    if (!result.ok) assert.fail(result.problems.map(formatProblem).join('\n'));
    const store = result.loaded.config.loginRateLimit.store;
    assert.ok(store !== 'memory');
    const url = new URL(store.redis.url);
    const service = named(DOCS, 'Service', 'keepd-redis');
    assert.deepEqual([url.hostname, Number(url.port)], [service.metadata?.name, service.spec?.ports?.[0]?.port]);
  });
});
