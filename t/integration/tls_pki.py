"""The test PKI shared by the TLS integration tests (test_tls.py, test_ajp_tls.py):
certificates made at test time with the openssl command (ECDSA P-256), a private CA
and a second, unrelated CA, in a temporary directory per test module.

  from tls_pki import OPENSSL, Pki, pki, run  # noqa: F401  (pki is a fixture)

Every external command runs with a timeout (CMD_TIMEOUT).
"""
import datetime
import os
import shutil
import subprocess
import tempfile

import pytest

OPENSSL = shutil.which("openssl")
CMD_TIMEOUT = 20


def run(args, input_=None, timeout=CMD_TIMEOUT, check=True):
    p = subprocess.run(args, input=input_, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(args), p.returncode,
                                                      p.stdout.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


class Pki:
    """Files in `d`: ca.crt/ca.key (CA one), ca2.crt/ca2.key (CA two), and leaves made by
    leaf(name, ...) -> (cert path, key path)."""

    def __init__(self, d):
        self.d = d
        self.ca = self._ca("ca", "drover test CA one")
        self.ca2 = self._ca("ca2", "drover test CA two")

    def path(self, name):
        return os.path.join(self.d, name)

    def _key(self, name):
        key = self.path(name + ".key")
        run([OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", key])
        return key

    def _ca(self, name, cn):
        key = self._key(name)
        crt = self.path(name + ".crt")
        run([OPENSSL, "req", "-x509", "-new", "-key", key, "-out", crt, "-days", "30",
             "-subj", "/CN=%s" % cn, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return crt, key

    def leaf(self, name, cn, sans, ca=None, expired=False):
        """A certificate for `cn` with subjectAltName `sans` (e.g. "DNS:localhost"),
        signed by `ca` (default CA one). expired: valid yesterday only."""
        ca_crt, ca_key = ca or self.ca
        key = self._key(name)
        csr = self.path(name + ".csr")
        crt = self.path(name + ".crt")
        run([OPENSSL, "req", "-new", "-key", key, "-out", csr, "-subj", "/CN=%s" % cn])
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n" % sans)
        if not expired:
            run([OPENSSL, "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
                 "-CAcreateserial", "-days", "30", "-out", crt, "-extfile", ext])
        else:
            # `openssl ca` is the 3.0 command that takes explicit dates.
            cadir = self.path(name + ".cadir")
            os.makedirs(cadir, exist_ok=True)
            open(os.path.join(cadir, "index.txt"), "w").close()
            conf = os.path.join(cadir, "ca.cnf")
            with open(conf, "w") as f:
                f.write("[ca]\ndefault_ca=c\n[c]\ndir=%s\ndatabase=$dir/index.txt\n"
                        "new_certs_dir=$dir\nserial=$dir/serial\ndefault_md=sha256\n"
                        "policy=p\nunique_subject=no\n[p]\ncommonName=supplied\n" % cadir)
            with open(os.path.join(cadir, "serial"), "w") as f:
                f.write("1000\n")
            now = datetime.datetime.now(datetime.timezone.utc)
            fmt = "%Y%m%d%H%M%SZ"
            run([OPENSSL, "ca", "-batch", "-config", conf, "-cert", ca_crt, "-keyfile", ca_key,
                 "-in", csr, "-out", crt, "-extfile", ext, "-notext",
                 "-startdate", (now - datetime.timedelta(days=2)).strftime(fmt),
                 "-enddate", (now - datetime.timedelta(days=1)).strftime(fmt)])
        return crt, key

    def pem(self, name, crt, key):
        """cert + key in one file (SSLProxyMachineCertificateFile style)."""
        out = self.path(name)
        with open(out, "w") as f:
            f.write(open(crt).read() + open(key).read())
        return out


@pytest.fixture(scope="module")
def pki():
    d = tempfile.mkdtemp(prefix="drover-pki-")
    os.chmod(d, 0o755)
    p = Pki(d)
    p.localhost = p.leaf("localhost", "localhost", "DNS:localhost,IP:127.0.0.1")
    p.alt = p.leaf("alt", "alt.test", "DNS:alt.test")
    p.member = p.leaf("member", "127.0.0.1", "IP:127.0.0.1,DNS:localhost")
    p.member_ca2 = p.leaf("member2", "127.0.0.1", "IP:127.0.0.1", ca=p.ca2)
    p.expired = p.leaf("expired", "localhost", "DNS:localhost", expired=True)
    p.other = p.leaf("other", "localhost", "DNS:localhost")  # a mismatched key for `localhost`
    yield p
    shutil.rmtree(d, ignore_errors=True)
