import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientAddress, parseTrustedProxy, trustTest } from '../src/config/trusted-proxies.js';
import { classifyFailure, codedError } from '../src/gateway/failures.js';
import { percentEncoded, requestHeaders as forwardHeaders, responseHeaders, type ForwardContext } from '../src/gateway/forward-headers.js';
import { ambiguousTarget, effectiveMethod, loginOf, loginResult, loginUser, normalizedPath } from '../src/gateway/login-requests.js';

/** requestHeaders() for a request it forwards. */
function requestHeaders(raw: readonly string[], ctx: ForwardContext): string[] {
  const out = forwardHeaders(raw, ctx);
  assert.ok(out, 'forwarded');
  return out;
}

const pairs = (flat: readonly string[]): [string, string][] => Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i] ?? '', flat[2 * i + 1] ?? '']);
const get = (flat: readonly string[], name: string): string[] => pairs(flat).filter(([key]) => key.toLowerCase() === name).map(([, value]) => value);

const problemOf = (text: string): string => {
  const parsed = parseTrustedProxy(text);
  return typeof parsed === 'string' ? parsed : 'parsed';
};

describe('trustedProxies: whose X-Forwarded-For names the client', () => {
  const trust = trustTest(['10.0.0.0/8', '192.0.2.7', 'fd00::/8']);
  const rows: [peer: string, xff: string | undefined, client: string, why: string][] = [
    ['198.51.100.1', '203.0.113.5', '198.51.100.1', 'an untrusted peer: its header is ignored'],
    ['10.1.1.1', undefined, '10.1.1.1', 'a trusted peer without the header is the client'],
    ['10.1.1.1', '203.0.113.5', '203.0.113.5', 'one trusted hop'],
    ['10.1.1.1', '203.0.113.5, 10.2.2.2', '203.0.113.5', 'trusted hops are skipped from the right'],
    ['10.1.1.1', '6.6.6.6, 203.0.113.5, 10.2.2.2', '203.0.113.5', 'the first untrusted hop wins, a forged left part is ignored'],
    ['10.1.1.1', '10.3.3.3, 10.2.2.2', '10.3.3.3', 'all trusted: the leftmost'],
    ['10.1.1.1', 'garbage, 10.2.2.2', '10.2.2.2', 'garbage stops the walk at the last trusted hop'],
    ['10.1.1.1', '203.0.113.5:4711', '203.0.113.5', 'an IPv4 hop with a port'],
    ['10.1.1.1', '[2001:db8::1]:443', '2001:db8::1', 'a bracketed IPv6 hop with a port'],
    ['::ffff:10.1.1.1', '203.0.113.5', '203.0.113.5', 'an IPv4-mapped peer is checked as IPv4'],
    ['fd00::1', '2001:db8::9', '2001:db8::9', 'IPv6 CIDR'],
    ['192.0.2.8', '203.0.113.5', '192.0.2.8', 'a single address is /32'],
  ];
  for (const [peer, xff, client, why] of rows) {
    it(why, () => assert.equal(clientAddress(peer, xff, trust), client));
  }
  it('nobody trusted by default', () => assert.equal(clientAddress('10.1.1.1', '203.0.113.5', trustTest([])), '10.1.1.1'));
  it('parses addresses and CIDRs, and says what is wrong', () => {
    assert.deepEqual(parseTrustedProxy('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseTrustedProxy('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
    assert.match(problemOf('10.0.0.0/33'), /prefix length from 0 to 32/);
    assert.match(problemOf('example.com'), /IP address or CIDR/);
    assert.match(problemOf('10.0.0.0/8/8'), /IP address or CIDR/);
  });
});

describe('forwarded request headers', () => {
  const ctx: ForwardContext = { client: '198.51.100.1', peer: '198.51.100.1', peerTrusted: false, proto: 'https', port: 8880, upstreamHost: '127.0.0.1:18880', identity: undefined, upgrade: false };
  it('hop-by-hop (and those Connection names) are dropped; the rest keep their order and case', () => {
    const out = requestHeaders(['Host', 'keep.example.com', 'Connection', 'keep-alive, X-Secret', 'X-Secret', '1', 'Keep-Alive', '5', 'TE', 'trailers', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'Proxy-Authorization', 'Basic x', 'Expect', '100-continue', 'Accept', '*/*'], ctx);
    assert.deepEqual(pairs(out).slice(0, 2), [['Host', 'keep.example.com'], ['Accept', '*/*']]);
    for (const name of ['connection', 'x-secret', 'keep-alive', 'te', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'expect']) assert.deepEqual(get(out, name), [], name);
  });
  it('X-Forwarded-* and X-Real-IP from an untrusted peer are replaced; from a trusted one kept and extended', () => {
    const raw = ['X-Forwarded-For', '203.0.113.9', 'X-Real-IP', '203.0.113.9', 'X-Forwarded-Proto', 'http', 'Forwarded', 'for=203.0.113.9', 'X-Forwarded-Prefix', '/evil'];
    const untrusted = requestHeaders(raw, ctx);
    assert.deepEqual(get(untrusted, 'x-forwarded-prefix'), [], 'any X-Forwarded-* from an untrusted peer');
    assert.deepEqual(get(requestHeaders(raw, { ...ctx, peerTrusted: true }), 'x-forwarded-prefix'), ['/evil'], 'a trusted proxy’s go through');
    assert.deepEqual([get(untrusted, 'x-forwarded-for'), get(untrusted, 'x-real-ip'), get(untrusted, 'x-forwarded-proto'), get(untrusted, 'forwarded')], [['198.51.100.1'], ['198.51.100.1'], ['https'], []]);
    const trusted = requestHeaders(raw, { ...ctx, client: '203.0.113.9', peer: '10.0.0.1', peerTrusted: true });
    assert.deepEqual([get(trusted, 'x-forwarded-for'), get(trusted, 'x-real-ip'), get(trusted, 'x-forwarded-proto'), get(trusted, 'forwarded')], [['203.0.113.9, 10.0.0.1'], ['203.0.113.9'], ['http'], ['for=203.0.113.9']]);
  });
  it('a request without Host gets the upstream’s; X-Forwarded-Host and -Port say what the client reached', () => {
    const out = requestHeaders([], ctx);
    assert.deepEqual([get(out, 'host'), get(out, 'x-forwarded-host'), get(out, 'x-forwarded-port')], [['127.0.0.1:18880'], ['127.0.0.1:18880'], ['8880']]);
  });
  it('functional mode: Authorization out, identity in (percent-encoded), forged identity dropped', () => {
    const out = requestHeaders(['Authorization', 'Basic eDp5', 'X-Forwarded-User', 'admin', 'x-forwarded-user-cn', 'CN=Admin'], { ...ctx, identity: { name: 'Jürgen Doe', cn: 'CN=Jürgen Doe/O=Org' } });
    assert.deepEqual(get(out, 'authorization'), []);
    assert.deepEqual(get(out, 'x-forwarded-user'), ['J%C3%BCrgen%20Doe']);
    assert.deepEqual(get(out, 'x-forwarded-user-cn'), ['CN%3DJ%C3%BCrgen%20Doe%2FO%3DOrg']);
  });
  it('identity with a lone surrogate (UTF-8 cannot hold it) is encoded with U+FFFD, never a crash', () => {
    assert.equal(percentEncoded('CN=\udfff'), 'CN%3D%EF%BF%BD');
    assert.equal(percentEncoded('\ud83d\ude00'), '%F0%9F%98%80');
  });
  it('passthrough: Authorization goes through untouched, forged identity is dropped all the same', () => {
    const out = requestHeaders(['Authorization', 'Bearer t', 'X-Forwarded-User', 'admin'], ctx);
    assert.deepEqual([get(out, 'authorization'), get(out, 'x-forwarded-user')], [['Bearer t'], []]);
  });
  it('two Host or two Authorization headers: not forwarded at all', () => {
    assert.equal(forwardHeaders(['Host', 'a', 'host', 'b'], ctx), undefined);
    assert.equal(forwardHeaders(['Authorization', 'Basic eDp5', 'authorization', 'Bearer t'], ctx), undefined);
  });
  it('identity and forwarding headers spelled with underscores are the same headers', () => {
    const out = requestHeaders(['X_Forwarded_User', 'admin', 'x_forwarded_for', '6.6.6.6', 'X_Real_IP', '6.6.6.6', 'X_Custom', 'kept'], ctx);
    assert.deepEqual([get(out, 'x_forwarded_user'), get(out, 'x_forwarded_for'), get(out, 'x_real_ip'), get(out, 'x_custom')], [[], [], [], ['kept']]);
    assert.deepEqual(get(out, 'x-forwarded-for'), ['198.51.100.1']);
  });
  it('an upgrade keeps Upgrade and says Connection: upgrade', () => {
    const out = requestHeaders(['Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k'], { ...ctx, upgrade: true });
    assert.deepEqual([get(out, 'connection'), get(out, 'upgrade'), get(out, 'sec-websocket-key')], [['upgrade'], ['websocket'], ['k']]);
  });
  const h2 = [':method', 'GET', ':path', '/api', ':scheme', 'https', ':authority', 'keep.example.com:8880'];
  it('HTTP/2: pseudo-headers dropped, :authority as Host (and X-Forwarded-Host)', () => {
    const out = requestHeaders([...h2, 'accept', '*/*'], ctx);
    assert.deepEqual(pairs(out).filter(([name]) => name.startsWith(':')), []);
    assert.deepEqual([get(out, 'host'), get(out, 'x-forwarded-host'), get(out, 'accept')], [['keep.example.com:8880'], ['keep.example.com:8880'], ['*/*']]);
  });
  it('HTTP/2: a Host as well is fine when it says the same; unlike the :authority, not forwarded', () => {
    assert.deepEqual(get(requestHeaders([...h2, 'host', 'KEEP.example.com:8880'], ctx), 'host'), ['KEEP.example.com:8880']);
    assert.equal(forwardHeaders([...h2, 'host', 'elsewhere.example'], ctx), undefined);
  });
  it('HTTP/2: Cookie fields, which it may split, are joined into one with "; " where the first was (RFC 9113 8.2.3)', () => {
    const out = requestHeaders([...h2, 'cookie', 'a=1', 'accept', '*/*', 'cookie', 'b=2', 'cookie', 'c=3'], ctx);
    assert.deepEqual(pairs(out).slice(0, 2), [['cookie', 'a=1; b=2; c=3'], ['accept', '*/*']]);
    assert.deepEqual(get(out, 'cookie'), ['a=1; b=2; c=3']);
  });
  it('HTTP/1.1: Cookie fields go through as they came', () => {
    assert.deepEqual(get(requestHeaders(['Host', 'h', 'Cookie', 'a=1', 'Cookie', 'b=2'], ctx), 'cookie'), ['a=1', 'b=2']);
  });
});

describe('forwarded response headers', () => {
  it('hop-by-hop out, Set-Cookie (twice) and Location kept, HSTS added unless the product set one', () => {
    const raw = ['Connection', 'keep-alive, X-Hop', 'X-Hop', '1', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Location', 'https://other/x'].map((text) => Buffer.from(text));
    const out = responseHeaders(raw, 'max-age=1');
    assert.deepEqual(pairs(out), [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['Location', 'https://other/x'], ['strict-transport-security', 'max-age=1']]);
    assert.deepEqual(responseHeaders(['Strict-Transport-Security', 'max-age=5'], 'max-age=1'), ['Strict-Transport-Security', 'max-age=5']);
    assert.deepEqual(responseHeaders(['A', 'b'], undefined), ['A', 'b']);
  });
});

describe('which requests are logins (passthrough throttle)', () => {
  const rows: [method: string, url: string, authorization: string | undefined, kind: string | undefined][] = [
    ['POST', '/api/v1/auth', undefined, 'jwt'],
    ['POST', '/api/v1/auth?x=1', undefined, 'jwt'],
    ['POST', '/API/V1/Auth/', undefined, 'jwt'],
    ['POST', '//api//v1/auth', undefined, 'jwt'],
    ['POST', '/api/v1/%61uth', undefined, 'jwt'],
    ['POST', '/api/v1/auth;jsessionid=1', undefined, 'jwt'],
    ['POST', '/api/v1;x/auth', undefined, 'jwt'],
    ['POST', '/api/v1/auth%2f', undefined, 'jwt'],
    ['GET', '/api/v1/auth', undefined, undefined],
    ['POST', '/api/v1/auth/logout', undefined, undefined],
    ['GET', '/api/v1/userinfo', 'Bearer x.y.z', undefined],
    ['GET', '/odata', `Basic ${Buffer.from('alice:pw').toString('base64')}`, 'basic'],
    ['GET', '/odata', 'basic !!!', 'basic'],
    ['POST', '/api/v1/auth', `Basic ${Buffer.from('junk:junk').toString('base64')}`, 'jwt'],
    ['post', '/api/v1/auth', undefined, 'jwt'],
    ['POST', '/ap\u0131/v1/auth', undefined, 'jwt'],
    ['POST', '/api%2fv1%2fauth', undefined, 'jwt'],
    ['GET', '/odata', 'Digest username="a"', undefined],
  ];
  for (const [method, url, authorization, kind] of rows) {
    it(`${method} ${url} ${authorization ?? ''}: ${kind ?? 'not a login'}`, () => assert.equal(loginOf(method, url, authorization)?.kind, kind));
  }
  it('a method override counts as the method', () => {
    assert.equal(effectiveMethod('GET', { 'x-http-method-override': 'POST' }), 'POST');
    assert.equal(effectiveMethod('GET', {}), 'GET');
    assert.equal(loginOf(effectiveMethod('GET', { 'x-http-method-override': 'POST' }), '/api/v1/auth', undefined)?.kind, 'jwt');
  });
  it('the Basic user and the JSON body’s username are who the attempt counts for', () => {
    assert.deepEqual(loginOf('GET', '/', `Basic ${Buffer.from('alice:pw').toString('base64')}`), { kind: 'basic', user: 'alice' });
    assert.equal(loginUser(Buffer.from('{"username":"bob","password":"x"}')), 'bob');
    assert.equal(loginUser(Buffer.from('{"username":7}')), '');
    assert.equal(loginUser(Buffer.from('not json')), '');
    assert.equal(normalizedPath('/a/%zz'), '/a/%zz');
  });
});

describe('targets keepd will not forward (a server could route them elsewhere than keepd reads them)', () => {
  const rows: [url: string, refused: boolean][] = [
    ['/api/v1/auth', false],
    ['/api/v1/auth?next=/../x', false],
    ['/a.b/c..d/.well-known/openid-configuration', false],
    ['/api/v1/./auth', true],
    ['/api/v1/x/../auth', true],
    ['/./api/v1/auth', true],
    ['/api/v1/%2e/auth', true],
    ['/api/v1/%2E%2e/auth', true],
    ['/api/v1/..;/auth', true],
    ['/api\\v1\\auth', true],
    ['/api%5cv1/auth', true],
    ['/api/v1/auth/..', true],
    ['/api/v1/x/%2e%2e%2fauth', true],
    ['/api/v1/x/..%3b/auth', true],
    ['/api/v1/%61uth;%zz', true],
    ['/api/v1/%zz', true],
  ];
  for (const [url, refused] of rows) it(`${url}: ${refused ? 'refused' : 'forwarded'}`, () => assert.equal(ambiguousTarget(url), refused));
});

describe('what a login’s end tells the throttle', () => {
  const rows: [kind: 'jwt' | 'basic', user: string, answered: number, reached: boolean, result: string, why: string][] = [
    ['jwt', 'bob', 401, true, 'failure', 'the product refused it'],
    ['basic', 'bob', 401, true, 'failure', 'the product refused Basic credentials'],
    ['jwt', 'bob', 200, true, 'success', 'a JWT for a known user'],
    ['jwt', '', 200, true, 'none', 'a good login whose user keepd could not read clears nothing'],
    ['basic', 'bob', 200, true, 'none', 'a 2xx to Basic credentials proves nothing (public routes)'],
    ['jwt', 'bob', 0, true, 'failure', 'no answer after the product got it: it may have counted it'],
    ['jwt', 'bob', 0, false, 'none', 'never reached the product'],
    ['jwt', 'bob', 400, true, 'none', 'a malformed login is no guess'],
    ['basic', 'bob', 403, true, 'none', 'forbidden is authenticated'],
  ];
  for (const [kind, user, answered, reached, result, why] of rows) it(why, () => assert.equal(loginResult(kind, user, answered, reached), result));
});

describe('upstream failures, as the client and the log see them', () => {
  const timeouts = { connectMs: 5000, responseMs: 60000, idleMs: 60000 };
  const rows: [code: string, status: number, outcome: string, message: RegExp][] = [
    ['ECONNREFUSED', 502, 'unreachable', /refused the connection: is it running/],
    ['UND_ERR_SOCKET', 502, 'unreachable', /closed the connection before it answered/],
    ['ENOTFOUND', 502, 'unreachable', /cannot be resolved/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 502, 'unreachable', /caFile/],
    ['UND_ERR_CONNECT_TIMEOUT', 504, 'timeout', /connectTimeoutMs/],
    ['UND_ERR_HEADERS_TIMEOUT', 504, 'timeout', /did not answer within 60000 ms/],
    ['KEEPD_RESPONSE_TIMEOUT', 504, 'timeout', /responseTimeoutMs, or httpIdleTimeout/],
    ['UND_ERR_BODY_TIMEOUT', 504, 'timeout', /sent nothing for 60000 ms/],
    ['KEEPD_UPLOAD_STALLED', 408, 'aborted', /request body stalled/],
    ['KEEPD_UPSTREAM_NOT_READING', 504, 'timeout', /stopped reading the request body/],
    ['EWHATEVER', 502, 'unreachable', /failed to answer \(EWHATEVER\)/],
    ['UND_ERR_INVALID_ARG', 400, 'refused', /cannot be forwarded as it is/],
    ['ETIMEDOUT', 504, 'timeout', /did not accept a connection/],
    ['HPE_INVALID_HEADER_TOKEN', 502, 'unreachable', /malformed answer \(HPE_INVALID_HEADER_TOKEN\)/],
    ['', 502, 'unreachable', /keepd cannot pass on/],
  ];
  const product = { origin: 'http://127.0.0.1:18880', name: 'the product', caKey: 'listeners.data.upstream.caFile' };
  for (const [code, status, outcome, message] of rows) {
    it(`${code}: ${status}`, () => {
      const failure = classifyFailure(codedError(code, 'x'), product, timeouts);
      assert.deepEqual([failure.statusCode, failure.outcome], [status, outcome]);
      assert.match(failure.message, message);
      assert.match(failure.message, code.startsWith('KEEPD_UPLOAD') || code.startsWith('UND_ERR_INVALID') ? /./ : /the product at http:\/\/127\.0\.0\.1:18880/);
    });
  }
  it('a front listener route\'s upstream is named as such, and has no caFile to point at', () => {
    const upstream = { origin: 'https://domino.internal:443', name: 'the upstream', caKey: undefined };
    assert.equal(classifyFailure(codedError('ECONNREFUSED', 'x'), upstream, timeouts).message, 'the upstream at https://domino.internal:443 refused the connection: is it running?');
    assert.match(classifyFailure(codedError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'x'), upstream, timeouts).message, /does not trust \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): keepd checks it against the system's CAs$/);
  });
  it('only a failure to connect says the product is down', () => {
    const down = (code: string): boolean => classifyFailure(codedError(code, 'x'), product, timeouts).down;
    assert.deepEqual(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'CERT_HAS_EXPIRED'].map(down), [true, true, true, true]);
    assert.equal(down('ETIMEDOUT'), true);
    assert.deepEqual(['UND_ERR_HEADERS_TIMEOUT', 'KEEPD_RESPONSE_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_INVALID_ARG', 'HPE_INVALID_CONSTANT', 'ECONNRESET'].map(down), [false, false, false, false, false, false]);
  });
});
