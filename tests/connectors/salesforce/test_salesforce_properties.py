"""Property: for any org content (quotes, commas, newlines, unicode in values; tied
timestamps; deletions; conversions), a Bulk API 2.0 read yields exactly the records and the
cursor the REST query read yields, whatever the result page size."""

from hypothesis import given, settings
from hypothesis import strategies as st

from leadbridge.connectors.salesforce import SalesforceConnector
from tests.fakes.salesforce import FakeSalesforce

text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
               | st.sampled_from(['"', ",", "\n", "\r", "'", "\\"]), min_size=1, max_size=12)
lead = st.fixed_dictionaries({
    "ts": st.integers(0, 3), "FirstName": st.none() | text, "Email": st.none() | text,
    "Phone": st.none() | text, "Budget__c": st.none() | st.integers(-5, 5) | st.sampled_from([1.5, -0.25]),
    "IsDeleted": st.booleans(), "IsConverted": st.booleans(),
})


def test_bulk_equals_rest_for_any_content():
    with FakeSalesforce() as fake:

        @settings(max_examples=30)  # each example is two reads over HTTP
        @given(st.lists(lead, min_size=1, max_size=30), st.integers(1, 9))
        def check(leads, page):
            fake.rows["Lead"].clear()
            for i, spec in enumerate(leads):
                fake.add("Lead", f"00Q{i:04d}", f"2026-02-01T10:00:0{spec['ts']}.000+0000",
                         **{k: v for k, v in spec.items() if k != "ts"})
            opts = {"login_url": fake.base_url, "client_id": "cid",
                    "client_secret": "sf-client-secret", "custom_fields": "Budget__c"}
            s_rest, s_bulk = {}, {}
            rest = sorted(SalesforceConnector(bulk_threshold=10**9, **opts).records(s_rest),
                          key=lambda r: r["source_id"])
            bulk = sorted(SalesforceConnector(bulk_threshold=0, bulk_max_records=page,
                                              **opts).records(s_bulk),
                          key=lambda r: r["source_id"])
            assert bulk == rest and s_bulk == s_rest

        check()
