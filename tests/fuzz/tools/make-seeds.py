#!/usr/bin/env python3
"""make-seeds.py - writes the hand-made seeds of tests/fuzz/corpus/.

The real transcripts (postfix-*, dovecot-*, the proxies' replies) were
recorded by capture-seeds.py; these add the cases real servers rarely show:
refusals, fallbacks, literals, odd bytes. Input formats: tests/fuzz/README.md.
Run from anywhere: make-seeds.py [CORPUS_DIR]
"""
import base64
import os
import sys

SEP = b"%%\n"
HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "corpus")


def seed(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def dialect(target, name, flags, replies):
    seed(target, name, bytes([flags]) + SEP.join(replies))


# ---- SMTP: greeting, EHLO, STARTTLS, EHLO, QUIT (fuzz_common.c flags) ----
EXIM_EHLO = (b"250-mx.example.com Hello probe.example [127.0.0.1]\r\n250-SIZE 52428800\r\n"
             b"250-8BITMIME\r\n250-PIPELINING\r\n250-PIPE_CONNECT\r\n250-AUTH PLAIN LOGIN\r\n"
             b"250-CHUNKING\r\n250-STARTTLS\r\n250-PRDR\r\n250 HELP\r\n")
dialect("smtp", "exim-session", 0x04, [
    b"220 mx.example.com ESMTP Exim 4.96 Mon, 06 Jan 2025 10:00:00 +0000\r\n", EXIM_EHLO,
    b"220 TLS go ahead\r\n", EXIM_EHLO.replace(b"250-STARTTLS\r\n", b""),
    b"221 mx.example.com closing connection\r\n"])
dialect("smtp", "exim-trickled", 0x05, [
    b"220 mx.example.com ESMTP Exim 4.96\r\n", EXIM_EHLO, b"220 TLS go ahead\r\n"])
dialect("smtp", "helo-fallback", 0x04, [
    b"220 old.example SMTP ready\r\n", b"502 5.5.2 Error: command not recognized\r\n",
    b"250 old.example\r\n", b"221 bye\r\n"])
dialect("smtp", "ehlo-helo-refused", 0x14, [
    b"220 x\r\n", b"500 no\r\n", b"550 go away\r\n", b"221 bye\r\n"])
dialect("smtp", "multiline-greeting", 0x00, [
    b"220-mx.example.net ESMTP\r\n220-No UCE\r\n220 ready\r\n",
    b"250-mx\r\n250-8bitmime\r\n250-auth  cram-md5\t  plain \r\n250-AUTH=LOGIN\r\n250\r\n"])
dialect("smtp", "greeting-554", 0x14, [b"554 5.7.1 mx.example.net: no service for you\r\n"])
dialect("smtp", "greeting-421-multi", 0x04, [b"421-busy\r\n421 4.3.2 try later\r\n"])
dialect("smtp", "starttls-454", 0x00, [
    b"220 mx ESMTP\r\n", b"250-mx\r\n250 STARTTLS\r\n",
    b"454 4.7.0 TLS not available due to local problem\r\n"])
dialect("smtp", "starttls-injection", 0x04, [
    b"220 mx ESMTP\r\n", b"250-mx\r\n250 STARTTLS\r\n",
    b"220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 AUTH PLAIN\r\n",
    b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n"])
dialect("smtp", "forced-starttls", 0x08, [
    b"220 mx ESMTP\r\n", b"250 mx\r\n", b"502 5.5.1 not implemented\r\n"])
dialect("smtp", "bare-lf-nul", 0x04, [b"220 a\nb\r\n", b"250-mx\n250 X\0Y\r\n"])
dialect("smtp", "mixed-codes", 0x00, [b"220-first\r\n250 second\r\n"])
dialect("smtp", "bad-codes", 0x00, [b"2x0 hello\r\n"])
dialect("smtp", "ssh-banner", 0x04, [b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"])
dialect("smtp", "escape-in-reply", 0x00, [b"220 \x1b[31mred\x1b[0m \xc3\xa9\xff\r\n",
                                          b"250-\x1b]0;title\x07\r\n250 AUTH \xe2\x80\xae\r\n"])
dialect("smtp", "escape-in-refusal", 0x00, [b"554 \x1b[31mno\x1b[0m \xe2\x80\xae \x7f\r\n"])
dialect("smtp", "long-line", 0x00, [b"220 " + b"A" * 8300 + b"\r\n"])
dialect("smtp", "caps-limit", 0x00, [
    b"220 x\r\n", b"250-x\r\n" + b"".join(b"250-X-EXT%d\r\n" % i for i in range(140))
    + b"250 LAST\r\n"])

# ---- IMAP: greeting, a1 CAPABILITY, a2 STARTTLS, a3 CAPABILITY, a4 LOGOUT ----
dialect("imap", "literal-caps", 0x04, [
    b"* OK IMAP4rev1 ready\r\n",
    b"* CAPABILITY IMAP4rev1 {8}\r\nSTARTTLS AUTH=PLAIN {3+}\r\nxyz LOGINDISABLED\r\na1 OK done\r\n",
    b"a2 OK Begin TLS\r\n", b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na3 OK done\r\n",
    b"* BYE\r\na4 OK bye\r\n"])
dialect("imap", "preauth", 0x04, [b"* PREAUTH [CAPABILITY IMAP4rev1] logged in\r\n",
                                  b"a1 OK [CAPABILITY IMAP4rev1 IDLE] done\r\n"])
dialect("imap", "bye", 0x04, [b"* BYE [UNAVAILABLE] server shutting down\r\n"])
dialect("imap", "capability-no", 0x04, [b"* OK ready\r\n", b"a1 NO not now\r\n"])
dialect("imap", "starttls-bad", 0x0c, [b"* OK ready\r\n", b"a1 OK no caps\r\n",
                                       b"a2 BAD unknown command\r\n"])
dialect("imap", "continuation", 0x00, [b"* OK ready\r\n", b"+ go ahead\r\n"])
dialect("imap", "wrong-tag", 0x00, [b"* OK ready\r\n", b"b1 OK what\r\n"])
dialect("imap", "huge-literal", 0x00, [b"* OK ready\r\n", b"* CAPABILITY {99999999}\r\n"])
dialect("imap", "courier", 0x01, [
    b"* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT "
    b"THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION STARTTLS] Courier-IMAP ready.\r\n",
    b"* CAPABILITY IMAP4rev1 UIDPLUS CHILDREN STARTTLS\r\na1 OK CAPABILITY completed\r\n",
    b"a2 OK Begin SSL/TLS negotiation now.\r\n"])

# ---- POP3: greeting, CAPA, STLS, CAPA, QUIT ----
dialect("pop3", "apop", 0x04, [
    b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
    b"+OK\r\nUSER\r\nSTLS\r\nSASL PLAIN\r\n..stuffed\r\n.\r\n", b"+OK go\r\n",
    b"+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n", b"+OK bye\r\n"])
dialect("pop3", "no-capa", 0x04, [b"+OK old server\r\n", b"-ERR unknown command\r\n",
                                  b"+OK bye\r\n"])
dialect("pop3", "stls-refused", 0x08, [b"+OK ready\r\n", b"+OK\r\nUSER\r\n.\r\n",
                                       b"-ERR not now\r\n"])
dialect("pop3", "err-greeting", 0x04, [b"-ERR [SYS/TEMP] go away\r\n"])
dialect("pop3", "bad-apop", 0x00, [b"+OK <no-at-sign> <a b@c> <@>\r\n", b"+OK\r\n.\r\n"])
dialect("pop3", "unterminated-capa", 0x04, [b"+OK ready\r\n", b"+OK\r\nTOP\r\nUIDL\r\n"])

# ---- Proxies: d[0] type|creds|host, d[1] read size|EOF; replies ----
def proxy(name, d0, d1, replies):
    seed("proxy", name, bytes([d0, d1]) + SEP.join(replies))

GREET = b"220 mail.test ESMTP\r\n"
proxy("socks4a-name", 0x01, 0x00, [b"\x00\x5a\x00\x00\x00\x00\x00\x00" + GREET])
proxy("socks4-ipv6-target", 0x80, 0x00, [b"\x00\x5a" + b"\x00" * 6])
proxy("socks4-identd", 0x28, 0x10, [b"\x00\x5c\x00\x00\x00\x00\x00\x00"])
proxy("socks5h-domain-bind", 0x03, 0x00,
      [b"\x05\x00", b"\x05\x00\x00\x03\x0bproxy.local\x04\x38" + GREET])
proxy("socks5-ipv6-bind", 0x42, 0x01,
      [b"\x05\x00", b"\x05\x00\x00\x04" + bytes(range(16)) + b"\x00\x19" + GREET])
proxy("socks5h-longname", 0x63, 0x00, [b"\x05\x00", b"\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00"])
proxy("socks5-auth-failed", 0x3a, 0x10, [b"\x05\x02", b"\x01\x01"])
proxy("socks5-bad-method", 0x22, 0x00, [b"\x05\x02"])
proxy("socks5-unknown-atyp", 0x22, 0x00, [b"\x05\x00", b"\x05\x00\x00\x09\x00\x00"])
proxy("http-bare-lf", 0x24, 0x03, [b"HTTP/1.1 200 OK\nVia: 1.1 squid\n\n" + GREET])
proxy("http-502", 0x04, 0x10, [b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"])
proxy("http-407-creds", 0x3c, 0x10, [b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"])
proxy("http-not-status", 0x04, 0x10, [b"SSH-2.0-OpenSSH_9.2\r\n"])
proxy("http-header-flood", 0x04, 0x00,
      [b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 100 + b"\r\n" * 1 + b"X: y\r\n" * 2000])

# ---- Proxy URLs ----
for i, url in enumerate([
        b"socks5://127.0.0.1:1080", b"socks5h://alice:s%40cret@proxy.example:1080/",
        b"socks4a://[::1]:9050", b"http://user@[fe80::1%25eth0]:3128", b"SOCKS5://Proxy",
        b"socks4://127.9.0.1", b"http://:pw@host", b"socks5://host:0", b"socks5://host:65536",
        b"socks5://host:00080", b"ftp://x", b"socks5://[::1", b"socks5://a:b:c",
        b"socks5://u%zz@h", b"socks5://u%00@h", b"socks5://" + b"h" * 300,
        b"socks5://u:" + b"p" * 300 + b"@h", b"socks5://[fe80::1%eth0]", b"1080",
        b"socks5://h\x01st", b"socks5://[::1]x"]):
    seed("proxy_url", "url-%02d" % i, url)

# ---- Endpoint URLs and hosts: d[0] host buffer size, then the argument ----
for i, arg in enumerate([
        b"smtp+starttls://127.0.0.1:2525", b"imaps://[::1]", b"pop3://mail.example.org:110/",
        b"smtps://user@host", b"mail.example.org", b"[::1]", b"2001:db8::1", b"fe80::1%eth0",
        b"smtp://host:99999", b"gopher://x", b"SMTP://MX", b"imap://[::1]:", b"pop3s://[::1]x",
        b"smtp://host/path", b"[]", b"host name", b"smtp://" + b"a" * 300, b"://"]):
    seed("endpoint_url", "arg-%02d" % i, bytes([i % 6]) + arg)

# ---- Line reader: d[0] read size|EOF, d[1] buffer size, 8 ops, data ----
LR_DATA = (b"250-mx.example\r\n250-PIPELINING\nbare\r\nNUL\x00inside\r\n"
           b"* CAPABILITY {5}\r\nabcde rest\r\n" + b"x" * 9000 + b"\r\ntail")
seed("linereader", "mixed-eof", bytes([0x40, 5, 0, 0, 0, 0x16, 0, 3, 0, 0]) + LR_DATA)
seed("linereader", "trickle-small-buffer", bytes([0x01, 2, 0, 0x02, 0, 0x86, 0, 0, 0, 0])
     + LR_DATA.replace(b"\r\n", b"\r\n" + SEP, 3))
seed("linereader", "exact-limit", bytes([0x40, 5, 0, 0, 0, 0, 0, 0, 0, 0])
     + b"y" * 8191 + b"\n" + b"z" * 8192 + b"\n")
seed("linereader", "line-fills-buffer", bytes([0x40, 3, 0, 0, 0, 0, 0, 0, 0, 0])
     + b"123456789\r\n12345678\n123456789\n" + b"x" * 81 + b"\n")
seed("linereader", "line-fills-buffer-81", bytes([0x40, 4, 0, 0, 0, 0, 0, 0, 0, 0])
     + b"x" * 81 + b"\r\n" + b"y" * 80 + b"\n" + b"z" * 81 + b"\n")
seed("linereader", "silent-midline", bytes([0x11, 3, 0, 0, 0, 0, 0, 0, 0, 0]) + b"220 part")

# ---- Escape: d[0] truncation width, then the text ----
for i, text in enumerate([
        b"220 mail.example.org ESMTP Postfix", "caf\u00e9 \u6f22\u5b57 \U0001F600".encode(),
        b"\xc0\x80 \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82", b"\x1b[31mred\x1b[0m\r\n\t\x7f",
        "\u202eevil\u2066x\u2069\u200f\u2028".encode(), b"\xc2\x9b31m \xc2\x85", b"a\x00b",
        b"\\x41 \\u0000", b"\xf0\x9f\x98", b"\xff\xfe\xfd"]):
    seed("escape", "text-%02d" % i, bytes([(i * 7) % 40]) + text)

# ---- JSON report: 4 header bytes, then the fields of fuzz_json_report.c ----
FIELDS = [b"220 mail.example.org ESMTP Postfix (Debian/GNU)",
          b"PIPELINING\nSIZE 10240000\nSTARTTLS\nAUTH PLAIN LOGIN", b"PLAIN\nLOGIN",
          b"PIPELINING\nAUTH PLAIN", b"PLAIN", b"",
          b"server offers AUTH before TLS\nserver sent 12 bytes after STARTTLS",
          b"220 mail.example.org\nEHLO probe.example\nTLS established",
          b"CN=mail.example.org", b"CN=Test CA,O=mailprobe", b"DNS:mail.example.org\nIP:127.0.0.1",
          b"mail.example.org", b"alice", b"TLSv1.3\nTLS_AES_128_GCM_SHA256\nX25519", b"",
          b"mail.example.org"]
seed("json_report", "postfix-ok", bytes([0x0c, 0, 1, 0]) + SEP.join(FIELDS))
seed("json_report", "two-proxied-color", bytes([0x3f, 0x2d, 4, 9]) + SEP.join(FIELDS))
HOSTILE = [b"220 \x1b[2J\xe2\x80\xae\xff\x00x", b"\x1b]0;x\x07\n\xc2\x9b", b"pl\xc3\xa4in",
           b"", b"", b"error: \"\\\x01\"", b"\x1b[31m\n\xed\xa0\x80", b"\r\n\x00",
           b"CN=\xe2\x80\x8f", b"", b"DNS:\x7f", b"host\xff", b"u\"ser\x1b", b"TLSv9\n\x1b", b"",
           b"t\xc0\xaf"]
seed("json_report", "hostile-bytes", bytes([0xff, 0x0d, 2, 200]) + SEP.join(HOSTILE))
# ---- SASL: d[0] mechanism and flags (fuzz_sasl.c), then challenges ----
# RFC 5802 section 5 and RFC 7677 section 3 exchanges (user "user", password
# "pencil"); 0x80 fixes the client nonce to the RFC one, 0x20 sends raw text.

B64 = base64.b64encode
S1_FIRST = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
S1_FINAL = b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="
S256_FIRST = (b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
              b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
S256_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def sasl(name, flags, challenges):
    seed("sasl", name, bytes([flags]) + SEP.join(challenges))


sasl("scram-sha1-rfc5802-raw", 0x03 | 0x20 | 0x80, [S1_FIRST, S1_FINAL])
sasl("scram-sha1-rfc5802-final-data", 0x03 | 0x10 | 0x20 | 0x80, [S1_FIRST, S1_FINAL])
sasl("scram-sha1-rfc5802-b64", 0x03 | 0x80, [B64(S1_FIRST), B64(S1_FINAL) + b"\r\n"])
sasl("scram-sha256-rfc7677-raw", 0x04 | 0x20 | 0x80, [S256_FIRST, S256_FINAL])
sasl("scram-sha256-rfc7677-final-data", 0x04 | 0x10 | 0x20 | 0x80 | 0x40,
     [S256_FIRST, S256_FINAL])
sasl("scram-sha256-no-ir", 0x04 | 0x08 | 0x20 | 0x80, [b"", S256_FIRST, S256_FINAL])
sasl("scram-sha1-random-nonce", 0x03 | 0x20, [S1_FIRST, S1_FINAL])
sasl("scram-sha1-wrong-signature", 0x03 | 0x20 | 0x80,
     [S1_FIRST, b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAA="])
sasl("scram-sha1-server-error", 0x03 | 0x20 | 0x80, [S1_FIRST, b"e=invalid-proof"])
sasl("scram-sha1-extensions", 0x03 | 0x20 | 0x80,
     [b"m=ext," + S1_FIRST + b",x=y", S1_FINAL + b",z=1"])
sasl("scram-sha1-huge-iterations", 0x03 | 0x20 | 0x80, [S1_FIRST[:-4] + b"100000000"])
sasl("plain", 0x00, [])
sasl("plain-authzid-no-ir", 0x40 | 0x08, [b""])
sasl("plain-echo-after-done", 0x00, [b"bad password pencil"])
sasl("scram-sha256-echo", 0x04 | 0x20 | 0x80, [b"e=pencil is wrong for " + S256_FIRST])
sasl("login", 0x01, [b"VXNlcm5hbWU6", b"UGFzc3dvcmQ6"])
sasl("login-bad-base64", 0x01, [b"VXNlcm5hbWU6", b"UGFz c3dvcmQ6"])
sasl("cram-md5-rfc2195", 0x02,
     [b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"])
sasl("xoauth2-error", 0x05 | 0x20,
     [b'{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}'])
sasl("oauthbearer-error", 0x06 | 0x20,
     [b'{"status":"invalid_token","scope":"example_scope",'
      b'"openid-configuration":"https://example.com/.well-known/openid-configuration"}'])
sasl("oauthbearer-authzid", 0x06 | 0x40, [])

# ---- Dialects with a login: flags 0x40, then the auth byte (fuzz_common.c:
# method & 7, 0x80 the RFC SCRAM nonce), then the chunks; the login runs after
# the (second) capabilities, QUIT after it. ----
def b64line(prefix, text):
    return prefix + B64(text) + b"\r\n"


SMTP_EHLO_AUTH = (b"250-mx.example.org\r\n250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1\r\n"
                  b"250 8BITMIME\r\n")
seed("smtp", "auth-plain", bytes([0x44, 0x00]) + SEP.join([
    b"220 mx.example.org ESMTP\r\n", SMTP_EHLO_AUTH, b"235 2.7.0 Authentication successful\r\n",
    b"221 2.0.0 Bye\r\n"]))
seed("smtp", "auth-login-echo", bytes([0x44, 0x01]) + SEP.join([
    b"220 mx\r\n", SMTP_EHLO_AUTH, b"334 VXNlcm5hbWU6\r\n", b"334 UGFzc3dvcmQ6\r\n",
    b"535 5.7.8 pencil cGVuY2ls is wrong\r\n", b"221 bye\r\n"]))
seed("smtp", "auth-cram-md5-rfc2195", bytes([0x04 | 0x40, 0x02]) + SEP.join([
    b"220 mx\r\n", SMTP_EHLO_AUTH,
    b"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
    b"535 5.7.8 Error: authentication failed\r\n", b"221 bye\r\n"]))
seed("smtp", "auth-scram-sha1-starttls", bytes([0x64, 0x83]) + SEP.join([
    b"220 mx\r\n", b"250-mx\r\n250 STARTTLS\r\n", b"220 2.0.0 Ready to start TLS\r\n",
    SMTP_EHLO_AUTH, b64line(b"334 ", S1_FIRST), b64line(b"334 ", S1_FINAL),
    b"235 2.7.0 Authentication successful\r\n", b"221 bye\r\n"]))
seed("smtp", "auth-scram-sha1-bad-signature", bytes([0x44, 0x83]) + SEP.join([
    b"220 mx\r\n", SMTP_EHLO_AUTH, b64line(b"334 ", S1_FIRST),
    b64line(b"334 ", b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAA="), b"501 5.7.0 aborted\r\n",
    b"221 bye\r\n"]))
IMAP_CAPS = (b"* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=SCRAM-SHA-256 AUTH=XOAUTH2\r\n"
             b"a1 OK Capability completed.\r\n")
seed("imap", "auth-plain-sasl-ir", bytes([0x44, 0x00]) + SEP.join([
    b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n", IMAP_CAPS,
    b"a2 OK [CAPABILITY IMAP4rev1] Logged in\r\n", b"* BYE\r\na3 OK Logout completed.\r\n"]))
seed("imap", "auth-scram-sha256-rfc7677", bytes([0x44, 0x84]) + SEP.join([
    b"* OK ready\r\n", IMAP_CAPS, b64line(b"+ ", S256_FIRST), b64line(b"+ ", S256_FINAL),
    b"a2 OK Logged in\r\n", b"* BYE\r\na3 OK Logout completed.\r\n"]))
seed("imap", "auth-xoauth2-error", bytes([0x44, 0x05]) + SEP.join([
    b"* OK ready\r\n", IMAP_CAPS,
    b64line(b"+ ", b'{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}'),
    b"a2 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n",
    b"* BYE\r\na3 OK Logout completed.\r\n"]))
POP3_CAPA = b"+OK\r\nUSER\r\nSASL PLAIN LOGIN SCRAM-SHA-1 OAUTHBEARER\r\n.\r\n"
seed("pop3", "auth-scram-sha1-rfc5802", bytes([0x44, 0x83]) + SEP.join([
    b"+OK Dovecot ready.\r\n", POP3_CAPA, b64line(b"+ ", S1_FIRST), b64line(b"+ ", S1_FINAL),
    b"+OK Logged in.\r\n", b"+OK Logging out.\r\n"]))
seed("pop3", "auth-login", bytes([0x44, 0x01]) + SEP.join([
    b"+OK ready\r\n", POP3_CAPA, b"+ VXNlcm5hbWU6\r\n", b"+ UGFzc3dvcmQ6\r\n",
    b"-ERR [AUTH] Authentication failed.\r\n", b"+OK bye\r\n"]))
seed("pop3", "auth-oauthbearer", bytes([0x44, 0x06]) + SEP.join([
    b"+OK ready\r\n", POP3_CAPA, b"+OK Logged in.\r\n", b"+OK bye\r\n"]))
print("seeds written to", os.path.abspath(CORPUS))
