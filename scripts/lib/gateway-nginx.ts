/**
 * nginx in front of the same upstream, as the product's reverse-proxy how-to sets it up: TLS with
 * keepd's certificate and cipher list, `proxy_pass` to an upstream block with kept-alive
 * connections, the X-Real-IP / X-Forwarded-* headers; and a second server with `auth_basic`
 * in front (what admins add for a password; an apr1 file from `openssl passwd -apr1`, which
 * nginx checks on every request: it has no cache). One worker, everything inside a prefix.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_CIPHERS } from '../../src/tls/tls-policy.js';
import { run } from './measure-tools.js';

export interface NginxGatewayOptions {
  prefix: string;
  upstreamPort: number;
  /** The plain proxy_pass server. */
  proxyPort: number;
  /** The auth_basic + proxy_pass server. */
  authPort: number;
  keyFile: string;
  certFile: string;
  user: string;
  password: string;
}

/** Writes the configuration and password file; resolves with the arguments to start nginx with. */
export async function writeNginxGateway(options: NginxGatewayOptions): Promise<string[]> {
  const { prefix, upstreamPort, proxyPort, authPort, keyFile, certFile, user, password } = options;
  await mkdir(path.join(prefix, 'temp'), { recursive: true });
  const hash = (await run('openssl', ['passwd', '-apr1', password])).output.trim();
  if (!hash.startsWith('$apr1$')) throw new Error(`openssl passwd -apr1 gave ${hash}`);
  const htpasswd = path.join(prefix, 'htpasswd');
  await writeFile(htpasswd, `${user}:${hash}\n`);
  const tls13 = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';
  const tls = `    ssl_certificate ${certFile};
    ssl_certificate_key ${keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ${DEFAULT_CIPHERS.filter((c) => !c.startsWith('TLS_')).join(':')};
    ssl_conf_command Ciphersuites ${tls13};
    ssl_prefer_server_ciphers on;
    ssl_session_tickets on;`;
  const proxied = `      proxy_pass http://upstream_pool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Port $server_port;`;
  const conf = path.join(prefix, 'nginx.conf');
  await writeFile(
    conf,
    `worker_processes 1;
user root;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/temp/body;
  proxy_temp_path ${prefix}/temp/proxy;
  fastcgi_temp_path ${prefix}/temp/fastcgi;
  uwsgi_temp_path ${prefix}/temp/uwsgi;
  scgi_temp_path ${prefix}/temp/scgi;
  keepalive_timeout 10s;
  # As for keepd (node sets no limit): wrk's connections are not reopened every 1000 requests.
  keepalive_requests 1000000;
  upstream upstream_pool {
    server 127.0.0.1:${upstreamPort};
    keepalive 32;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${proxyPort} ssl;
${tls}
    location / {
${proxied}
    }
  }
  server {
    listen 127.0.0.1:${authPort} ssl;
${tls}
    location / {
      auth_basic "metrics";
      auth_basic_user_file ${htpasswd};
${proxied}
    }
  }
}
`,
  );
  return ['-p', prefix, '-c', conf, '-g', 'daemon off;'];
}
