"""Shopify connector against a fake GraphQL Admin API over real HTTP."""

from datetime import datetime, timedelta, timezone

import pytest

from leadbridge.connectors.shopify import CURSOR, ShopifyConnector
from leadbridge.errors import OptionsError, SourceError

T0 = datetime(2026, 3, 2, 8, 40, tzinfo=timezone.utc)
TOKEN = "shpat_secret_token"


def conn(fake, **opts):
    return ShopifyConnector(**{"token": TOKEN, "base_url": fake.base_url, **opts})


def run(fake, state, **opts):
    return list(conn(fake, **opts).records(state))


def test_customers_map_email_phone_tags_metafields(fake):
    a = fake.add(T0, firstName="Priya", lastName="Natarajan", note="evenings",
                 tags=["wholesale"], numberOfOrders="3",
                 amountSpent={"amount": "214.50", "currencyCode": "USD"},
                 defaultEmailAddress={"emailAddress": "priya.n@example.com",
                                      "marketingState": "SUBSCRIBED"},
                 defaultPhoneNumber={"phoneNumber": "+15555550188"},
                 defaultAddress={"city": "Portland", "phone": "+1 555-555-0189"},
                 metafields={"nodes": [{"namespace": "custom", "key": "referral_code",
                                        "value": "SPRING26"}]})
    b = fake.add(T0 + timedelta(seconds=1), defaultPhoneNumber={"phoneNumber": "+15555550190"},
                 state="DISABLED")
    state = {}
    by_id = {r["source_id"]: r for r in run(fake, state)}
    p = by_id[str(a)]
    assert p["contact_name"] == "Priya Natarajan" and p["source_platform"] == "shopify"
    assert p["contact_email"] == "priya.n@example.com"
    assert p["contact_phone"] == "+15555550188" and p["phones"] == ["+1 555-555-0189"]
    cf = p["custom_fields"]
    assert cf["custom.referral_code"] == "SPRING26" and cf["tags"] == ["wholesale"]
    assert cf["shopify_gid"] == f"gid://shopify/Customer/{a}" and cf["amount_spent"] == "214.50"
    q = by_id[str(b)]
    assert q["contact_name"] is None and q["custom_fields"]["state"] == "DISABLED"
    assert state[CURSOR] == "2026-03-02T08:40:01.000Z"


def test_every_customer_once_across_full_and_incremental_runs(fake):
    ids = [fake.add(T0 + timedelta(seconds=i // 5)) for i in range(90)]
    state = {}
    full = run(fake, state, page_size=10)
    assert sorted(int(r["source_id"]) for r in full) == sorted(ids)
    changed = set()
    for i in range(0, 90, 3):
        fake.touch(ids[i], T0 + timedelta(hours=1, seconds=i // 20), firstName=f"v{i}")
        changed.add(str(ids[i]))
    for _ in range(7):
        changed.add(str(fake.add(T0 + timedelta(hours=1, seconds=4))))
    fake.calls.clear()
    inc = run(fake, state, page_size=10, lookback_seconds=0)
    got = [r["source_id"] for r in inc]
    assert len(got) == len(set(got)) and set(got) == changed
    assert all(c["variables"]["query"] == "updated_at:>='2026-03-02T08:40:17Z'"
               for c in fake.calls)
    assert run(fake, state, lookback_seconds=0) == []


def test_cost_bucket_is_waited_for_never_hammered(fake):
    fake.maximum, fake.restore_rate, fake.node_cost = 100.0, 400.0, 3  # 20/page costs 62
    for i in range(200):
        fake.add(T0 + timedelta(seconds=i))
    c = conn(fake, page_size=20)
    assert len(list(c.records({}))) == 200
    assert fake.throttled == 0 and c.waited > 0.1
    # someone else empties the bucket: one THROTTLED answer, a computed wait, then success
    fake.drain()
    c2 = conn(fake, page_size=20)
    assert len(list(c2.records({}))) == 200
    assert fake.throttled == 1 and c2.waited >= 62 / 400


def test_max_cost_exceeded_shrinks_the_page(fake):
    fake.max_query_cost = 100  # 2 + 50*3 = 152 > 100: halve to 25 (77)
    for i in range(60):
        fake.add(T0 + timedelta(seconds=i))
    assert len(run(fake, {}, page_size=50)) == 60
    assert [c["variables"]["first"] for c in fake.calls][:2] == [50, 25]


def test_expired_token_is_renewed_with_client_credentials(fake):
    fake.token_uses = 2
    for i in range(30):
        fake.add(T0 + timedelta(seconds=i))
    c = ShopifyConnector(client_id=fake.client_id, client_secret=fake.client_secret,
                         base_url=fake.base_url, page_size=5)
    assert len({r["source_id"] for r in c.records({})}) == 30
    assert fake.issued >= 3
    assert fake.client_secret not in repr(c)


def test_bad_token_and_bad_query_errors_are_clear(fake):
    fake.add(T0)
    with pytest.raises(SourceError) as exc:
        run(fake, {}, token="shpat_wrong_value")
    assert "SHOPIFY_TOKEN" in str(exc.value) and "shpat_wrong_value" not in str(exc.value)
    fake.fail_queue = [502]
    assert len(run(fake, {})) == 1  # 5xx retried


def test_options_checked_together():
    with pytest.raises(OptionsError) as exc:
        ShopifyConnector(page_size=300)
    text = str(exc.value)
    assert "SHOPIFY_SHOP" in text and "SHOPIFY_TOKEN" in text and "page_size" in text
    c = ShopifyConnector(shop="my-store", token=TOKEN)
    assert c.base_url == "https://my-store.myshopify.com" and TOKEN not in repr(c)
