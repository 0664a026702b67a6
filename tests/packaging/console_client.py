#!/usr/bin/env python3
"""A browser's first steps against mir-console, for the packaging test.

  console_client.py BASE WEB_CA challenge
  console_client.py BASE WEB_CA list PERSON_CERT PERSON_KEY

BASE is the console's origin (https://127.0.0.1:7443), WEB_CA the CA of its
HTTPS certificate. `challenge` fetches a sign-in statement (exit 0 once the
console serves). `list` signs in as the person (docs/CONSOLE-API.md,
"Sign-in": the statement signed with the person's Ed25519 key, here by
`openssl pkeyutl`, as the page does with WebCrypto) and prints the answer of
POST /api/login and of GET /api/referrals, which the console relays to its
node. Only the standard library and the openssl command.
"""

import base64
import json
import ssl
import struct
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

LOGIN_CONTEXT = b"MIR-EXCHANGE/v1/console-login"


def main():
    base, web_ca, what = sys.argv[1:4]
    context = ssl.create_default_context(cafile=web_ca)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))

    def call(method, path, body=None, cookie=None, csrf=None):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST":
            headers["Origin"] = base
        if cookie:
            headers["Cookie"] = cookie
        if csrf:
            headers["X-MIR-CSRF"] = csrf
        request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
        with opener.open(request, timeout=15) as answer:
            return answer, json.load(answer)

    _, challenge = call("GET", "/api/login/challenge")
    statement = challenge["statement"]
    if what == "challenge":
        print(statement)
        return
    cert_path, key_path = sys.argv[4:6]
    text = statement.encode()
    message = LOGIN_CONTEXT + b"\0" + struct.pack(">Q", len(text)) + text
    # (openssl 3.0 signs Ed25519 one-shot: from a file, not from a pipe.)
    with tempfile.NamedTemporaryFile() as f:
        f.write(message)
        f.flush()
        run = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", key_path,
                              "-in", f.name], capture_output=True)
    if run.returncode != 0 or len(run.stdout) != 64:
        sys.exit(f"openssl pkeyutl -sign: {run.stderr.decode(errors='replace')}")
    signature = run.stdout
    with open(cert_path) as f:
        pem = f.read()
    answer, me = call("POST", "/api/login", {"statement": statement, "certificatePem": pem,
                                             "signature": base64.b64encode(signature).decode()})
    cookie = answer.headers.get("Set-Cookie", "").split(";")[0]
    print("login:", json.dumps(me))
    _, referrals = call("GET", "/api/referrals", cookie=cookie)
    print("referrals:", json.dumps(referrals))


if __name__ == "__main__":
    try:
        main()
    except urllib.error.HTTPError as e:
        print(f"HTTP {e.code}: {e.read().decode(errors='replace')}", file=sys.stderr)
        sys.exit(1)
