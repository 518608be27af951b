"""Phone numbers: parsed with libphonenumber and kept as E.164 beside the original input."""

from functools import lru_cache

import phonenumbers

DEFAULT_REGION = "CN"


# An import's chunk reads each phone twice (its duplicate screen, then the create): parsing is what costs.
@lru_cache(maxsize=4096)
def to_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form of a phone number; ValueError when it is not a possible number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
