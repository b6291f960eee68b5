#!/usr/bin/env bash
# `npm run certs [-- --out DIR] [NAME…]`: a local certificate authority and a server certificate
# for HTTPS (and, later, MQTT over TLS on 8883) with openssl. NAMEs are the host names and IP
# addresses clients use to reach the server (default: localhost, this host's name, 127.0.0.1).
# The CA key stays in DIR/ca.key: keep it offline; install DIR/ca.crt on the police PCs/phones.
# Re-running keeps an existing CA and issues a new server certificate. See docs/security.md.
# `npm run certs -- --out DIR --device ID`: instead, a client certificate for device ID (CN = ID,
# DIR/device-ID.{crt,key}) signed by the existing CA, for MQTT over TLS (broker.clientCertificates).
set -euo pipefail
out=./data/tls
names=()
device=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=(localhost "$(hostname)" 127.0.0.1)
command -v openssl >/dev/null || { echo "certs: openssl is required (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$out"
chmod 700 "$out"
umask 077

if [ ! -f "$out/ca.key" ] || [ ! -f "$out/ca.crt" ]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
    -keyout "$out/ca.key" -out "$out/ca.crt" -subj "/O=wardwatch/CN=wardwatch local CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "certs: new CA $out/ca.crt"
fi

if [ -n "$device" ]; then
  [[ "$device" =~ ^[a-z0-9][a-z0-9_-]{0,63}$ ]] || { echo "certs: '$device' is not a device id" >&2; exit 1; }
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -keyout "$out/device-$device.key" -out "$out/device-$device.csr" -subj "/O=wardwatch/CN=$device" 2>/dev/null
  ext=$(mktemp)
  trap 'rm -f "$ext"' EXIT
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$ext"
  openssl x509 -req -in "$out/device-$device.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$ext" -out "$out/device-$device.crt" 2>/dev/null
  rm -f "$out/device-$device.csr"
  chmod 600 "$out/device-$device.key"
  chmod 644 "$out/device-$device.crt"
  echo "certs: device certificate $out/device-$device.crt (CN=$device); put it and its key on the device"
  exit 0
fi

san=""
for n in "${names[@]}"; do
  if [[ "$n" =~ ^[0-9.]+$ || "$n" == *:* ]]; then san+="IP:$n,"; else san+="DNS:$n,"; fi
done
san=${san%,}

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
  -keyout "$out/server.key" -out "$out/server.csr" -subj "/O=wardwatch/CN=${names[0]}" 2>/dev/null
ext=$(mktemp)
trap 'rm -f "$ext"' EXIT
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$san" >"$ext"
# 397 days: the longest validity browsers accept for a server certificate.
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -days 397 -sha256 -extfile "$ext" -out "$out/server.crt" 2>/dev/null
rm -f "$out/server.csr"
chmod 600 "$out"/*.key
chmod 644 "$out"/*.crt

cat <<MSG
certs: server certificate $out/server.crt for ${names[*]}
Configure (config file or the matching settings):
  tls:
    certFile: $out/server.crt
    keyFile: $out/server.key
Clients trust $out/ca.crt (install it once; keep $out/ca.key secret and offline).
MSG
