"""JWT bearer flow (RS256 private key) against the fake org, which verifies the signature."""

import logging
import sys

import pytest

from leadbridge.connectors import _salesforce_auth
from leadbridge.connectors.salesforce import SalesforceConnector
from leadbridge.errors import OptionsError, SourceError

TS = "2026-02-01T10:00:01.000+0000"


def jwt_conn(fake, **opts):
    return SalesforceConnector(login_url=fake.base_url, auth="jwt", **opts)


def test_jwt_login_from_env_and_session_renewed_with_a_new_assertion(fake, key_pair, monkeypatch):
    path, public = key_pair
    fake.jwt_public_key = public
    fake.add("Lead", "00QA", TS, Email="a@x.com")
    fake.add("Lead", "00QB", TS, Email="b@x.com")
    monkeypatch.setenv("SALESFORCE_CLIENT_ID", "cid")
    monkeypatch.setenv("SALESFORCE_USERNAME", "integration@example.com")
    monkeypatch.setenv("SALESFORCE_PRIVATE_KEY_FILE", str(path))
    fake.page_size = 1
    it = jwt_conn(fake).records({})
    assert next(it)["source_id"] == "00QA"
    fake.expire_sessions()  # no refresh token in this flow: a fresh assertion is minted
    assert [r["source_id"] for r in it] == ["00QB"]
    assert fake.logins == 2


@pytest.mark.parametrize("change, reason", [
    ({"username": "someone.else@example.com"}, "approved"),
    ({"audience": "https://test.salesforce.com"}, "audience"),
    ({"client_id": "other-app"}, "client"),
])
def test_jwt_claims_checked_by_the_org(fake, key_pair, change, reason):
    path, public = key_pair
    fake.jwt_public_key = public
    opts = {"client_id": "cid", "username": "integration@example.com",
            "private_key_file": str(path), **change}
    with pytest.raises(SourceError, match=reason):
        list(jwt_conn(fake, **opts).records({}))


def test_jwt_sandbox_audience_and_unknown_key(fake, key_pair, other_key):
    path, public = key_pair
    fake.jwt_public_key, fake.jwt_audience = public, "https://test.salesforce.com"
    fake.add("Lead", "00QS", TS)
    ok = jwt_conn(fake, client_id="cid", username="integration@example.com",
                  private_key_file=str(path), audience="https://test.salesforce.com")
    assert [r["source_id"] for r in ok.records({})] == ["00QS"]
    assert _salesforce_auth.default_audience("https://test.salesforce.com") == \
        "https://test.salesforce.com"
    assert _salesforce_auth.default_audience("https://acme.my.salesforce.com") == \
        "https://login.salesforce.com"
    forged = jwt_conn(fake, client_id="cid", username="integration@example.com",
                      private_key_file=str(other_key), audience="https://test.salesforce.com")
    with pytest.raises(SourceError, match="signature"):
        list(forged.records({}))


def test_jwt_options_and_key_file_errors_name_the_file_never_its_content(fake, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(OptionsError) as err:
        jwt_conn(fake)
    assert all(n in str(err.value) for n in ("client_id", "username", "private_key_file"))
    missing = tmp_path / "nope.key"
    with pytest.raises(OptionsError, match="nope.key.*cannot be read"):
        jwt_conn(fake, client_id="cid", username="u", private_key_file=str(missing))
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nTOPSECRETBYTES\n-----END PRIVATE KEY-----\n")
    with pytest.raises(OptionsError) as err:
        jwt_conn(fake, client_id="cid", username="u", private_key_file=str(bad))
    assert "bad.key" in str(err.value) and "PEM" in str(err.value)
    assert "TOPSECRETBYTES" not in str(err.value) + caplog.text


def test_jwt_without_cryptography_names_the_extra(fake, key_pair, monkeypatch):
    for name in ("cryptography", *(f"cryptography.hazmat.primitives.{m}"
                                   for m in _salesforce_auth.CRYPTO_MODULES)):
        monkeypatch.setitem(sys.modules, name, None)  # as if the package were not installed
    with pytest.raises(OptionsError, match=r"pip install 'leadbridge\[salesforce-jwt\]'"):
        jwt_conn(fake, client_id="cid", username="u", private_key_file=str(key_pair[0]))
    # the other flows never import it
    fake.add("Lead", "00QC", TS)
    conn = SalesforceConnector(login_url=fake.base_url, client_id="cid",
                               client_secret="sf-client-secret")
    assert [r["source_id"] for r in conn.records({})] == ["00QC"]
