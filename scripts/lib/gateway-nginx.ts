/**
 * nginx in front of the same upstream, as the product's reverse-proxy how-to sets it up: TLS with
 * keepd's certificate and cipher list, `proxy_pass` to an upstream block with kept-alive
 * connections, the X-Real-IP / X-Forwarded-* headers; and a second server with `auth_basic`
 * in front (what admins add for a password; an apr1 file from `openssl passwd -apr1`, which
 * nginx checks on every request: it has no cache). One worker, everything inside a prefix.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nginxHead, nginxTls, writeHtpasswd } from './nginx-conf.js';

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
  const htpasswd = await writeHtpasswd(prefix, user, password);
  const tls = nginxTls(certFile, keyFile);
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
    `${await nginxHead(prefix)}
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
