import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { KINDS, loadManifests, source, strings, typeCheckDocuments, type Loaded } from './helpers/kubernetes-manifests.js';
import { REPO_ROOT } from './helpers/paths.js';
import { tlsFixture } from './helpers/test-config.js';

const DIR = path.join(REPO_ROOT, 'deploy', 'kubernetes');
const MANAGEMENT_PORT = 8889;
const PORTS = { data: 8880, health: 8886, metrics: 8890 } as const;

const DOCS = loadManifests(DIR);
interface Typed { Deployment: IDeployment; Service: IService; ConfigMap: IConfigMap; NetworkPolicy: INetworkPolicy; ServiceMonitor: IServiceMonitor }
/** The one document of a kind, already checked by kubernetes-models (see the tests below). */
const only = <K extends keyof Typed>(kind: K): Typed[K] => {
  const found = DOCS.filter((d) => d.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return (found[0] as Loaded).doc as Typed[K];
};

const container = (): IContainer => {
  const containers = only('Deployment').spec?.template.spec?.containers ?? [];
  assert.equal(containers.length, 1, 'one container');
  return containers[0] as IContainer;
};

describe('deploy/kubernetes', () => {
  it('holds the kinds the issue asks for, each a known kind', () => {
    for (const d of DOCS) assert.ok(d.kind in KINDS, `${d.file}: unexpected kind ${d.kind}`);
    for (const kind of ['Deployment', 'Service', 'NetworkPolicy', 'ServiceMonitor', 'ConfigMap', 'Secret']) {
      assert.ok(DOCS.some((d) => d.kind === kind), `no ${kind}`);
    }
  });

  for (const d of DOCS) {
    it(`${d.file} #${d.index} (${d.kind}) passes kubernetes-models' schema validation`, () => {
      (KINDS[d.kind] as { validate: (doc: unknown) => void }).validate(d.doc);
    });
  }

  it('every document type-checks against its kubernetes-models interface with no unknown field; a misspelt field is caught', async () => {
    const files: Record<string, string> = {};
    // Negative cases: the Deployment with livenessProbe misspelt, and the ServiceMonitor with a
    // misspelt tlsConfig key; both are accepted by kubernetes-models' validate(), so tsc must catch them.
    const deployment = structuredClone(only('Deployment'));
    const c = deployment.spec?.template.spec?.containers[0] as unknown as Record<string, unknown>;
    c.livenesProbe = c.livenessProbe;
    delete c.livenessProbe;
    new Deployment(deployment).validate();
    files['typo-deployment.ts'] = source('Deployment', deployment);
    const monitor = structuredClone(only('ServiceMonitor'));
    const tlsConfig = monitor.spec.endpoints[0]?.tlsConfig as unknown as Record<string, unknown>;
    tlsConfig.severName = tlsConfig.serverName;
    delete tlsConfig.serverName;
    files['typo-servicemonitor.ts'] = source('ServiceMonitor', monitor);
    const diagnostics = await typeCheckDocuments(DOCS, files);
    assert.deepEqual(diagnostics.get('(global)') ?? [], []);
    DOCS.forEach((d, i) => assert.deepEqual(diagnostics.get(`doc${i}.ts`), [], `${d.file} #${d.index} (${d.kind})`));
    const typo = diagnostics.get('typo-deployment.ts') ?? [];
    assert.equal(typo.length, 1, typo.join('\n'));
    assert.match(typo[0] ?? '', /'"livenesProbe"' does not exist in type 'IContainer'/);
    const typo2 = diagnostics.get('typo-servicemonitor.ts') ?? [];
    assert.equal(typo2.length, 1, typo2.join('\n'));
    assert.match(typo2[0] ?? '', /'"severName"' does not exist in type/);
  });

  it('the Service exposes data, health and metrics, never the management port', () => {
    const ports = only('Service').spec?.ports ?? [];
    assert.deepEqual(ports.map((p) => [p.name, p.port]).sort(), Object.entries(PORTS).sort());
    for (const p of ports) {
      assert.notEqual(p.port, MANAGEMENT_PORT);
      assert.notEqual(p.targetPort, MANAGEMENT_PORT);
      assert.notEqual(p.targetPort, 'management');
    }
  });

  it('the NetworkPolicy admits data, health and metrics only: every rule lists its ports, none is 8889', () => {
    const policy = only('NetworkPolicy');
    assert.deepEqual(policy.spec?.policyTypes, ['Ingress']);
    assert.deepEqual(policy.spec.podSelector, { matchLabels: { 'app.kubernetes.io/name': 'keepd' } });
    const allowed = new Set<number | string>();
    for (const rule of policy.spec.ingress ?? []) {
      assert.ok(rule.ports && rule.ports.length > 0, 'a rule without ports admits every port, 8889 included');
      for (const p of rule.ports) {
        assert.ok(p.port !== undefined && !('endPort' in p), 'one port per entry, no range');
        allowed.add(p.port);
      }
    }
    assert.deepEqual([...allowed].sort(), Object.values(PORTS).sort());
  });

  it('the Deployment: container ports, hardening, resources, health account from a Secret, keepconfig.d projected', () => {
    const spec = only('Deployment').spec?.template.spec;
    const c = container();
    assert.deepEqual((c.ports ?? []).map((p) => [p.name, p.containerPort]).sort(), Object.entries(PORTS).sort());
    assert.equal(c.image, 'keepd:latest');
    assert.deepEqual(c.command?.slice(-3), ['start', '--config-dir', '/etc/keepd/keepconfig.d']);
    const sc = c.securityContext;
    assert.equal(sc?.runAsNonRoot, true);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities?.drop, ['ALL']);
    assert.equal(sc.capabilities.add, undefined);
    assert.equal(sc.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(spec?.securityContext?.runAsNonRoot, true);
    assert.equal(spec.securityContext.seccompProfile?.type, 'RuntimeDefault');
    assert.ok(c.resources?.requests?.memory && c.resources.limits?.memory && c.resources.requests.cpu, 'resources');
    for (const name of ['HEALTHCHECK_USER', 'HEALTHCHECK_PASSWORD']) {
      const env = c.env?.find((e) => e.name === name);
      assert.deepEqual(env?.valueFrom?.secretKeyRef, { name: 'keepd-healthcheck', key: name });
    }
    const mount = c.volumeMounts?.find((m) => m.mountPath === '/etc/keepd/keepconfig.d');
    const volume = spec.volumes?.find((v) => v.name === mount?.name);
    const sources = volume?.projected?.sources ?? [];
    assert.equal(sources.find((s) => s.configMap)?.configMap?.name, 'keepd-config');
    const tls = sources.find((s) => s.secret?.name === 'keepd-tls')?.secret?.items?.map((i) => i.path);
    assert.deepEqual(tls, ['tls.key', 'tls.crt']);
  });

  it('the ConfigMap\'s keepconfig.d JSON names the projected TLS files and keeps management on loopback', () => {
    const data = only('ConfigMap').data ?? {};
    const config = JSON.parse(data['10-keepd.json'] ?? '') as Record<string, unknown> & { listeners: { management: { HOST: string } } };
    assert.deepEqual([config.TLSType, config.TLSFile, config.PEMCert], ['pem', 'tls.key', 'tls.crt']);
    assert.equal(config.HEALTHCHECKPORT, PORTS.health);
    assert.equal(config.listeners.management.HOST, '127.0.0.1');
    assert.equal(strings(data).some((s) => /:[0-9A-F]{32,}|-----BEGIN/i.test(s)), false, 'no secret in a ConfigMap');
  });

  it('both probes are exec probes of the one node script against the health port, /health/live and /health/ready', () => {
    const c = container();
    const live = c.livenessProbe?.exec?.command ?? [];
    const ready = c.readinessProbe?.exec?.command ?? [];
    assert.equal(live[0], 'node');
    assert.deepEqual([live[1], live[3]], ['-e', '/health/live']);
    assert.deepEqual([ready[0], ready[1], ready[3]], ['node', '-e', '/health/ready']);
    assert.equal(live[2], ready[2]);
    assert.match(live[2] ?? '', new RegExp(`host: '127\\.0\\.0\\.1', port: ${PORTS.health},`));
    assert.equal(c.ports?.find((p) => p.name === 'health')?.containerPort, PORTS.health);
    assert.equal(c.livenessProbe?.httpGet, undefined);
  });

  it('the ServiceMonitor scrapes the metrics port over https with basicAuth from a Secret and a CA-checked tlsConfig', () => {
    const endpoints = only('ServiceMonitor').spec.endpoints;
    assert.equal(endpoints.length, 1);
    const e = endpoints[0];
    assert.equal(e?.port, 'metrics');
    assert.equal(e.scheme, 'https');
    assert.equal(e.path, '/metrics');
    assert.deepEqual(e.basicAuth, { username: { name: 'keepd-metrics-account', key: 'username' }, password: { name: 'keepd-metrics-account', key: 'password' } });
    assert.deepEqual(e.tlsConfig?.ca, { secret: { name: 'keepd-tls', key: 'ca.crt' } });
    assert.notEqual(e.tlsConfig.insecureSkipVerify, true);
    assert.equal(only('Service').spec?.ports?.find((p) => p.name === 'metrics')?.targetPort, 'metrics');
  });

  it('the example Secrets hold placeholders only: no salted secret, PEM block, or long token', () => {
    const secrets = DOCS.filter((d) => d.kind === 'Secret').map((d) => d.doc as ISecret);
    const referenced = new Set(['keepd-tls', 'keepd-healthcheck', 'keepd-metrics-account']);
    assert.deepEqual(new Set(secrets.map((s) => s.metadata?.name)), referenced);
    for (const s of secrets) {
      assert.equal(s.data, undefined, `${s.metadata?.name ?? ''}: stringData only, so nothing hides in base64`);
      for (const [key, value] of Object.entries(s.stringData ?? {})) {
        for (const text of strings(value)) {
          assert.doesNotMatch(text, /[0-9a-f]{16,}:[0-9a-f]{16,}|-----BEGIN|[A-Za-z0-9+/=_-]{24,}/i, `${key}: ${text}`);
        }
        if (/password|secret|key|crt|token/i.test(key) && !key.endsWith('.json')) assert.match(value, /^<[^<>]+>$/, key);
      }
      const account = s.stringData?.['metrics-account.json'];
      if (account !== undefined) {
        const leaf = strings(account).find((t) => t.startsWith('<output of: keepd salt'));
        assert.ok(leaf, 'the account secret is a placeholder');
      }
    }
  });
});

describe('deploy/kubernetes: the probe script, run against a stand-in health listener', () => {
  const script = (port: number): string => {
    const text = container().livenessProbe?.exec?.command?.[2] ?? '';
    assert.ok(text.includes(`port: ${PORTS.health},`));
    return text.replace(`port: ${PORTS.health},`, `port: ${port},`);
  };
  const probe = (port: number, route: string, env: Record<string, string>): Promise<number> =>
    new Promise((resolve) => {
      execFile(process.execPath, ['-e', script(port), route], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 10_000 }, (error) => {
        resolve(error ? (typeof error.code === 'number' ? error.code : -1) : 0);
      });
    });

  it('sends Basic credentials from the environment to the route given; exit 0 on 200, 1 on 401, 503 or no listener', async () => {
    const seen: { url: string | undefined; headers: IncomingHttpHeaders }[] = [];
    const server = createServer({ key: readFileSync(tlsFixture('server.key.pem')), cert: readFileSync(tlsFixture('server.chain.pem')) }, (req, res) => {
      seen.push({ url: req.url, headers: req.headers });
      const expected = `Basic ${Buffer.from('probe:pä ss:word').toString('base64')}`;
      if (req.headers.authorization !== expected) res.writeHead(401).end();
      else res.writeHead(req.url === '/health/ready' ? 503 : 200).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const good = { HEALTHCHECK_USER: 'probe', HEALTHCHECK_PASSWORD: 'pä ss:word' };
      assert.equal(await probe(port, '/health/live', good), 0);
      assert.equal(await probe(port, '/health/ready', good), 1);
      assert.equal(await probe(port, '/health/live', { ...good, HEALTHCHECK_PASSWORD: 'wrong' }), 1);
      assert.deepEqual(seen.map((s) => s.url), ['/health/live', '/health/ready', '/health/live']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.equal(await probe(port, '/health/live', { HEALTHCHECK_USER: 'probe', HEALTHCHECK_PASSWORD: 'x' }), 1);
  });
});
