"""What the worker runs for «Кошелёк»: the balance push after a receipt."""

from __future__ import annotations

from typing import Any

from wallet import clock
from wallet.koshelek import push
from wallet.platform.worker import RetryLater, register


async def transaction(payload: dict[str, Any]) -> None:
    try:
        await push.transaction_push(int(payload["account_id"]), now=clock.now())
    except push.PushUnavailable as exc:
        raise RetryLater(f"koshelek push API unavailable: {exc}", seconds=60) from exc
    except push.PushRefused as exc:
        # A refused balance push is not worth retrying; the next receipt sends another.
        push.log.warning("koshelek refused a balance push: %s", exc)


register("koshelek_transaction", transaction, max_attempts=5)
