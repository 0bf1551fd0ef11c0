"""SMS in the Prometheus metrics, as an operator's scrape of ``/metrics`` sees them: sent,
failed with a short reason (the SMSC's throttling status, a delivery receipt that says the
handset never got it), and the SMSC's latency, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.platform.test_metrics import scrape, value
from tests.sms.test_smpp import queue, rows, run_jobs, settle
from tests.support.shop import Shop


async def test_sms_sent_and_failed_by_reason_and_the_smscs_latency_are_counted(client, smsc):
    shop = await Shop.open(client)
    before = await scrape(client, shop.admin_key)
    smsc.throttle_first = 1
    smsc.fail_to.add("79035550000")
    await queue("+79123456789", "Код входа: 123456")
    await queue("+79035550000", "Код входа: 654321")
    await run_jobs()

    async def receipts_in() -> bool:
        return all(r["status"] in ("delivered", "failed") for r in await rows())

    await settle(receipts_in)
    assert sorted(r["status"] for r in await rows()) == ["delivered", "failed"]
    after = await scrape(client, shop.admin_key)

    def more(reason: str, outcome: str = "failed") -> float:
        labels = {"channel": "sms", "outcome": outcome, "reason": reason}
        return value(after, "wallet_deliveries_total", **labels) - value(
            before, "wallet_deliveries_total", **labels
        )

    assert more("", "sent") == 2
    assert more("ESME_RTHROTTLED") == 1
    assert more("receipt_failed") == 1
    name = "wallet_upstream_request_duration_seconds_count"
    assert value(after, name, service="smsc") - value(before, name, service="smsc") == 3
    # No number in any label.
    assert not [key for key in after if "79035550000" in str(key) or "79123456789" in str(key)]
