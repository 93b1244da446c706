/** What a keystore file really is, whatever its name or TLSType says (modern keytool writes PKCS12 into .jks). */
export type KeystoreKind = 'jks' | 'jceks' | 'pkcs12' | 'pem' | 'unknown';

export function sniffKeystore(bytes: Buffer): KeystoreKind {
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === 0xfeedfeed) return 'jks';
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === 0xcececece) return 'jceks';
  if (bytes.length >= 2 && bytes[0] === 0x30) return 'pkcs12'; // DER SEQUENCE
  if (bytes.subarray(0, 200).toString('latin1').includes('-----BEGIN ')) return 'pem';
  return 'unknown';
}
