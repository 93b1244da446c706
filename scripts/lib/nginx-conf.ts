/**
 * The parts every benchmark's nginx shares: one worker inside a prefix, kept-alive connections not
 * reopened every 1000 requests (node sets no limit), keepd's certificate and cipher list, and an
 * apr1 password file (nginx checks it on every request: it has no cache).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_CIPHERS } from '../../src/tls/tls-policy.js';
import { run } from './measure-tools.js';

const TLS13 = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/** From `worker_processes` to the `http {` block's common settings; the caller adds its servers and closes the block. */
export async function nginxHead(prefix: string): Promise<string> {
  await mkdir(path.join(prefix, 'temp'), { recursive: true });
  return `worker_processes 1;
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
  keepalive_requests 1000000;`;
}

/** A server's TLS lines: keepd's certificate, protocols and cipher list. */
export function nginxTls(certFile: string, keyFile: string): string {
  return `    ssl_certificate ${certFile};
    ssl_certificate_key ${keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ${DEFAULT_CIPHERS.filter((c) => !c.startsWith('TLS_')).join(':')};
    ssl_conf_command Ciphersuites ${TLS13};
    ssl_prefer_server_ciphers on;
    ssl_session_tickets on;`;
}

/** Writes `prefix/htpasswd` with an apr1 hash (htpasswd's default); resolves with its path. */
export async function writeHtpasswd(prefix: string, user: string, password: string): Promise<string> {
  const hash = (await run('openssl', ['passwd', '-apr1', password])).output.trim();
  if (!hash.startsWith('$apr1$')) throw new Error(`openssl passwd -apr1 gave ${hash}`);
  const file = path.join(prefix, 'htpasswd');
  await writeFile(file, `${user}:${hash}\n`);
  return file;
}
