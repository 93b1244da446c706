#!/usr/bin/env bash
# Makes the TLS test fixtures in test/fixtures/tls with the real tools admins use (openssl,
# keytool), so that the tests load exactly what those tools write. Re-run only to refresh them;
# the output is committed. Passwords here are test-only.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/test/fixtures/tls"
mkdir -p "$out"
cd "$out"
rm -f ./*.pem ./*.pfx ./*.p12 ./*.jks ./*.jceks ./*.srl
PW=changeit
days=7300

# A test CA, and server certificates for localhost/127.0.0.1/::1 that it signs.
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" -subj "/CN=keepd test CA" \
  -keyout ca.key.pem -out ca.cert.pem 2>/dev/null
leaf() { # name CN
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$2" -keyout "$1.key.pem" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.cert.pem -CAkey ca.key.pem -CAcreateserial -days "$days" -sha256 \
    -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n') \
    -out "$1.cert.pem" 2>/dev/null
  rm -f "$1.csr"
}
leaf server "keepd test server"
leaf renewed "keepd test server (renewed)"
leaf other "keepd other server"
cat server.cert.pem ca.cert.pem > server.chain.pem
cat renewed.cert.pem ca.cert.pem > renewed.chain.pem

# PEM: the key encrypted with a password (PKCS#8, AES-256).
openssl pkcs8 -topk8 -v2 aes-256-cbc -in server.key.pem -passout pass:$PW -out server.key.encrypted.pem

# PKCS#12 as OpenSSL 3 writes it (AES-256, SHA-256 MAC), with and without a password.
openssl pkcs12 -export -in server.chain.pem -inkey server.key.pem -name keepd -passout pass:$PW -out server.pfx
openssl pkcs12 -export -in server.chain.pem -inkey server.key.pem -name keepd -passout pass: -out server-nopass.pfx
openssl pkcs12 -export -in renewed.chain.pem -inkey renewed.key.pem -name keepd -passout pass:$PW -out renewed.pfx
# Legacy PKCS#12 (RC2-40/3DES, as old Windows and Java exports), which OpenSSL 3 refuses by default.
openssl pkcs12 -export -legacy -in server.chain.pem -inkey server.key.pem -name keepd -passout pass:$PW -out server-legacy.pfx

# Java keystores made by keytool: a real JKS, a PKCS12 that is merely named .jks (modern keytool's
# default), and a JCEKS.
kt() { keytool -importkeystore -noprompt -srckeystore server.pfx -srcstoretype PKCS12 -srcstorepass $PW \
  -destkeystore "$1" -deststoretype "$2" -deststorepass $PW -destkeypass $PW >/dev/null 2>&1; }
kt server.jks JKS
kt server-pkcs12.jks PKCS12
kt server.jceks JCEKS

rm -f ca.cert.srl
ls -l
