"""Google Wallet: LoyaltyClass/LoyaltyObject bodies and the "Save to Google Wallet" link."""

from passes.google.jwt import (
    SAVE_URL_PREFIX,
    SaveLinkTooLong,
    ServiceAccount,
    fitting_save_link,
    object_reference,
    save_link,
)
from passes.google.objects import (
    GoogleSettings,
    add_message_body,
    class_id,
    loyalty_class,
    loyalty_object,
    loyalty_object_patch,
    object_id,
    serial_object_id,
)

__all__ = [
    "SAVE_URL_PREFIX",
    "GoogleSettings",
    "SaveLinkTooLong",
    "ServiceAccount",
    "add_message_body",
    "class_id",
    "fitting_save_link",
    "loyalty_class",
    "loyalty_object",
    "loyalty_object_patch",
    "object_id",
    "object_reference",
    "save_link",
    "serial_object_id",
]
