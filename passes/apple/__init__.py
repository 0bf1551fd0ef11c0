"""Apple Wallet: the pass.json model, the bundle (manifest + zip) and the signature."""

from passes.apple.bundle import build_pkpass, pass_json_for
from passes.apple.model import PassValidationError
from passes.apple.sign import PassSigner

__all__ = ["PassSigner", "PassValidationError", "build_pkpass", "pass_json_for"]
