#!/usr/bin/env bash
# Generates the local cluster's CA, apiserver serving certificate, service-account signing key pair
# and static admin token into DIR/pki (kept if already there). Usage: certs.sh DIR
set -euo pipefail
pki=$1/pki
mkdir -p "$pki"
cd "$pki"
[ -f ca.crt ] && [ -f apiserver.crt ] && [ -f sa.key ] && [ -f tokens.csv ] && exit 0
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
  -subj "/CN=pcmc-local-ca" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
cat > apiserver.ext <<'EXT'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EXT
openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt \
  -days 3650 -extfile apiserver.ext 2>/dev/null
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
echo "$(openssl rand -hex 32),pcmc-admin,pcmc-admin,\"system:masters\"" > tokens.csv
chmod 644 ca.crt apiserver.crt sa.pub
