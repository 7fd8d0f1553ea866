from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sftjob_devcluster.certs import issue, make_ca, write_pki


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_pki_files_chain_to_the_ca(tmp_path: Path) -> None:
    pki = write_pki(tmp_path / "pki")
    ca = _load(pki.ca_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for name in ("apiserver", "admin", "kube-controller-manager", "kube-scheduler"):
        cert = _load(pki.cert(name))
        assert cert.issuer == ca.subject
        cert.verify_directly_issued_by(ca)
        assert pki.key(name).stat().st_mode & 0o077 == 0


def test_serving_cert_covers_loopback_and_service_names(tmp_path: Path) -> None:
    pki = write_pki(tmp_path)
    cert = _load(pki.cert("apiserver"))
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage


def test_admin_is_in_system_masters(tmp_path: Path) -> None:
    pki = write_pki(tmp_path)
    subject = _load(pki.cert("admin")).subject
    orgs = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]
    scheduler = _load(pki.cert("kube-scheduler")).subject
    cn = scheduler.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "system:kube-scheduler"


def test_service_account_key_pair(tmp_path: Path) -> None:
    pki = write_pki(tmp_path)
    assert pki.sa_pub.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE KEY" in pki.sa_key.read_text()


def test_client_cert_is_not_a_server_cert() -> None:
    ca = make_ca()
    pair = issue(ca, "someone", client=True)
    cert = x509.load_pem_x509_certificate(pair.cert_pem)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
