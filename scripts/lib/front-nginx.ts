/**
 * nginx as scripts/bench.ts sets it up (one worker, keepd's certificate and cipher list, the
 * health JSON as a static file behind `auth_basic` with an apr1 password file, which nginx checks
 * on every request: it has no cache), with HTTP/2 next to HTTP/1.1 by ALPN: `listen ... ssl http2;`
 * (nginx 1.22's syntax; 1.25 moved it to `http2 on;`), 128 streams per connection as keepd.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_CIPHERS } from '../../src/tls/tls-policy.js';
import { run } from './measure-tools.js';

export interface NginxHealthOptions {
  prefix: string;
  port: number;
  keyFile: string;
  certFile: string;
  user: string;
  password: string;
  body: string;
}

/** Writes the configuration, body and password file; resolves with the arguments to start nginx with. */
export async function writeNginxHealth(options: NginxHealthOptions): Promise<string[]> {
  const { prefix, port, keyFile, certFile, user, password, body } = options;
  await mkdir(path.join(prefix, 'html'), { recursive: true });
  await mkdir(path.join(prefix, 'temp'), { recursive: true });
  await writeFile(path.join(prefix, 'html', 'health'), body);
  const hash = (await run('openssl', ['passwd', '-apr1', password])).output.trim();
  if (!hash.startsWith('$apr1$')) throw new Error(`openssl passwd -apr1 gave ${hash}`);
  await writeFile(path.join(prefix, 'htpasswd'), `${user}:${hash}\n`);
  const tls13 = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';
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
  # HTTP/1.1 and, since 1.19.7, HTTP/2 connections: not reopened every 1000 requests (node sets no limit).
  keepalive_requests 1000000;
  http2_max_concurrent_streams 128;
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${certFile};
    ssl_certificate_key ${keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ${DEFAULT_CIPHERS.filter((c) => !c.startsWith('TLS_')).join(':')};
    ssl_conf_command Ciphersuites ${tls13};
    ssl_prefer_server_ciphers on;
    ssl_session_tickets on;
    root ${prefix}/html;
    location = /health {
      auth_basic "healthcheckAPI";
      auth_basic_user_file ${prefix}/htpasswd;
      default_type application/json;
    }
  }
}
`,
  );
  return ['-p', prefix, '-c', conf, '-g', 'daemon off;'];
}
