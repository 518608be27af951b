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


# Fewer digits than any complete number of the region: a name, a code or a fragment of a number.
_FEWEST_DIGITS = 7


def complete_e164(text: str, region: str = DEFAULT_REGION) -> str | None:
    """E.164 form of text that is a whole, valid number (area code and all, however it is punctuated); None for
    anything else, a fragment of a number included."""
    if sum(character.isdigit() for character in text) < _FEWEST_DIGITS:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if phonenumbers.is_valid_number(number) else None
    )
