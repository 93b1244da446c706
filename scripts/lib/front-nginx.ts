/**
 * nginx as scripts/bench.ts sets it up (one worker, keepd's certificate and cipher list, the
 * health JSON as a static file behind `auth_basic` with an apr1 password file, which nginx checks
 * on every request: it has no cache), with HTTP/2 next to HTTP/1.1 by ALPN: `listen ... ssl http2;`
 * (nginx 1.22's syntax; 1.25 moved it to `http2 on;`), 128 streams per connection as keepd.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nginxHead, nginxTls, writeHtpasswd } from './nginx-conf.js';

export interface NginxHealthOptions {
  prefix: string;
  port: number;
  keyFile: string;
  certFile: string;
  user: string;
  password: string;
  body: string;
  /** Offer HTTP/2 by ALPN too (default true); false: HTTP/1.1 only, as scripts/bench.ts measures. */
  http2?: boolean;
}

/** Writes the configuration, body and password file; resolves with the arguments to start nginx with. */
export async function writeNginxHealth(options: NginxHealthOptions): Promise<string[]> {
  const { prefix, port, keyFile, certFile, user, password, body, http2 = true } = options;
  await mkdir(path.join(prefix, 'html'), { recursive: true });
  await writeFile(path.join(prefix, 'html', 'health'), body);
  const htpasswd = await writeHtpasswd(prefix, user, password);
  const conf = path.join(prefix, 'nginx.conf');
  await writeFile(
    conf,
    `${await nginxHead(prefix)}
${http2 ? '  http2_max_concurrent_streams 128;\n' : ''}  server {
    listen 127.0.0.1:${port} ssl${http2 ? ' http2' : ''};
${nginxTls(certFile, keyFile)}
    root ${prefix}/html;
    location = /health {
      auth_basic "healthcheckAPI";
      auth_basic_user_file ${htpasswd};
      default_type application/json;
    }
  }
}
`,
  );
  return ['-p', prefix, '-c', conf, '-g', 'daemon off;'];
}
