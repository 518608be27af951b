"""Mobile and offline sync (SPEC §3.16): pages of the records in the caller's scope changed since a token."""
