"""Where a webhook may point: HTTPS to a public address only, so an admin key (or whoever
stole one) cannot make the service call into the chain's own network (SSRF).

The host is resolved and every address it resolves to must be global: not private,
loopback, link-local, multicast, reserved or unspecified. The check runs at registration
and again before every delivery, and the delivery connects to the very address checked
(the hostname goes as SNI and Host), so a name that resolves to a public address at
registration and to 10.0.0.5 later (DNS rebinding) is refused, not called.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from wallet import settings as settings_module
from wallet.errors import InvalidInput

# A name that takes longer to resolve is refused (registration) or retried (delivery).
RESOLVE_SECONDS = 5.0


class WebhookUrlRefused(InvalidInput):
    code = "webhook_url_refused"


def _parts(url: str) -> tuple[str, int]:
    try:
        split = urlsplit(url)
        port = split.port or 443
    except ValueError as exc:
        raise WebhookUrlRefused(f"not a URL: {exc}", {"url": url}) from exc
    if split.scheme != "https":
        raise WebhookUrlRefused("a webhook URL must start with https://", {"url": url})
    if not split.hostname:
        raise WebhookUrlRefused("a webhook URL needs a host", {"url": url})
    if split.username is not None or split.password is not None:
        raise WebhookUrlRefused("a webhook URL may not carry a user or password", {"url": url})
    return split.hostname, port


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_global and not address.is_multicast:
        return True
    # Tests run their receiver on loopback; nothing else opens this door.
    return settings_module.get().webhooks_allow_private and address.is_loopback


async def resolve(url: str) -> tuple[str, int, str]:
    """``(host, port, address)``: the URL's host and the first address it resolves to,
    every one of them checked. Refused (422 ``webhook_url_refused``) otherwise."""
    host, port = _parts(url)
    try:
        found = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            ),
            RESOLVE_SECONDS,
        )
    except (OSError, ValueError, TimeoutError) as exc:
        raise WebhookUrlRefused(f"the host {host!r} does not resolve", {"url": url}) from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
    if not addresses:
        raise WebhookUrlRefused(f"the host {host!r} does not resolve", {"url": url})
    refused = sorted({str(a) for a in addresses if not _allowed(a)})
    if refused:
        raise WebhookUrlRefused(
            f"the host {host!r} resolves to a private or reserved address; a webhook must "
            "point at a public HTTPS address",
            {"url": url, "addresses": refused},
        )
    return host, port, str(addresses[0])
